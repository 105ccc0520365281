//! Accounts: the API keys the venue accepts, the account (UID) and mode of each, and the
//! venue's rate limits, counted per account and endpoint.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Endpoint, lock};
use crate::intent::InstType;
use std::sync::Mutex;

/// Which API an account speaks: the classic account's V2, or the unified trading account's V3.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum AccountMode {
    /// Classic: V2 serves it; V3 requests get 40084 (the default).
    #[default]
    Classic,
    /// Unified (UTA): V3 serves it; V2 REST gets 40085, and V2 WebSocket trading as
    /// [`SimConfig::serve_unified_on_v2_websocket`](super::SimConfig::serve_unified_on_v2_websocket) says.
    Unified,
}

impl AccountMode {
    /// `classic` or `unified`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountMode::Classic => "classic",
            AccountMode::Unified => "unified",
        }
    }
}

impl std::str::FromStr for AccountMode {
    type Err = String;

    /// `classic` or `unified`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "classic" => Ok(AccountMode::Classic),
            "unified" => Ok(AccountMode::Unified),
            other => Err(format!(
                "{other:?} is not an account mode: classic or unified"
            )),
        }
    }
}

/// One more API key the venue accepts, beside the main one of
/// [`SimConfig`](super::SimConfig) ([`SimConfig::extra_keys`](super::SimConfig::extra_keys)).
/// `Debug` never shows the secret or the passphrase.
#[derive(Clone, PartialEq, Eq)]
pub struct SimKey {
    /// The key.
    pub api_key: String,
    /// The secret it signs with.
    pub secret: String,
    /// Its passphrase.
    pub passphrase: String,
    /// The account (UID) it trades for: orders, rate limits, pushes and the countdown are per
    /// account. [`MAIN_UID`](super::MAIN_UID) shares the main key's account.
    pub uid: u64,
    /// Its account mode at start ([`SimVenue::set_account_mode`](super::SimVenue::set_account_mode)
    /// changes it).
    pub mode: AccountMode,
}

impl fmt::Debug for SimKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimKey")
            .field("api_key", &self.api_key)
            .field("secret", &"<redacted>")
            .field("passphrase", &"<redacted>")
            .field("uid", &self.uid)
            .field("mode", &self.mode)
            .finish()
    }
}

/// How a V2 WebSocket request over an account's rate limit is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WsRateLimitReply {
    /// `{"event":"error","code":30006,"msg":"request too many"}`, naming no request: the only
    /// shape `bitget-v2-ws.md` shows for it (the default).
    #[default]
    Bare,
    /// The same code and message with the request's `arg` echoed and a `ts`, like any other
    /// refusal of one request (not seen on the live venue).
    PerRequest,
}

/// The venue's rate limits per account (UID), in requests per sliding second, each enforced on
/// its own endpoint ([`Endpoint`]). 0 lifts one limit. `SimLimits::default()` holds the
/// documented values; [`SimConfig::limits`](super::SimConfig::limits) turns them on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimLimits {
    /// V2 `cancel-order`, WebSocket and REST together, spot and futures counted apart.
    /// Default 10.
    pub cancel_order: u32,
    /// V2 batch cancels, spot `batch-cancel-order` and futures `batch-cancel-orders` each.
    /// Default 10.
    pub batch_cancel: u32,
    /// Spot `cancel-symbol-order`. Default 5.
    pub spot_cancel_symbol: u32,
    /// Futures `cancel-all-orders`. Default 10.
    pub futures_cancel_all: u32,
    /// Spot `orderInfo`. Default 20.
    pub spot_order_info: u32,
    /// Futures `order/detail`. Default 10.
    pub futures_order_detail: u32,
    /// V3 `cancel-order`, WebSocket and REST together. Default 10.
    pub v3_cancel_order: u32,
    /// V3 batch cancels: REST `cancel-batch` and WebSocket `batch-cancel` together (the
    /// WebSocket one is not documented: it shares the REST counter). Default 5.
    pub v3_cancel_batch: u32,
    /// V3 `cancel-symbol-order`. Default 5.
    pub v3_cancel_symbol: u32,
    /// V3 `order-info` (not documented). Default 10.
    pub v3_order_info: u32,
    /// V3 `countdown-cancel-all`. Default 1.
    pub v3_countdown: u32,
    /// How a V2 WebSocket cancel over [`cancel_order`](Self::cancel_order) is answered.
    pub websocket_reply: WsRateLimitReply,
}

impl Default for SimLimits {
    fn default() -> Self {
        SimLimits {
            cancel_order: 10,
            batch_cancel: 10,
            spot_cancel_symbol: 5,
            futures_cancel_all: 10,
            spot_order_info: 20,
            futures_order_detail: 10,
            v3_cancel_order: 10,
            v3_cancel_batch: 5,
            v3_cancel_symbol: 5,
            v3_order_info: 10,
            v3_countdown: 1,
            websocket_reply: WsRateLimitReply::Bare,
        }
    }
}

impl SimLimits {
    /// The limit for one endpoint, per account and second (0: none).
    pub fn per_second(&self, endpoint: Endpoint) -> u32 {
        match endpoint {
            Endpoint::SpotCancelOrder | Endpoint::FuturesCancelOrder => self.cancel_order,
            Endpoint::SpotBatchCancel | Endpoint::FuturesBatchCancel => self.batch_cancel,
            Endpoint::SpotCancelSymbol => self.spot_cancel_symbol,
            Endpoint::FuturesCancelAll => self.futures_cancel_all,
            Endpoint::SpotOrderInfo => self.spot_order_info,
            Endpoint::FuturesOrderDetail => self.futures_order_detail,
            Endpoint::V3CancelOrder => self.v3_cancel_order,
            Endpoint::V3CancelBatch => self.v3_cancel_batch,
            Endpoint::V3CancelSymbol => self.v3_cancel_symbol,
            Endpoint::V3OrderInfo => self.v3_order_info,
            Endpoint::V3Countdown => self.v3_countdown,
        }
    }
}

/// The `cancel-order` endpoint that counts a V2 cancel on this product line.
pub(super) fn cancel_endpoint(inst_type: InstType) -> Endpoint {
    if inst_type.is_futures() {
        Endpoint::FuturesCancelOrder
    } else {
        Endpoint::SpotCancelOrder
    }
}

/// A key as the venue holds it: its mode can change at run time.
#[derive(Debug)]
pub(super) struct Key {
    pub(super) key: SimKey,
    unified: AtomicBool,
}

impl Key {
    pub(super) fn mode(&self) -> AccountMode {
        if self.unified.load(Ordering::Acquire) {
            AccountMode::Unified
        } else {
            AccountMode::Classic
        }
    }
}

/// The keys, and the rate counters per account and endpoint.
#[derive(Debug)]
pub(super) struct Accounts {
    keys: Vec<Key>,
    limits: Option<SimLimits>,
    windows: Mutex<HashMap<(u64, Endpoint), VecDeque<Instant>>>,
}

impl Accounts {
    pub(super) fn new(keys: Vec<SimKey>, limits: Option<SimLimits>) -> Accounts {
        Accounts {
            keys: keys
                .into_iter()
                .map(|key| Key {
                    unified: AtomicBool::new(key.mode == AccountMode::Unified),
                    key,
                })
                .collect(),
            limits,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// The key with this name, by its index.
    pub(super) fn find(&self, api_key: &str) -> Option<(usize, &Key)> {
        self.keys
            .iter()
            .enumerate()
            .find(|(_, k)| k.key.api_key == api_key)
    }

    pub(super) fn get(&self, index: usize) -> Option<&Key> {
        self.keys.get(index)
    }

    /// Sets a key's mode; false when no key has that name.
    pub(super) fn set_mode(&self, api_key: &str, mode: AccountMode) -> bool {
        match self.find(api_key) {
            Some((_, key)) => {
                key.unified
                    .store(mode == AccountMode::Unified, Ordering::Release);
                true
            }
            None => false,
        }
    }

    pub(super) fn limits(&self) -> Option<&SimLimits> {
        self.limits.as_ref()
    }

    /// Counts one request of account `uid` on `endpoint`; false (not counted) when it is over
    /// the limit in the sliding second.
    pub(super) fn admit(&self, uid: u64, endpoint: Endpoint) -> bool {
        let limit = match &self.limits {
            Some(limits) => limits.per_second(endpoint),
            None => 0,
        };
        if limit == 0 {
            return true;
        }
        let now = Instant::now();
        let mut windows = lock(&self.windows);
        let window = windows.entry((uid, endpoint)).or_default();
        while window
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= Duration::from_secs(1))
        {
            window.pop_front();
        }
        if window.len() >= limit as usize {
            return false;
        }
        window.push_back(now);
        true
    }
}
