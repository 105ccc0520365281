//! `FinalWord`: where the order a cancel named stands, frozen, in the words of
//! `bitget-cancel run --confirm` (`final`, `filled_size`, `final_source`) and of
//! `bitget_cancel::final_word` (`FinalState::as_str`, `UnconfirmedReason::as_str`).

use bitget_cancel::final_word::FinalWord;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The final word on one cancel: is the order gone, and how much of it filled. With the final
/// word on (``confirm``), every cancel that was sent (acked, rejected or unknown) gets exactly
/// one, after its outcome; a cancel never sent gets none.
///
/// `state` is `"cancelled"`, `"filled"` (the cancel came too late), `"live"` (the venue's
/// latest word had the order open when the time was up) or `"unconfirmed"` (nothing said;
/// `reason` says why). `filled` is the venue's decimal string, never a float.
#[pyclass(module = "bitget_cancel", name = "FinalWord", frozen, eq)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PyFinalWord {
    pub(crate) inner: FinalWord,
}

impl PyFinalWord {
    pub(crate) fn new(inner: FinalWord) -> Self {
        PyFinalWord { inner }
    }
}

#[pymethods]
impl PyFinalWord {
    /// The request id of the cancel (what `cancel()` returned, its outcome's `id`).
    #[getter]
    fn id(&self) -> &str {
        self.inner.id.as_str()
    }

    /// The caller's tag.
    #[getter]
    fn tag(&self) -> u64 {
        self.inner.tag()
    }

    /// `"cancelled"`, `"filled"`, `"live"` or `"unconfirmed"`.
    #[getter]
    fn state(&self) -> &'static str {
        self.inner.state.as_str()
    }

    /// Why an `"unconfirmed"` word is: `"timeout"`, `"not_found"`, `"table_full"` or
    /// `"shutdown"`; None for the other states.
    #[getter]
    fn reason(&self) -> Option<&'static str> {
        self.inner.state.reason()
    }

    /// How much of the order filled, in the base coin, as the venue wrote it (`"0"`,
    /// `"0.25"`); None when no word said.
    #[getter]
    fn filled(&self) -> Option<&str> {
        self.inner.filled.as_ref().map(|d| d.as_str())
    }

    /// The average fill price as the venue wrote it, when it said.
    #[getter]
    fn price_avg(&self) -> Option<&str> {
        self.inner.price_avg.as_ref().map(|d| d.as_str())
    }

    /// Why the venue cancelled the order (`"normal_cancel"`, ...), when it said.
    #[getter]
    fn cancel_reason(&self) -> Option<&str> {
        self.inner.cancel_reason.as_ref().map(|r| r.as_str())
    }

    /// Where the word came from: `"push"` (the private order channel) or `"rest"` (the order
    /// query); None for `"unconfirmed"`.
    #[getter]
    fn source(&self) -> Option<&'static str> {
        self.inner.source.map(|s| s.as_str())
    }

    /// The venue's time of the word (`uTime`), Unix milliseconds, when it said.
    #[getter]
    fn venue_time_ms(&self) -> Option<u64> {
        self.inner.venue_time_ms
    }

    /// When the final word was known, on `bitget_cancel.monotonic_ns()`'s clock.
    #[getter]
    fn final_ns(&self) -> u64 {
        self.inner.times.final_ns
    }

    /// When the engine accepted the cancel, on `bitget_cancel.monotonic_ns()`'s clock.
    #[getter]
    fn accepted_ns(&self) -> u64 {
        self.inner.times.accepted_ns
    }

    /// When the cancel's outcome was decided, on `bitget_cancel.monotonic_ns()`'s clock.
    #[getter]
    fn settled_ns(&self) -> u64 {
        self.inner.times.settled_ns
    }

    /// From the cancel accepted to its final word, ns (`final_ns` of a
    /// `bitget-cancel run --confirm` line).
    #[getter]
    fn since_accepted_ns(&self) -> u64 {
        self.inner.times.since_accepted_ns()
    }

    /// From the cancel's outcome to its final word, ns.
    #[getter]
    fn since_settled_ns(&self) -> u64 {
        self.inner.times.since_settled_ns()
    }

    /// The product line, e.g. `"SPOT"`.
    #[getter]
    fn inst_type(&self) -> &'static str {
        self.inner.cancel.inst_type.as_str()
    }

    /// The symbol, e.g. `"BTCUSDT"`.
    #[getter]
    fn inst_id(&self) -> &str {
        self.inner.cancel.inst_id.as_str()
    }

    /// The venue's order id the cancel named, if it named one.
    #[getter]
    fn order_id(&self) -> Option<&str> {
        self.inner.cancel.order.get_order_id().map(|o| o.as_str())
    }

    /// The client order id the cancel named, if it named one.
    #[getter]
    fn client_oid(&self) -> Option<&str> {
        self.inner.cancel.order.get_client_oid().map(|o| o.as_str())
    }

    /// Every field in a dict.
    fn as_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("id", self.id())?;
        d.set_item("tag", self.tag())?;
        d.set_item("state", self.state())?;
        d.set_item("reason", self.reason())?;
        d.set_item("filled", self.filled())?;
        d.set_item("price_avg", self.price_avg())?;
        d.set_item("cancel_reason", self.cancel_reason())?;
        d.set_item("source", self.source())?;
        d.set_item("venue_time_ms", self.venue_time_ms())?;
        d.set_item("inst_type", self.inst_type())?;
        d.set_item("inst_id", self.inst_id())?;
        d.set_item("order_id", self.order_id())?;
        d.set_item("client_oid", self.client_oid())?;
        d.set_item("accepted_ns", self.accepted_ns())?;
        d.set_item("settled_ns", self.settled_ns())?;
        d.set_item("final_ns", self.final_ns())?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let text = |s: Option<&str>| -> PyResult<String> {
            Ok(match s {
                Some(s) => s.into_pyobject(py)?.repr()?.to_string(),
                None => "None".to_owned(),
            })
        };
        Ok(format!(
            "FinalWord(id={}, tag={}, state={}, reason={}, filled={}, source={}, \
             since_accepted_ns={})",
            text(Some(self.id()))?,
            self.tag(),
            text(Some(self.state()))?,
            text(self.reason())?,
            text(self.filled())?,
            text(self.source())?,
            self.since_accepted_ns(),
        ))
    }
}
