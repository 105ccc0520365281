//! V3 reply decoding, with the same reused simd-json buffers as V2 (or serde_json, for tools
//! and tests): requests are answered by `event` with the request's `id` at the top level and
//! codes as strings; pushes on the `order` topic (no `event`, `arg.topic` `order`) read into
//! the neutral [`OrderUpdate`]s the decoder keeps. The result is V2's [`Reply`]: the same kinds
//! of message, read by other rules.

use crate::final_word::OrderUpdate;
use crate::intent::{ClientOid, OrderId};
use crate::outcome::VenueMsg;
use crate::venue::v2::decode::{
    JsonView, Kind, PushFields, answers_subscription, code, conn_id, event_of, is_pong, msg,
    read_order_update, text_field,
};
use crate::venue::v2::{DecodeError, OwnedReply, Reply, ReplyDecoder};
use crate::venue::{BatchEntry, Verdict};

use super::encode::inst_type_of;

/// Decodes one V3 text message in place with `decoder`'s buffers: no allocation once warm.
///
/// `pong` is recognised before any parsing. `trade` needs the top-level `id` and `code`;
/// `error` carries the top-level `id` when it answers one request (or `op` `subscribe` when it
/// refuses a subscription) and names no request otherwise; `login` needs `code`. `code` is a
/// string of digits (a JSON integer is read too). A message with no `event` whose `arg.topic`
/// is `order` is a push ([`Reply::Orders`]).
///
/// ```
/// use bitget_cancel::protocol::{Reply, ReplyDecoder};
/// use bitget_cancel::protocol::v3::decode;
///
/// let mut decoder = ReplyDecoder::new();
/// let mut acked = br#"{"event":"trade","id":"7","topic":"cancel-order","args":[{"orderId":"1"}],"code":"0","msg":"Success","ts":"1756283452147"}"#.to_vec();
/// assert_eq!(decode(&mut decoder, &mut acked)?, Reply::Trade { id: "7", code: 0, msg: "Success" });
/// let mut refused = br#"{"event":"error","id":"8","code":"25204","msg":"Order does not exist"}"#.to_vec();
/// assert_eq!(
///     decode(&mut decoder, &mut refused)?,
///     Reply::TradeError { id: "8", code: 25204, msg: "Order does not exist" }
/// );
/// # Ok::<(), bitget_cancel::protocol::DecodeError>(())
/// ```
pub fn decode<'a>(
    decoder: &'a mut ReplyDecoder,
    text: &'a mut [u8],
) -> Result<Reply<'a>, DecodeError> {
    if is_pong(text) {
        return Ok(Reply::Pong);
    }
    decoder.decode_by(text, |root, updates, batch| {
        read_reply(root, updates, batch)
    })
}

/// [`decode`] with serde_json, under exactly the same rules: for tools and for comparing
/// against the simd-json path (it allocates). The two parsers differ where V2's
/// [`decode_with_serde_json`](crate::protocol::decode_with_serde_json) says.
pub fn decode_with_serde_json(text: &[u8]) -> Result<OwnedReply, DecodeError> {
    if is_pong(text) {
        return Ok(OwnedReply::Pong);
    }
    let value: serde_json::Value =
        serde_json::from_slice(text).map_err(|_| DecodeError::NotJson)?;
    let (mut updates, mut batch) = (Vec::new(), Vec::new());
    read_reply(&value, &mut updates, &mut batch).map(OwnedReply::from)
}

fn read_reply<'i, V: JsonView<'i>>(
    root: V,
    updates: &'i mut Vec<OrderUpdate>,
    batch: &'i mut Vec<BatchEntry>,
) -> Result<Reply<'i>, DecodeError> {
    let Some(event) = event_of(root)? else {
        return match order_topic(root) {
            true => read_orders(root, updates),
            false => Err(DecodeError::MissingField("event")),
        };
    };
    match event {
        "trade" => {
            let id = request_id(root)?.ok_or(DecodeError::MissingField("id"))?;
            let (code, msg) = (code(root)?, msg(root)?);
            let is_batch = matches!(
                root.field("topic").map(JsonView::kind),
                Some(Kind::Str(topic)) if topic.eq_ignore_ascii_case("batch-cancel")
            );
            if !is_batch {
                return Ok(Reply::Trade { id, code, msg });
            }
            read_batch(root, batch)?;
            Ok(Reply::Batch {
                id,
                code,
                msg,
                entries: batch,
            })
        }
        "error" => {
            let (code, msg) = (code(root)?, msg(root)?);
            if answers_subscription(root) {
                return Ok(Reply::SubscribeError { code, msg });
            }
            Ok(match request_id(root)? {
                Some(id) => Reply::TradeError { id, code, msg },
                None => Reply::Error { code, msg },
            })
        }
        "login" => Ok(Reply::Login {
            code: code(root)?,
            msg: msg(root)?,
            conn_id: conn_id(root),
        }),
        _ => Ok(Reply::Other { event }),
    }
}

/// Every entry of a batch reply's `args`: the order it names (`orderId`, `clientOid`) and its
/// own `code` (`"0"` acked) and `msg`. An entry without a code is an ack (the venue lists
/// what it cancelled).
fn read_batch<'i, V: JsonView<'i>>(
    root: V,
    batch: &mut Vec<BatchEntry>,
) -> Result<(), DecodeError> {
    let Some(args) = root.field("args") else {
        return Ok(());
    };
    match args.kind() {
        Kind::Array(_) => {}
        Kind::Null => return Ok(()),
        _ => return Err(DecodeError::WrongType("args")),
    }
    for entry in args.elements() {
        if !matches!(entry.kind(), Kind::Object) {
            return Err(DecodeError::WrongType("args"));
        }
        let order_id = match text_field(entry, "orderId")? {
            Some(id) => Some(OrderId::new(id).map_err(|_| DecodeError::BadValue("orderId"))?),
            None => None,
        };
        let client_oid = text_field(entry, "clientOid")?.and_then(|oid| ClientOid::new(oid).ok());
        let verdict = match entry.field("code") {
            None => Verdict::Acked,
            Some(_) => match code(entry)? {
                0 => Verdict::Acked,
                code => Verdict::Rejected {
                    code,
                    msg: VenueMsg::new(msg(entry)?),
                },
            },
        };
        batch.push(BatchEntry {
            order_id,
            client_oid,
            verdict,
        });
    }
    Ok(())
}

/// The top-level `id`: a string, or none when absent or null.
fn request_id<'i, V: JsonView<'i>>(root: V) -> Result<Option<&'i str>, DecodeError> {
    match root.field("id").map(JsonView::kind) {
        Some(Kind::Str(id)) => Ok(Some(id)),
        Some(Kind::Null) | None => Ok(None),
        Some(_) => Err(DecodeError::WrongType("id")),
    }
}

/// Whether `arg` (an object, or a list whose first element is one) has `topic` `order`.
fn order_topic<'i, V: JsonView<'i>>(root: V) -> bool {
    let Some(arg) = root.field("arg") else {
        return false;
    };
    let arg = match arg.kind() {
        Kind::Object => arg,
        Kind::Array(Some(first)) if matches!(first.kind(), Kind::Object) => first,
        _ => return false,
    };
    matches!(
        arg.field("topic").map(JsonView::kind),
        Some(Kind::Str(topic)) if topic.eq_ignore_ascii_case("order")
    )
}

fn read_orders<'i, V: JsonView<'i>>(
    root: V,
    updates: &'i mut Vec<OrderUpdate>,
) -> Result<Reply<'i>, DecodeError> {
    let data = root
        .field("data")
        .ok_or(DecodeError::MissingField("data"))?;
    if !matches!(data.kind(), Kind::Array(_)) {
        return Err(DecodeError::WrongType("data"));
    }
    for entry in data.elements() {
        if !matches!(entry.kind(), Kind::Object) {
            return Err(DecodeError::WrongType("data"));
        }
        updates.push(read_update(entry)?);
    }
    Ok(Reply::Orders { updates })
}

/// One order of a push: `category`, `orderId`, `clientOid`, `orderStatus`, `cumExecQty`,
/// `avgPrice`, `cancelReason`, `updatedTime`.
fn read_update<'i, V: JsonView<'i>>(entry: V) -> Result<OrderUpdate, DecodeError> {
    let inst_type = || Ok(text_field(entry, "category")?.and_then(inst_type_of));
    read_order_update(entry, inst_type, &V3_PUSH)
}

/// The names of V3's `order` topic fields.
const V3_PUSH: PushFields = PushFields {
    status: "orderStatus",
    filled: "cumExecQty",
    price_avg: "avgPrice",
    updated: "updatedTime",
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::final_word::OrderStatus;
    use crate::intent::InstType;

    /// The replies and pushes the facts about V3 print, with the fields the engine must see.
    const DOCUMENTED: [(&str, Reply<'static>); 6] = [
        (
            r#"{"event":"trade","id":"1","topic":"cancel-order","args":[{"orderId":"1","clientOid":"c"}],"code":"0","msg":"Success","ts":"1756283452147"}"#,
            Reply::Trade {
                id: "1",
                code: 0,
                msg: "Success",
            },
        ),
        (
            r#"{"event":"trade","id":"2","topic":"cancel-order","args":[{"orderId":"1"}],"code":"0","msg":"Success","ts":"1756283452147","connId":"abc"}"#,
            Reply::Trade {
                id: "2",
                code: 0,
                msg: "Success",
            },
        ),
        (
            r#"{"event":"error","id":"3","code":"25204","msg":"Order does not exist"}"#,
            Reply::TradeError {
                id: "3",
                code: 25204,
                msg: "Order does not exist",
            },
        ),
        (
            r#"{"event":"error","id":"4","code":"429","msg":"Too Many Requests"}"#,
            Reply::TradeError {
                id: "4",
                code: 429,
                msg: "Too Many Requests",
            },
        ),
        (
            r#"{"event":"error","code":"30033","msg":"service upgrade"}"#,
            Reply::Error {
                code: 30033,
                msg: "service upgrade",
            },
        ),
        (
            r#"{"event":"login","code":0,"connId":"c1"}"#,
            Reply::Login {
                code: 0,
                msg: "",
                conn_id: "c1",
            },
        ),
    ];

    fn decode_both(text: &str) -> Result<OwnedReply, DecodeError> {
        let mut decoder = ReplyDecoder::new();
        let mut buf = text.as_bytes().to_vec();
        let simd = decode(&mut decoder, &mut buf).map(OwnedReply::from);
        assert_eq!(simd, decode_with_serde_json(text.as_bytes()), "{text}");
        simd
    }

    #[test]
    fn documented_replies_decode_to_their_exact_fields_with_both_parsers() {
        for (text, expected) in DOCUMENTED {
            assert_eq!(decode_both(text).unwrap().as_reply(), expected, "{text}");
        }
    }

    #[test]
    fn a_trade_needs_its_top_level_id_and_an_error_without_one_names_no_request() {
        assert_eq!(
            decode_both(r#"{"event":"trade","args":[{"id":"1"}],"code":"0"}"#),
            Err(DecodeError::MissingField("id"))
        );
        assert_eq!(
            decode_both(r#"{"event":"error","id":5,"code":"1"}"#),
            Err(DecodeError::WrongType("id"))
        );
        assert_eq!(
            decode_both(r#"{"event":"error","id":null,"code":"30002","msg":"x"}"#)
                .unwrap()
                .as_reply(),
            Reply::Error {
                code: 30002,
                msg: "x"
            }
        );
        assert_eq!(
            decode_both(r#"{"event":"error","arg":{"instType":"UTA","topic":"order"},"code":"30001","msg":"no","op":"subscribe"}"#)
                .unwrap()
                .as_reply(),
            Reply::SubscribeError { code: 30001, msg: "no" }
        );
        assert_eq!(
            decode_both(r#"{"event":"subscribe","arg":{"instType":"UTA","topic":"order"}}"#)
                .unwrap()
                .as_reply(),
            Reply::Other { event: "subscribe" }
        );
    }

    #[test]
    fn an_order_push_reads_category_status_and_cumulative_fill() {
        let text = r#"{"action":"snapshot","arg":{"instType":"UTA","topic":"order"},"data":[{"category":"usdt-futures","symbol":"BTCUSDT","orderId":"42","clientOid":"c-1","qty":"0.001","cumExecQty":"0.001","avgPrice":"83131.5","orderStatus":"filled","cancelReason":"","updatedTime":"1756283452147"},{"category":"spot","orderId":"43","orderStatus":"canceled"}],"ts":1}"#;
        let OwnedReply::Orders { updates } = decode_both(text).unwrap() else {
            panic!()
        };
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].inst_type, Some(InstType::UsdtFutures));
        assert_eq!(updates[0].order_id.unwrap().as_str(), "42");
        assert_eq!(updates[0].client_oid.unwrap().as_str(), "c-1");
        assert_eq!(updates[0].status, OrderStatus::Filled);
        assert_eq!(updates[0].filled.unwrap().as_str(), "0.001");
        assert_eq!(updates[0].price_avg.unwrap().as_str(), "83131.5");
        assert_eq!(updates[0].cancel_reason, None);
        assert_eq!(updates[0].updated_ms, Some(1756283452147));
        assert_eq!(updates[1].status, OrderStatus::Cancelled);
        assert_eq!(updates[1].inst_type, Some(InstType::Spot));
        // V2's field names are not V3's.
        assert_eq!(
            decode_both(
                r#"{"arg":{"instType":"UTA","topic":"order"},"data":[{"orderId":"1","status":"filled"}]}"#
            ),
            Err(DecodeError::MissingField("orderStatus"))
        );
        assert_eq!(
            decode_both(r#"{"arg":{"instType":"SPOT","channel":"orders"},"data":[]}"#),
            Err(DecodeError::MissingField("event"))
        );
    }

    #[test]
    fn a_batch_reply_carries_each_entrys_own_verdict_under_a_top_level_zero() {
        let text = r#"{"event":"trade","id":"b7","topic":"batch-cancel","args":[{"orderId":"11","clientOid":"c11","code":"0","msg":"Success"},{"orderId":"12","code":"25204","msg":"Order does not exist"},{"clientOid":"c13"}],"code":"0","msg":"Success","ts":"1"}"#;
        let OwnedReply::Batch {
            id, code, entries, ..
        } = decode_both(text).unwrap()
        else {
            panic!()
        };
        assert_eq!((id.as_str(), code, entries.len()), ("b7", 0, 3));
        assert_eq!(entries[0].order_id.unwrap().as_str(), "11");
        assert_eq!(entries[0].verdict, Verdict::Acked);
        match entries[1].verdict {
            Verdict::Rejected { code, msg } => {
                assert_eq!((code, msg.as_str()), (25204, "Order does not exist"))
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(entries[2].client_oid.unwrap().as_str(), "c13");
        assert_eq!(
            entries[2].verdict,
            Verdict::Acked,
            "listed without a code: cancelled"
        );
        // A batch refused as a whole is an error naming its id.
        assert_eq!(
            decode_both(r#"{"event":"error","id":"b8","code":"40020","msg":"mixed"}"#)
                .unwrap()
                .as_reply(),
            Reply::TradeError {
                id: "b8",
                code: 40020,
                msg: "mixed"
            }
        );
    }
}
