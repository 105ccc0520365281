//! Micro-benches for the pieces of the data path that are not the codec's: encrypting one
//! cancel-sized record with rustls (buffered against unbuffered API) and the hop through a queue
//! between two threads.

#[allow(dead_code)]
#[path = "latency/alloc.rs"]
mod alloc;
#[allow(dead_code)]
#[path = "latency/server.rs"]
mod server;
#[allow(dead_code)]
#[path = "latency/tls_client.rs"]
mod tls_client;

use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rustls::ClientConnection;
use rustls_pki_types::ServerName;

/// The size of the documented cancel request, the record the engine encrypts per cancel.
const RECORD: usize = 139;

fn encrypt(c: &mut Criterion) {
    let server = match server::Server::start() {
        Ok(s) => s,
        Err(e) => panic!("cannot start the loopback server: {e}"),
    };
    let config = match server.certs().client_config() {
        Ok(c) => c,
        Err(e) => panic!("cannot build the client configuration: {e}"),
    };
    let plaintext = [b'x'; RECORD];

    let mut group = c.benchmark_group("encrypt");
    group.throughput(Throughput::Bytes(RECORD as u64));

    // Unbuffered: encrypt straight into a caller's buffer.
    let mut client = match tls_client::TlsClient::connect(server.port(), config.clone()) {
        Ok(c) => c,
        Err(e) => panic!("TLS handshake failed: {e}"),
    };
    let mut out = vec![0u8; 16 * 1024];
    group.bench_function("rustls_unbuffered_139_bytes", |b| {
        b.iter(|| {
            let n = client.encrypt_only(black_box(&plaintext), &mut out);
            black_box(n.map(|n| out[n - 1]).ok())
        })
    });

    // Buffered: write into the session, then collect the ciphertext into a reused buffer.
    let name = ServerName::try_from("localhost").unwrap_or_else(|e| panic!("{e}"));
    let mut conn = ClientConnection::new(config, name).unwrap_or_else(|e| panic!("{e}"));
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", server.port()))
        .unwrap_or_else(|e| panic!("{e}"));
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut sink = Vec::with_capacity(16 * 1024);
    group.bench_function("rustls_buffered_139_bytes", |b| {
        b.iter(|| {
            sink.clear();
            let wrote = conn.writer().write_all(black_box(&plaintext));
            let moved = conn.write_tls(&mut sink);
            black_box((wrote.is_ok(), moved.ok(), sink.len()))
        })
    });
    group.finish();
}

/// Pins the calling thread, as the engine and the strategy thread are.
fn pin(core: usize) {
    if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
        eprintln!("cannot pin to core {core}: figures will be noisier");
    }
}

/// One value to a second thread and back, through two bounded queues; the figure is a round
/// trip (two hops). The spinning pair is pinned to cores 0 and 1, like the strategy thread and
/// the engine: on a machine with other busy processes, unpinned spinners measure the
/// scheduler instead.
fn queue_hop(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue_hop");

    group.bench_function("crossbeam_bounded_round_trip", |b| {
        let (to_echo, echo_in) = crossbeam_channel::bounded::<u64>(1024);
        let (echo_out, from_echo) = crossbeam_channel::bounded::<u64>(1024);
        let stop = Arc::new(AtomicBool::new(false));
        let echo = {
            let stop = stop.clone();
            thread::spawn(move || {
                pin(1);
                while !stop.load(Ordering::Relaxed) {
                    match echo_in.try_recv() {
                        Ok(v) => {
                            let _ = echo_out.try_send(v);
                        }
                        Err(_) => std::hint::spin_loop(),
                    }
                }
            })
        };
        pin(0);
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                let _ = to_echo.try_send(i);
                loop {
                    if let Ok(v) = from_echo.try_recv() {
                        black_box(v);
                        break;
                    }
                    std::hint::spin_loop();
                }
            }
            start.elapsed()
        });
        stop.store(true, Ordering::Relaxed);
        let _ = echo.join();
    });

    group.bench_function("std_sync_channel_blocking_round_trip", |b| {
        let (to_echo, echo_in) = std::sync::mpsc::sync_channel::<u64>(1024);
        let (echo_out, from_echo) = std::sync::mpsc::sync_channel::<u64>(1024);
        let echo = thread::spawn(move || {
            while let Ok(v) = echo_in.recv() {
                if echo_out.send(v).is_err() {
                    break;
                }
            }
        });
        b.iter_custom(|iters| {
            let start = Instant::now();
            for i in 0..iters {
                let _ = to_echo.send(i);
                black_box(from_echo.recv().ok());
            }
            start.elapsed()
        });
        drop(to_echo);
        let _ = echo.join();
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = encrypt, queue_hop
}
criterion_main!(benches);
