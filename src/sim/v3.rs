//! The unified account's (V3) WebSocket requests and replies: request shapes, checks and the
//! exact reply texts, codes and `ts` as strings. No I/O here.
//!
//! ```text
//! {"op":"trade","id":"1","category":"spot","topic":"cancel-order","args":[{"orderId":"..."}]}
//! {"event":"trade","id":"1","topic":"cancel-order","args":[{"orderId":"...","clientOid":"..."}],"code":"0","msg":"Success","ts":"1756283452147"}
//! {"event":"error","id":"1","code":"25204","msg":"Order does not exist"}
//! ```

use serde_json::{Map, Value};

use super::book::{OrderRef, OrderState};
use super::rules::is_valid_request_id;
use crate::intent::InstType;

/// The most entries a `batch-cancel` may carry.
pub(super) const MAX_BATCH: usize = 20;

/// Codes and messages of the V3 replies.
pub(super) mod codes {
    pub(in crate::sim) const NOT_FOUND: (&str, &str) = ("25204", "Order does not exist");
    pub(in crate::sim) const TOO_MANY: (&str, &str) = ("429", "Too Many Requests");
    pub(in crate::sim) const CLASSIC: (&str, &str) = (
        "40084",
        "The account is in Classic Account mode: use the V2 API",
    );
    pub(in crate::sim) const NOT_LOGGED_IN: (&str, &str) = ("30004", "User needs to log in");
    pub(in crate::sim) const ILLEGAL: (&str, &str) = ("30002", "Illegal request");
    pub(in crate::sim) const INVALID_OP: (&str, &str) = ("30003", "Invalid op");
    pub(in crate::sim) const NO_TOPIC: (&str, &str) = ("30001", "Topic does not exist");
    pub(in crate::sim) const PARAM: (&str, &str) = ("30016", "Param error");
    pub(in crate::sim) const MIXED: (&str, &str) = (
        "40020",
        "Parameter error: orderId and clientOid cannot be mixed in one batch",
    );
    pub(in crate::sim) const TOO_MANY_ENTRIES: (&str, &str) =
        ("40306", "Batch requests take at most 20 orders");
}

/// A V3 request, classified by `op`.
#[derive(Debug, PartialEq)]
pub(super) enum Request {
    /// `op:"login"`: the first element of `args` (the same frame as V2).
    Login { arg: Value },
    /// `op:"subscribe"` / `unsubscribe`: the whole `args`.
    Subscribe { args: Value, subscribe: bool },
    /// `op:"trade"`: the whole request.
    Trade { request: Map<String, Value> },
}

/// Parses one text message; a refusal is the reply text (30002 not JSON, 30003 unknown op).
pub(super) fn classify(text: &str) -> Result<Request, String> {
    let Ok(Value::Object(mut request)) = serde_json::from_str::<Value>(text) else {
        return Err(error(None, codes::ILLEGAL));
    };
    match request.get("op").and_then(Value::as_str) {
        Some("login") => match request.remove("args") {
            Some(Value::Array(mut list)) if list.first().is_some_and(Value::is_object) => {
                Ok(Request::Login {
                    arg: list.swap_remove(0),
                })
            }
            _ => Err(error(None, codes::ILLEGAL)),
        },
        Some(op @ ("subscribe" | "unsubscribe")) => Ok(Request::Subscribe {
            subscribe: op == "subscribe",
            args: request.remove("args").unwrap_or(Value::Null),
        }),
        Some("trade") => Ok(Request::Trade { request }),
        _ => Err(error(None, codes::INVALID_OP)),
    }
}

/// `{"event":"error","id":ID,"code":"N","msg":"..."}`, without `id` when there is none.
pub(super) fn error(id: Option<&str>, (code, msg): (&str, &str)) -> String {
    let id = id
        .map(|id| format!(r#""id":{},"#, Value::from(id)))
        .unwrap_or_default();
    format!(
        r#"{{"event":"error",{id}"code":{},"msg":{}}}"#,
        Value::from(code),
        Value::from(msg)
    )
}

/// Which trade topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Topic {
    Cancel,
    Batch,
}

impl Topic {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Topic::Cancel => "cancel-order",
            Topic::Batch => "batch-cancel",
        }
    }
}

/// One order a cancel names: `orderId` prevails over `clientOid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry {
    pub(super) order_id: Option<String>,
    pub(super) client_oid: Option<String>,
}

impl Entry {
    pub(super) fn by(&self) -> Option<OrderRef<'_>> {
        match (&self.order_id, &self.client_oid) {
            (Some(id), _) => Some(OrderRef::OrderId(id)),
            (None, Some(oid)) => Some(OrderRef::ClientOid(oid)),
            (None, None) => None,
        }
    }

    fn of(arg: &Value) -> Entry {
        let text = |name: &str| {
            arg.get(name)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        Entry {
            order_id: text("orderId"),
            client_oid: text("clientOid"),
        }
    }
}

/// A trade request that passed the checks before the account and the book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Trade {
    pub(super) id: String,
    pub(super) topic: Topic,
    /// The product lines its `category` covers (every one without a category).
    pub(super) inst_types: Vec<InstType>,
    pub(super) entries: Vec<Entry>,
}

/// The product lines a lowercase `category` names; `None` for anything else (uppercase
/// included). `margin` names none the simulated book holds.
pub(super) fn lowercase_category(category: &str) -> Option<Vec<InstType>> {
    Some(match category {
        "spot" => vec![InstType::Spot],
        "usdt-futures" => vec![InstType::UsdtFutures],
        "coin-futures" => vec![InstType::CoinFutures],
        "usdc-futures" => vec![InstType::UsdcFutures],
        "margin" => Vec::new(),
        _ => return None,
    })
}

/// Checks a trade request in this order: logged in (30004), `id` (30016, no `id` in the reply),
/// `topic` (30001), `category` (41101 `Param category=X error`), `args` (30016 when empty or
/// an entry names no order, 40306 over 20 entries, 40020 when a batch mixes orderId and
/// clientOid). The error is the reply text.
pub(super) fn check_trade(request: &Map<String, Value>, logged_in: bool) -> Result<Trade, String> {
    let id = request.get("id").and_then(Value::as_str);
    if !logged_in {
        return Err(error(id, codes::NOT_LOGGED_IN));
    }
    let Some(id) = id.filter(|id| is_valid_request_id(id)) else {
        return Err(error(None, codes::PARAM));
    };
    let topic = match request.get("topic").and_then(Value::as_str) {
        Some("cancel-order") => Topic::Cancel,
        Some("batch-cancel") => Topic::Batch,
        _ => return Err(error(Some(id), codes::NO_TOPIC)),
    };
    let inst_types = match request.get("category") {
        None | Some(Value::Null) => InstType::ALL.to_vec(),
        Some(category) => {
            let text = category.as_str().unwrap_or("");
            lowercase_category(text).ok_or_else(|| {
                let msg = format!("Param category={text} error");
                error(Some(id), ("41101", &msg))
            })?
        }
    };
    let args = request
        .get("args")
        .and_then(Value::as_array)
        .filter(|list| !list.is_empty())
        .ok_or_else(|| error(Some(id), codes::PARAM))?;
    let entries: Vec<Entry> = match topic {
        Topic::Cancel => vec![Entry::of(&args[0])],
        Topic::Batch => args.iter().map(Entry::of).collect(),
    };
    if entries.iter().any(|e| e.by().is_none()) {
        return Err(error(Some(id), codes::PARAM));
    }
    if entries.len() > MAX_BATCH {
        return Err(error(Some(id), codes::TOO_MANY_ENTRIES));
    }
    let by_order_id = entries.iter().filter(|e| e.order_id.is_some()).count();
    if by_order_id != 0 && by_order_id != entries.len() {
        return Err(error(Some(id), codes::MIXED));
    }
    Ok(Trade {
        id: id.to_owned(),
        topic,
        inst_types,
        entries,
    })
}

/// `"orderId":..,"clientOid":..` of a cancelled order (no `clientOid` for an order without one),
/// without braces.
fn ids(order: &OrderState) -> String {
    let mut ids = format!(r#""orderId":{}"#, Value::from(order.order_id.as_str()));
    if let Some(oid) = &order.client_oid {
        ids.push_str(&format!(r#","clientOid":{}"#, Value::from(oid.as_str())));
    }
    ids
}

/// The success reply, its `args` the given objects (`code` and `ts` strings).
fn trade_reply(id: &str, topic: Topic, args: &[String], ts_ms: u64) -> String {
    format!(
        r#"{{"event":"trade","id":{},"topic":"{}","args":[{}],"code":"0","msg":"Success","ts":"{ts_ms}"}}"#,
        Value::from(id),
        topic.as_str(),
        args.join(",")
    )
}

/// The reply to a single cancel: success with the order's ids, or 25204.
pub(super) fn cancel_reply(id: &str, cancelled: Option<&OrderState>, ts_ms: u64) -> String {
    match cancelled {
        Some(order) => trade_reply(id, Topic::Cancel, &[format!("{{{}}}", ids(order))], ts_ms),
        None => error(Some(id), codes::NOT_FOUND),
    }
}

/// The reply to a batch: top-level `"code":"0"`, an entry per request entry with its own code
/// (`"0"` and the order's ids, or `"25204"` and the id it named).
pub(super) fn batch_reply(id: &str, results: &[(Entry, Option<OrderState>)], ts_ms: u64) -> String {
    let args: Vec<String> = results
        .iter()
        .map(|(entry, cancelled)| match cancelled {
            Some(order) => format!(r#"{{{},"code":"0","msg":"Success"}}"#, ids(order)),
            None => {
                let named = match entry.by() {
                    Some(by) => format!(r#""{}":{},"#, by.field(), Value::from(by.value())),
                    None => String::new(),
                };
                let (code, msg) = codes::NOT_FOUND;
                format!(r#"{{{named}"code":"{code}","msg":"{msg}"}}"#)
            }
        })
        .collect();
    trade_reply(id, Topic::Batch, &args, ts_ms)
}

/// Whether a V3 subscription `arg` is the order topic (`instType` `UTA` in any case).
pub(super) fn is_order_topic(arg: &Value) -> bool {
    arg.get("topic").and_then(Value::as_str) == Some("order")
        && arg
            .get("instType")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("UTA"))
}

/// `{"event":"error","arg":ARG,"code":"N","msg":M,"op":"subscribe"}`.
pub(super) fn subscribe_error(arg: &Value, code: &str, msg: &str, subscribe: bool) -> String {
    let op = if subscribe {
        "subscribe"
    } else {
        "unsubscribe"
    };
    format!(
        r#"{{"event":"error","arg":{arg},"code":{},"msg":{},"op":"{op}"}}"#,
        Value::from(code),
        Value::from(msg)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::book::OrderStatus;
    use serde_json::json;

    fn request(text: &str) -> Map<String, Value> {
        match classify(text).unwrap() {
            Request::Trade { request } => request,
            other => panic!("{other:?}"),
        }
    }

    fn order() -> OrderState {
        OrderState {
            inst_type: InstType::Spot,
            inst_id: "BTCUSDT".into(),
            order_id: "11".into(),
            client_oid: Some("c11".into()),
            uid: 1,
            size: "1".into(),
            price: "1".into(),
            filled: "0".into(),
            price_avg: None,
            status: OrderStatus::Cancelled,
            cancel_reason: "normal_cancel".into(),
            c_time_ms: 1,
            u_time_ms: 2,
        }
    }

    #[test]
    fn replies_have_string_codes_and_ts_like_the_documented_ones() {
        assert_eq!(
            cancel_reply("7", Some(&order()), 1756283452147),
            r#"{"event":"trade","id":"7","topic":"cancel-order","args":[{"orderId":"11","clientOid":"c11"}],"code":"0","msg":"Success","ts":"1756283452147"}"#
        );
        assert_eq!(
            cancel_reply("7", None, 1),
            r#"{"event":"error","id":"7","code":"25204","msg":"Order does not exist"}"#
        );
        assert_eq!(
            error(None, codes::INVALID_OP),
            r#"{"event":"error","code":"30003","msg":"Invalid op"}"#
        );
    }

    #[test]
    fn an_uppercase_category_is_refused_with_41101() {
        let trade = request(
            r#"{"op":"trade","id":"1","category":"SPOT","topic":"cancel-order","args":[{"orderId":"1"}]}"#,
        );
        assert_eq!(
            check_trade(&trade, true).unwrap_err(),
            r#"{"event":"error","id":"1","code":"41101","msg":"Param category=SPOT error"}"#
        );
        let no_category =
            request(r#"{"op":"trade","id":"1","topic":"cancel-order","args":[{"clientOid":"a"}]}"#);
        let checked = check_trade(&no_category, true).unwrap();
        assert_eq!(checked.inst_types.len(), 4);
        assert_eq!(checked.entries[0].by(), Some(OrderRef::ClientOid("a")));
    }

    #[test]
    fn batches_are_bounded_and_never_mix_id_kinds() {
        let entries = |n: usize, oid: bool| {
            let list: Vec<Value> = (0..n)
                .map(|i| {
                    if oid && i == 0 {
                        json!({"clientOid": "c"})
                    } else {
                        json!({"orderId": i.to_string()})
                    }
                })
                .collect();
            let text =
                json!({"op":"trade","id":"b","topic":"batch-cancel","args":list}).to_string();
            check_trade(&request(&text), true)
        };
        assert_eq!(entries(20, false).unwrap().entries.len(), 20);
        assert!(
            entries(21, false)
                .unwrap_err()
                .contains(r#""code":"40306""#)
        );
        assert!(entries(2, true).unwrap_err().contains(r#""code":"40020""#));
        assert!(
            check_trade(
                &request(
                    r#"{"op":"trade","id":"1","topic":"cancel-order","args":[{"orderId":"1"}]}"#
                ),
                false
            )
            .unwrap_err()
            .contains("30004")
        );
    }

    #[test]
    fn a_batch_reply_carries_a_code_per_entry() {
        let hit = Entry {
            order_id: Some("11".into()),
            client_oid: None,
        };
        let miss = Entry {
            order_id: Some("12".into()),
            client_oid: None,
        };
        let reply: Value =
            serde_json::from_str(&batch_reply("b", &[(hit, Some(order())), (miss, None)], 5))
                .unwrap();
        assert_eq!(reply["code"], "0");
        assert_eq!(
            reply["args"][0],
            json!({"orderId":"11","clientOid":"c11","code":"0","msg":"Success"})
        );
        assert_eq!(reply["ts"], "5");
        assert_eq!(
            reply["args"][1],
            json!({"orderId":"12","code":"25204","msg":"Order does not exist"})
        );
    }
}
