//! Request encoding: cancel and login JSON appended to a caller-owned buffer.

use crate::intent::{Cancel, ClientOid, InstId, InstType, OrderId, RequestId};

use super::sign::SIGN_LEN;
use crate::venue::decimal::{MAX_U64_DIGITS, write_decimal};

/// The keepalive text the client sends at least every 30 seconds; the venue answers `pong`.
pub const PING: &[u8] = b"ping";

// The cancel request, in the order the pieces are written:
// {"op":"trade","args":[{"id":"<id>","instType":"<type>","instId":"<symbol>",
//  "channel":"cancel-order","params":{"orderId":"<n>","clientOid":"<c>"}}]}
const CANCEL_ID: &[u8] = br#"{"op":"trade","args":[{"id":""#;
const CANCEL_INST_TYPE: &[u8] = br#"","instType":""#;
const CANCEL_INST_ID: &[u8] = br#"","instId":""#;
const CANCEL_PARAMS: &[u8] = br#"","channel":"cancel-order","params":{"#;
const ORDER_ID_KEY: &[u8] = br#""orderId":""#;
const CLIENT_OID_KEY: &[u8] = br#""clientOid":""#;
const CANCEL_END: &[u8] = br#"}}]}"#;

/// The longest wire spelling of an [`InstType`].
const LONGEST_INST_TYPE: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < InstType::ALL.len() {
        let len = InstType::ALL[i].as_str().len();
        if len > longest {
            longest = len;
        }
        i += 1;
    }
    longest
};

/// The length of the longest cancel request [`encode_cancel`] can write: a 40-character id, the
/// longest `instType`, a 32-character `instId`, and both a 32-digit `orderId` and a
/// 64-character `clientOid`.
///
/// With this much spare capacity in the buffer, [`encode_cancel`] never allocates.
pub const MAX_CANCEL_LEN: usize = CANCEL_ID.len()
    + RequestId::MAX_LEN
    + CANCEL_INST_TYPE.len()
    + LONGEST_INST_TYPE
    + CANCEL_INST_ID.len()
    + InstId::MAX_LEN
    + CANCEL_PARAMS.len()
    + ORDER_ID_KEY.len()
    + OrderId::MAX_LEN
    + 1 // closing quote
    + 1 // comma between orderId and clientOid
    + CLIENT_OID_KEY.len()
    + ClientOid::MAX_LEN
    + 1 // closing quote
    + CANCEL_END.len();

/// Appends the subscription to the private `orders` channel for every symbol (`instId`
/// `default`) of each product line in `inst_types` to `out`, and returns how many `args` it
/// has: the venue acknowledges each one on its own.
///
/// ```
/// use bitget_cancel::InstType;
/// use bitget_cancel::protocol::encode_subscribe;
///
/// let mut out = Vec::new();
/// assert_eq!(encode_subscribe(&mut out, &[InstType::Spot, InstType::UsdtFutures]), 2);
/// assert_eq!(
///     out,
///     br#"{"op":"subscribe","args":[{"instType":"SPOT","channel":"orders","instId":"default"},{"instType":"USDT-FUTURES","channel":"orders","instId":"default"}]}"#
/// );
/// ```
pub fn encode_subscribe(out: &mut Vec<u8>, inst_types: &[InstType]) -> usize {
    out.extend_from_slice(br#"{"op":"subscribe","args":["#);
    for (i, inst_type) in inst_types.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"instType":""#);
        out.extend_from_slice(inst_type.as_str().as_bytes());
        out.extend_from_slice(br#"","channel":"orders","instId":"default"}"#);
    }
    out.extend_from_slice(b"]}");
    inst_types.len()
}

/// Appends the cancel request for `cancel` under request id `id` to `out`, leaving what is
/// already in `out` as it is.
///
/// `id` is written instead of `cancel.id` (a label of the caller's): the engine sends its own
/// wire ids. The
/// parameters are `orderId`, `clientOid`, or both (the venue then goes by `orderId`). Never
/// allocates when `out` has [`MAX_CANCEL_LEN`] bytes of spare capacity.
///
/// ```
/// use bitget_cancel::protocol::{encode_cancel, MAX_CANCEL_LEN};
/// use bitget_cancel::{Cancel, InstId, InstType, OrderRef, RequestId};
///
/// let cancel = Cancel::new(
///     InstType::Spot,
///     InstId::new("BTCUSDT")?,
///     OrderRef::order_id("1376695893517410304")?,
/// );
/// let mut out = Vec::with_capacity(MAX_CANCEL_LEN);
/// encode_cancel(&mut out, &RequestId::new("1")?, &cancel);
/// assert_eq!(
///     out,
///     br#"{"op":"trade","args":[{"id":"1","instType":"SPOT","instId":"BTCUSDT","channel":"cancel-order","params":{"orderId":"1376695893517410304"}}]}"#
/// );
/// # Ok::<(), bitget_cancel::InvalidField>(())
/// ```
pub fn encode_cancel(out: &mut Vec<u8>, id: &RequestId, cancel: &Cancel) {
    let parts = CancelParts::new(id, cancel);
    out.reserve(parts.len());
    out.extend_from_slice(CANCEL_ID);
    out.extend_from_slice(parts.id);
    out.extend_from_slice(CANCEL_INST_TYPE);
    out.extend_from_slice(parts.inst_type);
    out.extend_from_slice(CANCEL_INST_ID);
    out.extend_from_slice(parts.inst_id);
    out.extend_from_slice(CANCEL_PARAMS);
    if let Some(order_id) = parts.order_id {
        out.extend_from_slice(ORDER_ID_KEY);
        out.extend_from_slice(order_id);
        out.push(b'"');
        if parts.client_oid.is_some() {
            out.push(b',');
        }
    }
    if let Some(client_oid) = parts.client_oid {
        out.extend_from_slice(CLIENT_OID_KEY);
        out.extend_from_slice(client_oid);
        out.push(b'"');
    }
    out.extend_from_slice(CANCEL_END);
}

/// The variable parts of a cancel request, each read out of its validated type once.
struct CancelParts<'a> {
    id: &'a [u8],
    inst_type: &'a [u8],
    inst_id: &'a [u8],
    order_id: Option<&'a [u8]>,
    client_oid: Option<&'a [u8]>,
}

impl<'a> CancelParts<'a> {
    fn new(id: &'a RequestId, cancel: &'a Cancel) -> Self {
        CancelParts {
            id: id.as_str().as_bytes(),
            inst_type: cancel.inst_type.as_str().as_bytes(),
            inst_id: cancel.inst_id.as_str().as_bytes(),
            order_id: cancel.order.get_order_id().map(|o| o.as_str().as_bytes()),
            client_oid: cancel.order.get_client_oid().map(|c| c.as_str().as_bytes()),
        }
    }

    /// The exact length of the request: one reservation instead of several growths when the
    /// caller's buffer is short, and none when it is not.
    fn len(&self) -> usize {
        let order_id = self
            .order_id
            .map_or(0, |o| ORDER_ID_KEY.len() + o.len() + 1);
        let client_oid = self
            .client_oid
            .map_or(0, |c| CLIENT_OID_KEY.len() + c.len() + 1);
        let comma = usize::from(self.order_id.is_some() && self.client_oid.is_some());
        CANCEL_ID.len()
            + self.id.len()
            + CANCEL_INST_TYPE.len()
            + self.inst_type.len()
            + CANCEL_INST_ID.len()
            + self.inst_id.len()
            + CANCEL_PARAMS.len()
            + order_id
            + comma
            + client_oid
            + CANCEL_END.len()
    }
}

// {"op":"login","args":[{"apiKey":"<key>","passphrase":"<pass>","timestamp":"<s>","sign":"<b64>"}]}
const LOGIN_API_KEY: &[u8] = br#"{"op":"login","args":[{"apiKey":""#;
const LOGIN_PASSPHRASE: &[u8] = br#"","passphrase":""#;
const LOGIN_TIMESTAMP: &[u8] = br#"","timestamp":""#;
const LOGIN_SIGN: &[u8] = br#"","sign":""#;
const LOGIN_END: &[u8] = br#""}]}"#;

/// An upper bound on the length of the login request for these credentials: with this much
/// spare capacity in the buffer, [`encode_login`] never allocates.
///
/// ```
/// use bitget_cancel::protocol::{encode_login, max_login_len, sign_login};
///
/// let mut out = Vec::new();
/// encode_login(&mut out, "key", "pass", 1538054050, &sign_login(b"secret", 1538054050))?;
/// assert!(out.len() <= max_login_len("key", "pass"));
/// # Ok::<(), bitget_cancel::protocol::EncodeError>(())
/// ```
pub fn max_login_len(api_key: &str, passphrase: &str) -> usize {
    LOGIN_API_KEY.len()
        + api_key.len()
        + LOGIN_PASSPHRASE.len()
        + passphrase.len()
        + LOGIN_TIMESTAMP.len()
        + MAX_U64_DIGITS
        + LOGIN_SIGN.len()
        + SIGN_LEN
        + LOGIN_END.len()
}

/// A login request that cannot be written: names the field and the rule it broke, never the
/// value (the field may be a secret). Fix the configured credential; retrying will not help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode the login request: {field} {rule}")]
pub struct EncodeError {
    /// The field as the venue names it: `apiKey`, `passphrase` or `sign`.
    pub field: &'static str,
    /// The rule the value broke.
    pub rule: &'static str,
}

const CREDENTIAL_EMPTY: &str = "must not be empty";
const CREDENTIAL_CHARSET: &str = "must be printable ASCII without '\"' or '\\'";
const SIGN_CHARSET: &str = "must be 44 base64 characters, as sign_login returns";

/// Appends the login request to `out`, leaving what is already in `out` as it is.
///
/// `timestamp_s` is Unix time in whole seconds (the venue rejects it 30 s later) and `sign` is
/// [`sign_login`](super::sign_login) of the same timestamp. `api_key` and `passphrase` must be
/// non-empty printable ASCII without `"` or `\`, so they can be written without escaping; a value
/// that breaks the rule is refused before anything is written, and the error does not echo it.
/// Never allocates when `out` has [`max_login_len`] bytes of spare capacity.
///
/// ```
/// use bitget_cancel::protocol::{encode_login, sign_login};
///
/// let timestamp_s = 1538054050;
/// let sign = sign_login(b"22582BD0CFF14C41EDBF1AB98506286D", timestamp_s);
/// let mut out = Vec::new();
/// encode_login(&mut out, "my-key", "my-passphrase", timestamp_s, &sign)?;
/// assert_eq!(
///     out,
///     br#"{"op":"login","args":[{"apiKey":"my-key","passphrase":"my-passphrase","timestamp":"1538054050","sign":"/4S0C3L8mGdm8894ulf8wfnQ6dqMXO8Iw95zlvMN8Zw="}]}"#
/// );
///
/// let refused = encode_login(&mut out, "my-key", "pass\"phrase", timestamp_s, &sign).unwrap_err();
/// assert_eq!(refused.field, "passphrase");
/// assert!(!refused.to_string().contains("phrase\""));
/// # Ok::<(), bitget_cancel::protocol::EncodeError>(())
/// ```
pub fn encode_login(
    out: &mut Vec<u8>,
    api_key: &str,
    passphrase: &str,
    timestamp_s: u64,
    sign: &[u8; SIGN_LEN],
) -> Result<(), EncodeError> {
    check_credential(api_key, "apiKey")?;
    check_credential(passphrase, "passphrase")?;
    if !sign.iter().all(|&b| is_base64_byte(b)) {
        return Err(EncodeError {
            field: "sign",
            rule: SIGN_CHARSET,
        });
    }
    let mut digits = [0u8; MAX_U64_DIGITS];
    let timestamp = write_decimal(timestamp_s, &mut digits);

    out.reserve(max_login_len(api_key, passphrase) - (MAX_U64_DIGITS - timestamp.len()));
    out.extend_from_slice(LOGIN_API_KEY);
    out.extend_from_slice(api_key.as_bytes());
    out.extend_from_slice(LOGIN_PASSPHRASE);
    out.extend_from_slice(passphrase.as_bytes());
    out.extend_from_slice(LOGIN_TIMESTAMP);
    out.extend_from_slice(timestamp);
    out.extend_from_slice(LOGIN_SIGN);
    out.extend_from_slice(sign);
    out.extend_from_slice(LOGIN_END);
    Ok(())
}

fn check_credential(value: &str, field: &'static str) -> Result<(), EncodeError> {
    if value.is_empty() {
        return Err(EncodeError {
            field,
            rule: CREDENTIAL_EMPTY,
        });
    }
    let json_safe = |b: &u8| matches!(b, b' '..=b'~') && !matches!(b, b'"' | b'\\');
    if !value.as_bytes().iter().all(json_safe) {
        return Err(EncodeError {
            field,
            rule: CREDENTIAL_CHARSET,
        });
    }
    Ok(())
}

fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::OrderRef;
    use crate::venue::v2::sign_login;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    const DOCUMENTED_CANCEL: &str = r#"{"op":"trade","args":[{"id":"1","instType":"SPOT","instId":"BTCUSDT","channel":"cancel-order","params":{"orderId":"1376695893517410304"}}]}"#;

    fn cancel(inst_type: InstType, inst_id: &str, order: OrderRef) -> Cancel {
        Cancel::new(inst_type, InstId::new(inst_id).unwrap(), order)
    }

    fn encode(id: &str, cancel: &Cancel) -> Vec<u8> {
        let mut out = Vec::new();
        encode_cancel(&mut out, &RequestId::new(id).unwrap(), cancel);
        out
    }

    fn order_refs() -> [(OrderRef, Value); 3] {
        [
            (
                OrderRef::order_id("1376695893517410304").unwrap(),
                json!({"orderId": "1376695893517410304"}),
            ),
            (
                OrderRef::client_oid("my-order_1:#+.x").unwrap(),
                json!({"clientOid": "my-order_1:#+.x"}),
            ),
            (
                OrderRef::from_parts(Some("42"), Some("c-42")).unwrap(),
                json!({"orderId": "42", "clientOid": "c-42"}),
            ),
        ]
    }

    #[test]
    fn cancel_matches_the_documented_example_byte_for_byte() {
        let spot = cancel(
            InstType::Spot,
            "BTCUSDT",
            OrderRef::order_id("1376695893517410304").unwrap(),
        );
        assert_eq!(
            String::from_utf8(encode("1", &spot)).unwrap(),
            DOCUMENTED_CANCEL
        );
    }

    #[test]
    fn cancel_parses_into_the_documented_shape_for_every_inst_type_and_order_ref() {
        for inst_type in InstType::ALL {
            for (order, params) in order_refs() {
                let encoded = encode("abc 1_2:3#4-5+6", &cancel(inst_type, "ETHUSDT", order));
                let parsed: Value = serde_json::from_slice(&encoded).unwrap();
                let expected = json!({
                    "op": "trade",
                    "args": [{
                        "id": "abc 1_2:3#4-5+6",
                        "instType": inst_type.as_str(),
                        "instId": "ETHUSDT",
                        "channel": "cancel-order",
                        "params": params,
                    }]
                });
                assert_eq!(parsed, expected, "{inst_type:?}");
            }
        }
    }

    #[test]
    fn cancel_writes_order_id_before_client_oid_when_both_are_given() {
        let both = cancel(
            InstType::UsdtFutures,
            "BTCUSDT",
            OrderRef::from_parts(Some("7"), Some("c")).unwrap(),
        );
        let encoded = String::from_utf8(encode("9", &both)).unwrap();
        assert!(
            encoded.ends_with(r#""params":{"orderId":"7","clientOid":"c"}}]}"#),
            "{encoded}"
        );
    }

    #[test]
    fn cancel_appends_and_keeps_what_the_buffer_already_holds() {
        let spot = cancel(
            InstType::Spot,
            "BTCUSDT",
            OrderRef::order_id("1376695893517410304").unwrap(),
        );
        let mut out = b"prefix".to_vec();
        encode_cancel(&mut out, &RequestId::new("1").unwrap(), &spot);
        encode_cancel(&mut out, &RequestId::new("1").unwrap(), &spot);
        let expected = format!("prefix{DOCUMENTED_CANCEL}{DOCUMENTED_CANCEL}");
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn max_cancel_len_is_exactly_the_longest_possible_cancel() {
        let longest_type = InstType::ALL
            .into_iter()
            .max_by_key(|t| t.as_str().len())
            .unwrap();
        let longest = Cancel::new(
            longest_type,
            InstId::new(&"Z".repeat(InstId::MAX_LEN)).unwrap(),
            OrderRef::from_parts(
                Some(&"9".repeat(OrderId::MAX_LEN)),
                Some(&"x".repeat(ClientOid::MAX_LEN)),
            )
            .unwrap(),
        );
        let encoded = encode(&"i".repeat(RequestId::MAX_LEN), &longest);
        assert_eq!(encoded.len(), MAX_CANCEL_LEN);
        serde_json::from_slice::<Value>(&encoded).unwrap();
    }

    #[test]
    fn cancel_never_reallocates_a_buffer_with_max_cancel_len_spare() {
        let longest = Cancel::new(
            InstType::UsdcFutures,
            InstId::new(&"Z".repeat(InstId::MAX_LEN)).unwrap(),
            OrderRef::from_parts(
                Some(&"9".repeat(OrderId::MAX_LEN)),
                Some(&"x".repeat(ClientOid::MAX_LEN)),
            )
            .unwrap(),
        );
        let mut out = Vec::with_capacity(3 + MAX_CANCEL_LEN);
        out.extend_from_slice(b"abc");
        let (ptr, capacity) = (out.as_ptr(), out.capacity());
        encode_cancel(
            &mut out,
            &RequestId::new(&"i".repeat(40)).unwrap(),
            &longest,
        );
        assert_eq!((out.as_ptr(), out.capacity()), (ptr, capacity));
        assert_eq!(out.len(), 3 + MAX_CANCEL_LEN);
    }

    #[test]
    fn login_parses_into_the_documented_shape() {
        let sign = sign_login(b"22582BD0CFF14C41EDBF1AB98506286D", 1538054050);
        let mut out = Vec::new();
        encode_login(&mut out, "bg_0123abc", "pass phrase!~", 1538054050, &sign).unwrap();
        let parsed: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            parsed,
            json!({
                "op": "login",
                "args": [{
                    "apiKey": "bg_0123abc",
                    "passphrase": "pass phrase!~",
                    "timestamp": "1538054050",
                    "sign": "/4S0C3L8mGdm8894ulf8wfnQ6dqMXO8Iw95zlvMN8Zw=",
                }]
            })
        );
        assert!(out.len() <= max_login_len("bg_0123abc", "pass phrase!~"));
    }

    #[test]
    fn login_timestamp_is_whole_seconds_as_a_decimal_string() {
        let sign = sign_login(b"s", 0);
        for timestamp_s in [0, 9, 10, 1538054050, u64::MAX] {
            let mut out = Vec::new();
            encode_login(&mut out, "k", "p", timestamp_s, &sign).unwrap();
            let parsed: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(parsed["args"][0]["timestamp"], timestamp_s.to_string());
            let unused_digits = MAX_U64_DIGITS - timestamp_s.to_string().len();
            assert_eq!(out.len(), max_login_len("k", "p") - unused_digits);
        }
    }

    #[test]
    fn login_refuses_credentials_that_could_break_json_without_echoing_them() {
        let sign = sign_login(b"s", 1);
        let bad_values = [
            "",
            "se\"cret",
            "se\\cret",
            "se\ncret",
            "se\u{7f}cret",
            "séécret",
            "se\tcret",
        ];
        for bad in bad_values {
            for (key, pass, field) in [(bad, "ok", "apiKey"), ("ok", bad, "passphrase")] {
                let mut out = b"kept".to_vec();
                let err = encode_login(&mut out, key, pass, 1, &sign).unwrap_err();
                assert_eq!(err.field, field, "{bad:?}");
                let shown = format!("{err} {err:?}");
                assert!(shown.contains(field));
                if !bad.is_empty() {
                    assert!(!shown.contains(bad), "{shown}");
                    assert!(!shown.contains("cret"), "{shown}");
                }
                assert_eq!(out, b"kept", "nothing is written when refused");
            }
        }
    }

    #[test]
    fn login_refuses_a_sign_that_is_not_base64() {
        let mut sign = sign_login(b"s", 1);
        sign[3] = b'"';
        let err = encode_login(&mut Vec::new(), "k", "p", 1, &sign).unwrap_err();
        assert_eq!(err.field, "sign");
    }

    #[test]
    fn ping_is_the_four_byte_text() {
        assert_eq!(PING, b"ping");
    }

    proptest! {
        #[test]
        fn any_valid_cancel_encodes_to_json_naming_its_fields(
            id in "[0-9A-Za-z_:#+ -]{1,40}",
            type_index in 0usize..4,
            inst_id in "[A-Z0-9]{1,32}",
            order_id in proptest::option::of("[0-9]{1,32}"),
            client_oid in proptest::option::of("[0-9A-Za-z_:#+.-]{1,64}"),
        ) {
            prop_assume!(order_id.is_some() || client_oid.is_some());
            let order = OrderRef::from_parts(order_id.as_deref(), client_oid.as_deref()).unwrap();
            let inst_type = InstType::ALL[type_index];
            let encoded = encode(&id, &cancel(inst_type, &inst_id, order));
            prop_assert!(encoded.len() <= MAX_CANCEL_LEN);
            let request_id = RequestId::new(&id).unwrap();
            let intent = cancel(inst_type, &inst_id, order);
            prop_assert_eq!(encoded.len(), CancelParts::new(&request_id, &intent).len());
            let parsed: Value = serde_json::from_slice(&encoded).unwrap();
            let arg = &parsed["args"][0];
            prop_assert_eq!(&arg["id"], &json!(id));
            prop_assert_eq!(&arg["instType"], &json!(inst_type.as_str()));
            prop_assert_eq!(&arg["instId"], &json!(inst_id));
            prop_assert_eq!(arg["params"].get("orderId").and_then(Value::as_str), order_id.as_deref());
            prop_assert_eq!(arg["params"].get("clientOid").and_then(Value::as_str), client_oid.as_deref());
        }
    }
}
