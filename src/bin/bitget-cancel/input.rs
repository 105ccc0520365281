//! Input lines: a bounded line reader and the JSON objects `run` and `sim --orders` read.

use std::io::{self, BufRead};

use bitget_cancel::jsonl::{self, CancelLine, Input};
use bitget_cancel::{InstId, InstType, OrderRef};

/// The longest input line read; a longer one is refused (and skipped) as a whole.
pub const MAX_LINE: usize = 64 * 1024;

/// One line of input.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The line's bytes, without the line ending.
    Text(Vec<u8>),
    /// The line was longer than [`MAX_LINE`] bytes; it was read to its end and dropped.
    TooLong,
}

/// Reads lines of at most [`MAX_LINE`] bytes, so that input cannot make memory grow without
/// bound.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R) -> Self {
        LineReader {
            inner,
            buf: Vec::with_capacity(1024),
        }
    }

    /// The next line, or `None` at end of input.
    pub fn next_line(&mut self) -> io::Result<Option<Line>> {
        self.buf.clear();
        let limit = (MAX_LINE + 1) as u64;
        let n = io::Read::take(&mut self.inner, limit).read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        } else if self.buf.len() > MAX_LINE {
            self.skip_rest_of_line()?;
            return Ok(Some(Line::TooLong));
        }
        Ok(Some(Line::Text(std::mem::take(&mut self.buf))))
    }

    fn skip_rest_of_line(&mut self) -> io::Result<()> {
        loop {
            let available = self.inner.fill_buf()?;
            if available.is_empty() {
                return Ok(());
            }
            match available.iter().position(|&b| b == b'\n') {
                Some(at) => {
                    self.inner.consume(at + 1);
                    return Ok(());
                }
                None => {
                    let n = available.len();
                    self.inner.consume(n);
                }
            }
        }
    }
}

/// Whether a line holds nothing but whitespace.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// Parses one `run` input line into a validated cancel or cancel-all (tag 0), or says why it
/// cannot be sent.
pub fn parse_input(line: &[u8]) -> Result<Input, String> {
    jsonl::parse_input(line).map_err(|e| e.to_string())
}

/// One resting order of a `sim --orders` file: the same fields as a `run` line (`id` is
/// ignored); a missing `orderId` is left for the caller to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookLine {
    pub inst_type: InstType,
    pub inst_id: String,
    pub order_id: Option<String>,
    pub client_oid: Option<String>,
}

/// Parses one line of an orders file, with the same rules as a cancel (so that every order in
/// the book can be cancelled by `run`).
pub fn parse_book_line(line: &[u8]) -> Result<BookLine, String> {
    let f = CancelLine::from_json(line).map_err(|e| e.to_string())?;
    let inst_type: InstType = f.inst_type.parse().map_err(|e| format!("{e}"))?;
    InstId::new(&f.inst_id).map_err(|e| format!("{e}"))?;
    if f.order_id.is_none() && f.client_oid.is_none() {
        return Err("orderId or clientOid is required".to_string());
    }
    if let Some(o) = &f.order_id {
        OrderRef::order_id(o).map_err(|e| format!("{e}"))?;
    }
    if let Some(c) = &f.client_oid {
        OrderRef::client_oid(c).map_err(|e| format!("{e}"))?;
    }
    Ok(BookLine {
        inst_type,
        inst_id: f.inst_id,
        order_id: f.order_id,
        client_oid: f.client_oid,
    })
}

/// A resting order as a `run` input line (and a `sim --orders` line).
pub fn order_line(
    inst_type: InstType,
    inst_id: &str,
    order_id: &str,
    client_oid: Option<&str>,
) -> String {
    let line = CancelLine::new(inst_type, inst_id).with_order_id(order_id);
    match client_oid {
        Some(c) => line.with_client_oid(c),
        None => line,
    }
    .to_json()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<Line> {
        let mut reader = LineReader::new(input);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().unwrap() {
            out.push(line);
        }
        out
    }

    #[test]
    fn splits_lines_and_strips_crlf() {
        assert_eq!(
            lines(b"a\r\nb\n\nc"),
            vec![
                Line::Text(b"a".to_vec()),
                Line::Text(b"b".to_vec()),
                Line::Text(Vec::new()),
                Line::Text(b"c".to_vec())
            ]
        );
    }

    #[test]
    fn refuses_an_overlong_line_and_resumes_after_it() {
        let mut input = vec![b'x'; MAX_LINE * 3];
        input.extend_from_slice(b"\nnext\n");
        assert_eq!(
            lines(&input),
            vec![Line::TooLong, Line::Text(b"next".to_vec())]
        );
    }

    #[test]
    fn a_bad_run_line_gets_the_librarys_message() {
        let err =
            parse_input(br#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"1","side":"buy"}"#)
                .unwrap_err();
        assert_eq!(
            err,
            "unknown field \"side\" (the fields are instType, instId, orderId, clientOid, id, priority, cancelAll)"
        );
    }

    #[test]
    fn a_book_line_needs_an_order_reference_and_valid_fields() {
        for (line, expected) in [
            (
                &br#"{"instType":"SPOT","instId":"BTCUSDT"}"#[..],
                "orderId or clientOid is required",
            ),
            (
                br#"{"instType":"SPOT","instId":"BTCUSDT","orderId":"x1"}"#,
                "invalid orderId",
            ),
            (b"not json", "not valid JSON"),
        ] {
            let err = parse_book_line(line).unwrap_err();
            assert!(err.contains(expected), "{err:?} should say {expected:?}");
        }
    }

    #[test]
    fn book_lines_round_trip_through_order_line() {
        let text = order_line(InstType::UsdtFutures, "ETHUSDT", "42", Some("c-1"));
        let parsed = parse_book_line(text.as_bytes()).unwrap();
        assert_eq!(parsed.inst_type, InstType::UsdtFutures);
        assert_eq!(parsed.order_id.as_deref(), Some("42"));
        assert_eq!(parsed.client_oid.as_deref(), Some("c-1"));
        assert!(parse_input(text.as_bytes()).is_ok());
    }
}
