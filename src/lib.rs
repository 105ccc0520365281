//! # bitget-cancel
//!
//! Cancels orders on Bitget over the V2 private WebSocket trading API (`cancel-order` channel)
//! with as little latency as the hardware allows.
//!
//! A strategy thread validates a [`Cancel`] and pushes it onto a lock-free ring through a
//! [`Handle`]; a pinned engine thread paces it, encodes it into a preallocated buffer, frames it as
//! a masked WebSocket text frame, encrypts it with rustls and writes it to the socket. The venue's
//! reply is decrypted, deframed, parsed with simd-json and correlated back to the intent, and an
//! [`Outcome`] comes back on a second ring. Every accepted intent gets exactly one outcome.
//!
//! The data path, module by module:
//!
//! | module | owns |
//! | --- | --- |
//! | [`intent`] | validated, fixed-capacity cancel intents: no heap |
//! | [`outcome`] | what happened to each intent, with monotonic timestamps |
//! | [`final_word`] | the final word on each intent (feature of the engine, off by default): cancelled, filled, live or unconfirmed, the filled size, from a push or REST |
//! | [`protocol`] | Bitget V2 request encoding, login signing, reply decoding (simd-json) |
//! | [`rest`] | the REST cancel: signed requests, a bounded HTTP/1.1 reader, a nonblocking keep-alive client |
//! | [`ws`] | WebSocket client framing and incremental deframing, the upgrade handshake |
//! | [`tls`] | rustls client configuration and nonblocking, allocation-free TLS I/O |
//! | [`engine`] | the engine (a reactor, an account), the [`Handle`] and the [`Config`] |
//! | `sim` | a simulated Bitget venue on loopback, for tests and demos (feature `sim`) |
//! | `jsonl` | the JSON lines `bitget-cancel run` reads and writes, with serde (feature `serde`) |
//!
//! Inside, the venue's bytes are known in one place only (the venue seam, whose V2 dialect
//! [`protocol`] exports), and every connection is dialed through one ladder, with host names
//! looked up on a thread of their own (see [`engine::Resolver`]).
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! | --- | --- | --- |
//! | `cli` | yes | the `bitget-cancel` binary (clap, ctrlc, env_logger, hdrhistogram); turns on `sim` and `serde` |
//! | `sim` | yes | `bitget_cancel::sim`, the simulated venue (rcgen for its certificates) |
//! | `serde` | with `cli` | `bitget_cancel::jsonl` and `Serialize`/`Deserialize` for [`Via`] |
//! | `fuzzing` | no | test and fuzz builds only: a record cipher with fixed keys |
//!
//! A strategy that links the engine alone leaves the defaults out:
//!
//! ```toml
//! bitget-cancel = { version = "0.1", default-features = false }
//! ```
//!
//! ## Logging
//!
//! The crate logs through the [`log`](https://docs.rs/log) facade and prints nothing itself:
//! connections logged in, lost and replaced at `info` and `warn`, what it cannot read or do
//! (a TLS certificate it does not trust, a refused login, an optional core it cannot pin to)
//! at `warn` and `error`. Without a logger installed these are silent, and a failure shows in
//! the outcomes (a cancel no connection came up for carries the last connection error,
//! [`outcome::NotSentReason::NoConnection`]; refused credentials the venue's code), in
//! [`Handle::last_error`], and for a core that cannot be had in [`Engine::start`]'s error. Install any `log` backend early in `main`, for
//! example `env_logger`:
//!
//! ```text
//! env_logger::init();   // then run with RUST_LOG=bitget_cancel=info (warn shows trouble only)
//! ```
//!
//! The engine logs about connections and trouble, never about a cancel that went well. It never
//! calls the logger on its own thread: every record goes through a bounded hand-off to a thread
//! of its own (`bitget-cancel-log`), so a logger that blocks (a slow terminal, a full pipe)
//! stalls that thread only; records that find the hand-off full are dropped and counted, and the
//! count is logged once the logger keeps up again. Warnings the venue can provoke at will (a
//! message the engine cannot read, an error naming no request, a reply that matches no
//! request) are logged for the first five in ten seconds per connection, then counted, and the
//! count is logged once per ten seconds.
#![deny(missing_docs, missing_debug_implementations)]
#![forbid(unsafe_code)]

mod backoff;
pub mod clock;
mod config_error;
mod credentials;
pub mod engine;
pub mod final_word;
pub mod intent;
#[cfg(feature = "serde")]
pub mod jsonl;
mod net;
pub mod outcome;
pub mod protocol;
mod relay;
pub mod rest;
#[cfg(feature = "sim")]
pub mod sim;
pub mod tls;
mod venue;
pub mod ws;

pub use engine::{Config, Engine, Handle};
pub use final_word::{FinalState, FinalWord};
pub use intent::{
    Cancel, CancelAll, ClientOid, InstId, InstType, InvalidField, OrderId, OrderRef, RequestId,
};
pub use outcome::{Outcome, Status, Via};
