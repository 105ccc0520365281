//! The venue seam: the one part of the crate that knows Bitget's bytes. No I/O.
//!
//! A [`Dialect`] turns what the engine wants to say (log in, keep alive, cancel one order) into
//! the text of one WebSocket message, and every text message the venue sends into one neutral
//! [`Inbound`]. The links (one connection each) and the conductor (routing, hedging, failover,
//! rotation, outcomes) see only these neutral types: they never look at a field name, an event
//! name or a venue code, and they never ask which dialect they speak. What the WebSocket itself
//! carries (pings, close frames, binary frames) is the link's business, not the dialect's.
//!
//! The seam in three parts, in the manner of rustls's `kernel.rs`:
//!
//! - **Entry points**: [`Dialect::encode_login`], [`Dialect::ping`], [`Dialect::encode_cancel`]
//!   out; [`Dialect::read`] in; [`Dialect::login_refusal`] and the [`Inbound`] flags for what a
//!   venue code means.
//! - **Preconditions**: the caller's buffers have the capacity the dialect states
//!   ([`Dialect::max_cancel_len`], [`Dialect::max_login_len`], a decoder sized for the largest
//!   message), so that nothing on the hot path allocates; a text message is handed over
//!   complete (deframed, reassembled, valid UTF-8).
//! - **What moves**: [`Dialect::read`] copies what the engine keeps (ids, codes, messages) into
//!   fixed-capacity values, so the message's buffer is free again as soon as it returns.
//!
//! Dispatch is static: a `Dialect` is a plain enum chosen per account, and every method is a
//! `match` that inlines to the one dialect in use; nothing is boxed, nothing allocates.
//!
//! [`v2`] is the classic account's V2 API (`wss://ws.bitget.com/v2/ws/private`, `cancel-order`
//! with `op: trade`). Where the next dialect and the next messages land:
//! - a second API (the unified account's V3: a top-level `id`, lowercase `category`, string
//!   codes) is a module beside [`v2`] and a variant of [`Dialect`], switchable at runtime by the
//!   account that owns the connections;
//! - a batch reply (one request id, a verdict per entry) is a variant of [`Inbound`], which the
//!   conductor's correlation step (the in-flight table) reads;
//! - order updates are: a push reads into [`Inbound::Orders`] (the orders themselves, neutral
//!   [`OrderUpdate`]s, wait in the decoder), the subscription is [`Dialect::encode_subscribe`]
//!   and its answers [`Inbound::Subscribed`] and [`Inbound::SubscribeRefused`], and the REST
//!   order query [`Dialect::encode_rest_query`] and [`Dialect::read_rest_order`]. V3's `order`
//!   topic (`cumExecQty`, `orderStatus`, `updatedTime`) reads into the same `OrderUpdate`;
//! - which codes are definitive and which are transient is a table in the dialect's `codes`
//!   module, read through [`Dialect::answer_class`] (and [`Dialect::login_refusal`] for
//!   logins); a next dialect brings a table of its own.

pub(crate) mod decimal;
pub(crate) mod v2;
pub(crate) mod v3;

use crate::credentials::Credentials;
use crate::final_word::OrderUpdate;
use crate::intent::{Cancel, CancelAll, InstId, InstType, OrderRef, RequestId};
use crate::outcome::VenueMsg;
use v2::rest::BatchKey;
pub(crate) use v2::rest_reply::NoVerdict;

/// The most bytes of an unreadable message kept for the log.
pub(crate) const LOG_EXCERPT: usize = 120;

/// Which of the venue's APIs an account speaks: chosen per account at start (configured, or
/// found out from the venue), switched at run time when the venue says the account is the
/// other kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Dialect {
    /// The classic account's V2 WebSocket trading API.
    #[default]
    V2,
    /// The unified trading account's V3 API.
    V3,
}

/// What the venue decided about one cancel request, over WebSocket or REST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The venue took the cancel (code 0, or `00000` over REST): the request was received.
    Acked,
    /// Any other code: the venue refused, e.g. 43001 (spot order does not exist), 40768 (futures
    /// order does not exist), 40009 (bad signature).
    Rejected {
        /// The venue's code, as a number (`"43001"` is 43001).
        code: i64,
        /// The venue's message.
        msg: VenueMsg,
    },
}

/// The venue's answer to a batch cancel, entry by entry, in the order the entries were sent.
///
/// V2: an entry in the reply's `successList` is [`Verdict::Acked`], one in its `failureList`
/// [`Verdict::Rejected`] with the entry's `errorCode` and `errorMsg`. V3 (`cancel-batch`): an
/// entry of the reply's list is acked when its own `code` is absent, empty, `"0"` or
/// `"00000"`, else rejected with that code. An entry the reply names nowhere is `None`: that
/// reply does not settle it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchResults {
    results: [Option<Verdict>; v2::rest::MAX_BATCH],
    len: u8,
}

impl BatchResults {
    /// `len` entries, none settled yet.
    pub(crate) fn unsettled(len: usize) -> Self {
        BatchResults {
            results: [None; v2::rest::MAX_BATCH],
            len: len.min(v2::rest::MAX_BATCH) as u8,
        }
    }

    /// How many entries the batch had.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the batch had no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The verdict on entry `i` (as sent), or `None` when the reply lists it nowhere.
    pub fn get(&self, i: usize) -> Option<Verdict> {
        self.results[..self.len()].get(i).copied().flatten()
    }

    fn settle(&mut self, i: usize, verdict: Verdict) {
        if let Some(slot) = self.results[..usize::from(self.len)].get_mut(i)
            && slot.is_none()
        {
            *slot = Some(verdict);
        }
    }
}

/// The venue's answer to a batch cancel as a whole (by value, never boxed: no allocation per
/// reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum BatchVerdict {
    /// The request was taken (`00000`): each entry's own verdict, which may be a failure.
    Entries(BatchResults),
    /// The request was refused as a whole (a rate limit, a parameter, the credentials): no
    /// entry was looked at.
    Refused {
        /// The venue's code.
        code: i64,
        /// The venue's message.
        msg: VenueMsg,
    },
}

/// The venue's answer to a cancel-all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelAllVerdict {
    /// Taken (`00000`), with the counts of the orders it lists where the reply has them: V2
    /// futures' `successList` and `failureList`, V3's list by each entry's code; V2 spot's
    /// asynchronous `cancel-symbol-order` lists nothing.
    Acked {
        /// Orders the venue listed as cancelled.
        succeeded: Option<u32>,
        /// Orders the venue listed as failed.
        failed: Option<u32>,
    },
    /// Refused as a whole.
    Rejected {
        /// The venue's code.
        code: i64,
        /// The venue's message.
        msg: VenueMsg,
    },
}

/// One entry of a batch cancel's reply: the order it names and the venue's verdict on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchEntry {
    /// The order's id, when the entry names one.
    pub order_id: Option<crate::intent::OrderId>,
    /// The client's order id, when the entry names one a cancel could name.
    pub client_oid: Option<crate::intent::ClientOid>,
    /// Acked (`"0"`), or rejected with the entry's own code (e.g. 25204).
    pub verdict: Verdict,
}

/// How a refused login is to be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginRefusal {
    /// The venue refused the credentials (key, signature, passphrase): trying again at once
    /// cannot help.
    Credentials,
    /// The login's timestamp is off: measure the venue's clock again and try again with it.
    Clock,
    /// Anything else: the connection backs off and tries again.
    Transient,
}

/// What the venue's answer to one cancel request means for that cancel (see the dialect's
/// `codes` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AnswerClass {
    /// An ack or a business rejection: the cancel's outcome.
    Definitive,
    /// The venue did not process it this time (overload, a timeout): try again elsewhere.
    Transient,
    /// The venue did not process it for a rate limit: try again, and slow down.
    RateLimited,
}

impl AnswerClass {
    /// Whether the answer leaves the cancel to be tried again.
    #[inline]
    pub(crate) fn is_transient(self) -> bool {
        self != AnswerClass::Definitive
    }
}

/// One message from the venue, in the terms the engine acts on, copied out of the message's
/// buffer (fixed capacity, no heap).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Inbound {
    /// The answer to one request, by the id it went out under (`None` when the echoed id cannot
    /// be one of this engine's).
    Reply {
        id: Option<RequestId>,
        verdict: Verdict,
    },
    /// The login was accepted; `conn_id` is the venue's name for the connection (for logs).
    LoggedIn { conn_id: VenueMsg },
    /// The answer to the login says no (see [`Dialect::login_refusal`]).
    LoginRefused { code: i64, msg: VenueMsg },
    /// An error that names no request: trouble on this connection, or (while logging in) the
    /// answer to the login. `closing`: the venue says it closes the connection next.
    VenueError {
        code: i64,
        msg: VenueMsg,
        closing: bool,
    },
    /// The answer to the keepalive.
    Pong,
    /// One subscription of the order channel was acknowledged.
    Subscribed,
    /// The venue refused a subscription of the order channel.
    SubscribeRefused { code: i64, msg: VenueMsg },
    /// A push on the order channel: `count` orders, waiting in the decoder
    /// ([`InboundDecoder::updates`](v2::ReplyDecoder::updates)) until its next message.
    Orders { count: usize },
    /// The answer to a batch request, by its id: a verdict for each of `count` entries,
    /// waiting in the decoder ([`InboundDecoder::batch_entries`](v2::ReplyDecoder::batch_entries))
    /// until its next message. A batch refused as a whole is a [`Inbound::Reply`].
    Batch { id: Option<RequestId>, count: usize },
    /// Well-formed, and nothing the engine acts on (an event it does not use).
    Notice,
    /// A well-formed WebSocket message the engine cannot read: counted, logged, skipped.
    Unreadable {
        /// Why; `None` for a binary message.
        error: Option<v2::DecodeError>,
        /// The start of the message, for the log.
        excerpt: [u8; LOG_EXCERPT],
        len: u8,
    },
}

impl Inbound {
    /// An unreadable message, keeping the start of `bytes` for the log.
    pub(crate) fn unreadable(error: Option<v2::DecodeError>, bytes: &[u8]) -> Inbound {
        let mut excerpt = [0u8; LOG_EXCERPT];
        let len = bytes.len().min(LOG_EXCERPT);
        excerpt[..len].copy_from_slice(&bytes[..len]);
        Inbound::Unreadable {
            error,
            excerpt,
            len: len as u8,
        }
    }
}

/// The venue's answer to an order query ([`RestClient::send_query`](crate::rest::RestClient::send_query),
/// read by [`decode_order`](crate::rest::decode_order)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderAnswer {
    /// The order, as the venue lists it.
    Found(OrderUpdate),
    /// The venue does not know the order (43001 on spot; 40109, 40768 or 41101 on futures).
    NotFound {
        /// The venue's code.
        code: i64,
    },
    /// The venue refused the query (a signature, a parameter, a rate limit): ask again later.
    Refused {
        /// The venue's code.
        code: i64,
        /// The venue's message.
        msg: VenueMsg,
    },
}

/// What the venue says about the account a key belongs to
/// ([`RestClient::send_account_settings`](crate::rest::RestClient::send_account_settings):
/// `GET /api/v3/account/settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAnswer {
    /// `00000`: a unified trading account (V3).
    Unified,
    /// 40084: a classic account (V2).
    Classic,
    /// Anything else: the HTTP status and the venue's code, if the body had one.
    Unknown {
        /// The HTTP status.
        status: u16,
        /// The venue's code.
        code: Option<i64>,
    },
}

/// What every signed REST request carries besides its path and body.
#[derive(Clone, Copy)]
pub(crate) struct RestSigner<'a> {
    pub api_key: &'a str,
    pub secret: &'a [u8],
    pub passphrase: &'a str,
    /// The `Host` header's value.
    pub authority: &'a str,
    /// Bitget's demo trading (`paptrading: 1`).
    pub demo_trading: bool,
}

/// The buffers a dialect reads messages with: simd-json's tape and scratch, sized once.
pub(crate) type InboundDecoder = v2::ReplyDecoder;

impl Dialect {
    /// The longest cancel request [`Dialect::encode_cancel`] writes.
    #[inline]
    pub(crate) const fn max_cancel_len(self) -> usize {
        match self {
            Dialect::V2 => v2::MAX_CANCEL_LEN,
            Dialect::V3 => v3::MAX_CANCEL_LEN,
        }
    }

    /// The longest login request [`Dialect::encode_login`] writes for these credentials.
    pub(crate) fn max_login_len(self, credentials: &Credentials) -> usize {
        match self {
            Dialect::V2 | Dialect::V3 => {
                v2::max_login_len(credentials.api_key(), credentials.passphrase_str())
            }
        }
    }

    /// Appends the login request, signed for `unix_ms` (the wall clock, already corrected by
    /// the venue's clock offset), to `out`.
    pub(crate) fn encode_login(
        self,
        out: &mut Vec<u8>,
        credentials: &Credentials,
        unix_ms: u64,
    ) -> Result<(), v2::EncodeError> {
        // V3 logs in with V2's frame and signature.
        match self {
            Dialect::V2 | Dialect::V3 => {
                let timestamp = unix_ms / 1000;
                let sign = v2::sign_login(credentials.secret(), timestamp);
                v2::encode_login(
                    out,
                    credentials.api_key(),
                    credentials.passphrase_str(),
                    timestamp,
                    &sign,
                )
            }
        }
    }

    /// The keepalive text; the venue answers [`Inbound::Pong`].
    #[inline]
    pub(crate) fn ping(self) -> &'static [u8] {
        match self {
            Dialect::V2 | Dialect::V3 => v2::PING,
        }
    }

    /// Appends the request cancelling `cancel` under request id `id` to `out`. Allocates
    /// nothing when `out` has [`Dialect::max_cancel_len`] bytes to spare.
    #[inline]
    pub(crate) fn encode_cancel(self, out: &mut Vec<u8>, id: &RequestId, cancel: &Cancel) {
        match self {
            Dialect::V2 => v2::encode_cancel(out, id, cancel),
            Dialect::V3 => v3::encode_cancel(out, id, cancel),
        }
    }

    /// Reads one complete text message (in place: the decoder may unescape inside `text`).
    #[inline]
    pub(crate) fn read(self, text: &mut [u8], decoder: &mut InboundDecoder) -> Inbound {
        match self {
            Dialect::V2 => v2::read(text, decoder),
            Dialect::V3 => v3::read(text, decoder),
        }
    }

    /// What a refused login's code means.
    pub(crate) fn login_refusal(self, code: i64) -> LoginRefusal {
        match self {
            Dialect::V2 => v2::codes::login_refusal(code),
            Dialect::V3 => v3::codes::login_refusal(code),
        }
    }

    /// What an answer's code means for the cancel it answers: definitive, transient or a rate
    /// limit (the dialect's table; an ack is definitive).
    #[inline]
    pub(crate) fn answer_class(self, code: i64) -> AnswerClass {
        match self {
            Dialect::V2 => v2::codes::answer_class(code),
            Dialect::V3 => v3::codes::answer_class(code),
        }
    }

    /// Appends the request subscribing to the order channel for `inst_types` (every symbol of
    /// each) to `out`; returns how many acknowledgements the venue sends for it (one per
    /// product line).
    pub(crate) fn encode_subscribe(self, out: &mut Vec<u8>, inst_types: &[InstType]) -> usize {
        match self {
            Dialect::V2 => v2::encode_subscribe(out, inst_types),
            Dialect::V3 => v3::encode_subscribe(out),
        }
    }

    /// How many order queries per second the venue allows for this product line, per account.
    pub(crate) const fn queries_per_second(self, inst_type: InstType) -> u32 {
        match self {
            Dialect::V2 => v2::rest::queries_per_second(inst_type),
            Dialect::V3 => v3::rest::QUERIES_PER_SECOND,
        }
    }

    /// Whether every product line's order queries count against one limit: V3 asks one
    /// endpoint (`order-info`) for every category, V2 one per product line.
    pub(crate) const fn queries_share_one_limit(self) -> bool {
        matches!(self, Dialect::V3)
    }

    // ----- REST -----

    /// Whether a REST reply's code refuses the request's credentials (key, passphrase,
    /// signature) rather than deciding about the order it carries.
    pub(crate) fn rest_refuses_credentials(self, code: i64) -> bool {
        match self {
            Dialect::V2 => v2::codes::rest_refuses_credentials(code),
            Dialect::V3 => v3::codes::rest_refuses_credentials(code),
        }
    }

    /// The longest body [`Dialect::encode_rest_cancel`] or [`Dialect::encode_rest_batch`]
    /// writes into its `body` buffer.
    pub(crate) const fn max_rest_body_len(self) -> usize {
        const fn max(a: usize, b: usize) -> usize {
            if a > b { a } else { b }
        }
        match self {
            Dialect::V2 => max(v2::rest::MAX_BATCH_BODY_LEN, v2::rest::MAX_CANCEL_BODY_LEN),
            Dialect::V3 => max(v3::rest::MAX_BATCH_BODY_LEN, v3::rest::MAX_CANCEL_BODY_LEN),
        }
    }

    /// Batch cancel requests per second and account on one batch endpoint: V2 has one per
    /// product line (spot, futures), 10 each; V3 one for every category, 5.
    pub(crate) const fn batches_per_second(self) -> u32 {
        match self {
            Dialect::V2 => v2::rest::BATCHES_PER_SECOND,
            Dialect::V3 => v3::rest::BATCHES_PER_SECOND,
        }
    }

    /// The batch endpoint a batch on `inst_type` counts on, as an index (0 and 1: V2's spot
    /// and futures endpoints, apart; 2: V3's one endpoint for every category).
    pub(crate) const fn batch_endpoint(self, inst_type: InstType) -> usize {
        match self {
            Dialect::V2 => inst_type.is_futures() as usize,
            Dialect::V3 => 2,
        }
    }

    /// Cancel-all requests per second and account on `inst_type`'s endpoint: V2 spot
    /// `cancel-symbol-order` 5, futures `cancel-all-orders` 10; V3 `cancel-symbol-order` 5.
    pub(crate) const fn cancel_alls_per_second(self, inst_type: InstType) -> u32 {
        match self {
            Dialect::V2 => v2::rest::cancel_alls_per_second(inst_type),
            Dialect::V3 => v3::rest::CANCEL_ALLS_PER_SECOND,
        }
    }

    /// Whether a cancel-all the venue took on `inst_type` is carried out after its reply (V2
    /// spot's `cancel-symbol-order`: acked means accepted) rather than before it.
    pub(crate) const fn cancel_all_is_asynchronous(self, inst_type: InstType) -> bool {
        match self {
            Dialect::V2 => !inst_type.is_futures(),
            Dialect::V3 => false,
        }
    }

    /// Appends the signed batch cancel of `orders` (at most 20, all of `inst_type` and
    /// `symbol`, all named by `key`; an order without a value under `key` is left out) to
    /// `request`, its body built in `body` first: V2 spot `batch-cancel-order` or futures
    /// `batch-cancel-orders`, V3 `cancel-batch`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn encode_rest_batch(
        self,
        request: &mut Vec<u8>,
        body: &mut Vec<u8>,
        signer: &RestSigner<'_>,
        timestamp_ms: u64,
        inst_type: InstType,
        symbol: &InstId,
        key: BatchKey,
        orders: &[OrderRef],
    ) {
        match self {
            Dialect::V2 => {
                body.clear();
                v2::rest::encode_batch_cancel_body(body, inst_type, symbol, key, orders.iter());
                let path = v2::rest::batch_cancel_path(inst_type);
                v2::rest::encode_signed_post(request, signer, timestamp_ms, path, body);
            }
            Dialect::V3 => v3::rest::encode_batch(
                request,
                body,
                signer,
                timestamp_ms,
                inst_type,
                symbol,
                key,
                orders.iter(),
            ),
        }
    }

    /// Reads the reply to [`Dialect::encode_rest_batch`]'s request against the entries it
    /// carried (`sent`, named by `key`, in the order sent).
    pub(crate) fn read_rest_batch(
        self,
        status: u16,
        body: &[u8],
        key: BatchKey,
        sent: &[OrderRef],
    ) -> Result<BatchVerdict, NoVerdict> {
        match self {
            Dialect::V2 => v2::rest_reply::decode_batch(status, body, key, sent),
            Dialect::V3 => v3::rest_reply::decode_batch(status, body, key, sent),
        }
    }

    /// Appends the signed cancel-all of `all` to `request`, its body built in `body` first:
    /// V2 futures `cancel-all-orders` or spot `cancel-symbol-order`, V3 `cancel-symbol-order`.
    pub(crate) fn encode_rest_cancel_all(
        self,
        request: &mut Vec<u8>,
        body: &mut Vec<u8>,
        signer: &RestSigner<'_>,
        timestamp_ms: u64,
        all: &CancelAll,
    ) {
        match self {
            Dialect::V2 => {
                body.clear();
                v2::rest::encode_cancel_all_body(body, all);
                let path = v2::rest::cancel_all_path(all.inst_type);
                v2::rest::encode_signed_post(request, signer, timestamp_ms, path, body);
            }
            Dialect::V3 => v3::rest::encode_cancel_all(request, body, signer, timestamp_ms, all),
        }
    }

    /// Reads the reply to [`Dialect::encode_rest_cancel_all`]'s request.
    pub(crate) fn read_rest_cancel_all(
        self,
        status: u16,
        body: &[u8],
    ) -> Result<CancelAllVerdict, NoVerdict> {
        match self {
            Dialect::V2 => v2::rest_reply::decode_cancel_all(status, body),
            Dialect::V3 => v3::rest_reply::decode_cancel_all(status, body),
        }
    }

    /// Appends the signed HTTP/1.1 request cancelling `cancel` to `request`, timestamped
    /// `timestamp_ms` (Unix milliseconds, corrected by the venue's clock offset); `body` is the
    /// buffer the JSON body is built in first. Allocates nothing once both buffers are warm.
    pub(crate) fn encode_rest_cancel(
        self,
        request: &mut Vec<u8>,
        body: &mut Vec<u8>,
        signer: &RestSigner<'_>,
        timestamp_ms: u64,
        cancel: &Cancel,
    ) {
        match self {
            Dialect::V2 => {
                body.clear();
                v2::rest::encode_cancel_body(body, cancel);
                let path = v2::rest::cancel_path(cancel.inst_type);
                v2::rest::encode_signed_post(request, signer, timestamp_ms, path, body);
            }
            Dialect::V3 => v3::rest::encode_cancel(request, body, signer, timestamp_ms, cancel),
        }
    }

    /// Appends the signed HTTP/1.1 request asking where the order `cancel` names stands to
    /// `request`, timestamped `timestamp_ms`. Allocates nothing once the buffer is warm.
    pub(crate) fn encode_rest_query(
        self,
        request: &mut Vec<u8>,
        signer: &RestSigner<'_>,
        timestamp_ms: u64,
        cancel: &Cancel,
    ) {
        match self {
            Dialect::V2 => v2::rest::encode_order_query(request, signer, timestamp_ms, cancel),
            Dialect::V3 => v3::rest::encode_order_query(request, signer, timestamp_ms, cancel),
        }
    }

    /// Reads the reply to [`Dialect::encode_rest_query`]'s request.
    pub(crate) fn read_rest_order(
        self,
        status: u16,
        body: &[u8],
        inst_type: InstType,
    ) -> Result<OrderAnswer, NoVerdict> {
        match self {
            Dialect::V2 => v2::rest_reply::decode_order(status, body, inst_type),
            Dialect::V3 => v3::rest_reply::decode_order(status, body, inst_type),
        }
    }

    /// Appends the (unsigned) request for the venue's clock to `request`: the REST
    /// connection's keep-warm, and the clock offset logins and signatures are corrected by.
    pub(crate) fn encode_rest_clock(self, request: &mut Vec<u8>, signer: &RestSigner<'_>) {
        match self {
            // The venue's clock is public and V2's for either account.
            Dialect::V2 | Dialect::V3 => {
                v2::rest::encode_server_time(request, signer.authority, signer.demo_trading)
            }
        }
    }

    /// Reads the reply to a REST cancel.
    pub(crate) fn read_rest_verdict(self, status: u16, body: &[u8]) -> Result<Verdict, NoVerdict> {
        match self {
            // V3's REST envelope is V2's.
            Dialect::V2 | Dialect::V3 => v2::rest_reply::decode_verdict(status, body),
        }
    }

    /// Reads the reply to [`Dialect::encode_rest_clock`]'s request: the venue's clock, Unix ms.
    pub(crate) fn read_rest_clock(self, status: u16, body: &[u8]) -> Result<i64, NoVerdict> {
        match self {
            Dialect::V2 | Dialect::V3 => v2::rest_reply::decode_server_time(status, body),
        }
    }

    // ----- the account's kind -----

    /// The longest cancel request either dialect writes: the size of the buffers that must
    /// serve both when an account switches at run time.
    pub(crate) const MAX_CANCEL_LEN: usize =
        if Dialect::V2.max_cancel_len() > Dialect::V3.max_cancel_len() {
            Dialect::V2.max_cancel_len()
        } else {
            Dialect::V3.max_cancel_len()
        };

    /// The code with which the venue says a request went to this dialect's API but the account
    /// is the other kind (40085 on V2 for a unified account, 40084 on V3 for a classic one):
    /// the account is to switch to [`Dialect::other`].
    pub(crate) const fn wrong_account_code(self) -> i64 {
        match self {
            Dialect::V2 => v3::codes::UNIFIED_ON_V2,
            Dialect::V3 => v3::codes::CLASSIC_ON_V3,
        }
    }

    /// The other dialect.
    pub(crate) const fn other(self) -> Dialect {
        match self {
            Dialect::V2 => Dialect::V3,
            Dialect::V3 => Dialect::V2,
        }
    }

    /// The venue's name for the account this dialect serves.
    pub(crate) const fn account_name(self) -> &'static str {
        match self {
            Dialect::V2 => "classic",
            Dialect::V3 => "unified",
        }
    }

    /// Appends the signed request asking which account the key belongs to (V3's
    /// `GET /api/v3/account/settings`, whatever this dialect).
    pub(crate) fn encode_rest_account(
        self,
        request: &mut Vec<u8>,
        signer: &RestSigner<'_>,
        timestamp_ms: u64,
    ) {
        v3::rest::encode_settings(request, signer, timestamp_ms);
    }

    /// Reads the reply to [`Dialect::encode_rest_account`]'s request.
    pub(crate) fn read_rest_account(self, status: u16, body: &[u8]) -> AccountAnswer {
        v3::rest_reply::decode_settings(status, body)
    }

    /// Appends the signed dead man's switch (`countdown-cancel-all`, unified accounts only)
    /// with `seconds` (0: off).
    pub(crate) fn encode_rest_countdown(
        self,
        request: &mut Vec<u8>,
        body: &mut Vec<u8>,
        signer: &RestSigner<'_>,
        timestamp_ms: u64,
        seconds: u32,
    ) {
        v3::rest::encode_countdown(request, body, signer, timestamp_ms, seconds);
    }
}
