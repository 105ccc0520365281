//! The V2 venue's JSON reply to a REST request, read into a verdict.
//!
//! `{"code":"00000","msg":"success","requestTime":...,"data":{...}}` with a 2xx status is an
//! ack; any other `code` (a string over REST; a number is accepted too) is a rejection, whatever
//! the status (the venue sends its refusals with 4xx). A 5xx status, or a body that is not that
//! JSON, carries no verdict: the request failed and the order's fate is unknown.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::rest::BatchKey;
use crate::final_word::{CancelReason, Decimal, OrderStatus, OrderUpdate};
use crate::intent::{ClientOid, InstType, OrderId, OrderRef};
use crate::outcome::VenueMsg;
use crate::venue::{BatchResults, BatchVerdict, CancelAllVerdict, OrderAnswer, Verdict};

/// Why a REST reply carries no verdict: the request failed, and the order's fate is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoVerdict {
    /// The venue answered 5xx.
    ServerError { status: u16 },
    /// The reply is HTTP but not the venue's JSON reply (or an impossible combination).
    BadReply { status: u16, reason: &'static str },
}

/// A code as the venue wrote it, before a dialect reads it: absent (null or `""`), a number (a
/// JSON integer or a string of digits), or anything else. Read without allocating.
pub(in crate::venue) enum RawCode {
    Empty,
    Number(i64),
    Other,
}

impl<'de> Deserialize<'de> for RawCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawCodeVisitor;

        impl<'de> serde::de::Visitor<'de> for RawCodeVisitor {
            type Value = RawCode;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a code")
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RawCode, E> {
                if s.is_empty() {
                    return Ok(RawCode::Empty);
                }
                let digits = s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
                Ok(match digits.then(|| s.parse().ok()).flatten() {
                    Some(n) => RawCode::Number(n),
                    None => RawCode::Other,
                })
            }

            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<RawCode, E> {
                Ok(RawCode::Number(n))
            }

            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<RawCode, E> {
                Ok(i64::try_from(n).map_or(RawCode::Other, RawCode::Number))
            }

            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<RawCode, E> {
                Ok(RawCode::Other)
            }

            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<RawCode, E> {
                Ok(RawCode::Other)
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<RawCode, E> {
                Ok(RawCode::Empty)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RawCode, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(RawCode::Other)
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<RawCode, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RawCode::Other)
            }
        }

        deserializer.deserialize_any(RawCodeVisitor)
    }
}

/// The venue's `code`: a string of digits or a JSON integer; anything else reads as `None`.
/// Read without allocating.
pub(in crate::venue) struct Code(pub(in crate::venue) Option<i64>);

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Code(match RawCode::deserialize(deserializer)? {
            RawCode::Number(n) => Some(n),
            RawCode::Empty | RawCode::Other => None,
        }))
    }
}

/// The venue's `msg`, borrowed from the body unless it holds escapes. (serde's own
/// `Option<Cow<str>>` always copies.)
pub(in crate::venue) struct Msg<'a>(pub(in crate::venue) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Msg<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MsgVisitor;

        impl<'de> serde::de::Visitor<'de> for MsgVisitor {
            type Value = Msg<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a message string")
            }

            fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Msg<'de>, E> {
                Ok(Msg(Cow::Borrowed(s)))
            }

            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Msg<'de>, E> {
                Ok(Msg(Cow::Owned(s.to_owned())))
            }
        }

        deserializer.deserialize_str(MsgVisitor)
    }
}

/// The fields of the reply envelope a verdict needs; the rest is skipped. Strings without
/// escapes are borrowed from the body, so a reply is read without allocating.
#[derive(Deserialize)]
pub(in crate::venue) struct Envelope<'a, D> {
    pub(in crate::venue) code: Option<Code>,
    #[serde(borrow)]
    pub(in crate::venue) msg: Option<Msg<'a>>,
    pub(in crate::venue) data: Option<D>,
}

/// `data` of the server time reply.
#[derive(Deserialize)]
struct TimeData {
    #[serde(rename = "serverTime")]
    server_time: Option<Code>,
}

pub(in crate::venue) fn envelope<'a, D: Deserialize<'a>>(
    status: u16,
    body: &'a [u8],
) -> Result<Envelope<'a, D>, NoVerdict> {
    if status >= 500 {
        return Err(NoVerdict::ServerError { status });
    }
    serde_json::from_slice::<Envelope<'a, D>>(body).map_err(|_| NoVerdict::BadReply {
        status,
        reason: "the body is not the venue's JSON reply",
    })
}

/// Reads a cancel reply (status and body) into a [`Verdict`].
pub(crate) fn decode_verdict(status: u16, body: &[u8]) -> Result<Verdict, NoVerdict> {
    let reply = envelope::<IgnoredAny>(status, body)?;
    let code = reply.code.and_then(|c| c.0).ok_or(NoVerdict::BadReply {
        status,
        reason: "the reply has no numeric code",
    })?;
    if !(200..300).contains(&status) && !(400..500).contains(&status) {
        return Err(NoVerdict::BadReply {
            status,
            reason: "unexpected HTTP status",
        });
    }
    match code {
        0 if (200..300).contains(&status) => Ok(Verdict::Acked),
        0 => Err(NoVerdict::BadReply {
            status,
            reason: "success code with an error status",
        }),
        code => Ok(Verdict::Rejected {
            code,
            msg: VenueMsg::new(reply.msg.as_ref().map_or("", |m| &m.0)),
        }),
    }
}

/// Reads `GET /api/v2/public/time`'s reply: `data.serverTime`, Unix milliseconds (a string of
/// digits or a number).
pub(crate) fn decode_server_time(status: u16, body: &[u8]) -> Result<i64, NoVerdict> {
    let reply = envelope::<TimeData>(status, body)?;
    if !(200..300).contains(&status) || reply.code.and_then(|c| c.0) != Some(0) {
        return Err(NoVerdict::BadReply {
            status,
            reason: "the server time request was refused",
        });
    }
    reply
        .data
        .and_then(|d| d.server_time)
        .and_then(|c| c.0)
        .ok_or(NoVerdict::BadReply {
            status,
            reason: "no data.serverTime in the reply",
        })
}

/// One entry of a batch or cancel-all reply's `successList` or `failureList`.
#[derive(Deserialize)]
struct ListEntry<'a> {
    #[serde(rename = "orderId", borrow)]
    order_id: Option<Msg<'a>>,
    #[serde(rename = "clientOid", borrow)]
    client_oid: Option<Msg<'a>>,
    #[serde(rename = "errorCode")]
    error_code: Option<Code>,
    #[serde(rename = "errorMsg", borrow)]
    error_msg: Option<Msg<'a>>,
}

/// `data` of a batch or cancel-all reply. The lists are read into vectors: a batch is not the
/// single cancel's path, and its reply is read once per up to twenty cancels.
#[derive(Deserialize)]
struct ListsData<'a> {
    #[serde(rename = "successList", borrow)]
    success_list: Option<Vec<ListEntry<'a>>>,
    #[serde(rename = "failureList", borrow)]
    failure_list: Option<Vec<ListEntry<'a>>>,
}

/// The envelope's code, and the refusal when it is not `00000`; `Ok(None)` for a success.
pub(in crate::venue) fn whole_refusal<D>(
    status: u16,
    reply: &Envelope<'_, D>,
) -> Result<Option<Verdict>, NoVerdict> {
    let code = reply
        .code
        .as_ref()
        .and_then(|c| c.0)
        .ok_or(NoVerdict::BadReply {
            status,
            reason: "the reply has no numeric code",
        })?;
    if !(200..300).contains(&status) && !(400..500).contains(&status) {
        return Err(NoVerdict::BadReply {
            status,
            reason: "unexpected HTTP status",
        });
    }
    match code {
        0 if (200..300).contains(&status) => Ok(None),
        0 => Err(NoVerdict::BadReply {
            status,
            reason: "success code with an error status",
        }),
        code => Ok(Some(Verdict::Rejected {
            code,
            msg: VenueMsg::new(reply.msg.as_ref().map_or("", |m| &m.0)),
        })),
    }
}

/// Reads a batch cancel's reply against the entries it carried (`sent`, named by `key`, in
/// the order they were sent): each entry's verdict from the lists, matched by the value it was
/// sent under; an entry the reply lists nowhere stays unsettled.
pub(crate) fn decode_batch(
    status: u16,
    body: &[u8],
    key: BatchKey,
    sent: &[OrderRef],
) -> Result<BatchVerdict, NoVerdict> {
    let reply = envelope::<ListsData<'_>>(status, body)?;
    if let Some(Verdict::Rejected { code, msg }) = whole_refusal(status, &reply)? {
        return Ok(BatchVerdict::Refused { code, msg });
    }
    let mut results = BatchResults::unsettled(sent.len());
    let Some(data) = reply.data else {
        return Ok(BatchVerdict::Entries(results));
    };
    let mut apply = |entry: &ListEntry<'_>, verdict: Verdict| {
        let named = (text(&entry.order_id), text(&entry.client_oid));
        settle_named(&mut results, sent, key, named, verdict);
    };
    for entry in data.failure_list.iter().flatten() {
        let verdict = Verdict::Rejected {
            // A failure without a numeric code is still a failure: the venue's generic one.
            code: entry.error_code.as_ref().and_then(|c| c.0).unwrap_or(-1),
            msg: VenueMsg::new(entry.error_msg.as_ref().map_or("", |m| &m.0)),
        };
        apply(entry, verdict);
    }
    for entry in data.success_list.iter().flatten() {
        apply(entry, Verdict::Acked);
    }
    Ok(BatchVerdict::Entries(results))
}

/// Settles, with `verdict`, the entry of `sent` (named by `key`) that a reply's entry names by
/// its `orderId` and `clientOid` (`named`), if any: how both dialects match a batch reply's
/// entries to what was sent.
pub(in crate::venue) fn settle_named(
    results: &mut BatchResults,
    sent: &[OrderRef],
    key: BatchKey,
    named: (Option<&str>, Option<&str>),
    verdict: Verdict,
) {
    let named = match key {
        BatchKey::OrderId => named.0,
        BatchKey::ClientOid => named.1,
    };
    if let Some(named) = named
        && let Some(i) = sent.iter().position(|o| key.value(o) == Some(named))
    {
        results.settle(i, verdict);
    }
}

/// Reads a cancel-all's reply: taken, with the lengths of its lists where it has them, or
/// refused.
pub(crate) fn decode_cancel_all(status: u16, body: &[u8]) -> Result<CancelAllVerdict, NoVerdict> {
    // The lists' entries are not needed: read `data` as whatever it is, then count.
    let reply = envelope::<serde_json::Value>(status, body)?;
    if let Some(Verdict::Rejected { code, msg }) = whole_refusal(status, &reply)? {
        return Ok(CancelAllVerdict::Rejected { code, msg });
    }
    let count = |name: &str| {
        reply
            .data
            .as_ref()
            .and_then(|d| d.get(name))
            .and_then(serde_json::Value::as_array)
            .map(|l| l.len() as u32)
    };
    Ok(CancelAllVerdict::Acked {
        succeeded: count("successList"),
        failed: count("failureList"),
    })
}

/// The codes with which an order query says the venue does not know the order: 43001 (spot),
/// 40109 (futures `order/detail`), 40768 and 41101 (futures), 25204 (the unified account).
pub(crate) const ORDER_NOT_FOUND: [i64; 5] = [43001, 40109, 40768, 41101, 25204];

/// `data` as one value, or the first of a list of them (spot's `orderInfo` answers a list of
/// one, futures' `order/detail` an object); `None` for an empty list. Read without allocating.
pub(in crate::venue) struct FirstOf<T>(pub(in crate::venue) Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for FirstOf<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FirstVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for FirstVisitor<T> {
            type Value = FirstOf<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an order or a list of orders")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<T>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstOf(first))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|t| FirstOf(Some(t)))
            }
        }

        deserializer.deserialize_any(FirstVisitor(std::marker::PhantomData))
    }
}

/// The fields of an order the final word reads; the state is `status` (spot, and the futures
/// field table) or `state` (the futures example).
#[derive(Deserialize)]
struct V2Order<'a> {
    #[serde(rename = "orderId", borrow)]
    order_id: Option<Msg<'a>>,
    #[serde(rename = "clientOid", borrow)]
    client_oid: Option<Msg<'a>>,
    #[serde(borrow)]
    status: Option<Msg<'a>>,
    #[serde(borrow)]
    state: Option<Msg<'a>>,
    #[serde(rename = "baseVolume", borrow)]
    base_volume: Option<Msg<'a>>,
    #[serde(rename = "priceAvg", borrow)]
    price_avg: Option<Msg<'a>>,
    #[serde(rename = "cancelReason", borrow)]
    cancel_reason: Option<Msg<'a>>,
    #[serde(rename = "uTime")]
    u_time: Option<Code>,
}

/// An order's fields as the final word reads them, each dialect's names mapped onto one shape
/// (blank strings already read as absent).
pub(in crate::venue) struct OrderFields<'r> {
    pub(in crate::venue) inst_type: InstType,
    pub(in crate::venue) order_id: Option<&'r str>,
    pub(in crate::venue) client_oid: Option<&'r str>,
    pub(in crate::venue) status: Option<&'r str>,
    pub(in crate::venue) filled: Option<&'r str>,
    pub(in crate::venue) price_avg: Option<&'r str>,
    pub(in crate::venue) cancel_reason: Option<&'r str>,
    pub(in crate::venue) updated_ms: Option<i64>,
}

/// An order in a query's `data`, in one dialect's field names.
pub(in crate::venue) trait OrderData {
    /// The fields, for an order that was asked for as one of `inst_type`.
    fn fields(&self, inst_type: InstType) -> OrderFields<'_>;
}

/// A string field's text, `None` when absent or empty.
pub(in crate::venue) fn text<'b>(field: &'b Option<Msg<'_>>) -> Option<&'b str> {
    field
        .as_ref()
        .map(|m| m.0.as_ref())
        .filter(|t| !t.is_empty())
}

/// Reads an order query's reply by the rules both dialects share (the envelope, its code, the
/// codes that say the order is unknown, an empty `data`), the order's fields in `D`'s names.
pub(in crate::venue) fn decode_order_as<'a, D: Deserialize<'a> + OrderData>(
    status: u16,
    body: &'a [u8],
    inst_type: InstType,
) -> Result<OrderAnswer, NoVerdict> {
    let bad = |reason| NoVerdict::BadReply { status, reason };
    let reply = envelope::<FirstOf<D>>(status, body)?;
    let code = reply
        .code
        .and_then(|c| c.0)
        .ok_or(bad("the reply has no numeric code"))?;
    if code != 0 {
        if ORDER_NOT_FOUND.contains(&code) {
            return Ok(OrderAnswer::NotFound { code });
        }
        return Ok(OrderAnswer::Refused {
            code,
            msg: VenueMsg::new(reply.msg.as_ref().map_or("", |m| &m.0)),
        });
    }
    if !(200..300).contains(&status) {
        return Err(bad("success code with an error status"));
    }
    let Some(order) = reply.data.and_then(|d| d.0) else {
        // An empty list: the venue lists no such order.
        return Ok(OrderAnswer::NotFound { code });
    };
    let order = order.fields(inst_type);
    let word = order.status.ok_or(bad("the order has no status"))?;
    let order_status =
        OrderStatus::from_venue(word).ok_or(bad("an order status this crate does not know"))?;
    let decimal = |field: Option<&str>| match field {
        Some(t) => Decimal::new(t)
            .map(Some)
            .ok_or(bad("a size or price that is not a decimal")),
        None => Ok(None),
    };
    Ok(OrderAnswer::Found(OrderUpdate {
        inst_type: Some(order.inst_type),
        order_id: order.order_id.and_then(|id| OrderId::new(id).ok()),
        client_oid: order.client_oid.and_then(|oid| ClientOid::new(oid).ok()),
        status: order_status,
        filled: decimal(order.filled)?,
        price_avg: decimal(order.price_avg)?,
        cancel_reason: order.cancel_reason.map(CancelReason::new),
        updated_ms: order.updated_ms.and_then(|ms| u64::try_from(ms).ok()),
    }))
}

impl OrderData for V2Order<'_> {
    fn fields(&self, inst_type: InstType) -> OrderFields<'_> {
        OrderFields {
            inst_type,
            order_id: text(&self.order_id),
            client_oid: text(&self.client_oid),
            status: text(&self.status).or(text(&self.state)),
            filled: text(&self.base_volume),
            price_avg: text(&self.price_avg),
            cancel_reason: text(&self.cancel_reason),
            updated_ms: self.u_time.as_ref().and_then(|c| c.0),
        }
    }
}

/// Reads an order query's reply (spot `orderInfo`, futures `order/detail`) for an order of
/// `inst_type`.
pub(crate) fn decode_order(
    status: u16,
    body: &[u8],
    inst_type: InstType,
) -> Result<OrderAnswer, NoVerdict> {
    decode_order_as::<V2Order<'_>>(status, body, inst_type)
}

#[cfg(test)]
mod order_tests {
    use super::*;

    fn found(status: u16, body: &str, inst_type: InstType) -> OrderUpdate {
        match decode_order(status, body.as_bytes(), inst_type) {
            Ok(OrderAnswer::Found(update)) => update,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_spot_answer_is_a_list_of_one_order() {
        let update = found(
            200,
            r#"{"code":"00000","msg":"success","requestTime":1,"data":[{"userId":"1","symbol":"BTCUSDT","orderId":"1376695893517410305","clientOid":null,"price":"100","size":"1","status":"cancelled","priceAvg":"0","baseVolume":"0.25","cancelReason":"normal_cancel","cTime":"1","uTime":"1742560160311"}]}"#,
            InstType::Spot,
        );
        assert_eq!(update.status, OrderStatus::Cancelled);
        assert_eq!(
            update.filled.map(|d| d.to_string()).as_deref(),
            Some("0.25")
        );
        assert_eq!(
            update.order_id.map(|o| o.to_string()).as_deref(),
            Some("1376695893517410305")
        );
        assert_eq!(update.client_oid, None);
        assert_eq!(update.updated_ms, Some(1742560160311));
        assert_eq!(
            update.cancel_reason.map(|r| r.to_string()).as_deref(),
            Some("normal_cancel")
        );
    }

    #[test]
    fn a_futures_answer_is_one_object_with_its_state_in_state_or_status() {
        for key in ["state", "status"] {
            let body = format!(
                r#"{{"code":"00000","data":{{"orderId":"1","clientOid":"c-1","{key}":"filled","baseVolume":"0.2","priceAvg":"83131.5","uTime":1742560160311}}}}"#
            );
            let update = found(200, &body, InstType::UsdtFutures);
            assert_eq!(update.status, OrderStatus::Filled, "{key}");
            assert_eq!(
                update.price_avg.map(|d| d.to_string()).as_deref(),
                Some("83131.5")
            );
            assert_eq!(update.inst_type, Some(InstType::UsdtFutures));
        }
    }

    #[test]
    fn unknown_orders_refusals_and_garbage_are_told_apart() {
        for (code, body) in [
            (
                43001,
                r#"{"code":"43001","msg":"The order does not exist"}"#,
            ),
            (
                40109,
                r#"{"code":"40109","msg":"The data of the order cannot be found"}"#,
            ),
        ] {
            assert_eq!(
                decode_order(400, body.as_bytes(), InstType::Spot),
                Ok(OrderAnswer::NotFound { code })
            );
        }
        assert_eq!(
            decode_order(200, br#"{"code":"00000","data":[]}"#, InstType::Spot),
            Ok(OrderAnswer::NotFound { code: 0 })
        );
        assert!(matches!(
            decode_order(
                429,
                br#"{"code":"429","msg":"Too Many Requests"}"#,
                InstType::Spot
            ),
            Ok(OrderAnswer::Refused { code: 429, .. })
        ));
        assert!(matches!(
            decode_order(503, b"<html>", InstType::Spot),
            Err(NoVerdict::ServerError { status: 503 })
        ));
        assert!(
            decode_order(
                200,
                br#"{"code":"00000","data":{"status":"gone"}}"#,
                InstType::Spot
            )
            .is_err()
        );
        assert!(
            decode_order(
                200,
                br#"{"code":"00000","data":{"status":"live","baseVolume":"1e3"}}"#,
                InstType::Spot
            )
            .is_err()
        );
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;

    fn sent() -> Vec<OrderRef> {
        ["11", "12", "13", "14"]
            .into_iter()
            .map(|id| OrderRef::order_id(id).unwrap())
            .collect()
    }

    #[test]
    fn each_entry_is_settled_by_its_list_and_one_in_neither_is_not() {
        let body = br#"{"code":"00000","msg":"success","requestTime":1,"data":{"successList":[{"orderId":"13","clientOid":"c-13"},{"orderId":"11","clientOid":null}],"failureList":[{"orderId":"12","clientOid":null,"errorMsg":"The order does not exist","errorCode":"43001"}]}}"#;
        let BatchVerdict::Entries(results) =
            decode_batch(200, body, BatchKey::OrderId, &sent()).unwrap()
        else {
            panic!("entries");
        };
        assert_eq!(results.len(), 4);
        assert_eq!(results.get(0), Some(Verdict::Acked));
        assert_eq!(
            results.get(1),
            Some(Verdict::Rejected {
                code: 43001,
                msg: VenueMsg::new("The order does not exist")
            })
        );
        assert_eq!(results.get(2), Some(Verdict::Acked));
        assert_eq!(results.get(3), None, "in neither list");
    }

    #[test]
    fn a_client_oid_batch_is_matched_by_client_oid() {
        let sent: Vec<OrderRef> = ["a", "b"]
            .into_iter()
            .map(|c| OrderRef::client_oid(c).unwrap())
            .collect();
        let body = br#"{"code":"00000","data":{"successList":[{"orderId":"99","clientOid":"b"}],"failureList":[{"clientOid":"a","errorCode":40768,"errorMsg":"Order does not exist"}]}}"#;
        let BatchVerdict::Entries(results) =
            decode_batch(200, body, BatchKey::ClientOid, &sent).unwrap()
        else {
            panic!("entries");
        };
        assert!(matches!(
            results.get(0),
            Some(Verdict::Rejected { code: 40768, .. })
        ));
        assert_eq!(results.get(1), Some(Verdict::Acked));
    }

    #[test]
    fn a_refused_batch_settles_no_entry_and_garbage_is_no_verdict() {
        let body = br#"{"code":"429","msg":"Too Many Requests","requestTime":1,"data":null}"#;
        assert!(matches!(
            decode_batch(429, body, BatchKey::OrderId, &sent()),
            Ok(BatchVerdict::Refused { code: 429, .. })
        ));
        assert!(matches!(
            decode_batch(502, b"<html>", BatchKey::OrderId, &sent()),
            Err(NoVerdict::ServerError { status: 502 })
        ));
        assert!(decode_batch(200, b"{", BatchKey::OrderId, &sent()).is_err());
    }

    #[test]
    fn a_cancel_all_reply_counts_its_lists_where_it_has_them() {
        let futures = br#"{"code":"00000","data":{"successList":[{"orderId":"1","clientOid":""},{"orderId":"2","clientOid":""}],"failureList":[]}}"#;
        assert_eq!(
            decode_cancel_all(200, futures),
            Ok(CancelAllVerdict::Acked {
                succeeded: Some(2),
                failed: Some(0)
            })
        );
        let spot = br#"{"code":"00000","data":{"symbol":"BTCUSDT"}}"#;
        assert_eq!(
            decode_cancel_all(200, spot),
            Ok(CancelAllVerdict::Acked {
                succeeded: None,
                failed: None
            })
        );
        assert!(matches!(
            decode_cancel_all(
                400,
                br#"{"code":"40019","msg":"Parameter symbol cannot be empty"}"#
            ),
            Ok(CancelAllVerdict::Rejected { code: 40019, .. })
        ));
    }
}
