//! The closest low-latency peer: boomnet (synchronous, nonblocking, rustls), driven the way its
//! README and examples show: `TcpStream::try_from(..)`, `into_tls_stream_with_config(..)`,
//! `into_websocket(path)`, `send_text`, and `read_batch` busy-polled on the strategy thread
//! itself. The request is written into a reused buffer; the reply is parsed with serde_json into
//! borrowed fields.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use boomnet::stream::ConnectionInfo;
use boomnet::stream::tcp::TcpStream;
use boomnet::stream::tls::{IntoTlsStream, TlsConfig, TlsStream};
use boomnet::ws::{IntoWebsocket, Websocket, WebsocketFrame};
use rustls_for_boomnet as rustls022;
use serde::Deserialize;

use super::server::{PATH, Server};
use super::workload::{BenchResult, Contender, Trip, WireSource};

#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow)]
    event: &'a str,
    #[serde(borrow, default)]
    arg: Option<[ReplyArg<'a>; 1]>,
    #[serde(default)]
    code: i64,
}

#[derive(Deserialize)]
struct ReplyArg<'a> {
    #[serde(borrow)]
    id: &'a str,
}

/// The boomnet contender.
pub struct Boomnet {
    ws: Websocket<TlsStream<TcpStream>>,
    request: Vec<u8>,
}

/// A rustls 0.22 client configuration (boomnet's rustls) with webpki roots plus the bench CA.
fn tls_config(server: &Server) -> BenchResult<rustls022::ClientConfig> {
    let mut roots = rustls022::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots.add(server.certs().ca_der.clone())?;
    let provider = Arc::new(rustls022::crypto::ring::default_provider());
    Ok(rustls022::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl Boomnet {
    /// Connects, upgrades and logs in, spinning as boomnet does.
    pub fn connect(server: &Server) -> BenchResult<Boomnet> {
        let config = tls_config(server)?;
        let info = ConnectionInfo::new("localhost", server.port());
        let addr = SocketAddr::from(([127, 0, 0, 1], server.port()));
        let ws = TcpStream::try_from((&info, addr))?
            .into_tls_stream_with_config(|tls| *tls = TlsConfig::from(config))?
            .into_websocket(PATH);
        let mut boomnet = Boomnet {
            ws,
            request: Vec::with_capacity(512),
        };
        boomnet.ws.send_text(
            true,
            Some(
                br#"{"op":"login","args":[{"apiKey":"bench-key","passphrase":"bench-pass","timestamp":"1538054050","sign":"aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQ="}]}"#,
            ),
        )?;
        let mut logged_in = false;
        while !logged_in {
            for frame in boomnet.ws.read_batch()? {
                if let WebsocketFrame::Text(_, body) = frame? {
                    let reply: Reply = serde_json::from_slice(body)?;
                    if reply.event != "login" || reply.code != 0 {
                        return Err(
                            format!("login refused: {}", String::from_utf8_lossy(body)).into()
                        );
                    }
                    logged_in = true;
                }
            }
        }
        Ok(boomnet)
    }

    fn send(&mut self, id: u64) -> BenchResult<()> {
        self.request.clear();
        write!(
            self.request,
            r#"{{"op":"trade","args":[{{"id":"{id}","instType":"SPOT","instId":"BTCUSDT","channel":"cancel-order","params":{{"orderId":"1376695893517410304"}}}}]}}"#
        )?;
        self.ws.send_text(true, Some(&self.request))?;
        Ok(())
    }

    /// Spins on `read_batch` until `n` cancel replies came back; returns the last id.
    fn wait(&mut self, n: usize) -> BenchResult<u64> {
        let mut got = 0;
        let mut last = 0;
        while got < n {
            for frame in self.ws.read_batch()? {
                if let WebsocketFrame::Text(_, body) = frame? {
                    let reply: Reply = serde_json::from_slice(body)?;
                    let Some([arg]) = reply.arg else { continue };
                    if reply.code != 0 {
                        return Err(format!("cancel {} refused: {}", arg.id, reply.code).into());
                    }
                    last = arg.id.parse()?;
                    got += 1;
                }
            }
        }
        Ok(last)
    }
}

impl Contender for Boomnet {
    fn name(&self) -> &'static str {
        "boomnet"
    }

    fn setup(&self) -> String {
        "strategy thread only (core 0), busy-polling read_batch; boomnet 1.0.0-rc.8 over \
         rustls 0.22 (ring); request written into a reused buffer, reply parsed by serde_json \
         into borrowed fields"
            .into()
    }

    fn wire_source(&self) -> WireSource {
        WireSource::ServerReceive
    }

    #[inline]
    fn round_trip(&mut self, seq: u64) -> BenchResult<Trip> {
        self.send(seq)?;
        let id = self.wait(1)?;
        if id != seq {
            return Err(format!("expected the outcome of {seq}, got {id}").into());
        }
        Ok(Trip {
            id: seq,
            wire_ns: None,
            write_started_ns: None,
            engine_share_ns: None,
            settled_ns: None,
        })
    }

    fn burst(&mut self, seq: u64, n: usize) -> BenchResult<()> {
        for id in seq..seq + n as u64 {
            self.send(id)?;
        }
        self.wait(n)?;
        Ok(())
    }
}
