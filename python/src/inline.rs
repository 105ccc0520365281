//! `InlineEngine`: the engine on the caller's thread. One thread drives it: `poll`, `cancel` and
//! `try_outcome` keep the GIL (each is microseconds), `outcome` and `wait_live` release it while
//! they turn the loop. Another thread that calls in meanwhile gets a `RuntimeError`, never a
//! wait (it would hold the GIL the driving thread needs back).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use bitget_cancel::Outcome;
use bitget_cancel::engine::{Engine as RustEngine, InlineEngine as RustInline, SessionState};
use bitget_cancel::final_word::FinalWord;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::{PyDict, PyType};

use crate::errors;
use crate::final_word::PyFinalWord;
use crate::fork::Birth;
use crate::outcome::PyOutcome;
use crate::settings::Settings;
use crate::waiting;

/// What the lock guards: the engine until it is shut down, then the outcomes and final words
/// it left.
struct State {
    engine: Option<RustInline>,
    left: VecDeque<Outcome>,
    left_finals: VecDeque<FinalWord>,
}

/// The engine on the caller's thread: no engine thread, no ring; ``cancel`` writes the frame
/// before it returns and ``poll`` runs one turn of the event loop. Nothing happens between calls:
/// call ``poll`` in the strategy's loop (or wait in ``outcome``).
///
/// ``InlineEngine(api_key, api_secret, passphrase, **settings)``, the settings of ``Engine``
/// (``idle`` and ``core`` do not apply). Connecting starts at the first ``poll``.
#[pyclass(module = "bitget_cancel", name = "InlineEngine", frozen)]
pub(crate) struct InlineEngine {
    state: Mutex<State>,
    spin: Duration,
    /// Made with `confirm`.
    confirms: bool,
    birth: Birth,
}

impl InlineEngine {
    /// The state, for this thread only; another thread in the middle of a call is an error.
    fn state(&self, py: Python<'_>) -> PyResult<MutexGuard<'_, State>> {
        self.birth.check(py, "inline engine")?;
        match self.state.try_lock() {
            Ok(guard) => Ok(guard),
            Err(TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(TryLockError::WouldBlock) => Err(PyRuntimeError::new_err(
                "the inline engine is in use by another thread: one thread drives it",
            )),
        }
    }
}

impl InlineEngine {
    /// The state, with the final word on.
    fn confirming(&self, py: Python<'_>) -> PyResult<MutexGuard<'_, State>> {
        let state = self.state(py)?;
        if !self.confirms {
            return Err(errors::final_word_off(py));
        }
        Ok(state)
    }
}

fn engine<'a>(py: Python<'_>, state: &'a mut State) -> PyResult<&'a mut RustInline> {
    state
        .engine
        .as_mut()
        .ok_or_else(|| errors::stopped(py, "the inline engine is shut down"))
}

#[pymethods]
impl InlineEngine {
    #[new]
    #[pyo3(signature = (api_key, api_secret, passphrase, **settings))]
    fn new(
        py: Python<'_>,
        api_key: PyBackedStr,
        api_secret: PyBackedStr,
        passphrase: PyBackedStr,
        settings: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let settings = Settings::parse(py, &api_key, &api_secret, &passphrase, settings)?;
        let spin = settings.config.outcome_spin();
        let confirms = settings.config.confirm().is_some();
        let engine =
            RustEngine::inline(settings.config).map_err(|e| errors::from_start_error(py, e))?;
        Ok(InlineEngine {
            state: Mutex::new(State {
                engine: Some(engine),
                left: VecDeque::new(),
                left_finals: VecDeque::new(),
            }),
            spin,
            confirms,
            birth: Birth::now(),
        })
    }

    /// One turn of the event loop; True if anything happened. Never blocks.
    fn poll(&self, py: Python<'_>) -> PyResult<bool> {
        let mut state = self.state(py)?;
        Ok(engine(py, &mut state)?.poll())
    }

    /// Takes a cancel and returns its request id; when a connection is live and pacing allows,
    /// the frame is on the socket before this returns. Raises like ``Engine.cancel``
    /// (``RingFullError`` when the in-flight table is full).
    #[pyo3(signature = (inst_type, inst_id, *, order_id=None, client_oid=None, tag=0, priority=0))]
    #[allow(clippy::too_many_arguments)]
    fn cancel(
        &self,
        py: Python<'_>,
        inst_type: PyBackedStr,
        inst_id: PyBackedStr,
        order_id: Option<PyBackedStr>,
        client_oid: Option<PyBackedStr>,
        tag: u64,
        priority: i128,
    ) -> PyResult<String> {
        let cancel = crate::cancel::validate(
            py,
            &inst_type,
            &inst_id,
            order_id.as_ref(),
            client_oid.as_ref(),
            tag,
            priority,
        )?;
        let mut state = self.state(py)?;
        let id = engine(py, &mut state)?
            .cancel(cancel)
            .map_err(|e| errors::refused(py, e, TABLE_FULL))?;
        Ok(id.as_str().to_owned())
    }

    /// Takes a cancel-all (see ``Engine.cancel_all``) and returns its request id.
    #[pyo3(signature = (inst_type, inst_id=None, *, tag=0))]
    fn cancel_all(
        &self,
        py: Python<'_>,
        inst_type: PyBackedStr,
        inst_id: Option<PyBackedStr>,
        tag: u64,
    ) -> PyResult<String> {
        let all = crate::cancel::validate_all(py, &inst_type, inst_id.as_ref(), tag)?;
        let mut state = self.state(py)?;
        let id = engine(py, &mut state)?
            .cancel_all(all)
            .map_err(|e| errors::refused(py, e, TABLE_FULL))?;
        Ok(id.as_str().to_owned())
    }

    /// The next outcome, if one is ready. Does not poll.
    fn try_outcome(&self, py: Python<'_>) -> PyResult<Option<PyOutcome>> {
        let mut state = self.state(py)?;
        if let Some(o) = state.left.pop_front() {
            return Ok(Some(PyOutcome::new(o)));
        }
        Ok(engine(py, &mut state)?.try_outcome().map(PyOutcome::new))
    }

    /// The next outcome, turning the loop until one is ready or ``timeout`` seconds have
    /// passed (None: until one comes), with the GIL released: back to back for
    /// ``outcome_spin``, then parked in the poller between turns. Ctrl-C interrupts it.
    #[pyo3(signature = (timeout=None))]
    fn outcome(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<PyOutcome>> {
        let timeout = waiting::timeout(timeout)?;
        let mut state = self.state(py)?;
        if let Some(o) = state.left.pop_front() {
            return Ok(Some(PyOutcome::new(o)));
        }
        let engine = engine(py, &mut state)?;
        let got = waiting::in_slices(py, timeout, self.spin, |slice, spin| {
            engine.outcome_timeout_with_spin(slice, spin)
        })?;
        Ok(got.map(PyOutcome::new))
    }

    /// The next final word, if one is ready. Does not poll. Raises ``FinalWordOffError``
    /// unless the engine was made with ``confirm``.
    fn try_final(&self, py: Python<'_>) -> PyResult<Option<PyFinalWord>> {
        let mut state = self.confirming(py)?;
        if let Some(w) = state.left_finals.pop_front() {
            return Ok(Some(PyFinalWord::new(w)));
        }
        Ok(engine(py, &mut state)?.try_final().map(PyFinalWord::new))
    }

    /// The next final word, turning the loop until one is ready or ``timeout`` seconds have
    /// passed (None: until one comes), with the GIL released, as ``outcome()`` waits. Ctrl-C
    /// interrupts it. Raises ``FinalWordOffError`` unless the engine was made with ``confirm``.
    #[pyo3(signature = (timeout=None))]
    fn r#final(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<PyFinalWord>> {
        let timeout = waiting::timeout(timeout)?;
        let mut state = self.confirming(py)?;
        if let Some(w) = state.left_finals.pop_front() {
            return Ok(Some(PyFinalWord::new(w)));
        }
        let engine = engine(py, &mut state)?;
        let got = waiting::in_slices(py, timeout, self.spin, |slice, spin| {
            engine.final_timeout_with_spin(slice, spin)
        })?;
        Ok(got.map(PyFinalWord::new))
    }

    /// How many final words wait to be read.
    fn ready_finals(&self, py: Python<'_>) -> PyResult<usize> {
        let state = self.state(py)?;
        Ok(state.left_finals.len() + state.engine.as_ref().map_or(0, |e| e.ready_finals()))
    }

    /// Whether the engine was made with ``confirm``.
    #[getter]
    fn confirms(&self) -> bool {
        self.confirms
    }

    /// Turns the loop until a connection is logged in (True), or ``timeout`` seconds have
    /// passed or the venue refused the credentials (False; ``last_error`` says why).
    fn wait_live(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let timeout = waiting::timeout(Some(timeout))?;
        let mut state = self.state(py)?;
        let engine = engine(py, &mut state)?;
        let settled = waiting::in_slices(py, timeout, self.spin, |slice, _| {
            if engine.wait_live(slice) {
                return Some(true);
            }
            (engine.state() == SessionState::LoginRejected).then_some(false)
        })?;
        Ok(settled.unwrap_or(false))
    }

    /// Stops on this thread (the GIL released): refuses new cancels, reports those not yet sent
    /// as ``not_sent``, turns the loop until the cancels in flight are answered or
    /// ``shutdown_grace`` is over. Returns every outcome not read yet; the final words not
    /// read stay readable with ``try_final()``. Idempotent.
    fn shutdown(&self, py: Python<'_>) -> PyResult<Vec<PyOutcome>> {
        let mut state = self.state(py)?;
        stop(py, &mut state, self.birth);
        Ok(state.left.drain(..).map(PyOutcome::new).collect())
    }

    /// Where the connections stand (see ``Engine.state``).
    #[getter(state)]
    fn session_state(&self, py: Python<'_>) -> PyResult<&'static str> {
        let mut state = self.state(py)?;
        Ok(match &mut state.engine {
            Some(engine) => engine.state().as_str(),
            None => SessionState::Stopped.as_str(),
        })
    }

    /// Why the last connection attempt or session failed, if one did.
    #[getter]
    fn last_error(&self, py: Python<'_>) -> PyResult<Option<String>> {
        let state = self.state(py)?;
        Ok(state
            .engine
            .as_ref()
            .and_then(|e| e.last_error())
            .map(|e| e.to_string()))
    }

    /// The engine's counters (see ``Engine.stats``); empty after shutdown.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let state = self.state(py)?;
        match &state.engine {
            Some(engine) => crate::engine::stats_dict(py, &engine.stats()),
            None => Ok(PyDict::new(py)),
        }
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Shuts down; the outcomes not read stay readable with ``try_outcome()``.
    fn __exit__(
        &self,
        py: Python<'_>,
        _kind: Option<&Bound<'_, PyType>>,
        _value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let mut state = self.state(py)?;
        stop(py, &mut state, self.birth);
        Ok(false)
    }
}

/// What `RingFullError` says for the inline engine.
const TABLE_FULL: &str = "the in-flight table is full (max_pending, or outcomes not read): \
                          read outcomes, or retry later";

/// Shuts the engine down once, keeping what it left.
fn stop(py: Python<'_>, state: &mut State, birth: Birth) {
    let Some(engine) = state.engine.take() else {
        return;
    };
    if birth.forked_since() {
        std::mem::forget(engine);
        return;
    }
    let stopped = py.detach(|| engine.shutdown());
    state.left.extend(stopped.outcomes);
    state.left_finals.extend(stopped.finals);
}

impl Drop for InlineEngine {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(engine) = state.engine.take() {
            if self.birth.forked_since() {
                std::mem::forget(engine);
            } else {
                Python::attach(|py| py.detach(|| drop(engine)));
            }
        }
    }
}
