//! A decoded WebSocket message with its bytes copied out, so the messages of two decoding runs
//! can be compared. Included by path from the tests that need it.

use bitget_cancel::ws::Message;

/// A decoded message with its bytes copied out, to compare runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owned {
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

/// Copies `message` out of the decoder's buffers.
pub fn own(message: Message<'_>) -> Owned {
    match message {
        Message::Text(t) => Owned::Text(t.to_vec()),
        Message::Binary(b) => Owned::Binary(b.to_vec()),
        Message::Ping(p) => Owned::Ping(p.to_vec()),
        Message::Pong(p) => Owned::Pong(p.to_vec()),
        Message::Close(c) => Owned::Close(c.map(|(code, reason)| (code, reason.to_owned()))),
    }
}
