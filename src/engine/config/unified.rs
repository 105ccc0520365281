//! The settings of the unified trading account (V3): which account the key belongs to, the V3
//! WebSocket endpoint, and the dead man's switch.

use std::time::Duration;

use super::{Config, ConfigBuilder, ConfigError, DEMO_URL, Endpoint};

/// The live V3 private WebSocket endpoint (unified trading accounts).
pub const LIVE_UTA_URL: &str = "wss://ws.bitget.com/v3/ws/private";
/// The demo-trading V3 private WebSocket endpoint.
pub const DEMO_UTA_URL: &str = "wss://wspap.bitget.com/v3/ws/private";

/// Which kind of Bitget account the credentials belong to, and so which API the engine speaks.
///
/// A unified trading account's key is refused by the classic V2 API (40085) and a classic one
/// by V3 (40084). Whatever the setting, such a refusal at run time switches the engine to the
/// other API and sends the refused cancels again (logged once per switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Account {
    /// A classic account: the V2 API ([`LIVE_URL`](super::LIVE_URL)).
    Classic,
    /// A unified trading account: the V3 API ([`LIVE_UTA_URL`]).
    Unified,
    /// Ask the venue at start (the default): `GET /api/v3/account/settings` over the REST
    /// connection before any WebSocket connection dials; `00000` means unified, 40084
    /// classic, anything else (no REST rung, no answer within 2 s or the connect timeout if
    /// shorter, 404, an unknown reply) classic, logged at warn.
    #[default]
    Auto,
}

impl Account {
    /// The setting as one word: `classic`, `unified` or `auto`.
    pub fn as_str(self) -> &'static str {
        match self {
            Account::Classic => "classic",
            Account::Unified => "unified",
            Account::Auto => "auto",
        }
    }
}

impl std::str::FromStr for Account {
    type Err = String;

    /// `classic`, `unified` or `auto`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "classic" => Ok(Account::Classic),
            "unified" => Ok(Account::Unified),
            "auto" => Ok(Account::Auto),
            other => Err(format!(
                "unknown account kind {other:?}: classic, unified or auto"
            )),
        }
    }
}

/// How a V3 `batch-cancel` counts against the account's cancel budget
/// ([`ConfigBuilder::cancels_per_second`]); against a connection's message budget it is always
/// one message. The venue's own counting is not documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BatchBudget {
    /// Each entry is one cancel (the default: never more cancels a second than single
    /// cancels would send).
    #[default]
    PerEntry,
    /// The whole message is one cancel.
    PerMessage,
}

/// The unified account's settings inside [`Config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UtaSettings {
    pub account: Account,
    /// The V3 endpoint every connection dials while the account speaks V3.
    pub endpoint: Endpoint,
    /// Set by [`ConfigBuilder::uta_url`]; otherwise the V3 host follows the V2 one's
    /// demo-ness.
    pub url_set: bool,
    pub dead_man_switch: Option<Duration>,
    pub batch_cancels: bool,
    pub batch_budget: BatchBudget,
}

impl Default for UtaSettings {
    fn default() -> Self {
        UtaSettings {
            account: Account::Auto,
            endpoint: Endpoint {
                url: LIVE_UTA_URL.to_owned(),
                host: "ws.bitget.com".to_owned(),
                port: 443,
            },
            url_set: false,
            dead_man_switch: None,
            batch_cancels: true,
            batch_budget: BatchBudget::PerEntry,
        }
    }
}

impl Config {
    /// Which kind of account the engine was told the credentials belong to.
    pub fn account(&self) -> Account {
        self.uta.account
    }

    /// The V3 WebSocket URL (unified accounts).
    pub fn uta_url(&self) -> &str {
        &self.uta.endpoint.url
    }

    /// The dead man's switch's countdown, if it is on.
    pub fn dead_man_switch(&self) -> Option<Duration> {
        self.uta.dead_man_switch
    }
}

impl ConfigBuilder {
    /// Which kind of account the credentials belong to: [`Account::Auto`] (default) asks the
    /// venue at start; [`Account::Classic`] speaks V2, [`Account::Unified`] V3 from the
    /// first connection on.
    pub fn account(mut self, account: Account) -> Self {
        self.config.uta.account = account;
        self
    }

    /// The V3 WebSocket URL the connections dial while the account is unified: default
    /// [`LIVE_UTA_URL`], or [`DEMO_UTA_URL`] when the V2 URL is [`DEMO_URL`]. The V2 URL
    /// ([`url`](Self::url)) stays the classic account's.
    pub fn uta_url(mut self, url: impl Into<String>) -> Self {
        self.config.uta.endpoint.url = url.into();
        self.config.uta.url_set = true;
        self
    }

    /// The dead man's switch (unified accounts only; 5 to 60 s, whole seconds): armed at
    /// start with the venue's `countdown-cancel-all`, re-armed every third of `countdown`
    /// while the engine runs, and turned off on a clean shutdown, so that if the process dies
    /// or hangs, every resting order of the account is cancelled within `countdown`. Needs the
    /// REST rung. Re-arm failures are counted and logged; [`Stats::unified`](crate::engine::Stats::unified) shows when
    /// it was last armed. Refused with [`Account::Classic`]; with [`Account::Auto`] it is
    /// armed once the account is found unified (and logged at warn if it is classic).
    /// Default: off.
    pub fn dead_man_switch(mut self, countdown: Duration) -> Self {
        self.config.uta.dead_man_switch = Some(countdown);
        self
    }

    /// Whether first sends due at once on a V3 connection go out as one `batch-cancel` (up to
    /// 20 entries of one product line, all by `orderId` or all by `clientOid`; each entry's
    /// code settles its cancel). Default: on. Off, each goes as its own `cancel-order`.
    pub fn batch_cancels(mut self, on: bool) -> Self {
        self.config.uta.batch_cancels = on;
        self
    }

    /// How a V3 `batch-cancel` counts against the account's cancel budget: each entry
    /// ([`BatchBudget::PerEntry`], the default) or the whole message once.
    pub fn batch_budget(mut self, budget: BatchBudget) -> Self {
        self.config.uta.batch_budget = budget;
        self
    }

    /// Turns the dead man's switch off (the default).
    pub fn no_dead_man_switch(mut self) -> Self {
        self.config.uta.dead_man_switch = None;
        self
    }
}

/// Checks and completes the unified account's settings; `v2_urls` are the V2 URLs given.
pub(super) fn check(config: &mut Config, v2_urls: &[String]) -> Result<(), ConfigError> {
    let invalid = |field, reason| Err(ConfigError::InvalidValue { field, reason });
    let uta = &mut config.uta;
    if !uta.url_set && v2_urls.first().is_some_and(|u| u == DEMO_URL) {
        uta.endpoint.url = DEMO_UTA_URL.to_owned();
    }
    uta.endpoint = Endpoint::parse(&uta.endpoint.url)?;
    if let Some(countdown) = uta.dead_man_switch {
        if uta.account == Account::Classic {
            return invalid(
                "dead_man_switch",
                "needs a unified trading account (the classic account has no countdown-cancel-all)",
            );
        }
        if countdown.subsec_nanos() != 0 || !(5..=60).contains(&countdown.as_secs()) {
            return invalid("dead_man_switch", "must be whole seconds from 5 to 60");
        }
        if config.rest.is_none() {
            return invalid("dead_man_switch", "needs the REST rung (no_rest was set)");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Credentials, LIVE_URL};

    fn builder() -> ConfigBuilder {
        Config::builder(Credentials::new("k", "s", "p").unwrap())
    }

    #[test]
    fn the_v3_host_follows_the_v2_hosts_demo_setting_unless_given() {
        let live = builder().build().unwrap();
        assert_eq!(live.uta_url(), LIVE_UTA_URL);
        assert_eq!(live.account(), Account::Auto);
        let demo = builder().url(DEMO_URL).build().unwrap();
        assert_eq!(demo.uta_url(), DEMO_UTA_URL);
        let own = builder()
            .url(DEMO_URL)
            .uta_url("wss://localhost:9/v3/ws/private")
            .build()
            .unwrap();
        assert_eq!(own.uta_url(), "wss://localhost:9/v3/ws/private");
        assert_eq!(own.url(), DEMO_URL);
        assert!(builder().url(LIVE_URL).uta_url("ws://x").build().is_err());
    }

    #[test]
    fn the_dead_man_switch_needs_a_unified_or_unknown_account_and_5_to_60_whole_seconds() {
        let refused = |b: ConfigBuilder| match b.build() {
            Err(ConfigError::InvalidValue { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refused(
                builder()
                    .account(Account::Classic)
                    .dead_man_switch(Duration::from_secs(10))
            ),
            "dead_man_switch"
        );
        for bad in [4_000, 61_000, 10_500] {
            assert_eq!(
                refused(builder().dead_man_switch(Duration::from_millis(bad))),
                "dead_man_switch"
            );
        }
        assert_eq!(
            refused(builder().no_rest().dead_man_switch(Duration::from_secs(10))),
            "dead_man_switch"
        );
        let ok = builder()
            .account(Account::Unified)
            .dead_man_switch(Duration::from_secs(60))
            .build()
            .unwrap();
        assert_eq!(ok.dead_man_switch(), Some(Duration::from_secs(60)));
        assert_eq!("unified".parse::<Account>(), Ok(Account::Unified));
        assert!("UTA".parse::<Account>().is_err());
    }
}
