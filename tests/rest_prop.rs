//! Properties of the REST reply path, over generated input: what a server sends is read the
//! same whatever the split, arbitrary bytes never panic nor grow memory past the limits, and any
//! JSON body decodes to a verdict or an error, never a panic.
//!
//! `PROPTEST_CASES=N` raises every property to `N` cases.

use bitget_cancel::outcome::VenueMsg;
use bitget_cancel::rest::{
    HttpError, MAX_HEAD_LEN, ResponseReader, Verdict, decode_server_time, decode_verdict,
};
use proptest::prelude::*;

const MAX_BODY: usize = 4096;

fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

/// `body` framed by `Content-Length`, or chunked in pieces of the given sizes.
fn response(status: u16, body: &[u8], chunks: Option<&[usize]>, close: bool) -> Vec<u8> {
    let mut out =
        format!("HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\n").into_bytes();
    if close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    match chunks {
        None => {
            out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend_from_slice(body);
        }
        Some(sizes) => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            let mut rest = body;
            let mut sizes = sizes.iter().cycle();
            while !rest.is_empty() {
                let take = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
                out.extend_from_slice(format!("{take:X}\r\n").as_bytes());
                out.extend_from_slice(&rest[..take]);
                out.extend_from_slice(b"\r\n");
                rest = &rest[take..];
            }
            out.extend_from_slice(b"0\r\n\r\n");
        }
    }
    out
}

/// Feeds `wire` cut at `cuts` (positions, any order) and returns the response read.
fn read_split(wire: &[u8], cuts: &[usize]) -> Result<(u16, bool, Vec<u8>), HttpError> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.push(0);
    points.push(wire.len());
    points.sort_unstable();
    points.dedup();
    let mut reader = ResponseReader::new(MAX_BODY);
    for pair in points.windows(2) {
        if let Some(response) = reader.push(&wire[pair[0]..pair[1]])? {
            assert_eq!(pair[1], wire.len(), "complete before the end");
            return Ok((response.status, response.close, response.body.to_vec()));
        }
    }
    Err(HttpError::Truncated)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn a_response_reads_the_same_whatever_the_split_and_framing(
        status in prop_oneof![Just(200u16), Just(400), Just(404), Just(503)],
        body in proptest::collection::vec(any::<u8>(), 0..MAX_BODY),
        chunk_sizes in proptest::collection::vec(1usize..600, 1..6),
        chunked in any::<bool>(),
        close in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let wire = response(status, &body, chunked.then_some(chunk_sizes.as_slice()), close);
        let read = read_split(&wire, &cuts);
        prop_assert_eq!(read, Ok((status, close, body)));
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_within_the_limits(
        prefix in prop_oneof![
            Just(b"".to_vec()),
            Just(b"HTTP/1.1 200 OK\r\n".to_vec()),
            Just(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()),
            Just(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n".to_vec()),
        ],
        pieces in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..2048), 0..40),
    ) {
        let mut reader = ResponseReader::new(MAX_BODY);
        let mut fed = 0usize;
        let mut outcome = reader.push(&prefix).map(|r| r.is_some());
        for piece in &pieces {
            if !matches!(outcome, Ok(false)) {
                break;
            }
            fed += piece.len();
            outcome = reader.push(piece).map(|r| r.is_some());
        }
        // Whatever happened, the reader refused to hold more than its bounds.
        if matches!(outcome, Ok(false)) {
            prop_assert!(prefix.len() + fed <= MAX_HEAD_LEN + MAX_BODY + 16 * 1024);
        }
        let _ = reader.finish();
    }

    #[test]
    fn any_json_body_is_a_verdict_or_an_error_never_a_panic(
        status in 100u16..600,
        code in prop_oneof![
            Just("\"00000\"".to_owned()),
            "[0-9]{1,6}".prop_map(|d| format!("\"{d}\"")),
            any::<i64>().prop_map(|n| n.to_string()),
            Just("null".to_owned()),
            Just("[1]".to_owned()),
            Just("{\"a\":1}".to_owned()),
            Just("1.5".to_owned()),
            "[a-z]{0,4}".prop_map(|d| format!("\"{d}\"")),
        ],
        msg in "\\PC{0,200}",
    ) {
        let body = serde_json::json!({"msg": msg, "requestTime": 1, "data": null}).to_string();
        let body = body.replacen('{', &format!("{{\"code\":{code},"), 1);
        let verdict = decode_verdict(status, body.as_bytes());
        let _ = decode_server_time(status, body.as_bytes());
        if let Ok(Verdict::Rejected { msg: got, .. }) = verdict {
            prop_assert_eq!(got, VenueMsg::new(&msg));
        }
        if status >= 500 {
            prop_assert!(verdict.is_err());
        }
    }
}
