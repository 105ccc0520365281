//! `Engine`: the threaded engine for Python, sync and asyncio at once.
//!
//! Outcomes leave the engine on one ring; this side routes each to whoever waits for it:
//!
//! - a cancel made with `cancel_async` has a future, in `Router::pending` under its request id
//!   (put there under the router's lock before its intent can have an outcome);
//! - any other outcome goes to whoever reads: `outcome()` and `try_outcome()` return it, or, if
//!   the asyncio side took it off the ring, it waits in `Router::backlog` for them.
//!
//! The asyncio side is a reader on the engine's outcome-ready descriptor (`add_reader`, one per
//! event loop): the engine makes it readable when an outcome lands while futures wait, and the
//! reader resolves them on the loop's thread. While a thread blocks in `outcome()`, the reader
//! leaves the ring to it (the blocked thread routes what it takes: futures are resolved with
//! `call_soon_threadsafe`) and the last such thread to leave makes the descriptor readable again
//! if the reader stood aside meanwhile. Every outcome leaves the ring once and is routed once,
//! under the lock; an outcome whose future was cancelled goes to the backlog, never lost.
//!
//! Final words (with `confirm`) are routed the same way by a router of their own: a
//! `final_async` future waits in its `pending` under the request id, `final()` and `try_final()`
//! read the rest, and a reader on the engine's final-ready descriptor resolves the futures on
//! their loop. A future for a request id that never gets a final word (never sent) fails with
//! `EngineStoppedError` at shutdown.
//!
//! Locks: the routers' locks are taken with or without the GIL, and nothing calls Python while
//! one is held, so they never wait for the GIL.

use std::collections::{HashMap, VecDeque};
use std::os::fd::AsRawFd;
use std::sync::{Mutex, MutexGuard, OnceLock};

use bitget_cancel::engine::{
    Engine as RustEngine, FinalReady, Handle, OutcomeReady, SessionState, Stats,
};
use bitget_cancel::final_word::FinalWord;
use bitget_cancel::outcome::Status;
use bitget_cancel::{Outcome, RequestId};
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::sync::{MutexExt, PyOnceLock};
use pyo3::types::{PyDict, PyList, PyType};

use crate::errors;
use crate::final_word::PyFinalWord;
use crate::fork::Birth;
use crate::outcome::PyOutcome;
use crate::settings::Settings;
use crate::waiting;

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// A cancel made with `cancel_async`, waiting for its outcome.
struct Pending {
    future: Py<PyAny>,
    event_loop: Py<PyAny>,
}

/// What the engine hands out and this side routes to its consumers: outcomes and final words.
trait Routed: Copy + Send + 'static {
    /// The name of the `Engine` method that resolves a future with one, on the future's loop.
    const RESOLVE: &'static str;

    fn id(&self) -> RequestId;

    /// The engine's router for this kind.
    fn router(engine: &Engine) -> &Mutex<Router<Self>>;

    /// The Python object for it.
    fn to_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>>;
}

impl Routed for Outcome {
    const RESOLVE: &'static str = "_resolve";

    fn id(&self) -> RequestId {
        self.id
    }

    fn router(engine: &Engine) -> &Mutex<Router<Self>> {
        &engine.router
    }

    fn to_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(Bound::new(py, PyOutcome::new(self))?.into_any())
    }
}

impl Routed for FinalWord {
    const RESOLVE: &'static str = "_resolve_final";

    fn id(&self) -> RequestId {
        self.id
    }

    fn router(engine: &Engine) -> &Mutex<Router<Self>> {
        &engine.finals
    }

    fn to_py(self, py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
        Ok(Bound::new(py, PyFinalWord::new(self))?.into_any())
    }
}

/// Who gets which outcome (or final word); see the module's documentation.
struct Router<T> {
    pending: HashMap<RequestId, Pending>,
    backlog: VecDeque<T>,
    /// Threads blocked in `outcome()` (`final()`) right now: the asyncio reader leaves the
    /// ring to them.
    sync_waiters: usize,
    /// The reader stood aside for a blocked thread: the last one to leave wakes it again.
    reader_stood_aside: bool,
    /// Shutdown routed everything and failed the futures left: a new future would wait for
    /// nothing.
    closed: bool,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Router {
            pending: HashMap::new(),
            backlog: VecDeque::new(),
            sync_waiters: 0,
            reader_stood_aside: false,
            closed: false,
        }
    }
}

/// Where an item taken off the ring goes.
enum Route<T> {
    Future(Pending, T),
    Caller(T),
}

impl<T: Routed> Router<T> {
    fn route(&mut self, item: T) -> Route<T> {
        if self.pending.is_empty() {
            return Route::Caller(item);
        }
        match self.pending.remove(&item.id()) {
            Some(p) => Route::Future(p, item),
            None => Route::Caller(item),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The engine on a thread of its own: cancels from any Python thread or asyncio task, outcomes
/// waited for with the GIL released.
///
/// ``Engine(api_key, api_secret, passphrase, **settings)``; the settings are
/// ``ConfigBuilder``'s, durations in float seconds (see the stubs or the README).
#[pyclass(module = "bitget_cancel", name = "Engine", frozen)]
pub(crate) struct Engine {
    handle: Handle,
    engine: Mutex<Option<RustEngine>>,
    router: Mutex<Router<Outcome>>,
    /// The final words' router.
    finals: Mutex<Router<FinalWord>>,
    /// The outcome-ready descriptor, made by the first `cancel_async`.
    ready: OnceLock<OutcomeReady>,
    /// The final-ready descriptor, made by the first `final_async`.
    final_ready: OnceLock<FinalReady>,
    /// Event loops with a reader on the outcome-ready descriptor.
    watched: Mutex<Vec<Py<PyAny>>>,
    /// Event loops with a reader on the final-ready descriptor.
    watched_finals: Mutex<Vec<Py<PyAny>>>,
    birth: Birth,
}

#[pymethods]
impl Engine {
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
        let (engine, handle) =
            RustEngine::start(settings.config).map_err(|e| errors::from_start_error(py, e))?;
        Ok(Engine {
            handle,
            engine: Mutex::new(Some(engine)),
            router: Mutex::new(Router::default()),
            finals: Mutex::new(Router::default()),
            ready: OnceLock::new(),
            final_ready: OnceLock::new(),
            watched: Mutex::new(Vec::new()),
            watched_finals: Mutex::new(Vec::new()),
            birth: Birth::now(),
        })
    }

    /// Queues a cancel and returns the request id it goes out under. Never blocks. Raises
    /// ``InvalidFieldError`` for a field the venue would refuse (nothing is queued),
    /// ``RingFullError`` when the engine is behind, ``EngineStoppedError`` after shutdown.
    /// ``priority`` (0 to 255): when cancels wait for the venue's budget, the highest leaves
    /// first, then the oldest.
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
        self.birth.check(py, "engine")?;
        let cancel = crate::cancel::validate(
            py,
            &inst_type,
            &inst_id,
            order_id.as_ref(),
            client_oid.as_ref(),
            tag,
            priority,
        )?;
        let id = self
            .handle
            .cancel(cancel)
            .map_err(|e| errors::refused(py, e, RING_FULL))?;
        Ok(id.as_str().to_owned())
    }

    /// Queues a cancel like ``cancel`` and returns an ``asyncio.Future`` that the outcome
    /// resolves, on the running loop's thread. Must be called from a running event loop. The
    /// cancel is queued before this returns; cancelling the future does not stop it, and its
    /// outcome then goes to ``outcome()``/``try_outcome()``.
    #[pyo3(signature = (inst_type, inst_id, *, order_id=None, client_oid=None, tag=0, priority=0))]
    #[allow(clippy::too_many_arguments)]
    fn cancel_async<'py>(
        slf: &Bound<'py, Self>,
        inst_type: PyBackedStr,
        inst_id: PyBackedStr,
        order_id: Option<PyBackedStr>,
        client_oid: Option<PyBackedStr>,
        tag: u64,
        priority: i128,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        slf.get().birth.check(py, "engine")?;
        let cancel = crate::cancel::validate(
            py,
            &inst_type,
            &inst_id,
            order_id.as_ref(),
            client_oid.as_ref(),
            tag,
            priority,
        )?;
        Self::queue_async(slf, |handle| {
            handle
                .cancel(cancel)
                .map_err(|e| errors::refused(py, e, RING_FULL))
        })
    }

    /// Queues a cancel-all: every open order of the account on ``inst_type``, or on its symbol
    /// ``inst_id`` (required on SPOT: ``InvalidFieldError`` without one, nothing queued).
    /// Returns its request id; never blocks. It goes over REST ahead of every waiting cancel
    /// (classic account: futures ``cancel-all-orders``, spot ``cancel-symbol-order``; unified
    /// account: V3 ``cancel-symbol-order``); its ``Outcome`` has ``cancel_all`` True, is acked
    /// or rejected like a cancel's, and carries the venue's ``succeeded`` and ``failed`` counts
    /// where it gives them (classic futures, and every unified one); a classic account's SPOT
    /// one is ``asynchronous`` (acked: accepted, carried out by the venue afterwards). Cancels
    /// of that scope that wait or come later are still sent (the venue answers those it took
    /// with "the order does not exist"). Without the REST rung it is not sent
    /// (``"no_connection"``).
    #[pyo3(signature = (inst_type, inst_id=None, *, tag=0))]
    fn cancel_all(
        &self,
        py: Python<'_>,
        inst_type: PyBackedStr,
        inst_id: Option<PyBackedStr>,
        tag: u64,
    ) -> PyResult<String> {
        self.birth.check(py, "engine")?;
        let all = crate::cancel::validate_all(py, &inst_type, inst_id.as_ref(), tag)?;
        let id = self
            .handle
            .cancel_all(all)
            .map_err(|e| errors::refused(py, e, RING_FULL))?;
        Ok(id.as_str().to_owned())
    }

    /// Queues a cancel-all like ``cancel_all`` and returns an ``asyncio.Future`` that its
    /// outcome resolves on the running loop's thread, as ``cancel_async`` does.
    #[pyo3(signature = (inst_type, inst_id=None, *, tag=0))]
    fn cancel_all_async<'py>(
        slf: &Bound<'py, Self>,
        inst_type: PyBackedStr,
        inst_id: Option<PyBackedStr>,
        tag: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        slf.get().birth.check(py, "engine")?;
        let all = crate::cancel::validate_all(py, &inst_type, inst_id.as_ref(), tag)?;
        Self::queue_async(slf, |handle| {
            handle
                .cancel_all(all)
                .map_err(|e| errors::refused(py, e, RING_FULL))
        })
    }

    /// The next outcome not awaited by a ``cancel_async`` future, waiting up to ``timeout``
    /// seconds (None: until one comes) with the GIL released: spinning ``outcome_spin`` first,
    /// then parked. None when the time is up, or when the engine has stopped and every outcome
    /// was read. Ctrl-C interrupts it (``KeyboardInterrupt``).
    #[pyo3(signature = (timeout=None))]
    fn outcome(slf: &Bound<'_, Self>, timeout: Option<f64>) -> PyResult<Option<PyOutcome>> {
        let this = slf.get();
        this.birth.check(slf.py(), "engine")?;
        let got = this.wait_routed(slf, timeout, this.ready.get(), |h, slice, spin| {
            h.outcome_timeout_with_spin(slice, spin)
        })?;
        Ok(got.map(PyOutcome::new))
    }

    /// The next outcome not awaited by a ``cancel_async`` future, if one is ready. Never blocks.
    fn try_outcome(slf: &Bound<'_, Self>) -> PyResult<Option<PyOutcome>> {
        let this = slf.get();
        this.birth.check(slf.py(), "engine")?;
        Ok(this
            .try_routed(slf, Handle::try_outcome)?
            .map(PyOutcome::new))
    }

    /// The next final word not awaited by a ``final_async`` future, waiting up to ``timeout``
    /// seconds (None: until one comes) with the GIL released, as ``outcome()`` waits: spinning
    /// ``outcome_spin`` first, then parked. Final words come in the order they are known, not
    /// the order of the cancels; each cancel that was sent gets exactly one, after its outcome.
    /// None when the time is up, or when the engine has stopped and every final word was read.
    /// Ctrl-C interrupts it. Raises ``FinalWordOffError`` unless the engine was made with
    /// ``confirm``.
    #[pyo3(signature = (timeout=None))]
    fn r#final(slf: &Bound<'_, Self>, timeout: Option<f64>) -> PyResult<Option<PyFinalWord>> {
        let this = slf.get();
        this.check_confirms(slf.py())?;
        let got = this.wait_routed(slf, timeout, this.final_ready.get(), |h, slice, spin| {
            h.final_timeout_with_spin(slice, spin)
        })?;
        Ok(got.map(PyFinalWord::new))
    }

    /// The next final word not awaited by a ``final_async`` future, if one is ready. Never
    /// blocks. Raises ``FinalWordOffError`` unless the engine was made with ``confirm``.
    fn try_final(slf: &Bound<'_, Self>) -> PyResult<Option<PyFinalWord>> {
        let this = slf.get();
        this.check_confirms(slf.py())?;
        Ok(this
            .try_routed(slf, Handle::try_final)?
            .map(PyFinalWord::new))
    }

    /// An ``asyncio.Future`` that the final word on one cancel resolves, on the running loop's
    /// thread: ``await engine.final_async(outcome)`` (or its request id). Must be called from a
    /// running event loop. Only a cancel that was sent gets a final word: an outcome
    /// ``"not_sent"`` raises ``ValueError``; a request id that never gets one (never sent, or
    /// its word already handed to ``final()``/``try_final()``) fails with
    /// ``EngineStoppedError`` at shutdown. One future per request id at a time (another raises
    /// ``ValueError``); cancelling it is harmless, and its word then goes to ``final()``.
    /// Raises ``FinalWordOffError`` unless the engine was made with ``confirm``.
    fn final_async<'py>(
        slf: &Bound<'py, Self>,
        request: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        this.check_confirms(py)?;
        let id = if let Ok(outcome) = request.cast::<PyOutcome>() {
            let outcome = outcome.get().inner;
            if matches!(outcome.status, Status::NotSent(_)) {
                return Err(PyValueError::new_err(format!(
                    "the cancel {} was not sent: it gets no final word",
                    outcome.id.as_str()
                )));
            }
            outcome.id
        } else {
            let text: PyBackedStr = request.extract().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(
                    "final_async takes an Outcome or a request id (str)",
                )
            })?;
            RequestId::new(&text).map_err(|e| errors::invalid_field(py, e))?
        };
        let event_loop = GET_RUNNING_LOOP
            .import(py, "asyncio", "get_running_loop")?
            .call0()?;
        {
            let router = lock(&this.finals);
            if router.closed && !router.backlog.iter().any(|w| w.id == id) {
                return Err(errors::stopped(py, STOPPED_WITHOUT_FINAL));
            }
        }
        let ready = this.final_ready()?;
        this.watch(
            slf,
            &event_loop,
            ready.as_raw_fd(),
            "_drain_finals",
            &this.watched_finals,
        )?;
        let future = event_loop.call_method0(intern!(py, "create_future"))?;
        // An earlier future for this id, seen done (cancelled): it may be replaced.
        let mut seen_done: Option<Py<PyAny>> = None;
        let found = loop {
            let earlier = {
                let mut router = lock(&this.finals);
                if let Some(at) = router.backlog.iter().position(|w| w.id == id) {
                    break router.backlog.remove(at);
                }
                if router.closed {
                    break None;
                }
                match router.pending.get(&id) {
                    Some(p) if !seen_done.as_ref().is_some_and(|d| d.is(&p.future)) => {
                        p.future.clone_ref(py)
                    }
                    _ => {
                        router.pending.insert(
                            id,
                            Pending {
                                future: future.clone().unbind(),
                                event_loop: event_loop.clone().unbind(),
                            },
                        );
                        break None;
                    }
                }
            };
            if !earlier
                .bind(py)
                .call_method0(intern!(py, "done"))?
                .is_truthy()?
            {
                return Err(PyValueError::new_err(format!(
                    "a final_async future already waits for the final word on {}",
                    id.as_str()
                )));
            }
            seen_done = Some(earlier);
        };
        match found {
            Some(word) => {
                future.call_method1(intern!(py, "set_result"), (PyFinalWord::new(word),))?;
            }
            None if lock(&this.finals).closed => {
                return Err(errors::stopped(py, STOPPED_WITHOUT_FINAL));
            }
            None => {
                if !ready.arm() {
                    // A final word is ready already: the reader must look.
                    ready.notify();
                }
            }
        }
        Ok(future)
    }

    /// Whether the engine was made with ``confirm``: each cancel that is sent then gets a final
    /// word.
    #[getter]
    fn confirms(&self) -> bool {
        self.handle.confirms()
    }

    /// Waits up to ``timeout`` seconds (GIL released, Ctrl-C honoured) until a connection is
    /// logged in: True; False when the time is up, the venue refused the credentials or the
    /// engine stopped (``last_error`` says why).
    fn wait_live(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        self.birth.check(py, "engine")?;
        let timeout = waiting::timeout(Some(timeout))?;
        let handle = &self.handle;
        let settled = waiting::in_slices(py, timeout, std::time::Duration::ZERO, |slice, _| {
            if handle.wait_live(slice) {
                return Some(true);
            }
            matches!(
                handle.state(),
                SessionState::LoginRejected | SessionState::Stopped
            )
            .then_some(false)
        })?;
        Ok(settled.unwrap_or(false))
    }

    /// Stops the engine: refuses new cancels, reports those not yet sent as ``not_sent``
    /// (``shutdown``), waits up to ``shutdown_grace`` for replies to cancels in flight (the rest
    /// end ``unknown``). Resolves every pending ``cancel_async`` future and returns every other
    /// outcome nobody read, in the order decided: with those read before, exactly one per
    /// accepted cancel. Idempotent.
    fn shutdown(slf: &Bound<'_, Self>) -> PyResult<Vec<PyOutcome>> {
        let this = slf.get();
        this.stop(slf)?;
        let mut router = lock(&this.router);
        Ok(router.backlog.drain(..).map(PyOutcome::new).collect())
    }

    /// ``"connecting"``, ``"logging_in"``, ``"live"``, ``"backoff"``, ``"login_rejected"`` or
    /// ``"stopped"``.
    #[getter]
    fn state(&self) -> &'static str {
        self.handle.state().as_str()
    }

    /// Why the last connection attempt or session failed, if one did.
    #[getter]
    fn last_error(&self) -> Option<String> {
        self.handle.last_error().map(|e| e.to_string())
    }

    /// The engine's counters, as a dict (``connections``, ``rest`` and ``finals`` nested).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        stats_dict(py, &self.handle.stats())
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Stops the engine; the outcomes nobody read stay readable with ``try_outcome()``.
    fn __exit__(
        slf: &Bound<'_, Self>,
        _kind: Option<&Bound<'_, PyType>>,
        _value: Option<&Bound<'_, PyAny>>,
        _traceback: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        slf.get().stop(slf)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!("Engine(state='{}')", self.handle.state().as_str())
    }

    /// The outcome-ready descriptor's reader on `event_loop`'s thread: clears it, takes every
    /// outcome ready, resolves the futures, arms it again while futures wait.
    fn _drain(slf: &Bound<'_, Self>, event_loop: &Bound<'_, PyAny>) -> PyResult<()> {
        let this = slf.get();
        let Some(ready) = this.ready.get() else {
            return Ok(());
        };
        ready.clear();
        this.drain_routed(slf, event_loop, Handle::try_outcome, || ready.arm())
    }

    /// The final-ready descriptor's reader, as `_drain` for final words.
    fn _drain_finals(slf: &Bound<'_, Self>, event_loop: &Bound<'_, PyAny>) -> PyResult<()> {
        let this = slf.get();
        let Some(ready) = this.final_ready.get() else {
            return Ok(());
        };
        ready.clear();
        this.drain_routed(slf, event_loop, Handle::try_final, || ready.arm())
    }

    /// On a future's loop: its result, unless it was cancelled (then the outcome goes where
    /// `outcome()` finds it).
    fn _resolve(&self, future: &Bound<'_, PyAny>, outcome: &Bound<'_, PyOutcome>) -> PyResult<()> {
        self.set_or_keep(future, outcome.as_any(), outcome.get().inner)
    }

    /// On a future's loop: its result, unless it was cancelled (then the final word goes where
    /// `final()` finds it).
    fn _resolve_final(
        &self,
        future: &Bound<'_, PyAny>,
        word: &Bound<'_, PyFinalWord>,
    ) -> PyResult<()> {
        self.set_or_keep(future, word.as_any(), word.get().inner)
    }

    /// On a future's loop: fails it with `EngineStoppedError`, unless it is done already.
    fn _fail_stopped(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        let py = future.py();
        if future.call_method0(intern!(py, "done"))?.is_truthy()? {
            return Ok(());
        }
        let error = errors::stopped(
            py,
            "the engine stopped and no final word came for this request id (never sent, or \
             its word was read by final()/try_final())",
        );
        future.call_method1(intern!(py, "set_exception"), (error.value(py),))?;
        Ok(())
    }
}

/// What `EngineStoppedError` says to a `final_async` after shutdown.
const STOPPED_WITHOUT_FINAL: &str =
    "the engine is stopped and no final word on this request id is left";

/// What `RingFullError` says for the threaded engine.
const RING_FULL: &str = "the intent ring is full: the engine is behind (paced, or not connected); \
                         retry later or give up on this cancel";

impl Engine {
    /// Submits with `submit` and returns a future its outcome resolves on the running loop:
    /// the request id is in `Router::pending` before the outcome can be routed.
    fn queue_async<'py>(
        slf: &Bound<'py, Self>,
        submit: impl FnOnce(&Handle) -> PyResult<RequestId>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let event_loop = GET_RUNNING_LOOP
            .import(py, "asyncio", "get_running_loop")?
            .call0()?;
        let ready = this.ready()?;
        this.watch(slf, &event_loop, ready.as_raw_fd(), "_drain", &this.watched)?;
        let future = event_loop.call_method0(intern!(py, "create_future"))?;
        {
            let mut router = lock(&this.router);
            let id = submit(&this.handle)?;
            router.pending.insert(
                id,
                Pending {
                    future: future.clone().unbind(),
                    event_loop: event_loop.clone().unbind(),
                },
            );
        }
        if !ready.arm() {
            // An outcome is ready already: the reader must look.
            ready.notify();
        }
        Ok(future)
    }

    /// The outcome-ready descriptor, made once.
    fn ready(&self) -> PyResult<&OutcomeReady> {
        if let Some(ready) = self.ready.get() {
            return Ok(ready);
        }
        let made = self.handle.outcome_ready().map_err(|e| {
            pyo3::exceptions::PyOSError::new_err(format!(
                "cannot create the outcome-ready descriptor: {e}"
            ))
        })?;
        Ok(self.ready.get_or_init(|| made))
    }

    /// The final-ready descriptor, made once (the final word is on).
    fn final_ready(&self) -> PyResult<&FinalReady> {
        if let Some(ready) = self.final_ready.get() {
            return Ok(ready);
        }
        let made = self.handle.final_ready().map_err(|e| {
            pyo3::exceptions::PyOSError::new_err(format!(
                "cannot create the final-ready descriptor: {e}"
            ))
        })?;
        Ok(self.final_ready.get_or_init(|| made))
    }

    /// Made in this process, with the final word on.
    fn check_confirms(&self, py: Python<'_>) -> PyResult<()> {
        self.birth.check(py, "engine")?;
        if !self.handle.confirms() {
            return Err(errors::final_word_off(py));
        }
        Ok(())
    }

    /// A reader `method` on `event_loop` for the descriptor `fd`, once per loop (`watched`
    /// lists the loops that have one).
    fn watch(
        &self,
        slf: &Bound<'_, Self>,
        event_loop: &Bound<'_, PyAny>,
        fd: std::os::fd::RawFd,
        method: &str,
        watched: &Mutex<Vec<Py<PyAny>>>,
    ) -> PyResult<()> {
        let py = slf.py();
        // Python code runs below, which may hand the GIL to another thread: the list's lock is
        // never held across it, and is taken with the GIL released meanwhile.
        let known = {
            let watched = watched
                .lock_py_attached(py)
                .unwrap_or_else(|p| p.into_inner());
            watched.iter().any(|l| l.bind(py).is(event_loop))
        };
        if known {
            return Ok(());
        }
        event_loop.call_method1(
            intern!(py, "add_reader"),
            (fd, slf.getattr(method)?, event_loop),
        )?;
        // Loops closed since (asyncio.run ended) lost their readers with their selectors.
        let earlier = std::mem::take(
            &mut *watched
                .lock_py_attached(py)
                .unwrap_or_else(|p| p.into_inner()),
        );
        // An interrupt while asking keeps the loops not asked yet, and goes up afterwards.
        let mut interrupted = Ok(());
        let mut open = Vec::with_capacity(earlier.len());
        for l in earlier {
            if interrupted.is_ok() {
                match is_closed(l.bind(py)) {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(e) => interrupted = Err(e),
                }
            }
            open.push(l);
        }
        let mut watched = watched
            .lock_py_attached(py)
            .unwrap_or_else(|p| p.into_inner());
        watched.extend(open);
        if !watched.iter().any(|l| l.bind(py).is(event_loop)) {
            watched.push(event_loop.clone().unbind());
        }
        interrupted
    }

    /// The blocking wait of `outcome()` and `final()`: the backlog first, then `take` with the
    /// GIL released, slice after slice (spinning in the first, and again after each item that
    /// went to a future), routing what it takes; the signal handlers run between slices.
    /// While it blocks, the asyncio reader leaves the ring to it; the last waiter to leave
    /// wakes the reader (`reader`) if it stood aside.
    fn wait_routed<T: Routed>(
        &self,
        slf: &Bound<'_, Self>,
        timeout: Option<f64>,
        reader: Option<&impl Notify>,
        take: impl Fn(&Handle, std::time::Duration, std::time::Duration) -> Option<T> + Sync,
    ) -> PyResult<Option<T>> {
        let py = slf.py();
        let router = T::router(self);
        let deadline = waiting::Deadline::after(waiting::timeout(timeout)?);
        let mut spin = self.handle.outcome_spin();
        loop {
            // Stopped before the look below: everything had been handed over, so a look that
            // finds nothing means nothing is left.
            let stopped = self.handle.state() == SessionState::Stopped;
            {
                let mut router = lock(router);
                if let Some(item) = router.backlog.pop_front() {
                    return Ok(Some(item));
                }
                router.sync_waiters += 1;
            }
            let slice = deadline.slice();
            let handle = &self.handle;
            let take = &take;
            let got = py.detach(|| take(handle, slice, spin));
            // What came during the slice (Ctrl-C) is taken now, before any Python code runs
            // here: routing to a future calls Python, and Python code that runs while a signal
            // is pending handles it itself, where its KeyboardInterrupt never reaches the caller.
            let interrupted = py.check_signals();
            let (route, wake_reader) = {
                let mut router = lock(router);
                router.sync_waiters -= 1;
                let wake_reader =
                    router.sync_waiters == 0 && std::mem::take(&mut router.reader_stood_aside);
                (got.map(|item| router.route(item)), wake_reader)
            };
            if wake_reader && let Some(reader) = reader {
                reader.notify();
            }
            match route {
                Some(Route::Caller(item)) => {
                    if let Err(interrupt) = interrupted {
                        // The interrupt goes up; the item stays the next one read.
                        lock(router).backlog.push_front(item);
                        return Err(interrupt);
                    }
                    return Ok(Some(item));
                }
                Some(Route::Future(p, item)) => {
                    // The future gets its item either way; then the interrupt goes up.
                    self.resolve(slf, p, item, None)?;
                    interrupted?;
                    // More are coming: spin again before parking.
                    spin = self.handle.outcome_spin();
                    continue;
                }
                None => {
                    interrupted?;
                    spin = std::time::Duration::ZERO;
                }
            }
            if deadline.passed() || stopped {
                return Ok(None);
            }
        }
    }

    /// The non-blocking read of `try_outcome()` and `try_final()`: the backlog, else the ring
    /// (what a future waits for goes to it).
    fn try_routed<T: Routed>(
        &self,
        slf: &Bound<'_, Self>,
        try_take: fn(&Handle) -> Option<T>,
    ) -> PyResult<Option<T>> {
        let router = T::router(self);
        loop {
            let route = {
                let mut router = lock(router);
                if let Some(item) = router.backlog.pop_front() {
                    return Ok(Some(item));
                }
                match try_take(&self.handle) {
                    Some(item) => router.route(item),
                    None => return Ok(None),
                }
            };
            match route {
                Route::Caller(item) => return Ok(Some(item)),
                Route::Future(p, item) => self.resolve(slf, p, item, None)?,
            }
        }
    }

    /// A descriptor reader's turn (cleared already): takes every item ready, arms again while
    /// futures wait; stands aside while a thread blocks on the ring. Resolves the futures on
    /// `event_loop`'s thread, at once.
    fn drain_routed<T: Routed>(
        &self,
        slf: &Bound<'_, Self>,
        event_loop: &Bound<'_, PyAny>,
        try_take: fn(&Handle) -> Option<T>,
        arm: impl Fn() -> bool,
    ) -> PyResult<()> {
        let mut settled = Vec::new();
        {
            let mut router = lock(T::router(self));
            if router.sync_waiters > 0 {
                router.reader_stood_aside = true;
            } else {
                loop {
                    while let Some(item) = try_take(&self.handle) {
                        match router.route(item) {
                            Route::Future(p, item) => settled.push((p, item)),
                            Route::Caller(item) => router.backlog.push_back(item),
                        }
                    }
                    if router.pending.is_empty() || arm() {
                        break;
                    }
                }
            }
        }
        // Every future taken off the ring gets its item, an interrupt meanwhile or not.
        let mut interrupted = Ok(());
        for (p, item) in settled {
            keep_first(
                &mut interrupted,
                self.resolve(slf, p, item, Some(event_loop)),
            );
        }
        interrupted
    }

    /// A future's result, unless it is done (cancelled): then `item` goes to the backlog.
    fn set_or_keep<T: Routed>(
        &self,
        future: &Bound<'_, PyAny>,
        object: &Bound<'_, PyAny>,
        item: T,
    ) -> PyResult<()> {
        let py = future.py();
        if future.call_method0(intern!(py, "done"))?.is_truthy()? {
            lock(T::router(self)).backlog.push_back(item);
            return Ok(());
        }
        future.call_method1(intern!(py, "set_result"), (object,))?;
        Ok(())
    }

    /// Resolves `p`'s future with `item`: at once on its own loop's thread, else through
    /// `call_soon_threadsafe`. An item that cannot reach its future goes to the backlog.
    fn resolve<T: Routed>(
        &self,
        slf: &Bound<'_, Self>,
        p: Pending,
        item: T,
        running: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let object = item.to_py(py)?;
        let future = p.future.bind(py);
        let event_loop = p.event_loop.bind(py);
        let delivered = if running.is_some_and(|r| r.is(event_loop)) {
            self.set_or_keep(future, &object, item)
        } else {
            slf.getattr(T::RESOLVE).and_then(|resolve| {
                event_loop
                    .call_method1(
                        intern!(py, "call_soon_threadsafe"),
                        (resolve, future, &object),
                    )
                    .map(drop)
            })
        };
        if let Err(e) = delivered {
            // A closed loop, a future in a bad state: the item stays readable. An interrupt
            // raised meanwhile is the caller's.
            lock(T::router(self)).backlog.push_back(item);
            unless_interrupt::<()>(py, Err(e))?;
        }
        Ok(())
    }

    /// After shutdown: routes every item left on the ring (to the futures, else the backlog).
    fn route_the_rest<T: Routed>(
        &self,
        slf: &Bound<'_, Self>,
        try_take: fn(&Handle) -> Option<T>,
        running: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        loop {
            let route = {
                let mut router = lock(T::router(self));
                match try_take(&self.handle) {
                    Some(item) => match router.route(item) {
                        Route::Caller(item) => {
                            router.backlog.push_back(item);
                            continue;
                        }
                        future => future,
                    },
                    None => break,
                }
            };
            if let Route::Future(p, item) = route {
                self.resolve(slf, p, item, running)?;
            }
        }
        Ok(())
    }

    /// Stops the engine (once; the GIL released while it winds down), routes what it decided,
    /// fails the `final_async` futures nothing will resolve, and takes the readers off the
    /// loops.
    fn stop(&self, slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let engine = lock(&self.engine).take();
        let Some(engine) = engine else {
            return Ok(());
        };
        if self.birth.forked_since() {
            // Its thread lives in the parent: nothing to join here.
            std::mem::forget(engine);
            return Ok(());
        }
        py.detach(|| engine.shutdown());
        // No running loop is an error here, and an ordinary one; an interrupt meanwhile is not.
        let running = unless_interrupt(
            py,
            GET_RUNNING_LOOP
                .import(py, "asyncio", "get_running_loop")?
                .call0(),
        )?;
        // The winding down goes on through an interrupt, which goes up at the end.
        let mut interrupted = Ok(());
        self.route_the_rest(slf, Handle::try_outcome, running.as_ref())?;
        if self.handle.confirms() {
            self.route_the_rest(slf, Handle::try_final, running.as_ref())?;
            // Every final word is routed: the futures still waiting wait for ids that get none.
            let orphans: Vec<Pending> = {
                let mut finals = lock(&self.finals);
                finals.closed = true;
                finals.pending.drain().map(|(_, p)| p).collect()
            };
            for p in orphans {
                let future = p.future.bind(py);
                let event_loop = p.event_loop.bind(py);
                if running.as_ref().is_some_and(|r| r.is(event_loop)) {
                    self._fail_stopped(future)?;
                } else {
                    // A closed loop has nobody left to tell.
                    let told = slf.getattr("_fail_stopped").and_then(|fail| {
                        event_loop.call_method1(intern!(py, "call_soon_threadsafe"), (fail, future))
                    });
                    keep_first(&mut interrupted, unless_interrupt(py, told));
                }
            }
        }
        let readers = [
            (self.ready.get().map(|r| r.as_raw_fd()), &self.watched),
            (
                self.final_ready.get().map(|r| r.as_raw_fd()),
                &self.watched_finals,
            ),
        ];
        for (fd, watched) in readers {
            let Some(fd) = fd else { continue };
            let watched = std::mem::take(
                &mut *watched
                    .lock_py_attached(py)
                    .unwrap_or_else(|p| p.into_inner()),
            );
            for event_loop in watched {
                let event_loop = event_loop.bind(py);
                match is_closed(event_loop) {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(interrupt) => {
                        keep_first(&mut interrupted, Err::<(), _>(interrupt));
                        continue;
                    }
                }
                if running.as_ref().is_some_and(|r| r.is(event_loop)) {
                    event_loop.call_method1(intern!(py, "remove_reader"), (fd,))?;
                } else {
                    let remove = event_loop.getattr(intern!(py, "remove_reader"))?;
                    // A loop closing meanwhile removed it itself.
                    let told =
                        event_loop.call_method1(intern!(py, "call_soon_threadsafe"), (remove, fd));
                    keep_first(&mut interrupted, unless_interrupt(py, told));
                }
            }
        }
        interrupted
    }
}

/// What a blocked thread wakes when it leaves: the descriptor's reader.
trait Notify: Sync {
    fn notify(&self);
}

impl Notify for OutcomeReady {
    fn notify(&self) {
        OutcomeReady::notify(self);
    }
}

impl Notify for FinalReady {
    fn notify(&self) {
        FinalReady::notify(self);
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let engine = lock(&self.engine).take();
        if let Some(engine) = engine {
            if self.birth.forked_since() {
                std::mem::forget(engine);
            } else {
                // Dropped by the garbage collector: wind down without holding the GIL.
                Python::attach(|py| py.detach(|| drop(engine)));
            }
        }
    }
}

/// Whether `event_loop` is closed; one that cannot say counts as closed. An interrupt raised
/// while asking (`is_closed` is Python code) goes up.
fn is_closed(event_loop: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = event_loop.py();
    let closed = event_loop
        .call_method0(intern!(py, "is_closed"))
        .and_then(|c| c.is_truthy());
    Ok(unless_interrupt(py, closed)?.unwrap_or(true))
}

/// The result of Python code whose ordinary failure (an `Exception`) the caller lives with:
/// `None` then. Anything else raised (`KeyboardInterrupt` from Ctrl-C, `SystemExit`: a
/// `BaseException` that is no `Exception`) is the program's, and goes up. Python code run while
/// a signal is pending runs its handler, so dropping every error would drop Ctrl-C with it.
fn unless_interrupt<T>(py: Python<'_>, result: PyResult<T>) -> PyResult<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is_instance_of::<PyException>(py) => Ok(None),
        Err(interrupt) => Err(interrupt),
    }
}

/// Keeps the first interrupt of several steps that all run.
fn keep_first<T>(first: &mut PyResult<()>, step: PyResult<T>) {
    if first.is_ok()
        && let Err(e) = step
    {
        *first = Err(e);
    }
}

/// The counters as a dict.
pub(crate) fn stats_dict<'py>(py: Python<'py>, s: &Stats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, value) in [
        ("connect_attempts", s.connect_attempts),
        ("sessions", s.sessions),
        ("reconnects", s.reconnects),
        ("login_rejections", s.login_rejections),
        ("intents", s.intents),
        ("sent", s.sent),
        ("acked", s.acked),
        ("rejected", s.rejected),
        ("unknown", s.unknown),
        ("not_sent", s.not_sent),
        ("pacing_waits", s.pacing_waits),
        ("venue_errors", s.venue_errors),
        ("unmatched_replies", s.unmatched_replies),
        ("pings", s.pings),
        ("pongs", s.pongs),
        ("hedges_sent", s.hedges_sent),
        ("hedges_won", s.hedges_won),
        ("hedges_capped", s.hedges_capped),
        ("failovers", s.failovers),
        ("stalls", s.stalls),
        ("transient_answers", s.transient_answers),
        ("retries", s.retries),
        ("rotations", s.rotations),
        ("late_replies", s.late_replies),
        ("unreadable_messages", s.unreadable_messages),
        ("hedge_after_ns", s.hedge_after_ns),
    ] {
        d.set_item(name, value)?;
    }
    d.set_item("pool_size", s.pool_size)?;
    let in_use = (s.pool_size + 1).min(s.connections.len());
    let connections = PyList::empty(py);
    for c in &s.connections[..in_use] {
        let cd = PyDict::new(py);
        cd.set_item("state", c.state.as_str())?;
        cd.set_item("sessions", c.sessions)?;
        cd.set_item("sent", c.sent)?;
        cd.set_item("replies", c.replies)?;
        cd.set_item("rtt_p50_ns", c.rtt_p50_ns)?;
        cd.set_item("rtt_p99_ns", c.rtt_p99_ns)?;
        connections.append(cd)?;
    }
    d.set_item("connections", connections)?;
    let rest = PyDict::new(py);
    rest.set_item("enabled", s.rest.enabled)?;
    rest.set_item("connected", s.rest.connected)?;
    rest.set_item("sent", s.rest.sent)?;
    rest.set_item("replies", s.rest.replies)?;
    rest.set_item("failures", s.rest.failures)?;
    rest.set_item("clock_offset_ms", s.rest.clock_offset_ms)?;
    rest.set_item("clock_synced", s.rest.clock_synced)?;
    d.set_item("rest", rest)?;
    let f = &s.finals;
    let finals = PyDict::new(py);
    finals.set_item("enabled", f.enabled)?;
    for (name, value) in [
        ("subscriptions_acked", f.subscriptions_acked),
        ("subscriptions_refused", f.subscriptions_refused),
        ("subscriptions_unanswered", f.subscriptions_unanswered),
        ("pushes_received", f.pushes_received),
        ("pushes_matched", f.pushes_matched),
        ("pushes_before_reply", f.pushes_before_reply),
        ("pushes_dropped", f.pushes_dropped),
        ("pushes_unmatched", f.pushes_unmatched),
        ("cancelled", f.cancelled),
        ("filled", f.filled),
        ("live", f.live),
        ("unconfirmed", f.unconfirmed),
        ("table_full", f.table_full),
        ("by_push", f.by_push),
        ("by_rest", f.by_rest),
        ("undelivered", f.undelivered),
        ("queries_sent", f.queries_sent),
        ("queries_answered", f.queries_answered),
        ("queries_failed", f.queries_failed),
        ("reply_to_final_p50_ns", f.reply_to_final_p50_ns),
        ("reply_to_final_p90_ns", f.reply_to_final_p90_ns),
        ("reply_to_final_p99_ns", f.reply_to_final_p99_ns),
        ("reply_to_final_max_ns", f.reply_to_final_max_ns),
    ] {
        finals.set_item(name, value)?;
    }
    d.set_item("finals", finals)?;
    let u = &s.unified;
    let unified = PyDict::new(py);
    unified.set_item("unified", u.unified)?;
    unified.set_item("switches", u.switches)?;
    unified.set_item("dead_man_enabled", u.dead_man_enabled)?;
    unified.set_item("dead_man_armed_unix_ms", u.dead_man_armed_unix_ms)?;
    unified.set_item("dead_man_arms", u.dead_man_arms)?;
    unified.set_item("dead_man_failures", u.dead_man_failures)?;
    unified.set_item("dead_man_off", u.dead_man_off)?;
    d.set_item("unified", unified)?;
    let b = &s.batches;
    let batches = PyDict::new(py);
    for (name, value) in [
        ("sent", b.sent),
        ("carried", b.carried),
        ("largest", b.largest),
        ("failed", b.failed),
        ("settled", b.settled),
        ("unlisted", b.unlisted),
        ("cancel_alls", b.cancel_alls),
        ("cancel_alls_acked", b.cancel_alls_acked),
    ] {
        batches.set_item(name, value)?;
    }
    batches.set_item("sizes", b.sizes.to_vec())?;
    d.set_item("batches", batches)?;
    Ok(d)
}
