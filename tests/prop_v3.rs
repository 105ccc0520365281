//! Properties of the V3 (unified account) dialect over generated input.
//!
//! - Encoding: any valid cancel encodes to JSON with its id at the top level, the lowercase
//!   `category` of its product line, no symbol, and its order keys in one entry; a batch of any
//!   cancels of one product line and one key encodes to at most 20 entries, never mixed.
//! - Decoding: arbitrary bytes and arbitrary JSON trees of V3's shape never panic and read the
//!   same with simd-json and serde_json; well-formed replies with arbitrary ids, string codes
//!   and messages decode to exactly those fields; pushes with arbitrary orders read back every
//!   order's id, status and cumulative fill; batch replies read back every entry's order and
//!   verdict.
//!
//! `PROPTEST_CASES=N` raises every property to `N` cases.

use bitget_cancel::final_word::OrderStatus;
use bitget_cancel::protocol::v3::{
    BatchKey, MAX_BATCH, category, decode, decode_with_serde_json, encode_batch_cancel,
    encode_cancel,
};
use bitget_cancel::protocol::{OwnedReply, ReplyDecoder};
use bitget_cancel::{Cancel, InstId, InstType, OrderRef, RequestId};
use proptest::prelude::*;
use serde_json::{Value, json};

fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

fn arb_inst_type() -> impl Strategy<Value = InstType> {
    prop::sample::select(InstType::ALL.to_vec())
}

fn arb_order() -> impl Strategy<Value = OrderRef> {
    let order_id = "[1-9][0-9]{0,31}";
    let client_oid = "[A-Za-z0-9_#:+/-]{1,64}";
    prop_oneof![
        order_id.prop_map(|o| OrderRef::order_id(&o).unwrap()),
        client_oid.prop_map(|c| OrderRef::client_oid(&c).unwrap()),
        (order_id, client_oid).prop_map(|(o, c)| OrderRef::from_parts(Some(&o), Some(&c)).unwrap()),
    ]
}

fn arb_cancel() -> impl Strategy<Value = Cancel> {
    (arb_inst_type(), "[A-Z0-9]{1,32}", arb_order())
        .prop_map(|(t, s, o)| Cancel::new(t, InstId::new(&s).unwrap(), o))
}

fn decode_both(text: &[u8]) -> Result<OwnedReply, bitget_cancel::protocol::DecodeError> {
    let mut decoder = ReplyDecoder::with_capacity(256);
    let simd = decode(&mut decoder, &mut text.to_vec()).map(OwnedReply::from);
    let serde = decode_with_serde_json(text);
    assert_eq!(simd, serde, "{:?}", String::from_utf8_lossy(text));
    simd
}

/// JSON trees with V3's keys in V3's places, and wrong types where they hurt.
fn arb_v3_like() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[0-9]{0,6}".prop_map(Value::from),
        "[a-z_-]{0,12}".prop_map(Value::from),
    ];
    let entry = prop::collection::btree_map(
        prop::sample::select(vec![
            "orderId",
            "clientOid",
            "orderStatus",
            "cumExecQty",
            "avgPrice",
            "category",
            "updatedTime",
            "cancelReason",
        ]),
        scalar.clone(),
        0..8,
    )
    .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()));
    (
        prop::option::of(prop::sample::select(vec![
            "trade",
            "error",
            "login",
            "subscribe",
        ])),
        prop::option::of(scalar.clone()),
        prop::option::of(scalar.clone()),
        prop::option::of(scalar),
        any::<bool>(),
        prop::collection::vec(entry, 0..3),
    )
        .prop_map(|(event, id, code, msg, push, data)| {
            let mut root = serde_json::Map::new();
            if let Some(e) = event {
                root.insert("event".into(), e.into());
            }
            for (k, v) in [("id", id), ("code", code), ("msg", msg)] {
                if let Some(v) = v {
                    root.insert(k.into(), v);
                }
            }
            if push {
                root.insert("arg".into(), json!({"instType":"UTA","topic":"order"}));
                root.insert("data".into(), Value::Array(data));
            }
            Value::Object(root)
        })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_cancel_encodes_its_id_category_and_keys_and_no_symbol(
        cancel in arb_cancel(),
        id in "[0-9a-z]{1,40}",
    ) {
        let mut out = Vec::new();
        encode_cancel(&mut out, &RequestId::new(&id).unwrap(), &cancel);
        let v: Value = serde_json::from_slice(&out).unwrap();
        prop_assert_eq!(&v["op"], "trade");
        prop_assert_eq!(&v["id"], id.as_str());
        prop_assert_eq!(&v["topic"], "cancel-order");
        prop_assert_eq!(&v["category"], category(cancel.inst_type));
        prop_assert!(v.get("instId").is_none() && v.get("symbol").is_none());
        let entry = &v["args"][0];
        prop_assert_eq!(entry.get("orderId").and_then(Value::as_str), cancel.order.get_order_id().map(|o| o.as_str()));
        prop_assert_eq!(entry.get("clientOid").and_then(Value::as_str), cancel.order.get_client_oid().map(|c| c.as_str()));
    }

    #[test]
    fn a_batch_holds_one_key_per_entry_and_refuses_what_does_not_fit(
        cancels in prop::collection::vec(arb_cancel(), 1..25),
    ) {
        let key = BatchKey::of(&cancels[0]);
        let mut out = Vec::new();
        let fits = cancels.len() <= MAX_BATCH
            && cancels.iter().all(|c| c.inst_type == cancels[0].inst_type)
            && cancels.iter().all(|c| match key {
                BatchKey::OrderId => c.order.get_order_id().is_some(),
                BatchKey::ClientOid => c.order.get_client_oid().is_some(),
            });
        let written = encode_batch_cancel(&mut out, &RequestId::new("b").unwrap(), key, &cancels);
        prop_assert_eq!(written, fits);
        if !written {
            prop_assert!(out.is_empty());
        } else {
            let v: Value = serde_json::from_slice(&out).unwrap();
            let args = v["args"].as_array().unwrap();
            prop_assert_eq!(args.len(), cancels.len());
            for entry in args {
                prop_assert_eq!(entry.as_object().unwrap().len(), 1);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut decoder = ReplyDecoder::with_capacity(64);
        let _ = decode(&mut decoder, &mut bytes.clone());
        let _ = decode_with_serde_json(&bytes);
    }

    #[test]
    fn v3_shaped_trees_read_the_same_with_both_parsers(tree in arb_v3_like()) {
        let _ = decode_both(tree.to_string().as_bytes());
    }

    #[test]
    fn well_formed_replies_decode_to_their_fields(
        id in "[0-9a-zA-Z_-]{1,40}",
        code in 0i64..100_000,
        msg in "\\PC{0,40}",
        error in any::<bool>(),
    ) {
        let text = if error {
            json!({"event":"error","id":id,"code":code.to_string(),"msg":msg})
        } else {
            json!({"event":"trade","id":id,"topic":"cancel-order","args":[{"orderId":"1"}],"code":code.to_string(),"msg":msg,"ts":"1"})
        };
        let expected = if error {
            OwnedReply::TradeError { id: id.clone(), code, msg: msg.clone() }
        } else {
            OwnedReply::Trade { id: id.clone(), code, msg: msg.clone() }
        };
        prop_assert_eq!(decode_both(text.to_string().as_bytes()).unwrap(), expected);
    }

    #[test]
    fn pushes_read_back_every_orders_id_status_and_fill(
        orders in prop::collection::vec(
            ("[1-9][0-9]{0,18}", prop::sample::select(vec!["live", "new", "partially_filled", "filled", "cancelled", "canceled"]), "[0-9]{1,6}(\\.[0-9]{1,4})?", arb_inst_type()),
            1..5,
        ),
    ) {
        let data: Vec<Value> = orders
            .iter()
            .map(|(id, status, filled, t)| json!({"category": category(*t), "orderId": id, "orderStatus": status, "cumExecQty": filled}))
            .collect();
        let text = json!({"action":"snapshot","arg":{"instType":"UTA","topic":"order"},"data":data,"ts":1});
        let OwnedReply::Orders { updates } = decode_both(text.to_string().as_bytes()).unwrap() else {
            panic!("not a push")
        };
        prop_assert_eq!(updates.len(), orders.len());
        for (update, (id, status, filled, t)) in updates.iter().zip(&orders) {
            prop_assert_eq!(update.order_id.as_ref().unwrap().as_str(), id.as_str());
            prop_assert_eq!(update.status, OrderStatus::from_venue(status).unwrap());
            prop_assert_eq!(update.filled.as_ref().unwrap().as_str(), filled.as_str());
            prop_assert_eq!(update.inst_type, Some(*t));
        }
    }

    #[test]
    fn batch_replies_read_back_every_entrys_order_and_verdict(
        entries in prop::collection::vec(("[1-9][0-9]{0,18}", 0i64..100_000, "[a-zA-Z ]{0,20}"), 1..21),
        id in "[0-9a-z]{1,40}",
    ) {
        let args: Vec<Value> = entries
            .iter()
            .map(|(order, code, msg)| json!({"orderId": order, "code": code.to_string(), "msg": msg}))
            .collect();
        let text = json!({"event":"trade","id":id,"topic":"batch-cancel","args":args,"code":"0","msg":"Success","ts":"1"});
        let OwnedReply::Batch { id: read_id, code, entries: read, .. } =
            decode_both(text.to_string().as_bytes()).unwrap()
        else {
            panic!("not a batch reply")
        };
        prop_assert_eq!(read_id, id);
        prop_assert_eq!(code, 0);
        prop_assert_eq!(read.len(), entries.len());
        for (entry, (order, code, msg)) in read.iter().zip(&entries) {
            prop_assert_eq!(entry.order_id.as_ref().unwrap().as_str(), order.as_str());
            match entry.verdict {
                bitget_cancel::rest::Verdict::Acked => prop_assert_eq!(*code, 0),
                bitget_cancel::rest::Verdict::Rejected { code: c, msg: m } => {
                    prop_assert_eq!(c, *code);
                    prop_assert_eq!(m.as_str(), msg.as_str());
                }
            }
        }
    }
}
