//! Login checks, with the venue's signing rule and error codes.
//!
//! `sign = base64(HMAC-SHA256(secret, timestamp + "GET" + "/user/verify"))`, the timestamp in
//! whole Unix seconds, sent as a string. This is the venue's own implementation, written apart
//! from the client's so that each checks the other.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::rules::Refusal;

/// Why a login was refused: the venue's code and message.
pub(super) mod codes {
    use super::Refusal;

    pub(in crate::sim) const BAD_KEY: Refusal = Refusal::new(30011, "Invalid ACCESS_KEY");
    pub(in crate::sim) const BAD_PASSPHRASE: Refusal =
        Refusal::new(30012, "Invalid ACCESS_PASSPHRASE");
    pub(in crate::sim) const BAD_TIMESTAMP: Refusal =
        Refusal::new(30013, "Invalid ACCESS_TIMESTAMP");
    pub(in crate::sim) const EXPIRED: Refusal = Refusal::new(30014, "Request timestamp expired");
    pub(in crate::sim) const BAD_SIGN: Refusal = Refusal::new(30015, "Invalid sign");
}

/// What the venue accepts.
pub(super) struct Credentials<'a> {
    pub(super) api_key: &'a str,
    pub(super) secret: &'a str,
    pub(super) passphrase: &'a str,
    /// How far the timestamp may be from the venue's clock, either way, in seconds.
    pub(super) window_s: u64,
}

/// The signature the venue expects for `timestamp` (the string exactly as sent).
#[cfg(test)]
pub(super) fn expected_sign(secret: &str, timestamp: &str) -> String {
    let mac = mac(secret, timestamp).expect("HMAC takes keys of any length");
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The MAC over the signed message; `None` only if HMAC refused the key, which it never does.
fn mac(secret: &str, timestamp: &str) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(b"GET");
    mac.update(b"/user/verify");
    Some(mac)
}

/// Compares without stopping at the first difference.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the first element of a login's `args` at Unix time `now_s`, in the venue's order:
/// key, passphrase, timestamp shape, timestamp window, signature. A missing field counts as a
/// wrong one.
pub(super) fn check(creds: &Credentials<'_>, arg: &Value, now_s: u64) -> Result<(), Refusal> {
    let field = |name: &str| arg.get(name).and_then(Value::as_str);

    if field("apiKey") != Some(creds.api_key) {
        return Err(codes::BAD_KEY);
    }
    let passphrase = field("passphrase").unwrap_or("");
    if !same_bytes(passphrase.as_bytes(), creds.passphrase.as_bytes()) {
        return Err(codes::BAD_PASSPHRASE);
    }
    let timestamp = field("timestamp").ok_or(codes::BAD_TIMESTAMP)?;
    let seconds = whole_seconds(timestamp).ok_or(codes::BAD_TIMESTAMP)?;
    if seconds.abs_diff(now_s) > creds.window_s {
        return Err(codes::EXPIRED);
    }
    let sign = field("sign").ok_or(codes::BAD_SIGN)?;
    let sign = STANDARD.decode(sign).map_err(|_| codes::BAD_SIGN)?;
    mac(creds.secret, timestamp)
        .ok_or(codes::BAD_SIGN)?
        .verify_slice(&sign)
        .map_err(|_| codes::BAD_SIGN)
}

/// Unix seconds as 1 to 10 ASCII digits; milliseconds (13 digits), fractions, signs and
/// anything else are not whole seconds.
fn whole_seconds(timestamp: &str) -> Option<u64> {
    if timestamp.is_empty()
        || timestamp.len() > 10
        || !timestamp.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    timestamp.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CREDS: Credentials<'static> = Credentials {
        api_key: "key",
        secret: "22582BD0CFF14C41EDBF1AB98506286D",
        passphrase: "pass",
        window_s: 30,
    };

    fn arg(ts: &str, sign: &str) -> Value {
        json!({"apiKey": "key", "passphrase": "pass", "timestamp": ts, "sign": sign})
    }

    #[test]
    fn signs_the_documented_test_vector() {
        assert_eq!(
            expected_sign("22582BD0CFF14C41EDBF1AB98506286D", "1538054050"),
            "/4S0C3L8mGdm8894ulf8wfnQ6dqMXO8Iw95zlvMN8Zw="
        );
    }

    #[test]
    fn accepts_a_fresh_correct_login() {
        let sign = expected_sign(CREDS.secret, "1538054050");
        assert_eq!(
            check(&CREDS, &arg("1538054050", &sign), 1538054050 + 29),
            Ok(())
        );
        assert_eq!(
            check(&CREDS, &arg("1538054050", &sign), 1538054050 - 29),
            Ok(())
        );
    }

    #[test]
    fn refuses_each_wrong_field_with_its_code() {
        let now = 1538054050;
        let sign = expected_sign(CREDS.secret, "1538054050");
        let mut wrong_key = arg("1538054050", &sign);
        wrong_key["apiKey"] = json!("other");
        assert_eq!(check(&CREDS, &wrong_key, now).unwrap_err().code, 30011);
        let mut wrong_pass = arg("1538054050", &sign);
        wrong_pass["passphrase"] = json!("pas");
        assert_eq!(check(&CREDS, &wrong_pass, now).unwrap_err().code, 30012);
        for ts in ["1538054050000", "1538054050.5", "-1538054050", "", "abc"] {
            let sign = expected_sign(CREDS.secret, ts);
            assert_eq!(
                check(&CREDS, &arg(ts, &sign), now).unwrap_err().code,
                30013,
                "{ts:?}"
            );
        }
        assert_eq!(
            check(&CREDS, &arg("1538054050", &sign), now + 31)
                .unwrap_err()
                .code,
            30014
        );
        assert_eq!(
            check(&CREDS, &arg("1538054050", &sign), now - 31)
                .unwrap_err()
                .code,
            30014
        );
        let other = expected_sign("another secret", "1538054050");
        for bad in [other.as_str(), "", "not base64!", "AAAA"] {
            assert_eq!(
                check(&CREDS, &arg("1538054050", bad), now)
                    .unwrap_err()
                    .code,
                30015,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn missing_fields_count_as_wrong_ones() {
        assert_eq!(check(&CREDS, &json!({}), 0).unwrap_err().code, 30011);
        assert_eq!(
            check(&CREDS, &json!({"apiKey": "key"}), 0)
                .unwrap_err()
                .code,
            30012
        );
        let no_ts = json!({"apiKey": "key", "passphrase": "pass"});
        assert_eq!(check(&CREDS, &no_ts, 0).unwrap_err().code, 30013);
        let no_sign = json!({"apiKey": "key", "passphrase": "pass", "timestamp": "10"});
        assert_eq!(check(&CREDS, &no_sign, 10).unwrap_err().code, 30015);
    }

    #[test]
    fn a_numeric_timestamp_is_not_the_documented_string() {
        let sign = expected_sign(CREDS.secret, "1538054050");
        let mut numeric = arg("1538054050", &sign);
        numeric["timestamp"] = json!(1538054050u64);
        assert_eq!(check(&CREDS, &numeric, 1538054050).unwrap_err().code, 30013);
    }
}
