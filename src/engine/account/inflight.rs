//! Every intent the engine holds, from the moment it leaves the intent ring until its outcome is
//! decided: waiting to be sent (highest priority first, then arrival order: `waiting.rs`) or in
//! flight (in order of its latest send).
//!
//! An intent in flight holds up to [`MAX_ATTEMPTS`] attempts: each send of the cancel (the first,
//! a hedge on another connection, a re-send after its connection was lost or after a transient
//! answer) goes out under a wire id of its own ([`WireIds`](crate::engine::wire_id::WireIds):
//! the engine's prefix and a send number never used before), and a reply to a live attempt
//! settles the intent. The caller's id, if any, is only the label its outcome carries.
//!
//! All storage is allocated once, in [`InflightTable::new`]. Intents live in fixed slots taken from
//! a free list. An open-addressing index (linear probing, backward-shift deletion, at most half
//! full) maps each WebSocket attempt's send number to its slot and attempt number; the number is
//! its own hash, so consecutive sends land in consecutive buckets and a reply is found with one
//! probe. The slots in flight form a doubly linked list ordered by their latest send, so the
//! first to time out is at its head; a reply or a re-send moves a slot in O(1).
//!
//! A REST batch takes waiting intents from anywhere in the queue (`send_queued`): each gets one
//! attempt on the REST path, and the batch's reply settles each by its own entry (the batch
//! knows its intents' slots: `account/burst.rs`).

use super::waiting::WaitQueue;
use crate::intent::{Cancel, RequestId};
use crate::outcome::{VenueMsg, Via};

const NIL: u32 = u32::MAX;

/// The most sends one intent gets: the first, then hedges and re-sends.
pub(crate) const MAX_ATTEMPTS: usize = 4;

/// Where an intent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    Free,
    Queued,
    InFlight,
}

/// Where one send of an intent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptState {
    /// Not used.
    Empty,
    /// Sent; its reply may come.
    Live,
    /// No reply can come from it any more: its connection is gone (it may or may not have
    /// reached the venue). A reply naming it matches nothing.
    Dead,
    /// Answered with a transient refusal (a rate limit, overload, a timeout): the venue did not
    /// process it. A reply naming it matches nothing.
    Refused,
}

/// Why this attempt was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AttemptKind {
    First,
    /// Sent again because the first got no reply within the hedge delay, or because its
    /// connection showed trouble.
    Hedge,
    /// Sent again because the connection it was on was lost or stalled.
    Failover,
    /// Sent again after a transient answer (rate limit, overload, timeout).
    Retry,
}

/// One send of an intent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt {
    /// The send number its wire id carries (0: none; REST requests carry no id).
    pub wire: u64,
    pub state: AttemptState,
    pub kind: AttemptKind,
    /// The path it went out on (a connection slot, or the REST rung), and that connection's
    /// generation.
    pub link: u8,
    pub generation: u32,
    /// When it was encoded.
    pub sent_ns: u64,
    /// The id's bucket in the index if nothing collided; `NIL` when it is not indexed.
    home: u32,
}

impl Attempt {
    const EMPTY: Attempt = Attempt {
        wire: 0,
        state: AttemptState::Empty,
        kind: AttemptKind::First,
        link: 0,
        generation: 0,
        sent_ns: 0,
        home: NIL,
    };
}

/// A transient answer an intent got: what its outcome says if no path is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transient {
    pub code: i64,
    pub msg: VenueMsg,
    /// The path it came on.
    pub via: Via,
}

/// One held intent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    /// What the outcome is labelled with: the caller's id, or the first send's wire id.
    pub id: RequestId,
    /// The send number of the first attempt, drawn when the intent was accepted.
    pub first_wire: u64,
    pub cancel: Cancel,
    pub accepted_ns: u64,
    /// When the first frame was sealed and handed to `write(2)`; 0 until then.
    pub handed_ns: u64,
    /// When the first frame went to the kernel; 0 until then.
    pub written_ns: u64,
    /// When the latest attempt was encoded: the ack timeout counts from here.
    pub sent_ns: u64,
    /// When the first attempt was encoded: the hedge delay counts from here.
    pub first_sent_ns: u64,
    /// Arrival order among the intents the table took in, from 1: tells a slot's occupants apart.
    pub seq: u64,
    /// Attempts made (sends).
    pub sends: u8,
    pub attempts: [Attempt; MAX_ATTEMPTS],
    /// The last transient answer, if one came.
    pub transient: Option<Transient>,
    state: SlotState,
    prev: u32,
    next: u32,
}

impl Entry {
    /// Attempts that may still be answered.
    pub(crate) fn live_attempts(&self) -> impl Iterator<Item = &Attempt> {
        self.attempts[..self.sends as usize]
            .iter()
            .filter(|a| a.state == AttemptState::Live)
    }

    /// Whether an attempt may still be answered.
    pub(crate) fn has_live_attempt(&self) -> bool {
        self.live_attempts().next().is_some()
    }

    /// Whether every send so far was refused with a transient answer: the venue processed
    /// none of them.
    pub(crate) fn all_refused(&self) -> bool {
        self.sends > 0
            && self.attempts[..self.sends as usize]
                .iter()
                .all(|a| a.state == AttemptState::Refused)
    }

    /// A bit per path that refused a send of this intent with a transient answer.
    pub(crate) fn refused_links(&self) -> u32 {
        self.attempts[..self.sends as usize]
            .iter()
            .filter(|a| a.state == AttemptState::Refused)
            .fold(0, |m, a| m | 1 << a.link)
    }

    /// A bit per path (connection slot, or the REST rung) that carries a live attempt of this
    /// intent.
    pub(crate) fn live_links(&self) -> u32 {
        self.live_attempts().fold(0, |m, a| m | 1 << a.link)
    }
}

/// Why an intent could not be taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InsertError {
    /// Every slot is taken.
    Full,
}

#[derive(Debug)]
pub(crate) struct InflightTable {
    /// Slots ever used; grows (within its preallocated capacity) until it reaches `capacity`.
    slots: Vec<Entry>,
    free: Vec<u32>,
    capacity: usize,
    /// Buckets holding `slot * MAX_ATTEMPTS + attempt`, or `NIL`.
    index: Vec<u32>,
    mask: usize,
    queue: WaitQueue,
    head: u32,
    tail: u32,
    in_flight: usize,
    /// Intents taken in so far (the last one's `seq`).
    arrivals: u64,
}

#[inline]
fn key(slot: u32, attempt: usize) -> u32 {
    slot * MAX_ATTEMPTS as u32 + attempt as u32
}

#[inline]
fn split(key: u32) -> (u32, usize) {
    (
        key / MAX_ATTEMPTS as u32,
        (key % MAX_ATTEMPTS as u32) as usize,
    )
}

impl InflightTable {
    /// Room for `capacity` intents.
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let buckets = (capacity * MAX_ATTEMPTS * 2).next_power_of_two().max(16);
        InflightTable {
            slots: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            capacity,
            index: vec![NIL; buckets],
            mask: buckets - 1,
            queue: WaitQueue::with_capacity(capacity),
            head: NIL,
            tail: NIL,
            in_flight: 0,
            arrivals: 0,
        }
    }

    /// Intents held (waiting or in flight).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// How many intents the table can hold.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Intents waiting to be sent.
    #[inline]
    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Intents sent and not yet settled.
    #[inline]
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    fn attempt(&self, key: u32) -> &Attempt {
        let (slot, a) = split(key);
        &self.slots[slot as usize].attempts[a]
    }

    /// The bucket holding `key`, probing from its home.
    fn bucket_of(&self, key: u32) -> usize {
        let mut b = self.attempt(key).home as usize;
        while self.index[b] != key {
            b = (b + 1) & self.mask;
        }
        b
    }

    /// The attempt sent under send number `wire`, if one is indexed.
    #[inline]
    fn lookup(&self, wire: u64) -> Option<u32> {
        let mut b = (wire as usize) & self.mask;
        loop {
            let k = self.index[b];
            if k == NIL {
                return None;
            }
            if self.attempt(k).wire == wire {
                return Some(k);
            }
            b = (b + 1) & self.mask;
        }
    }

    fn index_key(&mut self, key: u32) {
        let (slot, a) = split(key);
        let home = (self.slots[slot as usize].attempts[a].wire as usize) & self.mask;
        self.slots[slot as usize].attempts[a].home = home as u32;
        let mut b = home;
        while self.index[b] != NIL {
            b = (b + 1) & self.mask;
        }
        self.index[b] = key;
    }

    /// Removes `key` from the index, shifting later entries of its probe run back.
    fn unindex(&mut self, key: u32) {
        let mut hole = self.bucket_of(key);
        let mut probe = hole;
        loop {
            probe = (probe + 1) & self.mask;
            let moved = self.index[probe];
            if moved == NIL {
                break;
            }
            let home = self.attempt(moved).home as usize;
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

    /// Takes in an intent as waiting, at the back of the queue: labelled `id` in its outcome,
    /// its first send numbered `first_wire` (never 0).
    pub(crate) fn insert_queued(
        &mut self,
        id: RequestId,
        first_wire: u64,
        cancel: Cancel,
        accepted_ns: u64,
    ) -> Result<u32, InsertError> {
        let entry = Entry {
            id,
            first_wire,
            cancel,
            accepted_ns,
            handed_ns: 0,
            written_ns: 0,
            sent_ns: 0,
            first_sent_ns: 0,
            seq: self.arrivals + 1,
            sends: 0,
            attempts: [Attempt::EMPTY; MAX_ATTEMPTS],
            transient: None,
            state: SlotState::Queued,
            prev: NIL,
            next: NIL,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = entry;
                slot
            }
            None if self.slots.len() < self.capacity => {
                self.slots.push(entry);
                (self.slots.len() - 1) as u32
            }
            None => return Err(InsertError::Full),
        };
        self.arrivals += 1;
        self.queue.push(slot, cancel.priority, self.arrivals);
        Ok(slot)
    }

    /// Intents taken in so far: the `seq` of the newest.
    #[inline]
    pub(crate) fn arrivals(&self) -> u64 {
        self.arrivals
    }

    /// The intent that leaves next: the highest priority, then the one that waited longest.
    #[inline]
    pub(crate) fn front_queued(&self) -> Option<(u32, &Entry)> {
        self.queue
            .front()
            .map(|slot| (slot, &self.slots[slot as usize]))
    }

    /// The waiting intent that arrived first: the first to reach its queue timeout.
    #[inline]
    pub(crate) fn oldest_queued(&self) -> Option<(u32, &Entry)> {
        self.queue
            .oldest()
            .map(|slot| (slot, &self.slots[slot as usize]))
    }

    /// The waiting intents' slots, in the order they leave.
    pub(crate) fn queued_slots(&self) -> impl Iterator<Item = u32> + Clone + '_ {
        self.queue.iter()
    }

    /// Removes and returns the waiting intent in `slot`.
    pub(crate) fn remove_queued(&mut self, slot: u32) -> Option<Entry> {
        if self.slots.get(slot as usize)?.state != SlotState::Queued || !self.queue.remove(slot) {
            return None;
        }
        Some(self.release(slot))
    }

    #[inline]
    pub(crate) fn entry(&self, slot: u32) -> &Entry {
        &self.slots[slot as usize]
    }

    #[inline]
    pub(crate) fn entry_mut(&mut self, slot: u32) -> &mut Entry {
        &mut self.slots[slot as usize]
    }

    /// Whether `slot` still holds the intent with arrival number `seq`, in flight.
    #[inline]
    pub(crate) fn is_in_flight(&self, slot: u32, seq: u64) -> bool {
        self.slots
            .get(slot as usize)
            .is_some_and(|e| e.seq == seq && e.state == SlotState::InFlight)
    }

    /// Moves the front waiting intent to the back of the in-flight list: its first attempt went
    /// out at `now` on `link`, under its wire id if `indexed` (a WebSocket send; a REST request
    /// carries no id).
    pub(crate) fn send_front(
        &mut self,
        now: u64,
        link: u8,
        generation: u32,
        indexed: bool,
    ) -> Option<u32> {
        let slot = self.queue.pop_front()?;
        self.start(slot, now, link, generation, indexed);
        Some(slot)
    }

    /// Moves the waiting intent in `slot` (wherever it stands in the queue) to the back of the
    /// in-flight list, as [`Self::send_front`] does for the front one (a REST batch's entry: not
    /// indexed); false if it does not wait.
    pub(crate) fn send_queued(&mut self, slot: u32, now: u64, link: u8, generation: u32) -> bool {
        let waits = self
            .slots
            .get(slot as usize)
            .is_some_and(|e| e.state == SlotState::Queued);
        if !waits || !self.queue.remove(slot) {
            return false;
        }
        self.start(slot, now, link, generation, false);
        true
    }

    /// The first attempt of the intent in `slot`, just taken from the queue, went out (under
    /// its wire id if `indexed`).
    fn start(&mut self, slot: u32, now: u64, link: u8, generation: u32, indexed: bool) {
        let e = &mut self.slots[slot as usize];
        e.state = SlotState::InFlight;
        e.first_sent_ns = now;
        e.sends = 1;
        e.attempts[0] = Attempt {
            wire: if indexed { e.first_wire } else { 0 },
            state: AttemptState::Live,
            kind: AttemptKind::First,
            link,
            generation,
            sent_ns: now,
            home: NIL,
        };
        if indexed {
            self.index_key(key(slot, 0));
        }
        self.touch(slot, now, false);
        self.in_flight += 1;
    }

    /// Whether the intent in `slot` may be sent once more.
    #[inline]
    pub(crate) fn can_send_again(&self, slot: u32) -> bool {
        (self.slots[slot as usize].sends as usize) < MAX_ATTEMPTS
    }

    /// Records another attempt of an in-flight intent under send number `wire` (0: a REST
    /// request, not indexed), at `now` on `link`; returns its attempt number. The caller
    /// checked [`Self::can_send_again`]; `wire` was never used before.
    pub(crate) fn send_again(
        &mut self,
        slot: u32,
        wire: u64,
        kind: AttemptKind,
        now: u64,
        link: u8,
        generation: u32,
    ) -> usize {
        let e = &mut self.slots[slot as usize];
        debug_assert_eq!(e.state, SlotState::InFlight);
        let n = e.sends as usize;
        e.sends += 1;
        e.attempts[n] = Attempt {
            wire,
            state: AttemptState::Live,
            kind,
            link,
            generation,
            sent_ns: now,
            home: NIL,
        };
        if wire != 0 {
            self.index_key(key(slot, n));
        }
        self.touch(slot, now, true);
        n
    }

    /// Marks every live attempt of the intent in `slot` on `link` dead (its connection is gone);
    /// returns how many there were.
    pub(crate) fn bury_attempts(&mut self, slot: u32, link: u8) -> usize {
        let e = &mut self.slots[slot as usize];
        let mut n = 0;
        for a in &mut e.attempts[..e.sends as usize] {
            if a.state == AttemptState::Live && a.link == link {
                a.state = AttemptState::Dead;
                n += 1;
            }
        }
        n
    }

    /// Sets the latest send of an in-flight intent and moves it to the back of the list.
    fn touch(&mut self, slot: u32, now: u64, linked: bool) {
        if linked {
            self.unlink(slot);
        }
        let tail = self.tail;
        let e = &mut self.slots[slot as usize];
        e.sent_ns = now;
        e.prev = tail;
        e.next = NIL;
        if tail == NIL {
            self.head = slot;
        } else {
            self.slots[tail as usize].next = slot;
        }
        self.tail = slot;
    }

    fn unlink(&mut self, slot: u32) {
        let (prev, next) = {
            let e = &self.slots[slot as usize];
            (e.prev, e.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
    }

    /// Removes and returns the front waiting intent.
    pub(crate) fn pop_queued(&mut self) -> Option<Entry> {
        let slot = self.queue.pop_front()?;
        Some(self.release(slot))
    }

    /// The in-flight intent whose live attempt went out on path `link` under send number
    /// `wire`, and that attempt's number. An attempt that can no longer be answered (its
    /// connection gone, or answered already) matches nothing, nor does one sent elsewhere.
    #[inline]
    pub(crate) fn find_in_flight(&self, wire: u64, link: u8) -> Option<(u32, usize)> {
        let (slot, a) = split(self.lookup(wire)?);
        let e = &self.slots[slot as usize];
        let attempt = &e.attempts[a];
        (e.state == SlotState::InFlight
            && attempt.state == AttemptState::Live
            && attempt.link == link)
            .then_some((slot, a))
    }

    /// The intent whose latest send is oldest, still in flight.
    #[inline]
    pub(crate) fn oldest_in_flight(&self) -> Option<(u32, &Entry)> {
        (self.head != NIL).then(|| (self.head, &self.slots[self.head as usize]))
    }

    /// The in-flight intents, oldest send first: `(slot, seq)` of each, into `out` (cleared first).
    pub(crate) fn in_flight_slots(&self, out: &mut Vec<(u32, u64)>) {
        out.clear();
        let mut at = self.head;
        while at != NIL {
            let e = &self.slots[at as usize];
            out.push((at, e.seq));
            at = e.next;
        }
    }

    /// Removes an in-flight intent (settled) and returns it.
    pub(crate) fn settle(&mut self, slot: u32) -> Entry {
        debug_assert_eq!(self.slots[slot as usize].state, SlotState::InFlight);
        self.unlink(slot);
        self.in_flight -= 1;
        self.release(slot)
    }

    fn release(&mut self, slot: u32) -> Entry {
        let sends = self.slots[slot as usize].sends as usize;
        for a in 0..sends {
            if self.slots[slot as usize].attempts[a].home != NIL {
                self.unindex(key(slot, a));
            }
        }
        let e = &mut self.slots[slot as usize];
        let out = *e;
        e.state = SlotState::Free;
        self.free.push(slot);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::{InstId, InstType, OrderRef};

    fn cancel(n: u64) -> Cancel {
        Cancel::new(
            InstType::Spot,
            InstId::new("BTCUSDT").unwrap(),
            OrderRef::order_id(&n.to_string()).unwrap(),
        )
    }

    fn label(s: &str) -> RequestId {
        RequestId::new(s).unwrap()
    }

    /// Takes in intent `n` (wire number `n`) and sends it on link 0.
    fn sent(t: &mut InflightTable, n: u64, now: u64) -> u32 {
        t.insert_queued(RequestId::from_u64(n), n, cancel(n), now)
            .unwrap();
        t.send_front(now, 0, 1, true).unwrap()
    }

    #[test]
    fn waiting_intents_leave_in_arrival_order() {
        let mut t = InflightTable::new(4);
        for n in 1..=3 {
            t.insert_queued(RequestId::from_u64(n), n, cancel(n), n)
                .unwrap();
        }
        assert_eq!(t.queued(), 3);
        let first = t.send_front(10, 0, 1, true).unwrap();
        assert_eq!(t.entry(first).id.as_str(), "1");
        assert_eq!(t.pop_queued().unwrap().id.as_str(), "2");
        assert_eq!(t.front_queued().unwrap().1.id.as_str(), "3");
        assert_eq!((t.len(), t.queued(), t.in_flight()), (2, 1, 1));
    }

    #[test]
    fn waiting_intents_leave_by_priority_and_the_oldest_still_times_out_first() {
        let mut t = InflightTable::new(8);
        t.insert_queued(RequestId::from_u64(1), 1, cancel(1), 10)
            .unwrap();
        t.insert_queued(RequestId::from_u64(2), 2, cancel(2).priority(3), 20)
            .unwrap();
        t.insert_queued(RequestId::from_u64(3), 3, cancel(3), 30)
            .unwrap();
        t.insert_queued(RequestId::from_u64(4), 4, cancel(4).priority(3), 40)
            .unwrap();
        assert_eq!(t.front_queued().unwrap().1.id.as_str(), "2");
        assert_eq!(t.oldest_queued().unwrap().1.accepted_ns, 10);
        let order: Vec<String> = t
            .queued_slots()
            .map(|s| t.entry(s).id.as_str().to_string())
            .collect();
        assert_eq!(order, ["2", "4", "1", "3"]);
        // The oldest leaves the queue from behind the others (expiry), and a batch takes one
        // from the middle (a REST send: not indexed).
        let (oldest, _) = t.oldest_queued().unwrap();
        assert_eq!(t.remove_queued(oldest).unwrap().id.as_str(), "1");
        let (four, _) = t
            .queued_slots()
            .map(|s| (s, t.entry(s)))
            .find(|(_, e)| e.id.as_str() == "4")
            .unwrap();
        assert!(t.send_queued(four, 50, 9, 0));
        assert!(!t.send_queued(four, 50, 9, 0), "no longer waiting");
        assert_eq!(t.find_in_flight(4, 9), None);
        assert_eq!(t.entry(four).live_links(), 1 << 9);
        assert_eq!(
            t.send_front(60, 0, 1, true).map(|s| t.entry(s).seq),
            Some(2)
        );
        assert_eq!(t.pop_queued().unwrap().id.as_str(), "3");
        assert_eq!((t.queued(), t.in_flight()), (0, 2));
    }

    #[test]
    fn a_reply_finds_its_intent_by_send_number_never_by_the_callers_label() {
        let mut t = InflightTable::new(8);
        t.insert_queued(label("mine"), 41, cancel(1), 0).unwrap();
        t.insert_queued(label("mine"), 42, cancel(2), 0).unwrap();
        assert_eq!(t.find_in_flight(41, 0), None, "not sent yet");
        let a = t.send_front(1, 0, 1, true).unwrap();
        let b = t.send_front(2, 0, 1, true).unwrap();
        assert_eq!(t.find_in_flight(41, 0), Some((a, 0)));
        assert_eq!(t.find_in_flight(42, 0), Some((b, 0)));
        assert_eq!(t.find_in_flight(43, 0), None);
        assert_eq!(t.settle(b).cancel, cancel(2));
        assert_eq!(t.find_in_flight(42, 0), None);
        assert_eq!(t.find_in_flight(41, 0), Some((a, 0)));
    }

    #[test]
    fn a_reply_matches_only_a_live_attempt_on_the_path_it_went_out_on() {
        let mut t = InflightTable::new(4);
        let slot = sent(&mut t, 7, 1);
        assert_eq!(t.find_in_flight(7, 1), None, "another connection");
        t.send_again(slot, 8, AttemptKind::Hedge, 2, 1, 1);
        assert_eq!(t.bury_attempts(slot, 0), 1);
        assert_eq!(t.find_in_flight(7, 0), None, "its connection is gone");
        assert_eq!(t.find_in_flight(8, 1), Some((slot, 1)));
    }

    #[test]
    fn a_rest_send_is_not_indexed() {
        let mut t = InflightTable::new(4);
        t.insert_queued(RequestId::from_u64(5), 5, cancel(5), 0)
            .unwrap();
        let slot = t.send_front(1, 9, 0, false).unwrap();
        assert_eq!(t.entry(slot).attempts[0].wire, 0);
        assert_eq!(t.find_in_flight(5, 9), None);
        assert_eq!(t.entry(slot).live_links(), 1 << 9);
        t.settle(slot);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn every_attempt_of_an_intent_finds_it_until_it_settles() {
        let mut t = InflightTable::new(4);
        t.insert_queued(label("mine"), 1, cancel(1), 0).unwrap();
        let slot = t.send_front(1, 0, 7, true).unwrap();
        assert!(t.can_send_again(slot));
        let n = t.send_again(slot, 900, AttemptKind::Hedge, 5, 1, 3);
        assert_eq!(n, 1);
        assert_eq!(t.find_in_flight(1, 0), Some((slot, 0)));
        assert_eq!(t.find_in_flight(900, 1), Some((slot, 1)));
        assert_eq!(t.entry(slot).live_links(), 0b11);
        assert_eq!(t.entry(slot).sent_ns, 5, "the latest send");
        assert_eq!(t.entry(slot).first_sent_ns, 1);
        assert_eq!(t.bury_attempts(slot, 0), 1);
        assert_eq!(t.entry(slot).live_links(), 0b10);
        let e = t.settle(slot);
        assert_eq!((e.sends, e.id.as_str()), (2, "mine"));
        assert_eq!(t.find_in_flight(900, 1), None);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn an_intent_gets_at_most_the_attempt_limit() {
        let mut t = InflightTable::new(2);
        let slot = sent(&mut t, 1, 1);
        for n in 1..MAX_ATTEMPTS as u64 {
            assert!(t.can_send_again(slot));
            t.send_again(slot, 100 + n, AttemptKind::Failover, n, 0, 1);
        }
        assert!(!t.can_send_again(slot));
    }

    #[test]
    fn two_intents_may_carry_the_same_label() {
        let mut t = InflightTable::new(4);
        t.insert_queued(label("dup"), 1, cancel(1), 0).unwrap();
        t.insert_queued(label("dup"), 2, cancel(2), 0).unwrap();
        let a = t.send_front(0, 0, 1, true).unwrap();
        let b = t.send_front(0, 0, 1, true).unwrap();
        assert_eq!(t.find_in_flight(2, 0), Some((b, 0)));
        assert_eq!(t.settle(a).cancel, cancel(1));
        assert_eq!(t.settle(b).cancel, cancel(2));
    }

    #[test]
    fn a_full_table_refuses_more() {
        let mut t = InflightTable::new(2);
        t.insert_queued(RequestId::from_u64(1), 1, cancel(1), 0)
            .unwrap();
        t.insert_queued(RequestId::from_u64(2), 2, cancel(2), 0)
            .unwrap();
        assert_eq!(
            t.insert_queued(RequestId::from_u64(3), 3, cancel(3), 0),
            Err(InsertError::Full)
        );
    }

    #[test]
    fn the_oldest_send_is_at_the_head_whatever_settles_first() {
        let mut t = InflightTable::new(4);
        for n in 1..=4 {
            sent(&mut t, n, n);
        }
        let (second, _) = t.find_in_flight(2, 0).unwrap();
        t.settle(second);
        let (first, _) = t.find_in_flight(1, 0).unwrap();
        t.settle(first);
        assert_eq!(t.oldest_in_flight().unwrap().1.id.as_str(), "3");
        // A re-send of 3 makes 4 the oldest send.
        let (third, _) = t.find_in_flight(3, 0).unwrap();
        t.send_again(third, 30, AttemptKind::Failover, 9, 1, 1);
        assert_eq!(t.oldest_in_flight().unwrap().1.id.as_str(), "4");
        let mut order = Vec::new();
        t.in_flight_slots(&mut order);
        assert_eq!(order.len(), 2);
        let (fourth, _) = t.find_in_flight(4, 0).unwrap();
        t.settle(fourth);
        assert_eq!(t.oldest_in_flight().unwrap().1.id.as_str(), "3");
        t.settle(third);
        assert!(t.oldest_in_flight().is_none());
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn colliding_numbers_stay_findable_through_many_removals() {
        // Numbers 64 apart share a bucket in a 64-bucket index; mix in extra attempts.
        let mut t = InflightTable::new(8);
        let mut live: Vec<(u64, Option<u64>)> = Vec::new();
        let mut state = 0x1234_5678u64;
        let mut next = 1u64;
        for round in 0..2_000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let remove = live.len() == 8 || (!live.is_empty() && (state >> 33).is_multiple_of(3));
            if remove {
                let at = ((state >> 40) as usize) % live.len();
                let (wire, _) = live.swap_remove(at);
                let (slot, _) = t.find_in_flight(wire, 0).expect("held id is findable");
                assert_eq!(t.settle(slot).first_wire, wire);
            } else {
                next += 1 + (state >> 45) % 4 * 64;
                let wire = next;
                t.insert_queued(RequestId::from_u64(wire), wire, cancel(round), 0)
                    .unwrap();
                let slot = t.send_front(round, 0, 1, true).unwrap();
                let extra = (round % 3 == 0).then(|| {
                    next += 64;
                    t.send_again(slot, next, AttemptKind::Hedge, round, 1, 1);
                    next
                });
                live.push((wire, extra));
            }
            for (wire, extra) in &live {
                let (slot, _) = t.find_in_flight(*wire, 0).expect("id lost");
                if let Some(extra) = extra {
                    assert_eq!(t.find_in_flight(*extra, 1), Some((slot, 1)));
                }
            }
            assert_eq!(t.len(), live.len());
        }
    }
}
