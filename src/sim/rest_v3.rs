//! V3 (unified account) REST: cancels, batch, cancel-all of a category, the order query, the
//! account settings and the countdown (dead man's switch). A classic key gets HTTP 400 `40084`
//! on each (checked after the signature).
//!
//! - `POST /api/v3/trade/cancel-order` (`orderId` or `clientOid`, optional `category` in either
//!   case): `data` `{orderId, clientOid}`; an unknown order HTTP 400 `25204`.
//! - `POST /api/v3/trade/cancel-batch`: a JSON list of `{orderId|clientOid, category, symbol}`
//!   (or `{"orderList":[...]}`), at most 20 (`40306`), never mixed (`40020`): `data` a list
//!   with a `code` per entry (`"0"`, or `"25204"`), like the WebSocket batch.
//! - `POST /api/v3/trade/cancel-symbol-order` (`category` uppercase, e.g. `USDT-FUTURES`, a
//!   lowercase one is `40020`; optional `symbol`): synchronous, `data` `{"list":[...]}` of the
//!   cancelled orders, each with `code` `"0"` (the venue's shape is not documented; the
//!   engine reads this and a bare list alike).
//!
//! Both batch and cancel-all endpoints are limited (5/s each per account, with the documented
//! limits on) and faulted ([`RestFaults`](super::RestFaults) `fail_batches`,
//! `fail_cancel_alls`) as V2's are.
//! - `GET /api/v3/trade/order-info?orderId=..|clientOid=..`: `data` an object with the order
//!   topic's fields (`orderStatus`, `cumExecQty`, `avgPrice`, ...); unknown: HTTP 400 `25204`.
//! - `GET /api/v3/account/settings`: success for a unified key (`data.accountMode` `unified`).
//! - `POST /api/v3/trade/countdown-cancel-all` (`{"countdown":"10"}`: 5 to 60 seconds, `"0"`
//!   off; anything else `40020`): when it runs out every resting order of the account is
//!   cancelled and the countdown is off.

use std::time::Duration;

use serde_json::{Value, json};

use super::activity::{BatchRecord, CancelAllRecord, CountdownArm, push_bounded};
use super::book::OrderRef;
use super::feed::v3_entry;
use super::rest_wire::{Caller, HttpRequest, Reply, admit, refused, success};
use super::v3::{self, lowercase_category};
use super::{Endpoint, OrderState, Shared, lock};
use crate::clock::monotonic_ns;
use crate::intent::InstType;

pub(super) const CANCEL_ORDER: &str = "/api/v3/trade/cancel-order";
pub(super) const CANCEL_BATCH: &str = "/api/v3/trade/cancel-batch";
pub(super) const CANCEL_SYMBOL: &str = "/api/v3/trade/cancel-symbol-order";
pub(super) const ORDER_INFO: &str = "/api/v3/trade/order-info";
pub(super) const SETTINGS: &str = "/api/v3/account/settings";
pub(super) const COUNTDOWN: &str = "/api/v3/trade/countdown-cancel-all";

fn not_found() -> Reply {
    let (code, msg) = v3::codes::NOT_FOUND;
    refused(code, msg)
}

/// The product lines of an optional category in either case; the refusal for an unknown one.
fn categories(category: Option<&str>) -> Result<Vec<InstType>, Reply> {
    match category.filter(|c| !c.is_empty()) {
        None => Ok(InstType::ALL.to_vec()),
        Some(c) => lowercase_category(&c.to_ascii_lowercase())
            .ok_or_else(|| refused("40020", "Parameter category error")),
    }
}

fn text<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value
        .get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

fn order_ref<'a>(value: &'a Value) -> Option<OrderRef<'a>> {
    match (text(value, "orderId"), text(value, "clientOid")) {
        (Some(id), _) => Some(OrderRef::OrderId(id)),
        (None, Some(oid)) => Some(OrderRef::ClientOid(oid)),
        (None, None) => None,
    }
}

fn ids(order: &OrderState) -> Value {
    json!({"orderId": order.order_id, "clientOid": order.client_oid})
}

pub(super) fn cancel_order(
    shared: &Shared,
    caller: Caller,
    request: &HttpRequest,
    _: &str,
) -> Reply {
    let body = request.json().unwrap_or(Value::Null);
    let inst_types = match categories(text(&body, "category")) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    let Some(by) = order_ref(&body) else {
        return refused("40019", "Parameter orderId cannot be empty");
    };
    if let Err(reply) = admit(shared, caller.uid, Endpoint::V3CancelOrder) {
        return reply;
    }
    shared.rest.count(|s| s.cancels += 1);
    match shared.cancel_one(caller.uid, |book| {
        book.locate_any_symbol(caller.uid, &inst_types, by)
    }) {
        Some(order) => {
            shared.rest.count(|s| s.cancels_acked += 1);
            success(ids(&order))
        }
        None => not_found(),
    }
}

pub(super) fn cancel_batch(
    shared: &Shared,
    caller: Caller,
    request: &HttpRequest,
    _: &str,
) -> Reply {
    let body = request.json().unwrap_or(Value::Null);
    let list = match &body {
        Value::Array(list) => list.clone(),
        other => other
            .get("orderList")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    };
    if list.is_empty() {
        return refused("40019", "Parameter orderList cannot be empty");
    }
    if list.len() > v3::MAX_BATCH {
        return refused("40306", "Batch requests take at most 20 orders");
    }
    if list.iter().any(|e| order_ref(e).is_none()) {
        return refused("40019", "Parameter orderId cannot be empty");
    }
    let by_order_id = list.iter().filter(|e| text(e, "orderId").is_some()).count();
    if by_order_id != 0 && by_order_id != list.len() {
        return refused(
            "40020",
            "Parameter error: orderId and clientOid cannot be mixed in one batch",
        );
    }
    let mut scopes = Vec::with_capacity(list.len());
    for entry in &list {
        match categories(text(entry, "category")) {
            Ok(t) => scopes.push(t),
            Err(reply) => return reply,
        }
    }
    if let Err(reply) = admit(shared, caller.uid, Endpoint::V3CancelBatch) {
        return reply;
    }
    let mut cancelled = 0;
    let results: Vec<Value> = list
        .iter()
        .zip(&scopes)
        .map(|(entry, inst_types)| {
            let symbol = text(entry, "symbol");
            let by = order_ref(entry);
            let found = by.and_then(|by| {
                shared.cancel_one(caller.uid, |book| {
                    book.locate_any_symbol(caller.uid, inst_types, by)
                        .filter(|key| symbol.is_none_or(|s| s == key.1))
                })
            });
            match found {
                Some(order) => {
                    cancelled += 1;
                    json!({"orderId": order.order_id, "clientOid": order.client_oid, "code": "0", "msg": "success"})
                }
                None => {
                    let (code, msg) = v3::codes::NOT_FOUND;
                    json!({"orderId": text(entry, "orderId"), "clientOid": text(entry, "clientOid"), "code": code, "msg": msg})
                }
            }
        })
        .collect();
    let record = BatchRecord {
        endpoint: Endpoint::V3CancelBatch,
        uid: caller.uid,
        size: list.len(),
        cancelled,
        by_order_id: by_order_id != 0,
    };
    shared.note(|a| push_bounded(&mut a.batches, shared.config.record_limit, record));
    success(Value::Array(results))
}

pub(super) fn cancel_symbol(
    shared: &Shared,
    caller: Caller,
    request: &HttpRequest,
    _: &str,
) -> Reply {
    let body = request.json().unwrap_or(Value::Null);
    let Some(category) = text(&body, "category") else {
        return refused("40019", "Parameter category cannot be empty");
    };
    let inst_types = match lowercase_category(&category.to_ascii_lowercase()) {
        Some(t) if category.bytes().all(|b| !b.is_ascii_lowercase()) => t,
        _ => return refused("40020", "Parameter category error"),
    };
    let symbol = text(&body, "symbol").map(str::to_owned);
    if let Err(reply) = admit(shared, caller.uid, Endpoint::V3CancelSymbol) {
        return reply;
    }
    let cancelled = shared.cancel_all_where(caller.uid, |o| {
        inst_types.contains(&o.inst_type()) && symbol.as_deref().is_none_or(|s| s == o.inst_id())
    });
    let record = CancelAllRecord {
        endpoint: Endpoint::V3CancelSymbol,
        uid: caller.uid,
        inst_type: inst_types.first().copied(),
        symbol,
        cancelled: cancelled.len(),
    };
    shared.note(|a| push_bounded(&mut a.cancel_alls, shared.config.record_limit, record));
    let list: Vec<Value> = cancelled
        .iter()
        .map(|o| json!({"orderId": o.order_id, "clientOid": o.client_oid, "code": "0", "msg": "success"}))
        .collect();
    success(json!({ "list": list }))
}

pub(super) fn order_info(shared: &Shared, caller: Caller, request: &HttpRequest, _: &str) -> Reply {
    let inst_types = match categories(request.query("category").as_deref()) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    let (order_id, client_oid) = (request.query("orderId"), request.query("clientOid"));
    let by = match (&order_id, &client_oid) {
        (Some(id), _) => OrderRef::OrderId(id),
        (None, Some(oid)) => OrderRef::ClientOid(oid),
        (None, None) => return refused("40019", "Parameter orderId cannot be empty"),
    };
    if let Err(reply) = admit(shared, caller.uid, Endpoint::V3OrderInfo) {
        return reply;
    }
    shared.note(|a| *a.order_queries.entry(Endpoint::V3OrderInfo).or_default() += 1);
    let book = lock(&shared.book);
    let found = book
        .locate_any_symbol(caller.uid, &inst_types, by)
        .and_then(|key| book.get(&key).map(super::book::Order::state));
    drop(book);
    match found {
        Some(order) => success(Value::Object(v3_entry(&order))),
        None => not_found(),
    }
}

pub(super) fn settings(_: &Shared, caller: Caller, _: &HttpRequest, _: &str) -> Reply {
    success(json!({"accountMode": "unified", "userId": caller.uid.to_string()}))
}

pub(super) fn countdown(shared: &Shared, caller: Caller, request: &HttpRequest, _: &str) -> Reply {
    let body = request.json().unwrap_or(Value::Null);
    let seconds = text(&body, "countdown")
        .filter(|t| t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|s| *s == 0 || (5..=60).contains(s));
    let Some(seconds) = seconds else {
        return refused(
            "40020",
            "Parameter countdown error: 5 to 60, or 0 to turn it off",
        );
    };
    if let Err(reply) = admit(shared, caller.uid, Endpoint::V3Countdown) {
        return reply;
    }
    let after = (seconds > 0).then(|| Duration::from_secs(seconds));
    shared.timers.arm_countdown(caller.uid, after);
    let arm = CountdownArm {
        uid: caller.uid,
        seconds,
        at_ns: monotonic_ns(),
    };
    shared.note(|a| push_bounded(&mut a.countdown_arms, shared.config.record_limit, arm));
    success(Value::Null)
}
