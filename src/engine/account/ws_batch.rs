//! V3's `batch-cancel` over WebSocket: first sends due at once on a V3 link go out as one
//! message of up to 20 entries (one product line, all named by `orderId` or all by
//! `clientOid`, never mixed), under a request id of its own. Each intent keeps its own attempt
//! (and id) in the in-flight table; the batch remembers which attempt each entry is, so each
//! entry's code settles its intent through the ordinary reply path, and a refusal of the
//! whole batch (`{"event":"error","id":...}`) settles each alike. Pacing: a batch is one
//! message against the link's message budget (10/s by default: V3's own limit is not
//! documented), and each entry one cancel against the account's cancel budget (or the whole
//! message one, with `ConfigBuilder::batch_budget(BatchBudget::PerMessage)`).

use super::super::link::LinkSeam;
use super::super::plumbing::{IntentSource, OutcomeSink};
use crate::clock::Clock;
use crate::intent::{Cancel, ClientOid, InstType, OrderId, RequestId};
use crate::venue::v3::{BatchKey, MAX_BATCH};
use crate::venue::{BatchEntry, Dialect, Verdict};

/// Batches on the wire remembered at once; the oldest is forgotten first (its entries then
/// settle by their ack timeout or a re-send, like an unanswered cancel).
const REMEMBERED: usize = 64;

/// The batch being built for one link in this send step.
#[derive(Debug)]
struct Open {
    link: usize,
    key: BatchKey,
    inst_type: InstType,
    len: usize,
    slots: [u32; MAX_BATCH],
    /// Each entry's send number (its attempt's wire id).
    wires: [u64; MAX_BATCH],
    cancels: [Cancel; MAX_BATCH],
}

/// One entry of a batch on the wire: the attempt it is (its send number), and the order it
/// names.
#[derive(Debug, Clone, Copy)]
struct Member {
    attempt: u64,
    order_id: Option<OrderId>,
    client_oid: Option<ClientOid>,
    answered: bool,
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    /// The batch's own send number.
    wire: u64,
    link: u8,
    len: u8,
    members: [Member; MAX_BATCH],
}

/// The batches of one account.
#[derive(Debug)]
pub(crate) struct WsBatches {
    on: bool,
    /// Each entry counts against the account's cancel budget (else the message, once).
    pub(super) entries_count: bool,
    open: Option<Box<Open>>,
    /// Allocated at start, reused.
    spare: Option<Box<Open>>,
    sent: Vec<Option<Sent>>,
    next: usize,
}

impl WsBatches {
    pub(crate) fn new(on: bool, entries_count: bool) -> Self {
        let blank = Cancel::new(
            InstType::Spot,
            crate::intent::InstId::new("X").expect("a valid symbol"),
            crate::intent::OrderRef::order_id("1").expect("a valid order id"),
        );
        WsBatches {
            on,
            entries_count,
            open: None,
            spare: on.then(|| {
                Box::new(Open {
                    link: 0,
                    key: BatchKey::OrderId,
                    inst_type: InstType::Spot,
                    len: 0,
                    slots: [0; MAX_BATCH],
                    wires: [0; MAX_BATCH],
                    cancels: [blank; MAX_BATCH],
                })
            }),
            sent: if on {
                vec![None; REMEMBERED]
            } else {
                Vec::new()
            },
            next: 0,
        }
    }

    fn find(&mut self, wire: u64, link: usize) -> Option<&mut Sent> {
        self.sent
            .iter_mut()
            .flatten()
            .find(|b| b.link as usize == link && b.wire == wire)
    }
}

impl<I: IntentSource, O: OutcomeSink, L: LinkSeam, C: Clock> super::Account<I, O, L, C> {
    /// A first send of the intent in `slot` (send number `wire`) on link `l`: into the batch
    /// being built for `l` when the account speaks V3, else its own frame.
    pub(super) fn append_first(&mut self, l: usize, slot: u32, wire: u64) {
        if !self.v3_batches.on || self.settings.dialect != Dialect::V3 {
            self.append_cancel_frame(l, slot, wire);
            return;
        }
        let cancel = self.table.entry(slot).cancel;
        let key = BatchKey::of(&cancel);
        let fits = self.v3_batches.open.as_ref().is_some_and(|o| {
            o.link == l && o.key == key && o.inst_type == cancel.inst_type && o.len < MAX_BATCH
        });
        if !fits {
            self.close_batch();
            let Some(mut open) = self.v3_batches.spare.take() else {
                self.append_cancel_frame(l, slot, wire);
                return;
            };
            open.link = l;
            open.key = key;
            open.inst_type = cancel.inst_type;
            open.len = 0;
            self.v3_batches.open = Some(open);
        }
        let Some(open) = self.v3_batches.open.as_mut() else {
            return;
        };
        let k = open.len;
        open.slots[k] = slot;
        open.wires[k] = wire;
        open.cancels[k] = cancel;
        open.len += 1;
    }

    /// The link of the batch being built, if `cancel` fits it (same product line and key,
    /// room left) and the link still serves: the cancel joins that message, which the link's
    /// message budget counted once, when the batch began.
    #[inline]
    pub(super) fn joins_open_batch(&self, cancel: &Cancel) -> Option<usize> {
        let open = self.v3_batches.open.as_ref()?;
        (open.len < MAX_BATCH
            && open.key == BatchKey::of(cancel)
            && open.inst_type == cancel.inst_type
            && self.links[open.link].is_serving())
        .then_some(open.link)
    }

    /// Writes the batch being built into the frames of its link: one cancel alone as its own
    /// `cancel-order`, several as one `batch-cancel` under a send number of its own.
    pub(super) fn close_batch(&mut self) {
        let Some(open) = self.v3_batches.open.take() else {
            return;
        };
        let l = open.link;
        if open.len == 1 {
            self.append_cancel_frame(l, open.slots[0], open.wires[0]);
        } else if open.len > 1 {
            let wire = self.next_wire();
            let id = self.wire_ids.id(wire);
            self.links[l].append_batch(
                &mut self.batches[l],
                &mut self.scratch.json,
                &id,
                open.key,
                &open.cancels[..open.len],
            );
            let mut members = [Member {
                attempt: 0,
                order_id: None,
                client_oid: None,
                answered: true,
            }; MAX_BATCH];
            for (k, member) in members.iter_mut().enumerate().take(open.len) {
                let cancel = &open.cancels[k];
                *member = Member {
                    attempt: open.wires[k],
                    order_id: cancel.order.get_order_id().copied(),
                    client_oid: cancel.order.get_client_oid().copied(),
                    answered: false,
                };
                let seq = self.table.entry(open.slots[k]).seq;
                self.outbox.sealed(l, open.slots[k], seq);
            }
            let at = self.v3_batches.next;
            self.v3_batches.sent[at] = Some(Sent {
                wire,
                link: l as u8,
                len: open.len as u8,
                members,
            });
            self.v3_batches.next = (at + 1) % self.v3_batches.sent.len();
        }
        self.v3_batches.spare = Some(open);
    }

    /// One entry of the batch `batch`'s reply on link `l`: the verdict of the attempt it names.
    pub(super) fn on_ws_batch_entry(
        &mut self,
        l: usize,
        batch: Option<RequestId>,
        entry: BatchEntry,
    ) {
        let wire = batch.and_then(|id| self.wire_ids.parse(id.as_str().as_bytes()));
        let Some(attempt) = wire.and_then(|wire| {
            let sent = self.v3_batches.find(wire, l)?;
            let len = sent.len as usize;
            let named = |m: &Member| {
                !m.answered
                    && match (entry.order_id, entry.client_oid) {
                        (Some(o), _) if m.order_id.is_some() => m.order_id == Some(o),
                        (_, Some(c)) => m.client_oid == Some(c),
                        _ => false,
                    }
            };
            // By the order the entry names, else the first entry not yet answered.
            let k = (0..len)
                .find(|&k| named(&sent.members[k]))
                .or_else(|| (0..len).find(|&k| !sent.members[k].answered))?;
            sent.members[k].answered = true;
            Some(sent.members[k].attempt)
        }) else {
            self.shared.counters.0.unmatched_replies.incr();
            return;
        };
        let id = self.wire_ids.id(attempt);
        self.on_reply(l, Some(id), entry.verdict);
    }

    /// A reply naming the batch `id` as a whole (a refusal of every entry): true if `id` is a
    /// batch on link `l`, each of whose unanswered entries then gets `verdict`.
    pub(super) fn on_ws_batch_reply(&mut self, l: usize, id: &RequestId, verdict: Verdict) -> bool {
        let Some(wire) = self.wire_ids.parse(id.as_str().as_bytes()) else {
            return false;
        };
        let Some(sent) = self.v3_batches.find(wire, l) else {
            return false;
        };
        let len = sent.len as usize;
        let mut attempts = [None; MAX_BATCH];
        for (k, m) in sent.members[..len].iter_mut().enumerate() {
            if !m.answered {
                m.answered = true;
                attempts[k] = Some(m.attempt);
            }
        }
        for attempt in attempts.into_iter().flatten() {
            let id = self.wire_ids.id(attempt);
            self.on_reply(l, Some(id), verdict);
        }
        true
    }
}
