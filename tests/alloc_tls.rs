//! Heap allocations on the client thread during warm TLS round trips: `write_record` +
//! `flush_tls` + `read` of an echoed 200-byte message, under TLS 1.3 and TLS 1.2 with AES-GCM
//! and ChaCha20-Poly1305.
//!
//! The shared counting global allocator counts per thread, so the echo server's
//! thread is not counted. Set `ALLOC_BACKTRACE=1` to print where the first counted
//! allocations come from.
//!
//! Through rustls 0.23's own record layer each round trip allocated twice (a fresh `Vec` per
//! sealed record, a plaintext copy per opened record). Once the handshake is over `TlsStream`
//! protects records itself, sealing into and opening within its preallocated buffers, so the
//! figure must be exactly zero.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[path = "support/tls_fixtures.rs"]
mod common;

use std::io::{ErrorKind, Read};
use std::time::Instant;

use common::{Client, SAFETY_NET, TestPki, spawn_echo_server};
use rustls::SupportedCipherSuite;
use rustls::crypto::ring::cipher_suite;

/// Allocations `f` made on this thread.
fn count_allocations(f: impl FnOnce()) -> u64 {
    counting_alloc::count(f).0
}

const WARM_UP_ROUND_TRIPS: usize = 100;
const COUNTED_ROUND_TRIPS: u64 = 1000;

/// Warm round trips against an echo server offering only `suite`; returns the allocations
/// counted over [`COUNTED_ROUND_TRIPS`] of them.
fn allocations_of_warm_round_trips(pki: &TestPki, suite: SupportedCipherSuite) -> u64 {
    let (addr, server) = spawn_echo_server(pki.server_config_for_suite(suite));
    let mut client = Client::connect(addr, pki.client_config(), "localhost");
    client.handshake().expect("handshake");

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

    // The warm-up also takes the session tickets a TLS 1.3 server sends after the handshake.
    for _ in 0..WARM_UP_ROUND_TRIPS {
        round_trip(&mut client);
    }
    assert!(client.tls.is_established());
    assert_eq!(
        client.tls.cipher_suite().map(|s| s.suite()),
        Some(suite.suite())
    );
    let allocations = count_allocations(|| {
        for _ in 0..COUNTED_ROUND_TRIPS {
            round_trip(&mut client);
        }
    });
    eprintln!(
        "{:?}: {COUNTED_ROUND_TRIPS} warm round trips, {allocations} allocations",
        suite.suite()
    );

    client.tls.close().expect("close");
    client.flush_all();
    let (_, clean_close) = server.join().expect("server thread").expect("server");
    assert!(clean_close);
    allocations
}

#[test]
fn warm_round_trips_allocate_nothing() {
    let pki = TestPki::generate();
    // The test certificate has an ECDSA key, so the TLS 1.2 suites are the ECDSA ones.
    let suites = [
        cipher_suite::TLS13_AES_256_GCM_SHA384,
        cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    for suite in suites {
        assert_eq!(
            allocations_of_warm_round_trips(&pki, suite),
            0,
            "{:?}: warm round trips allocated (run with ALLOC_BACKTRACE=1 to see where)",
            suite.suite()
        );
    }
}
