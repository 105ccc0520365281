//! `bitget_cancel._native`: the engine of the `bitget-cancel` crate for Python, re-exported by the
//! `bitget_cancel` package (`python/bitget_cancel/__init__.py`), which adds the error classes
//! and the `fork()` hook.
//!
//! | module | owns |
//! | --- | --- |
//! | `engine` | `Engine`: the threaded engine, sync and asyncio, and the routing of outcomes between them |
//! | `inline` | `InlineEngine`: the engine on the caller's thread |
//! | `outcome` | `Outcome`, frozen, in the command line's words |
//! | `final_word` | `FinalWord`, frozen: where the order a cancel named stands |
//! | `settings` | the keyword settings, named as `ConfigBuilder`'s |
//! | `cancel` | a cancel's arguments, validated into a `Cancel` |
//! | `waiting` | waits with the GIL released, in slices that let Ctrl-C in |
//! | `sim` | `SimVenue`, the simulated venue in-process |
//! | `errors` | raising the package's error classes |
//! | `fork` | objects created before `fork()` refuse to work in the child |

mod cancel;
mod engine;
mod errors;
mod final_word;
mod fork;
mod inline;
mod outcome;
mod settings;
mod sim;
mod waiting;

use pyo3::prelude::*;

/// Nanoseconds on the engine's monotonic clock: the clock of `Outcome.accepted_ns`,
/// `Outcome.settled_ns` and `FinalWord.final_ns` (not `time.monotonic_ns()`'s origin).
#[pyfunction]
fn monotonic_ns() -> u64 {
    bitget_cancel::clock::monotonic_ns()
}

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<engine::Engine>()?;
    m.add_class::<inline::InlineEngine>()?;
    m.add_class::<outcome::PyOutcome>()?;
    m.add_class::<final_word::PyFinalWord>()?;
    m.add_class::<sim::PySimVenue>()?;
    m.add_function(wrap_pyfunction!(monotonic_ns, m)?)?;
    m.add_function(wrap_pyfunction!(fork::_after_fork_in_child, m)?)?;
    m.add(
        "DEFAULT_OUTCOME_SPIN",
        bitget_cancel::engine::DEFAULT_OUTCOME_SPIN.as_secs_f64(),
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
