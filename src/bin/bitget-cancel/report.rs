//! What `run` prints for each input line, and the words for each outcome.

use bitget_cancel::outcome::{NotSentReason, UnknownReason};
use bitget_cancel::{Outcome, Status, Via};
use serde::Serialize;

/// The status words of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Word {
    Acked,
    Rejected,
    Unknown,
    Invalid,
    NotSent,
}

/// The path that settled a cancel, as `run` prints it: a connection number or `"rest"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Path {
    Connection(u8),
    Rest(&'static str),
}

/// One output line of `run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The 1-based input line number.
    pub line: u64,
    /// The request id the cancel was sent under; `None` when none was assigned.
    pub id: Option<String>,
    pub status: Word,
    /// The venue's code (0 for acked), or null when the venue did not answer.
    pub code: Option<i64>,
    /// The venue's message for a rejection, else the reason in words.
    pub msg: String,
    /// A stable word for the reason of an unknown, not_sent or invalid status.
    pub reason: Option<&'static str>,
    /// How many times the cancel was sent (0 if never).
    pub attempts: u8,
    /// The 0-based connection whose reply settled it, or `"rest"`; `None` when no reply did.
    pub via: Option<Path>,
    pub tick_to_wire_ns: Option<u64>,
    pub round_trip_ns: Option<u64>,
}

impl Record {
    /// The record of an engine outcome; its tag is the line number.
    pub fn from_outcome(o: &Outcome) -> Self {
        let (status, code, msg, reason) = describe(&o.status);
        Record {
            line: o.tag(),
            id: Some(o.id.as_str().to_string()),
            status,
            code,
            msg,
            reason,
            attempts: o.attempts,
            via: o.via.map(|v| match v {
                Via::Connection(n) => Path::Connection(n),
                Via::Rest => Path::Rest("rest"),
            }),
            tick_to_wire_ns: o.times.tick_to_wire_ns(),
            round_trip_ns: o.times.round_trip_ns(),
        }
    }

    /// The record of a line that was never handed to the engine.
    pub fn invalid(line: u64, why: String) -> Self {
        Record {
            line,
            id: None,
            status: Word::Invalid,
            code: None,
            msg: why,
            reason: Some("invalid_input"),
            attempts: 0,
            via: None,
            tick_to_wire_ns: None,
            round_trip_ns: None,
        }
    }

    /// The record of a valid line the engine refused because it had stopped.
    pub fn refused(line: u64, id: Option<String>) -> Self {
        Record {
            line,
            id,
            status: Word::NotSent,
            code: None,
            msg: "the engine stopped before this cancel could be queued".to_string(),
            reason: Some("shutdown"),
            attempts: 0,
            via: None,
            tick_to_wire_ns: None,
            round_trip_ns: None,
        }
    }

    pub fn to_json_line(&self) -> String {
        // A struct of strings, numbers and options always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The status word, venue code, message and reason word of an outcome.
pub fn describe(status: &Status) -> (Word, Option<i64>, String, Option<&'static str>) {
    match status {
        Status::Acked => (Word::Acked, Some(0), "acknowledged".to_string(), None),
        Status::Rejected { code, msg } => (Word::Rejected, Some(*code), msg.to_string(), None),
        Status::Unknown(reason) => {
            let (word, text) = match reason {
                UnknownReason::AckTimeout => ("ack_timeout", "no reply within the ack timeout"),
                UnknownReason::ConnectionLost => (
                    "connection_lost",
                    "the connection ended while the cancel was in flight, and no other was left",
                ),
                UnknownReason::Shutdown => {
                    ("shutdown", "the engine shut down before the reply came")
                }
            };
            (Word::Unknown, None, text.to_string(), Some(word))
        }
        Status::NotSent(reason) => match reason {
            NotSentReason::QueueTimeout => (
                Word::NotSent,
                None,
                "waited longer than the maximum queueing time without a logged-in connection or a pacing slot"
                    .to_string(),
                Some("queue_timeout"),
            ),
            NotSentReason::LoginRejected { code, msg } => (
                Word::NotSent,
                Some(*code),
                format!("login rejected: {msg}"),
                Some("login_rejected"),
            ),
            NotSentReason::DuplicateId => (
                Word::NotSent,
                None,
                "another cancel with the same id is in flight".to_string(),
                Some("duplicate_id"),
            ),
            NotSentReason::Shutdown => (
                Word::NotSent,
                None,
                "the engine shut down before it could be sent".to_string(),
                Some("shutdown"),
            ),
        },
    }
}

/// The pool's figures in one line: each connection's sends, replies and round trips, then
/// hedges, failovers, rotations and late replies.
pub fn pool_summary(stats: &bitget_cancel::engine::Stats) -> String {
    let us = |ns: u64| ns as f64 / 1000.0;
    let connections: Vec<String> = stats
        .connections
        .iter()
        .take(stats.pool_size + 1)
        .enumerate()
        .filter(|(_, c)| c.sessions > 0)
        .map(|(i, c)| {
            format!(
                "connection {i}: {} sessions, {} sent, {} replies, round trip p50 {:.1} us p99 {:.1} us",
                c.sessions,
                c.sent,
                c.replies,
                us(c.rtt_p50_ns),
                us(c.rtt_p99_ns)
            )
        })
        .collect();
    let rest = &stats.rest;
    let rest = if !rest.enabled {
        "no REST rung".to_string()
    } else {
        format!(
            "REST: {} cancels sent, {} verdicts, {} without one, clock offset {}",
            rest.sent,
            rest.replies,
            rest.failures,
            if rest.clock_synced {
                format!("{} ms", rest.clock_offset_ms)
            } else {
                "not measured".to_string()
            }
        )
    };
    format!(
        "pool of {}: {}; {} hedges sent ({} won, {} capped), {} failovers, {} rotations, {} late replies, {} unreadable messages skipped; {rest}",
        stats.pool_size,
        if connections.is_empty() {
            "no connection logged in".to_string()
        } else {
            connections.join("; ")
        },
        stats.hedges_sent,
        stats.hedges_won,
        stats.hedges_capped,
        stats.failovers,
        stats.rotations,
        stats.late_replies,
        stats.unreadable_messages
    )
}

/// Counts of records per status word.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub acked: u64,
    pub rejected: u64,
    pub unknown: u64,
    pub invalid: u64,
    pub not_sent: u64,
}

impl Tally {
    pub fn add(&mut self, word: Word) {
        match word {
            Word::Acked => self.acked += 1,
            Word::Rejected => self.rejected += 1,
            Word::Unknown => self.unknown += 1,
            Word::Invalid => self.invalid += 1,
            Word::NotSent => self.not_sent += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.acked + self.rejected + self.unknown + self.invalid + self.not_sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitget_cancel::outcome::{Timestamps, VenueMsg};
    use bitget_cancel::{Cancel, InstId, InstType, OrderRef, RequestId};

    fn outcome(status: Status, times: Timestamps) -> Outcome {
        Outcome {
            id: RequestId::from_u64(9),
            cancel: Cancel::new(
                InstType::Spot,
                InstId::new("BTCUSDT").unwrap(),
                OrderRef::order_id("1").unwrap(),
            )
            .with_tag(4),
            status,
            times,
            attempts: 2,
            via: Some(Via::Connection(1)),
        }
    }

    #[test]
    fn a_rejection_carries_the_venues_code_and_message() {
        let o = outcome(
            Status::Rejected {
                code: 43001,
                msg: VenueMsg::new("The order does not exist"),
            },
            Timestamps {
                accepted_ns: 100,
                handed_ns: 120,
                written_ns: 150,
                settled_ns: 400,
            },
        );
        let v: serde_json::Value =
            serde_json::from_str(&Record::from_outcome(&o).to_json_line()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "line": 4, "id": "9", "status": "rejected", "code": 43001,
                "msg": "The order does not exist", "reason": null,
                "attempts": 2, "via": 1,
                "tick_to_wire_ns": 50, "round_trip_ns": 300
            })
        );
    }

    #[test]
    fn a_refused_login_is_not_sent_with_the_venues_code() {
        let o = outcome(
            Status::NotSent(NotSentReason::LoginRejected {
                code: 30015,
                msg: VenueMsg::new("Invalid sign"),
            }),
            Timestamps::default(),
        );
        let r = Record::from_outcome(&o);
        assert_eq!((r.status, r.code), (Word::NotSent, Some(30015)));
        assert!(r.msg.contains("Invalid sign"));
        assert_eq!((r.tick_to_wire_ns, r.round_trip_ns), (None, None));
    }

    #[test]
    fn invalid_lines_have_no_id() {
        let v: serde_json::Value =
            serde_json::from_str(&Record::invalid(3, "bad".into()).to_json_line()).unwrap();
        assert_eq!(v["status"], "invalid");
        assert!(v["id"].is_null());
        assert_eq!(v["line"], 3);
    }
}
