//! A plain blocking REST client for the simulated venue, with its own signing
//! (`timestamp + method + path [+ "?" + query] + body`), for the tests of order queries, batches,
//! cancel-alls and V3 REST. Used beside `sim_client.rs`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bitget_cancel::rest::ResponseReader;
use bitget_cancel::sim::SimVenue;
use hmac::{Hmac, KeyInit, Mac};
use rustls::StreamOwned;
use serde_json::Value;
use sha2::Sha256;

use super::common::{SAFETY, Tls, client_tls};

/// Who signs: a key, its secret and passphrase.
#[derive(Debug, Clone)]
pub struct RestKey {
    pub key: String,
    pub secret: String,
    pub passphrase: String,
}

impl RestKey {
    /// The venue's main key.
    pub fn main(venue: &SimVenue) -> RestKey {
        let config = venue.config();
        RestKey {
            key: config.api_key.clone(),
            secret: config.secret.clone(),
            passphrase: config.passphrase.clone(),
        }
    }
}

/// A reply as read: status and JSON body (`Value::Null` for a body that is not JSON).
#[derive(Debug)]
pub struct RestReply {
    pub status: u16,
    pub body: String,
    pub json: Value,
}

impl RestReply {
    /// The venue's `code` (a string over REST).
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }
}

/// One keep-alive REST connection to the venue.
pub struct Rest {
    tls: Tls,
    key: RestKey,
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64
}

impl Rest {
    pub fn connect(venue: &SimVenue) -> Rest {
        Rest::connect_as(venue, RestKey::main(venue))
    }

    pub fn connect_as(venue: &SimVenue, key: RestKey) -> Rest {
        let tcp = TcpStream::connect(venue.rest_addr()).expect("connects");
        tcp.set_read_timeout(Some(SAFETY)).expect("read timeout");
        Rest {
            tls: StreamOwned::new(client_tls(venue), tcp),
            key,
        }
    }

    /// A signed request; `target` is the path with its query.
    pub fn signed(&mut self, method: &str, target: &str, body: &str) -> RestReply {
        self.signed_with(method, target, body, &self.key.secret.clone())
    }

    /// A signed request, signed with `secret` (to test a wrong signature).
    pub fn signed_with(
        &mut self,
        method: &str,
        target: &str,
        body: &str,
        secret: &str,
    ) -> RestReply {
        let timestamp = unix_ms().to_string();
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(format!("{timestamp}{method}{target}{body}").as_bytes());
        let sign = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let request = format!(
            "{method} {target} HTTP/1.1\r\nHost: localhost\r\nACCESS-KEY: {}\r\n\
             ACCESS-PASSPHRASE: {}\r\nACCESS-TIMESTAMP: {timestamp}\r\nACCESS-SIGN: {sign}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.key.key,
            self.key.passphrase,
            body.len()
        );
        self.exchange(request.as_bytes())
            .expect("the venue replies")
    }

    pub fn post(&mut self, path: &str, body: &Value) -> RestReply {
        self.signed("POST", path, &body.to_string())
    }

    pub fn get(&mut self, target: &str) -> RestReply {
        self.signed("GET", target, "")
    }

    /// Writes `request` and reads one reply; `None` when the venue closed without one.
    pub fn exchange(&mut self, request: &[u8]) -> Option<RestReply> {
        self.tls.write_all(request).expect("request written");
        self.tls.flush().expect("flushed");
        let mut reader = ResponseReader::new(64 * 1024);
        let mut chunk = [0u8; 4096];
        loop {
            let n = match self.tls.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => n,
            };
            if let Some(response) = reader.push(&chunk[..n]).expect("valid HTTP") {
                let body = String::from_utf8_lossy(response.body).into_owned();
                let json = serde_json::from_str(&body).unwrap_or(Value::Null);
                return Some(RestReply {
                    status: response.status,
                    body,
                    json,
                });
            }
        }
    }
}
