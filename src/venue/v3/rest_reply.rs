//! The V3 venue's JSON replies to REST requests: the envelope is V2's (`code` `"00000"` on
//! success, a string code otherwise), so a cancel's and the countdown's verdicts are read by
//! V2's rules; the order query's `data` carries the `order` topic's fields, and the account
//! settings' code says which account the key belongs to.

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::intent::InstType;
use crate::venue::v2::rest_reply::{
    Code, Msg, NoVerdict, OrderData, OrderFields, decode_order_as, envelope, text,
};
use crate::venue::{AccountAnswer, OrderAnswer};

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
