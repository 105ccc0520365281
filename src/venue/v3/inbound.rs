//! Every V3 text message read into the neutral [`Inbound`]: V2's kinds of message, with V3's
//! rules for reading them and V3's codes for what closes a connection.

use super::codes::closes_connection;
use super::decode::decode;
use crate::venue::Inbound;
use crate::venue::v2::{ReplyDecoder, read_as};

/// Reads one complete text message. Never fails: what cannot be read is
/// [`Inbound::Unreadable`].
#[inline]
pub(crate) fn read(text: &mut [u8], replies: &mut ReplyDecoder) -> Inbound {
    read_as(text, replies, decode, closes_connection, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::venue::Verdict;

    fn read_text(text: &str) -> Inbound {
        read(&mut text.as_bytes().to_vec(), &mut ReplyDecoder::new())
    }

    #[test]
    fn replies_are_verdicts_on_the_request_their_top_level_id_names() {
        match read_text(
            r#"{"event":"trade","id":"7","topic":"cancel-order","args":[{"orderId":"1"}],"code":"0","msg":"Success","ts":"1"}"#,
        ) {
            Inbound::Reply {
                id: Some(id),
                verdict: Verdict::Acked,
            } => assert_eq!(id.as_str(), "7"),
            other => panic!("{other:?}"),
        }
        match read_text(
            r#"{"event":"error","id":"r2","code":"25204","msg":"Order does not exist"}"#,
        ) {
            Inbound::Reply {
                id: Some(id),
                verdict: Verdict::Rejected { code: 25204, .. },
            } => assert_eq!(id.as_str(), "r2"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_service_upgrade_notice_says_the_connection_closes() {
        assert!(matches!(
            read_text(r#"{"event":"error","code":"30033","msg":"service upgrade"}"#),
            Inbound::VenueError {
                code: 30033,
                closing: true,
                ..
            }
        ));
        assert!(matches!(
            read_text(r#"{"event":"error","code":"30002","msg":"Illegal request"}"#),
            Inbound::VenueError { closing: false, .. }
        ));
    }

    #[test]
    fn subscription_answers_pushes_and_logins_are_told_apart() {
        assert!(matches!(
            read_text(r#"{"event":"subscribe","arg":{"instType":"UTA","topic":"order"}}"#),
            Inbound::Subscribed
        ));
        assert!(matches!(
            read_text(
                r#"{"arg":{"instType":"UTA","topic":"order"},"data":[{"orderId":"1","orderStatus":"live"}],"ts":1}"#
            ),
            Inbound::Orders { count: 1 }
        ));
        assert!(matches!(
            read_text(r#"{"event":"login","code":"0","connId":"x"}"#),
            Inbound::LoggedIn { .. }
        ));
        assert!(matches!(
            read_text(r#"{"event":"error","code":"30012","msg":"bad pass"}"#),
            Inbound::VenueError { code: 30012, .. }
        ));
        assert!(matches!(read_text("pong"), Inbound::Pong));
        assert!(matches!(read_text("{"), Inbound::Unreadable { .. }));
    }
}
