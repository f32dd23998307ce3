//! The outbox's in-memory index, so that nothing on a hot path scans the outbox table:
//! - the ids of entries committed since the sender last looked, in commit order and
//!   tagged with the write that made them, handed out only once a flush covers them
//!   (nothing reaches Slack about a change a crash could still undo);
//! - how many entries are queued to each conversation (the `channel` argument as
//!   queued, e.g. a user id for a DM), and in all.
//!
//! Exact within the process: every path that adds outbox rows notes them here, and
//! every path that removes a row settles it here. Rebuilt from the table when the store
//! opens. Owns no persistence; the table is the truth and this is a view of it.
//!
//! Ids are handed out in id order. sled notes them under one lock taken around its
//! transaction, so they arrive in order; PostgreSQL commits concurrently, so a
//! transaction *reserves* the ids it allocated (while it holds the counter's row lock)
//! and no later id is handed out until that reservation is noted or abandoned.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub(crate) struct OutboxIndex {
    /// Taken around every transaction that may allocate outbox ids, so ids are noted
    /// in the order they were allocated.
    pub(crate) order: Mutex<()>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// outbox id -> the store's write count when it was committed.
    fresh: BTreeMap<u64, u64>,
    /// Ids allocated by transactions not yet committed or rolled back (PostgreSQL).
    reserved: BTreeSet<u64>,
    /// Ids below this were covered by a start-up scan: never handed out as fresh.
    floor: u64,
    queued: HashMap<String, usize>,
    total: usize,
}

impl OutboxIndex {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn lock_order(&self) -> MutexGuard<'_, ()> {
        self.order.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Entries committed by write number `written` (call with the order lock held):
    /// each id with the conversation it is queued to, if it names one.
    pub(crate) fn note(&self, entries: &[(u64, Option<String>)], written: u64) {
        let mut state = self.state();
        for (id, channel) in entries {
            if *id >= state.floor {
                state.fresh.insert(*id, written);
            }
            state.count(channel.as_deref());
        }
    }

    /// Holds back every id from `ids` on until [`OutboxIndex::note_reserved`] or
    /// [`OutboxIndex::abandon`]: a transaction allocated them and has not ended yet.
    pub(crate) fn reserve(&self, ids: &[u64]) {
        self.state().reserved.extend(ids.iter().copied());
    }

    /// The reserved ids committed: noted (as [`OutboxIndex::note`]) and released at once,
    /// so no later id can be handed out in between.
    pub(crate) fn note_reserved(&self, entries: &[(u64, Option<String>)], written: u64) {
        let mut state = self.state();
        for (id, channel) in entries {
            state.reserved.remove(id);
            if *id >= state.floor {
                state.fresh.insert(*id, written);
            }
            state.count(channel.as_deref());
        }
    }

    /// The reserved ids were rolled back: they hold nothing back any more.
    pub(crate) fn abandon(&self, ids: &[u64]) {
        let mut state = self.state();
        for id in ids {
            state.reserved.remove(id);
        }
    }

    /// Counts an entry found in the table at start-up (not handed out as fresh).
    pub(crate) fn count_existing(&self, channel: Option<&str>) {
        self.state().count(channel);
    }

    /// An entry left the table (delivered, given up).
    pub(crate) fn settled(&self, channel: Option<&str>) {
        let mut state = self.state();
        state.total = state.total.saturating_sub(1);
        if let Some(channel) = channel {
            if let Some(n) = state.queued.get_mut(channel) {
                *n -= 1;
                if *n == 0 {
                    state.queued.remove(channel);
                }
            }
        }
    }

    /// Fresh ids whose commit a flush covers (`flushed`), oldest first, up to the
    /// first one that is not covered or that a reservation holds back; later ones stay.
    pub(crate) fn take_fresh(&self, flushed: u64) -> Vec<u64> {
        let mut state = self.state();
        let held_from = state.reserved.first().copied().unwrap_or(u64::MAX);
        let mut out = Vec::new();
        while let Some((&id, &written)) = state.fresh.first_key_value() {
            if written > flushed || id > held_from {
                break;
            }
            state.fresh.pop_first();
            out.push(id);
        }
        out
    }

    /// Forgets fresh ids below `from`, now and when noted later (a start-up scan
    /// covers them).
    pub(crate) fn forget_fresh_below(&self, from: u64) {
        let mut state = self.state();
        state.floor = state.floor.max(from);
        state.fresh.retain(|id, _| *id >= from);
    }

    #[cfg(test)]
    pub(crate) fn has_fresh(&self) -> bool {
        !self.state().fresh.is_empty()
    }

    pub(crate) fn queued_to(&self, channel: &str) -> usize {
        self.state().queued.get(channel).copied().unwrap_or(0)
    }

    pub(crate) fn total(&self) -> usize {
        self.state().total
    }
}

impl State {
    fn count(&mut self, channel: Option<&str>) {
        self.total += 1;
        if let Some(channel) = channel {
            *self.queued.entry(channel.to_owned()).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_ids_are_handed_out_in_order_once_a_flush_covers_them() {
        let index = OutboxIndex::default();
        index.note(&[(1, None), (2, None)], 5);
        index.note(&[(3, None)], 7);
        assert_eq!(index.take_fresh(4), Vec::<u64>::new());
        assert_eq!(index.take_fresh(6), vec![1, 2]);
        assert!(index.has_fresh());
        assert_eq!(index.take_fresh(7), vec![3]);
        assert!(!index.has_fresh());
    }

    #[test]
    fn queued_counts_follow_notes_and_settlements_per_conversation() {
        let index = OutboxIndex::default();
        let bob = Some("U0BOB00001".to_owned());
        index.note(&[(1, bob.clone()), (2, bob.clone()), (3, None)], 1);
        index.count_existing(Some("C0GENERAL1"));
        assert_eq!(index.queued_to("U0BOB00001"), 2);
        assert_eq!(index.queued_to("C0GENERAL1"), 1);
        assert_eq!(index.total(), 4);
        index.settled(bob.as_deref());
        index.settled(None);
        assert_eq!(index.queued_to("U0BOB00001"), 1);
        assert_eq!(index.total(), 2);
        index.forget_fresh_below(3);
        assert_eq!(index.take_fresh(1), vec![3]);
    }

    #[test]
    fn a_reservation_holds_back_later_ids_until_it_is_noted_or_abandoned() {
        let index = OutboxIndex::default();
        index.reserve(&[5, 6]);
        // A later transaction committed first: its id waits for 5 and 6.
        index.note_reserved(&[(7, None)], 0);
        assert_eq!(index.take_fresh(u64::MAX), Vec::<u64>::new());
        index.note_reserved(&[(5, None), (6, None)], 0);
        assert_eq!(index.take_fresh(u64::MAX), vec![5, 6, 7]);
        index.reserve(&[8]);
        index.note_reserved(&[(9, None)], 0);
        index.abandon(&[8]);
        assert_eq!(index.take_fresh(u64::MAX), vec![9]);
        assert_eq!(index.total(), 4);
    }

    #[test]
    fn ids_below_a_resume_floor_are_counted_but_never_handed_out() {
        let index = OutboxIndex::default();
        index.forget_fresh_below(10);
        index.note(&[(9, Some("U1".into())), (10, None)], 0);
        assert_eq!(index.take_fresh(u64::MAX), vec![10]);
        assert_eq!(index.queued_to("U1"), 1);
    }
}
