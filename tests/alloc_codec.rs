//! The warm codec path of one cancel allocates nothing: encode the request, frame it as a masked
//! WebSocket text frame, then deframe and decode the venue's ack. Counted per thread; a single
//! test in this binary.

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use bitget_cancel::protocol::{MAX_CANCEL_LEN, Reply, ReplyDecoder, encode_cancel};
use bitget_cancel::ws::{
    FrameDecoder, Limits, MAX_CLIENT_HEADER, MaskGen, Message, OpCode, encode_client_frame,
};
use bitget_cancel::{Cancel, InstId, InstType, OrderRef, RequestId};

const ACK: &[u8] = br#"{"event":"trade","arg":[{"id":"1","instType":"SPOT","channel":"cancel-order","instId":"BTCUSDT","params":{"orderId":"1376695893517410304"}}],"code":0,"msg":"Success","ts":1763958928351}"#;

/// The ack as the venue frames it: an unmasked text frame with a 16-bit length.
fn server_text_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x81, 126];
    frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// The client's codec state for one connection, preallocated as the engine does.
struct Codec {
    request: Vec<u8>,
    wire: Vec<u8>,
    masks: MaskGen,
    deframer: FrameDecoder,
    decoder: ReplyDecoder,
}

impl Codec {
    fn new() -> Self {
        Codec {
            request: Vec::with_capacity(MAX_CANCEL_LEN),
            wire: Vec::with_capacity(MAX_CANCEL_LEN + MAX_CLIENT_HEADER),
            masks: MaskGen::new(),
            deframer: FrameDecoder::new(Limits::default()),
            decoder: ReplyDecoder::new(),
        }
    }

    /// One cancel through the codec: returns the ack's code so the work cannot be optimised away.
    fn one_cancel(&mut self, n: u64, cancel: &Cancel, ack_frame: &[u8]) -> i64 {
        self.request.clear();
        self.wire.clear();
        encode_cancel(&mut self.request, &RequestId::from_u64(n), cancel);
        let mask = self.masks.next_mask();
        encode_client_frame(&mut self.wire, OpCode::Text, &self.request, mask);
        assert!(self.wire.len() > self.request.len());

        self.deframer
            .push(ack_frame)
            .expect("the ack fits the decoder");
        let mut code = -1;
        while let Some(message) = self.deframer.next_message().expect("a valid server frame") {
            let Message::Text(text) = message else {
                panic!("expected a text message");
            };
            match self.decoder.decode(text).expect("a valid ack") {
                Reply::Trade { code: c, .. } => code = c,
                other => panic!("expected a trade ack, got {other:?}"),
            }
        }
        code
    }
}

#[test]
fn a_warm_cancel_encodes_frames_and_decodes_its_ack_without_allocating() {
    let cancel = Cancel::new(
        InstType::UsdtFutures,
        InstId::new("BTCUSDT").unwrap(),
        OrderRef::from_parts(Some("1376695893517410304"), Some("strategy-7:order#42")).unwrap(),
    );
    let ack_frame = server_text_frame(ACK);
    let mut codec = Codec::new();
    let mut run = |n| codec.one_cancel(n, &cancel, &ack_frame);
    for n in 0..100 {
        assert_eq!(run(n), 0);
    }

    let (allocations, acked) =
        counting_alloc::count(|| (100..1_100).filter(|&n| run(n) == 0).count());
    assert_eq!(acked, 1_000);
    assert_eq!(allocations, 0, "the warm codec path allocated");

    // The counter is live: a heap value on this thread is seen.
    let (seen, boxed) = counting_alloc::count(|| Box::new(7u64));
    assert_eq!((*boxed, seen), (7, 1));
}
