//! V2 REST beyond the single cancel: order queries, batch cancels and cancel-alls, on the
//! shared book, each counted on its own rate limit per account.
//!
//! - `GET /api/v2/spot/trade/orderInfo?orderId=..|clientOid=..`: `data` a list of one order
//!   (`symbol, orderId, clientOid, price, size, status, priceAvg, baseVolume, cancelReason,
//!   cTime, uTime`); an unknown order is HTTP 400 `43001`.
//! - `GET /api/v2/mix/order/detail?symbol=..&productType=..&orderId=..|clientOid=..`: `data` an
//!   object with the state in `state` (the shape of the documented example; the field table calls
//!   it `status`), `baseVolume`, `priceAvg` (left out while nothing filled); an unknown order is
//!   HTTP 400 `40109`.
//! - `POST /api/v2/spot/trade/batch-cancel-order` (`symbol`, `orderList`; an entry may carry its
//!   own `symbol`, as with `"batchMode":"multiple"`) and `POST /api/v2/mix/order/batch-cancel-orders`
//!   (`symbol`, `productType`, `orderIdList` or `orderList`): at most 20 entries (more: HTTP 400
//!   `40306`), never orderId and clientOid mixed (HTTP 400 `40020`), an empty list 40019; reply
//!   `successList` / `failureList` (each failure with `errorCode` and `errorMsg`: 43001 spot,
//!   40768 futures).
//! - `POST /api/v2/spot/trade/cancel-symbol-order` (`symbol`): accepted at once with
//!   `data: {"symbol"}`, the orders cancelled [`SimConfig::async_cancel_delay`](super::SimConfig)
//!   later.
//! - `POST /api/v2/mix/order/cancel-all-orders` (`productType`, optional `symbol`,
//!   `marginCoin` ignored): every resting order of the account there, `successList` with their
//!   ids and an empty `failureList`.

use std::time::Instant;

use serde_json::{Value, json};

use super::activity::{BatchRecord, CancelAllRecord, push_bounded};
use super::book::OrderRef;
use super::rest_wire::{Caller, HttpRequest, Reply, admit, not_found_code, refused, success};
use super::timers::Job;
use super::{Endpoint, OrderState, Shared, lock};
use crate::intent::InstType;

pub(super) const SPOT_ORDER_INFO: &str = "/api/v2/spot/trade/orderInfo";
pub(super) const FUTURES_ORDER_DETAIL: &str = "/api/v2/mix/order/detail";
pub(super) const SPOT_BATCH: &str = "/api/v2/spot/trade/batch-cancel-order";
pub(super) const FUTURES_BATCH: &str = "/api/v2/mix/order/batch-cancel-orders";
pub(super) const SPOT_CANCEL_SYMBOL: &str = "/api/v2/spot/trade/cancel-symbol-order";
pub(super) const FUTURES_CANCEL_ALL: &str = "/api/v2/mix/order/cancel-all-orders";

/// The most entries a batch request may carry.
pub(super) const MAX_BATCH: usize = 20;

/// A futures `productType` in any case; the refusal otherwise.
fn product_type(value: Option<&str>) -> Result<InstType, Reply> {
    let Some(product) = value.filter(|v| !v.is_empty()) else {
        return Err(refused("40019", "Parameter productType cannot be empty"));
    };
    match product.to_ascii_uppercase().parse::<InstType>() {
        Ok(t) if t.is_futures() => Ok(t),
        _ => Err(refused("40020", "Parameter productType error")),
    }
}

/// `orderId` prevails over `clientOid`.
fn order_ref<'a>(order_id: Option<&'a str>, client_oid: Option<&'a str>) -> Option<OrderRef<'a>> {
    match (order_id, client_oid) {
        (Some(id), _) => Some(OrderRef::OrderId(id)),
        (None, Some(oid)) => Some(OrderRef::ClientOid(oid)),
        (None, None) => None,
    }
}

/// A V2 order query.
pub(super) fn query(shared: &Shared, caller: Caller, request: &HttpRequest, route: &str) -> Reply {
    let futures = route == FUTURES_ORDER_DETAIL;
    let (order_id, client_oid) = (request.query("orderId"), request.query("clientOid"));
    let Some(by) = order_ref(order_id.as_deref(), client_oid.as_deref()) else {
        return refused("40019", "Parameter orderId cannot be empty");
    };
    let (endpoint, found) = if futures {
        let inst_type = match product_type(request.query("productType").as_deref()) {
            Ok(t) => t,
            Err(reply) => return reply,
        };
        let Some(symbol) = request.query("symbol") else {
            return refused("40019", "Parameter symbol cannot be empty");
        };
        (
            Endpoint::FuturesOrderDetail,
            find(shared, caller.uid, |book| {
                book.locate(inst_type, &symbol, by)
            }),
        )
    } else {
        (
            Endpoint::SpotOrderInfo,
            find(shared, caller.uid, |book| {
                book.locate_any_symbol(caller.uid, &[InstType::Spot], by)
            }),
        )
    };
    if let Err(reply) = admit(shared, caller.uid, endpoint) {
        return reply;
    }
    shared.note(|a| *a.order_queries.entry(endpoint).or_default() += 1);
    match (found, futures) {
        (None, false) => refused("43001", "The order does not exist"),
        (None, true) => refused(
            "40109",
            "The data of the order cannot be found, please confirm the order number",
        ),
        (Some(order), false) => success(json!([spot_info(&order)])),
        (Some(order), true) => success(futures_detail(&order)),
    }
}

/// The order `locate` finds, if it belongs to account `uid`.
fn find(
    shared: &Shared,
    uid: u64,
    locate: impl FnOnce(&super::book::Book) -> Option<super::book::Key>,
) -> Option<OrderState> {
    let book = lock(&shared.book);
    let key = locate(&book)?;
    book.get(&key)
        .filter(|o| o.uid() == uid)
        .map(super::book::Order::state)
}

fn spot_info(order: &OrderState) -> Value {
    json!({
        "userId": order.uid.to_string(),
        "symbol": order.inst_id,
        "orderId": order.order_id,
        "clientOid": order.client_oid,
        "price": order.price,
        "size": order.size,
        "orderType": "limit",
        "status": order.status.v2_wire(order.inst_type),
        "priceAvg": order.price_avg.clone().unwrap_or_else(|| "0".into()),
        "baseVolume": order.filled,
        "cancelReason": order.cancel_reason,
        "cTime": order.c_time_ms.to_string(),
        "uTime": order.u_time_ms.to_string(),
    })
}

fn futures_detail(order: &OrderState) -> Value {
    let mut detail = json!({
        "symbol": order.inst_id,
        "productType": order.inst_type.as_str(),
        "orderId": order.order_id,
        "clientOid": order.client_oid,
        "price": order.price,
        "size": order.size,
        "orderType": "limit",
        "state": order.status.v2_wire(order.inst_type),
        "baseVolume": order.filled,
        "cancelReason": order.cancel_reason,
        "cTime": order.c_time_ms.to_string(),
        "uTime": order.u_time_ms.to_string(),
    });
    if let (Some(avg), Some(map)) = (&order.price_avg, detail.as_object_mut()) {
        map.insert("priceAvg".into(), avg.clone().into());
    }
    detail
}

/// A V2 batch cancel.
pub(super) fn batch(shared: &Shared, caller: Caller, request: &HttpRequest, route: &str) -> Reply {
    let futures = route == FUTURES_BATCH;
    let Some(Value::Object(body)) = request.json() else {
        return refused("40020", "Parameter error");
    };
    let text = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let (inst_type, endpoint) = if futures {
        match product_type(text("productType")) {
            Ok(t) => (t, Endpoint::FuturesBatchCancel),
            Err(reply) => return reply,
        }
    } else {
        (InstType::Spot, Endpoint::SpotBatchCancel)
    };
    let list_name = if futures && body.contains_key("orderIdList") {
        "orderIdList"
    } else {
        "orderList"
    };
    let Some(list) = body
        .get(list_name)
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
    else {
        return refused("40019", &format!("Parameter {list_name} cannot be empty"));
    };
    if list.len() > MAX_BATCH {
        return refused("40306", "Batch requests take at most 20 orders");
    }
    let entry_text = |entry: &Value, name: &str| {
        entry
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let entries: Vec<(Option<String>, Option<String>, Option<String>)> = list
        .iter()
        .map(|e| {
            (
                entry_text(e, "orderId"),
                entry_text(e, "clientOid"),
                entry_text(e, "symbol").or_else(|| text("symbol").map(str::to_owned)),
            )
        })
        .collect();
    if entries
        .iter()
        .any(|(id, oid, _)| id.is_none() && oid.is_none())
    {
        return refused("40019", "Parameter orderId cannot be empty");
    }
    if entries.iter().any(|(_, _, symbol)| symbol.is_none()) {
        return refused("40019", "Parameter symbol cannot be empty");
    }
    let by_order_id = entries.iter().filter(|(id, _, _)| id.is_some()).count();
    if by_order_id != 0 && by_order_id != entries.len() {
        return refused(
            "40020",
            "Parameter error: orderId and clientOid cannot be mixed in one batch",
        );
    }
    if let Err(reply) = admit(shared, caller.uid, endpoint) {
        return reply;
    }
    let (code, msg) = not_found_code(inst_type);
    let mut success_list = Vec::new();
    let mut failure_list = Vec::new();
    for (order_id, client_oid, symbol) in &entries {
        let symbol = symbol.as_deref().unwrap_or("");
        let by = order_ref(order_id.as_deref(), client_oid.as_deref());
        let cancelled = by.and_then(|by| {
            shared.cancel_one(caller.uid, |book| book.locate(inst_type, symbol, by))
        });
        match cancelled {
            Some(order) => {
                success_list
                    .push(json!({"orderId": order.order_id, "clientOid": order.client_oid}));
            }
            None => failure_list.push(json!({
                "orderId": order_id, "clientOid": client_oid, "errorMsg": msg, "errorCode": code,
            })),
        }
    }
    let record = BatchRecord {
        endpoint,
        uid: caller.uid,
        size: entries.len(),
        cancelled: success_list.len(),
        by_order_id: by_order_id != 0,
    };
    shared.note(|a| push_bounded(&mut a.batches, shared.config.record_limit, record));
    success(json!({"successList": success_list, "failureList": failure_list}))
}

/// Spot `cancel-symbol-order`: accepted now, carried out later.
pub(super) fn cancel_symbol(
    shared: &Shared,
    caller: Caller,
    request: &HttpRequest,
    _: &str,
) -> Reply {
    let symbol = request
        .json()
        .and_then(|body| {
            body.get("symbol")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .filter(|s| !s.is_empty());
    let Some(symbol) = symbol else {
        return refused("40019", "Parameter symbol cannot be empty");
    };
    if let Err(reply) = admit(shared, caller.uid, Endpoint::SpotCancelSymbol) {
        return reply;
    }
    shared.timers.schedule(
        Instant::now() + shared.config.async_cancel_delay,
        Job::CancelSymbol {
            uid: caller.uid,
            symbol: symbol.clone(),
        },
    );
    success(json!({"symbol": symbol}))
}

/// Futures `cancel-all-orders`.
pub(super) fn cancel_all(shared: &Shared, caller: Caller, request: &HttpRequest, _: &str) -> Reply {
    let body = request.json().unwrap_or(Value::Null);
    let text = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let inst_type = match product_type(text("productType")) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    let symbol = text("symbol").map(str::to_owned);
    if let Err(reply) = admit(shared, caller.uid, Endpoint::FuturesCancelAll) {
        return reply;
    }
    let cancelled = shared.cancel_all_where(caller.uid, |o| {
        o.inst_type() == inst_type && symbol.as_deref().is_none_or(|s| s == o.inst_id())
    });
    let record = CancelAllRecord {
        endpoint: Endpoint::FuturesCancelAll,
        uid: caller.uid,
        inst_type: Some(inst_type),
        symbol,
        cancelled: cancelled.len(),
    };
    shared.note(|a| push_bounded(&mut a.cancel_alls, shared.config.record_limit, record));
    let success_list: Vec<Value> = cancelled
        .iter()
        .map(|o| json!({"orderId": o.order_id, "clientOid": o.client_oid}))
        .collect();
    success(json!({"successList": success_list, "failureList": []}))
}
