//! TLS for the venue connection: the rustls client configuration, and a nonblocking,
//! preallocated TLS connection over the mio socket.
//!
//! [`client_config`] builds the one [`rustls::ClientConfig`] every connection shares: rustls's
//! `ring` provider, the public web roots from `webpki-roots`, and optionally an extra CA (the
//! simulated venue's, or a private one). Certificate verification cannot be switched off.
//!
//! [`TlsStream`] runs the client side of a TLS connection over a nonblocking
//! [`mio::net::TcpStream`] with rustls's unbuffered API. Its buffers are allocated once, when
//! it is created: ciphertext is read into a fixed incoming buffer, where rustls decrypts it in
//! place; application data is encrypted into a fixed outgoing buffer
//! ([`TlsStream::write_record`], no syscall) and handed to the kernel by
//! [`TlsStream::flush_tls`]. Nothing ever blocks, and a flush that stopped on `WouldBlock`
//! never keeps the stream from reading: the classic deadlock of nonblocking TLS (both sides
//! waiting to write while neither reads) cannot happen here.
//!
//! Hostile or broken peers end the connection with a [`TlsError`], never a panic, and memory
//! stays bounded by the buffer capacities ([`INCOMING_CAPACITY`], [`OUTGOING_CAPACITY`]).
//!
//! Once the handshake is over, the connection's traffic keys are taken from rustls
//! (`dangerous_into_kernel_connection`, the interface rustls offers for kernel TLS) and
//! records are protected by this crate's [`RecordCipher`] with ring's AEADs: TLS 1.3 with
//! AES-128-GCM, AES-256-GCM or ChaCha20-Poly1305, TLS 1.2 with ECDHE AES-GCM or
//! ChaCha20-Poly1305, the suites rustls negotiates by default. rustls still does everything
//! else: the handshake, certificate verification, the key schedule for TLS 1.3 key updates,
//! and session tickets.
//!
//! Why: rustls 0.23 allocates a short-lived `Vec` for every record it seals (the ring
//! provider's encrypter builds the record in a fresh buffer) and for every application data
//! record it opens (a copy of the plaintext it decrypted in place), even through its
//! unbuffered API. This crate seals straight into its outgoing buffer and opens in place in its
//! incoming buffer, so a warm request/reply round trip allocates nothing
//! (`tests/alloc_tls.rs` pins that at zero).
//!
//! What still allocates after the handshake, all rare and off the request path: a TLS 1.3
//! session ticket stored for resumption (sent by servers right after the handshake), a TLS 1.3
//! key update (rustls derives the next secret), and error values.

mod config;
mod error;
#[cfg(feature = "fuzzing")]
mod fuzzing;
mod record;
mod sizes;
mod stream;
mod traffic;
mod window;

pub use config::client_config;
pub use error::TlsError;
#[cfg(feature = "fuzzing")]
pub use fuzzing::RecordReader;
pub use record::RecordCipher;
pub use sizes::{
    INCOMING_CAPACITY, MAX_RECORD_PLAINTEXT, MAX_WRITE, OUTGOING_CAPACITY, RECORD_HEADER_LEN,
};
pub use stream::TlsStream;
