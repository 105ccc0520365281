//! Frames no venue may send: text that is not JSON, a header claiming 2^40 bytes, a masked
//! frame, reserved bits, invalid UTF-8, a reserved opcode, an oversized control frame. Each ends
//! the connection at once (without trying to allocate what it claims): the cancels in flight on
//! it are reported unknown, the ones the venue answered before it keep their acks, and the engine
//! reconnects and carries on.

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
/// reply and the later ones follow, too late). Expects the first acked, the rest unknown
/// (connection lost) unless they went out on the next connection, a protocol error, one
/// reconnect, and a cancel acked afterwards.
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

#[test]
fn text_that_is_not_json_ends_the_connection() {
    ends_the_connection(Injection::Text("not json".to_string()));
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
