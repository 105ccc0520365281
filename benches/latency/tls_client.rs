//! A minimal TLS client on rustls' unbuffered API over a nonblocking std socket, spinning instead
//! of waiting: what the floor contender (and the encrypt micro-bench) stand on.
//!
//! Encryption goes straight into a preallocated buffer and out in one `write(2)`; received
//! records are handed to the caller as they are decrypted.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use rustls::client::UnbufferedClientConnection;
use rustls::unbuffered::{ConnectionState, UnbufferedStatus};
use rustls_pki_types::ServerName;

const BUF: usize = 64 * 1024;

/// A TLS session whose I/O is driven by hand.
pub struct TlsClient {
    conn: UnbufferedClientConnection,
    tcp: TcpStream,
    incoming: Box<[u8]>,
    used: usize,
    outgoing: Box<[u8]>,
    out_used: usize,
    /// When the last application-data `write(2)` was entered.
    pub write_started_ns: u64,
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Writes all of `buf` to a nonblocking socket, spinning while the kernel is full.
fn write_all_spin(tcp: &mut TcpStream, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match tcp.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::hint::spin_loop(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

impl TlsClient {
    /// Connects to `127.0.0.1:port`, verifying the server as `localhost` with `config`, and
    /// completes the handshake.
    pub fn connect(port: u16, config: Arc<rustls::ClientConfig>) -> io::Result<TlsClient> {
        let tcp = TcpStream::connect(("127.0.0.1", port))?;
        tcp.set_nodelay(true)?;
        tcp.set_nonblocking(true)?;
        let name = ServerName::try_from("localhost").map_err(other)?;
        let conn = UnbufferedClientConnection::new(config, name).map_err(other)?;
        let mut client = TlsClient {
            conn,
            tcp,
            incoming: vec![0; BUF].into_boxed_slice(),
            used: 0,
            outgoing: vec![0; BUF].into_boxed_slice(),
            out_used: 0,
            write_started_ns: 0,
        };
        while client.pump(None, &mut |_| {})? {
            client.read_spin()?;
        }
        Ok(client)
    }

    /// Encrypts `plaintext` as one record and hands it to the kernel. Records that arrived
    /// meanwhile go to `on_plain`.
    #[inline]
    pub fn send(&mut self, plaintext: &[u8], on_plain: &mut impl FnMut(&[u8])) -> io::Result<()> {
        let mut data = Some(plaintext);
        while data.is_some() {
            self.pump_with(&mut data, on_plain)?;
            if data.is_some() {
                self.read_spin()?;
            }
        }
        Ok(())
    }

    /// Reads what the socket has (without waiting) and passes decrypted records to `on_plain`;
    /// false if the socket had nothing.
    #[inline]
    pub fn poll(&mut self, on_plain: &mut impl FnMut(&[u8])) -> io::Result<bool> {
        if self.read_once()? == 0 {
            return Ok(false);
        }
        self.pump(None, on_plain)?;
        Ok(true)
    }

    /// Reads until the socket gives at least one byte.
    fn read_spin(&mut self) -> io::Result<()> {
        while self.read_once()? == 0 {
            std::hint::spin_loop();
        }
        Ok(())
    }

    #[inline]
    fn read_once(&mut self) -> io::Result<usize> {
        if self.used == self.incoming.len() {
            return Err(other("TLS input buffer full"));
        }
        match self.tcp.read(&mut self.incoming[self.used..]) {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                self.used += n;
                Ok(n)
            }
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }

    /// Runs rustls over the buffered input until it can take application data (then `data`, if
    /// any, is encrypted and sent) or needs more input. True while the handshake is blocked.
    #[inline]
    fn pump(&mut self, data: Option<&[u8]>, on_plain: &mut impl FnMut(&[u8])) -> io::Result<bool> {
        let mut data = data;
        self.pump_with(&mut data, on_plain)
    }

    fn pump_with(
        &mut self,
        data: &mut Option<&[u8]>,
        on_plain: &mut impl FnMut(&[u8]),
    ) -> io::Result<bool> {
        loop {
            let UnbufferedStatus { mut discard, state } = self
                .conn
                .process_tls_records(&mut self.incoming[..self.used]);
            let mut done = None;
            match state.map_err(other)? {
                ConnectionState::ReadTraffic(mut records) => {
                    while let Some(record) = records.next_record() {
                        let record = record.map_err(other)?;
                        discard += record.discard;
                        on_plain(record.payload);
                    }
                }
                ConnectionState::EncodeTlsData(mut encode) => {
                    self.out_used += encode
                        .encode(&mut self.outgoing[self.out_used..])
                        .map_err(other)?;
                }
                ConnectionState::TransmitTlsData(transmit) => {
                    write_all_spin(&mut self.tcp, &self.outgoing[..self.out_used])?;
                    self.out_used = 0;
                    transmit.done();
                }
                ConnectionState::WriteTraffic(mut write) => {
                    if let Some(plaintext) = data.take() {
                        let n = write
                            .encrypt(plaintext, &mut self.outgoing)
                            .map_err(other)?;
                        self.write_started_ns = bitget_cancel::clock::monotonic_ns();
                        write_all_spin(&mut self.tcp, &self.outgoing[..n])?;
                    }
                    done = Some(false);
                }
                ConnectionState::BlockedHandshake => done = Some(true),
                ConnectionState::PeerClosed | ConnectionState::Closed => {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                other_state => return Err(other(format!("unexpected TLS state {other_state:?}"))),
            }
            if discard > 0 {
                self.incoming.copy_within(discard..self.used, 0);
                self.used -= discard;
            }
            if let Some(blocked) = done {
                return Ok(blocked);
            }
        }
    }

    /// Encrypts `plaintext` into `out` without sending it (for the encrypt micro-bench).
    #[allow(dead_code)]
    pub fn encrypt_only(&mut self, plaintext: &[u8], out: &mut [u8]) -> io::Result<usize> {
        let UnbufferedStatus { state, .. } = self
            .conn
            .process_tls_records(&mut self.incoming[..self.used]);
        match state.map_err(other)? {
            ConnectionState::WriteTraffic(mut write) => {
                write.encrypt(plaintext, out).map_err(other)
            }
            state => Err(other(format!("not ready to encrypt: {state:?}"))),
        }
    }
}
