//! Memory stays bounded through round after round of faults: hostile frames, closes, resets, TLS
//! alerts, the rate-limit disconnect, drops, duplicated, stray and fragmented replies, each with
//! cancels in flight and a reconnect after most of them.
//!
//! Three measures, taken after warm-up rounds and again after the measured rounds: the heap bytes
//! the engine thread holds (a global allocator of this binary's own counts them), the heap bytes
//! the whole process holds (the simulated venue runs in it too), and the resident memory from
//! `/proc/self/status`. One `#[test]` only: tests in a binary run on parallel threads.

#[path = "support/engine.rs"]
mod support;

#[path = "support/chaos.rs"]
mod chaos;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::engine::ReconnectBackoff;
use bitget_cancel::outcome::Status;
use bitget_cancel::sim::{CancelFate, Faults, Injection, OnCancel, SimConfig};
use chaos::*;
use support::*;

/// Heap bytes held by the whole process.
static LIVE: AtomicI64 = AtomicI64::new(0);
/// Heap bytes allocated minus freed by the engine thread.
static ENGINE_LIVE: AtomicI64 = AtomicI64::new(0);

thread_local! {
    static IS_ENGINE: Cell<bool> = const { Cell::new(false) };
}

fn note(delta: i64) {
    LIVE.fetch_add(delta, Ordering::Relaxed);
    // `try_with`: the allocator may run while thread-locals are being torn down.
    if IS_ENGINE.try_with(Cell::get).unwrap_or(false) {
        ENGINE_LIVE.fetch_add(delta, Ordering::Relaxed);
    }
}

/// Forwards to [`System`], keeping the two byte counts.
struct LiveBytes;

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping touches only
// static atomics and a const-initialised thread-local `Cell` without a destructor, which never
// allocate.
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's obligations for `alloc` are passed through unchanged.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as i64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as i64);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as i64 - layout.size() as i64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as i64));
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: LiveBytes = LiveBytes;

fn mark_engine_thread() {
    IS_ENGINE.with(|e| e.set(true));
}

/// Faults that end the connection in place of a cancel's reply.
fn connection_enders() -> Vec<Injection> {
    vec![
        Injection::HugeFrameHeader,
        Injection::MaskedFrame,
        Injection::Close { code: 1001 },
        Injection::ResetMidFrame,
        Injection::TlsFatalAlert,
        Injection::OverLimit,
        Injection::Drop,
    ]
}

/// One round: every connection-ending fault with four cancels in flight, then a batch of
/// survivable reply faults. Checks every outcome on the way.
fn round(
    venue: &bitget_cancel::sim::SimVenue,
    tally: &mut Tally<'_>,
    handle: &bitget_cancel::Handle,
) {
    for injection in connection_enders() {
        wait_live(handle);
        let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 4);
        venue.set_faults(Faults {
            reply_delay: Duration::from_millis(10),
            on_cancel: Some(OnCancel {
                nth: 2,
                injection,
                cancel: CancelFate::Answered,
            }),
            ..Faults::default()
        });
        let ids = tally.submit_orders(&orders);
        tally.settle();
        assert_eq!(tally.status(ids[0]), Status::Acked);
        // The second was processed, its reply lost with the connection: sent again on the
        // next one, it finds nothing left to cancel.
        let second = tally.outcome(ids[1]);
        assert!(
            matches!(second.status, Status::Rejected { code: 43001, .. }) && second.attempts == 2,
            "{second:?}"
        );
        for &id in &ids[2..] {
            assert!(matches!(
                tally.status(id),
                Status::Acked | Status::Rejected { code: 43001, .. }
            ));
        }
    }
    wait_live(handle);
    venue.set_faults(Faults {
        duplicate_replies: true,
        stray_reply_id: Some("31337".to_string()),
        fragments: 3,
        ping_between_fragments: true,
        ..Faults::default()
    });
    let orders = venue.seed_orders(InstType::UsdtFutures, "ETHUSDT", 6);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    tally.assert_all(&ids, Status::Acked);
}

#[test]
fn memory_stays_bounded_through_rounds_of_faults() {
    let venue = venue_with(SimConfig {
        record_limit: 256,
        max_messages_per_second: 0,
        ..SimConfig::default()
    });
    let (engine, handle) = start(
        chaos_config(&venue)
            .reconnect(ReconnectBackoff {
                initial: Duration::from_millis(5),
                max: Duration::from_millis(20),
                reset_after: Duration::from_secs(30),
            })
            .messages_per_second(1000)
            .cancels_per_second(1000)
            .on_thread_start(mark_engine_thread),
    );
    let mut tally = Tally::new(&handle);
    for _ in 0..2 {
        round(&venue, &mut tally, &handle);
    }
    let engine_before = ENGINE_LIVE.load(Ordering::SeqCst);
    assert!(engine_before > 0, "the engine thread's heap is counted");
    let heap_before = LIVE.load(Ordering::SeqCst);
    let rss_before = resident_bytes();
    let reconnects_before = engine.stats().reconnects;

    let rounds = 6;
    for _ in 0..rounds {
        round(&venue, &mut tally, &handle);
    }
    wait_live(&handle);
    let engine_growth = ENGINE_LIVE.load(Ordering::SeqCst) - engine_before;
    let heap_growth = LIVE.load(Ordering::SeqCst) - heap_before;
    let rss_growth = resident_bytes() as i64 - rss_before as i64;
    let reconnects = engine.stats().reconnects - reconnects_before;
    println!(
        "{reconnects} reconnects: engine heap {engine_growth:+} B, process heap {heap_growth:+} B, \
         resident {rss_growth:+} B"
    );
    assert!(reconnects >= rounds * connection_enders().len() as u64);
    // The engine thread's own heap: not a byte per reconnect (a connection's buffers are about
    // 260 KiB; a leaked one would show at once).
    assert!(
        engine_growth < 64 * 1024,
        "engine heap grew {engine_growth} B"
    );
    // The process, this test's bookkeeping of a few hundred outcomes included.
    assert!(
        heap_growth < 1024 * 1024,
        "process heap grew {heap_growth} B"
    );
    assert!(
        rss_growth < 8 * 1024 * 1024,
        "resident memory grew {rss_growth} B"
    );
    tally.finish(engine.stats());
}
