//! What the V3 venue's codes mean to the engine (its codes are strings on the wire, read as
//! numbers). The login is V2's frame and its refusals are read by V2's table (not verified for
//! V3: no source lists V3's login codes apart).
//!
//! Every answer to a cancel is **definitive** or **transient**, as for V2 (`venue/v2/codes.rs`):
//!
//! - definitive: an ack (`"0"`, or `00000` over REST), or any rejection not listed below, e.g.
//!   25204 (the order does not exist). 40084 and 40085 (the other kind of account's API) are no
//!   verdict at all: the account switches and sends the cancel again (`engine/account/unified.rs`).
//! - rate limited: 429 and 25004 (too frequent), 25003 (too many concurrent requests), as
//!   documented; 30006 and 30007 as on V2 (assumed).
//! - transient: 40010 (request timed out), 25001 (timeout), and any code from 500 to 599.

use crate::venue::{AnswerClass, LoginRefusal};

/// Answers that say the account or connection is over a rate limit.
pub(crate) const RATE_LIMITED: [i64; 5] = [429, 25004, 25003, 30006, OVER_LIMIT_CLOSE];

/// Answers that say the venue could not process the request in time, besides the server
/// errors 500 to 599.
pub(crate) const TRANSIENT: [i64; 2] = [40010, 25001];

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

/// "The account is in Classic Account mode": a classic key on a V3 endpoint.
pub(crate) const CLASSIC_ON_V3: i64 = 40084;
/// "The account is in Unified Account mode": a unified key on a V2 endpoint.
pub(crate) const UNIFIED_ON_V2: i64 = 40085;
/// "Service upgrade": the venue disconnects about 60 s later.
pub(crate) const SERVICE_UPGRADE: i64 = 30033;
/// "Request over limit, connection close" (V2's code; assumed the same on V3).
pub(crate) const OVER_LIMIT_CLOSE: i64 = 30007;

/// What a refused login's code means: V2's table.
pub(crate) fn login_refusal(code: i64) -> LoginRefusal {
    crate::venue::v2::codes::login_refusal(code)
}

/// Whether a REST reply's code refuses the request's credentials: V2's table.
pub(crate) fn rest_refuses_credentials(code: i64) -> bool {
    crate::venue::v2::codes::rest_refuses_credentials(code)
}

/// Whether an error that names no request says the venue will close the connection: the
/// service-upgrade notice (a drain signal) and the over-limit close.
pub(crate) fn closes_connection(code: i64) -> bool {
    code == SERVICE_UPGRADE || code == OVER_LIMIT_CLOSE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v3s_business_rejections_are_definitive_and_its_overload_codes_are_not() {
        for code in [0, 25204, 41101, 40020, 40306, 30016] {
            assert_eq!(answer_class(code), AnswerClass::Definitive, "{code}");
        }
        for code in [429, 25004, 25003, 30006, 30007] {
            assert_eq!(answer_class(code), AnswerClass::RateLimited, "{code}");
        }
        for code in [40010, 25001, 500, 503, 599] {
            assert_eq!(answer_class(code), AnswerClass::Transient, "{code}");
        }
    }

    #[test]
    fn the_service_upgrade_and_the_over_limit_close_say_the_connection_ends() {
        assert!(closes_connection(SERVICE_UPGRADE) && closes_connection(OVER_LIMIT_CLOSE));
        assert!(!closes_connection(30006) && !closes_connection(25204));
    }
}
