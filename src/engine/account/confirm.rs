//! The final word on every intent, while [`Confirm`] is on: which intent a push (or an order
//! query's answer) is about, when to ask REST, when time is up, and where final words go.
//!
//! An intent is followed from the moment the account takes it in (so that a push that comes
//! before the reply, or even before the send, finds it) until its final word:
//!
//! ```text
//! take_in ──track──> in flight ──settle (outcome emitted; sent)──> waiting ──> final word
//!                      │  a push: kept in the entry                 │  a final push: final word
//!                      │  (at most `early_pushes` entries hold one) │  confirm_after: REST query,
//!                      │                                            │  again 1, 2, 4 x after
//!                      └─settle (not sent)──> forgotten             │  not found twice: unconfirmed
//!                                                                   └─ confirm_timeout: live if the
//!                                                                      last word had it open, else
//!                                                                      unconfirmed
//! ```
//!
//! All storage is allocated once, in [`Confirmations::new`]: `max_pending + capacity` entries
//! (in flight, then waiting: the waiting part is capped at `capacity`, so an intent in flight
//! always has its entry), an open-addressing index (linear probing, backward-shift deletion,
//! at most a quarter full) from `orderId` and from `clientOid` to entries (several entries may
//! share a key: a second cancel of the same order is followed too, and one push answers both),
//! a heap of query times and a queue of deadlines (both compacted in place when full of stale
//! items), and the final-word ring or queue with its overflow.
//!
//! A push is tied to intents by `orderId`; an intent named by `clientOid` alone (or a push
//! without an `orderId`) is tied by `clientOid`, on the same product line when the push names
//! one. What the venue said is kept as the entry's latest word: a final status beats an open
//! one, then the later `uTime`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use crossbeam_channel::{Sender, TrySendError};

use super::super::config::Confirm;
use super::super::pacing::RateLimiter;
use super::super::shared::{FinalCounters, Shared};
use crate::clock::ns;
use crate::final_word::{
    FinalSource, FinalState, FinalTimes, FinalWord, OrderStatus, OrderUpdate, UnconfirmedReason,
};
use crate::intent::{Cancel, InstType, RequestId};
use crate::venue::{Dialect, OrderAnswer};

const NIL: u32 = u32::MAX;
/// Index keys: by `orderId` or by `clientOid`.
const BY_ORDER_ID: u32 = 0;
const BY_CLIENT_OID: u32 = 1;
/// Final words remembered for the reply-to-final percentiles.
const WINDOW: usize = 1024;
/// Answers of "not found" after which an order is taken as unknown to the venue.
const NOT_FOUND_TIMES: u8 = 2;
/// The longest backoff between queries, as a power of two of `after`.
const MAX_BACKOFF_SHIFT: u32 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Free,
    /// Taken in, no outcome yet.
    InFlight,
    /// Its outcome emitted, waiting for its final word.
    Waiting,
}

/// What the venue last said about an entry's order, and how.
#[derive(Debug, Clone, Copy)]
struct Word {
    update: OrderUpdate,
    source: FinalSource,
}

impl Word {
    /// Whether `self` should replace `old`: a final status beats an open one, then the later
    /// update time (a tie goes to the newcomer).
    fn supersedes(&self, old: &Word) -> bool {
        let rank = |w: &Word| (w.update.status.is_final(), w.update.updated_ms.unwrap_or(0));
        rank(self) >= rank(old)
    }

    fn state(&self) -> Option<FinalState> {
        match self.update.status {
            OrderStatus::Filled => Some(FinalState::Filled),
            OrderStatus::Cancelled => Some(FinalState::Cancelled),
            OrderStatus::Live | OrderStatus::PartiallyFilled => None,
        }
    }
}

/// One followed intent.
#[derive(Debug, Clone, Copy)]
struct Tracked {
    /// Grows each time the entry is freed: stale timers and query tags never match again.
    generation: u32,
    stage: Stage,
    /// The intent's arrival number (the in-flight table's `seq`).
    seq: u64,
    id: RequestId,
    cancel: Cancel,
    accepted_ns: u64,
    /// When its outcome was emitted.
    settled_ns: u64,
    deadline_ns: u64,
    /// When its next query is due; 0 when none is scheduled.
    query_at: u64,
    word: Option<Word>,
    /// Queries sent for it.
    queries: u8,
    /// "Not found" answers in a row.
    not_found: u8,
    /// Holds a push that came before its outcome (counted in `early_held`).
    early: bool,
    /// A connection came back while it was in flight: ask REST as soon as it settles.
    gap: bool,
}

impl Tracked {
    /// A new entry, in flight.
    fn new(generation: u32, seq: u64, id: RequestId, cancel: Cancel, accepted_ns: u64) -> Self {
        Tracked {
            generation,
            stage: Stage::InFlight,
            seq,
            id,
            cancel,
            accepted_ns,
            settled_ns: 0,
            deadline_ns: 0,
            query_at: 0,
            word: None,
            queries: 0,
            not_found: 0,
            early: false,
            gap: false,
        }
    }

    /// The bytes of the key of `kind`, if the intent names its order that way.
    fn key(&self, kind: u32) -> Option<&[u8]> {
        match kind {
            BY_ORDER_ID => self
                .cancel
                .order
                .get_order_id()
                .map(|o| o.as_str().as_bytes()),
            _ => self
                .cancel
                .order
                .get_client_oid()
                .map(|c| c.as_str().as_bytes()),
        }
    }
}

/// FNV-1a over the key's kind and bytes.
fn key_hash(kind: u32, bytes: &[u8]) -> usize {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ u64::from(kind);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 29)) as usize
}

/// Where final words go: the threaded engine's ring or the inline engine's queue.
#[derive(Debug)]
pub(crate) enum FinalSink {
    /// The ring, and the shared state whose final-ready notification each word signals.
    Ring(Sender<FinalWord>, Arc<Shared>),
    Queue(VecDeque<FinalWord>),
}

/// Final words on their way out, and those that found no room yet (kept in order, up to the
/// capacity; beyond it a final word is dropped, counted and logged once).
#[derive(Debug)]
pub(crate) struct FinalOut {
    sink: FinalSink,
    undelivered: VecDeque<FinalWord>,
    capacity: usize,
    warned: bool,
}

impl FinalOut {
    /// An inline engine's queue of `capacity` final words, and as much overflow.
    pub(crate) fn queue(capacity: usize) -> Self {
        FinalOut::new(
            FinalSink::Queue(VecDeque::with_capacity(capacity)),
            capacity,
        )
    }

    /// The threaded engine's ring, with `capacity` final words of overflow; each word handed
    /// to it signals `shared`'s final-ready notification.
    pub(crate) fn ring(tx: Sender<FinalWord>, shared: Arc<Shared>, capacity: usize) -> Self {
        FinalOut::new(FinalSink::Ring(tx, shared), capacity)
    }

    fn new(sink: FinalSink, capacity: usize) -> Self {
        FinalOut {
            sink,
            undelivered: VecDeque::with_capacity(capacity),
            capacity,
            warned: false,
        }
    }

    // The word comes back by value, never boxed: boxing would allocate per final word.
    #[allow(clippy::result_large_err)]
    fn try_send(&mut self, word: FinalWord) -> Result<(), FinalWord> {
        match &mut self.sink {
            FinalSink::Ring(tx, shared) => match tx.try_send(word) {
                Ok(()) => {
                    shared.final_delivered();
                    Ok(())
                }
                Err(TrySendError::Full(w)) => Err(w),
                // Every handle is gone: nobody can read it.
                Err(TrySendError::Disconnected(_)) => Ok(()),
            },
            FinalSink::Queue(queue) if queue.len() < self.capacity => {
                queue.push_back(word);
                Ok(())
            }
            FinalSink::Queue(_) => Err(word),
        }
    }

    fn emit(&mut self, word: FinalWord, counters: &FinalCounters) {
        if self.undelivered.is_empty() {
            match self.try_send(word) {
                Ok(()) => return,
                Err(w) if self.undelivered.len() < self.capacity => {
                    self.undelivered.push_back(w);
                    return;
                }
                Err(_) => {}
            }
        } else if self.undelivered.len() < self.capacity {
            self.undelivered.push_back(word);
            return;
        }
        counters.undelivered.incr();
        if !self.warned {
            self.warned = true;
            crate::relay::log_warn!(
                "final words are not being read: the ring and its overflow are full, so new \
                 ones are dropped (counted in Stats::finals.undelivered)"
            );
        }
    }

    /// Hands over what waits, as far as there is room.
    pub(crate) fn deliver(&mut self) {
        while let Some(&w) = self.undelivered.front() {
            if self.try_send(w).is_err() {
                break;
            }
            self.undelivered.pop_front();
        }
    }

    /// Final words waiting for room.
    pub(crate) fn waiting(&self) -> usize {
        self.undelivered.len()
    }

    /// The inline engine's next final word.
    pub(crate) fn pop(&mut self) -> Option<FinalWord> {
        let word = match &mut self.sink {
            FinalSink::Queue(queue) => queue.pop_front(),
            FinalSink::Ring(..) => None,
        };
        self.deliver();
        word
    }

    /// Final words ready in the inline engine's queue.
    pub(crate) fn ready(&self) -> usize {
        match &self.sink {
            FinalSink::Queue(queue) => queue.len(),
            FinalSink::Ring(tx, _) => tx.len(),
        }
    }

    /// At the end: what still does not fit waits where the handles look last.
    pub(crate) fn leave_the_rest(&mut self, shared: &Shared) {
        self.deliver();
        for word in self.undelivered.drain(..) {
            shared.push_late_final(word);
        }
    }
}

/// The account's final-word part (see the module documentation).
#[derive(Debug)]
pub(crate) struct Confirmations {
    after: u64,
    timeout: u64,
    early_limit: usize,
    slots: Vec<Tracked>,
    free: Vec<u32>,
    capacity: usize,
    /// Buckets holding `slot * 2 + kind`, or `NIL`.
    index: Vec<u32>,
    mask: usize,
    in_flight: usize,
    waiting: usize,
    waiting_capacity: usize,
    early_held: usize,
    /// Query times, spot and futures apart (each has its own limit, and one waiting for its
    /// limit holds none of the other back).
    queries: [BinaryHeap<Reverse<(u64, u32, u32)>>; 2],
    deadlines: VecDeque<(u64, u32, u32)>,
    /// The tag of the query on the REST connection.
    querying: Option<u64>,
    /// Order queries per second: spot, futures (the first alone when `one_limit`).
    limits: [RateLimiter; 2],
    /// Both product lines' queries count against `limits[0]` (one endpoint for every
    /// category, as V3's).
    one_limit: bool,
    /// A live connection was lost since the last one came up.
    gap: bool,
    matched: Vec<u32>,
    pub(crate) out: FinalOut,
    window: Box<[u64]>,
    window_next: usize,
    window_len: usize,
    fresh: bool,
    scratch: Vec<u64>,
}

impl Confirmations {
    /// Room for `max_pending` intents in flight and `confirm.capacity` waiting; `window` is the
    /// pacing window of the query limits; final words go to `out`.
    pub(crate) fn new(
        confirm: &Confirm,
        dialect: Dialect,
        max_pending: usize,
        window: u64,
        out: FinalOut,
    ) -> Self {
        let waiting_capacity = confirm.capacity.max(1);
        let capacity = max_pending.max(1) + waiting_capacity;
        let buckets = (capacity * 4).next_power_of_two().max(16);
        let limit = |t| RateLimiter::new(dialect.queries_per_second(t), window);
        Confirmations {
            after: ns(confirm.after),
            timeout: ns(confirm.timeout),
            early_limit: confirm.early_pushes,
            slots: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            capacity,
            index: vec![NIL; buckets],
            mask: buckets - 1,
            in_flight: 0,
            waiting: 0,
            waiting_capacity,
            early_held: 0,
            queries: [
                BinaryHeap::with_capacity(2 * waiting_capacity),
                BinaryHeap::with_capacity(2 * waiting_capacity),
            ],
            deadlines: VecDeque::with_capacity(2 * waiting_capacity),
            querying: None,
            limits: [limit(InstType::Spot), limit(InstType::UsdtFutures)],
            one_limit: dialect.queries_share_one_limit(),
            gap: false,
            matched: Vec::with_capacity(capacity),
            out,
            window: vec![0; WINDOW].into_boxed_slice(),
            window_next: 0,
            window_len: 0,
            fresh: false,
            scratch: Vec::with_capacity(WINDOW),
        }
    }

    /// Intents followed: in flight and waiting.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.in_flight + self.waiting
    }

    /// Intents past their outcome, waiting for their final word.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting
    }

    // ----- the index -----

    fn index_insert(&mut self, slot: u32) {
        for kind in [BY_ORDER_ID, BY_CLIENT_OID] {
            let Some(key) = self.slots[slot as usize].key(kind) else {
                continue;
            };
            let mut b = key_hash(kind, key) & self.mask;
            while self.index[b] != NIL {
                b = (b + 1) & self.mask;
            }
            self.index[b] = slot * 2 + kind;
        }
    }

    fn home(&self, packed: u32) -> usize {
        let kind = packed & 1;
        let key = self.slots[(packed / 2) as usize].key(kind).unwrap_or(&[]);
        key_hash(kind, key) & self.mask
    }

    fn index_remove(&mut self, slot: u32) {
        for kind in [BY_ORDER_ID, BY_CLIENT_OID] {
            let Some(key) = self.slots[slot as usize].key(kind) else {
                continue;
            };
            let packed = slot * 2 + kind;
            let mut hole = key_hash(kind, key) & self.mask;
            while self.index[hole] != packed {
                hole = (hole + 1) & self.mask;
            }
            let mut probe = hole;
            loop {
                probe = (probe + 1) & self.mask;
                let moved = self.index[probe];
                if moved == NIL {
                    break;
                }
                let home = self.home(moved);
                // `moved` may fill the hole if its home is not in the cyclic range (hole, probe].
                let distance_home = probe.wrapping_sub(home) & self.mask;
                let distance_hole = probe.wrapping_sub(hole) & self.mask;
                if distance_home >= distance_hole {
                    self.index[hole] = moved;
                    hole = probe;
                }
            }
            self.index[hole] = NIL;
        }
    }

    /// Every followed entry keyed `kind` with these bytes that `keep` keeps, into `out`.
    fn find(&self, kind: u32, bytes: &[u8], out: &mut Vec<u32>, keep: impl Fn(&Tracked) -> bool) {
        let mut b = key_hash(kind, bytes) & self.mask;
        loop {
            let packed = self.index[b];
            if packed == NIL {
                return;
            }
            if packed & 1 == kind {
                let slot = packed / 2;
                let e = &self.slots[slot as usize];
                if e.key(kind) == Some(bytes) && keep(e) {
                    out.push(slot);
                }
            }
            b = (b + 1) & self.mask;
        }
    }

    /// The entry of the intent with arrival number `seq`, which cancels `cancel`.
    fn find_seq(&self, cancel: &Cancel, seq: u64) -> Option<u32> {
        let (kind, key) = match (cancel.order.get_order_id(), cancel.order.get_client_oid()) {
            (Some(o), _) => (BY_ORDER_ID, o.as_str().as_bytes()),
            (None, Some(c)) => (BY_CLIENT_OID, c.as_str().as_bytes()),
            (None, None) => return None,
        };
        let mut b = key_hash(kind, key) & self.mask;
        loop {
            let packed = self.index[b];
            if packed == NIL {
                return None;
            }
            let slot = packed / 2;
            let e = &self.slots[slot as usize];
            if packed & 1 == kind && e.seq == seq && e.stage != Stage::Free {
                return Some(slot);
            }
            b = (b + 1) & self.mask;
        }
    }

    // ----- an intent's life -----

    /// Follows an intent the account took in; false if there was no room (then it is
    /// unconfirmed once its outcome comes).
    pub(crate) fn track(
        &mut self,
        seq: u64,
        id: RequestId,
        cancel: &Cancel,
        accepted_ns: u64,
    ) -> bool {
        let slot = match self.free.pop() {
            Some(slot) => {
                let generation = self.slots[slot as usize].generation;
                self.slots[slot as usize] = Tracked::new(generation, seq, id, *cancel, accepted_ns);
                slot
            }
            None if self.slots.len() < self.capacity => {
                self.slots
                    .push(Tracked::new(0, seq, id, *cancel, accepted_ns));
                (self.slots.len() - 1) as u32
            }
            None => return false,
        };
        self.in_flight += 1;
        self.index_insert(slot);
        true
    }

    /// The intent with arrival number `seq` has its outcome (emitted just before), decided at
    /// `now`: forgotten if it was never `sent`, else waiting for its final word (which may be
    /// known already, from a push that came first).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn settle(
        &mut self,
        seq: u64,
        id: RequestId,
        cancel: &Cancel,
        accepted_ns: u64,
        sent: bool,
        now: u64,
        counters: &FinalCounters,
    ) {
        let slot = self.find_seq(cancel, seq);
        if !sent {
            if let Some(slot) = slot {
                self.release(slot);
            }
            return;
        }
        let Some(slot) = slot.filter(|_| self.waiting < self.waiting_capacity) else {
            if let Some(slot) = slot {
                self.release(slot);
            }
            counters.table_full.incr();
            let word = FinalWord {
                id,
                cancel: *cancel,
                state: FinalState::Unconfirmed(UnconfirmedReason::TableFull),
                filled: None,
                price_avg: None,
                cancel_reason: None,
                source: None,
                venue_time_ms: None,
                times: FinalTimes {
                    accepted_ns,
                    settled_ns: now,
                    final_ns: now,
                },
            };
            Self::count(&word, counters);
            self.out.emit(word, counters);
            return;
        };
        let (after, timeout) = (self.after, self.timeout);
        let e = &mut self.slots[slot as usize];
        if e.early {
            e.early = false;
            self.early_held -= 1;
        }
        e.stage = Stage::Waiting;
        e.settled_ns = now;
        e.deadline_ns = now.saturating_add(timeout);
        self.in_flight -= 1;
        self.waiting += 1;
        if let Some(state) = e.word.and_then(|w| w.state()) {
            self.finalize(slot, state, now, counters);
            return;
        }
        let (generation, deadline, gap) = (e.generation, e.deadline_ns, e.gap);
        self.push_deadline(deadline, slot, generation);
        self.schedule(slot, if gap { now } else { now.saturating_add(after) });
    }

    /// What the venue said about an order, pushed on the order channel.
    pub(crate) fn on_push(&mut self, update: OrderUpdate, now: u64, counters: &FinalCounters) {
        counters.pushes_received.incr();
        let mut matched = std::mem::take(&mut self.matched);
        matched.clear();
        if let Some(order_id) = &update.order_id {
            self.find(
                BY_ORDER_ID,
                order_id.as_str().as_bytes(),
                &mut matched,
                |e| e.stage != Stage::Free,
            );
        }
        if let Some(client_oid) = &update.client_oid {
            let by_oid_alone = update.order_id.is_none();
            self.find(
                BY_CLIENT_OID,
                client_oid.as_str().as_bytes(),
                &mut matched,
                |e| {
                    e.stage != Stage::Free
                        && (by_oid_alone || e.cancel.order.get_order_id().is_none())
                        && update.inst_type.is_none_or(|t| t == e.cancel.inst_type)
                },
            );
        }
        if matched.is_empty() {
            counters.pushes_unmatched.incr();
        } else {
            counters.pushes_matched.incr();
        }
        for &slot in &matched {
            self.apply(slot, update, FinalSource::Push, now, counters);
        }
        self.matched = matched;
    }

    /// Records `update` as the latest word on the entry in `slot` if it supersedes the last;
    /// a final word on an entry waiting for it is delivered now.
    fn apply(
        &mut self,
        slot: u32,
        update: OrderUpdate,
        source: FinalSource,
        now: u64,
        counters: &FinalCounters,
    ) {
        let word = Word { update, source };
        let e = &mut self.slots[slot as usize];
        match e.stage {
            Stage::Free => {}
            Stage::InFlight => {
                if !e.early {
                    if self.early_held >= self.early_limit {
                        counters.pushes_dropped.incr();
                        return;
                    }
                    e.early = true;
                    self.early_held += 1;
                }
                counters.pushes_before_reply.incr();
                if e.word.is_none_or(|old| word.supersedes(&old)) {
                    e.word = Some(word);
                }
            }
            Stage::Waiting => {
                if e.word.is_none_or(|old| word.supersedes(&old)) {
                    e.word = Some(word);
                }
                if let Some(state) = e.word.and_then(|w| w.state()) {
                    self.finalize(slot, state, now, counters);
                }
            }
        }
    }

    /// A connection that was live is gone: pushes may be lost until one is back.
    pub(crate) fn on_link_lost(&mut self) {
        self.gap = true;
    }

    /// A connection logged in (and subscribed): after a loss, what is pending is asked after
    /// over REST at once, since its pushes may have been lost meanwhile.
    pub(crate) fn on_link_live(&mut self, now: u64) {
        if !std::mem::take(&mut self.gap) {
            return;
        }
        for slot in 0..self.slots.len() as u32 {
            match self.slots[slot as usize].stage {
                Stage::InFlight => self.slots[slot as usize].gap = true,
                Stage::Waiting if self.querying.is_none_or(|t| tag_slot(t) != slot) => {
                    self.schedule(slot, now);
                }
                _ => {}
            }
        }
    }

    // ----- REST -----

    fn schedule(&mut self, slot: u32, at: u64) {
        let e = &mut self.slots[slot as usize];
        e.query_at = at.max(1);
        let item = Reverse((e.query_at, slot, e.generation));
        let heap = &mut self.queries[usize::from(e.cancel.inst_type.is_futures())];
        if heap.len() == heap.capacity() {
            let slots = &self.slots;
            heap.retain(|Reverse((at, s, g))| {
                let e = &slots[*s as usize];
                e.generation == *g && e.stage == Stage::Waiting && e.query_at == *at
            });
        }
        heap.push(item);
    }

    fn push_deadline(&mut self, at: u64, slot: u32, generation: u32) {
        if self.deadlines.len() == self.deadlines.capacity() {
            let slots = &self.slots;
            self.deadlines.retain(|&(_, s, g)| {
                let e = &slots[s as usize];
                e.generation == g && e.stage == Stage::Waiting
            });
        }
        self.deadlines.push_back((at, slot, generation));
    }

    /// The account now speaks `dialect`: its order queries keep to that dialect's limits from
    /// now on, counting the queries already sent.
    pub(crate) fn use_dialect(&mut self, dialect: Dialect) {
        for (class, inst_type) in [(0, InstType::Spot), (1, InstType::UsdtFutures)] {
            self.limits[class].set_limit(dialect.queries_per_second(inst_type));
        }
        self.one_limit = dialect.queries_share_one_limit();
    }

    /// The limit the queries of product-line class `class` count against.
    fn limit(&self, class: usize) -> &RateLimiter {
        &self.limits[if self.one_limit { 0 } else { class }]
    }

    /// The next query due by `now` within its product line's limit, if none is on the REST
    /// connection: its tag and the cancel whose order it asks about. Call
    /// [`Self::query_sent`] or [`Self::on_query_failed`] with the tag next.
    pub(crate) fn take_due_query(&mut self, now: u64) -> Option<(u64, Cancel)> {
        if self.querying.is_some() {
            return None;
        }
        // The earlier due of the two product-line classes whose limit allows one now.
        let mut best: Option<(u64, usize)> = None;
        for class in 0..2 {
            if !self.limit(class).is_ready(now) {
                continue;
            }
            if let Some(at) = self.front_query(class)
                && at <= now
                && best.is_none_or(|(b, _)| at < b)
            {
                best = Some((at, class));
            }
        }
        let (_, class) = best?;
        let Reverse((_, slot, generation)) = self.queries[class].pop()?;
        let e = &mut self.slots[slot as usize];
        e.query_at = 0;
        Some((u64::from(generation) << 32 | u64::from(slot), e.cancel))
    }

    /// The due time of the first current query of a class, dropping stale ones.
    fn front_query(&mut self, class: usize) -> Option<u64> {
        while let Some(&Reverse((at, slot, generation))) = self.queries[class].peek() {
            let e = &self.slots[slot as usize];
            if e.generation == generation && e.stage == Stage::Waiting && e.query_at == at {
                return Some(at);
            }
            self.queries[class].pop();
        }
        None
    }

    /// The query with `tag` went out at `now`.
    pub(crate) fn query_sent(&mut self, tag: u64, inst_type: InstType, now: u64) {
        let class = if self.one_limit {
            0
        } else {
            usize::from(inst_type.is_futures())
        };
        self.limits[class].record(now);
        self.querying = Some(tag);
        if let Some(e) = self.entry_of(tag) {
            e.queries = e.queries.saturating_add(1);
        }
    }

    fn entry_of(&mut self, tag: u64) -> Option<&mut Tracked> {
        let (slot, generation) = (tag_slot(tag), (tag >> 32) as u32);
        self.slots
            .get_mut(slot as usize)
            .filter(|e| e.generation == generation && e.stage == Stage::Waiting)
    }

    /// Asks again later, with a delay that doubles with each query: `after`, `2 x after`, ...
    /// None past the deadline, which decides then.
    fn retry(&mut self, slot: u32, now: u64) {
        let after = self.after;
        let e = &self.slots[slot as usize];
        let shift = u32::from(e.queries.saturating_sub(1)).min(MAX_BACKOFF_SHIFT);
        let at = now.saturating_add(after << shift);
        if at < e.deadline_ns {
            self.schedule(slot, at);
        }
    }

    /// The venue's answer to the query with `tag`.
    pub(crate) fn on_query_answer(
        &mut self,
        tag: u64,
        answer: OrderAnswer,
        now: u64,
        counters: &FinalCounters,
    ) {
        counters.queries_answered.incr();
        if self.querying == Some(tag) {
            self.querying = None;
        }
        let slot = tag_slot(tag);
        let Some(e) = self.entry_of(tag) else {
            return;
        };
        match answer {
            OrderAnswer::Found(update) => {
                e.not_found = 0;
                self.apply(slot, update, FinalSource::Rest, now, counters);
                if self.entry_of(tag).is_some() {
                    self.retry(slot, now);
                }
            }
            OrderAnswer::NotFound { .. } => {
                e.not_found = e.not_found.saturating_add(1);
                let not_found = e.not_found;
                if not_found >= NOT_FOUND_TIMES {
                    let state = FinalState::Unconfirmed(UnconfirmedReason::NotFound);
                    self.finalize(slot, state, now, counters);
                } else {
                    self.retry(slot, now);
                }
            }
            OrderAnswer::Refused { code, msg } => {
                crate::relay::log_debug!("the venue refused an order query: {code} {msg}");
                self.retry(slot, now);
            }
        }
    }

    /// The query with `tag` got no answer (or could not be sent).
    pub(crate) fn on_query_failed(&mut self, tag: u64, now: u64, counters: &FinalCounters) {
        counters.queries_failed.incr();
        if self.querying == Some(tag) {
            self.querying = None;
        }
        if self.entry_of(tag).is_some() {
            self.retry(tag_slot(tag), now);
        }
    }

    // ----- time -----

    /// Delivers the final word of every intent whose time is up; true if there was any.
    pub(crate) fn expire(&mut self, now: u64, counters: &FinalCounters) -> bool {
        let mut work = false;
        while let Some(&(at, slot, generation)) = self.deadlines.front() {
            if at > now {
                break;
            }
            self.deadlines.pop_front();
            let e = &self.slots[slot as usize];
            if e.generation != generation || e.stage != Stage::Waiting {
                continue;
            }
            let state = match e.word {
                Some(w) if !w.update.status.is_final() => FinalState::Live,
                _ if e.not_found > 0 => FinalState::Unconfirmed(UnconfirmedReason::NotFound),
                _ => FinalState::Unconfirmed(UnconfirmedReason::Timeout),
            };
            self.finalize(slot, state, now, counters);
            work = true;
        }
        work
    }

    /// The earliest time something is due: a deadline, or (when the REST connection can take
    /// one, `query_ready`) a query within its limit.
    pub(crate) fn next_deadline(&self, now: u64, query_ready: bool) -> u64 {
        let mut t = self.deadlines.front().map_or(u64::MAX, |d| d.0);
        if query_ready && self.querying.is_none() {
            for class in 0..2 {
                if let Some(&Reverse((at, _, _))) = self.queries[class].peek() {
                    t = t.min(at.max(self.limit(class).ready_at()));
                }
            }
        }
        if self.out.waiting() != 0 {
            // Nothing says when the caller makes room in the ring.
            t = t.min(now + 1_000_000);
        }
        t
    }

    /// Shutdown: every intent still waiting is unconfirmed.
    pub(crate) fn finish(&mut self, now: u64, counters: &FinalCounters) {
        for slot in 0..self.slots.len() as u32 {
            match self.slots[slot as usize].stage {
                Stage::Waiting => {
                    let state = FinalState::Unconfirmed(UnconfirmedReason::Shutdown);
                    self.finalize(slot, state, now, counters);
                }
                Stage::InFlight => self.release(slot),
                Stage::Free => {}
            }
        }
    }

    // ----- the final word -----

    fn count(word: &FinalWord, c: &FinalCounters) {
        match word.state {
            FinalState::Cancelled => c.cancelled.incr(),
            FinalState::Filled => c.filled.incr(),
            FinalState::Live => c.live.incr(),
            FinalState::Unconfirmed(_) => c.unconfirmed.incr(),
        }
        match word.source {
            Some(FinalSource::Push) => c.by_push.incr(),
            Some(FinalSource::Rest) => c.by_rest.incr(),
            None => {}
        }
    }

    /// Delivers the final word of the entry in `slot`, and forgets it.
    fn finalize(&mut self, slot: u32, state: FinalState, now: u64, counters: &FinalCounters) {
        let e = self.slots[slot as usize];
        let word = match state {
            FinalState::Unconfirmed(_) => None,
            _ => e.word,
        };
        let update = word.map(|w| w.update);
        let final_word = FinalWord {
            id: e.id,
            cancel: e.cancel,
            state,
            filled: update.and_then(|u| u.filled),
            price_avg: update.and_then(|u| u.price_avg),
            cancel_reason: update.and_then(|u| u.cancel_reason),
            source: word.map(|w| w.source),
            venue_time_ms: update.and_then(|u| u.updated_ms),
            times: FinalTimes {
                accepted_ns: e.accepted_ns,
                settled_ns: e.settled_ns,
                final_ns: now,
            },
        };
        if word.is_some() {
            self.record(now.saturating_sub(e.settled_ns));
        }
        self.release(slot);
        Self::count(&final_word, counters);
        self.out.emit(final_word, counters);
    }

    fn release(&mut self, slot: u32) {
        self.index_remove(slot);
        let e = &mut self.slots[slot as usize];
        if e.early {
            self.early_held -= 1;
        }
        match e.stage {
            Stage::InFlight => self.in_flight -= 1,
            Stage::Waiting => self.waiting -= 1,
            Stage::Free => return,
        }
        e.stage = Stage::Free;
        e.generation = e.generation.wrapping_add(1);
        e.word = None;
        e.early = false;
        e.gap = false;
        e.query_at = 0;
        self.free.push(slot);
    }

    // ----- figures -----

    fn record(&mut self, ns: u64) {
        self.window[self.window_next] = ns;
        self.window_next = (self.window_next + 1) % WINDOW;
        self.window_len = (self.window_len + 1).min(WINDOW);
        self.fresh = true;
    }

    /// Publishes the reply-to-final percentiles, if final words came since the last time.
    pub(crate) fn publish(&mut self, counters: &FinalCounters) {
        if !self.fresh || self.window_len == 0 {
            return;
        }
        self.fresh = false;
        self.scratch.clear();
        self.scratch
            .extend_from_slice(&self.window[..self.window_len]);
        self.scratch.sort_unstable();
        let n = self.window_len;
        let at = |q: usize| self.scratch[(n * q / 100).min(n - 1)];
        counters.p50_ns.set(at(50));
        counters.p90_ns.set(at(90));
        counters.p99_ns.set(at(99));
        counters.max_ns.set(self.scratch[n - 1]);
    }
}

fn tag_slot(tag: u64) -> u32 {
    tag as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::final_word::Decimal;
    use crate::intent::{ClientOid, InstId, OrderId, OrderRef};
    use crate::outcome::VenueMsg;

    const MS: u64 = 1_000_000;
    /// Far from 0, which some fields read as "none".
    const T0: u64 = 1_000 * MS;

    fn confirmations(tune: impl FnOnce(&mut Confirm)) -> Confirmations {
        confirmations_in(Dialect::V2, tune)
    }

    fn confirmations_in(dialect: Dialect, tune: impl FnOnce(&mut Confirm)) -> Confirmations {
        let mut confirm = Confirm::default();
        tune(&mut confirm);
        Confirmations::new(
            &confirm,
            dialect,
            8,
            1_050 * MS,
            FinalOut::queue(confirm.capacity),
        )
    }

    /// Sends every query due at `now` within the limits, each failing at once: the product
    /// lines asked, in order.
    fn ask_due(c: &mut Confirmations, now: u64, k: &FinalCounters) -> Vec<InstType> {
        let mut asked = Vec::new();
        while let Some((tag, cancel)) = c.take_due_query(now) {
            c.query_sent(tag, cancel.inst_type, now);
            c.on_query_failed(tag, now, k);
            asked.push(cancel.inst_type);
        }
        asked
    }

    fn cancel(order: &str, oid: Option<&str>) -> Cancel {
        Cancel::new(
            InstType::Spot,
            InstId::new("BTCUSDT").unwrap(),
            OrderRef::from_parts(Some(order), oid).unwrap(),
        )
    }

    fn by_oid(oid: &str, inst_type: InstType) -> Cancel {
        Cancel::new(
            inst_type,
            InstId::new("BTCUSDT").unwrap(),
            OrderRef::client_oid(oid).unwrap(),
        )
    }

    fn push(
        order: Option<&str>,
        oid: Option<&str>,
        status: OrderStatus,
        filled: &str,
    ) -> OrderUpdate {
        OrderUpdate {
            inst_type: Some(InstType::Spot),
            order_id: order.map(|o| OrderId::new(o).unwrap()),
            client_oid: oid.map(|c| ClientOid::new(c).unwrap()),
            status,
            filled: Decimal::new(filled),
            price_avg: None,
            cancel_reason: None,
            updated_ms: None,
        }
    }

    /// Follows an intent cancelling `cancel` as arrival `seq`, accepted at `T0`.
    fn take(c: &mut Confirmations, seq: u64, cancel: &Cancel) {
        assert!(c.track(seq, RequestId::from_u64(seq), cancel, T0));
    }

    fn settle(c: &mut Confirmations, seq: u64, cancel: &Cancel, now: u64, k: &FinalCounters) {
        c.settle(seq, RequestId::from_u64(seq), cancel, T0, true, now, k);
    }

    fn finals(c: &mut Confirmations) -> Vec<FinalWord> {
        std::iter::from_fn(|| c.out.pop()).collect()
    }

    #[test]
    fn a_final_push_after_the_reply_is_the_final_word_at_once() {
        let k = FinalCounters::default();
        let mut c = confirmations(|_| {});
        let order = cancel("11", None);
        take(&mut c, 1, &order);
        settle(&mut c, 1, &order, T0 + MS, &k);
        assert!(finals(&mut c).is_empty());
        c.on_push(
            push(Some("11"), None, OrderStatus::Cancelled, "0.25"),
            T0 + 3 * MS,
            &k,
        );
        let words = finals(&mut c);
        assert_eq!(words.len(), 1);
        let w = words[0];
        assert_eq!(
            (w.state, w.source),
            (FinalState::Cancelled, Some(FinalSource::Push))
        );
        assert_eq!(w.filled.map(|d| d.to_string()).as_deref(), Some("0.25"));
        assert_eq!(w.times.since_settled_ns(), 2 * MS);
        assert_eq!(w.times.since_accepted_ns(), 3 * MS);
        assert_eq!(c.len(), 0);
        let s = k.snapshot_for_test();
        assert_eq!((s.0, s.1, s.2), (1, 1, 0), "received, matched, unmatched");
    }

    #[test]
    fn a_push_before_the_reply_is_kept_and_given_when_the_reply_comes() {
        let k = FinalCounters::default();
        let mut c = confirmations(|_| {});
        let order = cancel("12", Some("c-12"));
        take(&mut c, 1, &order);
        c.on_push(
            push(Some("12"), Some("c-12"), OrderStatus::Filled, "1"),
            T0 + MS,
            &k,
        );
        assert!(finals(&mut c).is_empty(), "never before the outcome");
        settle(&mut c, 1, &order, T0 + 2 * MS, &k);
        let w = finals(&mut c);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].state, FinalState::Filled);
        assert_eq!(k.pushes_before_reply.get(), 1);
    }

    #[test]
    fn early_pushes_beyond_the_limit_are_dropped_and_counted_and_rest_answers() {
        let k = FinalCounters::default();
        let mut c = confirmations(|c| c.early_pushes = 1);
        let (a, b) = (cancel("1", None), cancel("2", None));
        take(&mut c, 1, &a);
        take(&mut c, 2, &b);
        c.on_push(push(Some("1"), None, OrderStatus::Cancelled, "0"), T0, &k);
        c.on_push(push(Some("2"), None, OrderStatus::Cancelled, "0"), T0, &k);
        // A second push for the entry already holding one is no new holder: kept.
        c.on_push(push(Some("1"), None, OrderStatus::Cancelled, "0"), T0, &k);
        assert_eq!(
            (k.pushes_before_reply.get(), k.pushes_dropped.get()),
            (2, 1)
        );
        settle(&mut c, 1, &a, T0 + MS, &k);
        settle(&mut c, 2, &b, T0 + MS, &k);
        let w = finals(&mut c);
        assert_eq!(w.len(), 1, "the kept push answers its intent at once");
        assert_eq!(w[0].id.as_str(), "1");
        // The other is asked after over REST, confirm_after later.
        assert_eq!(c.take_due_query(T0 + MS + 999 * MS), None);
        let (tag, asked) = c.take_due_query(T0 + 1001 * MS).expect("a query is due");
        assert_eq!(asked, b);
        c.query_sent(tag, InstType::Spot, T0 + 1001 * MS);
        let answer = OrderAnswer::Found(push(Some("2"), None, OrderStatus::Cancelled, "0"));
        c.on_query_answer(tag, answer, T0 + 1002 * MS, &k);
        let w = finals(&mut c);
        assert_eq!(
            (w[0].id.as_str(), w[0].state, w[0].source),
            ("2", FinalState::Cancelled, Some(FinalSource::Rest))
        );
    }

    #[test]
    fn a_live_push_keeps_the_intent_waiting_and_at_the_timeout_it_is_live() {
        let k = FinalCounters::default();
        let mut c = confirmations(|_| {});
        let order = cancel("13", None);
        take(&mut c, 1, &order);
        settle(&mut c, 1, &order, T0, &k);
        c.on_push(
            push(Some("13"), None, OrderStatus::PartiallyFilled, "0.1"),
            T0 + MS,
            &k,
        );
        assert!(
            finals(&mut c).is_empty(),
            "an open order is no final word yet"
        );
        // The queries say the same: still open.
        for at in [1_000, 2_000, 4_000] {
            let now = T0 + at * MS;
            let (tag, _) = c.take_due_query(now).expect("a query at 1, 2 and 4 s");
            c.query_sent(tag, InstType::Spot, now);
            let open = push(Some("13"), None, OrderStatus::PartiallyFilled, "0.1");
            c.on_query_answer(tag, OrderAnswer::Found(open), now, &k);
        }
        assert!(
            c.take_due_query(T0 + 4_999 * MS).is_none(),
            "none past the deadline"
        );
        assert!(!c.expire(T0 + 4_999 * MS, &k));
        assert!(c.expire(T0 + 5_000 * MS, &k));
        let w = finals(&mut c);
        assert_eq!(w[0].state, FinalState::Live);
        assert_eq!(w[0].filled.map(|d| d.to_string()).as_deref(), Some("0.1"));
        assert_eq!(w[0].source, Some(FinalSource::Rest));
    }

    #[test]
    fn no_word_at_all_is_unconfirmed_at_the_timeout_and_not_found_twice_at_once() {
        let k = FinalCounters::default();
        let mut c = confirmations(|_| {});
        let (silent, unknown) = (cancel("14", None), cancel("15", None));
        take(&mut c, 1, &silent);
        take(&mut c, 2, &unknown);
        settle(&mut c, 1, &silent, T0, &k);
        settle(&mut c, 2, &unknown, T0, &k);
        for round in 0..2 {
            let now = T0 + (1_000 + round * 1_000) * MS;
            // The queries of both go out one at a time; the silent one's fail.
            for _ in 0..2 {
                let (tag, asked) = c.take_due_query(now).expect("due");
                c.query_sent(tag, InstType::Spot, now);
                if asked == silent {
                    c.on_query_failed(tag, now, &k);
                } else {
                    c.on_query_answer(tag, OrderAnswer::NotFound { code: 43001 }, now, &k);
                }
            }
        }
        let w = finals(&mut c);
        assert_eq!(w.len(), 1);
        assert_eq!(
            (w[0].id.as_str(), w[0].state),
            ("2", FinalState::Unconfirmed(UnconfirmedReason::NotFound))
        );
        c.expire(T0 + 5_000 * MS, &k);
        let w = finals(&mut c);
        assert_eq!(
            (w[0].id.as_str(), w[0].state, w[0].source, w[0].filled),
            (
                "1",
                FinalState::Unconfirmed(UnconfirmedReason::Timeout),
                None,
                None
            )
        );
        assert_eq!(k.queries_failed.get(), 2);
    }

    #[test]
    fn a_second_cancel_of_the_same_order_gets_its_own_final_word_from_the_same_push() {
        let k = FinalCounters::default();
        let mut c = confirmations(|_| {});
        let order = cancel("16", None);
        take(&mut c, 1, &order);
        take(&mut c, 2, &order);
        settle(&mut c, 2, &order, T0, &k);
        settle(&mut c, 1, &order, T0 + MS, &k);
        c.on_push(
            push(Some("16"), None, OrderStatus::Cancelled, "0"),
            T0 + 2 * MS,
            &k,
        );
        let mut ids: Vec<String> = finals(&mut c).iter().map(|w| w.id.to_string()).collect();
        ids.sort();
        assert_eq!(ids, ["1", "2"]);
        // A copy of the push on another connection finds nobody: ignored, counted.
        c.on_push(
            push(Some("16"), None, OrderStatus::Cancelled, "0"),
            T0 + 3 * MS,
            &k,
        );
        assert_eq!((k.pushes_matched.get(), k.pushes_unmatched.get()), (1, 1));
    }

    #[test]
    fn by_client_oid_a_push_matches_on_its_product_line_only() {
        let k = FinalCounters::default();
        let mut c = confirmations(|_| {});
        let futures = by_oid("grid-1", InstType::UsdtFutures);
        take(&mut c, 1, &futures);
        settle(&mut c, 1, &futures, T0, &k);
        // A spot order with the same client id is another order.
        c.on_push(
            push(Some("99"), Some("grid-1"), OrderStatus::Filled, "1"),
            T0,
            &k,
        );
        assert!(finals(&mut c).is_empty());
        let mut on_futures = push(Some("98"), Some("grid-1"), OrderStatus::Cancelled, "0");
        on_futures.inst_type = Some(InstType::UsdtFutures);
        c.on_push(on_futures, T0 + MS, &k);
        assert_eq!(finals(&mut c)[0].state, FinalState::Cancelled);
    }

    #[test]
    fn an_intent_never_sent_is_forgotten_without_a_final_word() {
        let k = FinalCounters::default();
        let mut c = confirmations(|_| {});
        let order = cancel("17", None);
        take(&mut c, 1, &order);
        c.settle(1, RequestId::from_u64(1), &order, T0, false, T0, &k);
        assert!(finals(&mut c).is_empty());
        assert_eq!(c.len(), 0);
        c.on_push(push(Some("17"), None, OrderStatus::Cancelled, "0"), T0, &k);
        assert_eq!(k.pushes_unmatched.get(), 1);
    }

    #[test]
    fn a_full_table_makes_the_newcomer_unconfirmed_at_once_and_counts_it() {
        let k = FinalCounters::default();
        let mut c = confirmations(|c| c.capacity = 1);
        let (a, b) = (cancel("1", None), cancel("2", None));
        take(&mut c, 1, &a);
        take(&mut c, 2, &b);
        settle(&mut c, 1, &a, T0, &k);
        settle(&mut c, 2, &b, T0 + MS, &k);
        let w = finals(&mut c);
        assert_eq!(
            (w.len(), w[0].id.as_str(), w[0].state),
            (
                1,
                "2",
                FinalState::Unconfirmed(UnconfirmedReason::TableFull)
            )
        );
        assert_eq!((k.table_full.get(), c.waiting()), (1, 1));
        // The first still gets its word.
        c.on_push(
            push(Some("1"), None, OrderStatus::Cancelled, "0"),
            T0 + 2 * MS,
            &k,
        );
        assert_eq!(finals(&mut c)[0].id.as_str(), "1");
    }

    #[test]
    fn after_a_lost_connection_comes_back_what_is_pending_is_asked_after_at_once() {
        let k = FinalCounters::default();
        let mut c = confirmations(|_| {});
        let (waiting, in_flight) = (cancel("1", None), cancel("2", None));
        take(&mut c, 1, &waiting);
        take(&mut c, 2, &in_flight);
        settle(&mut c, 1, &waiting, T0, &k);
        c.on_link_lost();
        c.on_link_live(T0 + 10 * MS);
        let (tag, asked) = c.take_due_query(T0 + 10 * MS).expect("due at once");
        assert_eq!(asked, waiting);
        c.query_sent(tag, InstType::Spot, T0 + 10 * MS);
        c.on_query_failed(tag, T0 + 11 * MS, &k);
        settle(&mut c, 2, &in_flight, T0 + 20 * MS, &k);
        let (_, asked) = c.take_due_query(T0 + 20 * MS).expect("due at its outcome");
        assert_eq!(asked, in_flight);
        // Without a loss, a connection logging in changes nothing.
        c.on_link_live(T0 + 30 * MS);
        assert!(c.take_due_query(T0 + 30 * MS).is_none());
    }

    #[test]
    fn queries_keep_to_the_product_lines_limit() {
        let k = FinalCounters::default();
        let mut c = confirmations(|c| c.capacity = 64);
        for n in 1..=30u64 {
            let order = cancel(&n.to_string(), None);
            take(&mut c, n, &order);
            settle(&mut c, n, &order, T0, &k);
        }
        let now = T0 + 1_000 * MS;
        let mut sent = 0;
        while let Some((tag, _)) = c.take_due_query(now) {
            c.query_sent(tag, InstType::Spot, now);
            c.on_query_answer(
                tag,
                OrderAnswer::Refused {
                    code: 429,
                    msg: VenueMsg::new(""),
                },
                now,
                &k,
            );
            sent += 1;
        }
        assert_eq!(sent, 20, "20 spot queries a second");
        assert!(c.next_deadline(now, true) > now);
    }

    #[test]
    fn after_a_switch_to_the_unified_account_queries_keep_to_its_limit() {
        let k = FinalCounters::default();
        let mut c = confirmations(|c| c.capacity = 64);
        for n in 1..=30u64 {
            let order = cancel(&n.to_string(), None);
            take(&mut c, n, &order);
            settle(&mut c, n, &order, T0, &k);
        }
        c.use_dialect(Dialect::V3);
        let now = T0 + 1_000 * MS;
        assert_eq!(
            ask_due(&mut c, now, &k).len(),
            Dialect::V3.queries_per_second(InstType::Spot) as usize,
            "V3's order-info limit, not V2 spot's 20"
        );
        assert!(Dialect::V3.queries_per_second(InstType::Spot) < 20);
    }

    #[test]
    fn a_unified_accounts_queries_of_every_product_line_share_one_limit() {
        let k = FinalCounters::default();
        let mut c = confirmations_in(Dialect::V3, |c| c.capacity = 64);
        for n in 1..=20u64 {
            let inst_type = if n % 2 == 0 {
                InstType::UsdtFutures
            } else {
                InstType::Spot
            };
            let order = by_oid(&n.to_string(), inst_type);
            take(&mut c, n, &order);
            settle(&mut c, n, &order, T0, &k);
        }
        let now = T0 + 1_000 * MS;
        let asked = ask_due(&mut c, now, &k);
        assert_eq!(
            asked.len(),
            Dialect::V3.queries_per_second(InstType::Spot) as usize,
            "one limit for spot and futures together: {asked:?}"
        );
        // Apart, the ten futures queries would have gone too.
        assert!(c.next_deadline(now, true) > now);
    }

    #[test]
    fn futures_queries_held_by_their_limit_hold_no_spot_query_back() {
        let k = FinalCounters::default();
        let mut c = confirmations(|c| c.capacity = 64);
        let futures = |n: u64| {
            Cancel::new(
                InstType::UsdtFutures,
                InstId::new("BTCUSDT").unwrap(),
                OrderRef::order_id(&n.to_string()).unwrap(),
            )
        };
        for n in 1..=11u64 {
            take(&mut c, n, &futures(n));
            settle(&mut c, n, &futures(n), T0, &k);
        }
        let spot_order = cancel("99", None);
        take(&mut c, 99, &spot_order);
        settle(&mut c, 99, &spot_order, T0 + MS, &k);
        let now = T0 + 1_010 * MS;
        let asked = ask_due(&mut c, now, &k);
        assert_eq!(asked.len(), 11, "10 futures a second, and the spot one");
        assert_eq!(asked.last(), Some(&InstType::Spot), "{asked:?}");
    }

    #[test]
    fn final_words_nobody_reads_wait_in_order_then_are_dropped_and_counted() {
        let k = FinalCounters::default();
        // Room for one in the queue and one waiting for room.
        let mut c = confirmations(|c| c.capacity = 1);
        for n in 1..=3u64 {
            let order = cancel(&n.to_string(), None);
            take(&mut c, n, &order);
            settle(&mut c, n, &order, T0, &k);
            c.on_push(
                push(Some(&n.to_string()), None, OrderStatus::Cancelled, "0"),
                T0,
                &k,
            );
        }
        assert_eq!(k.undelivered.get(), 1, "the third found no room");
        assert_eq!(k.cancelled.get(), 3, "counted as decided");
        assert_eq!(
            c.next_deadline(T0, false),
            T0 + MS,
            "looked at again, no spin"
        );
        let ids: Vec<String> = finals(&mut c).iter().map(|w| w.id.to_string()).collect();
        assert_eq!(ids, ["1", "2"], "in order");
        assert!(
            c.next_deadline(T0, false) > T0 + MS,
            "nothing waits for room"
        );
    }

    #[test]
    fn shutdown_makes_every_waiting_intent_unconfirmed() {
        let k = FinalCounters::default();
        let mut c = confirmations(|_| {});
        let order = cancel("1", None);
        take(&mut c, 1, &order);
        settle(&mut c, 1, &order, T0, &k);
        c.finish(T0 + MS, &k);
        assert_eq!(
            finals(&mut c)[0].state,
            FinalState::Unconfirmed(UnconfirmedReason::Shutdown)
        );
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn the_index_finds_every_entry_through_many_removals() {
        let k = FinalCounters::default();
        let mut c = confirmations(|c| c.capacity = 8);
        let mut live: Vec<u64> = Vec::new();
        let mut state = 0x2545_f491u64;
        for seq in 1..3_000u64 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            if live.len() == 8 || (!live.is_empty() && (state >> 33) % 3 == 0) {
                let n = live.swap_remove(((state >> 40) as usize) % live.len());
                // Keys collide on purpose: a few orders, many intents.
                let order = cancel(&(n % 5).to_string(), Some(&format!("c{n}")));
                c.settle(n, RequestId::from_u64(n), &order, T0, false, T0, &k);
            } else {
                let order = cancel(&(seq % 5).to_string(), Some(&format!("c{seq}")));
                take(&mut c, seq, &order);
                live.push(seq);
            }
            for &n in &live {
                let order = cancel(&(n % 5).to_string(), Some(&format!("c{n}")));
                assert!(c.find_seq(&order, n).is_some(), "{n} lost at {seq}");
            }
        }
    }

    impl FinalCounters {
        fn snapshot_for_test(&self) -> (u64, u64, u64) {
            (
                self.pushes_received.get(),
                self.pushes_matched.get(),
                self.pushes_unmatched.get(),
            )
        }
    }
}
