//! The venue's refusal of the credentials, whichever path heard it first: a WebSocket login
//! refused for its key, passphrase or signature, or a REST request refused for its key or
//! signature. A refusal of the credentials is never an order's verdict: every cancel it affects
//! is settled `NotSent(LoginRejected)` with the venue's code, and while it stands no other path
//! tries the same credentials (REST does not carry cancels after a refused login; after a REST
//! refusal, new cancels are refused at once). It stands until the credentials prove good (a
//! login, or a REST verdict on an order: an ack or a definitive rejection) or the configured wait passes and a path tries again: the
//! links on their own schedule (`login_retry_after`), the REST rung after the same wait.

use crate::outcome::VenueMsg;

/// The last refusal of the credentials and what it holds back.
#[derive(Debug)]
pub(crate) struct Refusal {
    /// The venue's code and message, since the last sign that the credentials work.
    last: Option<(i64, VenueMsg)>,
    /// When the REST rung may try the credentials again, if REST heard the refusal itself
    /// (`u64::MAX`: never).
    rest_retry_at: Option<u64>,
    /// How long a refused path waits before it tries again (`None`: never), ns.
    retry_after: Option<u64>,
}

impl Refusal {
    pub(crate) fn new(retry_after: Option<u64>) -> Self {
        Refusal {
            last: None,
            rest_retry_at: None,
            retry_after,
        }
    }

    /// The venue's last refusal of the credentials, while it stands.
    #[inline]
    pub(crate) fn last(&self) -> Option<(i64, VenueMsg)> {
        self.last
    }

    /// A login was refused for the credentials.
    pub(crate) fn on_login_refused(&mut self, code: i64, msg: VenueMsg) {
        self.last = Some((code, msg));
    }

    /// A REST request was refused for its credentials at `now`: REST waits before it tries
    /// them again.
    pub(crate) fn on_rest_refused(&mut self, code: i64, msg: VenueMsg, now: u64) {
        self.last = Some((code, msg));
        self.rest_retry_at = Some(match self.retry_after {
            Some(wait) => now.saturating_add(wait),
            None => u64::MAX,
        });
    }

    /// The credentials work: a login was accepted, or REST got a verdict on an order.
    #[inline]
    pub(crate) fn on_accepted(&mut self) {
        self.last = None;
        self.rest_retry_at = None;
    }

    /// Whether the REST rung may carry a cancel at `now`: no refusal stands, or REST heard it
    /// and its wait is over.
    #[inline]
    pub(crate) fn rest_may_try(&self, now: u64) -> bool {
        self.last.is_none() || self.rest_retry_at.is_some_and(|t| now >= t)
    }

    /// The refusal a cancel is settled with at once, at `now`, if one stands and no path is
    /// trying the credentials again: no connection is live (`any_live`), and either REST heard
    /// the refusal and still waits, or every connection in use was refused
    /// (`every_link_refused`) and REST may not try either.
    pub(crate) fn refuses(
        &self,
        now: u64,
        any_live: bool,
        every_link_refused: bool,
    ) -> Option<(i64, VenueMsg)> {
        let last = self.last?;
        if any_live {
            return None;
        }
        let rest_waits = self.rest_retry_at.is_some_and(|t| now < t);
        (rest_waits || (every_link_refused && !self.rest_may_try(now))).then_some(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn sign() -> VenueMsg {
        VenueMsg::new("Invalid sign")
    }

    #[test]
    fn nothing_is_refused_before_the_venue_refuses() {
        let r = Refusal::new(Some(60_000 * MS));
        assert_eq!(r.last(), None);
        assert!(r.rest_may_try(0));
        assert_eq!(r.refuses(0, false, true), None);
    }

    #[test]
    fn a_refused_login_keeps_rest_from_trying_and_refuses_once_every_link_was_refused() {
        let mut r = Refusal::new(Some(60_000 * MS));
        r.on_login_refused(30015, sign());
        assert!(
            !r.rest_may_try(u64::MAX),
            "REST never tries what a login was refused for"
        );
        assert_eq!(
            r.refuses(MS, false, false),
            None,
            "another connection still has its answer to come: cancels wait for it"
        );
        assert_eq!(r.refuses(MS, false, true), Some((30015, sign())));
        assert_eq!(r.refuses(MS, true, true), None, "a live connection serves");
        r.on_accepted();
        assert_eq!(r.refuses(MS, false, true), None);
        assert!(r.rest_may_try(MS));
    }

    #[test]
    fn a_rest_refusal_refuses_at_once_until_rest_may_try_again() {
        let mut r = Refusal::new(Some(100 * MS));
        let refused = VenueMsg::new("sign signature error");
        r.on_rest_refused(40009, refused, 10 * MS);
        for every_link_refused in [false, true] {
            assert_eq!(
                r.refuses(50 * MS, false, every_link_refused),
                Some((40009, refused)),
                "whatever the connections are doing"
            );
        }
        assert!(!r.rest_may_try(109 * MS));
        assert!(r.rest_may_try(110 * MS));
        assert_eq!(
            r.refuses(110 * MS, false, true),
            None,
            "the next cancel tries the credentials over REST again"
        );
    }

    #[test]
    fn without_a_retry_a_rest_refusal_stands_until_a_login_proves_the_credentials() {
        let mut r = Refusal::new(None);
        r.on_rest_refused(40006, VenueMsg::new("Invalid ACCESS_KEY"), MS);
        assert!(!r.rest_may_try(u64::MAX - 1));
        assert!(r.refuses(u64::MAX - 1, false, false).is_some());
        r.on_accepted();
        assert!(r.rest_may_try(2 * MS));
    }
}
