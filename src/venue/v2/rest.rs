//! V2 REST requests, written into buffers the caller owns and reuses: the cancel's JSON body, the
//! signed HTTP/1.1 request around it, the signed order query (`GET` spot `orderInfo`, futures
//! `order/detail`), the batch cancels (spot `batch-cancel-order`, futures `batch-cancel-orders`),
//! the cancel-alls (spot `cancel-symbol-order`, futures `cancel-all-orders`) and the keep-warm
//! `GET /api/v2/public/time`.

use super::sign::{SIGN_LEN, sign_parts};
use crate::intent::{Cancel, CancelAll, InstId, InstType, OrderRef};
use crate::venue::RestSigner as Signer;
use crate::venue::decimal::write_decimal;

/// The spot cancel endpoint.
pub const SPOT_CANCEL_PATH: &str = "/api/v2/spot/trade/cancel-order";
/// The futures cancel endpoint (USDT-, COIN- and USDC-margined).
pub const FUTURES_CANCEL_PATH: &str = "/api/v2/mix/order/cancel-order";
/// The venue's clock, public: the keep-warm request.
pub const SERVER_TIME_PATH: &str = "/api/v2/public/time";
/// The spot order query (20 requests/s per account).
pub const SPOT_ORDER_INFO_PATH: &str = "/api/v2/spot/trade/orderInfo";
/// The futures order query (10 requests/s per account).
pub const FUTURES_ORDER_DETAIL_PATH: &str = "/api/v2/mix/order/detail";

/// The spot batch cancel (10 requests/s per account, its own counter).
pub const SPOT_BATCH_CANCEL_PATH: &str = "/api/v2/spot/trade/batch-cancel-order";
/// The futures batch cancel (10 requests/s per account, its own counter).
pub const FUTURES_BATCH_CANCEL_PATH: &str = "/api/v2/mix/order/batch-cancel-orders";
/// Spot's cancel-all, one symbol at a time, carried out asynchronously (5 requests/s).
pub const SPOT_CANCEL_SYMBOL_PATH: &str = "/api/v2/spot/trade/cancel-symbol-order";
/// Futures' cancel-all, for a product line or one symbol (10 requests/s).
pub const FUTURES_CANCEL_ALL_PATH: &str = "/api/v2/mix/order/cancel-all-orders";

/// The most orders one batch request carries: the classic guide's 20 (error 40306 above it;
/// the spot endpoint's page says 50).
pub const MAX_BATCH: usize = 20;

/// Batch requests per second and account, on each batch endpoint.
pub(crate) const BATCHES_PER_SECOND: u32 = 10;

/// Cancel-all requests per second and account: spot `cancel-symbol-order` 5, futures
/// `cancel-all-orders` 10.
pub(crate) const fn cancel_alls_per_second(inst_type: InstType) -> u32 {
    if inst_type.is_futures() { 10 } else { 5 }
}

/// How the orders of one batch are named: every entry by `orderId`, or every entry by
/// `clientOid` (the venue refuses the two mixed in one request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchKey {
    /// By the venue's order id (a cancel that gives both goes by it, as the venue does).
    OrderId,
    /// By the client's order id.
    ClientOid,
}

impl BatchKey {
    /// The key a cancel goes by in a batch: `orderId` when it has one.
    pub fn of(order: &OrderRef) -> BatchKey {
        match order {
            OrderRef::ClientOid(_) => BatchKey::ClientOid,
            OrderRef::OrderId(_) | OrderRef::Both { .. } => BatchKey::OrderId,
        }
    }

    /// The value a cancel's entry carries under this key.
    pub fn value(self, order: &OrderRef) -> Option<&str> {
        match self {
            BatchKey::OrderId => order.get_order_id().map(|o| o.as_str()),
            BatchKey::ClientOid => order.get_client_oid().map(|o| o.as_str()),
        }
    }

    /// The field's name on the wire.
    pub fn field(self) -> &'static str {
        match self {
            BatchKey::OrderId => "orderId",
            BatchKey::ClientOid => "clientOid",
        }
    }
}

/// The batch endpoint of a product line.
pub fn batch_cancel_path(inst_type: InstType) -> &'static str {
    if inst_type.is_futures() {
        FUTURES_BATCH_CANCEL_PATH
    } else {
        SPOT_BATCH_CANCEL_PATH
    }
}

/// The longest batch body: [`MAX_BATCH`] client order ids of the longest kind on futures.
pub const MAX_BATCH_BODY_LEN: usize = r#"{"symbol":"","productType":"","orderIdList":[]}"#.len()
    + InstId::MAX_LEN
    + "USDT-FUTURES".len()
    + MAX_BATCH * (r#"{"clientOid":""},"#.len() + crate::intent::ClientOid::MAX_LEN);

/// Appends the body of a batch cancel of `orders` (at most [`MAX_BATCH`], each with a value
/// under `key`; the caller groups them) on `inst_type` / `symbol`: spot
/// `{"symbol":"BTCUSDT","orderList":[{"orderId":"1"},...]}`, futures
/// `{"symbol":"BTCUSDT","productType":"USDT-FUTURES","orderIdList":[{"orderId":"1"},...]}`.
/// An order without a value under `key` is skipped.
///
/// ```
/// use bitget_cancel::rest::{BatchKey, encode_batch_cancel_body};
/// use bitget_cancel::{InstId, InstType, OrderRef};
///
/// let orders = [OrderRef::order_id("1")?, OrderRef::from_parts(Some("2"), Some("c-2"))?];
/// let mut body = Vec::new();
/// encode_batch_cancel_body(&mut body, InstType::Spot, &InstId::new("BTCUSDT")?, BatchKey::OrderId, orders.iter());
/// assert_eq!(body, br#"{"symbol":"BTCUSDT","orderList":[{"orderId":"1"},{"orderId":"2"}]}"#);
/// # Ok::<(), bitget_cancel::InvalidField>(())
/// ```
pub fn encode_batch_cancel_body<'a>(
    out: &mut Vec<u8>,
    inst_type: InstType,
    symbol: &InstId,
    key: BatchKey,
    orders: impl Iterator<Item = &'a OrderRef>,
) {
    out.extend_from_slice(br#"{"symbol":""#);
    out.extend_from_slice(symbol.as_str().as_bytes());
    if inst_type.is_futures() {
        out.extend_from_slice(br#"","productType":""#);
        out.extend_from_slice(inst_type.as_str().as_bytes());
        out.extend_from_slice(br#"","orderIdList":["#);
    } else {
        out.extend_from_slice(br#"","orderList":["#);
    }
    encode_batch_entries(out, key, orders, |_| {});
    out.extend_from_slice(b"]}");
}

/// Appends a batch's entries, comma-separated: `{"orderId":"1"}` (or `clientOid`, as `key`
/// says) for each of `orders` with a value under `key`, at most [`MAX_BATCH`], each closed
/// after what `extra` appends (`,"category":...` in V3). Both dialects' batch bodies.
pub(in crate::venue) fn encode_batch_entries<'a>(
    out: &mut Vec<u8>,
    key: BatchKey,
    orders: impl Iterator<Item = &'a OrderRef>,
    extra: impl Fn(&mut Vec<u8>),
) {
    let mut first = true;
    for order in orders.take(MAX_BATCH) {
        let Some(value) = key.value(order) else {
            continue;
        };
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(br#"{""#);
        out.extend_from_slice(key.field().as_bytes());
        out.extend_from_slice(br#"":""#);
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
        extra(out);
        out.push(b'}');
    }
}

/// The cancel-all endpoint of a product line.
pub fn cancel_all_path(inst_type: InstType) -> &'static str {
    if inst_type.is_futures() {
        FUTURES_CANCEL_ALL_PATH
    } else {
        SPOT_CANCEL_SYMBOL_PATH
    }
}

/// Appends the body of a cancel-all: spot `{"symbol":"BTCUSDT"}`; futures
/// `{"productType":"USDT-FUTURES"}`, with `"symbol"` for one symbol.
///
/// ```
/// use bitget_cancel::rest::encode_cancel_all_body;
/// use bitget_cancel::{CancelAll, InstId, InstType};
///
/// let mut body = Vec::new();
/// encode_cancel_all_body(&mut body, &CancelAll::new(InstType::UsdtFutures, None)?);
/// assert_eq!(body, br#"{"productType":"USDT-FUTURES"}"#);
/// body.clear();
/// encode_cancel_all_body(&mut body, &CancelAll::new(InstType::Spot, Some(InstId::new("ETHUSDT")?))?);
/// assert_eq!(body, br#"{"symbol":"ETHUSDT"}"#);
/// # Ok::<(), bitget_cancel::InvalidField>(())
/// ```
pub fn encode_cancel_all_body(out: &mut Vec<u8>, all: &CancelAll) {
    out.push(b'{');
    if all.inst_type.is_futures() {
        out.extend_from_slice(br#""productType":""#);
        out.extend_from_slice(all.inst_type.as_str().as_bytes());
        out.push(b'"');
        if let Some(symbol) = &all.inst_id {
            out.extend_from_slice(br#","symbol":""#);
            out.extend_from_slice(symbol.as_str().as_bytes());
            out.push(b'"');
        }
    } else if let Some(symbol) = &all.inst_id {
        out.extend_from_slice(br#""symbol":""#);
        out.extend_from_slice(symbol.as_str().as_bytes());
        out.push(b'"');
    }
    out.push(b'}');
}

/// How many order queries per second the venue allows per account: 20 on spot (`orderInfo`),
/// 10 on futures (`order/detail`).
pub(crate) const fn queries_per_second(inst_type: InstType) -> u32 {
    if inst_type.is_futures() { 10 } else { 20 }
}

/// The longest cancel body: the futures body with the longest symbol, product type, order id and
/// client order id.
pub const MAX_CANCEL_BODY_LEN: usize =
    r#"{"symbol":"","productType":"","orderId":"","clientOid":""}"#.len()
        + crate::intent::InstId::MAX_LEN
        + "USDT-FUTURES".len()
        + crate::intent::OrderId::MAX_LEN
        + crate::intent::ClientOid::MAX_LEN;

/// The endpoint a cancel goes to.
pub fn cancel_path(inst_type: InstType) -> &'static str {
    if inst_type.is_futures() {
        FUTURES_CANCEL_PATH
    } else {
        SPOT_CANCEL_PATH
    }
}

/// Appends the JSON body of `cancel` to `out`:
/// `{"symbol":"BTCUSDT","orderId":"..."}` on spot, with `"productType":"USDT-FUTURES"` (the
/// product line) after the symbol on futures; `clientOid` instead of or after `orderId` as the
/// [`OrderRef`](crate::OrderRef) says (the venue goes by `orderId` when both are present).
///
/// The values come from validated types that admit only JSON-safe ASCII, so they are written
/// verbatim. Allocates nothing when `out` has [`MAX_CANCEL_BODY_LEN`] bytes to spare.
///
/// ```
/// use bitget_cancel::rest::encode_cancel_body;
/// use bitget_cancel::{Cancel, InstId, InstType, OrderRef};
///
/// let cancel = Cancel::new(InstType::UsdtFutures, InstId::new("BTCUSDT")?, OrderRef::client_oid("my-1")?);
/// let mut body = Vec::new();
/// encode_cancel_body(&mut body, &cancel);
/// assert_eq!(body, br#"{"symbol":"BTCUSDT","productType":"USDT-FUTURES","clientOid":"my-1"}"#);
/// # Ok::<(), bitget_cancel::InvalidField>(())
/// ```
pub fn encode_cancel_body(out: &mut Vec<u8>, cancel: &Cancel) {
    out.extend_from_slice(br#"{"symbol":""#);
    out.extend_from_slice(cancel.inst_id.as_str().as_bytes());
    if cancel.inst_type.is_futures() {
        out.extend_from_slice(br#"","productType":""#);
        out.extend_from_slice(cancel.inst_type.as_str().as_bytes());
    }
    out.push(b'"');
    if let Some(order_id) = cancel.order.get_order_id() {
        out.extend_from_slice(br#","orderId":""#);
        out.extend_from_slice(order_id.as_str().as_bytes());
        out.push(b'"');
    }
    if let Some(client_oid) = cancel.order.get_client_oid() {
        out.extend_from_slice(br#","clientOid":""#);
        out.extend_from_slice(client_oid.as_str().as_bytes());
        out.push(b'"');
    }
    out.push(b'}');
}

/// The REST signature: `base64(HMAC-SHA256(secret, timestamp + method + requestPath + body))`,
/// with the timestamp in Unix milliseconds as decimal digits. Always [`SIGN_LEN`] ASCII bytes;
/// allocates nothing and keeps no copy of `secret`.
///
/// ```
/// use bitget_cancel::rest::sign_request;
///
/// let sign = sign_request(b"secret", 1_700_000_000_000, "GET", "/api/v2/public/time", b"");
/// assert_eq!(sign.len(), 44);
/// ```
pub fn sign_request(
    secret: &[u8],
    timestamp_ms: u64,
    method: &str,
    request_path: &str,
    body: &[u8],
) -> [u8; SIGN_LEN] {
    let mut digits = [0u8; 20];
    let timestamp = write_decimal(timestamp_ms, &mut digits);
    sign_parts(
        secret,
        &[timestamp, method.as_bytes(), request_path.as_bytes(), body],
    )
}

/// Appends a signed `POST` of `body` to `path` to `out`: request line, `Host`, the four
/// `ACCESS-*` headers, `Content-Type`, `Content-Length`, `paptrading: 1` for demo trading, then
/// the body. HTTP/1.1 keeps the connection alive by default.
pub(crate) fn encode_signed_post(
    out: &mut Vec<u8>,
    signer: &Signer<'_>,
    timestamp_ms: u64,
    path: &str,
    body: &[u8],
) {
    let sign = sign_request(signer.secret, timestamp_ms, "POST", path, body);
    let mut digits = [0u8; 20];
    out.extend_from_slice(b"POST ");
    out.extend_from_slice(path.as_bytes());
    encode_signed_headers(out, signer, timestamp_ms, &sign);
    out.extend_from_slice(b"Content-Length: ");
    out.extend_from_slice(write_decimal(body.len() as u64, &mut digits));
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

/// Appends the query string asking for the order `cancel` names: `orderId=...` (it prevails) or
/// `clientOid=...` (percent-encoded: `:`, `#`, `+` and `/` are escaped); on futures after
/// `symbol=...&productType=...`.
///
/// ```
/// use bitget_cancel::rest::encode_order_query_string;
/// use bitget_cancel::{Cancel, InstId, InstType, OrderRef};
///
/// let mut out = Vec::new();
/// let cancel = Cancel::new(InstType::UsdtFutures, InstId::new("BTCUSDT")?, OrderRef::client_oid("grid#1+2")?);
/// encode_order_query_string(&mut out, &cancel);
/// assert_eq!(out, b"symbol=BTCUSDT&productType=USDT-FUTURES&clientOid=grid%231%2B2");
/// # Ok::<(), bitget_cancel::InvalidField>(())
/// ```
pub fn encode_order_query_string(out: &mut Vec<u8>, cancel: &Cancel) {
    if cancel.inst_type.is_futures() {
        out.extend_from_slice(b"symbol=");
        out.extend_from_slice(cancel.inst_id.as_str().as_bytes());
        out.extend_from_slice(b"&productType=");
        out.extend_from_slice(cancel.inst_type.as_str().as_bytes());
        out.push(b'&');
    }
    encode_order_key_query(out, cancel);
}

/// Appends `orderId=...` (it prevails) or `clientOid=...` (percent-encoded: everything but
/// letters, digits and `-_.~` is escaped) for the order `cancel` names: the part of an order
/// query both dialects share.
pub(in crate::venue) fn encode_order_key_query(out: &mut Vec<u8>, cancel: &Cancel) {
    if let Some(order_id) = cancel.order.get_order_id() {
        out.extend_from_slice(b"orderId=");
        out.extend_from_slice(order_id.as_str().as_bytes());
    } else if let Some(client_oid) = cancel.order.get_client_oid() {
        out.extend_from_slice(b"clientOid=");
        for &b in client_oid.as_str().as_bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                out.push(b);
            } else {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
        }
    }
}

/// The query endpoint for a product line.
pub fn order_query_path(inst_type: InstType) -> &'static str {
    if inst_type.is_futures() {
        FUTURES_ORDER_DETAIL_PATH
    } else {
        SPOT_ORDER_INFO_PATH
    }
}

/// Appends the signed `GET` asking where the order `cancel` names stands: the request line
/// with its query string, `Host`, the four `ACCESS-*` headers (the signature covers
/// `timestamp + "GET" + path + "?" + query`) and `paptrading: 1` for demo trading.
pub(crate) fn encode_order_query(
    out: &mut Vec<u8>,
    signer: &Signer<'_>,
    timestamp_ms: u64,
    cancel: &Cancel,
) {
    encode_signed_get(
        out,
        signer,
        timestamp_ms,
        order_query_path(cancel.inst_type),
        |q| encode_order_query_string(q, cancel),
    );
}

/// Appends a signed `GET` of `path` (with the query `query` writes, if any): the signature
/// covers `timestamp + "GET" + path` and `"?" + query` when there is one.
pub(crate) fn encode_signed_get(
    out: &mut Vec<u8>,
    signer: &Signer<'_>,
    timestamp_ms: u64,
    path: &str,
    query: impl FnOnce(&mut Vec<u8>),
) {
    let start = out.len();
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(path.as_bytes());
    let mark = out.len();
    out.push(b'?');
    let query_at = out.len();
    query(out);
    if out.len() == query_at {
        out.truncate(mark);
    }
    let mut digits = [0u8; 20];
    let timestamp = write_decimal(timestamp_ms, &mut digits);
    let sign = sign_parts(signer.secret, &[timestamp, b"GET", &out[start + 4..]]);
    encode_signed_headers(out, signer, timestamp_ms, &sign);
    out.extend_from_slice(b"\r\n");
}

/// Appends the rest of the request line and the headers every signed request carries: `Host`,
/// the four `ACCESS-*` headers, `Content-Type` and `paptrading: 1` for demo trading.
fn encode_signed_headers(out: &mut Vec<u8>, signer: &Signer<'_>, timestamp_ms: u64, sign: &[u8]) {
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(signer.authority.as_bytes());
    out.extend_from_slice(b"\r\nACCESS-KEY: ");
    out.extend_from_slice(signer.api_key.as_bytes());
    out.extend_from_slice(b"\r\nACCESS-PASSPHRASE: ");
    out.extend_from_slice(signer.passphrase.as_bytes());
    out.extend_from_slice(b"\r\nACCESS-TIMESTAMP: ");
    let mut digits = [0u8; 20];
    out.extend_from_slice(write_decimal(timestamp_ms, &mut digits));
    out.extend_from_slice(b"\r\nACCESS-SIGN: ");
    out.extend_from_slice(sign);
    out.extend_from_slice(b"\r\nContent-Type: application/json\r\n");
    if signer.demo_trading {
        out.extend_from_slice(b"paptrading: 1\r\n");
    }
}

/// Appends `GET /api/v2/public/time` (unsigned: the endpoint is public).
pub(crate) fn encode_server_time(out: &mut Vec<u8>, authority: &str, demo_trading: bool) {
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(SERVER_TIME_PATH.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(authority.as_bytes());
    out.extend_from_slice(b"\r\n");
    if demo_trading {
        out.extend_from_slice(b"paptrading: 1\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::{InstId, OrderRef};
    use base64::Engine as _;
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::Sha256;

    fn cancel(inst_type: InstType, order: OrderRef) -> Cancel {
        Cancel::new(inst_type, InstId::new("BTCUSDT").unwrap(), order)
    }

    #[test]
    fn spot_and_futures_bodies_follow_the_documented_shapes() {
        let mut body = Vec::new();
        encode_cancel_body(
            &mut body,
            &cancel(InstType::Spot, OrderRef::order_id("121211212122").unwrap()),
        );
        assert_eq!(body, br#"{"symbol":"BTCUSDT","orderId":"121211212122"}"#);

        for inst_type in [
            InstType::UsdtFutures,
            InstType::CoinFutures,
            InstType::UsdcFutures,
        ] {
            body.clear();
            let both = OrderRef::from_parts(Some("1"), Some("c-1")).unwrap();
            encode_cancel_body(&mut body, &cancel(inst_type, both));
            let expected = format!(
                r#"{{"symbol":"BTCUSDT","productType":"{inst_type}","orderId":"1","clientOid":"c-1"}}"#
            );
            assert_eq!(std::str::from_utf8(&body).unwrap(), expected);
            let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(parsed["productType"], inst_type.as_str());
        }
        assert_eq!(cancel_path(InstType::Spot), SPOT_CANCEL_PATH);
        assert_eq!(cancel_path(InstType::CoinFutures), FUTURES_CANCEL_PATH);
    }

    #[test]
    fn a_futures_batch_names_its_product_line_and_one_kind_of_id() {
        let orders = [
            OrderRef::client_oid("a-1").unwrap(),
            OrderRef::order_id("7").unwrap(),
            OrderRef::from_parts(Some("8"), Some("b-2")).unwrap(),
        ];
        let mut body = Vec::new();
        let symbol = InstId::new("ETHUSDT").unwrap();
        encode_batch_cancel_body(
            &mut body,
            InstType::UsdtFutures,
            &symbol,
            BatchKey::ClientOid,
            orders.iter(),
        );
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"symbol":"ETHUSDT","productType":"USDT-FUTURES","orderIdList":[{"clientOid":"a-1"},{"clientOid":"b-2"}]}"#,
            "the order named by orderId alone is not in a clientOid batch"
        );
        assert_eq!(BatchKey::of(&orders[2]), BatchKey::OrderId);
        assert_eq!(
            batch_cancel_path(InstType::CoinFutures),
            FUTURES_BATCH_CANCEL_PATH
        );
        assert_eq!(batch_cancel_path(InstType::Spot), SPOT_BATCH_CANCEL_PATH);
        // Twenty of the longest ids fit the documented bound; a twenty-first is not written.
        let long: Vec<OrderRef> = (0..21)
            .map(|_| OrderRef::client_oid(&"c".repeat(64)).unwrap())
            .collect();
        body.clear();
        let symbol = InstId::new(&"B".repeat(32)).unwrap();
        encode_batch_cancel_body(
            &mut body,
            InstType::UsdtFutures,
            &symbol,
            BatchKey::ClientOid,
            long.iter(),
        );
        let parsed: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(parsed["orderIdList"].as_array().unwrap().len(), MAX_BATCH);
        assert!(body.len() <= MAX_BATCH_BODY_LEN);
    }

    #[test]
    fn a_futures_cancel_all_of_one_symbol_names_both() {
        let mut body = Vec::new();
        let all =
            CancelAll::new(InstType::CoinFutures, Some(InstId::new("BTCUSD").unwrap())).unwrap();
        encode_cancel_all_body(&mut body, &all);
        assert_eq!(body, br#"{"productType":"COIN-FUTURES","symbol":"BTCUSD"}"#);
        assert_eq!(cancel_all_path(InstType::Spot), SPOT_CANCEL_SYMBOL_PATH);
        assert_eq!(
            cancel_all_path(InstType::UsdcFutures),
            FUTURES_CANCEL_ALL_PATH
        );
        assert_eq!(cancel_alls_per_second(InstType::Spot), 5);
    }

    #[test]
    fn the_longest_body_fits_the_documented_bound() {
        let order = OrderRef::from_parts(Some(&"9".repeat(32)), Some(&"c".repeat(64))).unwrap();
        let cancel = Cancel::new(
            InstType::UsdtFutures,
            InstId::new(&"B".repeat(32)).unwrap(),
            order,
        );
        let mut body = Vec::new();
        encode_cancel_body(&mut body, &cancel);
        assert_eq!(body.len(), MAX_CANCEL_BODY_LEN);
    }

    /// Bitget's documented example message, signed by an independent HMAC and base64.
    #[test]
    fn the_signature_covers_timestamp_method_path_and_body_in_order() {
        let secret = b"22582BD0CFF14C41EDBF1AB98506286D";
        let body = br#"{"symbol":"BTCUSDT","orderId":"1"}"#;
        let sign = sign_request(secret, 1_695_806_875_837, "POST", SPOT_CANCEL_PATH, body);

        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap();
        mac.update(b"1695806875837POST/api/v2/spot/trade/cancel-order");
        mac.update(body);
        let expected =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(std::str::from_utf8(&sign).unwrap(), expected);
        assert_ne!(
            sign,
            sign_request(secret, 1_695_806_875_838, "POST", SPOT_CANCEL_PATH, body)
        );
    }

    #[test]
    fn a_signed_post_parses_as_http_with_every_header() {
        let signer = Signer {
            api_key: "key-1",
            secret: b"secret",
            passphrase: "pass-1",
            authority: "localhost:8443",
            demo_trading: true,
        };
        let body = br#"{"symbol":"BTCUSDT","orderId":"1"}"#;
        let mut out = Vec::new();
        encode_signed_post(&mut out, &signer, 1_700_000_000_123, SPOT_CANCEL_PATH, body);

        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut request = httparse::Request::new(&mut headers);
        let httparse::Status::Complete(head_len) = request.parse(&out).unwrap() else {
            panic!("incomplete request");
        };
        assert_eq!(request.method, Some("POST"));
        assert_eq!(request.path, Some(SPOT_CANCEL_PATH));
        assert_eq!(request.version, Some(1));
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| std::str::from_utf8(h.value).unwrap().to_owned())
        };
        assert_eq!(header("Host").as_deref(), Some("localhost:8443"));
        assert_eq!(header("ACCESS-KEY").as_deref(), Some("key-1"));
        assert_eq!(header("ACCESS-PASSPHRASE").as_deref(), Some("pass-1"));
        assert_eq!(header("ACCESS-TIMESTAMP").as_deref(), Some("1700000000123"));
        let sign = sign_request(b"secret", 1_700_000_000_123, "POST", SPOT_CANCEL_PATH, body);
        assert_eq!(
            header("ACCESS-SIGN").as_deref(),
            std::str::from_utf8(&sign).ok()
        );
        assert_eq!(header("Content-Type").as_deref(), Some("application/json"));
        assert_eq!(header("paptrading").as_deref(), Some("1"));
        assert_eq!(header("Content-Length"), Some(body.len().to_string()));
        assert_eq!(&out[head_len..], body);
        assert!(!String::from_utf8_lossy(&out).contains("secret"));
    }

    #[test]
    fn an_order_query_is_a_signed_get_over_path_and_query() {
        let signer = Signer {
            api_key: "key-1",
            secret: b"secret",
            passphrase: "pass-1",
            authority: "localhost:8443",
            demo_trading: false,
        };
        let mut out = Vec::new();
        let spot = cancel(
            InstType::Spot,
            OrderRef::from_parts(Some("42"), Some("c")).unwrap(),
        );
        encode_order_query(&mut out, &signer, 1_700_000_000_123, &spot);
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut request = httparse::Request::new(&mut headers);
        let httparse::Status::Complete(head_len) = request.parse(&out).unwrap() else {
            panic!("incomplete request");
        };
        assert_eq!(head_len, out.len(), "no body");
        assert_eq!(request.method, Some("GET"));
        assert_eq!(
            request.path,
            Some("/api/v2/spot/trade/orderInfo?orderId=42")
        );
        let sign = request
            .headers
            .iter()
            .find(|h| h.name == "ACCESS-SIGN")
            .map(|h| h.value.to_vec());
        let expected = sign_request(
            b"secret",
            1_700_000_000_123,
            "GET",
            "/api/v2/spot/trade/orderInfo?orderId=42",
            b"",
        );
        assert_eq!(sign.as_deref(), Some(&expected[..]));
        assert!(!String::from_utf8_lossy(&out).contains("paptrading"));

        out.clear();
        let futures = cancel(
            InstType::CoinFutures,
            OrderRef::client_oid("a:b/c").unwrap(),
        );
        encode_order_query(&mut out, &signer, 1, &futures);
        assert!(out.starts_with(
            b"GET /api/v2/mix/order/detail?symbol=BTCUSDT&productType=COIN-FUTURES&clientOid=a%3Ab%2Fc HTTP/1.1\r\n"
        ));
        assert_eq!(queries_per_second(InstType::Spot), 20);
        assert_eq!(queries_per_second(InstType::UsdcFutures), 10);
    }

    #[test]
    fn live_trading_sends_no_paptrading_header() {
        let mut out = Vec::new();
        encode_server_time(&mut out, "api.bitget.com", false);
        assert_eq!(
            out,
            b"GET /api/v2/public/time HTTP/1.1\r\nHost: api.bitget.com\r\n\r\n"
        );
    }
}
