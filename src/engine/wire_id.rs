//! The request ids the engine puts on the wire: a short random prefix drawn when the engine is
//! built, a colon, and a counter (`k3Xw9QpZ:1`, `k3Xw9QpZ:2`, ...). Every send of every cancel
//! (the first, a hedge, a re-send) takes the next number, so an id is never reused: not across
//! attempts or connections, and, the prefix being random, not across engines, processes or
//! restarts either (two engines meet with odds of one in 62^8, about 2 x 10^14). A late reply
//! to an old request can therefore never be taken for a newer one.
//!
//! A caller's own id ([`Cancel::with_id`](crate::Cancel::with_id)) is a label: it is echoed in
//! the intent's outcome and never goes on the wire, and no reply is ever matched by it.
//!
//! Correlation stays one probe: [`WireIds::parse`] checks the prefix (one 8-byte compare) and
//! reads the counter, which the in-flight table's index uses as its own hash, so consecutive
//! sends land in consecutive buckets.

use crate::intent::{RequestId, parse_u64};

/// Characters of the random prefix.
pub(crate) const PREFIX_LEN: usize = 8;
/// Between the prefix and the counter.
const SEPARATOR: u8 = b':';
/// The prefix's alphabet: the venue allows `[0-9A-Za-z_:#+\- ]` in ids; letters and digits
/// only here, so an id reads as one word.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// One engine's wire ids: its prefix. `Copy`, so handles build ids without touching the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WireIds {
    prefix: [u8; PREFIX_LEN],
}

impl WireIds {
    /// A fresh random prefix from the OS's random source (the clock's low bits if it fails).
    pub(crate) fn random() -> Self {
        let mut seed = [0u8; PREFIX_LEN];
        if getrandom::fill(&mut seed).is_err() {
            let t = crate::clock::monotonic_ns() ^ crate::backoff::random_seed();
            seed = t.to_le_bytes();
        }
        WireIds::from_seed(seed)
    }

    /// The prefix drawn from these bytes (tests pick it).
    pub(crate) fn from_seed(seed: [u8; PREFIX_LEN]) -> Self {
        let mut prefix = [0u8; PREFIX_LEN];
        for (p, s) in prefix.iter_mut().zip(seed) {
            *p = ALPHABET[usize::from(s) % ALPHABET.len()];
        }
        WireIds { prefix }
    }

    /// The wire id of send number `n`: the prefix, `:`, and `n` in decimal (at most 29
    /// characters, within the venue's 40). Numbers of 1 to 19 digits read back.
    #[inline]
    pub(crate) fn id(&self, n: u64) -> RequestId {
        let digits = RequestId::from_u64(n);
        let digits = digits.as_str().as_bytes();
        let mut bytes = [0u8; RequestId::MAX_LEN];
        bytes[..PREFIX_LEN].copy_from_slice(&self.prefix);
        bytes[PREFIX_LEN] = SEPARATOR;
        bytes[PREFIX_LEN + 1..PREFIX_LEN + 1 + digits.len()].copy_from_slice(digits);
        RequestId::from_ascii(bytes, PREFIX_LEN + 1 + digits.len())
    }

    /// The send number an echoed id names, if it is one of this engine's ids; `None` for
    /// anything else (a stranger's id, another engine's, a caller's label).
    #[inline]
    pub(crate) fn parse(&self, id: &[u8]) -> Option<u64> {
        if id.len() <= PREFIX_LEN + 1
            || id[..PREFIX_LEN] != self.prefix
            || id[PREFIX_LEN] != SEPARATOR
        {
            return None;
        }
        parse_u64(&id[PREFIX_LEN + 1..]).filter(|&n| n != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_reads_back_as_its_number_and_fits_the_venues_rule() {
        let ids = WireIds::from_seed(*b"abcdefgh");
        for n in [1, 42, 999_999_999_999_999_999] {
            let id = ids.id(n);
            assert!(id.as_str().len() <= 40);
            assert!(RequestId::new(id.as_str()).is_ok(), "{id}");
            assert_eq!(ids.parse(id.as_str().as_bytes()), Some(n), "{id}");
        }
        assert_eq!(ids.id(7).as_str().len(), PREFIX_LEN + 2);
    }

    #[test]
    fn strangers_labels_and_other_engines_ids_are_not_ours() {
        let ours = WireIds::from_seed(*b"abcdefgh");
        let theirs = WireIds::from_seed(*b"abcdefgi");
        assert_ne!(ours, theirs);
        let foreign = theirs.id(5);
        assert_eq!(ours.parse(foreign.as_str().as_bytes()), None);
        for stranger in ["5", "r5", "my order #1", "", ":5"] {
            assert_eq!(ours.parse(stranger.as_bytes()), None, "{stranger:?}");
        }
        let mut bad = ours.id(5).as_str().to_owned();
        bad.push('x');
        assert_eq!(ours.parse(bad.as_bytes()), None);
        let zero = format!("{}0", &ours.id(1).as_str()[..PREFIX_LEN + 1]);
        assert_eq!(ours.parse(zero.as_bytes()), None, "no send is number 0");
    }

    #[test]
    fn two_engines_draw_different_prefixes() {
        let a = WireIds::random();
        let b = WireIds::random();
        assert_ne!(a.id(1), b.id(1));
    }
}
