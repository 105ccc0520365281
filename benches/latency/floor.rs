//! The floor: how fast this machine can go. On the strategy thread itself, with no queue, no
//! JSON and no framing work: a masked frame built once is encrypted (it must still go through
//! TLS) and written, then the socket is spun on until one complete frame has been decrypted.

use std::cell::Cell;
use std::io;

use bitget_cancel::clock::monotonic_ns;
use bitget_cancel::ws::{MaskGen, OpCode, encode_client_frame};

use super::server::{PATH, Server};
use super::tls_client::TlsClient;
use super::workload::{BenchResult, Contender, Trip, WireSource};

/// The one request every contender sends, as the venue documents it (the floor sends id 1).
const REQUEST: &[u8] = br#"{"op":"trade","args":[{"id":"1","instType":"SPOT","instId":"BTCUSDT","channel":"cancel-order","params":{"orderId":"1376695893517410304"}}]}"#;
const LOGIN: &[u8] = br#"{"op":"login","args":[{"apiKey":"bench-key","passphrase":"bench-pass","timestamp":"1538054050","sign":"aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQ="}]}"#;

/// Counts complete server frames in the decrypted stream, buffering partial ones.
struct FrameCounter {
    buf: Vec<u8>,
}

impl FrameCounter {
    /// Appends decrypted bytes and returns how many frames they completed.
    #[inline]
    fn push(&mut self, bytes: &[u8]) -> usize {
        self.buf.extend_from_slice(bytes);
        let mut frames = 0;
        let mut at = 0;
        loop {
            let rest = &self.buf[at..];
            if rest.len() < 2 {
                break;
            }
            let (header, len) = match rest[1] & 0x7F {
                126 if rest.len() >= 4 => (4, usize::from(u16::from_be_bytes([rest[2], rest[3]]))),
                126 | 127 => break,
                n => (2, usize::from(n)),
            };
            if rest.len() < header + len {
                break;
            }
            at += header + len;
            frames += 1;
        }
        self.buf.drain(..at);
        frames
    }
}

/// The floor contender.
pub struct Floor {
    tls: TlsClient,
    frame: Vec<u8>,
    frames: FrameCounter,
}

impl Floor {
    /// Connects, upgrades and logs in.
    pub fn connect(server: &Server) -> BenchResult<Floor> {
        let mut tls = TlsClient::connect(server.port(), server.certs().client_config()?)?;
        let request = format!(
            "GET {PATH} HTTP/1.1\r\nHost: localhost:{}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n",
            server.port()
        );
        let mut head = Vec::new();
        tls.send(request.as_bytes(), &mut |p| head.extend_from_slice(p))?;
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            tls.poll(&mut |p| head.extend_from_slice(p))?;
        }
        if !head.starts_with(b"HTTP/1.1 101") {
            return Err(format!("upgrade refused: {}", String::from_utf8_lossy(&head)).into());
        }
        let mut masks = MaskGen::new();
        let mut frame = Vec::with_capacity(256);
        encode_client_frame(&mut frame, OpCode::Text, LOGIN, masks.next_mask());
        let mut floor = Floor {
            tls,
            frame,
            frames: FrameCounter {
                buf: Vec::with_capacity(64 * 1024),
            },
        };
        floor.exchange(1)?;
        floor.frame.clear();
        encode_client_frame(&mut floor.frame, OpCode::Text, REQUEST, masks.next_mask());
        Ok(floor)
    }

    /// Sends the prebuilt frame `n` times, then spins until `n` frames came back; returns when
    /// the first `write(2)` was entered and when it returned.
    #[inline]
    fn exchange(&mut self, n: usize) -> io::Result<(u64, u64)> {
        let Floor { tls, frame, frames } = self;
        let got = Cell::new(0);
        let mut count = |p: &[u8]| got.set(got.get() + frames.push(p));
        tls.send(frame, &mut count)?;
        let wire_ns = monotonic_ns();
        let write_started_ns = tls.write_started_ns;
        for _ in 1..n {
            tls.send(frame, &mut count)?;
        }
        while got.get() < n {
            if !tls.poll(&mut count)? {
                std::hint::spin_loop();
            }
        }
        Ok((write_started_ns, wire_ns))
    }
}

impl Contender for Floor {
    fn name(&self) -> &'static str {
        "floor"
    }

    fn setup(&self) -> String {
        "strategy thread only (core 0), spinning on a nonblocking socket; rustls unbuffered; \
         prebuilt masked frame"
            .into()
    }

    fn wire_source(&self) -> WireSource {
        WireSource::Client
    }

    #[inline]
    fn round_trip(&mut self, _seq: u64) -> BenchResult<Trip> {
        let (write_started_ns, wire_ns) = self.exchange(1)?;
        Ok(Trip {
            id: 1,
            wire_ns: Some(wire_ns),
            write_started_ns: Some(write_started_ns),
            engine_share_ns: None,
            settled_ns: None,
        })
    }

    fn burst(&mut self, _seq: u64, n: usize) -> BenchResult<()> {
        self.exchange(n)?;
        Ok(())
    }
}
