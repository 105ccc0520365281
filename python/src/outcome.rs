//! `Outcome`: one cancel's outcome, frozen, in the words `bitget-cancel run` prints
//! (`bitget_cancel::jsonl::OutcomeLine`). Fields are made into Python objects when read.

use bitget_cancel::jsonl::OutcomeLine;
use bitget_cancel::{Outcome, Via};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// What became of one accepted cancel: exactly one per cancel.
///
/// `status` is `"acked"` (the venue received the cancel), `"rejected"` (the venue's `code` and
/// `msg`), `"unknown"` (sent, no reply: the order may or may not be cancelled) or `"not_sent"`;
/// `reason` says why for the last two (`"ack_timeout"`, `"queue_timeout"`, `"shutdown"`, ...).
#[pyclass(module = "bitget_cancel", name = "Outcome", frozen, eq)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PyOutcome {
    pub(crate) inner: Outcome,
}

impl PyOutcome {
    pub(crate) fn new(inner: Outcome) -> Self {
        PyOutcome { inner }
    }

    fn line(&self) -> OutcomeLine {
        OutcomeLine::from_outcome(0, &self.inner)
    }
}

fn via<'py>(py: Python<'py>, via: Option<Via>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match via {
        Some(Via::Connection(n)) => n.into_pyobject(py)?.into_any(),
        Some(Via::Rest) => "rest".into_pyobject(py)?.into_any(),
        None => py.None().into_bound(py),
    })
}

#[pymethods]
impl PyOutcome {
    /// The request id the cancel was sent under (what `cancel()` returned).
    #[getter]
    fn id(&self) -> &str {
        self.inner.id.as_str()
    }

    /// The caller's tag.
    #[getter]
    fn tag(&self) -> u64 {
        self.inner.tag()
    }

    /// `"acked"`, `"rejected"`, `"unknown"` or `"not_sent"`.
    #[getter]
    fn status(&self) -> &'static str {
        self.inner.status.as_str()
    }

    /// The venue's code: 0 for acked, the error code of a rejection or of a refused login;
    /// None when the venue said nothing.
    #[getter]
    fn code(&self) -> Option<i64> {
        self.inner.status.code()
    }

    /// The venue's message for a rejection, `"acknowledged"` for an ack, else the reason in
    /// words.
    #[getter]
    fn msg(&self) -> String {
        self.line().msg
    }

    /// The reason's word for `"unknown"` and `"not_sent"` (`"ack_timeout"`,
    /// `"connection_lost"`, `"shutdown"`, `"queue_timeout"`, `"no_connection"`,
    /// `"login_rejected"`); None otherwise.
    #[getter]
    fn reason(&self) -> Option<&'static str> {
        self.inner.status.reason()
    }

    /// How many times the cancel was sent (0 if never).
    #[getter]
    fn attempts(&self) -> u8 {
        self.inner.attempts
    }

    /// The 0-based connection whose reply settled it, `"rest"`, or None when no reply did.
    #[getter]
    fn via<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        via(py, self.inner.via)
    }

    /// From the cancel accepted to the parsed reply, ns; None if never sent or answered.
    #[getter]
    fn round_trip_ns(&self) -> Option<u64> {
        self.inner.times.round_trip_ns()
    }

    /// From the cancel accepted to its frame handed to the kernel, ns; None if never sent.
    #[getter]
    fn tick_to_wire_ns(&self) -> Option<u64> {
        self.inner.times.tick_to_wire_ns()
    }

    /// The REST batch request that carried it (the engine numbers them from 1), when a
    /// backlog went out in batches; None for a cancel sent alone.
    #[getter]
    fn batch(&self) -> Option<u64> {
        self.inner.batch.map(|b| b.number)
    }

    /// How many cancels that batch carried (1 to 20); None for a cancel sent alone.
    #[getter]
    fn batch_size(&self) -> Option<u8> {
        self.inner.batch.map(|b| b.size)
    }

    /// True for the outcome of a cancel-all (`cancel_all()`).
    #[getter]
    fn cancel_all(&self) -> bool {
        self.inner.cancel_all.is_some()
    }

    /// A cancel-all's count of orders the venue listed as cancelled, where it lists them
    /// (futures); None otherwise.
    #[getter]
    fn succeeded(&self) -> Option<u32> {
        self.inner.cancel_all.and_then(|c| c.succeeded)
    }

    /// A cancel-all's count of orders the venue listed as failed, where it lists them
    /// (futures); None otherwise.
    #[getter]
    fn failed(&self) -> Option<u32> {
        self.inner.cancel_all.and_then(|c| c.failed)
    }

    /// For a cancel-all: True when the venue accepts it and cancels afterwards (SPOT), so
    /// acked means accepted, not done. None for a cancel.
    #[getter]
    fn asynchronous(&self) -> Option<bool> {
        self.inner.cancel_all.map(|c| c.asynchronous)
    }

    /// The product line, e.g. `"SPOT"`.
    #[getter]
    fn inst_type(&self) -> &'static str {
        self.inner.cancel.inst_type.as_str()
    }

    /// The symbol, e.g. `"BTCUSDT"`; None for a cancel-all of a whole product line.
    #[getter]
    fn inst_id(&self) -> Option<&str> {
        Some(self.inner.cancel.inst_id.as_str()).filter(|s| !s.is_empty())
    }

    /// The venue's order id the cancel named, if it named one (a cancel-all names none).
    #[getter]
    fn order_id(&self) -> Option<&str> {
        if self.inner.cancel_all.is_some() {
            return None;
        }
        self.inner.cancel.order.get_order_id().map(|o| o.as_str())
    }

    /// The client order id the cancel named, if it named one.
    #[getter]
    fn client_oid(&self) -> Option<&str> {
        if self.inner.cancel_all.is_some() {
            return None;
        }
        self.inner.cancel.order.get_client_oid().map(|o| o.as_str())
    }

    /// When the engine accepted the cancel, on `bitget_cancel.monotonic_ns()`'s clock.
    #[getter]
    fn accepted_ns(&self) -> u64 {
        self.inner.times.accepted_ns
    }

    /// When the outcome was decided (the reply parsed), on `bitget_cancel.monotonic_ns()`'s
    /// clock: `monotonic_ns() - settled_ns` on receipt is what the wait added.
    #[getter]
    fn settled_ns(&self) -> u64 {
        self.inner.times.settled_ns
    }

    /// Every field in a dict: those of a `bitget-cancel run` output line (without `line`), then
    /// the cancel's own fields and the two timestamps.
    fn as_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let line = self.line();
        let d = PyDict::new(py);
        d.set_item("id", self.id())?;
        d.set_item("tag", self.tag())?;
        d.set_item("status", self.status())?;
        d.set_item("code", line.code)?;
        d.set_item("msg", line.msg)?;
        d.set_item("reason", line.reason)?;
        d.set_item("attempts", line.attempts)?;
        d.set_item("via", via(py, line.via)?)?;
        d.set_item("round_trip_ns", line.round_trip_ns)?;
        d.set_item("tick_to_wire_ns", line.tick_to_wire_ns)?;
        d.set_item("batch", self.batch())?;
        d.set_item("batch_size", self.batch_size())?;
        d.set_item("cancel_all", self.cancel_all())?;
        d.set_item("succeeded", self.succeeded())?;
        d.set_item("failed", self.failed())?;
        d.set_item("asynchronous", self.asynchronous())?;
        d.set_item("inst_type", self.inst_type())?;
        d.set_item("inst_id", self.inst_id())?;
        d.set_item("order_id", self.order_id())?;
        d.set_item("client_oid", self.client_oid())?;
        d.set_item("accepted_ns", self.accepted_ns())?;
        d.set_item("settled_ns", self.settled_ns())?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let line = self.line();
        let text = |s: Option<&str>| -> PyResult<String> {
            Ok(match s {
                Some(s) => s.into_pyobject(py)?.repr()?.to_string(),
                None => "None".to_owned(),
            })
        };
        let number = |n: Option<u64>| n.map_or_else(|| "None".to_owned(), |n| n.to_string());
        Ok(format!(
            "Outcome(id={}, tag={}, status={}, code={}, msg={}, reason={}, attempts={}, via={}, \
             round_trip_ns={}, tick_to_wire_ns={})",
            text(Some(self.id()))?,
            self.tag(),
            text(Some(self.status()))?,
            line.code
                .map_or_else(|| "None".to_owned(), |c| c.to_string()),
            text(Some(&line.msg))?,
            text(self.reason())?,
            self.attempts(),
            via(py, line.via)?.repr()?,
            number(line.round_trip_ns),
            number(line.tick_to_wire_ns),
        ))
    }
}
