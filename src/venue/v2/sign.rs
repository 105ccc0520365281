//! Signing: `base64(HMAC-SHA256(secret, message))`, for the WebSocket login
//! (`timestamp + "GET" + "/user/verify"`) and for REST requests
//! (`timestamp + method + requestPath + body`, see [`crate::rest`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::venue::decimal::write_decimal;

/// The length of a login signature: 32 bytes of HMAC-SHA256 in padded base64.
pub const SIGN_LEN: usize = 44;

const _: () = assert!(matches!(base64::encoded_len(32, true), Some(SIGN_LEN)));

/// What follows the timestamp in the signed message.
const VERIFY_REQUEST: &[u8] = b"GET/user/verify";

/// The login signature for `timestamp_s` (Unix time in whole seconds):
/// `base64(HMAC-SHA256(secret, timestamp + "GET" + "/user/verify"))`, always 44 ASCII bytes.
///
/// Allocates nothing and keeps no copy of `secret`. Sign afresh for every login: the venue
/// rejects a timestamp 30 seconds after it.
///
/// ```
/// use bitget_cancel::protocol::sign_login;
///
/// let sign = sign_login(b"22582BD0CFF14C41EDBF1AB98506286D", 1538054050);
/// assert_eq!(&sign, b"/4S0C3L8mGdm8894ulf8wfnQ6dqMXO8Iw95zlvMN8Zw=");
/// ```
pub fn sign_login(secret: &[u8], timestamp_s: u64) -> [u8; SIGN_LEN] {
    let mut digits = [0u8; 20];
    let timestamp = write_decimal(timestamp_s, &mut digits);
    sign_parts(secret, &[timestamp, VERIFY_REQUEST])
}

/// `base64(HMAC-SHA256(secret, parts joined))`, always [`SIGN_LEN`] ASCII bytes: the one
/// signing routine both the login and REST requests use. Allocates nothing.
pub(crate) fn sign_parts(secret: &[u8], parts: &[&[u8]]) -> [u8; SIGN_LEN] {
    // HMAC is defined for keys of every length (longer ones are hashed first), so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .expect("HMAC-SHA256 accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    let digest = mac.finalize().into_bytes();

    let mut sign = [0u8; SIGN_LEN];
    let written = STANDARD
        .encode_slice(digest, &mut sign)
        .expect("32 bytes always encode to 44 base64 characters");
    debug_assert_eq!(written, SIGN_LEN);
    sign
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha2::Digest;

    /// HMAC-SHA256 as RFC 2104 defines it, from the bare hash: an independent check of the
    /// library's construction.
    fn rfc2104_hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
        const BLOCK: usize = 64;
        let mut block_key = [0u8; BLOCK];
        if key.len() > BLOCK {
            block_key[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block_key[..key.len()].copy_from_slice(key);
        }
        let inner_pad: Vec<u8> = block_key.iter().map(|b| b ^ 0x36).collect();
        let outer_pad: Vec<u8> = block_key.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::new()
            .chain_update(&inner_pad)
            .chain_update(message)
            .finalize();
        let outer = Sha256::new()
            .chain_update(&outer_pad)
            .chain_update(inner)
            .finalize();
        outer.into()
    }

    /// Padded standard base64 (RFC 4648), written out by hand.
    fn rfc4648_base64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut text = String::new();
        for chunk in bytes.chunks(3) {
            let group = (u32::from(chunk[0]) << 16)
                | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
                | u32::from(*chunk.get(2).unwrap_or(&0));
            for i in 0..4 {
                if i <= chunk.len() {
                    text.push(ALPHABET[(group >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    text.push('=');
                }
            }
        }
        text
    }

    #[test]
    fn signs_the_documented_test_vector() {
        let sign = sign_login(b"22582BD0CFF14C41EDBF1AB98506286D", 1538054050);
        assert_eq!(
            std::str::from_utf8(&sign).unwrap(),
            "/4S0C3L8mGdm8894ulf8wfnQ6dqMXO8Iw95zlvMN8Zw="
        );
    }

    #[test]
    fn reference_hmac_and_base64_reproduce_the_documented_test_vector() {
        let mac = rfc2104_hmac_sha256(
            b"22582BD0CFF14C41EDBF1AB98506286D",
            b"1538054050GET/user/verify",
        );
        assert_eq!(
            rfc4648_base64(&mac),
            "/4S0C3L8mGdm8894ulf8wfnQ6dqMXO8Iw95zlvMN8Zw="
        );
        // RFC 4648 section 10 vectors, so the reference encoder is itself checked.
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(rfc4648_base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn a_different_timestamp_or_secret_changes_the_sign() {
        let base = sign_login(b"secret", 1538054050);
        assert_ne!(base, sign_login(b"secret", 1538054051));
        assert_ne!(base, sign_login(b"secreT", 1538054050));
    }

    #[test]
    fn secrets_around_the_hmac_block_size_match_the_reference() {
        for len in [0, 1, 63, 64, 65, 128, 131] {
            let secret: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let expected = rfc4648_base64(&rfc2104_hmac_sha256(&secret, b"0GET/user/verify"));
            assert_eq!(
                sign_login(&secret, 0).as_slice(),
                expected.as_bytes(),
                "{len}"
            );
        }
    }

    proptest! {
        #[test]
        fn sign_matches_an_independent_hmac_and_base64(
            secret in proptest::collection::vec(any::<u8>(), 0..200),
            timestamp_s in any::<u64>(),
        ) {
            let message = format!("{timestamp_s}GET/user/verify");
            let expected = rfc4648_base64(&rfc2104_hmac_sha256(&secret, message.as_bytes()));
            let sign = sign_login(&secret, timestamp_s);
            prop_assert_eq!(std::str::from_utf8(&sign).unwrap(), expected.as_str());
        }
    }
}
