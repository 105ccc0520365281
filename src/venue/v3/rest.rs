//! V3 REST requests, written into buffers the caller owns and reuses: the cancel
//! (`POST /api/v3/trade/cancel-order`), the batch cancel (`POST /api/v3/trade/cancel-batch`),
//! the cancel-all (`POST /api/v3/trade/cancel-symbol-order`), the order query
//! (`GET /api/v3/trade/order-info`), the account's mode (`GET /api/v3/account/settings`) and
//! the dead man's switch (`POST /api/v3/trade/countdown-cancel-all`). Signed like V2's; the
//! keep-warm clock request is V2's public one. REST categories are uppercase (`SPOT`,
//! `USDT-FUTURES`, ...: [`InstType::as_str`]), unlike the WebSocket's.

use crate::intent::{Cancel, CancelAll, InstId, InstType, OrderRef};
use crate::venue::RestSigner as Signer;
use crate::venue::decimal::write_decimal;
use crate::venue::v2::rest::{
    BatchKey, encode_batch_entries, encode_order_key_query, encode_signed_get, encode_signed_post,
};

/// The most orders one `cancel-batch` carries: 20, as the WebSocket's `batch-cancel`.
use super::encode::MAX_BATCH;

/// The cancel endpoint, every category.
pub const CANCEL_PATH: &str = "/api/v3/trade/cancel-order";
/// The order query.
pub const ORDER_INFO_PATH: &str = "/api/v3/trade/order-info";
/// The account's settings: answers a unified account's key, refuses a classic one (40084).
pub const SETTINGS_PATH: &str = "/api/v3/account/settings";
/// The dead man's switch.
pub const COUNTDOWN_PATH: &str = "/api/v3/trade/countdown-cancel-all";

/// The batch cancel, every category (5 requests/s per account, one counter for all).
pub const CANCEL_BATCH_PATH: &str = "/api/v3/trade/cancel-batch";
/// The cancel-all of a category, or of one symbol in it (5 requests/s per account).
pub const CANCEL_SYMBOL_PATH: &str = "/api/v3/trade/cancel-symbol-order";

/// `cancel-batch` requests per second and account: one counter for every category.
pub(crate) const BATCHES_PER_SECOND: u32 = 5;

/// `cancel-symbol-order` requests per second and account, every category.
pub(crate) const CANCEL_ALLS_PER_SECOND: u32 = 5;

/// The longest `cancel-batch` body: [`MAX_BATCH`] client order ids of the longest kind, each
/// with the longest category and symbol.
pub const MAX_BATCH_BODY_LEN: usize = "[]".len()
    + MAX_BATCH
        * (r#"{"clientOid":"","category":"","symbol":""},"#.len()
            + crate::intent::ClientOid::MAX_LEN
            + "USDT-FUTURES".len()
            + InstId::MAX_LEN);

/// Appends the body of a `cancel-batch` of `orders` (at most [`MAX_BATCH`], each with a value
/// under `key`; the caller groups them) on `inst_type` / `symbol`: a bare JSON list whose
/// entries each carry the order's id (`orderId`, or `clientOid`: never both kinds in one
/// request), the uppercase REST `category` and the `symbol`. An order without a value under
/// `key` is skipped.
///
/// The facts name the entries' fields and the limit of 20, not the body's outer shape: a bare
/// list is how one public client sends it (assumed).
///
/// ```
/// use bitget_cancel::protocol::v3::encode_rest_batch_body;
/// use bitget_cancel::rest::BatchKey;
/// use bitget_cancel::{InstId, InstType, OrderRef};
///
/// let orders = [OrderRef::order_id("1")?, OrderRef::from_parts(Some("2"), Some("c-2"))?];
/// let mut body = Vec::new();
/// encode_rest_batch_body(&mut body, InstType::Spot, &InstId::new("BTCUSDT")?, BatchKey::OrderId, orders.iter());
/// assert_eq!(
///     body,
///     br#"[{"orderId":"1","category":"SPOT","symbol":"BTCUSDT"},{"orderId":"2","category":"SPOT","symbol":"BTCUSDT"}]"#
/// );
/// # Ok::<(), bitget_cancel::InvalidField>(())
/// ```
pub fn encode_rest_batch_body<'a>(
    out: &mut Vec<u8>,
    inst_type: InstType,
    symbol: &InstId,
    key: BatchKey,
    orders: impl Iterator<Item = &'a OrderRef>,
) {
    out.push(b'[');
    encode_batch_entries(out, key, orders, |out| {
        out.extend_from_slice(br#","category":""#);
        out.extend_from_slice(inst_type.as_str().as_bytes());
        out.extend_from_slice(br#"","symbol":""#);
        out.extend_from_slice(symbol.as_str().as_bytes());
        out.push(b'"');
    });
    out.push(b']');
}

/// Appends the body of a `cancel-symbol-order`: `{"category":"USDT-FUTURES"}`, with
/// `"symbol"` for one symbol (a spot cancel-all always has one: [`CancelAll::new`]).
///
/// ```
/// use bitget_cancel::protocol::v3::encode_rest_cancel_all_body;
/// use bitget_cancel::{CancelAll, InstId, InstType};
///
/// let mut body = Vec::new();
/// encode_rest_cancel_all_body(&mut body, &CancelAll::new(InstType::UsdtFutures, None)?);
/// assert_eq!(body, br#"{"category":"USDT-FUTURES"}"#);
/// body.clear();
/// encode_rest_cancel_all_body(&mut body, &CancelAll::new(InstType::Spot, Some(InstId::new("ETHUSDT")?))?);
/// assert_eq!(body, br#"{"category":"SPOT","symbol":"ETHUSDT"}"#);
/// # Ok::<(), bitget_cancel::InvalidField>(())
/// ```
pub fn encode_rest_cancel_all_body(out: &mut Vec<u8>, all: &CancelAll) {
    out.extend_from_slice(br#"{"category":""#);
    out.extend_from_slice(all.inst_type.as_str().as_bytes());
    out.push(b'"');
    if let Some(symbol) = &all.inst_id {
        out.extend_from_slice(br#","symbol":""#);
        out.extend_from_slice(symbol.as_str().as_bytes());
        out.push(b'"');
    }
    out.push(b'}');
}

/// Appends the signed `cancel-batch` (body built in `body` first).
#[allow(clippy::too_many_arguments)]
pub(crate) fn encode_batch<'a>(
    request: &mut Vec<u8>,
    body: &mut Vec<u8>,
    signer: &Signer<'_>,
    timestamp_ms: u64,
    inst_type: InstType,
    symbol: &InstId,
    key: BatchKey,
    orders: impl Iterator<Item = &'a OrderRef>,
) {
    body.clear();
    encode_rest_batch_body(body, inst_type, symbol, key, orders);
    encode_signed_post(request, signer, timestamp_ms, CANCEL_BATCH_PATH, body);
}

/// Appends the signed `cancel-symbol-order` (body built in `body` first).
pub(crate) fn encode_cancel_all(
    request: &mut Vec<u8>,
    body: &mut Vec<u8>,
    signer: &Signer<'_>,
    timestamp_ms: u64,
    all: &CancelAll,
) {
    body.clear();
    encode_rest_cancel_all_body(body, all);
    encode_signed_post(request, signer, timestamp_ms, CANCEL_SYMBOL_PATH, body);
}

/// The longest cancel body.
pub const MAX_CANCEL_BODY_LEN: usize = r#"{"orderId":"","clientOid":""}"#.len()
    + crate::intent::OrderId::MAX_LEN
    + crate::intent::ClientOid::MAX_LEN;

/// How many order queries per second the venue allows per account (not documented for V3's
/// `order-info`: V2 futures' 10, the lower of V2's two).
pub(crate) const QUERIES_PER_SECOND: u32 = 10;

/// Appends the JSON body of a V3 cancel: `{"orderId":"..."}`, `{"clientOid":"..."}` or both
/// (the venue goes by `orderId`). `category` is optional for a cancel and left out: its case
/// over REST is not settled.
///
/// ```
/// use bitget_cancel::protocol::v3::encode_rest_cancel_body;
/// use bitget_cancel::{Cancel, InstId, InstType, OrderRef};
///
/// let cancel = Cancel::new(InstType::Spot, InstId::new("BTCUSDT")?, OrderRef::order_id("42")?);
/// let mut body = Vec::new();
/// encode_rest_cancel_body(&mut body, &cancel);
/// assert_eq!(body, br#"{"orderId":"42"}"#);
/// # Ok::<(), bitget_cancel::InvalidField>(())
/// ```
pub fn encode_rest_cancel_body(out: &mut Vec<u8>, cancel: &Cancel) {
    out.push(b'{');
    if let Some(order_id) = cancel.order.get_order_id() {
        out.extend_from_slice(br#""orderId":""#);
        out.extend_from_slice(order_id.as_str().as_bytes());
        out.push(b'"');
    }
    if let Some(client_oid) = cancel.order.get_client_oid() {
        if cancel.order.get_order_id().is_some() {
            out.push(b',');
        }
        out.extend_from_slice(br#""clientOid":""#);
        out.extend_from_slice(client_oid.as_str().as_bytes());
        out.push(b'"');
    }
    out.push(b'}');
}

/// Appends the signed request cancelling `cancel` (body built in `body` first).
pub(crate) fn encode_cancel(
    request: &mut Vec<u8>,
    body: &mut Vec<u8>,
    signer: &Signer<'_>,
    timestamp_ms: u64,
    cancel: &Cancel,
) {
    body.clear();
    encode_rest_cancel_body(body, cancel);
    encode_signed_post(request, signer, timestamp_ms, CANCEL_PATH, body);
}

/// Appends the signed `countdown-cancel-all` with `seconds` (0 turns the switch off).
pub(crate) fn encode_countdown(
    request: &mut Vec<u8>,
    body: &mut Vec<u8>,
    signer: &Signer<'_>,
    timestamp_ms: u64,
    seconds: u32,
) {
    body.clear();
    body.extend_from_slice(br#"{"countdown":""#);
    let mut digits = [0u8; 20];
    body.extend_from_slice(write_decimal(u64::from(seconds), &mut digits));
    body.extend_from_slice(br#""}"#);
    encode_signed_post(request, signer, timestamp_ms, COUNTDOWN_PATH, body);
}

/// Appends the signed order query for the order `cancel` names.
pub(crate) fn encode_order_query(
    out: &mut Vec<u8>,
    signer: &Signer<'_>,
    timestamp_ms: u64,
    cancel: &Cancel,
) {
    encode_signed_get(out, signer, timestamp_ms, ORDER_INFO_PATH, |q| {
        encode_order_key_query(q, cancel)
    });
}

/// Appends the signed `GET /api/v3/account/settings`.
pub(crate) fn encode_settings(out: &mut Vec<u8>, signer: &Signer<'_>, timestamp_ms: u64) {
    encode_signed_get(out, signer, timestamp_ms, SETTINGS_PATH, |_| {});
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::{InstId, InstType, OrderRef};
    use crate::venue::v2::rest::sign_request;

    fn signer() -> Signer<'static> {
        Signer {
            api_key: "k",
            secret: b"s",
            passphrase: "p",
            authority: "api.bitget.com",
            demo_trading: true,
        }
    }

    fn header<'a>(request: &'a str, name: &str) -> &'a str {
        request
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap()
    }

    #[test]
    fn a_query_is_signed_over_its_path_and_query_and_the_settings_over_the_path_alone() {
        let cancel = Cancel::new(
            InstType::UsdtFutures,
            InstId::new("BTCUSDT").unwrap(),
            OrderRef::client_oid("a#b").unwrap(),
        );
        let mut out = Vec::new();
        encode_order_query(&mut out, &signer(), 1_700_000_000_000, &cancel);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("GET /api/v3/trade/order-info?clientOid=a%23b HTTP/1.1\r\n"));
        let sign = sign_request(
            b"s",
            1_700_000_000_000,
            "GET",
            "/api/v3/trade/order-info?clientOid=a%23b",
            b"",
        );
        assert_eq!(header(&text, "ACCESS-SIGN").as_bytes(), sign);
        assert_eq!(header(&text, "paptrading"), "1");

        let mut out = Vec::new();
        encode_settings(&mut out, &signer(), 5);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("GET /api/v3/account/settings HTTP/1.1\r\n"));
        let sign = sign_request(b"s", 5, "GET", "/api/v3/account/settings", b"");
        assert_eq!(header(&text, "ACCESS-SIGN").as_bytes(), sign);
    }

    #[test]
    fn a_batch_is_a_bare_list_of_one_kind_of_id_with_uppercase_categories() {
        let orders = [
            OrderRef::client_oid("a-1").unwrap(),
            OrderRef::order_id("7").unwrap(),
            OrderRef::from_parts(Some("8"), Some("b-2")).unwrap(),
        ];
        let (mut request, mut body) = (Vec::new(), Vec::new());
        let symbol = InstId::new("ETHUSDT").unwrap();
        encode_batch(
            &mut request,
            &mut body,
            &signer(),
            1_700_000_000_000,
            InstType::UsdtFutures,
            &symbol,
            BatchKey::ClientOid,
            orders.iter(),
        );
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"[{"clientOid":"a-1","category":"USDT-FUTURES","symbol":"ETHUSDT"},{"clientOid":"b-2","category":"USDT-FUTURES","symbol":"ETHUSDT"}]"#,
            "the order named by orderId alone is not in a clientOid batch"
        );
        let text = String::from_utf8(request).unwrap();
        assert!(text.starts_with("POST /api/v3/trade/cancel-batch HTTP/1.1\r\n"));
        assert!(text.ends_with(std::str::from_utf8(&body).unwrap()));
        let sign = sign_request(
            b"s",
            1_700_000_000_000,
            "POST",
            "/api/v3/trade/cancel-batch",
            &body,
        );
        assert_eq!(header(&text, "ACCESS-SIGN").as_bytes(), sign);
        // Twenty of the longest ids fit the bound; a twenty-first is not written.
        let long: Vec<OrderRef> = (0..21)
            .map(|_| OrderRef::client_oid(&"c".repeat(64)).unwrap())
            .collect();
        body.clear();
        let symbol = InstId::new(&"B".repeat(32)).unwrap();
        encode_rest_batch_body(
            &mut body,
            InstType::UsdtFutures,
            &symbol,
            BatchKey::ClientOid,
            long.iter(),
        );
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed.as_array().unwrap().len(), MAX_BATCH);
        assert!(body.len() <= MAX_BATCH_BODY_LEN);
    }

    #[test]
    fn a_cancel_all_names_its_category_in_uppercase_and_its_symbol_if_any() {
        let (mut request, mut body) = (Vec::new(), Vec::new());
        let all =
            CancelAll::new(InstType::CoinFutures, Some(InstId::new("BTCUSD").unwrap())).unwrap();
        encode_cancel_all(&mut request, &mut body, &signer(), 1, &all);
        assert_eq!(body, br#"{"category":"COIN-FUTURES","symbol":"BTCUSD"}"#);
        assert!(request.starts_with(b"POST /api/v3/trade/cancel-symbol-order HTTP/1.1\r\n"));
        body.clear();
        encode_rest_cancel_all_body(
            &mut body,
            &CancelAll::new(InstType::UsdcFutures, None).unwrap(),
        );
        assert_eq!(body, br#"{"category":"USDC-FUTURES"}"#);
    }

    #[test]
    fn cancel_and_countdown_bodies_are_the_documented_ones() {
        let cancel = Cancel::new(
            InstType::Spot,
            InstId::new("BTCUSDT").unwrap(),
            OrderRef::from_parts(Some("1"), Some("c")).unwrap(),
        );
        let (mut request, mut body) = (Vec::new(), Vec::new());
        encode_cancel(&mut request, &mut body, &signer(), 1, &cancel);
        assert_eq!(body, br#"{"orderId":"1","clientOid":"c"}"#);
        assert!(request.starts_with(b"POST /api/v3/trade/cancel-order HTTP/1.1\r\n"));
        assert!(body.len() <= MAX_CANCEL_BODY_LEN);
        request.clear();
        encode_countdown(&mut request, &mut body, &signer(), 1, 10);
        assert_eq!(body, br#"{"countdown":"10"}"#);
        assert!(request.ends_with(br#"{"countdown":"10"}"#));
        encode_countdown(&mut request, &mut body, &signer(), 1, 0);
        assert_eq!(body, br#"{"countdown":"0"}"#);
    }
}
