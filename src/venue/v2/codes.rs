//! What the V2 venue's codes mean to the engine. The venue's own words for them are in its
//! documentation; the codes the engine treats apart from any other are here, and nowhere else.

use crate::venue::LoginRefusal;

/// Login refusals that mean the credentials (or the clock they are signed with) are wrong:
/// 30005 (login failed), 30011 (invalid `ACCESS_KEY`), 30012 (invalid passphrase), 30013
/// (invalid timestamp), 30014 (timestamp expired), 30015 (invalid signature).
pub(crate) const CREDENTIALS_REFUSED: [i64; 6] = [30005, 30011, 30012, 30013, 30014, 30015];

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

/// What a refused login's code means.
pub(crate) fn login_refusal(code: i64) -> LoginRefusal {
    if CREDENTIALS_REFUSED.contains(&code) {
        LoginRefusal::Credentials
    } else {
        LoginRefusal::Transient
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_codes_are_told_apart_from_passing_trouble() {
        for code in CREDENTIALS_REFUSED {
            assert_eq!(login_refusal(code), LoginRefusal::Credentials, "{code}");
        }
        for code in [0, 30001, 30006, OVER_LIMIT_CLOSE, 40009] {
            assert_eq!(login_refusal(code), LoginRefusal::Transient, "{code}");
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
