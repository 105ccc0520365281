//! A counting global allocator for the allocation tests: every allocation is forwarded to the
//! system allocator and counted on the allocating thread, so other test threads (a test server,
//! a parallel test) cannot disturb a count. A test binary includes this file with
//! `#[path = "support/counting_alloc.rs"] mod counting_alloc;`.
//!
//! With `ALLOC_BACKTRACE=1` in the environment, the first allocations made inside [`count`] print
//! a backtrace, to find where an unexpected allocation comes from.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Forwards to [`System`], counting allocations (and reallocations) per thread.
pub struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static BACKTRACES_LEFT: Cell<u32> = const { Cell::new(0) };
    static IN_BACKTRACE: Cell<bool> = const { Cell::new(false) };
    static MARKED: Cell<bool> = const { Cell::new(false) };
}

/// Allocations made by every thread that called [`mark_thread`], readable from any thread.
static MARKED_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

fn note(size: usize) {
    // `try_with`: the allocator may run while thread-locals are being torn down.
    if IN_BACKTRACE.try_with(Cell::get).unwrap_or(true) {
        return;
    }
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    if MARKED.try_with(Cell::get).unwrap_or(false) {
        MARKED_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
    let left = BACKTRACES_LEFT.try_with(Cell::get).unwrap_or(0);
    if left > 0 {
        let _ = BACKTRACES_LEFT.try_with(|b| b.set(left - 1));
        let _ = IN_BACKTRACE.try_with(|b| b.set(true));
        eprintln!(
            "allocation of {size} bytes at:\n{}",
            std::backtrace::Backtrace::force_capture()
        );
        let _ = IN_BACKTRACE.try_with(|b| b.set(false));
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping touches only
// const-initialised thread-local `Cell`s without destructors and a static atomic, which never
// allocate (the backtrace, which does, is taken with the bookkeeping switched off).
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's obligations for `alloc` are passed through unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Allocations made so far by the calling thread.
#[allow(dead_code)]
pub fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[allow(dead_code)]
/// Runs `f` and returns how many allocations the calling thread made meanwhile, with its result.
pub fn count<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let backtraces = if std::env::var_os("ALLOC_BACKTRACE").is_some() {
        8
    } else {
        0
    };
    BACKTRACES_LEFT.with(|b| b.set(backtraces));
    let before = allocations();
    let result = f();
    let counted = allocations() - before;
    BACKTRACES_LEFT.with(|b| b.set(0));
    (counted, result)
}

/// Counts the calling thread's allocations in [`marked_allocations`] too, so another thread can
/// read them (e.g. an engine thread marks itself from a start hook).
#[allow(dead_code)]
pub fn mark_thread() {
    MARKED.with(|m| m.set(true));
}

/// Allocations made so far by all threads that called [`mark_thread`].
#[allow(dead_code)]
pub fn marked_allocations() -> u64 {
    MARKED_ALLOCATIONS.load(Ordering::SeqCst)
}
