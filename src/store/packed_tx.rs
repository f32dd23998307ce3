//! Packed groups (see `packed`) inside one sled transaction: members added and
//! removed, buckets split and merged, each bucket decoded at most once and written
//! at most once per transaction however many changes of a group commit touch it.
//!
//! The cache lives in the transaction's view ([`super::tx::Tx`]) and is written out
//! by [`PackedWrites::write_out`] when the closure succeeds (every bucket in the
//! cache was put back by an operation that may have changed it, so all are written); a closure that sled runs
//! again starts from a fresh view, so nothing stale survives a retry.

use std::cell::RefCell;
use std::collections::HashMap;

use sled::transaction::TransactionalTree;

use super::packed::{self, Bucket};
use super::tx::{abort_with, TxResult};
use super::{StoreError, Table};

/// Buckets read or changed in this transaction, by (table, physical key); `None` is
/// a bucket that is absent (or removed).
#[derive(Default)]
pub(crate) struct PackedWrites {
    slots: RefCell<HashMap<BucketAt, Option<Bucket>>>,
}

/// A bucket's table and physical key.
type BucketAt = (Table, Vec<u8>);

/// One group in one table of a transaction.
pub(crate) struct Group<'a> {
    pub(crate) writes: &'a PackedWrites,
    pub(crate) tree: &'a TransactionalTree,
    pub(crate) table: Table,
    pub(crate) prefix: &'a [u8],
}

impl Group<'_> {
    /// Adds (or replaces) `member`; returns whether it is new to the group.
    pub(crate) fn insert<E: From<StoreError>>(
        &self,
        member: &[u8],
        value: &[u8],
    ) -> TxResult<bool, E> {
        let mut head = self.take::<E>(0)?.unwrap_or_else(|| Bucket {
            buckets: 1,
            ..Bucket::default()
        });
        let n = head.buckets.max(1);
        let at = packed::bucket_of(packed::hash(member), n);
        let new = if at == 0 {
            head.members
                .insert(member.to_vec(), value.to_vec())
                .is_none()
        } else {
            let mut bucket = self.take::<E>(at)?.unwrap_or_default();
            let new = bucket
                .members
                .insert(member.to_vec(), value.to_vec())
                .is_none();
            self.put(at, Some(bucket));
            new
        };
        if new {
            head.count += 1;
        }
        let grow = packed::should_grow(head.count, n);
        self.put(0, Some(head));
        if grow {
            self.grow::<E>()?;
        }
        Ok(new)
    }

    /// Removes `member`; returns its value if it was in the group.
    pub(crate) fn remove<E: From<StoreError>>(
        &self,
        member: &[u8],
    ) -> TxResult<Option<Vec<u8>>, E> {
        let Some(mut head) = self.take::<E>(0)? else {
            return Ok(None);
        };
        let n = head.buckets.max(1);
        let at = packed::bucket_of(packed::hash(member), n);
        let removed = if at == 0 {
            head.members.remove(member)
        } else {
            let mut bucket = self.take::<E>(at)?;
            let removed = bucket.as_mut().and_then(|b| b.members.remove(member));
            self.put(at, bucket.filter(|b| !b.members.is_empty() || at == 0));
            removed
        };
        if removed.is_some() {
            head.count = head.count.saturating_sub(1);
        }
        self.put(0, Some(head));
        self.settle::<E>()?;
        Ok(removed)
    }

    /// Shrinks the group while it is sparse, and removes it once it is empty.
    fn settle<E: From<StoreError>>(&self) -> TxResult<(), E> {
        loop {
            let Some(head) = self.take::<E>(0)? else {
                return Ok(());
            };
            if packed::should_shrink(head.count, head.buckets) {
                self.put(0, Some(head));
                self.shrink::<E>()?;
                continue;
            }
            let empty = head.count == 0 && head.buckets <= 1 && head.members.is_empty();
            self.put(0, (!empty).then_some(head));
            return Ok(());
        }
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
            .filter(|k| packed::bucket_of(packed::hash(k), n + 1) == n)
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
                Some(Bucket {
                    members: from,
                    ..Bucket::default()
                }),
            );
        }
        self.put(n, Some(grown));
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
            self.put(0, Some(head));
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
    /// puts it back, changed or not.
    fn take<E: From<StoreError>>(&self, bucket: u32) -> TxResult<Option<Bucket>, E> {
        let key = packed::bucket_key(self.prefix, bucket);
        let mut slots = self.writes.slots.borrow_mut();
        if let Some(slot) = slots.get_mut(&(self.table, key.clone())) {
            return Ok(slot.take());
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

    fn put(&self, bucket: u32, value: Option<Bucket>) {
        let key = packed::bucket_key(self.prefix, bucket);
        self.writes
            .slots
            .borrow_mut()
            .insert((self.table, key), value);
    }
}

impl PackedWrites {
    /// Writes every bucket changed in this transaction into its tree.
    pub(crate) fn write_out<E: From<StoreError>>(
        &self,
        trees: &[TransactionalTree],
    ) -> TxResult<(), E> {
        for ((table, key), bucket) in self.slots.borrow_mut().drain() {
            let tree = &trees[table.index()];
            match bucket {
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
