//! Command-line arguments (clap derive).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::idle::Idle;

const EXIT_CODES: &str = "\
Exit codes: 0 success; 1 a failure at run time; 2 a usage or configuration error (including a \
missing BITGET_* variable and credentials the venue refused); 130 interrupted.";

/// Cancels orders on Bitget over the private WebSocket trading API (V2 for classic accounts, V3
/// for unified trading accounts), as fast as the hardware allows.
#[derive(Debug, Parser)]
#[command(name = "bitget-cancel", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Cancel orders on the embedded simulated venue (real TLS on loopback) and print a summary
    /// with latency figures.
    Demo(DemoArgs),
    /// Stream cancels from stdin (one JSON object per line) to the venue; print one JSON outcome
    /// per input line on stdout.
    #[command(after_help = RUN_HELP)]
    Run(RunArgs),
    /// Run the simulated venue on its own until interrupted (Ctrl-C, SIGTERM).
    #[command(after_help = SIM_HELP)]
    Sim(SimArgs),
}

/// The connection pool: how many connections, hedging, rotation.
#[derive(Debug, Args)]
pub struct PoolArgs {
    /// Logged-in connections the engine keeps (1 to 8); a cancel whose connection is lost is
    /// sent again at once on another, one without a reply in time is hedged on another.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=8))]
    pub connections: u8,
    /// Send a cancel that has had no reply for this long again on another connection; 0 turns
    /// hedging off [default: adaptive, from the live round trips].
    #[arg(long, value_name = "MS")]
    pub hedge_after_ms: Option<u64>,
    /// Replace a connection once it is this old, logging in its replacement first [default:
    /// 84600, 23 h 30 min, under the venue's forced disconnect at 24 h].
    #[arg(long, value_name = "S")]
    pub max_connection_age_s: Option<u64>,
    /// No REST rung: a cancel whose WebSocket connection is lost with no other live is reported
    /// unknown instead of being sent over REST.
    #[arg(long, conflicts_with = "rest_only")]
    pub no_rest: bool,
    /// Every cancel over REST, no WebSocket connection (for accounts without WebSocket trading).
    #[arg(long)]
    pub rest_only: bool,
    /// No REST batches for a backlog: cancels waiting for the account's budget leave one by
    /// one [default: a backlog projected to wait over 100 ms goes in batches of up to 20].
    #[arg(long)]
    pub no_batch: bool,
    /// The account's kind: classic (the V2 API), unified (a unified trading account: the V3
    /// API), or auto (ask the venue at start over REST; classic if it cannot say). A refusal
    /// for the wrong kind (40085, 40084) switches at run time whatever this says.
    #[arg(long, value_name = "KIND", default_value = "auto")]
    pub account: bitget_cancel::engine::Account,
    /// The dead man's switch (unified accounts only), 5 to 60 seconds: the venue cancels every
    /// resting order of the account if the engine has not re-armed it for this long (it
    /// re-arms every third of it, and turns it off on a clean exit) [default: off].
    #[arg(long, value_name = "S", value_parser = clap::value_parser!(u64).range(5..=60))]
    pub dead_man_s: Option<u64>,
}

impl PoolArgs {
    /// The pool settings applied to a configuration.
    pub fn apply(
        &self,
        mut b: bitget_cancel::engine::ConfigBuilder,
    ) -> bitget_cancel::engine::ConfigBuilder {
        use bitget_cancel::engine::HedgeAfter;
        use std::time::Duration;
        b = b.connections(usize::from(self.connections));
        if let Some(ms) = self.hedge_after_ms {
            b = b.hedge_after(match ms {
                0 => HedgeAfter::Off,
                ms => HedgeAfter::Fixed(Duration::from_millis(ms)),
            });
        }
        if let Some(s) = self.max_connection_age_s {
            b = b.max_connection_age(Duration::from_secs(s));
        }
        b = b.account(self.account);
        if let Some(s) = self.dead_man_s {
            b = b.dead_man_switch(Duration::from_secs(s));
        }
        if self.no_rest {
            b = b.no_rest();
        }
        if self.no_batch {
            b = b.no_batch();
        }
        b.rest_only(self.rest_only)
    }
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// How many cancels to send; 2% of them (at least one from 2 on) name orders that do not exist.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=200_000))]
    pub cancels: u32,
    /// Cancels per second offered to the engine.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rate: u32,
    /// Messages and cancels per second the demo's venue and engine allow (the live venue allows 10;
    /// the demo raises both so that it finishes quickly).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,
    /// What the engine thread does when idle [default: busy-spin with 3 or more cores, else backoff].
    #[arg(long, value_enum)]
    pub idle: Option<Idle>,
    /// Pin the engine thread to this core [default: not pinned].
    #[arg(long, value_name = "N")]
    pub core: Option<usize>,
    /// Print the summary as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Disturb the venue mid-run: drop one connection, freeze another (TCP open, pings answered,
    /// cancels never answered), then take every WebSocket down for a while: the pool re-sends and
    /// hedges, REST carries the cancels while no WebSocket is live, and no cancel ends unknown.
    #[arg(long)]
    pub chaos: bool,
    #[command(flatten)]
    pub pool: PoolArgs,
}

const RUN_HELP: &str = "\
Credentials come from BITGET_API_KEY, BITGET_API_SECRET and BITGET_API_PASSPHRASE; a missing one \
is an error (exit 2) before anything connects.

Input, one object per line (blank lines are skipped):
  {\"instType\":\"SPOT\",\"instId\":\"BTCUSDT\",\"orderId\":\"1376695893517410304\"}
  {\"instType\":\"USDT-FUTURES\",\"instId\":\"BTCUSDT\",\"clientOid\":\"my-7\",\"id\":\"a1\"}
  {\"instType\":\"SPOT\",\"instId\":\"ETHUSDT\",\"orderId\":\"1376695893517410305\",\"priority\":200}
  {\"cancelAll\":true,\"instType\":\"USDT-FUTURES\"}
  {\"cancelAll\":true,\"instType\":\"SPOT\",\"instId\":\"BTCUSDT\"}
priority (0 to 255, default 0): while cancels wait for the account's budget, the highest leaves \
first. cancelAll cancels every open order of the product line (or of instId; SPOT requires it) in \
one REST request that goes ahead of every waiting cancel; its line carries cancel_all, and \
succeeded and failed where the venue lists them (classic futures, unified), asynchronous on a \
classic account's spot. A backlog the budget cannot send within 100 ms goes out in REST batches \
of up to 20 (--no-batch: never); their lines carry via \"rest\", batch (its number) and \
batch_size. Both go in the account's API: V2 for a classic account, V3 cancel-batch and \
cancel-symbol-order for a unified one.
Output, one object per non-blank input line, in completion order:
  {\"line\":1,\"id\":\"1\",\"status\":\"acked\",\"code\":0,\"msg\":\"acknowledged\",\"attempts\":1,\"via\":0,\"tick_to_wire_ns\":...,\"round_trip_ns\":...}
status is acked, rejected (code and msg are the venue's), unknown (sent, no reply), invalid (the \
line was refused; msg says why) or not_sent (reason says why: no_connection with the last \
connection error in msg, login_rejected with the venue's code, queue_timeout, ...). attempts counts the sends (a hedge or a re-send after \
a lost connection adds one); via is the 0-based connection whose reply settled it (null if none). \
After a re-send, a rejection saying the order does not exist means it is no longer open: the lost \
attempt may have cancelled it, or it filled.

With --confirm each connection subscribes to the venue's private order channel, and each line is \
printed once its final word is known (or its time is up), with four more fields:
  ...,\"final\":\"cancelled\",\"filled_size\":\"0.25\",\"final_source\":\"push\",\"final_ns\":188204}
final is cancelled, filled (the cancel came too late), live (the venue still had the order open \
when the time was up) or unconfirmed (nothing said in time); null for invalid and not_sent lines. \
filled_size is the filled part as the venue wrote it; final_source is push (the order channel) or \
rest (Bitget's order query, asked when no push came within a second); final_ns runs from the \
line's intent accepted to its final word. Without --confirm nothing of it is sent or printed.

Exit codes: 0 once every line has its outcome; 1 the venue could not be reached or an I/O error; \
2 a usage or configuration error, or credentials the venue refused (every line is then reported \
not_sent with the venue's code); 130 interrupted (outstanding lines are still reported).";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The venue's private WebSocket URL.
    #[arg(long, default_value = bitget_cancel::engine::LIVE_URL, conflicts_with = "demo_trading")]
    pub url: String,
    /// Use Bitget's demo-trading hosts, V2 and V3 (needs a demo API key); REST cancels carry
    /// `paptrading: 1`.
    #[arg(long)]
    pub demo_trading: bool,
    /// The V3 private WebSocket URL, dialed while the account is unified (--url stays the V2
    /// one) [default: the live V3 host, or the demo one with --demo-trading].
    #[arg(long, value_name = "URL", conflicts_with = "demo_trading")]
    pub uta_url: Option<String>,
    /// The REST base URL, the rung below the WebSocket connections: used when none of them is
    /// live (or with --rest-only).
    #[arg(long, value_name = "URL", default_value = bitget_cancel::rest::LIVE_BASE_URL)]
    pub rest_url: String,
    /// An extra trusted root CA (PEM), e.g. the one `bitget-cancel sim --ca-out` writes.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// How long a sent cancel waits for its reply before it is reported unknown [default: 5000].
    #[arg(long, value_name = "MS")]
    pub ack_timeout_ms: Option<u64>,
    /// How often the keepalive `ping` is sent [default: 25000].
    #[arg(long, value_name = "MS")]
    pub ping_interval_ms: Option<u64>,
    /// Most messages per second on the connection, ping and login included [default: 10, the
    /// venue's limit].
    #[arg(long, value_name = "N")]
    pub max_msgs_per_sec: Option<u32>,
    /// Most cancels per second [default: 10, the venue's limit].
    #[arg(long, value_name = "N")]
    pub max_cancels_per_sec: Option<u32>,
    /// How long a cancel may wait to be sent (for a logged-in connection or for pacing) before it is reported
    /// not_sent [default: 5000].
    #[arg(long, value_name = "MS")]
    pub max_queue_ms: Option<u64>,
    /// What the engine thread does when idle [default: busy-spin with 3 or more cores, else backoff].
    #[arg(long, value_enum)]
    pub idle: Option<Idle>,
    /// Pin the engine thread to this core [default: not pinned].
    #[arg(long, value_name = "N")]
    pub core: Option<usize>,
    /// Wait for each cancel's final word (from the order channel's pushes, else Bitget's REST
    /// order query) and print it with the line: final, filled_size, final_source, final_ns.
    #[arg(long)]
    pub confirm: bool,
    /// With --confirm: how long after its outcome a cancel waits for its final word; then it is
    /// printed live (if the venue still had the order open) or unconfirmed [default: 5000].
    #[arg(long, value_name = "MS", requires = "confirm", value_parser = clap::value_parser!(u64).range(1..))]
    pub confirm_timeout_ms: Option<u64>,
    #[command(flatten)]
    pub pool: PoolArgs,
}

const SIM_HELP: &str = "\
Standard output carries machine-readable lines: first the WebSocket URL to connect to, then the REST \
base URL (`run --rest-url`), then (with --generate and no --orders-out) the generated orders in the \
format `run` reads, so that `run` can cancel them. \
Everything else goes to standard error. Clients trust the venue by adding the CA written by --ca-out \
(e.g. `run --ca-file`); verification is never switched off.";

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Where to listen; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Write the CA certificate clients must trust to this file (PEM).
    #[arg(long, value_name = "PEM")]
    pub ca_out: Option<PathBuf>,
    /// Seed the book from this file: one resting order per line,
    /// {"instType":"SPOT","instId":"BTCUSDT","orderId":"...","clientOid":"..."}; a missing
    /// orderId is generated.
    #[arg(long, value_name = "FILE")]
    pub orders: Option<PathBuf>,
    /// Seed N generated orders as well, alternating SPOT and USDT-FUTURES on BTCUSDT.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub generate: usize,
    /// Write the generated orders here (JSON lines `run` reads) instead of standard output.
    #[arg(long, value_name = "FILE", requires = "generate")]
    pub orders_out: Option<PathBuf>,
    /// The API key the venue accepts.
    #[arg(long, default_value = "sim-key")]
    pub api_key: String,
    /// The API secret logins must be signed with.
    #[arg(long, default_value = "sim-secret")]
    pub api_secret: String,
    /// The passphrase the venue accepts.
    #[arg(long, default_value = "sim-passphrase")]
    pub passphrase: String,
    /// Messages per connection per second before the venue answers 30007 and disconnects; 0: no
    /// limit.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub max_msgs_per_sec: u32,
    /// Disconnect a connection after this many seconds without a `ping`; 0: never.
    #[arg(long, default_value_t = 120, value_name = "S")]
    pub idle_timeout_s: u64,
    /// The key's account: classic (V2 serves it, V3 answers 40084) or unified (V3 serves it,
    /// V2 answers 40085).
    #[arg(long, default_value = "classic", value_name = "MODE")]
    pub account: bitget_cancel::sim::AccountMode,
    /// Enforce the live venue's per-account rate limits on every endpoint (cancel-order 10/s
    /// spot and futures apart, batch 10/s, order queries, cancel-all, countdown).
    #[arg(long)]
    pub venue_limits: bool,
}
