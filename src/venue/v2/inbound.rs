//! Every V2 text message read into the neutral [`Inbound`]: the one place that turns the
//! venue's events (`trade`, `error`, `login`, `pong`, `subscribe`, pushes on the `orders`
//! channel, anything else) into what the engine acts on.

use super::codes::OVER_LIMIT_CLOSE;
use super::decode::{DecodeError, Reply, ReplyDecoder};
use crate::intent::RequestId;
use crate::outcome::VenueMsg;
use crate::venue::{Inbound, LOG_EXCERPT, Verdict};

/// Reads one complete text message. Never fails: what cannot be read is
/// [`Inbound::Unreadable`], with the start of the message for the log.
#[inline]
pub(crate) fn read(text: &mut [u8], replies: &mut ReplyDecoder) -> Inbound {
    read_as(
        text,
        replies,
        ReplyDecoder::decode,
        |code| code == OVER_LIMIT_CLOSE,
        false,
    )
}

/// Reads one complete text message with a dialect's `decode`, by the rules both dialects share;
/// `closes` says which error codes close the connection, `batches` whether batch replies are
/// read (V2's reader never makes one: a notice). Inlined into each dialect's `read`, so the
/// dialect's choices are constants there.
#[inline(always)]
pub(in crate::venue) fn read_as<'a>(
    text: &'a mut [u8],
    replies: &'a mut ReplyDecoder,
    decode: impl FnOnce(&'a mut ReplyDecoder, &'a mut [u8]) -> Result<Reply<'a>, DecodeError>,
    closes: impl FnOnce(i64) -> bool,
    batches: bool,
) -> Inbound {
    // simd-json parses in place: keep the start for the log before it does.
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
        // An `error` event names the request it refuses; even a code of 0 there is no ack.
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
            closing: closes(code),
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
        Ok(Reply::Batch { .. }) if !batches => Inbound::Notice,
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
    fn a_trade_reply_is_a_verdict_on_its_request() {
        match read_text(r#"{"event":"trade","arg":[{"id":"7"}],"code":0,"msg":"Success"}"#) {
            Inbound::Reply {
                id: Some(id),
                verdict: Verdict::Acked,
            } => assert_eq!(id.as_str(), "7"),
            other => panic!("{other:?}"),
        }
        match read_text(r#"{"event":"error","arg":[{"id":"r3"}],"code":43001,"msg":"gone"}"#) {
            Inbound::Reply {
                id: Some(id),
                verdict: Verdict::Rejected { code: 43001, msg },
            } => assert_eq!((id.as_str(), msg.as_str()), ("r3", "gone")),
            other => panic!("{other:?}"),
        }
        match read_text(r#"{"event":"error","arg":[{"id":"1"}],"code":0,"msg":"odd"}"#) {
            Inbound::Reply {
                verdict: Verdict::Rejected { code: 0, .. },
                ..
            } => {}
            other => panic!("an error event is never an ack: {other:?}"),
        }
    }

    #[test]
    fn an_echoed_id_that_cannot_be_ours_is_kept_as_none() {
        let long = "9".repeat(60);
        let text = format!(r#"{{"event":"trade","arg":[{{"id":"{long}"}}],"code":0}}"#);
        assert!(matches!(read_text(&text), Inbound::Reply { id: None, .. }));
    }

    #[test]
    fn login_answers_and_errors_naming_no_request_are_told_apart() {
        assert!(matches!(
            read_text(r#"{"event":"login","code":0,"connId":"c1"}"#),
            Inbound::LoggedIn { conn_id } if conn_id.as_str() == "c1"
        ));
        assert!(matches!(
            read_text(r#"{"event":"login","code":30012,"msg":"bad pass"}"#),
            Inbound::LoginRefused { code: 30012, .. }
        ));
        assert!(matches!(
            read_text(r#"{"event":"error","code":30007,"msg":"over limit"}"#),
            Inbound::VenueError {
                code: 30007,
                closing: true,
                ..
            }
        ));
        assert!(matches!(
            read_text(r#"{"event":"error","code":30006,"msg":"request too many"}"#),
            Inbound::VenueError {
                code: 30006,
                closing: false,
                ..
            }
        ));
    }

    #[test]
    fn subscription_answers_and_pushes_are_told_apart() {
        assert!(matches!(
            read_text(r#"{"event":"subscribe","arg":{"channel":"orders"}}"#),
            Inbound::Subscribed
        ));
        assert!(matches!(
            read_text(r#"{"event":"unsubscribe","arg":{"channel":"orders"}}"#),
            Inbound::Notice
        ));
        match read_text(
            r#"{"event":"error","arg":{"instType":"SPOT","channel":"orders","instId":"default"},"code":30001,"msg":"no channel","op":"subscribe"}"#,
        ) {
            Inbound::SubscribeRefused { code: 30001, msg } => {
                assert_eq!(msg.as_str(), "no channel")
            }
            other => panic!("{other:?}"),
        }
        let mut decoder = ReplyDecoder::new();
        let mut push = br#"{"action":"update","arg":{"instType":"SPOT","channel":"orders","instId":"default"},"data":[{"orderId":"1","status":"cancelled"},{"orderId":"2","status":"filled","accBaseVolume":"3"}]}"#.to_vec();
        assert!(matches!(
            read(&mut push, &mut decoder),
            Inbound::Orders { count: 2 }
        ));
        assert_eq!(decoder.updates()[1].filled.unwrap().as_str(), "3");
    }

    #[test]
    fn pongs_notices_and_garbage_are_each_their_own_kind() {
        assert!(matches!(read_text("pong"), Inbound::Pong));
        assert!(matches!(
            read_text(r#"{"event":"notice","msg":"hello"}"#),
            Inbound::Notice
        ));
        match read_text("not json at all") {
            Inbound::Unreadable {
                error: Some(_),
                excerpt,
                len,
            } => assert_eq!(&excerpt[..len as usize], b"not json at all"),
            other => panic!("{other:?}"),
        }
    }
}
