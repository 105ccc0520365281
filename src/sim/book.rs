//! The venue's book of resting orders: what a cancel can find.

use std::collections::HashMap;

use crate::intent::InstType;

/// An order resting on the simulated venue, cancellable once.
///
/// Fields are plain strings so a test can seed any value the venue could hold, including ones a
/// client would refuse to send.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RestingOrder {
    /// The product line.
    pub inst_type: InstType,
    /// The symbol, e.g. `BTCUSDT`.
    pub inst_id: String,
    /// The venue's order id.
    pub order_id: String,
    /// The client's order id, if the order has one.
    pub client_oid: Option<String>,
}

/// The order ids the generator starts from: 19 digits, like the venue's.
const FIRST_GENERATED_ID: u64 = 1_376_695_893_517_410_304;

/// Orders by (product line, symbol, order id), with an index by client order id.
#[derive(Debug, Default)]
pub(super) struct Book {
    by_order_id: HashMap<(InstType, String, String), Option<String>>,
    by_client_oid: HashMap<(InstType, String, String), String>,
    generated: u64,
}

impl Book {
    /// Adds `order`; an order with the same ids replaces the old one.
    pub(super) fn add(&mut self, order: RestingOrder) {
        let RestingOrder {
            inst_type,
            inst_id,
            order_id,
            client_oid,
        } = order;
        self.remove(inst_type, &inst_id, &order_id);
        if let Some(oid) = &client_oid {
            if let Some(previous) =
                self.by_client_oid
                    .remove(&(inst_type, inst_id.clone(), oid.clone()))
            {
                self.by_order_id
                    .remove(&(inst_type, inst_id.clone(), previous));
            }
            self.by_client_oid
                .insert((inst_type, inst_id.clone(), oid.clone()), order_id.clone());
        }
        self.by_order_id
            .insert((inst_type, inst_id, order_id), client_oid);
    }

    /// Generates `n` orders with fresh 19-digit order ids and client ids `sim-<n>`, adds them and
    /// returns them.
    pub(super) fn generate(
        &mut self,
        inst_type: InstType,
        inst_id: &str,
        n: usize,
    ) -> Vec<RestingOrder> {
        (0..n)
            .map(|_| {
                self.generated += 1;
                let order = RestingOrder {
                    inst_type,
                    inst_id: inst_id.to_owned(),
                    order_id: (FIRST_GENERATED_ID + self.generated).to_string(),
                    client_oid: Some(format!("sim-{}", self.generated)),
                };
                self.add(order.clone());
                order
            })
            .collect()
    }

    /// Whether the order with this venue id is resting.
    pub(super) fn contains(&self, inst_type: InstType, inst_id: &str, order_id: &str) -> bool {
        self.by_order_id
            .contains_key(&(inst_type, inst_id.to_owned(), order_id.to_owned()))
    }

    /// How many orders are resting.
    pub(super) fn len(&self) -> usize {
        self.by_order_id.len()
    }

    /// Cancels by venue order id; false when no such order rests.
    pub(super) fn cancel_by_order_id(
        &mut self,
        inst_type: InstType,
        inst_id: &str,
        order_id: &str,
    ) -> bool {
        self.remove(inst_type, inst_id, order_id)
    }

    /// Cancels by client order id; false when no such order rests.
    pub(super) fn cancel_by_client_oid(
        &mut self,
        inst_type: InstType,
        inst_id: &str,
        client_oid: &str,
    ) -> bool {
        let key = (inst_type, inst_id.to_owned(), client_oid.to_owned());
        match self.by_client_oid.remove(&key) {
            Some(order_id) => {
                self.by_order_id.remove(&(inst_type, key.1, order_id));
                true
            }
            None => false,
        }
    }

    fn remove(&mut self, inst_type: InstType, inst_id: &str, order_id: &str) -> bool {
        let key = (inst_type, inst_id.to_owned(), order_id.to_owned());
        match self.by_order_id.remove(&key) {
            Some(client_oid) => {
                if let Some(oid) = client_oid {
                    self.by_client_oid.remove(&(inst_type, key.1, oid));
                }
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str, oid: Option<&str>) -> RestingOrder {
        RestingOrder {
            inst_type: InstType::Spot,
            inst_id: "BTCUSDT".into(),
            order_id: id.into(),
            client_oid: oid.map(str::to_owned),
        }
    }

    #[test]
    fn an_order_is_cancellable_once_by_either_id() {
        let mut book = Book::default();
        book.add(order("1", Some("a")));
        book.add(order("2", Some("b")));
        assert!(book.cancel_by_order_id(InstType::Spot, "BTCUSDT", "1"));
        assert!(!book.cancel_by_order_id(InstType::Spot, "BTCUSDT", "1"));
        assert!(!book.cancel_by_client_oid(InstType::Spot, "BTCUSDT", "a"));
        assert!(book.cancel_by_client_oid(InstType::Spot, "BTCUSDT", "b"));
        assert!(!book.contains(InstType::Spot, "BTCUSDT", "2"));
        assert_eq!(book.len(), 0);
    }

    #[test]
    fn orders_are_scoped_by_product_line_and_symbol() {
        let mut book = Book::default();
        book.add(order("1", None));
        assert!(!book.cancel_by_order_id(InstType::UsdtFutures, "BTCUSDT", "1"));
        assert!(!book.cancel_by_order_id(InstType::Spot, "ETHUSDT", "1"));
        assert!(book.contains(InstType::Spot, "BTCUSDT", "1"));
    }

    #[test]
    fn re_adding_an_order_replaces_it_without_leaving_stale_client_ids() {
        let mut book = Book::default();
        book.add(order("1", Some("a")));
        book.add(order("1", Some("b")));
        assert!(!book.cancel_by_client_oid(InstType::Spot, "BTCUSDT", "a"));
        assert!(book.cancel_by_client_oid(InstType::Spot, "BTCUSDT", "b"));
        assert_eq!(book.len(), 0);
    }

    #[test]
    fn generated_orders_have_unique_venue_shaped_ids() {
        let mut book = Book::default();
        let first = book.generate(InstType::UsdtFutures, "ETHUSDT", 3);
        let second = book.generate(InstType::UsdtFutures, "ETHUSDT", 2);
        let mut ids: Vec<_> = first
            .iter()
            .chain(&second)
            .map(|o| o.order_id.clone())
            .collect();
        assert!(
            ids.iter()
                .all(|id| id.len() == 19 && id.bytes().all(|b| b.is_ascii_digit()))
        );
        ids.dedup();
        assert_eq!(ids.len(), 5);
        assert_eq!(book.len(), 5);
        assert!(first.iter().all(|o| o.client_oid.is_some()));
    }
}
