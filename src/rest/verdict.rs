//! The venue's JSON reply to a REST request, read into a verdict (the reading itself is the
//! V2 dialect's, in the venue seam).
//!
//! `{"code":"00000","msg":"success","requestTime":...,"data":{...}}` with a 2xx status is an
//! ack; any other `code` (a string over REST; a number is accepted too) is a rejection, whatever
//! the status (the venue sends its refusals with 4xx). A 5xx status, or a body that is not that
//! JSON, carries no verdict: the request failed and the order's fate is unknown.

use crate::venue::v2::rest_reply::{self, NoVerdict};
pub use crate::venue::{BatchResults, BatchVerdict, CancelAllVerdict, OrderAnswer, Verdict};

use super::RestError;

impl From<NoVerdict> for RestError {
    fn from(no: NoVerdict) -> Self {
        match no {
            NoVerdict::ServerError { status } => RestError::ServerError { status },
            NoVerdict::BadReply { status, reason } => RestError::BadReply { status, reason },
        }
    }
}

/// Reads a cancel reply (status and body) into a [`Verdict`].
///
/// ```
/// use bitget_cancel::rest::{decode_verdict, Verdict, RestError};
///
/// let ack = br#"{"code":"00000","msg":"success","requestTime":1,"data":{"orderId":"1","clientOid":"c"}}"#;
/// assert_eq!(decode_verdict(200, ack)?, Verdict::Acked);
///
/// let gone = br#"{"code":"43001","msg":"The order does not exist","requestTime":1,"data":null}"#;
/// let Verdict::Rejected { code, msg } = decode_verdict(400, gone)? else { unreachable!() };
/// assert_eq!((code, msg.as_str()), (43001, "The order does not exist"));
///
/// assert!(matches!(decode_verdict(502, b"<html>"), Err(RestError::ServerError { status: 502 })));
/// # Ok::<(), RestError>(())
/// ```
pub fn decode_verdict(status: u16, body: &[u8]) -> Result<Verdict, RestError> {
    rest_reply::decode_verdict(status, body).map_err(RestError::from)
}

/// Reads `GET /api/v2/public/time`'s reply: `data.serverTime`, Unix milliseconds (a string of
/// digits or a number).
///
/// ```
/// let body = br#"{"code":"00000","msg":"success","data":{"serverTime":"1688008631614"}}"#;
/// assert_eq!(bitget_cancel::rest::decode_server_time(200, body)?, 1_688_008_631_614);
/// # Ok::<(), bitget_cancel::rest::RestError>(())
/// ```
pub fn decode_server_time(status: u16, body: &[u8]) -> Result<i64, RestError> {
    rest_reply::decode_server_time(status, body).map_err(RestError::from)
}

/// Reads an order query's reply (spot `orderInfo` answers a list of one order, futures
/// `order/detail` one object) for an order of `inst_type`: where it stands, or that the venue
/// does not know it, or a refusal.
///
/// ```
/// use bitget_cancel::InstType;
/// use bitget_cancel::final_word::OrderStatus;
/// use bitget_cancel::rest::{decode_order, OrderAnswer};
///
/// let body = br#"{"code":"00000","data":[{"orderId":"1","status":"cancelled","baseVolume":"0.5"}]}"#;
/// let OrderAnswer::Found(order) = decode_order(200, body, InstType::Spot)? else { unreachable!() };
/// assert_eq!((order.status, order.filled.unwrap().as_str()), (OrderStatus::Cancelled, "0.5"));
///
/// let gone = br#"{"code":"43001","msg":"The order does not exist"}"#;
/// assert_eq!(decode_order(400, gone, InstType::Spot)?, OrderAnswer::NotFound { code: 43001 });
/// # Ok::<(), bitget_cancel::rest::RestError>(())
/// ```
pub fn decode_order(
    status: u16,
    body: &[u8],
    inst_type: crate::InstType,
) -> Result<OrderAnswer, RestError> {
    rest_reply::decode_order(status, body, inst_type).map_err(RestError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::VenueMsg;

    #[test]
    fn code_zero_as_string_or_number_is_an_ack() {
        assert_eq!(
            decode_verdict(200, br#"{"code":"00000","msg":"success"}"#),
            Ok(Verdict::Acked)
        );
        assert_eq!(decode_verdict(200, br#"{"code":0}"#), Ok(Verdict::Acked));
    }

    #[test]
    fn a_refusal_keeps_the_venues_code_and_message_under_any_client_error_status() {
        for (status, body, code, msg) in [
            (
                400,
                &br#"{"code":"40009","msg":"sign signature error"}"#[..],
                40009,
                "sign signature error",
            ),
            (
                404,
                br#"{"code":"40404","msg":"Request URL NOT FOUND"}"#,
                40404,
                "Request URL NOT FOUND",
            ),
            (
                200,
                br#"{"code":40768,"msg":"Order does not exist"}"#,
                40768,
                "Order does not exist",
            ),
            (400, br#"{"code":"43001"}"#, 43001, ""),
        ] {
            assert_eq!(
                decode_verdict(status, body),
                Ok(Verdict::Rejected {
                    code,
                    msg: VenueMsg::new(msg)
                }),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn an_escaped_message_is_unescaped() {
        assert_eq!(
            decode_verdict(400, br#"{"code":"40001","msg":"a \"quoted\" \u00e9"}"#),
            Ok(Verdict::Rejected {
                code: 40001,
                msg: VenueMsg::new("a \"quoted\" \u{e9}")
            })
        );
    }

    #[test]
    fn no_verdict_without_the_venues_json_or_under_a_server_error() {
        for (status, body) in [
            (503, &br#"{"code":"00000"}"#[..]),
            (200, b"<html>hello</html>"),
            (200, br#"{"msg":"no code"}"#),
            (200, br#"{"code":"abc"}"#),
            (200, br#"{"code":null}"#),
            (400, br#"{"code":"00000"}"#),
            (302, br#"{"code":"40001"}"#),
            (200, b""),
        ] {
            assert!(
                decode_verdict(status, body).is_err(),
                "{status} {}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn server_time_reads_strings_and_numbers_and_refuses_the_rest() {
        assert_eq!(
            decode_server_time(
                200,
                br#"{"code":"00000","data":{"serverTime":1688008631614}}"#
            ),
            Ok(1_688_008_631_614)
        );
        assert!(decode_server_time(200, br#"{"code":"00000","data":{}}"#).is_err());
        assert!(decode_server_time(400, br#"{"code":"40001","data":{"serverTime":"1"}}"#).is_err());
    }
}
