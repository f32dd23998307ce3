//! Packed groups (see `packed`) inside one sled transaction: members added and
//! removed, buckets split and merged, each bucket decoded at most once and written
//! at most once per transaction however many changes of a group commit touch it.
//!
//! The cache lives in the transaction's view ([`super::tx::Tx`]) and is written out
//! by [`PackedWrites::write_out`] when the closure succeeds (only the buckets changed); a closure that sled runs
//! again starts from a fresh view, so nothing stale survives a retry.

use std::cell::RefCell;
use std::collections::HashMap;

use sled::transaction::TransactionalTree;

use super::packed::{self, Bucket};
use super::tx::{abort_with, TxResult};
use super::{StoreError, Table};

/// Buckets read or changed in this transaction, by (table, physical key).
#[derive(Default)]
pub(crate) struct PackedWrites {
    slots: RefCell<HashMap<BucketAt, Slot>>,
}

/// A bucket's table and physical key.
type BucketAt = (Table, Vec<u8>);

/// A bucket as this transaction sees it (`None`: absent or removed), and whether it
/// must be written: only changed buckets are, so a change costs the bytes of the one
/// bucket its member lives in (sled appends every write to its log).
struct Slot {
    bucket: Option<Bucket>,
    dirty: bool,
}

/// One group in one table of a transaction.
pub(crate) struct Group<'a> {
    pub(crate) writes: &'a PackedWrites,
    pub(crate) tree: &'a TransactionalTree,
    pub(crate) table: Table,
    pub(crate) prefix: &'a [u8],
}

impl Group<'_> {
    /// Adds (or replaces) `member`; returns whether it is new to the group. A bucket
    /// grown past [`packed::GROW_AT`] members grows the group by one bucket.
    pub(crate) fn insert<E: From<StoreError>>(
        &self,
        member: &[u8],
        value: &[u8],
    ) -> TxResult<bool, E> {
        let n = self.buckets::<E>()?;
        let at = packed::bucket_of(self.hash(member), n);
        let mut bucket = self.take::<E>(at)?.unwrap_or_else(|| Bucket {
            buckets: if at == 0 { 1 } else { 0 },
            ..Bucket::default()
        });
        let new = bucket
            .members
            .insert(member.to_vec(), value.to_vec())
            .is_none();
        let grow = packed::should_grow(bucket.members.len());
        self.put(at, Some(bucket));
        if grow {
            self.grow::<E>()?;
        }
        Ok(new)
    }

    /// Removes `member`; returns its value if it was in the group. The group shrinks
    /// by one bucket while its last bucket and the one it folds into are sparse, and
    /// is gone once empty.
    pub(crate) fn remove<E: From<StoreError>>(
        &self,
        member: &[u8],
    ) -> TxResult<Option<Vec<u8>>, E> {
        let n = self.buckets::<E>()?;
        let at = packed::bucket_of(self.hash(member), n);
        let Some(mut bucket) = self.take::<E>(at)? else {
            self.keep(at, None);
            return Ok(None);
        };
        let removed = bucket.members.remove(member);
        if removed.is_none() {
            self.keep(at, Some(bucket));
            return Ok(None);
        }
        let gone = at != 0 && bucket.members.is_empty();
        self.put(at, (!gone).then_some(bucket));
        self.settle::<E>()?;
        Ok(removed)
    }

    /// The hash that places `member` (see [`packed::member_hash`]).
    fn hash(&self, member: &[u8]) -> u64 {
        packed::member_hash(self.table, member)
    }

    /// How many buckets the group has (bucket 0 says; 1 for a new group).
    fn buckets<E: From<StoreError>>(&self) -> TxResult<u32, E> {
        let head = self.take::<E>(0)?;
        let n = head.as_ref().map_or(1, |h| h.buckets.max(1));
        self.keep(0, head);
        Ok(n)
    }

    /// Shrinks the group while it is sparse, and removes it once it is empty.
    fn settle<E: From<StoreError>>(&self) -> TxResult<(), E> {
        loop {
            let Some(head) = self.take::<E>(0)? else {
                return Ok(());
            };
            let n = head.buckets.max(1);
            if n == 1 {
                if head.members.is_empty() {
                    self.put(0, None);
                } else {
                    self.keep(0, Some(head));
                }
                return Ok(());
            }
            self.keep(0, Some(head));
            let last = n - 1;
            let target = packed::split_source(last);
            let together = self.size::<E>(last)? + self.size::<E>(target)?;
            if !packed::should_merge(together) {
                return Ok(());
            }
            self.shrink::<E>()?;
        }
    }

    /// Members in bucket `bucket`.
    fn size<E: From<StoreError>>(&self, bucket: u32) -> TxResult<usize, E> {
        let b = self.take::<E>(bucket)?;
        let size = b.as_ref().map_or(0, |b| b.members.len());
        self.keep(bucket, b);
        Ok(size)
    }

    /// Adds bucket `n`, moving to it the members of its split source that now hash there.
    fn grow<E: From<StoreError>>(&self) -> TxResult<(), E> {
        let Some(mut head) = self.take::<E>(0)? else {
            return Ok(());
        };
        let n = head.buckets.max(1);
        let source = packed::split_source(n);
        let mut from = if source == 0 {
            std::mem::take(&mut head.members)
        } else {
            self.take::<E>(source)?.unwrap_or_default().members
        };
        let moved: Vec<Vec<u8>> = from
            .keys()
            .filter(|k| packed::bucket_of(self.hash(k), n + 1) == n)
            .cloned()
            .collect();
        let mut grown = Bucket::default();
        for key in moved {
            if let Some(value) = from.remove(&key) {
                grown.members.insert(key, value);
            }
        }
        if source == 0 {
            head.members = from;
        } else {
            self.put(
                source,
                (!from.is_empty()).then_some(Bucket {
                    members: from,
                    ..Bucket::default()
                }),
            );
        }
        self.put(n, (!grown.members.is_empty()).then_some(grown));
        head.buckets = n + 1;
        self.put(0, Some(head));
        Ok(())
    }

    /// Folds the last bucket back into its split source.
    fn shrink<E: From<StoreError>>(&self) -> TxResult<(), E> {
        let Some(mut head) = self.take::<E>(0)? else {
            return Ok(());
        };
        let last = head.buckets.max(1) - 1;
        if last == 0 {
            self.keep(0, Some(head));
            return Ok(());
        }
        let target = packed::split_source(last);
        let members = self.take::<E>(last)?.unwrap_or_default().members;
        self.put(last, None);
        if target == 0 {
            head.members.extend(members);
        } else {
            let mut into = self.take::<E>(target)?.unwrap_or_default();
            into.members.extend(members);
            self.put(target, Some(into));
        }
        head.buckets = last;
        self.put(0, Some(head));
        Ok(())
    }

    /// Takes bucket `bucket` out of the cache (reading it on first use); the caller
    /// gives it back with [`Group::put`] (changed) or [`Group::keep`] (unchanged).
    fn take<E: From<StoreError>>(&self, bucket: u32) -> TxResult<Option<Bucket>, E> {
        let key = packed::bucket_key(self.prefix, bucket);
        let mut slots = self.writes.slots.borrow_mut();
        if let Some(slot) = slots.get_mut(&(self.table, key.clone())) {
            return Ok(slot.bucket.take());
        }
        drop(slots);
        let Some(bytes) = self.tree.get(&key)? else {
            return Ok(None);
        };
        match Bucket::decode(&bytes) {
            Ok(bucket) => Ok(Some(bucket)),
            Err(detail) => abort_with(StoreError::decode(self.table, &key, detail)),
        }
    }

    /// Gives back a changed bucket, to be written when the transaction commits.
    fn put(&self, bucket: u32, value: Option<Bucket>) {
        self.give_back(bucket, value, true);
    }

    /// Gives back a bucket as it was taken (written only if an earlier step changed it).
    fn keep(&self, bucket: u32, value: Option<Bucket>) {
        self.give_back(bucket, value, false);
    }

    fn give_back(&self, bucket: u32, value: Option<Bucket>, changed: bool) {
        let key = packed::bucket_key(self.prefix, bucket);
        let mut slots = self.writes.slots.borrow_mut();
        let slot = slots.entry((self.table, key)).or_insert(Slot {
            bucket: None,
            dirty: false,
        });
        slot.bucket = value;
        slot.dirty |= changed;
    }
}

impl PackedWrites {
    /// Writes every bucket changed in this transaction into its tree.
    pub(crate) fn write_out<E: From<StoreError>>(
        &self,
        trees: &[TransactionalTree],
    ) -> TxResult<(), E> {
        for ((table, key), slot) in self.slots.borrow_mut().drain() {
            if !slot.dirty {
                continue;
            }
            let tree = &trees[table.index()];
            match slot.bucket {
                Some(bucket) => {
                    tree.insert(key, bucket.encode())?;
                }
                None => {
                    tree.remove(key)?;
                }
            }
        }
        Ok(())
    }
}
