//! V3 request encoding: `cancel-order`, `batch-cancel` and the `order` topic's subscription,
//! appended to a caller-owned buffer. The login is V2's frame, unchanged.

use crate::intent::{Cancel, ClientOid, InstType, OrderId, RequestId};

/// The lowercase `category` V3 spells a product line with (uppercase is refused: 41101).
pub const fn category(inst_type: InstType) -> &'static str {
    match inst_type {
        InstType::Spot => "spot",
        InstType::UsdtFutures => "usdt-futures",
        InstType::CoinFutures => "coin-futures",
        InstType::UsdcFutures => "usdc-futures",
    }
}

/// The product line a lowercase (or any-case) `category` names; `None` for `margin` and
/// anything this crate does not trade.
pub fn inst_type_of(category: &str) -> Option<InstType> {
    InstType::ALL
        .into_iter()
        .find(|&t| self::category(t).eq_ignore_ascii_case(category))
}

// {"op":"trade","id":"<id>","category":"<cat>","topic":"cancel-order","args":[{"orderId":"<n>","clientOid":"<c>"}]}
const CANCEL_ID: &[u8] = br#"{"op":"trade","id":""#;
const CANCEL_CATEGORY: &[u8] = br#"","category":""#;
const CANCEL_TOPIC: &[u8] = br#"","topic":"cancel-order","args":["#;
const BATCH_TOPIC: &[u8] = br#"","topic":"batch-cancel","args":["#;
const ORDER_ID_KEY: &[u8] = br#""orderId":""#;
const CLIENT_OID_KEY: &[u8] = br#""clientOid":""#;
const CANCEL_END: &[u8] = br#"]}"#;

/// The longest `category`.
const LONGEST_CATEGORY: usize = "usdt-futures".len();

/// The longest `{"orderId":"..","clientOid":".."}` entry.
const MAX_ENTRY_LEN: usize = 2
    + ORDER_ID_KEY.len()
    + OrderId::MAX_LEN
    + 1
    + 1
    + CLIENT_OID_KEY.len()
    + ClientOid::MAX_LEN
    + 1;

/// The length of the longest cancel request [`encode_cancel`] can write: a 40-character id,
/// the longest `category`, and both a 32-digit `orderId` and a 64-character `clientOid`.
pub const MAX_CANCEL_LEN: usize = CANCEL_ID.len()
    + RequestId::MAX_LEN
    + CANCEL_CATEGORY.len()
    + LONGEST_CATEGORY
    + CANCEL_TOPIC.len()
    + MAX_ENTRY_LEN
    + CANCEL_END.len();

/// The most entries one `batch-cancel` carries.
pub const MAX_BATCH: usize = 20;

/// The length of the longest `batch-cancel` [`encode_batch_cancel`] can write.
pub const MAX_BATCH_LEN: usize = CANCEL_ID.len()
    + RequestId::MAX_LEN
    + CANCEL_CATEGORY.len()
    + LONGEST_CATEGORY
    + BATCH_TOPIC.len()
    + MAX_BATCH * (MAX_ENTRY_LEN + 1)
    + CANCEL_END.len();

/// The subscription to the `order` topic: one for every category.
pub const SUBSCRIBE_ORDERS: &[u8] =
    br#"{"op":"subscribe","args":[{"instType":"UTA","topic":"order"}]}"#;

/// Appends the subscription to the `order` topic to `out` and returns how many
/// acknowledgements the venue sends for it: one, whatever the product lines.
///
/// ```
/// use bitget_cancel::protocol::v3::encode_subscribe;
///
/// let mut out = Vec::new();
/// assert_eq!(encode_subscribe(&mut out), 1);
/// assert_eq!(out, br#"{"op":"subscribe","args":[{"instType":"UTA","topic":"order"}]}"#);
/// ```
pub fn encode_subscribe(out: &mut Vec<u8>) -> usize {
    out.extend_from_slice(SUBSCRIBE_ORDERS);
    1
}

fn push_entry(out: &mut Vec<u8>, order_id: Option<&OrderId>, client_oid: Option<&ClientOid>) {
    out.push(b'{');
    if let Some(order_id) = order_id {
        out.extend_from_slice(ORDER_ID_KEY);
        out.extend_from_slice(order_id.as_str().as_bytes());
        out.push(b'"');
        if client_oid.is_some() {
            out.push(b',');
        }
    }
    if let Some(client_oid) = client_oid {
        out.extend_from_slice(CLIENT_OID_KEY);
        out.extend_from_slice(client_oid.as_str().as_bytes());
        out.push(b'"');
    }
    out.push(b'}');
}

/// Appends the V3 cancel request for `cancel` under request id `id` to `out`: the id at the
/// top level, the lowercase `category` of the intent's product line, no symbol. Never
/// allocates when `out` has [`MAX_CANCEL_LEN`] bytes of spare capacity.
///
/// ```
/// use bitget_cancel::protocol::v3::{encode_cancel, MAX_CANCEL_LEN};
/// use bitget_cancel::{Cancel, InstId, InstType, OrderRef, RequestId};
///
/// let cancel = Cancel::new(
///     InstType::UsdtFutures,
///     InstId::new("BTCUSDT")?,
///     OrderRef::order_id("1376695893517410304")?,
/// );
/// let mut out = Vec::with_capacity(MAX_CANCEL_LEN);
/// encode_cancel(&mut out, &RequestId::new("1")?, &cancel);
/// assert_eq!(
///     out,
///     br#"{"op":"trade","id":"1","category":"usdt-futures","topic":"cancel-order","args":[{"orderId":"1376695893517410304"}]}"#
/// );
/// # Ok::<(), bitget_cancel::InvalidField>(())
/// ```
pub fn encode_cancel(out: &mut Vec<u8>, id: &RequestId, cancel: &Cancel) {
    out.reserve(MAX_CANCEL_LEN);
    out.extend_from_slice(CANCEL_ID);
    out.extend_from_slice(id.as_str().as_bytes());
    out.extend_from_slice(CANCEL_CATEGORY);
    out.extend_from_slice(category(cancel.inst_type).as_bytes());
    out.extend_from_slice(CANCEL_TOPIC);
    push_entry(
        out,
        cancel.order.get_order_id(),
        cancel.order.get_client_oid(),
    );
    out.extend_from_slice(CANCEL_END);
}

/// Which key a batch names its orders by: one kind per batch, never both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchKey {
    /// Every entry by `orderId`.
    OrderId,
    /// Every entry by `clientOid`.
    ClientOid,
}

impl BatchKey {
    /// The key a cancel goes into a batch by: `orderId` when it has one.
    pub fn of(cancel: &Cancel) -> BatchKey {
        if cancel.order.get_order_id().is_some() {
            BatchKey::OrderId
        } else {
            BatchKey::ClientOid
        }
    }
}

/// Appends a `batch-cancel` of `cancels` (1 to [`MAX_BATCH`], one product line, all named by
/// `key`: see [`BatchKey::of`]) under request id `id` to `out`. Each entry carries only the
/// batch's key, so orderId and clientOid are never mixed. Returns false, writing nothing, when
/// the cancels do not fit one batch. Never allocates when `out` has [`MAX_BATCH_LEN`] bytes
/// of spare capacity.
///
/// ```
/// use bitget_cancel::protocol::v3::{encode_batch_cancel, BatchKey};
/// use bitget_cancel::{Cancel, InstId, InstType, OrderRef, RequestId};
///
/// let one = |id: &str| Cancel::new(InstType::Spot, InstId::new("BTCUSDT").unwrap(), OrderRef::order_id(id).unwrap());
/// let mut out = Vec::new();
/// assert!(encode_batch_cancel(&mut out, &RequestId::new("b1")?, BatchKey::OrderId, &[one("1"), one("2")]));
/// assert_eq!(
///     out,
///     br#"{"op":"trade","id":"b1","category":"spot","topic":"batch-cancel","args":[{"orderId":"1"},{"orderId":"2"}]}"#
/// );
/// # Ok::<(), bitget_cancel::InvalidField>(())
/// ```
pub fn encode_batch_cancel<'c>(
    out: &mut Vec<u8>,
    id: &RequestId,
    key: BatchKey,
    cancels: impl IntoIterator<Item = &'c Cancel> + Clone,
) -> bool {
    let mut inst_type = None;
    let mut count = 0;
    for cancel in cancels.clone() {
        count += 1;
        if count > MAX_BATCH
            || *inst_type.get_or_insert(cancel.inst_type) != cancel.inst_type
            || (key == BatchKey::OrderId && cancel.order.get_order_id().is_none())
            || (key == BatchKey::ClientOid && cancel.order.get_client_oid().is_none())
        {
            return false;
        }
    }
    let Some(inst_type) = inst_type else {
        return false;
    };
    out.reserve(MAX_BATCH_LEN);
    out.extend_from_slice(CANCEL_ID);
    out.extend_from_slice(id.as_str().as_bytes());
    out.extend_from_slice(CANCEL_CATEGORY);
    out.extend_from_slice(category(inst_type).as_bytes());
    out.extend_from_slice(BATCH_TOPIC);
    for (i, cancel) in cancels.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match key {
            BatchKey::OrderId => push_entry(out, cancel.order.get_order_id(), None),
            BatchKey::ClientOid => push_entry(out, None, cancel.order.get_client_oid()),
        }
    }
    out.extend_from_slice(CANCEL_END);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::{InstId, OrderRef};

    fn cancel(inst_type: InstType, order: OrderRef) -> Cancel {
        Cancel::new(inst_type, InstId::new("BTCUSDT").unwrap(), order)
    }

    #[test]
    fn every_product_line_is_spelled_in_lowercase_and_read_back() {
        for t in InstType::ALL {
            assert_eq!(category(t), category(t).to_ascii_lowercase());
            assert_eq!(inst_type_of(category(t)), Some(t));
        }
        assert_eq!(inst_type_of("margin"), None);
    }

    #[test]
    fn a_cancel_by_client_oid_or_both_keeps_both_in_one_entry() {
        let order = OrderRef::from_parts(Some("12"), Some("c-1")).unwrap();
        let mut out = Vec::new();
        encode_cancel(
            &mut out,
            &RequestId::new("r1").unwrap(),
            &cancel(InstType::CoinFutures, order),
        );
        assert_eq!(
            out,
            br#"{"op":"trade","id":"r1","category":"coin-futures","topic":"cancel-order","args":[{"orderId":"12","clientOid":"c-1"}]}"#
        );
        let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed["args"][0]["clientOid"], "c-1");
    }

    #[test]
    fn the_longest_cancel_fits_its_bound_without_growing_the_buffer() {
        let order = OrderRef::from_parts(Some(&"9".repeat(32)), Some(&"c".repeat(64))).unwrap();
        let c = cancel(InstType::UsdtFutures, order);
        let mut out = Vec::with_capacity(MAX_CANCEL_LEN);
        let before = out.capacity();
        encode_cancel(&mut out, &RequestId::new(&"7".repeat(40)).unwrap(), &c);
        assert_eq!(out.len(), MAX_CANCEL_LEN);
        assert_eq!(out.capacity(), before);
    }

    #[test]
    fn a_batch_never_mixes_keys_product_lines_or_more_than_twenty() {
        let by_id: Vec<Cancel> = (1..=21)
            .map(|i| cancel(InstType::Spot, OrderRef::order_id(&i.to_string()).unwrap()))
            .collect();
        let id = RequestId::new("b").unwrap();
        let mut out = Vec::new();
        assert!(!encode_batch_cancel(
            &mut out,
            &id,
            BatchKey::OrderId,
            &by_id
        ));
        assert!(out.is_empty());
        assert!(encode_batch_cancel(
            &mut out,
            &id,
            BatchKey::OrderId,
            &by_id[..20]
        ));
        let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(parsed["args"].as_array().unwrap().len(), 20);
        out.clear();
        let by_oid = cancel(InstType::Spot, OrderRef::client_oid("c").unwrap());
        let mixed = [by_id[0], by_oid];
        assert!(!encode_batch_cancel(
            &mut out,
            &id,
            BatchKey::OrderId,
            &mixed
        ));
        let lines = [
            by_id[0],
            cancel(InstType::UsdtFutures, OrderRef::order_id("5").unwrap()),
        ];
        assert!(!encode_batch_cancel(
            &mut out,
            &id,
            BatchKey::OrderId,
            &lines
        ));
        assert!(!encode_batch_cancel(
            &mut out,
            &id,
            BatchKey::ClientOid,
            &[] as &[Cancel]
        ));
        // A cancel with both keys goes into a batch by the batch's key only.
        let both = cancel(
            InstType::Spot,
            OrderRef::from_parts(Some("3"), Some("c3")).unwrap(),
        );
        assert!(encode_batch_cancel(
            &mut out,
            &id,
            BatchKey::ClientOid,
            [&both, &by_oid]
        ));
        assert_eq!(
            out,
            br#"{"op":"trade","id":"b","category":"spot","topic":"batch-cancel","args":[{"clientOid":"c3"},{"clientOid":"c"}]}"#
        );
        let mut worst = Vec::with_capacity(MAX_BATCH_LEN);
        let longest: Vec<Cancel> = (0..20)
            .map(|i| {
                cancel(
                    InstType::UsdtFutures,
                    OrderRef::order_id(&format!("{i:0>32}")).unwrap(),
                )
            })
            .collect();
        assert!(encode_batch_cancel(
            &mut worst,
            &RequestId::new(&"1".repeat(40)).unwrap(),
            BatchKey::OrderId,
            &longest
        ));
        assert!(worst.len() <= MAX_BATCH_LEN);
    }
}
