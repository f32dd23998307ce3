//! Whether a large group commit may run as two transactions at once: its two halves
//! touch no record and no timer in common and complete no journal row, so neither
//! half's checks or writes depend on the other's, and PostgreSQL can work on both
//! (a burst's group of 1,024 expiries). The halves still meet at the counters, the
//! outbox counter and the audit head, which they take in the same order, one after
//! the other; so the second half's outbox ids and audit entries may come before the
//! first half's. Only independent changes are grouped this way (timer firings for
//! different requests), so no conversation's messages depend on that order. Pure.

use std::collections::HashSet;

use crate::store::change::Op;
use crate::store::Change;

/// Groups smaller than this commit as one transaction: two would cost more round
/// trips than they save.
pub(super) const SPLIT_FROM: usize = 256;

/// Whether `changes` is large enough to split and its halves (`split_off(len / 2)`)
/// are independent.
pub(super) fn independent(changes: &[Change]) -> bool {
    if changes.len() < SPLIT_FROM {
        return false;
    }
    let (first, second) = changes.split_at(changes.len() / 2);
    match (touched(first), touched(second)) {
        (Some(first), Some(second)) => first.is_disjoint(&second),
        _ => false,
    }
}

/// What `changes` check or write: records (table and key) and timers (their key);
/// `None` when one of them completes a journal row.
fn touched(changes: &[Change]) -> Option<HashSet<Vec<u8>>> {
    let mut keys = HashSet::new();
    for change in changes {
        for op in change.ops() {
            let key = match op {
                Op::JournalDone(_) => return None,
                Op::Expect { table, key, .. }
                | Op::Put { table, key, .. }
                | Op::Delete { table, key } => {
                    [b"r", table.name().as_bytes(), b"\0", key.as_bytes()].concat()
                }
                Op::Timer { key, .. } | Op::CancelTimer { key } => [b"t", key.as_slice()].concat(),
                Op::Outbox(_) | Op::Audit(_) => continue,
            };
            keys.insert(key);
        }
    }
    Some(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Table, TimerEntry};

    fn puts(n: usize) -> Vec<Change> {
        (0..n)
            .map(|i| Change::new().expect(Table::Requests, format!("REQ-{i}"), None))
            .collect()
    }

    #[test]
    fn only_a_large_group_of_independent_halves_is_split() {
        assert!(independent(&puts(SPLIT_FROM)));
        assert!(!independent(&puts(SPLIT_FROM - 1)), "too small");
    }

    #[test]
    fn halves_sharing_a_record_or_a_timer_are_not_split() {
        let mut shared_record = puts(SPLIT_FROM);
        shared_record.push(Change::new().expect(Table::Requests, "REQ-0", Some(1)));
        assert!(!independent(&shared_record));

        let at: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().expect("time");
        let entry = TimerEntry::new("grant-expire", "REQ-X".to_owned());
        let mut shared_timer = puts(SPLIT_FROM);
        shared_timer[0] = Change::new().timer(at, entry.clone());
        let last = shared_timer.len() - 1;
        shared_timer[last] = Change::new().cancel_timer(at, "REQ-X", "grant-expire");
        assert!(!independent(&shared_timer));
    }

    #[test]
    fn a_group_that_completes_a_journal_row_is_not_split() {
        let mut journal = puts(SPLIT_FROM);
        journal[3] = Change::new().completes(crate::store::JournalId(7));
        assert!(!independent(&journal));
    }
}
