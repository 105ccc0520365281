//! Proves the warm WebSocket hot path allocates nothing: encoding client frames and decoding
//! unfragmented text, ping and pong messages. A counting global allocator with a thread-local
//! counter, so other test threads cannot disturb the count; a single test in this binary.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use bitget_cancel::ws::{
    FrameDecoder, Limits, MAX_CLIENT_HEADER, MaskGen, Message, OpCode, encode_client_frame,
    encode_pong,
};

fn allocations() -> u64 {
    counting_alloc::allocations()
}

/// An unmasked server frame (test input, built before counting starts).
fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    if payload.len() < 126 {
        out.push(payload.len() as u8);
    } else {
        out.push(126);
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(payload);
    out
}

#[test]
fn warm_encode_and_decode_of_unfragmented_messages_allocate_nothing() {
    let request = br#"{"op":"trade","args":[{"id":"1","instType":"SPOT","instId":"BTCUSDT","channel":"cancel-order","params":{"orderId":"1376695893517410304"}}]}"#;
    let reply = br#"{"event":"trade","arg":[{"id":"1","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1376695893517410304"}}],"code":0,"msg":"Success","ts":1763958928351}"#;
    let mut wire = server_frame(0x1, reply);
    wire.extend(server_frame(0x9, b"keepalive"));
    wire.extend(server_frame(0xA, b""));
    wire.extend(server_frame(0x1, b"pong"));

    let mut masks = MaskGen::new();
    let mut out = Vec::with_capacity(4096);
    let mut decoder = FrameDecoder::new(Limits::default());

    let mut turn = |out: &mut Vec<u8>, decoder: &mut FrameDecoder| -> usize {
        out.clear();
        encode_client_frame(out, OpCode::Text, request, masks.next_mask());
        encode_client_frame(out, OpCode::Text, b"ping", masks.next_mask());
        // Feed the server bytes in two reads, split inside the first frame's payload.
        let mut seen = 0;
        for piece in [&wire[..40], &wire[40..]] {
            let spare = decoder.spare_mut();
            spare[..piece.len()].copy_from_slice(piece);
            decoder.commit(piece.len());
            while let Some(message) = decoder.next_message().expect("valid stream") {
                if let Message::Ping(payload) = message {
                    encode_pong(out, payload, masks.next_mask());
                }
                seen += 1;
            }
        }
        assert!(out.len() + request.len() + MAX_CLIENT_HEADER < out.capacity());
        seen
    };

    // Warm up, then count.
    assert_eq!(turn(&mut out, &mut decoder), 4);
    let before = allocations();
    let mut messages = 0;
    for _ in 0..1000 {
        messages += turn(&mut out, &mut decoder);
    }
    let allocated = allocations() - before;
    assert_eq!(messages, 4000);
    assert_eq!(allocated, 0, "the warm path allocated {allocated} times");

    // The counter works: an allocation on this thread is seen.
    let before = allocations();
    let boxed = std::hint::black_box(Box::new(1u64));
    drop(boxed);
    assert_eq!(allocations() - before, 1);
}
