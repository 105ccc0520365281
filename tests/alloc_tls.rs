//! Heap allocations on the client thread during warm TLS round trips: `write_record` +
//! `flush_tls` + `read` of an echoed 200-byte message.
//!
//! A counting global allocator counts only on the thread that enabled it (the echo server's
//! thread is not counted). Set `ALLOC_BACKTRACE=1` to print where the first counted
//! allocations come from.
//!
//! What it shows with rustls 0.23: this crate's TLS layer allocates nothing, and rustls itself
//! allocates exactly two short-lived buffers per round trip, even through its unbuffered API:
//! - sealing a record: `Tls13MessageEncrypter::encrypt` (ring provider) allocates the
//!   encrypted record (`PrefixedPayload::with_capacity`, plaintext + 22 bytes in TLS 1.3),
//!   which `CommonState::write_fragments` copies into our outgoing buffer and frees;
//! - opening a record: `CommonState::take_received_plaintext` copies the payload rustls
//!   decrypted in place into a `Vec` (`Payload::into_vec`), queued for
//!   `ReadTraffic::next_record`.
//!
//! The test pins that figure down exactly, so an allocation added on this side, or any change
//! in rustls, makes it fail.

#[path = "support/tls_fixtures.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{ErrorKind, Read};
use std::time::Instant;

use common::{Client, SAFETY_NET, TestPki, spawn_echo_server};

struct CountingAllocator;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    /// The two allocation sizes rustls is known to use per round trip: (plaintext, sealed).
    static KNOWN_SIZES: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
    /// Allocations of (the plaintext size, the sealed record size, any other size).
    static BY_SIZE: Cell<(u64, u64, u64)> = const { Cell::new((0, 0, 0)) };
    static BACKTRACES_LEFT: Cell<u32> = const { Cell::new(0) };
    static IN_BACKTRACE: Cell<bool> = const { Cell::new(false) };
}

impl CountingAllocator {
    fn note(size: usize) {
        let counting = COUNTING.try_with(Cell::get).unwrap_or(false);
        if !counting || IN_BACKTRACE.try_with(Cell::get).unwrap_or(true) {
            return;
        }
        let (plaintext, sealed) = KNOWN_SIZES.try_with(Cell::get).unwrap_or((0, 0));
        let _ = BY_SIZE.try_with(|by_size| {
            let (p, s, o) = by_size.get();
            by_size.set(match size {
                _ if size == plaintext => (p + 1, s, o),
                _ if size == sealed => (p, s + 1, o),
                _ => (p, s, o + 1),
            });
        });
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
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping only
// touches thread-local `Cell`s without destructors, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::note(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc`'s requirements, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::note(layout.size());
        // SAFETY: the caller upholds `GlobalAlloc`'s requirements, passed on unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::note(new_size);
        // SAFETY: the caller upholds `GlobalAlloc`'s requirements, passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc`'s requirements, passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Allocations `f` made on this thread, by size.
#[derive(Debug, PartialEq, Eq)]
struct Counts {
    plaintext_copies: u64,
    sealed_records: u64,
    other: u64,
}

fn count_allocations(known_sizes: (usize, usize), f: impl FnOnce()) -> Counts {
    let backtraces = if std::env::var_os("ALLOC_BACKTRACE").is_some() {
        8
    } else {
        0
    };
    BACKTRACES_LEFT.with(|b| b.set(backtraces));
    KNOWN_SIZES.with(|sizes| sizes.set(known_sizes));
    BY_SIZE.with(|by_size| by_size.set((0, 0, 0)));
    COUNTING.with(|counting| counting.set(true));
    f();
    COUNTING.with(|counting| counting.set(false));
    let (plaintext_copies, sealed_records, other) = BY_SIZE.with(Cell::get);
    Counts {
        plaintext_copies,
        sealed_records,
        other,
    }
}

/// TLS 1.3 record expansion with AES-GCM or ChaCha20-Poly1305: 5-byte header, 1-byte inner
/// content type, 16-byte tag.
const TLS13_RECORD_OVERHEAD: usize = 5 + 1 + 16;
const WARM_UP_ROUND_TRIPS: usize = 100;
const COUNTED_ROUND_TRIPS: u64 = 1000;

#[test]
fn warm_round_trips_allocate_only_the_two_rustls_record_buffers() {
    let pki = TestPki::generate();
    let (addr, server) = spawn_echo_server(pki.default_server_config());
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");
    assert_eq!(
        client.tls.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );

    // A message the size of a cancel request frame.
    let mut message = [0u8; 200];
    for (i, byte) in message.iter_mut().enumerate() {
        *byte = b'a' + (i % 26) as u8;
    }
    let mut echoed = [0u8; 512];

    let mut round_trip = |client: &mut Client| {
        let deadline = Instant::now() + SAFETY_NET;
        client.tls.write_record(&message).expect("write_record");
        while !client.tls.flush_tls().expect("flush_tls") {
            assert!(Instant::now() < deadline, "flush did not finish");
            client.wait();
        }
        let mut got = 0;
        while got < message.len() {
            match client.tls.read(&mut echoed[got..]) {
                Ok(0) => panic!("server closed"),
                Ok(n) => got += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    assert!(Instant::now() < deadline, "no echo");
                    client.wait();
                }
                Err(e) => panic!("read: {e}"),
            }
        }
        assert_eq!(got, message.len());
        assert!(echoed[..got] == message[..], "echo differs");
    };

    for _ in 0..WARM_UP_ROUND_TRIPS {
        round_trip(&mut client);
    }
    let known_sizes = (message.len(), message.len() + TLS13_RECORD_OVERHEAD);
    let counts = count_allocations(known_sizes, || {
        for _ in 0..COUNTED_ROUND_TRIPS {
            round_trip(&mut client);
        }
    });
    eprintln!("{COUNTED_ROUND_TRIPS} warm round trips: {counts:?}");

    client.tls.close().expect("close");
    client.flush_all();
    server.join().expect("server thread").expect("server");

    assert_eq!(
        counts.other, 0,
        "allocations besides rustls's per-record buffers (run with ALLOC_BACKTRACE=1 to see where)"
    );
    assert_eq!(
        counts,
        Counts {
            plaintext_copies: COUNTED_ROUND_TRIPS,
            sealed_records: COUNTED_ROUND_TRIPS,
            other: 0,
        },
        "rustls's per-record allocations changed: if they are gone, tighten this test to zero"
    );
}
