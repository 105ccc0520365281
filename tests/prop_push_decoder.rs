//! Properties of the push decoder (the reply decoder's reading of pushes on the private
//! `orders` channel), over generated input, like `prop_decoders.rs` for replies:
//!
//! - well-formed pushes with any number of orders, every optional field present, null, empty
//!   or absent, both spellings of cancelled in any case, strings escaped in every way JSON
//!   allows, decode to exactly those orders with both parsers;
//! - arbitrary JSON value trees as a push's `data` never panic and both parsers agree;
//! - captured pushes with bytes changed or cut never panic and both parsers agree;
//! - arbitrary bytes after a push's opening never panic, and the decoder reads the next push
//!   right afterwards.
//!
//! `PROPTEST_CASES=N` raises every property to `N` cases.

use bitget_cancel::InstType;
use bitget_cancel::final_word::{CancelReason, Decimal, OrderStatus, OrderUpdate};
use bitget_cancel::intent::{ClientOid, OrderId};
use bitget_cancel::protocol::{DecodeError, OwnedReply, ReplyDecoder, decode_with_serde_json};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// `cases` unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

/// Pushes captured from the live venue's documentation and the simulated venue.
const CAPTURED: [&str; 3] = [
    r#"{"action":"snapshot","arg":{"instType":"USDT-FUTURES","channel":"orders","instId":"default"},"data":[{"accBaseVolume":"0","cTime":"1742560160311","cancelReason":"","clientOid":"1286956078637682690","instId":"LTCUSDT","orderId":"1286956078633488402","size":"0.2","status":"live","uTime":"1742560160311"}],"ts":1742560160318}"#,
    r#"{"action":"snapshot","arg":{"instType":"USDT-FUTURES","channel":"orders","instId":"default"},"data":[{"accBaseVolume":"0.05","cTime":"1742560160311","cancelReason":"normal_cancel","clientOid":"1286956078637682690","instId":"LTCUSDT","orderId":"1286956078633488402","priceAvg":"90.5","size":"0.2","status":"canceled","uTime":"1742560161000"}],"ts":1742560161002}"#,
    r#"{"action":"snapshot","arg":{"instType":"SPOT","channel":"orders","instId":"default"},"data":[{"accBaseVolume":"1","cancelReason":"","instId":"BTCUSDT","orderId":"1376695893517410305","price":"100","priceAvg":"100","size":"1","status":"filled","uTime":"1742560161000"}],"ts":1742560161002}"#,
];

/// Decodes with both parsers, asserting they agree; the common result.
fn decode_both(text: &[u8]) -> Result<OwnedReply, DecodeError> {
    let mut decoder = ReplyDecoder::new();
    let simd = decoder.decode(&mut text.to_vec()).map(OwnedReply::from);
    let serde = decode_with_serde_json(text);
    assert_eq!(
        simd,
        serde,
        "simd-json and serde_json disagree on {:?}",
        String::from_utf8_lossy(text)
    );
    simd
}

/// A word in random case.
fn any_case(word: &'static str) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<bool>(), word.len()).prop_map(move |upper| {
        word.chars()
            .zip(upper)
            .map(|(c, u)| if u { c.to_ascii_uppercase() } else { c })
            .collect()
    })
}

/// A status as the venue may spell it, and what it reads as.
fn arb_status() -> impl Strategy<Value = (String, OrderStatus)> {
    prop_oneof![
        any_case("live").prop_map(|w| (w, OrderStatus::Live)),
        any_case("new").prop_map(|w| (w, OrderStatus::Live)),
        any_case("partially_filled").prop_map(|w| (w, OrderStatus::PartiallyFilled)),
        any_case("filled").prop_map(|w| (w, OrderStatus::Filled)),
        any_case("cancelled").prop_map(|w| (w, OrderStatus::Cancelled)),
        any_case("canceled").prop_map(|w| (w, OrderStatus::Cancelled)),
    ]
}

/// An optional field as the venue may leave it: absent, null, `""`, or a value.
#[derive(Debug, Clone)]
enum Field<T> {
    Absent,
    Null,
    Empty,
    Set(T),
}

fn arb_field<T: std::fmt::Debug + Clone>(
    value: impl Strategy<Value = T>,
) -> impl Strategy<Value = Field<T>> {
    prop_oneof![
        1 => Just(Field::Absent),
        1 => Just(Field::Null),
        1 => Just(Field::Empty),
        4 => value.prop_map(Field::Set),
    ]
}

impl<T> Field<T> {
    fn put(&self, entry: &mut Map<String, Value>, key: &str, to_json: impl Fn(&T) -> Value) {
        match self {
            Field::Absent => {}
            Field::Null => {
                entry.insert(key.to_owned(), Value::Null);
            }
            Field::Empty => {
                entry.insert(key.to_owned(), Value::String(String::new()));
            }
            Field::Set(v) => {
                entry.insert(key.to_owned(), to_json(v));
            }
        }
    }

    fn get(&self) -> Option<&T> {
        match self {
            Field::Set(v) => Some(v),
            _ => None,
        }
    }
}

/// A `uTime`: digits as a string, or an integer.
#[derive(Debug, Clone)]
enum UTime {
    Text(u64),
    Number(u64),
}

/// One order of a push, and what it must decode to (but for the push's product line).
fn arb_entry() -> impl Strategy<Value = (Value, OrderUpdate)> {
    let order_id = arb_field("[0-9]{1,32}");
    let client_oid = prop_oneof![
        3 => arb_field("[A-Za-z0-9_:#+./-]{1,64}").prop_map(|f| (f, true)),
        1 => arb_field("[ -~\u{e9}]{1,20}( )").prop_map(|f| (f, false)),
    ];
    let decimal = "[0-9]{1,12}(\\.[0-9]{1,10})?";
    let u_time = arb_field(prop_oneof![
        (0u64..10_000_000_000_000_000_000).prop_map(UTime::Text),
        (0u64..=i64::MAX as u64).prop_map(UTime::Number),
    ]);
    (
        order_id,
        client_oid,
        arb_status(),
        arb_field(decimal),
        arb_field(decimal),
        arb_field("[ -~\u{e9}\u{4e2d}\n\"\\\\]{1,40}"),
        u_time,
        proptest::collection::vec(("[a-z]{1,8}", "[ -~]{0,8}"), 0..3),
    )
        .prop_filter(
            "an order needs an id",
            |(order_id, (client_oid, valid), ..)| {
                order_id.get().is_some() || (*valid && client_oid.get().is_some())
            },
        )
        .prop_map(
            |(
                order_id,
                (client_oid, valid),
                (status_word, status),
                filled,
                avg,
                reason,
                u_time,
                extra,
            )| {
                let mut entry = Map::new();
                for (k, v) in extra {
                    entry.insert(format!("x{k}"), Value::String(v));
                }
                order_id.put(&mut entry, "orderId", |s| json!(s));
                client_oid.put(&mut entry, "clientOid", |s| json!(s));
                entry.insert("status".to_owned(), json!(status_word));
                filled.put(&mut entry, "accBaseVolume", |s| json!(s));
                avg.put(&mut entry, "priceAvg", |s| json!(s));
                reason.put(&mut entry, "cancelReason", |s| json!(s));
                u_time.put(&mut entry, "uTime", |t| match t {
                    UTime::Text(n) => json!(n.to_string()),
                    UTime::Number(n) => json!(n),
                });
                let expected = OrderUpdate {
                    inst_type: None,
                    order_id: order_id.get().map(|s| OrderId::new(s).unwrap()),
                    client_oid: client_oid
                        .get()
                        .filter(|_| valid)
                        .map(|s| ClientOid::new(s).unwrap()),
                    status,
                    filled: filled.get().map(|s| Decimal::new(s).unwrap()),
                    price_avg: avg.get().map(|s| Decimal::new(s).unwrap()),
                    cancel_reason: reason.get().map(|s| CancelReason::new(s)),
                    updated_ms: u_time.get().map(|t| match t {
                        UTime::Text(n) | UTime::Number(n) => *n,
                    }),
                };
                (Value::Object(entry), expected)
            },
        )
}

/// A push's product line as written, and what it reads as.
fn arb_inst_type() -> impl Strategy<Value = (String, Option<InstType>)> {
    prop_oneof![
        4 => proptest::sample::select(InstType::ALL.to_vec())
            .prop_flat_map(|t| any_case(t.as_str()).prop_map(move |w| (w, Some(t)))),
        1 => "[A-Z]{1,8}".prop_map(|w| (w, None)),
    ]
}

/// A whole push, and the orders it must decode to.
fn arb_push() -> impl Strategy<Value = (String, Vec<OrderUpdate>)> {
    (
        arb_inst_type(),
        any_case("orders"),
        proptest::option::of(prop_oneof![Just("snapshot"), Just("update")]),
        proptest::collection::vec(arb_entry(), 0..5),
        proptest::option::of(any::<u32>()),
    )
        .prop_map(|((inst_word, inst_type), channel, action, entries, ts)| {
            let mut root = Map::new();
            if let Some(action) = action {
                root.insert("action".to_owned(), json!(action));
            }
            root.insert(
                "arg".to_owned(),
                json!({"instType": inst_word, "channel": channel, "instId": "default"}),
            );
            let mut data = Vec::new();
            let mut expected = Vec::new();
            for (entry, update) in entries {
                data.push(entry);
                expected.push(OrderUpdate {
                    inst_type,
                    ..update
                });
            }
            root.insert("data".to_owned(), Value::Array(data));
            if let Some(ts) = ts {
                root.insert("ts".to_owned(), json!(ts));
            }
            (Value::Object(root).to_string(), expected)
        })
}

/// Any JSON value, with keys mostly the push reader's, nested a few levels.
fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        prop_oneof![
            Just("live"),
            Just("canceled"),
            Just("filled"),
            Just("0.5"),
            Just("1"),
            Just(""),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        let key = prop_oneof![
            3 => prop_oneof![
                Just("orderId"), Just("clientOid"), Just("status"), Just("accBaseVolume"),
                Just("priceAvg"), Just("cancelReason"), Just("uTime"),
            ]
            .prop_map(str::to_owned),
            1 => any::<String>(),
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((key, inner), 0..7)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn well_formed_pushes_decode_to_exactly_their_orders((text, expected) in arb_push()) {
        prop_assert_eq!(
            decode_both(text.as_bytes()),
            Ok(OwnedReply::Orders { updates: expected }),
            "{}",
            text
        );
    }

    #[test]
    fn arbitrary_data_decodes_the_same_with_both_parsers(
        data in prop_oneof![
            3 => proptest::collection::vec(arb_value(), 0..4).prop_map(Value::Array),
            1 => arb_value(),
        ],
    ) {
        let text = json!({
            "action": "snapshot",
            "arg": {"instType": "SPOT", "channel": "orders", "instId": "default"},
            "data": data,
        })
        .to_string();
        let _ = decode_both(text.as_bytes());
    }

    #[test]
    fn mutated_captured_pushes_never_panic_and_both_parsers_agree(
        which in 0usize..CAPTURED.len(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = CAPTURED[which].as_bytes().to_vec();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        let _ = decode_both(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_pushs_opening_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut text = br#"{"arg":{"channel":"orders"},"data":["#.to_vec();
        text.extend_from_slice(&bytes);
        let mut decoder = ReplyDecoder::with_capacity(16);
        let _ = decoder.decode(&mut text.clone());
        let _ = decode_with_serde_json(&text);
        // The decoder reads the next push right afterwards, with none of this one's orders.
        let mut next = CAPTURED[1].as_bytes().to_vec();
        match decoder.decode(&mut next) {
            Ok(bitget_cancel::protocol::Reply::Orders { updates }) => {
                prop_assert_eq!(updates.len(), 1);
                prop_assert_eq!(updates[0].status, OrderStatus::Cancelled);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

#[test]
fn captured_pushes_read_as_the_venue_meant_them() {
    let Ok(OwnedReply::Orders { updates }) = decode_both(CAPTURED[1].as_bytes()) else {
        panic!("a push");
    };
    assert_eq!(
        updates,
        [OrderUpdate {
            inst_type: Some(InstType::UsdtFutures),
            order_id: OrderId::new("1286956078633488402").ok(),
            client_oid: ClientOid::new("1286956078637682690").ok(),
            status: OrderStatus::Cancelled,
            filled: Decimal::new("0.05"),
            price_avg: Decimal::new("90.5"),
            cancel_reason: Some(CancelReason::new("normal_cancel")),
            updated_ms: Some(1742560161000),
        }]
    );
    // No orders at all, or an order without an id, or with a status nobody knows.
    assert_eq!(
        decode_both(br#"{"arg":{"channel":"orders"},"data":[]}"#),
        Ok(OwnedReply::Orders { updates: vec![] })
    );
    assert_eq!(
        decode_both(br#"{"arg":{"channel":"orders"},"data":[{"status":"live"}]}"#),
        Err(DecodeError::MissingField("orderId"))
    );
    assert_eq!(
        decode_both(br#"{"arg":{"channel":"orders"},"data":[{"orderId":"1","status":"init"}]}"#),
        Err(DecodeError::BadValue("status"))
    );
    assert_eq!(
        decode_both(br#"{"arg":{"channel":"orders"},"data":{"orderId":"1"}}"#),
        Err(DecodeError::WrongType("data"))
    );
    // A push of another channel is no reply the engine can read.
    assert_eq!(
        decode_both(br#"{"arg":{"channel":"account"},"data":[]}"#),
        Err(DecodeError::MissingField("event"))
    );
}
