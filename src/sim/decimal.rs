//! Sizes and prices as the venue writes them: decimal strings ("0.2", "83131.5"), held as fixed
//! point so fills add up exactly. Off the hot path and tiny, so written here rather than pulled
//! in as a dependency of every user of the library.

use std::fmt;

/// Ten decimal places: more than Bitget uses for any size or price.
const SCALE: u128 = 10_000_000_000;
const PLACES: usize = 10;

/// A non-negative decimal with at most ten places.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Decimal(u128);

impl Decimal {
    pub(super) const ZERO: Decimal = Decimal(0);

    /// Parses `123`, `0.2`, `.5`, `1.`: digits with at most one point and ten places; nothing
    /// else (no sign, no exponent, not empty).
    pub(super) fn parse(text: &str) -> Option<Decimal> {
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        if (whole.is_empty() && fraction.is_empty())
            || fraction.len() > PLACES
            || !whole
                .bytes()
                .chain(fraction.bytes())
                .all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut units: u128 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().ok()?
        };
        for _ in fraction.len()..PLACES {
            units *= 10;
        }
        whole.checked_mul(SCALE)?.checked_add(units).map(Decimal)
    }

    pub(super) fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub(super) fn saturating_sub(self, other: Decimal) -> Decimal {
        Decimal(self.0.saturating_sub(other.0))
    }

    pub(super) fn checked_add(self, other: Decimal) -> Option<Decimal> {
        self.0.checked_add(other.0).map(Decimal)
    }

    /// `self * other`, as a notional at twice the scale (for averages).
    pub(super) fn notional(self, other: Decimal) -> Option<u128> {
        self.0.checked_mul(other.0)
    }

    /// `notional / self`: the average price of fills worth `notional` for this size, rounded
    /// down to ten places; `None` for a zero size.
    pub(super) fn average(notional: u128, size: Decimal) -> Option<Decimal> {
        (!size.is_zero()).then(|| Decimal(notional / size.0))
    }
}

impl fmt::Display for Decimal {
    /// The shortest form: `0`, `1`, `0.2`, `83131.5` (no trailing zeros, no trailing point).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / SCALE;
        let fraction = self.0 % SCALE;
        if fraction == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{fraction:0width$}", width = PLACES);
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap_or_else(|| panic!("{text:?} parses"))
    }

    #[test]
    fn prints_the_shortest_form_the_venue_writes() {
        for (text, shown) in [
            ("0", "0"),
            ("0.2", "0.2"),
            ("1.50", "1.5"),
            ("83131.5", "83131.5"),
            (".5", "0.5"),
            ("7.", "7"),
            ("0.0000000001", "0.0000000001"),
        ] {
            assert_eq!(d(text).to_string(), shown, "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_plain_decimal() {
        for bad in ["", ".", "-1", "1e3", "1.2.3", "0.00000000001", " 1", "abc"] {
            assert_eq!(Decimal::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fills_add_up_exactly_and_average_by_size() {
        let filled = d("0.1").checked_add(d("0.2")).unwrap();
        assert_eq!(filled, d("0.3"));
        let notional = d("0.1").notional(d("100")).unwrap() + d("0.2").notional(d("103")).unwrap();
        assert_eq!(
            Decimal::average(notional, filled).unwrap().to_string(),
            "102"
        );
        assert_eq!(Decimal::average(0, Decimal::ZERO), None);
        assert_eq!(d("1").saturating_sub(d("1.5")), Decimal::ZERO);
    }
}
