//! An incremental, bounded HTTP/1.1 response reader: bytes go in as they arrive, a complete
//! response comes out. `httparse` reads the head; the body is framed by `Content-Length`,
//! `Transfer-Encoding: chunked` or the end of the connection.

/// The largest response head accepted (status line and headers), in bytes.
pub const MAX_HEAD_LEN: usize = 16 * 1024;
/// The most headers a response may carry.
pub const MAX_HEADERS: usize = 64;
/// Bytes of chunked framing (sizes, extensions, trailers) accepted on top of the body.
const MAX_CHUNK_OVERHEAD: usize = 16 * 1024;
/// Interim (1xx) responses accepted before a response: more is a server that never answers.
pub const MAX_INTERIM: usize = 8;

/// A response the server sent that cannot be read: the connection must end, and a request
/// waiting on it has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// The status line or a header is malformed.
    #[error("malformed response head: {0}")]
    BadHead(&'static str),
    /// The head is longer than [`MAX_HEAD_LEN`] or has more than [`MAX_HEADERS`] headers.
    #[error("response head too large")]
    HeadTooLarge,
    /// The body (or its chunked framing) is larger than allowed.
    #[error("response body larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in force.
        limit: usize,
    },
    /// The chunked framing is malformed.
    #[error("malformed chunked body: {0}")]
    BadChunk(&'static str),
    /// The connection ended before the response was complete.
    #[error("connection closed in the middle of a response")]
    Truncated,
}

/// How the body's end is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

/// Where chunked decoding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(usize),
    DataEnd,
    Trailers,
}

#[derive(Debug, Clone, Copy)]
struct Head {
    status: u16,
    framing: Framing,
    close: bool,
    len: usize,
}

/// A complete response, borrowed from the reader until the next call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'a> {
    /// The status code.
    pub status: u16,
    /// The server will close the connection (`Connection: close`, HTTP/1.0 without keep-alive, a
    /// body delimited by the end of the connection, or bytes after the response): it cannot carry
    /// another request.
    pub close: bool,
    /// The body, de-chunked.
    pub body: &'a [u8],
}

/// Reads one response at a time from bytes pushed in any pieces. Memory is bounded by
/// [`MAX_HEAD_LEN`] plus the body limit (and a little chunk framing); the buffers are allocated
/// once, in [`ResponseReader::new`], and reused.
///
/// ```
/// use bitget_cancel::rest::ResponseReader;
///
/// let mut reader = ResponseReader::new(64 * 1024);
/// assert_eq!(reader.push(b"HTTP/1.1 200 OK\r\nContent-Len")?, None);
/// let response = reader.push(b"gth: 2\r\n\r\n{}")?.expect("complete");
/// assert_eq!((response.status, response.body, response.close), (200, &b"{}"[..], false));
/// reader.reset();
/// # Ok::<(), bitget_cancel::rest::HttpError>(())
/// ```
#[derive(Debug)]
pub struct ResponseReader {
    raw: Vec<u8>,
    body: Vec<u8>,
    max_body: usize,
    head: Option<Head>,
    /// Chunked decoding: the next unread byte of `raw`, and the state.
    cursor: usize,
    chunk: Chunk,
    done: bool,
    /// Interim (1xx) heads skipped in this response.
    interim: usize,
}

impl ResponseReader {
    /// A reader for bodies of at most `max_body` bytes.
    pub fn new(max_body: usize) -> Self {
        ResponseReader {
            raw: Vec::with_capacity(MAX_HEAD_LEN + max_body + MAX_CHUNK_OVERHEAD),
            body: Vec::with_capacity(max_body),
            max_body,
            head: None,
            cursor: 0,
            chunk: Chunk::Size,
            done: false,
            interim: 0,
        }
    }

    /// Forgets the current response; the next byte pushed starts a new one.
    pub fn reset(&mut self) {
        self.raw.clear();
        self.body.clear();
        self.head = None;
        self.cursor = 0;
        self.chunk = Chunk::Size;
        self.done = false;
        self.interim = 0;
    }

    /// Whether any byte of a response has arrived since the last [`reset`](Self::reset).
    pub fn has_started(&self) -> bool {
        !self.raw.is_empty()
    }

    /// Adds `bytes` and returns the response once it is complete. After `Ok(Some(_))`, call
    /// [`reset`](Self::reset) before pushing the next response's bytes.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Option<Response<'_>>, HttpError> {
        let limit = MAX_HEAD_LEN + self.max_body + MAX_CHUNK_OVERHEAD;
        if self.raw.len() + bytes.len() > limit {
            return Err(match self.head {
                None if self.raw.len() + bytes.len() > MAX_HEAD_LEN => HttpError::HeadTooLarge,
                _ => HttpError::BodyTooLarge {
                    limit: self.max_body,
                },
            });
        }
        self.raw.extend_from_slice(bytes);
        self.progress()
    }

    /// The connection ended: a body delimited by the end of the connection is complete now;
    /// anything else half-read is [`HttpError::Truncated`]. `Ok(None)` when nothing had arrived.
    pub fn finish(&mut self) -> Result<Option<Response<'_>>, HttpError> {
        match self.head {
            Some(head) if head.framing == Framing::UntilClose => {
                self.done = true;
                Ok(Some(Response {
                    status: head.status,
                    close: true,
                    body: &self.raw[head.len..],
                }))
            }
            _ if self.raw.is_empty() => Ok(None),
            _ => Err(HttpError::Truncated),
        }
    }

    fn progress(&mut self) -> Result<Option<Response<'_>>, HttpError> {
        if self.done {
            return Err(HttpError::BadHead("bytes after a complete response"));
        }
        let head = match self.head {
            Some(head) => head,
            None => match self.parse_head()? {
                Some(head) => head,
                None => return Ok(None),
            },
        };
        let body: &[u8] = match head.framing {
            Framing::Length(len) => {
                if self.raw.len() < head.len + len {
                    return Ok(None);
                }
                &self.raw[head.len..head.len + len]
            }
            Framing::UntilClose => {
                if self.raw.len() - head.len > self.max_body {
                    return Err(HttpError::BodyTooLarge {
                        limit: self.max_body,
                    });
                }
                return Ok(None);
            }
            Framing::Chunked => {
                if !self.decode_chunks()? {
                    return Ok(None);
                }
                &self.body
            }
        };
        self.done = true;
        let extra = match head.framing {
            Framing::Length(len) => self.raw.len() > head.len + len,
            _ => self.raw.len() > self.cursor,
        };
        Ok(Some(Response {
            status: head.status,
            close: head.close || extra,
            body,
        }))
    }

    /// Parses the head once it is complete; skips interim (1xx) responses.
    fn parse_head(&mut self) -> Result<Option<Head>, HttpError> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            let len = match response.parse(&self.raw) {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) if self.raw.len() > MAX_HEAD_LEN => {
                    return Err(HttpError::HeadTooLarge);
                }
                Ok(httparse::Status::Partial) => return Ok(None),
                Err(httparse::Error::TooManyHeaders) => return Err(HttpError::HeadTooLarge),
                Err(_) => return Err(HttpError::BadHead("not an HTTP/1.x response head")),
            };
            if len > MAX_HEAD_LEN {
                return Err(HttpError::HeadTooLarge);
            }
            let status = response.code.ok_or(HttpError::BadHead("no status"))?;
            if (100..200).contains(&status) {
                // 100 Continue and friends: the real response follows, after a few at most.
                self.interim += 1;
                if self.interim > MAX_INTERIM {
                    return Err(HttpError::BadHead("too many interim (1xx) responses"));
                }
                self.raw.drain(..len);
                continue;
            }
            let mut close = response.version == Some(0);
            let mut length = None;
            let mut chunked = false;
            for header in response.headers.iter() {
                let value = header.value;
                if header.name.eq_ignore_ascii_case("content-length") {
                    let parsed = std::str::from_utf8(value)
                        .ok()
                        .map(str::trim)
                        .and_then(|v| v.parse::<usize>().ok())
                        .ok_or(HttpError::BadHead("bad Content-Length"))?;
                    if length.is_some_and(|l| l != parsed) {
                        return Err(HttpError::BadHead("conflicting Content-Length"));
                    }
                    length = Some(parsed);
                } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                    let last = value
                        .rsplit(|&b| b == b',')
                        .next()
                        .unwrap_or(value)
                        .trim_ascii();
                    if !last.eq_ignore_ascii_case(b"chunked") {
                        return Err(HttpError::BadHead("unsupported Transfer-Encoding"));
                    }
                    chunked = true;
                } else if header.name.eq_ignore_ascii_case("connection") {
                    for token in value.split(|&b| b == b',') {
                        let token = token.trim_ascii();
                        if token.eq_ignore_ascii_case(b"close") {
                            close = true;
                        } else if token.eq_ignore_ascii_case(b"keep-alive") {
                            close = false;
                        }
                    }
                }
            }
            let framing = if status == 204 || status == 304 {
                Framing::Length(0)
            } else if chunked {
                // RFC 9112 6.3: Transfer-Encoding overrides Content-Length.
                Framing::Chunked
            } else if let Some(len) = length {
                if len > self.max_body {
                    return Err(HttpError::BodyTooLarge {
                        limit: self.max_body,
                    });
                }
                Framing::Length(len)
            } else {
                close = true;
                Framing::UntilClose
            };
            let head = Head {
                status,
                framing,
                close,
                len,
            };
            self.head = Some(head);
            self.cursor = len;
            return Ok(Some(head));
        }
    }

    /// Decodes as much of a chunked body as has arrived; true once the last chunk and the
    /// trailers are in.
    fn decode_chunks(&mut self) -> Result<bool, HttpError> {
        loop {
            let rest = &self.raw[self.cursor..];
            match self.chunk {
                Chunk::Size => match httparse::parse_chunk_size(rest) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        self.cursor += used;
                        if size == 0 {
                            self.chunk = Chunk::Trailers;
                        } else {
                            let size = usize::try_from(size).unwrap_or(usize::MAX);
                            if size > self.max_body - self.body.len() {
                                return Err(HttpError::BodyTooLarge {
                                    limit: self.max_body,
                                });
                            }
                            self.chunk = Chunk::Data(size);
                        }
                    }
                    Ok(httparse::Status::Partial) => return Ok(false),
                    Err(_) => return Err(HttpError::BadChunk("bad chunk size line")),
                },
                Chunk::Data(left) => {
                    let take = left.min(rest.len());
                    self.body.extend_from_slice(&rest[..take]);
                    self.cursor += take;
                    if take < left {
                        self.chunk = Chunk::Data(left - take);
                        return Ok(false);
                    }
                    self.chunk = Chunk::DataEnd;
                }
                Chunk::DataEnd => {
                    if rest.len() < 2 {
                        return Ok(false);
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(HttpError::BadChunk("chunk data not followed by CRLF"));
                    }
                    self.cursor += 2;
                    self.chunk = Chunk::Size;
                }
                Chunk::Trailers => {
                    if rest.starts_with(b"\r\n") {
                        self.cursor += 2;
                        return Ok(true);
                    }
                    match rest.windows(2).position(|w| w == b"\r\n") {
                        Some(end) => self.cursor += end + 2,
                        None => return Ok(false),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_in_pieces(wire: &[u8], piece: usize) -> (u16, bool, Vec<u8>) {
        let mut reader = ResponseReader::new(1024);
        let mut pieces = wire.chunks(piece).peekable();
        while let Some(bytes) = pieces.next() {
            match reader.push(bytes).unwrap() {
                Some(r) => {
                    assert!(pieces.peek().is_none(), "complete before the last byte");
                    return (r.status, r.close, r.body.to_vec());
                }
                None => continue,
            }
        }
        panic!("never complete");
    }

    #[test]
    fn a_content_length_body_is_complete_at_its_last_byte_in_any_pieces() {
        let wire = b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"code\":\"1\"}\n";
        for piece in [1, 2, 7, wire.len()] {
            assert_eq!(
                read_in_pieces(wire, piece),
                (400, false, b"{\"code\":\"1\"}\n".to_vec())
            );
        }
    }

    #[test]
    fn a_chunked_body_is_reassembled_across_pieces() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\n{\"a\":\r\n3\r\n 1}\r\n0\r\nX-Trailer: t\r\n\r\n";
        for piece in [1, 3, wire.len()] {
            assert_eq!(
                read_in_pieces(wire, piece),
                (200, false, b"{\"a\": 1}".to_vec())
            );
        }
    }

    #[test]
    fn connection_close_and_http_1_0_mark_the_connection_unusable() {
        let close = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        assert!(read_in_pieces(close, 100).1);
        let old = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert!(read_in_pieces(old, 100).1);
        let old_alive = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n";
        assert!(!read_in_pieces(old_alive, 100).1);
    }

    #[test]
    fn a_body_without_length_ends_with_the_connection() {
        let mut reader = ResponseReader::new(1024);
        assert_eq!(
            reader
                .push(b"HTTP/1.1 503 Unavailable\r\n\r\noops")
                .unwrap(),
            None
        );
        let response = reader.finish().unwrap().unwrap();
        assert_eq!(
            (response.status, response.close, response.body),
            (503, true, &b"oops"[..])
        );
    }

    #[test]
    fn an_end_in_the_middle_of_a_response_is_truncated() {
        let mut reader = ResponseReader::new(1024);
        assert_eq!(reader.finish(), Ok(None));
        reader
            .push(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
            .unwrap();
        assert_eq!(reader.finish(), Err(HttpError::Truncated));
    }

    #[test]
    fn interim_responses_are_skipped() {
        let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(read_in_pieces(wire, 4), (200, false, b"ok".to_vec()));
    }

    #[test]
    fn a_server_that_sends_only_interim_responses_is_refused() {
        let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
        let mut reader = ResponseReader::new(1024);
        for _ in 0..MAX_INTERIM {
            assert_eq!(reader.push(interim), Ok(None));
        }
        assert_eq!(
            reader.push(interim),
            Err(HttpError::BadHead("too many interim (1xx) responses"))
        );
        reader.reset();
        let mut wire = interim.repeat(MAX_INTERIM);
        wire.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        assert_eq!(read_in_pieces(&wire, 7), (200, false, b"ok".to_vec()));
    }

    #[test]
    fn bytes_after_the_response_mark_the_connection_unusable() {
        let mut reader = ResponseReader::new(1024);
        let response = reader
            .push(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP")
            .unwrap()
            .unwrap();
        assert!(response.close);
        assert_eq!(response.body, b"ok");
    }

    #[test]
    fn every_size_is_bounded() {
        let mut reader = ResponseReader::new(16);
        assert_eq!(
            reader.push(b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n"),
            Err(HttpError::BodyTooLarge { limit: 16 })
        );

        reader.reset();
        let err = reader
            .push(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n")
            .unwrap_err();
        assert_eq!(err, HttpError::BodyTooLarge { limit: 16 });

        reader.reset();
        reader.push(b"HTTP/1.1 200 OK\r\n").unwrap();
        let mut err = None;
        for _ in 0..MAX_HEAD_LEN / 16 + 1 {
            if let Err(e) = reader.push(b"X-Pad: 12345678\r\n") {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err, Some(HttpError::HeadTooLarge));

        reader.reset();
        reader.push(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        assert_eq!(
            reader.push(&[b'x'; 17]),
            Err(HttpError::BodyTooLarge { limit: 16 })
        );

        reader.reset();
        let many: String = (0..MAX_HEADERS + 1)
            .map(|i| format!("X-{i}: v\r\n"))
            .collect();
        let wire = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
        assert_eq!(reader.push(wire.as_bytes()), Err(HttpError::HeadTooLarge));
    }

    #[test]
    fn malformed_heads_and_chunks_are_errors_not_panics() {
        for wire in [
            &b"SSH-2.0-OpenSSH\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
        ] {
            let mut reader = ResponseReader::new(1024);
            assert!(
                reader.push(wire).is_err(),
                "{}",
                String::from_utf8_lossy(wire)
            );
        }
    }
}
