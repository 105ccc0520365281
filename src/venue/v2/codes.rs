//! What the V2 venue's codes mean to the engine. The venue's own words for them are in its
//! documentation; the codes the engine treats apart from any other are here, and nowhere else.
//!
//! Every answer to a cancel is **definitive** or **transient**:
//!
//! - definitive: an ack (code 0, or `00000` over REST), or any rejection not listed below, e.g.
//!   43001 (spot order does not exist), 40768 and 41101 (futures), 25204 (the unified account),
//!   40009 (bad signature). The first definitive answer to any attempt settles the cancel.
//! - transient: the venue did not process the request this time and says so: a rate limit
//!   ([`RATE_LIMITED`]), or overload and timeouts ([`TRANSIENT`], and any code from 500 to 599).
//!   Such an answer settles nothing while another attempt of the cancel may still be answered
//!   or sends remain: the cancel goes out again on another path after a short pause, and a
//!   rate limit holds the account's own limiter back for a while. Only when no path is left is
//!   it the outcome (`rejected` with that code).
//!
//! A next dialect (the unified account's V3, whose codes are strings such as `"25001"`,
//! `"25003"`, `"25004"`, `"429"`) keeps a table of its own beside this one, read through
//! [`Dialect::answer_class`](crate::venue::Dialect::answer_class).

use crate::venue::{AnswerClass, LoginRefusal};

/// Login refusals that mean the credentials are wrong: 30005 (login failed), 30011 (invalid
/// `ACCESS_KEY`), 30012 (invalid passphrase), 30015 (invalid signature). Trying again at once
/// cannot help.
pub(crate) const CREDENTIALS_REFUSED: [i64; 4] = [30005, 30011, 30012, 30015];

/// Login refusals that mean the login's timestamp is off: 30013 (invalid timestamp), 30014
/// (timestamp expired). The clock is measured again and the login tried again with it; they
/// never count as refused credentials.
pub(crate) const CLOCK_REFUSED: [i64; 2] = [30013, 30014];

/// REST refusals of the request's credentials, not of the order it carries: 40001 (no
/// `ACCESS-KEY`), 40002 (no `ACCESS-SIGN`), 40003 (no signature or timestamp header), 40006
/// (invalid `ACCESS_KEY`), 40009 (signature error), 40011 (no `ACCESS-PASSPHRASE`), 40012 (key
/// or passphrase incorrect), 40037 (the key does not exist). The timestamp's codes (40004, 40005,
/// 40008) are about the clock, 40010 is "request timed out" (passing trouble), and permissions
/// (40014) and the IP allow-list (40018) leave the key recognised: none of them is here.
pub(crate) const REST_CREDENTIALS_REFUSED: [i64; 8] =
    [40001, 40002, 40003, 40006, 40009, 40011, 40012, 40037];

/// Whether a REST reply's code refuses the request's credentials (not the order).
pub(crate) fn rest_refuses_credentials(code: i64) -> bool {
    REST_CREDENTIALS_REFUSED.contains(&code)
}

/// "Request over limit, connection close": the venue closes the connection after it.
pub(crate) const OVER_LIMIT_CLOSE: i64 = 30007;

/// Answers that say the account or connection is over a rate limit: 30006 (request too
/// many), 30007 (request over limit, connection close), 429 (too many requests, REST and V3),
/// 25003 (too many concurrent requests), 25004 (requests too frequent).
pub(crate) const RATE_LIMITED: [i64; 5] = [30006, OVER_LIMIT_CLOSE, 429, 25003, 25004];

/// Answers that say the venue could not process the request in time, besides the server
/// errors 500 to 599: 40010 (request timed out), 25001 (timeout).
pub(crate) const TRANSIENT: [i64; 2] = [40010, 25001];

/// What a refused login's code means.
pub(crate) fn login_refusal(code: i64) -> LoginRefusal {
    if CREDENTIALS_REFUSED.contains(&code) {
        LoginRefusal::Credentials
    } else if CLOCK_REFUSED.contains(&code) {
        LoginRefusal::Clock
    } else {
        LoginRefusal::Transient
    }
}

/// What an answer's code means for the cancel it answers (0 is an ack).
pub(crate) fn answer_class(code: i64) -> AnswerClass {
    if RATE_LIMITED.contains(&code) {
        AnswerClass::RateLimited
    } else if TRANSIENT.contains(&code) || (500..=599).contains(&code) {
        AnswerClass::Transient
    } else {
        AnswerClass::Definitive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_codes_are_told_apart_from_the_clock_and_passing_trouble() {
        for code in CREDENTIALS_REFUSED {
            assert_eq!(login_refusal(code), LoginRefusal::Credentials, "{code}");
        }
        for code in CLOCK_REFUSED {
            assert_eq!(login_refusal(code), LoginRefusal::Clock, "{code}");
        }
        for code in [0, 30001, 30006, OVER_LIMIT_CLOSE, 40009] {
            assert_eq!(login_refusal(code), LoginRefusal::Transient, "{code}");
        }
    }

    #[test]
    fn business_rejections_are_definitive_and_overload_is_not() {
        for code in [0, 43001, 40768, 41101, 25204, 40009, 30016, 40085] {
            assert_eq!(answer_class(code), AnswerClass::Definitive, "{code}");
        }
        for code in [30006, 30007, 429, 25003, 25004] {
            assert_eq!(answer_class(code), AnswerClass::RateLimited, "{code}");
        }
        for code in [40010, 25001, 500, 502, 503, 599] {
            assert_eq!(answer_class(code), AnswerClass::Transient, "{code}");
        }
    }

    #[test]
    fn rest_codes_about_the_key_or_signature_are_told_apart_from_an_orders_verdict() {
        for code in [40006, 40009, 40012, 40037] {
            assert!(rest_refuses_credentials(code), "{code}");
        }
        // The order's own verdicts, the clock, permissions and the IP allow-list.
        for code in [
            0, 43001, 40768, 41101, 40004, 40008, 40010, 40014, 40018, 30015,
        ] {
            assert!(!rest_refuses_credentials(code), "{code}");
        }
    }
}
