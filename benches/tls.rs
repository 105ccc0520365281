//! Sealing and opening one 139-byte application data record (the size of a cancel request
//! frame): rustls 0.23's unbuffered API against this crate's record layer (`RecordCipher`),
//! both with the suite rustls negotiates by default (TLS 1.3, AES-256-GCM).
//!
//! Before measuring, each path's heap allocations per record are counted and printed.
//!
//! Run briefly: `cargo bench --bench tls -- --warm-up-time 1 --measurement-time 3`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bitget_cancel::tls::{RecordCipher, client_config};
use criterion::{Criterion, criterion_group, criterion_main};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::client::UnbufferedClientConnection;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::unbuffered::{ConnectionState, UnbufferedStatus};
use rustls::{ClientConfig, ContentType, ServerConfig, ServerConnection};

/// Counts allocations while `COUNTING` is set (relaxed atomics: a nanosecond or so per
/// allocation, paid only by the path that allocates).
struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping only
// touches atomics.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds `GlobalAlloc`'s requirements, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc`'s requirements, passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller upholds `GlobalAlloc`'s requirements, passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Allocations per call of `f`, over `calls` calls.
fn allocations_per_call(calls: u64, mut f: impl FnMut()) -> f64 {
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    for _ in 0..calls {
        f();
    }
    COUNTING.store(false, Ordering::Relaxed);
    ALLOCATIONS.load(Ordering::Relaxed) as f64 / calls as f64
}

const RECORD_PLAINTEXT: usize = 139;
/// Start a new connection before rustls gets near AES-GCM's 2^24-record limit.
const RECORDS_PER_CONNECTION: u64 = 1 << 22;

/// A client and a server configuration that trust each other's generated certificates.
fn configs() -> (Arc<ClientConfig>, Arc<ServerConfig>) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("certificate");
    let mut server =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone(), ca.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("server config");
    server.enable_secret_extraction = true;
    let client = client_config(Some(ca.pem().as_bytes())).expect("client config");
    (client, Arc::new(server))
}

/// An unbuffered rustls client and a rustls server that completed a handshake in memory,
/// with what the server sent that the client has not processed yet (its session tickets).
struct Pair {
    client: UnbufferedClientConnection,
    server: ServerConnection,
    to_client: Vec<u8>,
}

/// Moves the client's bytes to the server and the server's answer to the client.
fn pump(server: &mut ServerConnection, to_server: &mut Vec<u8>, to_client: &mut Vec<u8>) {
    let mut rest = &to_server[..];
    while !rest.is_empty() {
        server.read_tls(&mut rest).expect("server read_tls");
        server.process_new_packets().expect("server");
    }
    to_server.clear();
    while server.wants_write() {
        server.write_tls(to_client).expect("server write_tls");
    }
}

fn handshake(client_config: &Arc<ClientConfig>, server_config: &Arc<ServerConfig>) -> Pair {
    let name = ServerName::try_from("localhost").expect("name");
    let mut client = UnbufferedClientConnection::new(client_config.clone(), name).expect("client");
    let mut server = ServerConnection::new(server_config.clone()).expect("server");
    let mut to_client = Vec::new();
    let mut to_server = Vec::new();
    let mut out = vec![0u8; 64 * 1024];
    enum Next {
        Continue,
        Pump,
        Done,
    }
    loop {
        let UnbufferedStatus { discard, state } = client.process_tls_records(&mut to_client);
        let next = match state.expect("client handshake") {
            ConnectionState::EncodeTlsData(mut data) => {
                let n = data.encode(&mut out).expect("encode");
                to_server.extend_from_slice(&out[..n]);
                Next::Continue
            }
            ConnectionState::TransmitTlsData(data) => {
                data.done();
                Next::Continue
            }
            ConnectionState::BlockedHandshake => Next::Pump,
            ConnectionState::WriteTraffic(_) => Next::Done,
            other => panic!("unexpected client state {other:?}"),
        };
        to_client.drain(..discard);
        match next {
            Next::Continue => {}
            Next::Pump => pump(&mut server, &mut to_server, &mut to_client),
            Next::Done => break,
        }
    }
    // The client's Finished; the server answers with its session tickets.
    pump(&mut server, &mut to_server, &mut to_client);
    assert!(!server.is_handshaking());
    Pair {
        client,
        server,
        to_client,
    }
}

/// Lets the rustls client process everything the server sent (session tickets).
fn drain_to_client(pair: &mut Pair) {
    loop {
        let UnbufferedStatus { discard, state } =
            pair.client.process_tls_records(&mut pair.to_client);
        let more = match state.expect("client") {
            ConnectionState::ReadTraffic(mut traffic) => {
                while let Some(record) = traffic.next_record() {
                    record.expect("record");
                }
                true
            }
            ConnectionState::WriteTraffic(_) => false,
            other => panic!("unexpected client state {other:?}"),
        };
        pair.to_client.drain(..discard);
        if !more {
            break;
        }
    }
}

/// `count` application data records of `plaintext` from the rustls server.
fn server_records(server: &mut ServerConnection, plaintext: &[u8], count: u64) -> Vec<u8> {
    let mut wire = Vec::with_capacity(count as usize * (plaintext.len() + 32));
    for _ in 0..count {
        // One write is one record.
        server.writer().write_all(plaintext).expect("server write");
        while server.wants_write() {
            server.write_tls(&mut wire).expect("server write_tls");
        }
    }
    wire
}

/// Opens every record of `wire` with the rustls client, one at a time.
fn rustls_open_all(client: &mut UnbufferedClientConnection, wire: &mut [u8]) -> usize {
    let mut at = 0;
    let mut opened = 0;
    while at < wire.len() {
        let UnbufferedStatus { discard, state } = client.process_tls_records(&mut wire[at..]);
        let mut discard = discard;
        match state.expect("client") {
            ConnectionState::ReadTraffic(mut traffic) => {
                if let Some(record) = traffic.next_record() {
                    let record = record.expect("record");
                    discard += record.discard;
                    opened += black_box(record.payload).len();
                }
            }
            other => panic!("unexpected client state {other:?}"),
        }
        at += discard;
    }
    opened
}

/// This crate's record layer keyed like both ends of a real connection: the client's sealer
/// and opener, and the server's sealer (to make records for the client to open).
struct OwnLayer {
    client_tx: RecordCipher,
    client_rx: RecordCipher,
    server_tx: RecordCipher,
}

fn own_layer(client_config: &Arc<ClientConfig>, server_config: &Arc<ServerConfig>) -> OwnLayer {
    let mut pair = handshake(client_config, server_config);
    // The client's receiving sequence number must count the server's session tickets.
    drain_to_client(&mut pair);
    let version = pair.client.protocol_version().expect("version");
    let (client, _) = pair
        .client
        .dangerous_into_kernel_connection()
        .expect("client secrets");
    let server = pair
        .server
        .dangerous_extract_secrets()
        .expect("server secrets");
    // No limit here: the benchmark runs far more records than one connection may.
    let cipher = |(seq, secrets)| RecordCipher::new(version, &secrets, seq, u64::MAX);
    OwnLayer {
        client_tx: cipher(client.tx).expect("client tx"),
        client_rx: cipher(client.rx).expect("client rx"),
        server_tx: cipher(server.tx).expect("server tx"),
    }
}

/// `count` records sealed by `sealer`, each `record_len` bytes, back to back.
fn own_records(sealer: &mut RecordCipher, plaintext: &[u8], count: u64) -> Vec<u8> {
    let record_len = sealer.sealed_len(plaintext.len());
    let mut wire = vec![0u8; count as usize * record_len];
    for record in wire.chunks_mut(record_len) {
        sealer
            .seal(ContentType::ApplicationData, plaintext, record)
            .expect("seal");
    }
    wire
}

fn record_protection(c: &mut Criterion) {
    let (client_config, server_config) = configs();
    let plaintext: Vec<u8> = (0..RECORD_PLAINTEXT)
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    let mut out = vec![0u8; 1024];

    // --- Allocations per record, outside the timed runs. ---
    let mut pair = handshake(&client_config, &server_config);
    drain_to_client(&mut pair);
    let suite = pair
        .client
        .negotiated_cipher_suite()
        .expect("suite")
        .suite();
    let rustls_seal_allocs = {
        let UnbufferedStatus { state, .. } = pair.client.process_tls_records(&mut []);
        let Ok(ConnectionState::WriteTraffic(mut traffic)) = state else {
            panic!("client not ready to write");
        };
        allocations_per_call(10_000, || {
            black_box(traffic.encrypt(&plaintext, &mut out).expect("encrypt"));
        })
    };
    let mut wire = server_records(&mut pair.server, &plaintext, 10_000);
    let rustls_open_allocs = allocations_per_call(1, || {
        rustls_open_all(&mut pair.client, &mut wire);
    }) / 10_000.0;

    let mut own = own_layer(&client_config, &server_config);
    let own_seal_allocs = allocations_per_call(10_000, || {
        let sealed = own
            .client_tx
            .seal(ContentType::ApplicationData, &plaintext, &mut out)
            .expect("seal");
        black_box(sealed);
    });
    let record_len = own.server_tx.sealed_len(plaintext.len());
    let mut wire = own_records(&mut own.server_tx, &plaintext, 10_000);
    let own_open_allocs = allocations_per_call(1, || {
        for record in wire.chunks_mut(record_len) {
            black_box(own.client_rx.open(record).expect("open"));
        }
    }) / 10_000.0;
    println!(
        "{suite:?}, {RECORD_PLAINTEXT}-byte records, heap allocations per record:\n  \
         seal: rustls {rustls_seal_allocs}, record layer {own_seal_allocs}\n  \
         open: rustls {rustls_open_allocs}, record layer {own_open_allocs}"
    );

    // --- Timed runs. ---
    let mut group = c.benchmark_group(format!("seal_{RECORD_PLAINTEXT}_bytes"));
    let mut rustls = handshake(&client_config, &server_config);
    let mut sealed_on_connection = 0u64;
    group.bench_function("rustls_unbuffered", |b| {
        b.iter_custom(|iters| {
            if sealed_on_connection + iters > RECORDS_PER_CONNECTION {
                rustls = handshake(&client_config, &server_config);
                sealed_on_connection = 0;
            }
            sealed_on_connection += iters;
            let UnbufferedStatus { state, .. } = rustls.client.process_tls_records(&mut []);
            let Ok(ConnectionState::WriteTraffic(mut traffic)) = state else {
                panic!("client not ready to write");
            };
            let start = Instant::now();
            for _ in 0..iters {
                let n = traffic
                    .encrypt(black_box(&plaintext), &mut out)
                    .expect("encrypt");
                black_box(&out[..n]);
            }
            start.elapsed()
        })
    });
    group.bench_function("record_layer", |b| {
        b.iter(|| {
            let n = own
                .client_tx
                .seal(
                    ContentType::ApplicationData,
                    black_box(&plaintext),
                    &mut out,
                )
                .expect("seal");
            black_box(&out[..n]);
        })
    });
    group.finish();

    let mut group = c.benchmark_group(format!("open_{RECORD_PLAINTEXT}_bytes"));
    let mut rustls = handshake(&client_config, &server_config);
    drain_to_client(&mut rustls);
    let mut opened_on_connection = 0u64;
    group.bench_function("rustls_unbuffered", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let batch = left.min(20_000);
                left -= batch;
                if opened_on_connection + batch > RECORDS_PER_CONNECTION {
                    rustls = handshake(&client_config, &server_config);
                    drain_to_client(&mut rustls);
                    opened_on_connection = 0;
                }
                opened_on_connection += batch;
                let mut wire = server_records(&mut rustls.server, &plaintext, batch);
                let start = Instant::now();
                black_box(rustls_open_all(&mut rustls.client, &mut wire));
                elapsed += start.elapsed();
            }
            elapsed
        })
    });
    group.bench_function("record_layer", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let batch = left.min(20_000);
                left -= batch;
                let mut wire = own_records(&mut own.server_tx, &plaintext, batch);
                let start = Instant::now();
                for record in wire.chunks_mut(record_len) {
                    black_box(own.client_rx.open(record).expect("open"));
                }
                elapsed += start.elapsed();
            }
            elapsed
        })
    });
    group.finish();
}

criterion_group!(benches, record_protection);
criterion_main!(benches);
