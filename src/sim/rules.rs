//! The venue's answers to JSON requests: request shapes, the cancel rules, and the exact reply
//! texts. No I/O here: the connection thread decides when and how replies go out.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::feed::V2Subscription;
use crate::intent::InstType;

/// A refusal: the venue's error code and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) code: u32,
    pub(super) msg: &'static str,
}

impl Refusal {
    pub(super) const fn new(code: u32, msg: &'static str) -> Refusal {
        Refusal { code, msg }
    }
}

/// Refusals that are not about login.
pub(super) mod refusals {
    use super::Refusal;

    pub(in crate::sim) const NO_CHANNEL: Refusal = Refusal::new(30001, "Channel does not exist");
    pub(in crate::sim) const ILLEGAL_REQUEST: Refusal = Refusal::new(30002, "Illegal request");
    pub(in crate::sim) const INVALID_OP: Refusal = Refusal::new(30003, "Invalid op");
    pub(in crate::sim) const NOT_LOGGED_IN: Refusal = Refusal::new(30004, "User needs to log in");
    pub(in crate::sim) const OVER_LIMIT: Refusal =
        Refusal::new(30007, "request over limit, connection close");
    pub(in crate::sim) const PARAM_ERROR: Refusal = Refusal::new(30016, "Param error");
    pub(in crate::sim) const TOO_MANY: Refusal = Refusal::new(30006, "request too many");
    pub(in crate::sim) const UNIFIED_ON_V2: Refusal = Refusal::new(
        40085,
        "The account is in Unified Account mode: use the V3 API",
    );
    pub(in crate::sim) const CLASSIC_ON_V3: Refusal = Refusal::new(
        40084,
        "The account is in Classic Account mode: use the V2 API",
    );
}

/// The private channel the venue pushes order changes on.
pub(super) const ORDERS_CHANNEL: &str = "orders";

/// The only trade channel the venue serves.
pub(super) const CANCEL_CHANNEL: &str = "cancel-order";

/// The keys a trade reply echoes from the request's `arg`, in the order the live venue writes them.
const ECHOED_KEYS: [&str; 5] = ["id", "instType", "channel", "instId", "params"];

/// A JSON request, classified by `op`.
#[derive(Debug, PartialEq)]
pub(super) enum Request {
    /// `op:"login"`: the first element of `args`.
    Login { arg: Value },
    /// `op:"trade"`: the whole `args`.
    Trade { args: Value },
    /// `op:"subscribe"` (or `unsubscribe` when `subscribe` is false): the whole `args`.
    Subscribe { args: Value, subscribe: bool },
}

/// Parses one text message: not JSON or not an object is 30002, a missing or unknown `op` 30003.
pub(super) fn classify(text: &str) -> Result<Request, Refusal> {
    let Ok(Value::Object(mut request)) = serde_json::from_str::<Value>(text) else {
        return Err(refusals::ILLEGAL_REQUEST);
    };
    let args = request.remove("args").unwrap_or(Value::Null);
    match request.get("op").and_then(Value::as_str) {
        Some("login") => match args {
            Value::Array(mut list) if !list.is_empty() && list[0].is_object() => {
                Ok(Request::Login {
                    arg: list.swap_remove(0),
                })
            }
            _ => Err(refusals::ILLEGAL_REQUEST),
        },
        Some("trade") => Ok(Request::Trade { args }),
        Some("subscribe") => Ok(Request::Subscribe {
            args,
            subscribe: true,
        }),
        Some("unsubscribe") => Ok(Request::Subscribe {
            args,
            subscribe: false,
        }),
        _ => Err(refusals::INVALID_OP),
    }
}

/// A cancel that passed every check before the book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CancelRequest {
    /// The request's `arg`, as the reply echoes it.
    pub(super) echo: String,
    pub(super) inst_type: InstType,
    pub(super) inst_id: String,
    pub(super) order_id: Option<String>,
    pub(super) client_oid: Option<String>,
}

/// A refused trade request: the refusal, with the `arg` echo when the request had one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rejection {
    pub(super) refusal: Refusal,
    pub(super) echo: Option<String>,
}

impl Rejection {
    /// The reply text, stamped `ts` when it carries an `arg`.
    pub(super) fn reply(&self, ts_ms: u64) -> String {
        match &self.echo {
            Some(echo) => arg_error_reply(echo, self.refusal.code, self.refusal.msg, ts_ms),
            None => error_reply(self.refusal),
        }
    }
}

/// Checks a trade request's `args` in the venue's order: logged in (30004), one object in
/// `args` (30002 / 30016), the id (30016), the channel (30001), then instType, instId and an
/// order id or client order id (30016).
pub(super) fn check_cancel(args: &Value, logged_in: bool) -> Result<CancelRequest, Rejection> {
    let first = args
        .as_array()
        .and_then(|list| list.first())
        .and_then(Value::as_object);
    let reject = |refusal: Refusal| Rejection {
        refusal,
        echo: first.map(echo_arg),
    };
    if !logged_in {
        return Err(reject(refusals::NOT_LOGGED_IN));
    }
    let Some(arg) = first else {
        return Err(reject(refusals::ILLEGAL_REQUEST));
    };
    if args.as_array().is_some_and(|list| list.len() != 1) {
        // Batches are not served over WebSocket.
        return Err(reject(refusals::PARAM_ERROR));
    }
    if !arg
        .get("id")
        .and_then(Value::as_str)
        .is_some_and(is_valid_request_id)
    {
        return Err(reject(refusals::PARAM_ERROR));
    }
    if arg.get("channel").and_then(Value::as_str) != Some(CANCEL_CHANNEL) {
        return Err(reject(refusals::NO_CHANNEL));
    }
    let Some(inst_type) = arg
        .get("instType")
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<InstType>().ok())
    else {
        return Err(reject(refusals::PARAM_ERROR));
    };
    let inst_id = match arg.get("instId").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => return Err(reject(refusals::PARAM_ERROR)),
    };
    let param = |name: &str| {
        arg.get("params")
            .and_then(|p| p.get(name))
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let (order_id, client_oid) = (param("orderId"), param("clientOid"));
    if order_id.is_none() && client_oid.is_none() {
        return Err(reject(refusals::PARAM_ERROR));
    }
    Ok(CancelRequest {
        echo: echo_arg(arg),
        inst_type,
        inst_id,
        order_id,
        client_oid,
    })
}

/// The reply to a cancel that found its order (`found`) or not (`orderId` prevails over
/// `clientOid` in the message).
pub(super) fn cancel_reply(request: &CancelRequest, found: bool, ts_ms: u64) -> String {
    let (field, value) = match (&request.order_id, &request.client_oid) {
        (Some(order_id), _) => ("orderId", order_id),
        (None, Some(client_oid)) => ("clientOid", client_oid),
        (None, None) => return arg_error_reply(&request.echo, 30016, "Param error", ts_ms),
    };
    if found {
        return trade_reply(&request.echo, ts_ms);
    }
    if request.inst_type.is_futures() {
        arg_error_reply(
            &request.echo,
            41101,
            &format!("Param {field}={value} error"),
            ts_ms,
        )
    } else {
        arg_error_reply(&request.echo, 43001, "The order does not exist", ts_ms)
    }
}

/// A subscription refused: its refusal and the `arg` to echo.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SubscribeRefusal {
    pub(super) refusal: Refusal,
    pub(super) arg: Value,
}

/// Checks one V2 subscription `arg`: an object (30002), channel `orders` (30001), a known
/// instType in any case and a non-empty instId, `default` for every symbol (30016).
pub(super) fn check_subscription(arg: &Value) -> Result<V2Subscription, SubscribeRefusal> {
    let refuse = |refusal| SubscribeRefusal {
        refusal,
        arg: arg.clone(),
    };
    if !arg.is_object() {
        return Err(refuse(refusals::ILLEGAL_REQUEST));
    }
    if arg.get("channel").and_then(Value::as_str) != Some(ORDERS_CHANNEL) {
        return Err(refuse(refusals::NO_CHANNEL));
    }
    let inst_type = arg
        .get("instType")
        .and_then(Value::as_str)
        .and_then(|t| t.to_ascii_uppercase().parse::<InstType>().ok())
        .ok_or_else(|| refuse(refusals::PARAM_ERROR))?;
    let symbol = match arg.get("instId").and_then(Value::as_str) {
        Some(id) if id.eq_ignore_ascii_case("default") => None,
        Some(id) if !id.is_empty() => Some(id.to_owned()),
        _ => return Err(refuse(refusals::PARAM_ERROR)),
    };
    Ok(V2Subscription {
        inst_type,
        symbol,
        arg: arg.clone(),
    })
}

/// `{"event":"subscribe","arg":ARG}` (or `unsubscribe`).
pub(super) fn subscribe_ack(subscribe: bool, arg: &Value) -> String {
    let event = if subscribe {
        "subscribe"
    } else {
        "unsubscribe"
    };
    format!(r#"{{"event":"{event}","arg":{arg}}}"#)
}

/// `{"event":"error","arg":ARG,"code":N,"msg":M,"op":"subscribe"}`.
pub(super) fn subscribe_error(arg: &Value, code: u32, msg: &str, subscribe: bool) -> String {
    let op = if subscribe {
        "subscribe"
    } else {
        "unsubscribe"
    };
    format!(
        r#"{{"event":"error","arg":{arg},"code":{code},"msg":{},"op":"{op}"}}"#,
        json_string(msg)
    )
}

/// The venue's request id rule: `^[0-9A-Za-z_:#\-+\s]{1,40}$` (`\s` as in Java: space, tab,
/// line feed, vertical tab, form feed, carriage return).
pub(super) fn is_valid_request_id(id: &str) -> bool {
    (1..=40).contains(&id.len())
        && id.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b':' | b'#' | b'-' | b'+' | b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r'
                )
        })
}

/// `arg` as the venue echoes it: the known keys, in the live venue's order.
fn echo_arg(arg: &Map<String, Value>) -> String {
    let mut out = String::from("{");
    for key in ECHOED_KEYS {
        if let Some(value) = arg.get(key) {
            if out.len() > 1 {
                out.push(',');
            }
            let _ = write!(out, "\"{key}\":{value}");
        }
    }
    out.push('}');
    out
}

fn json_string(text: &str) -> String {
    Value::from(text).to_string()
}

/// The live venue's answer to a good login: `{"event":"login","code":0,"connId":"<id>"}` (no
/// `msg`).
pub(super) fn login_ok(conn_id: &str) -> String {
    format!(
        r#"{{"event":"login","code":0,"connId":{}}}"#,
        json_string(conn_id)
    )
}

/// An error that belongs to no single request: `{"event":"error","code":N,"msg":"..."}`.
pub(super) fn error_reply(refusal: Refusal) -> String {
    error_text(refusal.code, refusal.msg)
}

/// [`error_reply`] for any code and message.
pub(super) fn error_text(code: u32, msg: &str) -> String {
    format!(
        r#"{{"event":"error","code":{code},"msg":{}}}"#,
        json_string(msg)
    )
}

/// `reply` (which echoes `echo` in its `arg`) as if the request had carried the id `id`.
pub(super) fn with_request_id(reply: &str, echo: &str, id: &str) -> String {
    let Ok(Value::Object(mut arg)) = serde_json::from_str::<Value>(echo) else {
        return reply.to_owned();
    };
    arg.insert("id".to_owned(), Value::from(id));
    reply.replacen(echo, &echo_arg(&arg), 1)
}

/// A refusal of one request, echoing its `arg`.
pub(super) fn arg_error_reply(echo: &str, code: u32, msg: &str, ts_ms: u64) -> String {
    format!(
        r#"{{"event":"error","arg":[{echo}],"code":{code},"msg":{},"ts":{ts_ms}}}"#,
        json_string(msg)
    )
}

/// A successful trade reply, echoing the request's `arg`.
pub(super) fn trade_reply(echo: &str, ts_ms: u64) -> String {
    format!(r#"{{"event":"trade","arg":[{echo}],"code":0,"msg":"Success","ts":{ts_ms}}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::book::{Book, MAIN_UID, OrderRef, RestingOrder};
    use crate::sim::decimal::Decimal;

    /// Cancels on `book` like the venue does, and answers.
    fn cancel(book: &mut Book, request: &CancelRequest, ts_ms: u64) -> (String, bool) {
        let by = match (&request.order_id, &request.client_oid) {
            (Some(id), _) => OrderRef::OrderId(id),
            (None, Some(oid)) => OrderRef::ClientOid(oid),
            (None, None) => unreachable!("checked"),
        };
        let found = book
            .locate(request.inst_type, &request.inst_id, by)
            .and_then(|key| book.cancel(&key, ts_ms))
            .is_some();
        (cancel_reply(request, found, ts_ms), found)
    }

    fn add(book: &mut Book, order: RestingOrder) {
        let one = Decimal::parse("1").unwrap();
        book.add(order, MAIN_UID, one, one, 1);
    }

    fn trade(arg: &str) -> Value {
        match classify(&format!(r#"{{"op":"trade","args":[{arg}]}}"#)) {
            Ok(Request::Trade { args }) => args,
            other => panic!("not a trade: {other:?}"),
        }
    }

    fn book_with(inst_type: InstType, order_id: &str, client_oid: &str) -> Book {
        let mut book = Book::default();
        add(
            &mut book,
            RestingOrder {
                inst_type,
                inst_id: "BTCUSDT".into(),
                order_id: order_id.into(),
                client_oid: Some(client_oid.into()),
            },
        );
        book
    }

    #[test]
    fn acks_a_spot_cancel_exactly_like_the_live_venue() {
        let mut book = book_with(InstType::Spot, "1376695893517410304", "c1");
        let args = trade(
            r#"{"id":"1","instType":"SPOT","instId":"BTCUSDT","channel":"cancel-order","params":{"orderId":"1376695893517410304"}}"#,
        );
        let request = check_cancel(&args, true).unwrap();
        let (reply, found) = cancel(&mut book, &request, 1763958928351);
        assert!(found);
        assert_eq!(
            reply,
            r#"{"event":"trade","arg":[{"id":"1","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1376695893517410304"}}],"code":0,"msg":"Success","ts":1763958928351}"#
        );
    }

    #[test]
    fn refuses_unknown_orders_like_the_live_venue() {
        let mut book = Book::default();
        let spot = trade(
            r#"{"id":"1","instType":"SPOT","instId":"BTCUSDT","channel":"cancel-order","params":{"orderId":"12345"}}"#,
        );
        let (reply, found) = cancel(
            &mut book,
            &check_cancel(&spot, true).unwrap(),
            1763958366418,
        );
        assert!(!found);
        assert_eq!(
            reply,
            r#"{"event":"error","arg":[{"id":"1","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"12345"}}],"code":43001,"msg":"The order does not exist","ts":1763958366418}"#
        );
        let futures = trade(
            r#"{"id":"1","instType":"USDT-FUTURES","instId":"BTCUSDT","channel":"cancel-order","params":{"orderId":"1234"}}"#,
        );
        let (reply, _) = cancel(
            &mut book,
            &check_cancel(&futures, true).unwrap(),
            1764129464757,
        );
        assert_eq!(
            reply,
            r#"{"event":"error","arg":[{"id":"1","instType":"USDT-FUTURES","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1234"}}],"code":41101,"msg":"Param orderId=1234 error","ts":1764129464757}"#
        );
        let by_oid = trade(
            r#"{"id":"2","instType":"USDT-FUTURES","instId":"BTCUSDT","channel":"cancel-order","params":{"clientOid":"x-9"}}"#,
        );
        let (reply, _) = cancel(&mut book, &check_cancel(&by_oid, true).unwrap(), 1);
        assert!(
            reply.contains(r#""code":41101,"msg":"Param clientOid=x-9 error""#),
            "{reply}"
        );
    }

    #[test]
    fn order_id_prevails_over_client_oid() {
        let mut book = book_with(InstType::Spot, "1", "a");
        add(
            &mut book,
            RestingOrder {
                inst_type: InstType::Spot,
                inst_id: "BTCUSDT".into(),
                order_id: "2".into(),
                client_oid: Some("b".into()),
            },
        );
        let args = trade(
            r#"{"id":"1","instType":"SPOT","instId":"BTCUSDT","channel":"cancel-order","params":{"orderId":"1","clientOid":"b"}}"#,
        );
        let (_, found) = cancel(&mut book, &check_cancel(&args, true).unwrap(), 1);
        assert!(found);
        assert!(!book.contains(InstType::Spot, "BTCUSDT", "1"));
        assert!(book.contains(InstType::Spot, "BTCUSDT", "2"));
    }

    #[test]
    fn refuses_a_trade_before_login_with_the_arg_echoed() {
        let args = trade(
            r#"{"id":"7","instType":"SPOT","instId":"BTCUSDT","channel":"cancel-order","params":{"orderId":"1"}}"#,
        );
        let rejection = check_cancel(&args, false).unwrap_err();
        assert_eq!(rejection.refusal.code, 30004);
        assert_eq!(
            rejection.reply(5),
            r#"{"event":"error","arg":[{"id":"7","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1"}}],"code":30004,"msg":"User needs to log in","ts":5}"#
        );
    }

    #[test]
    fn bad_requests_get_the_venue_codes() {
        let code = |text: &str| classify(text).unwrap_err().code;
        assert_eq!(code("not json"), 30002);
        assert_eq!(code("[1,2]"), 30002);
        assert_eq!(code(r#"{"op":"dance","args":[]}"#), 30003);
        assert_eq!(code(r#"{"args":[]}"#), 30003);
        assert_eq!(code(r#"{"op":"login","args":[]}"#), 30002);

        let refused = |arg: &str| check_cancel(&trade(arg), true).unwrap_err().refusal.code;
        let ok = r#""instType":"SPOT","instId":"BTCUSDT","params":{"orderId":"1"}"#;
        assert_eq!(
            refused(&format!(r#"{{"id":"1","channel":"place-order",{ok}}}"#)),
            30001
        );
        assert_eq!(
            refused(&format!(r#"{{"channel":"cancel-order",{ok}}}"#)),
            30016
        );
        assert_eq!(
            refused(&format!(r#"{{"id":"a\"b","channel":"cancel-order",{ok}}}"#)),
            30016
        );
        assert_eq!(
            refused(&format!(r#"{{"id":1,"channel":"cancel-order",{ok}}}"#)),
            30016
        );
        let long = "9".repeat(41);
        assert_eq!(
            refused(&format!(
                r#"{{"id":"{long}","channel":"cancel-order",{ok}}}"#
            )),
            30016
        );
        assert_eq!(
            refused(
                r#"{"id":"1","channel":"cancel-order","instType":"MARGIN","instId":"BTCUSDT","params":{"orderId":"1"}}"#
            ),
            30016
        );
        assert_eq!(
            refused(
                r#"{"id":"1","channel":"cancel-order","instType":"SPOT","instId":"BTCUSDT","params":{}}"#
            ),
            30016
        );
        let batch = Value::Array(vec![
            trade(r#"{"id":"1"}"#)[0].clone(),
            trade(r#"{"id":"2"}"#)[0].clone(),
        ]);
        assert_eq!(check_cancel(&batch, true).unwrap_err().refusal.code, 30016);
        assert_eq!(
            check_cancel(&Value::Null, true).unwrap_err(),
            Rejection {
                refusal: refusals::ILLEGAL_REQUEST,
                echo: None
            }
        );
    }

    #[test]
    fn a_good_login_is_answered_with_a_conn_id_and_no_msg() {
        assert_eq!(
            login_ok("0123abcd"),
            r#"{"event":"login","code":0,"connId":"0123abcd"}"#
        );
    }

    #[test]
    fn request_ids_follow_the_documented_pattern() {
        assert!(is_valid_request_id("abc 1_2:3#4-5+6"));
        assert!(is_valid_request_id("a\tb"));
        assert!(is_valid_request_id(&"x".repeat(40)));
        for bad in ["", "a.b", "a\"b", "é", "a/b"] {
            assert!(!is_valid_request_id(bad), "{bad:?}");
        }
        assert!(!is_valid_request_id(&"x".repeat(41)));
    }

    #[test]
    fn error_messages_are_json_escaped() {
        let mut book = Book::default();
        let args = trade(
            r#"{"id":"1","instType":"USDT-FUTURES","instId":"BTCUSDT","channel":"cancel-order","params":{"clientOid":"a\"b\\c"}}"#,
        );
        let (reply, _) = cancel(&mut book, &check_cancel(&args, true).unwrap(), 1);
        let parsed: Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(parsed["msg"], "Param clientOid=a\"b\\c error");
        assert_eq!(parsed["arg"][0]["params"]["clientOid"], "a\"b\\c");
    }

    #[test]
    fn a_stray_copy_differs_only_in_its_id() {
        let mut book = book_with(InstType::Spot, "5", "c");
        let args = trade(
            r#"{"id":"1","instType":"SPOT","instId":"BTCUSDT","channel":"cancel-order","params":{"orderId":"5"}}"#,
        );
        let request = check_cancel(&args, true).unwrap();
        let (reply, _) = cancel(&mut book, &request, 7);
        assert_eq!(
            with_request_id(&reply, &request.echo, "stray 9"),
            r#"{"event":"trade","arg":[{"id":"stray 9","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"5"}}],"code":0,"msg":"Success","ts":7}"#
        );
    }

    #[test]
    fn subscriptions_are_checked_and_answered_with_their_arg() {
        let arg =
            serde_json::json!({"instType":"usdt-futures","channel":"orders","instId":"default"});
        let sub = check_subscription(&arg).unwrap();
        assert_eq!((sub.inst_type, sub.symbol), (InstType::UsdtFutures, None));
        assert_eq!(
            subscribe_ack(true, &arg),
            r#"{"event":"subscribe","arg":{"channel":"orders","instId":"default","instType":"usdt-futures"}}"#
        );
        let other = serde_json::json!({"instType":"SPOT","channel":"fills","instId":"default"});
        assert_eq!(check_subscription(&other).unwrap_err().refusal.code, 30001);
        let bad = serde_json::json!({"instType":"MARGIN","channel":"orders","instId":"default"});
        assert_eq!(check_subscription(&bad).unwrap_err().refusal.code, 30016);
        let one = serde_json::json!({"instType":"SPOT","channel":"orders","instId":"ETHUSDT"});
        assert_eq!(
            check_subscription(&one).unwrap().symbol.as_deref(),
            Some("ETHUSDT")
        );
        assert_eq!(
            subscribe_error(&other, 30001, "Channel does not exist", true),
            r#"{"event":"error","arg":{"channel":"fills","instId":"default","instType":"SPOT"},"code":30001,"msg":"Channel does not exist","op":"subscribe"}"#
        );
    }

    #[test]
    fn errors_without_arg_match_the_documented_shape() {
        assert_eq!(
            error_reply(refusals::OVER_LIMIT),
            r#"{"event":"error","code":30007,"msg":"request over limit, connection close"}"#
        );
    }
}
