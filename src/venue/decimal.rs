//! Decimal digits without allocating: timestamps and lengths written into requests.

/// The most digits a `u64` has in decimal.
pub(crate) const MAX_U64_DIGITS: usize = 20;

/// Writes `n` in decimal into the end of `buf` and returns the digits.
pub(crate) fn write_decimal(n: u64, buf: &mut [u8; MAX_U64_DIGITS]) -> &[u8] {
    let mut at = buf.len();
    let mut rest = n;
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    &buf[at..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decimal_digits_match_the_standard_formatter(n in any::<u64>()) {
            let mut buf = [0u8; MAX_U64_DIGITS];
            let expected = n.to_string();
            prop_assert_eq!(write_decimal(n, &mut buf), expected.as_bytes());
        }
    }
}
