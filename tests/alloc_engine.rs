//! Zero heap allocations per cancel, once warm, on both the engine thread and the submitting
//! thread.
//!
//! A counting global allocator counts calls to `alloc`, `alloc_zeroed` and `realloc` made by
//! threads that carry a thread-local mark. The simulated venue runs in this process and allocates
//! freely on its own threads, so only two threads are marked: the engine thread, which marks
//! itself through the `on_thread_start` hook of its configuration (the hook runs before the
//! engine allocates anything, so the warm-up is counted too), and this test's thread, which
//! submits cancels and reads outcomes. The thread-local is a `const`-initialised `Cell` with no
//! destructor: reading it from inside the allocator never allocates or recurses.
//!
//! One `#[test]` only: tests in a binary run on parallel threads.
//!
//! rustls 0.23 still allocates inside its unbuffered API: one `Vec` for every record it encrypts
//! (the sealed record) and one for every application-data record it decrypts (a copy of the
//! plaintext). A cancel is one record out and one record back, so the engine thread's count is
//! bounded by those two per cancel; the submitting thread's must be zero. (Recording the sizes of
//! the engine thread's allocations shows exactly that pair per cancel: the cancel frame plus 22
//! bytes of TLS 1.3 record overhead, and the reply frame.)

#[path = "support/engine.rs"]
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::outcome::Status;
use bitget_cancel::sim::SimConfig;
use support::*;

const NOT_COUNTED: u8 = 0;
const ENGINE: u8 = 1;
const SUBMITTER: u8 = 2;

thread_local! {
    static ROLE: Cell<u8> = const { Cell::new(NOT_COUNTED) };
}

static ENGINE_ALLOCS: AtomicU64 = AtomicU64::new(0);
static SUBMITTER_ALLOCS: AtomicU64 = AtomicU64::new(0);

fn count() {
    // `try_with`: a thread being torn down may allocate after its thread-locals are gone.
    let role = ROLE.try_with(Cell::get).unwrap_or(NOT_COUNTED);
    match role {
        ENGINE => ENGINE_ALLOCS.fetch_add(1, Ordering::Relaxed),
        SUBMITTER => SUBMITTER_ALLOCS.fetch_add(1, Ordering::Relaxed),
        _ => 0,
    };
}

struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; counting has no effect on
// the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as above; `ptr` was allocated by `System` through this allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn mark_engine_thread() {
    ROLE.with(|r| r.set(ENGINE));
}

const WARM_UP: usize = 200;
const MEASURED: usize = 100;
/// What rustls 0.23 allocates per cancel: see the module documentation.
const RUSTLS_ALLOCS_PER_CANCEL: u64 = 2;

#[test]
fn cancels_allocate_nothing_once_warm() {
    let venue = venue_with(SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", WARM_UP + MEASURED);
    let cancels: Vec<_> = orders.iter().map(by_order_id).collect();
    let (engine, handle) = start(
        config_for(&venue)
            .messages_per_second(100_000)
            .cancels_per_second(100_000)
            .on_thread_start(mark_engine_thread),
    );
    wait_live(&handle);

    ROLE.with(|r| r.set(SUBMITTER));
    let mut acked = 0usize;
    for (n, cancel) in cancels.iter().enumerate() {
        if n == WARM_UP {
            ENGINE_ALLOCS.store(0, Ordering::SeqCst);
            SUBMITTER_ALLOCS.store(0, Ordering::SeqCst);
        }
        if handle.cancel(*cancel).is_err() {
            break;
        }
        match handle.outcome_timeout(Duration::from_secs(10)) {
            Some(outcome) if outcome.status == Status::Acked => acked += 1,
            _ => break,
        }
    }
    let engine_allocs = ENGINE_ALLOCS.load(Ordering::SeqCst);
    let submitter_allocs = SUBMITTER_ALLOCS.load(Ordering::SeqCst);
    ROLE.with(|r| r.set(NOT_COUNTED));

    assert_eq!(acked, WARM_UP + MEASURED, "every cancel acked by the venue");
    assert_eq!(
        submitter_allocs, 0,
        "heap allocations on the submitting thread during {MEASURED} cancels after warm-up"
    );
    assert!(
        engine_allocs <= RUSTLS_ALLOCS_PER_CANCEL * MEASURED as u64,
        "{engine_allocs} heap allocations on the engine thread during {MEASURED} cancels after \
         warm-up: more than rustls's {RUSTLS_ALLOCS_PER_CANCEL} per cancel"
    );
    engine.shutdown();
}
