//! What the V2 venue's codes mean to the engine. The venue's own words for them are in its
//! documentation; the codes the engine treats apart from any other are here, and nowhere else.

use crate::venue::LoginRefusal;

/// Login refusals that mean the credentials (or the clock they are signed with) are wrong:
/// 30005 (login failed), 30011 (invalid `ACCESS_KEY`), 30012 (invalid passphrase), 30013
/// (invalid timestamp), 30014 (timestamp expired), 30015 (invalid signature).
pub(crate) const CREDENTIALS_REFUSED: [i64; 6] = [30005, 30011, 30012, 30013, 30014, 30015];

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
}
