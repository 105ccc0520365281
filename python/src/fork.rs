//! `fork()` copies the memory of the process but only the calling thread: in the child, an
//! engine made before the fork has no engine thread, its rings no reader, and joining its thread
//! would wait forever. The package registers [`_after_fork_in_child`] with
//! `os.register_at_fork`; each object remembers the generation it was born in, refuses to work
//! in another, and is forgotten (never joined) when the child drops it.

use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::prelude::*;

/// How many forks this process is away from the one that loaded the module.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Called in the child after `fork()` (registered by `bitget_cancel/__init__.py`).
#[pyfunction]
pub(crate) fn _after_fork_in_child() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The process an object was made in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Birth(u64);

impl Birth {
    pub(crate) fn now() -> Birth {
        Birth(GENERATION.load(Ordering::Relaxed))
    }

    /// Whether this process is a child forked after the object was made.
    pub(crate) fn forked_since(self) -> bool {
        GENERATION.load(Ordering::Relaxed) != self.0
    }

    /// `EngineStoppedError` in a forked child.
    pub(crate) fn check(self, py: Python<'_>, what: &str) -> PyResult<()> {
        if self.forked_since() {
            return Err(crate::errors::stopped(
                py,
                &format!(
                    "this {what} was created before fork(): its threads live in the parent \
                     process only; create it after forking, in the process that uses it"
                ),
            ));
        }
        Ok(())
    }
}
