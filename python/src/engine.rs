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
//! Locks: the router's lock is taken with or without the GIL, and nothing calls Python while it
//! is held, so it never waits for the GIL.

use std::collections::{HashMap, VecDeque};
use std::os::fd::AsRawFd;
use std::sync::{Mutex, MutexGuard, OnceLock};

use bitget_cancel::engine::{Engine as RustEngine, Handle, OutcomeReady, SessionState, Stats};
use bitget_cancel::{Outcome, RequestId};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::sync::{MutexExt, PyOnceLock};
use pyo3::types::{PyDict, PyList, PyType};

use crate::errors;
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

/// Who gets which outcome; see the module's documentation.
#[derive(Default)]
struct Router {
    pending: HashMap<RequestId, Pending>,
    backlog: VecDeque<Outcome>,
    /// Threads blocked in `outcome()` right now: the asyncio reader leaves the ring to them.
    sync_waiters: usize,
    /// The reader stood aside for a blocked thread: the last one to leave wakes it again.
    reader_stood_aside: bool,
}

/// Where an outcome taken off the ring goes.
enum Route {
    Future(Pending, Outcome),
    Caller(Outcome),
}

impl Router {
    fn route(&mut self, outcome: Outcome) -> Route {
        if self.pending.is_empty() {
            return Route::Caller(outcome);
        }
        match self.pending.remove(&outcome.id) {
            Some(p) => Route::Future(p, outcome),
            None => Route::Caller(outcome),
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
    router: Mutex<Router>,
    /// The outcome-ready descriptor, made by the first `cancel_async`.
    ready: OnceLock<OutcomeReady>,
    /// Event loops with a reader on the descriptor.
    watched: Mutex<Vec<Py<PyAny>>>,
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
            ready: OnceLock::new(),
            watched: Mutex::new(Vec::new()),
            birth: Birth::now(),
        })
    }

    /// Queues a cancel and returns the request id it goes out under. Never blocks. Raises
    /// ``InvalidFieldError`` for a field the venue would refuse (nothing is queued),
    /// ``RingFullError`` when the engine is behind, ``EngineStoppedError`` after shutdown.
    #[pyo3(signature = (inst_type, inst_id, *, order_id=None, client_oid=None, tag=0))]
    fn cancel(
        &self,
        py: Python<'_>,
        inst_type: PyBackedStr,
        inst_id: PyBackedStr,
        order_id: Option<PyBackedStr>,
        client_oid: Option<PyBackedStr>,
        tag: u64,
    ) -> PyResult<String> {
        self.birth.check(py, "engine")?;
        let cancel = crate::cancel::validate(
            py,
            &inst_type,
            &inst_id,
            order_id.as_ref(),
            client_oid.as_ref(),
            tag,
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
    #[pyo3(signature = (inst_type, inst_id, *, order_id=None, client_oid=None, tag=0))]
    fn cancel_async<'py>(
        slf: &Bound<'py, Self>,
        inst_type: PyBackedStr,
        inst_id: PyBackedStr,
        order_id: Option<PyBackedStr>,
        client_oid: Option<PyBackedStr>,
        tag: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        this.birth.check(py, "engine")?;
        let cancel = crate::cancel::validate(
            py,
            &inst_type,
            &inst_id,
            order_id.as_ref(),
            client_oid.as_ref(),
            tag,
        )?;
        let event_loop = GET_RUNNING_LOOP
            .import(py, "asyncio", "get_running_loop")?
            .call0()?;
        let ready = this.ready()?;
        this.watch(slf, &event_loop, ready)?;
        let future = event_loop.call_method0(intern!(py, "create_future"))?;
        {
            let mut router = lock(&this.router);
            let id = this
                .handle
                .cancel(cancel)
                .map_err(|e| errors::refused(py, e, RING_FULL))?;
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

    /// The next outcome not awaited by a ``cancel_async`` future, waiting up to ``timeout``
    /// seconds (None: until one comes) with the GIL released: spinning ``outcome_spin`` first,
    /// then parked. None when the time is up, or when the engine has stopped and every outcome
    /// was read. Ctrl-C interrupts it (``KeyboardInterrupt``).
    #[pyo3(signature = (timeout=None))]
    fn outcome(slf: &Bound<'_, Self>, timeout: Option<f64>) -> PyResult<Option<PyOutcome>> {
        let py = slf.py();
        let this = slf.get();
        this.birth.check(py, "engine")?;
        let deadline = waiting::Deadline::after(waiting::timeout(timeout)?);
        let mut spin = this.handle.outcome_spin();
        loop {
            // Stopped before the look below: every outcome had been handed over, so a look
            // that finds none means none is left.
            let stopped = this.handle.state() == SessionState::Stopped;
            {
                let mut router = lock(&this.router);
                if let Some(o) = router.backlog.pop_front() {
                    return Ok(Some(PyOutcome::new(o)));
                }
                router.sync_waiters += 1;
            }
            let slice = deadline.slice();
            let handle = &this.handle;
            let got = py.detach(|| handle.outcome_timeout_with_spin(slice, spin));
            let (route, wake_reader) = {
                let mut router = lock(&this.router);
                router.sync_waiters -= 1;
                let wake_reader =
                    router.sync_waiters == 0 && std::mem::take(&mut router.reader_stood_aside);
                (got.map(|o| router.route(o)), wake_reader)
            };
            if wake_reader && let Some(ready) = this.ready.get() {
                ready.notify();
            }
            match route {
                Some(Route::Caller(o)) => return Ok(Some(PyOutcome::new(o))),
                Some(Route::Future(p, o)) => {
                    this.resolve(slf, p, o, None)?;
                    // Outcomes are coming: spin again before parking.
                    spin = this.handle.outcome_spin();
                    continue;
                }
                None => spin = std::time::Duration::ZERO,
            }
            py.check_signals()?;
            if deadline.passed() || stopped {
                return Ok(None);
            }
        }
    }

    /// The next outcome not awaited by a ``cancel_async`` future, if one is ready. Never blocks.
    fn try_outcome(slf: &Bound<'_, Self>) -> PyResult<Option<PyOutcome>> {
        let this = slf.get();
        this.birth.check(slf.py(), "engine")?;
        loop {
            let route = {
                let mut router = lock(&this.router);
                if let Some(o) = router.backlog.pop_front() {
                    return Ok(Some(PyOutcome::new(o)));
                }
                match this.handle.try_outcome() {
                    Some(o) => router.route(o),
                    None => return Ok(None),
                }
            };
            match route {
                Route::Caller(o) => return Ok(Some(PyOutcome::new(o))),
                Route::Future(p, o) => this.resolve(slf, p, o, None)?,
            }
        }
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

    /// The engine's counters, as a dict (``connections`` and ``rest`` nested).
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

    /// The descriptor's reader on `event_loop`'s thread: clears it, takes every outcome ready,
    /// resolves the futures, arms it again while futures wait.
    fn _drain(slf: &Bound<'_, Self>, event_loop: &Bound<'_, PyAny>) -> PyResult<()> {
        let this = slf.get();
        let Some(ready) = this.ready.get() else {
            return Ok(());
        };
        ready.clear();
        let mut settled = Vec::new();
        {
            let mut router = lock(&this.router);
            if router.sync_waiters > 0 {
                router.reader_stood_aside = true;
            } else {
                loop {
                    while let Some(o) = this.handle.try_outcome() {
                        match router.route(o) {
                            Route::Future(p, o) => settled.push((p, o)),
                            Route::Caller(o) => router.backlog.push_back(o),
                        }
                    }
                    if router.pending.is_empty() || ready.arm() {
                        break;
                    }
                }
            }
        }
        for (p, o) in settled {
            this.resolve(slf, p, o, Some(event_loop))?;
        }
        Ok(())
    }

    /// On a future's loop: its result, unless it was cancelled (then the outcome goes where
    /// `outcome()` finds it).
    fn _resolve(&self, future: &Bound<'_, PyAny>, outcome: &Bound<'_, PyOutcome>) -> PyResult<()> {
        let py = future.py();
        if future.call_method0(intern!(py, "done"))?.is_truthy()? {
            lock(&self.router).backlog.push_back(outcome.get().inner);
            return Ok(());
        }
        future.call_method1(intern!(py, "set_result"), (outcome,))?;
        Ok(())
    }
}

/// What `RingFullError` says for the threaded engine.
const RING_FULL: &str = "the intent ring is full: the engine is behind (paced, or not connected); \
                         retry later or give up on this cancel";

impl Engine {
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

    /// A reader on `event_loop` for the descriptor, once per loop.
    fn watch(
        &self,
        slf: &Bound<'_, Self>,
        event_loop: &Bound<'_, PyAny>,
        ready: &OutcomeReady,
    ) -> PyResult<()> {
        let py = slf.py();
        // Python code runs below, which may hand the GIL to another thread: the list's lock is
        // never held across it, and is taken with the GIL released meanwhile.
        let known = {
            let watched = self
                .watched
                .lock_py_attached(py)
                .unwrap_or_else(|p| p.into_inner());
            watched.iter().any(|l| l.bind(py).is(event_loop))
        };
        if known {
            return Ok(());
        }
        event_loop.call_method1(
            intern!(py, "add_reader"),
            (
                ready.as_raw_fd(),
                slf.getattr(intern!(py, "_drain"))?,
                event_loop,
            ),
        )?;
        // Loops closed since (asyncio.run ended) lost their readers with their selectors.
        let earlier = std::mem::take(
            &mut *self
                .watched
                .lock_py_attached(py)
                .unwrap_or_else(|p| p.into_inner()),
        );
        let open: Vec<_> = earlier
            .into_iter()
            .filter(|l| !is_closed(l.bind(py)))
            .collect();
        let mut watched = self
            .watched
            .lock_py_attached(py)
            .unwrap_or_else(|p| p.into_inner());
        watched.extend(open);
        if !watched.iter().any(|l| l.bind(py).is(event_loop)) {
            watched.push(event_loop.clone().unbind());
        }
        Ok(())
    }

    /// Resolves `p`'s future with `o`: at once on its own loop's thread, else through
    /// `call_soon_threadsafe`. An outcome that cannot reach its future goes to the backlog.
    fn resolve(
        &self,
        slf: &Bound<'_, Self>,
        p: Pending,
        o: Outcome,
        running: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let outcome = Bound::new(py, PyOutcome::new(o))?;
        let future = p.future.bind(py);
        let event_loop = p.event_loop.bind(py);
        let delivered = if running.is_some_and(|r| r.is(event_loop)) {
            slf.get()._resolve(future, &outcome)
        } else {
            slf.getattr(intern!(py, "_resolve")).and_then(|resolve| {
                event_loop
                    .call_method1(
                        intern!(py, "call_soon_threadsafe"),
                        (resolve, future, &outcome),
                    )
                    .map(drop)
            })
        };
        if delivered.is_err() {
            // A closed loop, a future in a bad state: the outcome stays readable.
            lock(&self.router).backlog.push_back(o);
        }
        Ok(())
    }

    /// Stops the engine (once; the GIL released while it winds down), routes what it decided,
    /// and takes the readers off the loops.
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
        let running = GET_RUNNING_LOOP
            .import(py, "asyncio", "get_running_loop")?
            .call0()
            .ok();
        loop {
            let route = {
                let mut router = lock(&self.router);
                match self.handle.try_outcome() {
                    Some(o) => match router.route(o) {
                        Route::Caller(o) => {
                            router.backlog.push_back(o);
                            continue;
                        }
                        future => future,
                    },
                    None => break,
                }
            };
            if let Route::Future(p, o) = route {
                self.resolve(slf, p, o, running.as_ref())?;
            }
        }
        if let Some(ready) = self.ready.get() {
            let fd = ready.as_raw_fd();
            let watched = std::mem::take(
                &mut *self
                    .watched
                    .lock_py_attached(py)
                    .unwrap_or_else(|p| p.into_inner()),
            );
            for event_loop in watched {
                let event_loop = event_loop.bind(py);
                if is_closed(event_loop) {
                    continue;
                }
                if running.as_ref().is_some_and(|r| r.is(event_loop)) {
                    event_loop.call_method1(intern!(py, "remove_reader"), (fd,))?;
                } else {
                    let remove = event_loop.getattr(intern!(py, "remove_reader"))?;
                    // A loop closing meanwhile removed it itself.
                    let _ =
                        event_loop.call_method1(intern!(py, "call_soon_threadsafe"), (remove, fd));
                }
            }
        }
        Ok(())
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

fn is_closed(event_loop: &Bound<'_, PyAny>) -> bool {
    event_loop
        .call_method0(intern!(event_loop.py(), "is_closed"))
        .and_then(|c| c.is_truthy())
        .unwrap_or(true)
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
    Ok(d)
}
