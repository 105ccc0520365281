//! Every V3 text message read into the neutral [`Inbound`]: V2's kinds of message, with V3's
//! rules for reading them and V3's codes for what closes a connection.

use super::codes::closes_connection;
use super::decode::decode;
use crate::intent::RequestId;
use crate::outcome::VenueMsg;
use crate::venue::v2::{Reply, ReplyDecoder};
use crate::venue::{Inbound, LOG_EXCERPT, Verdict};

/// Reads one complete text message. Never fails: what cannot be read is
/// [`Inbound::Unreadable`].
#[inline]
pub(crate) fn read(text: &mut [u8], replies: &mut ReplyDecoder) -> Inbound {
    let mut head = [0u8; LOG_EXCERPT];
    let head_len = text.len().min(LOG_EXCERPT);
    head[..head_len].copy_from_slice(&text[..head_len]);
    match decode(replies, text) {
        Ok(Reply::Trade { id, code, msg }) => Inbound::Reply {
            id: RequestId::new(id).ok(),
            verdict: if code == 0 {
                Verdict::Acked
            } else {
                Verdict::Rejected {
                    code,
                    msg: VenueMsg::new(msg),
                }
            },
        },
        Ok(Reply::TradeError { id, code, msg }) => Inbound::Reply {
            id: RequestId::new(id).ok(),
            verdict: Verdict::Rejected {
                code,
                msg: VenueMsg::new(msg),
            },
        },
        Ok(Reply::Error { code, msg }) => Inbound::VenueError {
            code,
            msg: VenueMsg::new(msg),
            closing: closes_connection(code),
        },
        Ok(Reply::Login {
            code: 0, conn_id, ..
        }) => Inbound::LoggedIn {
            conn_id: VenueMsg::new(conn_id),
        },
        Ok(Reply::Login { code, msg, .. }) => Inbound::LoginRefused {
            code,
            msg: VenueMsg::new(msg),
        },
        Ok(Reply::Pong) => Inbound::Pong,
        Ok(Reply::Other { event }) if event.eq_ignore_ascii_case("subscribe") => {
            Inbound::Subscribed
        }
        Ok(Reply::Other { .. }) => Inbound::Notice,
        Ok(Reply::SubscribeError { code, msg }) => Inbound::SubscribeRefused {
            code,
            msg: VenueMsg::new(msg),
        },
        Ok(Reply::Orders { updates }) => Inbound::Orders {
            count: updates.len(),
        },
        // A batch refused as a whole (a non-zero top-level code) settles each entry alike.
        Ok(Reply::Batch { id, code, msg, .. }) if code != 0 => Inbound::Reply {
            id: RequestId::new(id).ok(),
            verdict: Verdict::Rejected {
                code,
                msg: VenueMsg::new(msg),
            },
        },
        Ok(Reply::Batch { id, entries, .. }) => Inbound::Batch {
            id: RequestId::new(id).ok(),
            count: entries.len(),
        },
        Err(e) => Inbound::unreadable(Some(e), &head[..head_len]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
