//! The V3 venue's JSON replies to REST requests: the envelope is V2's (`code` `"00000"` on
//! success, a string code otherwise), so a cancel's and the countdown's verdicts are read by
//! V2's rules; the order query's `data` carries the `order` topic's fields, and the account
//! settings' code says which account the key belongs to.
//!
//! `cancel-batch` and `cancel-symbol-order` answer a list of orders, each with its own
//! `code`: the facts do not give the reply's shape, so it is read tolerantly. `data` is the
//! list itself or `{"list":[...]}`; an entry is `{orderId, clientOid, code, msg}` (`errorCode`
//! and `errorMsg` are read too); an entry whose `code` is absent, empty, `"0"` or `"00000"`
//! succeeded, any other code is that entry's rejection (e.g. 25204, the order does not exist).
//! A `00000` envelope may hold failed entries.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::intent::{InstType, OrderRef};
use crate::outcome::VenueMsg;
use crate::venue::v2::rest::BatchKey;
use crate::venue::v2::rest_reply::{
    Code, Msg, NoVerdict, OrderData, OrderFields, RawCode, decode_order_as, envelope, settle_named,
    text, whole_refusal,
};
use crate::venue::{
    AccountAnswer, BatchResults, BatchVerdict, CancelAllVerdict, OrderAnswer, Verdict,
};

/// An entry's own `code`: `None` for a success (absent, null, empty, `"0"`, `"00000"`), else
/// the code (a string that is not digits reads as -1: still a failure).
struct EntryCode(Option<i64>);

impl<'de> Deserialize<'de> for EntryCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(EntryCode(match RawCode::deserialize(deserializer)? {
            RawCode::Empty | RawCode::Number(0) => None,
            RawCode::Number(code) => Some(code),
            RawCode::Other => Some(-1),
        }))
    }
}

/// One order of a `cancel-batch` or `cancel-symbol-order` reply.
#[derive(Deserialize)]
struct ListEntry<'a> {
    #[serde(rename = "orderId", borrow)]
    order_id: Option<Msg<'a>>,
    #[serde(rename = "clientOid", borrow)]
    client_oid: Option<Msg<'a>>,
    #[serde(alias = "errorCode")]
    code: Option<EntryCode>,
    #[serde(alias = "errorMsg", borrow)]
    msg: Option<Msg<'a>>,
}

impl ListEntry<'_> {
    fn verdict(&self) -> Verdict {
        match self.code.as_ref().and_then(|c| c.0) {
            None => Verdict::Acked,
            Some(code) => Verdict::Rejected {
                code,
                msg: VenueMsg::new(self.msg.as_ref().map_or("", |m| &m.0)),
            },
        }
    }
}

/// `data` of a list reply: the list itself, or an object holding it under `list` (anything
/// else in it is skipped). Read into a vector: a batch is not the single cancel's path.
struct EntryList<'a>(Vec<ListEntry<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for EntryList<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<'a>(std::marker::PhantomData<&'a ()>);

        impl<'de: 'a, 'a> serde::de::Visitor<'de> for ListVisitor<'a> {
            type Value = EntryList<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of orders, or an object with one under `list`")
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
                while let Some(entry) = seq.next_element::<ListEntry<'a>>()? {
                    list.push(entry);
                }
                Ok(EntryList(list))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut list = Vec::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "list" {
                        if let Some(entries) = map.next_value::<Option<Vec<ListEntry<'a>>>>()? {
                            list = entries;
                        }
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(EntryList(list))
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(EntryList(Vec::new()))
            }
        }

        deserializer.deserialize_any(ListVisitor(std::marker::PhantomData))
    }
}

/// Reads a `cancel-batch` reply against the entries it carried (`sent`, named by `key`, in
/// the order they were sent): each entry's verdict from its own `code`, matched by the value
/// it was sent under; an entry the reply does not name stays unsettled (it goes out again).
pub(crate) fn decode_batch(
    status: u16,
    body: &[u8],
    key: BatchKey,
    sent: &[OrderRef],
) -> Result<BatchVerdict, NoVerdict> {
    let reply = envelope::<EntryList<'_>>(status, body)?;
    if let Some(Verdict::Rejected { code, msg }) = whole_refusal(status, &reply)? {
        return Ok(BatchVerdict::Refused { code, msg });
    }
    let mut results = BatchResults::unsettled(sent.len());
    for entry in reply.data.iter().flat_map(|l| l.0.iter()) {
        let named = (text(&entry.order_id), text(&entry.client_oid));
        settle_named(&mut results, sent, key, named, entry.verdict());
    }
    Ok(BatchVerdict::Entries(results))
}

/// Reads a `cancel-symbol-order` reply: taken, with the orders it lists counted into succeeded
/// and failed by their own codes (none listed: both 0; no `data`: unknown), or refused. Not
/// asynchronous: the reply lists what was cancelled (assumed, as the facts say to check each
/// entry's code).
pub(crate) fn decode_cancel_all(status: u16, body: &[u8]) -> Result<CancelAllVerdict, NoVerdict> {
    let reply = envelope::<EntryList<'_>>(status, body)?;
    if let Some(Verdict::Rejected { code, msg }) = whole_refusal(status, &reply)? {
        return Ok(CancelAllVerdict::Rejected { code, msg });
    }
    let Some(list) = reply.data else {
        return Ok(CancelAllVerdict::Acked {
            succeeded: None,
            failed: None,
        });
    };
    let failed = list
        .0
        .iter()
        .filter(|e| e.verdict() != Verdict::Acked)
        .count() as u32;
    Ok(CancelAllVerdict::Acked {
        succeeded: Some(list.0.len() as u32 - failed),
        failed: Some(failed),
    })
}

use super::codes::CLASSIC_ON_V3;
use super::encode::inst_type_of;

/// The fields of an order the final word reads from `order-info`.
#[derive(Deserialize)]
struct V3Order<'a> {
    #[serde(borrow)]
    category: Option<Msg<'a>>,
    #[serde(rename = "orderId", borrow)]
    order_id: Option<Msg<'a>>,
    #[serde(rename = "clientOid", borrow)]
    client_oid: Option<Msg<'a>>,
    #[serde(rename = "orderStatus", borrow)]
    order_status: Option<Msg<'a>>,
    #[serde(rename = "cumExecQty", borrow)]
    cum_exec_qty: Option<Msg<'a>>,
    #[serde(rename = "avgPrice", borrow)]
    avg_price: Option<Msg<'a>>,
    #[serde(rename = "cancelReason", borrow)]
    cancel_reason: Option<Msg<'a>>,
    #[serde(rename = "updatedTime")]
    updated_time: Option<Code>,
}

impl OrderData for V3Order<'_> {
    fn fields(&self, inst_type: InstType) -> OrderFields<'_> {
        OrderFields {
            inst_type: text(&self.category)
                .and_then(inst_type_of)
                .unwrap_or(inst_type),
            order_id: text(&self.order_id),
            client_oid: text(&self.client_oid),
            status: text(&self.order_status),
            filled: text(&self.cum_exec_qty),
            price_avg: text(&self.avg_price),
            cancel_reason: text(&self.cancel_reason),
            updated_ms: self.updated_time.as_ref().and_then(|c| c.0),
        }
    }
}

/// Reads the reply to `GET /api/v3/trade/order-info` for an order of `inst_type`: V2's rules,
/// the `order` topic's field names.
pub(crate) fn decode_order(
    status: u16,
    body: &[u8],
    inst_type: InstType,
) -> Result<OrderAnswer, NoVerdict> {
    decode_order_as::<V3Order<'_>>(status, body, inst_type)
}

/// Reads the reply to `GET /api/v3/account/settings`: `00000` is a unified account, 40084 a
/// classic one, anything else (another code, a 5xx, a body that is not the venue's) says
/// nothing.
pub(crate) fn decode_settings(status: u16, body: &[u8]) -> AccountAnswer {
    let Ok(reply) = envelope::<IgnoredAny>(status, body) else {
        return AccountAnswer::Unknown { status, code: None };
    };
    match reply.code.and_then(|c| c.0) {
        Some(0) if (200..300).contains(&status) => AccountAnswer::Unified,
        Some(CLASSIC_ON_V3) => AccountAnswer::Classic,
        code => AccountAnswer::Unknown { status, code },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::final_word::OrderStatus;

    fn by_id(ids: &[&str]) -> Vec<OrderRef> {
        ids.iter().map(|i| OrderRef::order_id(i).unwrap()).collect()
    }

    fn entries(verdict: BatchVerdict) -> Vec<Option<Verdict>> {
        let BatchVerdict::Entries(results) = verdict else {
            panic!("{verdict:?}")
        };
        (0..results.len()).map(|i| results.get(i)).collect()
    }

    #[test]
    fn a_batch_entry_succeeds_without_a_code_or_with_a_zero_one_and_fails_with_any_other() {
        let sent = by_id(&["1", "2", "3", "4", "5", "6"]);
        let body = br#"{"code":"00000","msg":"success","requestTime":1,"data":[
            {"orderId":"1","clientOid":"c1","code":"0","msg":"success"},
            {"orderId":"2","clientOid":"c2","code":"00000"},
            {"orderId":"3","code":""},
            {"orderId":"4"},
            {"orderId":"5","clientOid":"","code":"25204","msg":"Order does not exist"},
            {"orderId":"99","code":"0"}]}"#;
        let got = entries(decode_batch(200, body, BatchKey::OrderId, &sent).unwrap());
        assert_eq!(got[..4], [Some(Verdict::Acked); 4]);
        assert_eq!(
            got[4],
            Some(Verdict::Rejected {
                code: 25204,
                msg: VenueMsg::new("Order does not exist")
            })
        );
        assert_eq!(
            got[5], None,
            "an entry the reply does not name stays unsettled"
        );
    }

    #[test]
    fn a_batch_reply_may_wrap_its_list_and_a_client_oid_batch_matches_by_client_oid() {
        let sent = vec![
            OrderRef::client_oid("a").unwrap(),
            OrderRef::client_oid("b").unwrap(),
        ];
        let body = br#"{"code":"00000","data":{"list":[
            {"orderId":"7","clientOid":"b","errorCode":"25204","errorMsg":"gone"},
            {"orderId":"8","clientOid":"a","code":0}],"other":1}}"#;
        let got = entries(decode_batch(200, body, BatchKey::ClientOid, &sent).unwrap());
        assert_eq!(got[0], Some(Verdict::Acked));
        assert!(
            matches!(got[1], Some(Verdict::Rejected { code: 25204, .. })),
            "{got:?}"
        );
        // Matched by orderId, the same reply names neither.
        let got = entries(decode_batch(200, body, BatchKey::OrderId, &by_id(&["9"])).unwrap());
        assert_eq!(got, [None]);
        // No data at all: nothing settled.
        let got =
            entries(decode_batch(200, br#"{"code":"00000"}"#, BatchKey::OrderId, &sent).unwrap());
        assert_eq!(got, [None, None]);
    }

    #[test]
    fn a_batch_refused_as_a_whole_or_unreadable_is_no_entry_verdict() {
        let sent = by_id(&["1"]);
        assert_eq!(
            decode_batch(
                400,
                br#"{"code":"40084","msg":"Classic Account mode"}"#,
                BatchKey::OrderId,
                &sent
            ),
            Ok(BatchVerdict::Refused {
                code: 40084,
                msg: VenueMsg::new("Classic Account mode")
            })
        );
        assert!(decode_batch(502, b"bad gateway", BatchKey::OrderId, &sent).is_err());
        assert!(decode_batch(200, b"[not json", BatchKey::OrderId, &sent).is_err());
    }

    #[test]
    fn a_cancel_all_counts_its_list_by_each_entrys_code() {
        let body = br#"{"code":"00000","msg":"success","data":{"list":[
            {"orderId":"1","clientOid":"a","code":"0"},{"orderId":"2"},
            {"orderId":"3","code":"25204","msg":"Order does not exist"}]}}"#;
        assert_eq!(
            decode_cancel_all(200, body),
            Ok(CancelAllVerdict::Acked {
                succeeded: Some(2),
                failed: Some(1)
            })
        );
        assert_eq!(
            decode_cancel_all(
                200,
                br#"{"code":"00000","data":[{"orderId":"1","code":"00000"}]}"#
            ),
            Ok(CancelAllVerdict::Acked {
                succeeded: Some(1),
                failed: Some(0)
            })
        );
        assert_eq!(
            decode_cancel_all(200, br#"{"code":"00000","data":{"list":[]}}"#),
            Ok(CancelAllVerdict::Acked {
                succeeded: Some(0),
                failed: Some(0)
            })
        );
        assert_eq!(
            decode_cancel_all(200, br#"{"code":"00000","data":null}"#),
            Ok(CancelAllVerdict::Acked {
                succeeded: None,
                failed: None
            })
        );
        assert_eq!(
            decode_cancel_all(429, br#"{"code":"429","msg":"Too Many Requests"}"#),
            Ok(CancelAllVerdict::Rejected {
                code: 429,
                msg: VenueMsg::new("Too Many Requests")
            })
        );
    }

    #[test]
    fn the_settings_code_says_which_account_and_nothing_else_decides() {
        assert_eq!(
            decode_settings(
                200,
                br#"{"code":"00000","msg":"success","data":{"accountMode":"unified"}}"#
            ),
            AccountAnswer::Unified
        );
        assert_eq!(
            decode_settings(400, br#"{"code":"40084","msg":"classic"}"#),
            AccountAnswer::Classic
        );
        assert_eq!(
            decode_settings(404, b"<html>"),
            AccountAnswer::Unknown {
                status: 404,
                code: None
            }
        );
        assert_eq!(
            decode_settings(400, br#"{"code":"40009","msg":"sign"}"#),
            AccountAnswer::Unknown {
                status: 400,
                code: Some(40009)
            }
        );
        assert_eq!(
            decode_settings(500, b"{}"),
            AccountAnswer::Unknown {
                status: 500,
                code: None
            }
        );
    }

    #[test]
    fn an_order_reads_the_order_topic_fields() {
        let body = br#"{"code":"00000","msg":"success","data":{"category":"usdt-futures","orderId":"7","clientOid":"c","orderStatus":"partially_filled","cumExecQty":"0.5","avgPrice":"10","cancelReason":"","updatedTime":"12"}}"#;
        let Ok(OrderAnswer::Found(order)) = decode_order(200, body, InstType::Spot) else {
            panic!()
        };
        assert_eq!(order.inst_type, Some(InstType::UsdtFutures));
        assert_eq!(order.status, OrderStatus::PartiallyFilled);
        assert_eq!(order.filled.unwrap().as_str(), "0.5");
        assert_eq!(order.updated_ms, Some(12));
        assert_eq!(
            decode_order(
                400,
                br#"{"code":"25204","msg":"Order does not exist"}"#,
                InstType::Spot
            ),
            Ok(OrderAnswer::NotFound { code: 25204 })
        );
    }
}
