//! Frames no venue may send: a header claiming 2^40 bytes, a masked frame, reserved bits,
//! invalid UTF-8, a reserved opcode, an oversized control frame. Each ends the connection at
//! once (without trying to allocate what it claims): the cancels in flight on it go out again
//! once the engine has reconnected, the ones the venue answered before it keep their acks, and
//! the engine carries on. Well-formed messages the engine cannot read (not JSON, no `event`,
//! a binary frame, ...) are counted and skipped instead: they never cost the connection.

#[path = "support/engine.rs"]
mod support;

#[path = "support/chaos.rs"]
mod chaos;

use std::time::Duration;

use bitget_cancel::InstType;
use bitget_cancel::engine::SessionError;
use bitget_cancel::sim::{CancelFate, Faults, Injection, OnCancel};
use chaos::*;
use support::*;

/// Four cancels in flight; the venue sends `hostile` in place of the second one's reply (its
/// reply and the later ones follow, too late). Expects the first acked, the rest sent again on
/// the next connection unless they first went out there, a protocol error, one reconnect, and
/// a cancel acked afterwards.
fn ends_the_connection(hostile: Injection) {
    let venue = venue();
    let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 4);
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    venue.set_faults(Faults {
        reply_delay: Duration::from_millis(30),
        on_cancel: Some(OnCancel {
            nth: 2,
            injection: hostile,
            cancel: CancelFate::Answered,
        }),
        ..Faults::default()
    });
    let mut tally = Tally::new(&handle);
    let ids = tally.submit_orders(&orders);
    tally.settle();
    assert_cut_at(&tally, &venue, &ids, 1);
    wait_until("the protocol error is reported", || {
        matches!(handle.last_error(), Some(SessionError::Protocol(_)))
    });
    assert_recovers(&mut tally, &venue);
    let stats = engine.stats();
    assert_eq!((stats.sessions, stats.reconnects), (2, 1), "{stats:?}");
    tally.finish(stats);
}

/// Well-formed messages the engine cannot read, each sent in place of a reply while cancels are
/// in flight: every one is counted and skipped, the cancels stay in flight and are acked, and
/// the connection stays up.
#[test]
fn messages_the_engine_cannot_read_are_counted_and_skipped_and_cost_no_connection() {
    let unreadable = [
        Injection::Text("not json".to_string()),
        Injection::Text("[1,2,3]".to_string()),
        Injection::Text(r#"{"action":"snapshot","arg":{"instType":"SPOT"},"data":[]}"#.into()),
        Injection::Text(r#"{"event":"trade","code":0,"msg":"Success"}"#.into()),
        Injection::Text(r#"{"event":"trade","arg":[{"instType":"SPOT"}],"code":0}"#.into()),
        Injection::Binary(b"\x00\x01binary".to_vec()),
    ];
    let venue = venue();
    let (engine, handle) = start(chaos_config(&venue));
    wait_live(&handle);
    let mut tally = Tally::new(&handle);
    for (n, injection) in unreadable.iter().enumerate() {
        let orders = venue.seed_orders(InstType::Spot, "BTCUSDT", 2);
        venue.set_faults(Faults {
            reply_delay: Duration::from_millis(20),
            on_cancel: Some(OnCancel {
                nth: 1,
                injection: injection.clone(),
                cancel: CancelFate::Answered,
            }),
            ..Faults::default()
        });
        let ids = tally.submit_orders(&orders);
        tally.settle();
        for id in ids {
            assert_eq!(
                tally.status(id),
                bitget_cancel::Status::Acked,
                "{injection:?}"
            );
        }
        let stats = engine.stats();
        assert_eq!(stats.unreadable_messages, n as u64 + 1, "{injection:?}");
        assert_eq!((stats.sessions, stats.reconnects), (1, 0), "{injection:?}");
    }
    assert_recovers(&mut tally, &venue);
    tally.finish(engine.stats());
}

#[test]
fn a_frame_header_claiming_2_pow_40_bytes_ends_the_connection() {
    ends_the_connection(Injection::HugeFrameHeader);
}

#[test]
fn a_masked_server_frame_ends_the_connection() {
    ends_the_connection(Injection::MaskedFrame);
}

#[test]
fn a_frame_with_reserved_bits_set_ends_the_connection() {
    ends_the_connection(Injection::ReservedBits);
}

#[test]
fn a_text_frame_that_is_not_utf8_ends_the_connection() {
    ends_the_connection(Injection::InvalidUtf8);
}

#[test]
fn a_frame_with_a_reserved_opcode_ends_the_connection() {
    ends_the_connection(Injection::BadOpcode);
}

#[test]
fn a_ping_frame_longer_than_125_bytes_ends_the_connection() {
    let mut frame = vec![0x89, 0x7e, 0x00, 126];
    frame.extend_from_slice(&[b'p'; 126]);
    ends_the_connection(Injection::Raw(frame));
}
