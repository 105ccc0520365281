//! Bitget's REST cancel: the rung below WebSocket, for when no WebSocket connection is live or the
//! account has no WebSocket trading permission.
//!
//! The pieces, in the order a cancel meets them (the venue's bytes, request and reply, are the
//! venue seam's V2 dialect, re-exported here; this module holds the transport):
//!
//! - **Request** ([`encode_cancel_body`], [`sign_request`]): the JSON body of
//!   `POST /api/v2/spot/trade/cancel-order` or `POST /api/v2/mix/order/cancel-order`, and the
//!   signature `base64(HMAC-SHA256(secret, timestamp + "POST" + requestPath + body))` with the
//!   timestamp in Unix milliseconds. The HTTP/1.1 request is written into a reused buffer.
//! - **Response** ([`ResponseReader`]): an incremental HTTP/1.1 reader over `httparse` with
//!   every size bounded (`Content-Length`, chunked, and close-delimited bodies).
//! - **Verdict** ([`decode_verdict`]): `code` `00000` is [`Verdict::Acked`]; any other code is
//!   [`Verdict::Rejected`] with the venue's code and message, whatever the HTTP status; a 5xx or
//!   a body that is not the venue's JSON is a failure (no verdict).
//! - **Client** ([`RestClient`]): one keep-alive HTTPS connection as a nonblocking state machine,
//!   driven from the caller's `mio` loop, kept warm with `GET /api/v2/public/time`, which also
//!   measures the venue's clock offset.
//! - **Order query** ([`RestClient::send_query`], [`decode_order`]): the signed
//!   `GET /api/v2/spot/trade/orderInfo` or `/api/v2/mix/order/detail` that tells where an order
//!   stands, for the final word on a cancel when no push said it.
//!
//! How an event loop drives a [`RestClient`] (see its documentation for an example):
//!
//! 1. [`RestClient::new`] (no I/O), then [`RestClient::start`] once: resolves the host (the one
//!    call that may block) and schedules the first connection.
//! 2. Each socket event with the client's token: [`RestClient::on_event`].
//! 3. Each loop turn where an event arrived or [`RestClient::next_deadline`] has passed:
//!    [`RestClient::advance`], which does the I/O and timers and appends [`RestEvent`]s.
//! 4. To cancel: when [`RestClient::is_ready`], [`RestClient::send_cancel`] with a tag of the
//!    caller's. Every accepted cancel then gets exactly one [`RestEvent::Reply`] or
//!    [`RestEvent::Failed`] with that tag, from a later `advance` (or `shutdown`).

mod client;
mod config;
mod http;
mod verdict;

pub use crate::venue::AccountAnswer;
pub use crate::venue::v2::rest::{
    BatchKey, FUTURES_BATCH_CANCEL_PATH, FUTURES_CANCEL_ALL_PATH, FUTURES_CANCEL_PATH,
    FUTURES_ORDER_DETAIL_PATH, MAX_BATCH, MAX_BATCH_BODY_LEN, MAX_CANCEL_BODY_LEN,
    SERVER_TIME_PATH, SPOT_BATCH_CANCEL_PATH, SPOT_CANCEL_PATH, SPOT_CANCEL_SYMBOL_PATH,
    SPOT_ORDER_INFO_PATH, batch_cancel_path, cancel_all_path, cancel_path,
    encode_batch_cancel_body, encode_cancel_all_body, encode_cancel_body,
    encode_order_query_string, order_query_path, sign_request,
};
pub use client::{RestClient, RestEvent, SendError};
pub use config::{LIVE_BASE_URL, RestConfig};
pub use http::{HttpError, MAX_HEAD_LEN, MAX_HEADERS, MAX_INTERIM, Response, ResponseReader};
pub use verdict::{
    BatchResults, BatchVerdict, CancelAllVerdict, OrderAnswer, Verdict, decode_order,
    decode_server_time, decode_verdict,
};

use crate::outcome::{ConnectFailure, ErrorText};

/// What went wrong with a REST request or connection, phrased as what the caller can do.
///
/// [`InvalidUrl`](Self::InvalidUrl), [`Tls`](Self::Tls) from [`RestClient::new`] and
/// [`Resolve`](Self::Resolve) from [`RestClient::start`] mean the configuration must be fixed.
/// Every other variant arrives in a [`RestEvent`]: for [`RestEvent::Failed`] the cancel's fate
/// is unknown (it may or may not have reached the venue; a cancel is safe to send again); for
/// [`RestEvent::Lost`] the client reconnects on its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestError {
    /// The base URL cannot be used: fix [`RestConfig::base_url`].
    #[error("invalid REST base url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The host name does not resolve: check the URL and the network.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// The host.
        host: String,
        /// What the resolver said.
        reason: String,
    },
    /// TLS failed: configuration (fix the CA), handshake (certificate, name) or a broken record.
    #[error("TLS: {0}")]
    Tls(String),
    /// A socket operation failed (connection refused, reset, ...): the client reconnects.
    #[error("socket: {0}")]
    Io(String),
    /// No complete reply within [`RestConfig::request_timeout`], or no connection within
    /// [`RestConfig::connect_timeout`].
    #[error("timed out {0}")]
    Timeout(&'static str),
    /// The connection ended while a request waited for its reply.
    #[error("connection lost with a request in flight: {0}")]
    ConnectionLost(String),
    /// The server ended the keep-alive connection after a reply, or while it was idle: routine;
    /// the client opens a new one at once.
    #[error("the server closed the keep-alive connection")]
    ClosedByServer,
    /// The reply could not be read as HTTP: the connection is dropped.
    #[error("unreadable HTTP reply: {0}")]
    Http(#[from] HttpError),
    /// The venue answered 5xx: no verdict, the order's fate is unknown.
    #[error("the venue answered HTTP {status} (server error)")]
    ServerError {
        /// The HTTP status.
        status: u16,
    },
    /// The reply is HTTP but not the venue's JSON reply (or an impossible combination).
    #[error("unexpected reply (HTTP {status}): {reason}")]
    BadReply {
        /// The HTTP status.
        status: u16,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The client was shut down with the request in flight.
    #[error("the REST client was shut down")]
    Shutdown,
}

impl RestError {
    /// As a not-sent outcome carries a connection error
    /// ([`crate::outcome::NotSentReason::NoConnection`]): its kind, and its sentence after
    /// `REST: `; `None` for the routine end of a keep-alive connection. Nothing is allocated.
    pub(crate) fn as_failure(&self) -> Option<(ConnectFailure, ErrorText)> {
        let failure = match self {
            RestError::ClosedByServer | RestError::Shutdown => return None,
            RestError::Resolve { .. } => ConnectFailure::Dns,
            RestError::Tls(_) => ConnectFailure::Tls,
            RestError::InvalidUrl { .. } | RestError::Io(_) => ConnectFailure::Connect,
            RestError::Timeout(_) => ConnectFailure::Timeout,
            RestError::ConnectionLost(_)
            | RestError::Http(_)
            | RestError::ServerError { .. }
            | RestError::BadReply { .. } => ConnectFailure::Closed,
        };
        Some((failure, ErrorText::display(&format_args!("REST: {self}"))))
    }
}

/// The host and port of a REST base URL, if it is one [`RestClient::new`] accepts.
pub(crate) fn base_host(url: &str) -> Option<(String, u16)> {
    config::BaseUrl::parse(url).ok().map(|u| (u.host, u.port))
}

/// Checks a REST base URL (`https://host[:port]`) the way [`RestClient::new`] will; the reason
/// when it cannot be used.
pub(crate) fn check_base_url(url: &str) -> Result<(), &'static str> {
    match config::BaseUrl::parse(url) {
        Ok(_) => Ok(()),
        Err(RestError::InvalidUrl { reason, .. }) => Err(reason),
        Err(_) => Err("not a usable https:// URL"),
    }
}
