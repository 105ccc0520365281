//! `SimVenue`: the simulated venue in this process, so a Python user tests offline as a Rust user
//! does. Its orders are listed in `bitget-cancel run`'s input format
//! (`bitget_cancel::jsonl::CancelLine`), like the lines `bitget-cancel sim --generate` prints.

use std::sync::Mutex;

use bitget_cancel::InstType;
use bitget_cancel::jsonl::CancelLine;
use bitget_cancel::sim::{Faults, FillBeforeCancel, OrderState, SimConfig, SimVenue};
use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyType};

use crate::fork::Birth;

/// The symbol generated orders rest on, as for `bitget-cancel sim --generate`.
const SYMBOL: &str = "BTCUSDT";

/// A stand-in for Bitget on loopback (TLS with a CA of its own, the venue's login, replies,
/// limits and error codes), running on threads of this process until ``close()``.
///
/// ``SimVenue(generate=0, max_messages_per_second=10)``: ``generate`` resting orders, half SPOT
/// and half USDT-FUTURES on BTCUSDT, listed in ``orders``; ``max_messages_per_second`` per
/// connection (the live venue's 10; 0: no limit). Its credentials are ``"sim-key"``,
/// ``"sim-secret"``, ``"sim-passphrase"``.
#[pyclass(module = "bitget_cancel", name = "SimVenue", frozen)]
pub(crate) struct PySimVenue {
    venue: Mutex<Option<SimVenue>>,
    ws_url: String,
    rest_url: String,
    ca_pem: String,
    orders: Vec<CancelLine>,
    birth: Birth,
}

#[pymethods]
impl PySimVenue {
    #[new]
    #[pyo3(signature = (generate=0, max_messages_per_second=10))]
    fn new(py: Python<'_>, generate: usize, max_messages_per_second: u32) -> PyResult<Self> {
        let config = SimConfig {
            max_messages_per_second,
            ..SimConfig::default()
        };
        let venue = py
            .detach(|| SimVenue::start(config))
            .map_err(|e| PyOSError::new_err(format!("cannot start the simulated venue: {e}")))?;
        let mut seeded = venue.seed_orders(InstType::Spot, SYMBOL, generate.div_ceil(2));
        seeded.extend(venue.seed_orders(InstType::UsdtFutures, SYMBOL, generate / 2));
        let orders = seeded
            .iter()
            .map(|o| {
                let line = CancelLine::new(o.inst_type, o.inst_id.clone())
                    .with_order_id(o.order_id.clone());
                match &o.client_oid {
                    Some(c) => line.with_client_oid(c.clone()),
                    None => line,
                }
            })
            .collect();
        Ok(PySimVenue {
            ws_url: venue.url(),
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
            // The fields `CancelLine` writes, in its order (instType, instId, orderId,
            // clientOid), read back from its JSON so that the two never disagree.
            let d = PyDict::new(py);
            let json: serde_json::Value = serde_json::from_str(&line.to_json())
                .map_err(|e| PyOSError::new_err(format!("order line: {e}")))?;
            for key in ["instType", "instId", "orderId", "clientOid", "id"] {
                if let Some(serde_json::Value::String(text)) = json.get(key) {
                    d.set_item(key, text)?;
                }
            }
            list.append(d)?;
        }
        Ok(list)
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
