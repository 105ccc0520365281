//! What the two decoder targets share: reading a JSON text the way simd-json's lookups do
//! (the first value of a repeated key wins), and the classes of input where simd-json and
//! serde_json are known to read JSON differently.

use std::fmt;

use bitget_cancel::protocol::ReplyDecoder;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// `data` as serde_json must read it to match simd-json: rewritten to keep the first value of
/// each repeated key when it has one (`None`: read it as it is).
pub fn first_wins(data: &[u8]) -> Option<Vec<u8>> {
    match serde_json::from_slice::<FirstWins>(data) {
        Ok(FirstWins {
            value,
            duplicate_keys: true,
        }) => Some(serde_json::to_vec(&value).expect("a parsed value serializes")),
        _ => None,
    }
}

/// Why the two parsers may read `data` differently, if they may. These are the only accepted
/// disagreements; each is a place where JSON leaves the reading to the implementation or where
/// the engine's decoder is deliberately stricter:
///
/// - **Nesting past `ReplyDecoder::MAX_DEPTH`**: the engine's decoder refuses it
///   (`NotJson`), serde_json accepts up to 128 levels. Deliberate: venue replies nest 4 deep.
/// - **Integers outside `i64`/`u64`**: simd-json refuses the document, serde_json reads the
///   literal as a float. RFC 8259 section 6 leaves the range of numbers to implementations.
/// - **The literal `-0`**: simd-json reads it as the integer 0, serde_json as the float -0.0
///   (to keep the sign), so as a `code` one path sees 0 and the other a float. RFC 8259
///   section 6 does not say which kind of number `-0` is, and the raw text is gone once either
///   library has parsed it, so no rule over the parsed value can make the two agree.
pub fn known_divergence(data: &[u8]) -> Option<&'static str> {
    let scan = scan(data);
    if scan.max_depth > ReplyDecoder::MAX_DEPTH {
        return Some("nesting beyond the decoder's depth limit");
    }
    if scan.big_integer {
        return Some("an integer literal outside i64 and u64");
    }
    if scan.negative_zero {
        return Some("the literal -0");
    }
    None
}

/// What a byte scan of a JSON text finds outside its strings.
struct Scan {
    max_depth: usize,
    big_integer: bool,
    negative_zero: bool,
}

/// Panics unless `serde` (the serde_json reading, given `data`, or its first-wins rewrite
/// where `data` repeats a key) agrees with `simd` (the engine's reading of `data`), or `data` is
/// in a class where the two libraries are known to read JSON differently. Every target that
/// compares the two parsers ends with this.
pub fn assert_serde_agrees<T: PartialEq + std::fmt::Debug>(
    data: &[u8],
    simd: &T,
    serde: impl Fn(&[u8]) -> T,
) {
    let serde = match first_wins(data) {
        Some(rewritten) => serde(&rewritten),
        None => serde(data),
    };
    if *simd != serde && known_divergence(data).is_none() {
        panic!(
            "simd-json and serde_json disagree on {:?}:\n simd-json:  {simd:?}\n serde_json: \
             {serde:?}",
            String::from_utf8_lossy(data)
        );
    }
}

/// Scans structure and number literals outside strings. It never fails: on text that is not
/// JSON it finds whatever it finds, and the comparison decides.
fn scan(data: &[u8]) -> Scan {
    let mut depth = 0usize;
    let mut max_depth = 0;
    let mut big_integer = false;
    let mut negative_zero = false;
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'"' => {
                i += 1;
                while i < data.len() && data[i] != b'"' {
                    i += if data[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'[' | b'{' => {
                depth += 1;
                max_depth = max_depth.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i + 1 < data.len()
                    && matches!(data[i + 1], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let literal = &data[start..=i];
                negative_zero |= literal == b"-0";
                if !literal.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
                    let text = std::str::from_utf8(literal).unwrap_or("");
                    big_integer |= text.parse::<i64>().is_err() && text.parse::<u64>().is_err();
                }
            }
            _ => {}
        }
        i += 1;
    }
    Scan {
        max_depth,
        big_integer,
        negative_zero,
    }
}

/// A JSON value read keeping the first value of a repeated key (serde_json's own `Value`
/// keeps the last), and whether any key was repeated.
struct FirstWins {
    value: Value,
    duplicate_keys: bool,
}

impl FirstWins {
    fn leaf(value: Value) -> Self {
        FirstWins {
            value,
            duplicate_keys: false,
        }
    }
}

impl<'de> Deserialize<'de> for FirstWins {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FirstWinsVisitor)
    }
}

struct FirstWinsVisitor;

impl<'de> Visitor<'de> for FirstWinsVisitor {
    type Value = FirstWins;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<FirstWins, E> {
        Ok(FirstWins::leaf(Value::Bool(b)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<FirstWins, E> {
        Ok(FirstWins::leaf(Value::from(n)))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<FirstWins, E> {
        Ok(FirstWins::leaf(Value::from(n)))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<FirstWins, E> {
        // serde_json never yields a non-finite number from JSON text.
        Number::from_f64(n)
            .map(|n| FirstWins::leaf(Value::Number(n)))
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<FirstWins, E> {
        Ok(FirstWins::leaf(Value::String(s.to_owned())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<FirstWins, E> {
        Ok(FirstWins::leaf(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FirstWins, A::Error> {
        let mut items = Vec::new();
        let mut duplicate_keys = false;
        while let Some(item) = seq.next_element::<FirstWins>()? {
            duplicate_keys |= item.duplicate_keys;
            items.push(item.value);
        }
        Ok(FirstWins {
            value: Value::Array(items),
            duplicate_keys,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FirstWins, A::Error> {
        let mut object = Map::new();
        let mut duplicate_keys = false;
        while let Some(key) = map.next_key::<String>()? {
            let item = map.next_value::<FirstWins>()?;
            duplicate_keys |= item.duplicate_keys || object.contains_key(&key);
            object.entry(key).or_insert(item.value);
        }
        Ok(FirstWins {
            value: Value::Object(object),
            duplicate_keys,
        })
    }
}
