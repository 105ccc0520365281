//! What `run` prints besides its lines (those are the library's `jsonl::OutcomeLine`): the
//! pool's figures and the counts per status.

use bitget_cancel::jsonl::LineStatus;

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
    let b = &stats.batches;
    let rest = if b.sent == 0 && b.cancel_alls == 0 {
        rest
    } else {
        format!(
            "{rest}; {} batches carrying {} cancels (largest {}, {} failed as a whole, {} entries listed nowhere), {} cancel-alls ({} acked)",
            b.sent, b.carried, b.largest, b.failed, b.unlisted, b.cancel_alls, b.cancel_alls_acked
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
    pub fn add(&mut self, status: LineStatus) {
        match status {
            LineStatus::Acked => self.acked += 1,
            LineStatus::Rejected => self.rejected += 1,
            LineStatus::Unknown => self.unknown += 1,
            LineStatus::Invalid => self.invalid += 1,
            LineStatus::NotSent => self.not_sent += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.acked + self.rejected + self.unknown + self.invalid + self.not_sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tally_counts_each_status_once() {
        let mut t = Tally::default();
        for status in LineStatus::ALL {
            t.add(status);
        }
        t.add(LineStatus::Acked);
        assert_eq!(
            (
                t.acked,
                t.rejected,
                t.unknown,
                t.invalid,
                t.not_sent,
                t.total()
            ),
            (2, 1, 1, 1, 1, 6)
        );
    }
}
