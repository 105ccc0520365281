//! `SimVenue`: the simulated venue in this process, so a Python user tests offline as a Rust user
//! does. Its orders are listed in `bitget-cancel run`'s input format
//! (`bitget_cancel::jsonl::CancelLine`), like the lines `bitget-cancel sim --generate` prints.

use std::sync::Mutex;

use bitget_cancel::InstType;
use bitget_cancel::jsonl::CancelLine;
use bitget_cancel::sim::{
    AccountMode, Activity, Faults, FillBeforeCancel, MAIN_UID, OrderState, RestingOrder, SimConfig,
    SimKey, SimLimits, SimVenue,
};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyType};

use crate::fork::Birth;

/// The symbol generated orders rest on, as for `bitget-cancel sim --generate`.
const SYMBOL: &str = "BTCUSDT";

/// A stand-in for Bitget on loopback (TLS with a CA of its own, the venue's login, replies,
/// limits and error codes), running on threads of this process until ``close()``.
///
/// ``SimVenue(generate=0, max_messages_per_second=10, account="classic", keys=None)``:
/// ``generate`` resting orders, half SPOT and half USDT-FUTURES on BTCUSDT, listed in
/// ``orders``; ``max_messages_per_second`` per connection (the live venue's 10; 0: no limit).
/// Its credentials are ``"sim-key"``, ``"sim-secret"``, ``"sim-passphrase"``, for an account
/// that is ``account`` (``"classic"``: V2 serves it and V3 refuses it with 40084;
/// ``"unified"``: V3 serves it and V2 refuses it with 40085). ``keys``: more keys the venue
/// accepts, each a dict with ``api_key``, ``secret``, ``passphrase``, and optionally ``account``
/// (default ``"classic"``) and ``uid`` (the account it trades for; default the main key's, 1, so
/// it sees the same orders). ``limits=True`` enforces the live venue's documented per-account
/// limits of every endpoint (10 cancels a second, the batch and cancel-all endpoints' own),
/// answering over them with its rate-limit errors (``activity()["rate_limited"]`` counts them);
/// by default only ``max_messages_per_second`` holds.
#[pyclass(module = "bitget_cancel", name = "SimVenue", frozen)]
pub(crate) struct PySimVenue {
    venue: Mutex<Option<SimVenue>>,
    ws_url: String,
    uta_url: String,
    rest_url: String,
    ca_pem: String,
    orders: Vec<CancelLine>,
    birth: Birth,
}

#[pymethods]
impl PySimVenue {
    #[new]
    #[pyo3(signature = (
        generate=0, max_messages_per_second=10, account="classic", keys=None, limits=false
    ))]
    fn new(
        py: Python<'_>,
        generate: usize,
        max_messages_per_second: u32,
        account: &str,
        keys: Option<Vec<Bound<'_, PyDict>>>,
        limits: bool,
    ) -> PyResult<Self> {
        let config = SimConfig {
            max_messages_per_second,
            limits: limits.then(SimLimits::default),
            account_mode: account_mode(account)?,
            extra_keys: keys
                .unwrap_or_default()
                .iter()
                .map(sim_key)
                .collect::<PyResult<_>>()?,
            ..SimConfig::default()
        };
        let venue = py
            .detach(|| SimVenue::start(config))
            .map_err(|e| PyOSError::new_err(format!("cannot start the simulated venue: {e}")))?;
        let mut seeded = venue.seed_orders(InstType::Spot, SYMBOL, generate.div_ceil(2));
        seeded.extend(venue.seed_orders(InstType::UsdtFutures, SYMBOL, generate / 2));
        let orders = seeded.iter().map(order_line).collect();
        Ok(PySimVenue {
            ws_url: venue.url(),
            uta_url: venue.v3_url(),
            rest_url: venue.rest_url(),
            ca_pem: venue.ca_pem().to_owned(),
            venue: Mutex::new(Some(venue)),
            orders,
            birth: Birth::now(),
        })
    }

    /// The private WebSocket URL, ``wss://localhost:PORT/v2/ws/private``: ``Engine(url=...)``.
    #[getter]
    fn ws_url(&self) -> &str {
        &self.ws_url
    }

    /// The unified account's (V3) private WebSocket URL, ``wss://localhost:PORT/v3/ws/private``
    /// (same port and CA as ``ws_url``): ``Engine(uta_url=...)``.
    #[getter]
    fn uta_url(&self) -> &str {
        &self.uta_url
    }

    /// The REST base URL, ``https://localhost:PORT``: ``Engine(rest_url=...)``.
    #[getter]
    fn rest_url(&self) -> &str {
        &self.rest_url
    }

    /// The CA certificate (PEM) the venue's certificates are signed with: ``Engine(ca_pem=...)``.
    #[getter]
    fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The generated orders, in ``bitget-cancel run``'s input format: a list of dicts with
    /// ``instType``, ``instId``, ``orderId``, ``clientOid`` (a new list each time).
    #[getter]
    fn orders<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for line in &self.orders {
            list.append(line_dict(py, line)?)?;
        }
        Ok(list)
    }

    /// Puts ``n`` more resting orders on the book of the main key's account, on ``inst_type``
    /// and ``inst_id``, and returns them like ``orders`` (which lists the generated ones only).
    /// Raises ``ValueError`` for a product line or symbol the venue would not take.
    #[pyo3(signature = (inst_type, inst_id, n=1))]
    fn seed_orders<'py>(
        &self,
        py: Python<'py>,
        inst_type: &str,
        inst_id: &str,
        n: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let inst_type: InstType = inst_type
            .parse()
            .map_err(|e: bitget_cancel::InvalidField| PyValueError::new_err(e.to_string()))?;
        bitget_cancel::InstId::new(inst_id).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let seeded = self.with_venue(|venue| venue.seed_orders(inst_type, inst_id, n))?;
        let list = PyList::empty(py);
        for o in &seeded {
            list.append(line_dict(py, &order_line(o))?)?;
        }
        Ok(list)
    }

    /// How many orders rest on the venue's book now, every account's.
    fn resting_orders(&self) -> PyResult<usize> {
        self.with_venue(SimVenue::resting_orders)
    }

    /// The order as the venue has it now (resting or final; see ``fill``), or None when the
    /// venue never had it.
    fn order<'py>(
        &self,
        py: Python<'py>,
        inst_type: &str,
        inst_id: &str,
        order_id: &str,
    ) -> PyResult<Option<Bound<'py, PyDict>>> {
        let inst_type: InstType = inst_type
            .parse()
            .map_err(|e: bitget_cancel::InvalidField| PyValueError::new_err(e.to_string()))?;
        let state = self.with_venue(|venue| venue.order(inst_type, inst_id, order_id))?;
        state.map(|o| order_dict(py, &o)).transpose()
    }

    /// A scripted taker: fills ``size`` (a decimal string; None: all that is left) of a resting
    /// order and pushes the change to the subscribed connections, as a market would. Returns
    /// the order as the venue now has it: a dict with ``instType``, ``instId``, ``orderId``,
    /// ``clientOid``, ``status`` (``"partially_filled"`` or ``"filled"``), ``size``,
    /// ``filled``, ``priceAvg``. Raises ``ValueError`` for an order that is not resting or a
    /// size that does not fit.
    #[pyo3(signature = (inst_type, inst_id, order_id, size=None))]
    fn fill<'py>(
        &self,
        py: Python<'py>,
        inst_type: &str,
        inst_id: &str,
        order_id: &str,
        size: Option<&str>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let inst_type: InstType = inst_type
            .parse()
            .map_err(|e: bitget_cancel::InvalidField| PyValueError::new_err(e.to_string()))?;
        let state = self.with_venue(|venue| venue.fill(inst_type, inst_id, order_id, size))?;
        let state = state.map_err(|e| PyValueError::new_err(format!("cannot fill: {e}")))?;
        order_dict(py, &state)
    }

    /// A fault, from now on: the order the ``nth`` cancel (1: the next one) names fills just
    /// before the cancel reaches it (``size``: how much; None: all that is left). With all of
    /// it, the cancel finds it gone (rejected, 43001) and its final word is ``"filled"``; with
    /// part, the cancel succeeds and its final word is ``"cancelled"`` with that much filled.
    /// Fires once; replaces any fault set before.
    #[pyo3(signature = (nth=1, size=None))]
    fn fill_before_cancel(&self, nth: u64, size: Option<String>) -> PyResult<()> {
        if nth == 0 {
            return Err(PyValueError::new_err("nth counts from 1"));
        }
        self.with_venue(|venue| {
            venue.set_faults(Faults {
                fill_before_cancel: Some(FillBeforeCancel { nth, size }),
                ..Faults::none()
            })
        })
    }

    /// Switches the account behind ``api_key`` to ``account`` (``"classic"`` or ``"unified"``)
    /// from now on, so that its next request in the other API is refused (40085 on V2, 40084
    /// on V3). False when the venue has no such key.
    fn set_account(&self, api_key: &str, account: &str) -> PyResult<bool> {
        let mode = account_mode(account)?;
        self.with_venue(|venue| venue.set_account_mode(api_key, mode))
    }

    /// The account kind behind ``api_key`` (``"classic"`` or ``"unified"``), or None when the
    /// venue has no such key.
    fn account(&self, api_key: &str) -> PyResult<Option<&'static str>> {
        self.with_venue(|venue| venue.account_mode(api_key).map(AccountMode::as_str))
    }

    /// Seconds left on account ``uid``'s dead man's switch (``countdown-cancel-all``), or None
    /// when it is not armed. The main key's account is 1.
    #[pyo3(signature = (uid=MAIN_UID))]
    fn countdown_left(&self, uid: u64) -> PyResult<Option<f64>> {
        self.with_venue(|venue| venue.countdown_left(uid).map(|d| d.as_secs_f64()))
    }

    /// What the venue saw beyond single cancels, as a dict: ``mode_refusals`` (requests
    /// refused for the account's kind: 40084 on V3, 40085 on V2), ``countdown_arms`` (a list
    /// of ``{"uid", "seconds"}``, oldest first; 0 seconds turned it off), ``batches`` (a list of
    /// ``{"endpoint", "size", "cancelled", "by_order_id"}``), ``cancel_alls`` (a list of
    /// ``{"endpoint", "instType", "instId", "cancelled"}``) and ``rate_limited`` (requests
    /// refused for a rate limit).
    fn activity<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let a = self.with_venue(SimVenue::activity)?;
        activity_dict(py, &a)
    }

    /// The messages the venue received, oldest first: a list of dicts with ``conn`` (1 for the
    /// first connection it accepted, then 2, ...) and ``text`` (the payload).
    fn received<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let frames = self.with_venue(SimVenue::received)?;
        let list = PyList::empty(py);
        for f in frames {
            let d = PyDict::new(py);
            d.set_item("conn", f.conn)?;
            d.set_item("text", f.text)?;
            list.append(d)?;
        }
        Ok(list)
    }

    /// Stops accepting, closes every connection and joins the venue's threads (the GIL
    /// released). Idempotent.
    fn close(&self, py: Python<'_>) {
        let venue = self.venue.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(venue) = venue {
            if self.birth.forked_since() {
                std::mem::forget(venue);
            } else {
                py.detach(|| venue.shutdown());
            }
        }
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _kind: Option<&Bound<'_, PyType>>,
        _value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "SimVenue(ws_url='{}', rest_url='{}', orders={})",
            self.ws_url,
            self.rest_url,
            self.orders.len()
        )
    }
}

impl PySimVenue {
    /// Runs `f` on the venue, unless it is closed.
    fn with_venue<T>(&self, f: impl FnOnce(&SimVenue) -> T) -> PyResult<T> {
        let venue = self.venue.lock().unwrap_or_else(|p| p.into_inner());
        match venue.as_ref() {
            Some(venue) => Ok(f(venue)),
            None => Err(PyValueError::new_err("the simulated venue is closed")),
        }
    }
}

/// A resting order as a line of `run`'s input.
fn order_line(o: &RestingOrder) -> CancelLine {
    let line = CancelLine::new(o.inst_type, o.inst_id.clone()).with_order_id(o.order_id.clone());
    match &o.client_oid {
        Some(c) => line.with_client_oid(c.clone()),
        None => line,
    }
}

/// An input line as a dict: the fields `CancelLine` writes, in its order (instType, instId,
/// orderId, clientOid), read back from its JSON so that the two never disagree.
fn line_dict<'py>(py: Python<'py>, line: &CancelLine) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let json: serde_json::Value = serde_json::from_str(&line.to_json())
        .map_err(|e| PyOSError::new_err(format!("order line: {e}")))?;
    for key in ["instType", "instId", "orderId", "clientOid", "id"] {
        if let Some(serde_json::Value::String(text)) = json.get(key) {
            d.set_item(key, text)?;
        }
    }
    Ok(d)
}

/// `"classic"` or `"unified"`.
fn account_mode(word: &str) -> PyResult<AccountMode> {
    word.parse()
        .map_err(|e: String| PyValueError::new_err(format!("account: {e}")))
}

/// One of `SimVenue(keys=...)`.
fn sim_key(d: &Bound<'_, PyDict>) -> PyResult<SimKey> {
    let text = |key: &str| -> PyResult<String> {
        d.get_item(key)?
            .ok_or_else(|| PyValueError::new_err(format!("a key needs {key:?}")))?
            .extract()
    };
    for key in d.keys() {
        let key: String = key.extract()?;
        if !["api_key", "secret", "passphrase", "account", "uid"].contains(&key.as_str()) {
            return Err(PyValueError::new_err(format!(
                "a key has no {key:?}: api_key, secret, passphrase, account, uid"
            )));
        }
    }
    Ok(SimKey {
        api_key: text("api_key")?,
        secret: text("secret")?,
        passphrase: text("passphrase")?,
        uid: match d.get_item("uid")? {
            Some(uid) => uid.extract()?,
            None => MAIN_UID,
        },
        mode: match d.get_item("account")? {
            Some(word) => account_mode(&word.extract::<String>()?)?,
            None => AccountMode::Classic,
        },
    })
}

/// `SimVenue.activity()`.
fn activity_dict<'py>(py: Python<'py>, a: &Activity) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("mode_refusals", a.mode_refusals)?;
    let arms = PyList::empty(py);
    for arm in &a.countdown_arms {
        let e = PyDict::new(py);
        e.set_item("uid", arm.uid)?;
        e.set_item("seconds", arm.seconds)?;
        arms.append(e)?;
    }
    d.set_item("countdown_arms", arms)?;
    let batches = PyList::empty(py);
    for b in &a.batches {
        let e = PyDict::new(py);
        e.set_item("endpoint", b.endpoint.name())?;
        e.set_item("size", b.size)?;
        e.set_item("cancelled", b.cancelled)?;
        e.set_item("by_order_id", b.by_order_id)?;
        batches.append(e)?;
    }
    d.set_item("batches", batches)?;
    let alls = PyList::empty(py);
    for c in &a.cancel_alls {
        let e = PyDict::new(py);
        e.set_item("endpoint", c.endpoint.name())?;
        e.set_item("instType", c.inst_type.map(InstType::as_str))?;
        e.set_item("instId", c.symbol.as_deref())?;
        e.set_item("cancelled", c.cancelled)?;
        alls.append(e)?;
    }
    d.set_item("cancel_alls", alls)?;
    d.set_item("rate_limited", a.rate_limited_total())?;
    Ok(d)
}

/// An order's state as a dict, in the venue's field names.
fn order_dict<'py>(py: Python<'py>, o: &OrderState) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("instType", o.inst_type.as_str())?;
    d.set_item("instId", &o.inst_id)?;
    d.set_item("orderId", &o.order_id)?;
    d.set_item("clientOid", o.client_oid.as_deref())?;
    d.set_item("status", o.status.v3_wire())?;
    d.set_item("size", &o.size)?;
    d.set_item("filled", &o.filled)?;
    d.set_item("priceAvg", o.price_avg.as_deref())?;
    Ok(d)
}

impl Drop for PySimVenue {
    fn drop(&mut self) {
        let venue = self
            .venue
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(venue) = venue {
            if self.birth.forked_since() {
                std::mem::forget(venue);
            } else {
                Python::attach(|py| py.detach(|| drop(venue)));
            }
        }
    }
}
