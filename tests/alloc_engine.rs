//! Heap allocations per cancel, once warm, on the engine thread and on the submitting thread.
//!
//! A counting global allocator counts calls to `alloc`, `alloc_zeroed` and `realloc` made by
//! threads that carry a thread-local mark. The simulated venue runs in this process and allocates
//! freely on its own threads, so only two threads are marked: the engine thread, which marks
//! itself through the `on_thread_start` hook of its configuration (the hook runs before the
//! engine allocates anything), and this test's thread, which submits cancels and reads outcomes.
//! The mark is a `const`-initialised `Cell` without destructor: reading it from inside the
//! allocator never allocates or recurses. The engine thread's allocation sizes are recorded too.
//!
//! What it shows: the submitting thread allocates nothing, and on the engine thread everything of
//! this crate allocates nothing either; what remains is rustls 0.23, which allocates two
//! short-lived buffers per TLS round trip even through its unbuffered API (see the TLS allocation
//! test): the sealed record of each cancel (its WebSocket frame plus 22 bytes of TLS 1.3 record
//! overhead) and a copy of each decrypted reply. A cancel is one record out and one record back,
//! so the engine thread makes exactly two allocations per cancel, one of them the sealed cancel.
//! The test pins that figure down: any allocation added by the engine makes it fail.
//!
//! One `#[test]` only: tests in a binary run on parallel threads.

#[path = "support/engine.rs"]
mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bitget_cancel::outcome::Status;
use bitget_cancel::sim::SimConfig;
use bitget_cancel::ws::{OpCode, encode_client_frame};
use bitget_cancel::{InstType, RequestId, protocol};
use support::*;

const NOT_COUNTED: u8 = 0;
const ENGINE: u8 = 1;
const SUBMITTER: u8 = 2;

thread_local! {
    static ROLE: Cell<u8> = const { Cell::new(NOT_COUNTED) };
}

static ENGINE_ALLOCS: AtomicU64 = AtomicU64::new(0);
static SUBMITTER_ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Sizes of the engine thread's first allocations since the last reset.
static ENGINE_SIZES: [AtomicUsize; 1024] = [const { AtomicUsize::new(0) }; 1024];

fn count(size: usize) {
    // `try_with`: a thread being torn down may allocate after its thread-locals are gone.
    match ROLE.try_with(Cell::get).unwrap_or(NOT_COUNTED) {
        ENGINE => {
            let n = ENGINE_ALLOCS.fetch_add(1, Ordering::Relaxed) as usize;
            if let Some(slot) = ENGINE_SIZES.get(n) {
                slot.store(size, Ordering::Relaxed);
            }
        }
        SUBMITTER => {
            SUBMITTER_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }
}

struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping touches only
// a const-initialised thread-local `Cell` and static atomics, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s requirements, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: as above; `ptr` came from `System` through this allocator.
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
/// rustls 0.23's two buffers per TLS round trip.
const RUSTLS_ALLOCS_PER_CANCEL: u64 = 2;
/// TLS 1.3 record overhead: 5 bytes of header, 1 of content type, 16 of AEAD tag.
const TLS13_RECORD_OVERHEAD: usize = 22;

#[test]
fn cancels_allocate_nothing_of_their_own_once_warm() {
    let venue = venue_with(SimConfig {
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", WARM_UP + MEASURED);
    let cancels: Vec<_> = orders.iter().map(by_order_id).collect();
    let mut measured_ids: Vec<RequestId> = Vec::with_capacity(MEASURED);
    let (engine, handle) = start(
        config_for(&venue)
            .messages_per_second(100_000)
            .cancels_per_second(100_000)
            // No keepalive inside the measured window: its record would count too.
            .ping_interval(Duration::from_secs(3600))
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
        let Ok(id) = handle.cancel(*cancel) else {
            break;
        };
        if n >= WARM_UP {
            // Within its preallocated capacity: no allocation.
            measured_ids.push(id);
        }
        match handle.outcome_timeout(Duration::from_secs(10)) {
            Some(outcome) if outcome.status == Status::Acked => acked += 1,
            _ => break,
        }
    }
    let engine_allocs = ENGINE_ALLOCS.load(Ordering::SeqCst);
    let submitter_allocs = SUBMITTER_ALLOCS.load(Ordering::SeqCst);
    ROLE.with(|r| r.set(NOT_COUNTED));
    engine.shutdown();

    assert_eq!(acked, WARM_UP + MEASURED, "every cancel acked by the venue");
    assert_eq!(
        submitter_allocs, 0,
        "heap allocations on the submitting thread during {MEASURED} cancels after warm-up"
    );
    assert_eq!(
        engine_allocs,
        RUSTLS_ALLOCS_PER_CANCEL * MEASURED as u64,
        "heap allocations on the engine thread during {MEASURED} cancels after warm-up"
    );

    // Every measured cancel's sealed record is among them.
    let mut sizes: Vec<usize> = ENGINE_SIZES[..engine_allocs as usize]
        .iter()
        .map(|s| s.load(Ordering::SeqCst))
        .collect();
    for (id, cancel) in measured_ids.iter().zip(&cancels[WARM_UP..]) {
        let mut json = Vec::new();
        protocol::encode_cancel(&mut json, id, cancel);
        let mut frame = Vec::new();
        encode_client_frame(&mut frame, OpCode::Text, &json, [0; 4]);
        let sealed = frame.len() + TLS13_RECORD_OVERHEAD;
        let at = sizes
            .iter()
            .position(|&s| s == sealed)
            .unwrap_or_else(|| panic!("no sealed record of {sealed} bytes for {id} in {sizes:?}"));
        sizes.swap_remove(at);
    }
    assert_eq!(
        sizes.len(),
        MEASURED,
        "one decrypted reply per cancel remains"
    );
}
