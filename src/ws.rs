//! CONTRACT STUB: replaced by the real module. Signatures are the contract other modules code against.
//! WebSocket client framing (RFC 6455), incremental deframing with limits, the upgrade handshake.
#![allow(missing_docs, unused_variables, clippy::all)]

/// The longest header a client frame can have (2 + 8 length + 4 mask).
pub const MAX_CLIENT_HEADER: usize = 14;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpCode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

/// Appends one masked client frame with FIN set; never allocates with enough spare capacity.
pub fn encode_client_frame(out: &mut Vec<u8>, opcode: OpCode, payload: &[u8], mask: [u8; 4]) {
    unimplemented!("contract stub")
}

/// XORs `buf` with `mask` in place (RFC 6455 5.3), starting at mask offset 0.
pub fn apply_mask(buf: &mut [u8], mask: [u8; 4]) {
    unimplemented!("contract stub")
}

/// Masking keys: a fast generator seeded from the OS.
#[derive(Debug)]
pub struct MaskGen {}
impl MaskGen {
    pub fn new() -> Self {
        unimplemented!("contract stub")
    }
    pub fn next_mask(&mut self) -> [u8; 4] {
        unimplemented!("contract stub")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_frame: usize,
    pub max_message: usize,
}

/// A complete message from the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// UTF-8-validated text, mutable so JSON can be parsed in place.
    Text(&'a mut [u8]),
    Binary(&'a [u8]),
    Ping(&'a [u8]),
    Pong(&'a [u8]),
    Close(Option<(u16, &'a str)>),
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum WsError {
    #[error("protocol")]
    Protocol,
}

pub const MAX_CONTROL_PAYLOAD: usize = 125;

pub fn encode_pong(out: &mut Vec<u8>, ping_payload: &[u8], mask: [u8; 4]) {
    unimplemented!("contract stub")
}

pub fn encode_close(out: &mut Vec<u8>, code: Option<u16>, mask: [u8; 4]) {
    unimplemented!("contract stub")
}

pub struct Upgrade<S: std::io::Read + std::io::Write> {
    stream: S,
}

pub enum UpgradeProgress<S: std::io::Read + std::io::Write> {
    Done { stream: S, leftover: Vec<u8> },
    Pending(Upgrade<S>),
}

impl<S: std::io::Read + std::io::Write> std::fmt::Debug for Upgrade<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Upgrade")
    }
}

impl<S: std::io::Read + std::io::Write> std::fmt::Debug for UpgradeProgress<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpgradeProgress")
    }
}

impl<S: std::io::Read + std::io::Write> Upgrade<S> {
    pub fn start(url: &str, stream: S) -> Result<UpgradeProgress<S>, WsError> {
        unimplemented!("contract stub")
    }
    pub fn resume(self) -> Result<UpgradeProgress<S>, WsError> {
        unimplemented!("contract stub")
    }
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }
}

/// Incremental decoder of server frames; bounded memory.
#[derive(Debug)]
pub struct FrameDecoder {}
impl FrameDecoder {
    pub fn new(limits: Limits) -> Self {
        unimplemented!("contract stub")
    }
    /// Free space to read into; commit what was read.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        unimplemented!("contract stub")
    }
    pub fn commit(&mut self, n: usize) {
        unimplemented!("contract stub")
    }
    /// Copies bytes in (spare_mut + commit).
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), WsError> {
        unimplemented!("contract stub")
    }
    /// The next complete message, if any.
    pub fn next_message(&mut self) -> Result<Option<Message<'_>>, WsError> {
        unimplemented!("contract stub")
    }
    /// Forgets all state (new connection).
    pub fn reset(&mut self) {
        unimplemented!("contract stub")
    }
}
