//! Reading ahead, on sled, what a batch of changes will read when it commits: each
//! record it expects, writes or deletes, and the packed buckets its index moves and
//! timers land in. A sled transaction holds the store's lock while it runs, and at a
//! million grants nearly half of an expiry batch's transaction was sled walking to
//! pages it had to load first (perf: `Tree::view_for_key`); read here beforehand,
//! outside any transaction and on another thread, they are in sled's cache when the
//! batch commits. Nothing is written, and nothing depends on it: a key read in vain
//! (the group was split meanwhile, the record moved on) costs only the read.

use std::time::Instant;

use super::change::Op;
use super::keys::{index_prefix, timer_window};
use super::packed;
use super::records::{self, IndexKey};
use super::{Change, SledStore, StoreError, Table};

/// What committing some changes will read: records (with the index entries a write
/// gives them; `None` for an expectation alone) and timer keys.
#[derive(Default)]
pub(crate) struct Reads {
    records: Vec<(Table, String, Option<Vec<String>>)>,
    timers: Vec<Vec<u8>>,
}

impl Reads {
    pub(crate) fn of<'c>(changes: impl IntoIterator<Item = &'c Change>) -> Reads {
        let mut reads = Reads::default();
        for change in changes {
            for op in change.ops() {
                match op {
                    Op::Expect { table, key, .. } => {
                        reads.records.push((*table, key.clone(), None))
                    }
                    Op::Put {
                        table, key, idx, ..
                    } => {
                        reads.records.push((*table, key.clone(), Some(idx.clone())));
                    }
                    Op::Delete { table, key } => {
                        reads.records.push((*table, key.clone(), Some(Vec::new())));
                    }
                    Op::Timer { key, .. } | Op::CancelTimer { key } => {
                        reads.timers.push(key.clone());
                    }
                    Op::Outbox(_) | Op::Audit(_) | Op::JournalDone(_) => {}
                }
            }
        }
        reads
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.records.is_empty() && self.timers.is_empty()
    }
}

impl SledStore {
    /// Reads what `reads` names, until `until`; returns how many keys it read.
    pub(crate) fn warm(&self, reads: &Reads, until: Instant) -> Result<usize, StoreError> {
        let mut read = 0;
        for (table, key, idx) in &reads.records {
            if Instant::now() >= until {
                return Ok(read);
            }
            let stored = self.get_raw(*table, key.as_bytes())?;
            read += 1;
            let (Some(after), Some(bytes)) = (idx, stored) else {
                continue;
            };
            let before = records::header(&bytes).map(|h| h.idx).unwrap_or_default();
            let (gone, new) = records::index_moves(&before, after);
            for entry in gone.chain(new) {
                let entry = IndexKey::from_stored(entry);
                let prefix = index_prefix(*table, &entry.name);
                read += self.warm_bucket(Table::Index, &prefix, key.as_bytes())?;
            }
        }
        for key in &reads.timers {
            if Instant::now() >= until {
                return Ok(read);
            }
            if let Some(window) = timer_window(key) {
                read += self.warm_bucket(Table::Timers, &window, key)?;
            }
        }
        Ok(read)
    }

    fn get_raw(&self, table: Table, key: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        self.tree(table)
            .get(key)
            .map_err(|e| StoreError::storage("reading ahead", e))
    }

    /// Reads the bucket of group `prefix` that `member` lives in (and bucket 0, which
    /// says how many there are).
    fn warm_bucket(&self, table: Table, prefix: &[u8], member: &[u8]) -> Result<usize, StoreError> {
        let Some(head) = self.get_raw(table, &packed::bucket_key(prefix, 0))? else {
            return Ok(1);
        };
        let n = packed::buckets_in(&head).unwrap_or(1);
        let at = packed::bucket_of(packed::member_hash(table, member), n);
        if at != 0 {
            self.get_raw(table, &packed::bucket_key(prefix, at))?;
            return Ok(2);
        }
        Ok(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::suite::{create, req, t, Grant};
    use crate::store::Store;

    #[test]
    fn the_reads_of_a_change_are_its_records_with_their_new_entries_and_its_timers() {
        let change = create("REQ-1")
            .put(Table::Requests, "REQ-2", &req("x"))
            .delete(Table::Requests, "REQ-3")
            .cancel_timer(t(5), "REQ-3", "reminder");
        let reads = Reads::of([&change]);
        let records: Vec<(&str, Option<usize>)> = reads
            .records
            .iter()
            .map(|(_, key, idx)| (key.as_str(), idx.as_ref().map(Vec::len)))
            .collect();
        assert_eq!(
            records,
            [
                ("REQ-1", None),
                ("REQ-1", Some(0)),
                ("REQ-2", Some(0)),
                ("REQ-3", Some(0))
            ]
        );
        assert_eq!(
            reads.timers.len(),
            2,
            "the reminder scheduled and the one cancelled"
        );
        assert!(Reads::of([&Change::new()]).is_empty());
    }

    #[tokio::test]
    async fn warming_reads_the_record_and_the_buckets_its_index_moves_touch() {
        let store = Store::temporary().expect("store");
        let grant = |owner: &str| Grant {
            owner: owner.into(),
        };
        let mut seed = Change::new();
        for i in 0..200 {
            seed = seed.put(Table::Requests, format!("G-{i}"), &grant("alice"));
        }
        store.commit(seed).await.expect("seed");
        let sled = store.sled().expect("sled");
        let moved = Change::new().put(Table::Requests, "G-7", &grant("bob"));
        // The record; bucket 0 and the member's bucket of person:alice (grown past one
        // bucket); bucket 0 of person:bob, which does not exist yet.
        let read = sled
            .warm(
                &Reads::of([&moved]),
                Instant::now() + std::time::Duration::from_secs(60),
            )
            .expect("warm");
        assert!((3..=4).contains(&read), "{read}");
        let past = sled
            .warm(&Reads::of([&moved]), Instant::now())
            .expect("warm");
        assert_eq!(past, 0, "nothing after the deadline");
    }
}
