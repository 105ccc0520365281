//! The account's kind: classic (V2) or unified (V3). Configured, or found out at start with
//! `GET /api/v3/account/settings` over the REST connection before any WebSocket connection
//! dials (`00000` unified, 40084 classic, anything else classic with a warning); switched at run
//! time when the venue refuses a request for being sent to the other kind's API (40085 on V2,
//! 40084 on V3): every connection reconnects to the other dialect's endpoint and what was
//! refused for that reason goes out again. And the unified account's dead man's switch
//! (`countdown-cancel-all`): armed once the account is known unified, re-armed every third of
//! its countdown, turned off at a clean shutdown.
//!
//! Everything here decides over REST events and the turn's clock; the links are only told to
//! start, or to reconnect.

use std::time::Duration;

use super::super::config::{Account as Kind, Config};
use super::super::link::LinkSeam;
use super::super::plumbing::{IntentSource, OutcomeSink};
use super::super::shared::{SessionError, SessionState};
use super::inflight::{AttemptKind, AttemptState};
use super::link_cx;
use crate::clock::{Clock, ns, unix_ms};
use crate::intent::InstType;
use crate::rest::{AccountAnswer, RestError, Verdict};
use crate::venue::Dialect;

/// The dialect an account starts with.
pub(crate) fn initial_dialect(config: &Config) -> Dialect {
    match config.uta.account {
        Kind::Unified => Dialect::V3,
        Kind::Classic | Kind::Auto => Dialect::V2,
    }
}

/// The longest the connections wait for the venue's answer about the account (or the connect
/// timeout, if shorter): a REST host that is slow to resolve or to answer must not hold the
/// WebSocket pool back for long; a unified account taken for classic meanwhile is switched by
/// the venue's first 40085.
const DETECT_WAIT: Duration = Duration::from_secs(2);

/// Whether the account asks the venue which kind it is before its connections dial.
pub(crate) fn detects(config: &Config, has_rest: bool) -> bool {
    config.uta.account == Kind::Auto && has_rest
}

/// The dialect a "wrong account" code points to: 40085 (a V2 request for a unified account)
/// to V3, 40084 (a V3 request for a classic account) to V2.
fn points_to(code: i64) -> Option<Dialect> {
    [Dialect::V2, Dialect::V3]
        .into_iter()
        .find(|d| d.wrong_account_code() == code)
        .map(Dialect::other)
}

#[derive(Debug)]
struct Detect {
    /// Set at the first turn: the answer must come by then (the connect timeout).
    deadline: Option<u64>,
    asked: bool,
}

/// The dead man's switch.
#[derive(Debug)]
struct DeadMan {
    seconds: u32,
    /// A third of the countdown.
    every: u64,
    next_at: u64,
    in_flight: bool,
    /// The venue acknowledged an arm: shutdown turns it off.
    armed: bool,
    /// Shutdown: the `0` went out / was answered (or given up).
    off_sent: bool,
    off_done: bool,
}

/// The account's kind and the dead man's switch.
#[derive(Debug)]
pub(crate) struct AccountKind {
    detect: Option<Detect>,
    /// How many pool links start once the kind is known (0 with `rest_only`).
    pool: usize,
    /// The order subscription's product lines, re-encoded on a switch.
    inst_types: Vec<InstType>,
    connect_timeout: u64,
    dead_man: Option<DeadMan>,
    /// Auto found the account classic while a dead man's switch was configured: said once.
    dead_man_warned: bool,
    /// Intents refused for the account's kind, `(slot, seq)`: they did not land, and wait for
    /// a connection (or REST) of the new dialect before they go out again.
    held: Vec<(u32, u64)>,
    /// Links still logged in with the old dialect that wait for the replies due on them
    /// (bit per slot) before they reconnect, at the latest at `stale_until`.
    stale: u32,
    stale_until: u64,
    ack_timeout: u64,
}

impl AccountKind {
    pub(crate) fn new(config: &Config, has_rest: bool) -> Self {
        AccountKind {
            detect: detects(config, has_rest).then_some(Detect {
                deadline: None,
                asked: false,
            }),
            pool: if config.rest_only {
                0
            } else {
                config.connections
            },
            inst_types: config
                .confirm
                .as_ref()
                .map(|c| c.inst_types.clone())
                .unwrap_or_default(),
            connect_timeout: ns(config.connect_timeout.min(DETECT_WAIT)),
            dead_man: config.uta.dead_man_switch.map(|d| {
                let seconds = d.as_secs() as u32;
                DeadMan {
                    seconds,
                    every: ns(d / 3),
                    next_at: 0,
                    in_flight: false,
                    armed: false,
                    off_sent: false,
                    off_done: false,
                }
            }),
            dead_man_warned: false,
            held: Vec::with_capacity(config.max_pending),
            stale: 0,
            stale_until: 0,
            ack_timeout: ns(config.ack_timeout),
        }
    }
}

impl<I: IntentSource, O: OutcomeSink, L: LinkSeam, C: Clock> super::Account<I, O, L, C> {
    /// Publishes the kind the account starts with.
    pub(super) fn publish_kind(&self) {
        let uta = &self.shared.counters.0.uta;
        uta.unified
            .set(u64::from(self.settings.dialect == Dialect::V3));
        uta.dead_man_enabled.set(u64::from(
            self.kind.dead_man.is_some() && self.settings.dialect == Dialect::V3,
        ));
    }

    /// Asks which account this is (once the REST connection is ready), gives up at the
    /// deadline, and keeps the dead man's switch armed; true if anything happened.
    pub(super) fn drive_kind(&mut self, now: u64) -> bool {
        let mut work = false;
        if let Some(detect) = &mut self.kind.detect {
            let deadline = *detect
                .deadline
                .get_or_insert(now + self.kind.connect_timeout);
            if !detect.asked
                && self.stopping.is_none()
                && let Some(client) = self.rest.client_mut()
                && client.is_ready()
            {
                match client.send_account_settings(now, unix_ms()) {
                    Ok(()) => {
                        detect.asked = true;
                        work = true;
                    }
                    Err(e) => {
                        crate::relay::log_debug!("REST refused the account settings request: {e}")
                    }
                }
            }
            if now >= deadline {
                crate::relay::log_warn!(
                    "no answer from the venue about the account within {:?}: taking it for a \
                     classic account (V2)",
                    Duration::from_nanos(self.kind.connect_timeout)
                );
                self.kind_known(Dialect::V2, now);
                work = true;
            }
        }
        work |= self.drive_switch(now);
        work | self.drive_dead_man(now)
    }

    /// When the account's kind next has timer work (`u64::MAX`: none).
    pub(super) fn kind_deadline(&self) -> u64 {
        let mut t = u64::MAX;
        if let Some(d) = &self.kind.detect {
            t = t.min(d.deadline.unwrap_or(0));
        }
        if self.kind.stale != 0 {
            t = t.min(self.kind.stale_until);
        }
        if let Some(dm) = &self.kind.dead_man
            && self.settings.dialect == Dialect::V3
            && !dm.in_flight
        {
            t = t.min(dm.next_at);
        }
        t
    }

    /// After a switch: reconnects the old dialect's links once their replies came (or their
    /// time is up), and sends the held intents again once a path of the new dialect serves.
    fn drive_switch(&mut self, now: u64) -> bool {
        let mut work = false;
        if self.kind.stale != 0 {
            for l in 0..self.links.len() {
                if self.kind.stale & (1 << l) == 0 {
                    continue;
                }
                if !self.links[l].is_live() {
                    self.kind.stale &= !(1 << l);
                    continue;
                }
                if self.router.waiting(l) == 0 || now >= self.kind.stale_until {
                    self.kind.stale &= !(1 << l);
                    self.reconnect_now(l, now);
                    work = true;
                }
            }
        }
        if !self.kind.held.is_empty()
            && (self.router.any_serving(&self.links, 0) || self.rest_may_take(0, now))
        {
            for k in 0..self.kind.held.len() {
                let (slot, seq) = self.kind.held[k];
                if self.table.is_in_flight(slot, seq) && !self.table.entry(slot).has_live_attempt()
                {
                    self.push_resend(slot, seq, AttemptKind::Failover);
                }
            }
            self.kind.held.clear();
            work = true;
        }
        work
    }

    /// Drops link `l`'s connection so that it reconnects at once: to speak the account's
    /// dialect, or because the venue said it closes the connection soon.
    fn reconnect_now(&mut self, l: usize, now: u64) {
        let error = SessionError::Closed {
            code: None,
            reason: format!(
                "reconnecting (to the {} account's API) ahead of the venue",
                self.settings.dialect.account_name()
            ),
        };
        self.links[l].lose(error, link_cx!(self, now));
    }

    /// The venue said it closes link `l`'s connection soon (V3's 30033 service upgrade, about
    /// 60 s ahead; 30007): the link already takes no new cancels; it reconnects once the
    /// replies due on it came, at the latest an ack timeout on, rather than wait for the cut.
    pub(super) fn on_closing_notice(&mut self, l: usize, now: u64) {
        // V2's closing notice (30007) comes with the close itself: nothing to get ahead of.
        if self.settings.dialect == Dialect::V3 && self.kind.stale & (1 << l) == 0 {
            self.kind.stale |= 1 << l;
            self.kind.stale_until = self
                .kind
                .stale_until
                .max(now.saturating_add(self.kind.ack_timeout));
        }
    }

    /// The kind is known: start the connections with its dialect.
    fn kind_known(&mut self, dialect: Dialect, now: u64) {
        if self.kind.detect.take().is_none() {
            return;
        }
        self.use_dialect(dialect);
        for l in 0..self.kind.pool.min(self.links.len()) {
            self.links[l].enable(now);
        }
        if dialect == Dialect::V2 && self.kind.dead_man.is_some() {
            self.warn_dead_man_classic();
        }
    }

    fn warn_dead_man_classic(&mut self) {
        if !self.kind.dead_man_warned {
            self.kind.dead_man_warned = true;
            crate::relay::log_warn!(
                "the dead man's switch is configured, but the account is classic: the venue \
                 offers it to unified accounts only, so it is off"
            );
        }
    }

    /// Speaks `dialect` from now on: the links' next login, subscription and cancels, and the
    /// REST requests.
    fn use_dialect(&mut self, dialect: Dialect) {
        self.settings.dialect = dialect;
        if let Some(sub) = &mut self.settings.subscribe {
            sub.text.clear();
            sub.acks = dialect.encode_subscribe(&mut sub.text, &self.kind.inst_types);
        }
        if let Some(client) = self.rest.client_mut() {
            client.set_unified(dialect == Dialect::V3);
        }
        if let Some(confirm) = &mut self.confirm {
            confirm.use_dialect(dialect);
        }
        self.publish_kind();
    }

    /// The REST connection's answer about the account (or why none came).
    pub(super) fn on_account_answer(
        &mut self,
        answer: &Result<AccountAnswer, RestError>,
        now: u64,
    ) {
        if self.kind.detect.is_none() {
            return;
        }
        let dialect = match answer {
            Ok(AccountAnswer::Unified) => {
                crate::relay::log_info!("the account is a unified trading account: speaking V3");
                Dialect::V3
            }
            Ok(AccountAnswer::Classic) => {
                crate::relay::log_info!("the account is a classic account: speaking V2");
                Dialect::V2
            }
            Ok(AccountAnswer::Unknown { status, code }) => {
                crate::relay::log_warn!(
                    "the venue's answer about the account (HTTP {status}, code {code:?}) says \
                     neither unified nor classic: taking it for a classic account (V2)"
                );
                Dialect::V2
            }
            Err(e) => {
                crate::relay::log_warn!(
                    "no answer from the venue about the account ({e}): taking it for a classic \
                     account (V2)"
                );
                Dialect::V2
            }
        };
        self.kind_known(dialect, now);
    }

    /// The REST connections were lost before the venue was asked which account this is:
    /// classic.
    pub(super) fn on_rest_lost_while_detecting(&mut self, error: &RestError, now: u64) {
        // Both REST connections down (one lost while the other serves is routine).
        let down = self.rest.client_mut().is_none_or(|client| client.is_down());
        if down && self.kind.detect.as_ref().is_some_and(|d| !d.asked) {
            crate::relay::log_warn!(
                "no REST connection to ask which account this is ({error}): taking it for a \
                 classic account (V2)"
            );
            self.kind_known(Dialect::V2, now);
        }
    }

    /// Whether the account's kind is still being asked at start (what is sent meanwhile may
    /// be in the wrong dialect).
    pub(super) fn kind_pending(&self) -> bool {
        self.kind.detect.is_some()
    }

    /// Whether `code` says the request went to the wrong kind's API.
    #[inline]
    pub(super) fn is_wrong_account(code: i64) -> bool {
        points_to(code).is_some()
    }

    /// The attempt `a` of the intent in `slot`, on path `path`, was refused for the account's
    /// kind (`code`): it is no verdict on the order. The intent goes out again (in the other
    /// dialect, once a connection is back), and the account switches.
    pub(super) fn refused_for_account(
        &mut self,
        slot: u32,
        a: usize,
        path: usize,
        code: i64,
        now: u64,
    ) {
        let seq = self.table.entry(slot).seq;
        self.table.entry_mut(slot).attempts[a].state = AttemptState::Dead;
        self.router.done(path);
        if !self.table.entry(slot).has_live_attempt()
            && self.kind.held.len() < self.kind.held.capacity()
        {
            self.kind.held.push((slot, seq));
        }
        self.switch_for(code, now);
    }

    /// Switches to the dialect `code` points to, if the account does not speak it already:
    /// every connection reconnects to that dialect's endpoint. Logged once per switch.
    pub(super) fn switch_for(&mut self, code: i64, now: u64) {
        let Some(to) = points_to(code) else {
            return;
        };
        if self.settings.dialect == to || self.stopping.is_some() {
            return;
        }
        if self.kind.detect.is_some() {
            self.kind_known(to, now);
            return;
        }
        crate::relay::log_warn!(
            "the venue answered {code}: the account is a {} account; switching to {} and \
             sending what was refused for it again",
            to.account_name(),
            match to {
                Dialect::V2 => "the V2 API",
                Dialect::V3 => "the V3 API",
            }
        );
        self.shared.counters.0.uta.switches.incr();
        self.use_dialect(to);
        if to == Dialect::V2 && self.kind.dead_man.is_some() {
            self.warn_dead_man_classic();
        }
        // Links of the old dialect take no new cancels; each reconnects once the replies due
        // on it came (they may be refusals of the same kind), at the latest an ack timeout on.
        self.kind.stale_until = now.saturating_add(self.kind.ack_timeout);
        for l in 0..self.links.len() {
            let link = &self.links[l];
            if link.is_done() {
                continue;
            }
            match link.state() {
                SessionState::Live if self.router.waiting(l) != 0 => {
                    self.links[l].drain(false);
                    self.kind.stale |= 1 << l;
                }
                SessionState::Live | SessionState::Connecting | SessionState::LoggingIn => {
                    self.reconnect_now(l, now)
                }
                _ => {}
            }
        }
    }

    // ----- the dead man's switch -----

    /// Arms or re-arms the countdown when it is due; true if a request went out.
    fn drive_dead_man(&mut self, now: u64) -> bool {
        if self.settings.dialect != Dialect::V3
            || self.kind.detect.is_some()
            || self.stopping.is_some()
        {
            return false;
        }
        let may_query = self.may_query();
        let Some(dm) = &mut self.kind.dead_man else {
            return false;
        };
        if dm.in_flight || now < dm.next_at || !may_query {
            return false;
        }
        let Some(client) = self.rest.client_mut() else {
            return false;
        };
        match client.send_countdown(dm.seconds, now, unix_ms()) {
            Ok(()) => {
                dm.in_flight = true;
                dm.next_at = now.saturating_add(dm.every);
                true
            }
            Err(e) => {
                crate::relay::log_debug!("REST refused the dead man's switch: {e}");
                false
            }
        }
    }

    /// The venue's verdict on a countdown request.
    pub(super) fn on_countdown(
        &mut self,
        seconds: u32,
        verdict: &Result<Verdict, RestError>,
        now: u64,
    ) {
        let uta = &self.shared.counters.0.uta;
        let Some(dm) = &mut self.kind.dead_man else {
            return;
        };
        dm.in_flight = false;
        if seconds == 0 {
            dm.off_done = true;
            match verdict {
                Ok(Verdict::Acked) => {
                    uta.dead_man_off.set(1);
                    crate::relay::log_info!("the dead man's switch is off");
                }
                Ok(Verdict::Rejected { code, msg }) => crate::relay::log_warn!(
                    "the venue refused to turn the dead man's switch off ({code} {msg}): every \
                     resting order is cancelled when its countdown runs out"
                ),
                Err(e) => crate::relay::log_warn!(
                    "turning the dead man's switch off got no answer ({e}): every resting order \
                     may be cancelled when its countdown runs out"
                ),
            }
            return;
        }
        match verdict {
            Ok(Verdict::Acked) => {
                dm.armed = true;
                uta.dead_man_arms.incr();
                uta.dead_man_armed_unix_ms.set(unix_ms());
            }
            Ok(Verdict::Rejected { code, msg }) => {
                uta.dead_man_failures.incr();
                // Soon again, within the venue's 1/s.
                dm.next_at = now.saturating_add(ns(Duration::from_secs(1)));
                crate::relay::log_warn!(
                    "the venue refused to arm the dead man's switch: {code} {msg}"
                );
                let code = *code;
                self.switch_for(code, now);
            }
            Err(e) => {
                uta.dead_man_failures.incr();
                dm.next_at = now.saturating_add(ns(Duration::from_secs(1)));
                crate::relay::log_warn!("arming the dead man's switch got no answer: {e}");
            }
        }
    }

    /// At shutdown: turns an armed dead man's switch off before the REST connection closes.
    /// True while that is under way (shutdown waits), until the answer or the grace's end.
    pub(super) fn dead_man_off_pending(&mut self, grace_over: bool) -> bool {
        let now = self.clock.now();
        let ready = self.rest.can_query();
        let Some(dm) = &mut self.kind.dead_man else {
            return false;
        };
        if !dm.armed || dm.off_done {
            return false;
        }
        if grace_over {
            dm.off_done = true;
            crate::relay::log_warn!(
                "shutdown could not turn the dead man's switch off in time: every resting order \
                 is cancelled when its countdown runs out"
            );
            return false;
        }
        if !dm.off_sent
            && !dm.in_flight
            && ready
            && let Some(client) = self.rest.client_mut()
            && client.send_countdown(0, now, unix_ms()).is_ok()
        {
            dm.off_sent = true;
            dm.in_flight = true;
        }
        true
    }
}

#[cfg(test)]
mod tests;
