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
//! Allocation: this module allocates nothing per record. rustls 0.23 itself still allocates
//! one short-lived `Vec` per record it seals (the ring provider's encrypter builds the record
//! in a fresh buffer, which rustls then copies into ours) and one per application data record
//! it opens (a copy of the plaintext it decrypted in place), even through the unbuffered API.
//! The allocation test (`tests/alloc_tls.rs`) pins that figure down: two per request/reply
//! round trip, both freed within the call.

mod config;
mod error;
mod stream;
mod window;

pub use config::client_config;
pub use error::TlsError;
pub use stream::{
    INCOMING_CAPACITY, MAX_RECORD_PLAINTEXT, MAX_WRITE, OUTGOING_CAPACITY, TlsStream,
};
