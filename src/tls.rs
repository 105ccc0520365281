//! CONTRACT STUB: replaced by the real module. Signatures are the contract other modules code against.
//! rustls client configuration and nonblocking, allocation-free TLS I/O over a mio socket.
#![allow(missing_docs, unused_variables, clippy::all)]

use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the peer closed the TLS session")]
    PeerClosed,
    #[error("unexpected eof")]
    UnexpectedEof,
    #[error("TLS handshake failed")]
    Handshake,
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}

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
    pub fn drive_handshake(&mut self) -> Result<bool, TlsError> {
        unimplemented!("contract stub")
    }
    pub fn close(&mut self) -> Result<(), TlsError> {
        unimplemented!("contract stub")
    }
}

impl std::io::Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        unimplemented!("contract stub")
    }
}

impl std::io::Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        unimplemented!("contract stub")
    }
    fn flush(&mut self) -> std::io::Result<()> {
        unimplemented!("contract stub")
    }
}
