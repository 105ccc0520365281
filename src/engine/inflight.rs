//! Every intent the engine holds, from the moment it leaves the intent ring until its outcome is
//! decided: waiting to be sent (in arrival order) or in flight (in send order).
//!
//! All storage is allocated once, in [`InflightTable::new`]. Intents live in fixed slots taken from
//! a free list. An open-addressing index (linear probing, backward-shift deletion, at most half
//! full) maps request ids to slots. An id made of decimal digits, as the engine assigns them,
//! hashes to its own number, so consecutive engine ids land in consecutive buckets and a reply is
//! found with one probe; other ids are hashed with FNV-1a. The slots in flight form a doubly linked
//! list in send order, so the oldest (the first to time out) is at its head and a reply unlinks
//! its slot in O(1).

use std::collections::VecDeque;

use crate::intent::{Cancel, RequestId};

const NIL: u32 = u32::MAX;

/// Where an intent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotState {
    Free,
    Queued,
    InFlight,
}

/// One held intent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub id: RequestId,
    pub cancel: Cancel,
    pub accepted_ns: u64,
    /// When the frame went to the kernel; 0 until then.
    pub written_ns: u64,
    /// When the frame was encoded: the ack timeout counts from here.
    pub sent_ns: u64,
    /// Arrival order among the intents the table took in, from 1.
    pub seq: u64,
    state: SlotState,
    /// The id's bucket in the index if nothing collided.
    home: u32,
    prev: u32,
    next: u32,
}

/// Why an intent could not be taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InsertError {
    /// Another held intent has the same request id.
    Duplicate,
    /// Every slot is taken.
    Full,
}

#[derive(Debug)]
pub(crate) struct InflightTable {
    /// Slots ever used; grows (within its preallocated capacity) until it reaches `capacity`.
    slots: Vec<Entry>,
    free: Vec<u32>,
    capacity: usize,
    index: Vec<u32>,
    mask: usize,
    queue: VecDeque<u32>,
    head: u32,
    tail: u32,
    in_flight: usize,
    /// Intents taken in so far (the last one's `seq`).
    arrivals: u64,
}

/// The bucket an id starts probing from: its own number if it is all digits, else FNV-1a.
#[inline]
fn id_hash(id: &[u8]) -> u64 {
    if let Some(n) = crate::intent::parse_u64(id) {
        return n;
    }
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in id {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 29)
}

impl InflightTable {
    /// Room for `capacity` intents.
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let buckets = (capacity * 2).next_power_of_two().max(16);
        InflightTable {
            slots: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            capacity,
            index: vec![NIL; buckets],
            mask: buckets - 1,
            queue: VecDeque::with_capacity(capacity),
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

    /// The bucket holding `slot`, probing from its home.
    fn bucket_of(&self, slot: u32) -> usize {
        let mut b = self.slots[slot as usize].home as usize;
        while self.index[b] != slot {
            b = (b + 1) & self.mask;
        }
        b
    }

    fn lookup(&self, id: &[u8]) -> Option<u32> {
        let mut b = (id_hash(id) as usize) & self.mask;
        loop {
            let slot = self.index[b];
            if slot == NIL {
                return None;
            }
            if self.slots[slot as usize].id.as_str().as_bytes() == id {
                return Some(slot);
            }
            b = (b + 1) & self.mask;
        }
    }

    /// Removes `slot` from the index, shifting later entries of its probe run back.
    fn unindex(&mut self, slot: u32) {
        let mut hole = self.bucket_of(slot);
        let mut probe = hole;
        loop {
            probe = (probe + 1) & self.mask;
            let moved = self.index[probe];
            if moved == NIL {
                break;
            }
            let home = self.slots[moved as usize].home as usize;
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

    /// Takes in an intent as waiting, at the back of the queue.
    pub(crate) fn insert_queued(
        &mut self,
        id: RequestId,
        cancel: Cancel,
        accepted_ns: u64,
    ) -> Result<u32, InsertError> {
        let key = id.as_str().as_bytes();
        if self.lookup(key).is_some() {
            return Err(InsertError::Duplicate);
        }
        let home = (id_hash(key) as usize) & self.mask;
        let entry = Entry {
            id,
            cancel,
            accepted_ns,
            written_ns: 0,
            sent_ns: 0,
            seq: self.arrivals + 1,
            state: SlotState::Queued,
            home: home as u32,
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
        let mut b = home;
        while self.index[b] != NIL {
            b = (b + 1) & self.mask;
        }
        self.index[b] = slot;
        self.queue.push_back(slot);
        self.arrivals += 1;
        Ok(slot)
    }

    /// Intents taken in so far: the `seq` of the newest.
    #[inline]
    pub(crate) fn arrivals(&self) -> u64 {
        self.arrivals
    }

    /// The intent that has waited longest.
    #[inline]
    pub(crate) fn front_queued(&self) -> Option<(u32, &Entry)> {
        self.queue
            .front()
            .map(|&slot| (slot, &self.slots[slot as usize]))
    }

    #[inline]
    pub(crate) fn entry(&self, slot: u32) -> &Entry {
        &self.slots[slot as usize]
    }

    #[inline]
    pub(crate) fn entry_mut(&mut self, slot: u32) -> &mut Entry {
        &mut self.slots[slot as usize]
    }

    /// Moves the front waiting intent to the back of the in-flight list, sent at `now`.
    pub(crate) fn send_front(&mut self, now: u64) -> Option<u32> {
        let slot = self.queue.pop_front()?;
        let tail = self.tail;
        let e = &mut self.slots[slot as usize];
        e.state = SlotState::InFlight;
        e.sent_ns = now;
        e.prev = tail;
        e.next = NIL;
        if tail == NIL {
            self.head = slot;
        } else {
            self.slots[tail as usize].next = slot;
        }
        self.tail = slot;
        self.in_flight += 1;
        Some(slot)
    }

    /// Removes and returns the front waiting intent.
    pub(crate) fn pop_queued(&mut self) -> Option<Entry> {
        let slot = *self.queue.front()?;
        self.queue.pop_front();
        Some(self.release(slot))
    }

    /// The in-flight intent with this id.
    #[inline]
    pub(crate) fn find_in_flight(&self, id: &[u8]) -> Option<u32> {
        self.lookup(id)
            .filter(|&s| self.slots[s as usize].state == SlotState::InFlight)
    }

    /// The intent sent longest ago that is still in flight.
    #[inline]
    pub(crate) fn oldest_in_flight(&self) -> Option<(u32, &Entry)> {
        (self.head != NIL).then(|| (self.head, &self.slots[self.head as usize]))
    }

    /// Removes an in-flight intent (settled) and returns it.
    pub(crate) fn settle(&mut self, slot: u32) -> Entry {
        debug_assert_eq!(self.slots[slot as usize].state, SlotState::InFlight);
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
        self.in_flight -= 1;
        self.release(slot)
    }

    fn release(&mut self, slot: u32) -> Entry {
        self.unindex(slot);
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

    fn id(s: &str) -> RequestId {
        RequestId::new(s).unwrap()
    }

    #[test]
    fn waiting_intents_leave_in_arrival_order() {
        let mut t = InflightTable::new(4);
        for n in 1..=3 {
            t.insert_queued(RequestId::from_u64(n), cancel(n), n)
                .unwrap();
        }
        assert_eq!(t.queued(), 3);
        let first = t.send_front(10).unwrap();
        assert_eq!(t.entry(first).id.as_str(), "1");
        assert_eq!(t.pop_queued().unwrap().id.as_str(), "2");
        assert_eq!(t.front_queued().unwrap().1.id.as_str(), "3");
        assert_eq!((t.len(), t.queued(), t.in_flight()), (2, 1, 1));
    }

    #[test]
    fn a_reply_finds_its_intent_by_engine_or_caller_id() {
        let mut t = InflightTable::new(8);
        t.insert_queued(RequestId::from_u64(41), cancel(1), 0)
            .unwrap();
        t.insert_queued(id("my order #1"), cancel(2), 0).unwrap();
        assert_eq!(t.find_in_flight(b"41"), None, "not sent yet");
        let a = t.send_front(1).unwrap();
        let b = t.send_front(2).unwrap();
        assert_eq!(t.find_in_flight(b"41"), Some(a));
        assert_eq!(t.find_in_flight(b"my order #1"), Some(b));
        assert_eq!(t.find_in_flight(b"42"), None);
        assert_eq!(t.settle(b).cancel, cancel(2));
        assert_eq!(t.find_in_flight(b"my order #1"), None);
        assert_eq!(t.find_in_flight(b"41"), Some(a));
    }

    #[test]
    fn a_second_intent_with_a_held_id_is_refused() {
        let mut t = InflightTable::new(4);
        t.insert_queued(id("dup"), cancel(1), 0).unwrap();
        assert_eq!(
            t.insert_queued(id("dup"), cancel(2), 0),
            Err(InsertError::Duplicate)
        );
        t.send_front(0).unwrap();
        assert_eq!(
            t.insert_queued(id("dup"), cancel(2), 0),
            Err(InsertError::Duplicate)
        );
        let slot = t.find_in_flight(b"dup").unwrap();
        t.settle(slot);
        assert!(t.insert_queued(id("dup"), cancel(2), 0).is_ok());
    }

    #[test]
    fn a_full_table_refuses_more() {
        let mut t = InflightTable::new(2);
        t.insert_queued(RequestId::from_u64(1), cancel(1), 0)
            .unwrap();
        t.insert_queued(RequestId::from_u64(2), cancel(2), 0)
            .unwrap();
        assert_eq!(
            t.insert_queued(RequestId::from_u64(3), cancel(3), 0),
            Err(InsertError::Full)
        );
    }

    #[test]
    fn the_oldest_in_flight_is_at_the_head_whatever_settles_first() {
        let mut t = InflightTable::new(4);
        for n in 1..=4 {
            t.insert_queued(RequestId::from_u64(n), cancel(n), 0)
                .unwrap();
            t.send_front(n).unwrap();
        }
        let second = t.find_in_flight(b"2").unwrap();
        t.settle(second);
        let first = t.find_in_flight(b"1").unwrap();
        t.settle(first);
        assert_eq!(t.oldest_in_flight().unwrap().1.id.as_str(), "3");
        let fourth = t.find_in_flight(b"4").unwrap();
        t.settle(fourth);
        assert_eq!(t.oldest_in_flight().unwrap().1.id.as_str(), "3");
        let third = t.find_in_flight(b"3").unwrap();
        t.settle(third);
        assert!(t.oldest_in_flight().is_none());
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn colliding_ids_stay_findable_through_many_removals() {
        // Ids 16 apart share a bucket in a 16-bucket index; mix in hashed ids too.
        let mut t = InflightTable::new(8);
        let mut live: Vec<String> = Vec::new();
        let mut state = 0x1234_5678u64;
        for round in 0..2_000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let remove = live.len() == 8 || (!live.is_empty() && (state >> 33).is_multiple_of(3));
            if remove {
                let at = ((state >> 40) as usize) % live.len();
                let key = live.swap_remove(at);
                let slot = t
                    .find_in_flight(key.as_bytes())
                    .expect("held id is findable");
                assert_eq!(t.settle(slot).id.as_str(), key);
            } else {
                let key = if round % 5 == 0 {
                    format!("c-{round}")
                } else {
                    ((state >> 45) % 4 * 16 + round * 64).to_string()
                };
                if live.contains(&key) {
                    continue;
                }
                t.insert_queued(id(&key), cancel(round), 0).unwrap();
                t.send_front(round).unwrap();
                live.push(key);
            }
            for key in &live {
                assert!(t.find_in_flight(key.as_bytes()).is_some(), "{key} lost");
            }
            assert_eq!(t.len(), live.len());
        }
    }
}
