//! Waiting with the GIL released. A thread blocked in Rust cannot run Python's signal handlers,
//! so a wait goes in slices: between two, the thread takes the GIL back for a moment and lets
//! the handlers run (Ctrl-C raises `KeyboardInterrupt` in the main thread). The first slice
//! spins before it parks; the later ones park at once.

use std::time::{Duration, Instant};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// The longest the GIL stays released in one piece: how late Ctrl-C can be noticed.
pub(crate) const SLICE: Duration = Duration::from_millis(20);

/// A `timeout` argument in float seconds: None waits without end.
pub(crate) fn timeout(value: Option<f64>) -> PyResult<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(secs) => Duration::try_from_secs_f64(secs).map(Some).map_err(|_| {
            PyValueError::new_err("timeout must be a finite number of seconds, not negative")
        }),
    }
}

/// When a wait of `timeout` from now ends (`None`: never).
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    pub(crate) fn after(timeout: Option<Duration>) -> Deadline {
        Deadline(timeout.and_then(|t| Instant::now().checked_add(t)))
    }

    /// The next slice: at most [`SLICE`], at most what is left; zero once it has passed.
    pub(crate) fn slice(&self) -> Duration {
        match self.0 {
            Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
            None => SLICE,
        }
    }

    pub(crate) fn passed(&self) -> bool {
        self.0.is_some_and(|d| Instant::now() >= d)
    }
}

/// Runs `step` with the GIL released, slice after slice, until it gives a value or the
/// deadline passes; the signal handlers run between slices (an exception they raise ends the
/// wait). `step` gets the slice and the spin to use (the first slice's only).
pub(crate) fn in_slices<T: Send>(
    py: Python<'_>,
    timeout: Option<Duration>,
    spin: Duration,
    mut step: impl FnMut(Duration, Duration) -> Option<T> + Send,
) -> PyResult<Option<T>> {
    let deadline = Deadline::after(timeout);
    let mut spin = spin;
    loop {
        let slice = deadline.slice();
        let got = py.detach(|| step(slice, spin));
        if got.is_some() {
            return Ok(got);
        }
        spin = Duration::ZERO;
        py.check_signals()?;
        if deadline.passed() {
            return Ok(None);
        }
    }
}
