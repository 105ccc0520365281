//! CONTRACT STUB: replaced by the real module. Signatures are the contract other modules code against.
//! rustls client configuration and nonblocking, allocation-free TLS I/O over a mio socket.
#![allow(missing_docs, unused_variables)]

use std::sync::Arc;

#[derive(Debug)]
pub struct TlsError;

/// webpki roots plus an optional extra CA (PEM). Verification cannot be switched off.
pub fn client_config(extra_ca_pem: Option<&[u8]>) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    unimplemented!("contract stub")
}

/// A client TLS session over a nonblocking mio TcpStream (rustls unbuffered API).
/// `Read`/`Write` work with nonblocking semantics (WouldBlock) and serve the upgrade handshake.
#[derive(Debug)]
pub struct TlsStream {}
impl TlsStream {
    pub fn new(
        config: Arc<rustls::ClientConfig>,
        server_name: &str,
        tcp: mio::net::TcpStream,
    ) -> Result<Self, TlsError> {
        unimplemented!("contract stub")
    }
    pub fn tcp_mut(&mut self) -> &mut mio::net::TcpStream {
        unimplemented!("contract stub")
    }
    pub fn is_handshaking(&self) -> bool {
        unimplemented!("contract stub")
    }
    /// Encrypts one plaintext record into the preallocated outgoing buffer (no syscall).
    pub fn write_record(&mut self, plaintext: &[u8]) -> Result<(), TlsError> {
        unimplemented!("contract stub")
    }
    /// Writes pending ciphertext to the socket; true when nothing remains pending.
    pub fn flush_tls(&mut self) -> std::io::Result<bool> {
        unimplemented!("contract stub")
    }
    pub fn wants_write(&self) -> bool {
        unimplemented!("contract stub")
    }
}
