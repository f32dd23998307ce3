//! Packed groups: on sled, the many small rows of one group (the records indexed
//! under one index entry, the timers due in one ten-minute window) kept under a few
//! keys instead of a key each.
//!
//! Why: sled 0.34 holds a page-table entry and segment bookkeeping for every ~10 keys
//! from `open` on, so its memory follows the number of keys, not their bytes
//! (BENCHMARKS.md). A million grants were five million keys (a record, two timers,
//! two index rows each) and 275 MiB idle; packed, the timers and index rows are a few
//! thousand keys.
//!
//! A group is split over buckets by linear hashing of each member's key, so a bucket
//! holds at most about twice [`GROW_AT`] members however large the group grows, and
//! a change rewrites the one bucket its member lives in (two when it splits or merges
//! buckets), never the group. Bucket 0 also carries the group's bucket count. Physical keys are `group ++ 0xFF ++ bucket (u32 BE)`:
//! rows written before packing (`group-prefix ++ UTF-8 text`) can never start with
//! 0xFF, so both layouts can be told apart in one tree. This module is pure: the
//! transaction's cache of decoded buckets is `packed_tx`.

use std::collections::BTreeMap;

/// The byte after a group's prefix that marks a packed bucket.
pub(crate) const MARK: u8 = 0xFF;

/// Members a bucket may hold before the group grows by one bucket (a bucket that
/// overflows waits for the split pointer to reach it, so buckets stay within about
/// twice this). Small, because every change rewrites its member's whole bucket.
pub(crate) const GROW_AT: usize = 24;

/// The group shrinks by one bucket when its last bucket and the one that bucket
/// folds into hold fewer members than this together.
pub(crate) const MERGE_BELOW: usize = GROW_AT / 2;

/// The first layout byte of an encoded bucket.
const LAYOUT: u8 = 1;

/// One bucket's value: the members in key order; bucket 0 also carries how many
/// buckets the group has (zero in the others).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Bucket {
    pub buckets: u32,
    pub members: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Bucket {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let size: usize = self
            .members
            .iter()
            .map(|(k, v)| 8 + k.len() + v.len())
            .sum();
        let mut out = Vec::with_capacity(5 + size);
        out.push(LAYOUT);
        out.extend_from_slice(&self.buckets.to_be_bytes());
        for (key, value) in &self.members {
            put_part(&mut out, key);
            put_part(&mut out, value);
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Bucket, String> {
        let mut reader = Reader { bytes, at: 0 };
        let layout = reader.take(1)?[0];
        if layout != LAYOUT {
            return Err(format!("packed bucket layout {layout} is not known"));
        }
        let buckets = u32::from_be_bytes(reader.array()?);
        let mut members = BTreeMap::new();
        while reader.at < bytes.len() {
            let key = reader.part()?.to_vec();
            let value = reader.part()?.to_vec();
            members.insert(key, value);
        }
        Ok(Bucket { buckets, members })
    }
}

/// How many buckets a group has, from its bucket 0's bytes, without decoding it.
pub(crate) fn buckets_in(head: &[u8]) -> Option<u32> {
    match head {
        [LAYOUT, a, b, c, d, ..] => Some(u32::from_be_bytes([*a, *b, *c, *d]).max(1)),
        _ => None,
    }
}

fn put_part(out: &mut Vec<u8>, part: &[u8]) {
    // A member is a key or a small record: far below 4 GiB.
    out.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(part);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!("packed bucket cut short at byte {}", self.at));
        };
        let part = &self.bytes[self.at..end];
        self.at = end;
        Ok(part)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let part = self.take(N)?;
        <[u8; N]>::try_from(part).map_err(|_| "packed bucket cut short".to_owned())
    }

    fn part(&mut self) -> Result<&'a [u8], String> {
        let len = u32::from_be_bytes(self.array()?) as usize;
        self.take(len)
    }
}

/// The physical key of bucket `bucket` of the group `group`.
pub(crate) fn bucket_key(group: &[u8], bucket: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(group.len() + 5);
    key.extend_from_slice(group);
    key.push(MARK);
    key.extend_from_slice(&bucket.to_be_bytes());
    key
}

/// Whether `key` is a packed bucket of a group whose prefix is `prefix_len` bytes.
pub(crate) fn is_bucket_key(key: &[u8], prefix_len: usize) -> bool {
    key.len() == prefix_len + 5 && key.get(prefix_len) == Some(&MARK)
}

/// FNV-1a: stable across builds and platforms, which a hash that places rows on
/// disk must be (std's `DefaultHasher` promises neither).
pub(crate) fn hash(key: &[u8]) -> u64 {
    key.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The hash that places a timer (`due (8 bytes) ++ subject ++ 0 ++ kind`): its
/// subject's, which is the key of the request it belongs to. A request's timers in
/// every window and its index rows (members named by the request's key) then share
/// one hash, so a batch of firings taken in [`locality`] order touches a small run of
/// buckets in each group it changes instead of nearly all of them (data directory
/// format 3; format 2 hashed the whole timer key).
pub(crate) fn timer_hash(member: &[u8]) -> u64 {
    let rest = member.get(8..).unwrap_or(member);
    let subject = rest.split(|b| *b == 0).next().unwrap_or(rest);
    hash(subject)
}

/// The hash that places `member` in a group of `table`: a timer by its subject
/// ([`timer_hash`]), anything else by its whole key.
pub(crate) fn member_hash(table: super::Table, member: &[u8]) -> u64 {
    match table {
        super::Table::Timers => timer_hash(member),
        _ => hash(member),
    }
}

/// The order in which a backlog of changes to the records `key` names writes the
/// fewest buckets: a bucket holds the members whose hashes share their low bits
/// ([`bucket_of`]), so sorting by the hash's bits reversed brings each bucket's
/// members together, whatever the group's size.
pub(crate) fn locality(key: &[u8]) -> u64 {
    hash(key).reverse_bits()
}

/// The bucket a member hashing to `hash` lives in when its group has `buckets`
/// buckets (linear hashing).
pub(crate) fn bucket_of(hash: u64, buckets: u32) -> u32 {
    let n = u64::from(buckets.max(1));
    let high = n.next_power_of_two();
    let b = hash % high;
    let b = if b < n { b } else { hash % (high / 2) };
    // b < n ≤ u32::MAX.
    b as u32
}

/// The bucket whose members are shared with the new bucket `buckets` when a group
/// grows from `buckets` to `buckets + 1` (and that takes them back when it shrinks).
pub(crate) fn split_source(buckets: u32) -> u32 {
    let grown = u64::from(buckets) + 1;
    (u64::from(buckets) - grown.next_power_of_two() / 2) as u32
}

/// Whether a bucket of `members` members makes its group grow by one bucket.
pub(crate) fn should_grow(members: usize) -> bool {
    members > GROW_AT
}

/// Whether two buckets holding `members` together should become one.
pub(crate) fn should_merge(members: usize) -> bool {
    members < MERGE_BELOW
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growing_by_one_bucket_moves_members_only_from_the_split_source_to_the_new_bucket() {
        for n in 1..200u32 {
            for h in 0..2_000u64 {
                let h = hash(&h.to_be_bytes());
                let before = bucket_of(h, n);
                let after = bucket_of(h, n + 1);
                assert!(before < n && after <= n, "n={n}");
                if after != before {
                    assert_eq!(after, n, "a member only ever moves to the new bucket");
                    assert_eq!(before, split_source(n), "n={n}");
                }
            }
        }
    }

    #[test]
    fn every_bucket_gets_members() {
        let n = 37;
        let mut seen = vec![0u32; n as usize];
        for i in 0..10_000u64 {
            seen[bucket_of(hash(format!("REQ-{i}").as_bytes()), n) as usize] += 1;
        }
        assert!(seen.iter().all(|c| *c > 100), "{seen:?}");
    }

    #[test]
    fn a_timer_is_placed_by_its_subject_as_the_requests_index_rows_are() {
        let key = |due: u64, kind: &str| {
            let mut k = due.to_be_bytes().to_vec();
            k.extend_from_slice(b"REQ-1042\0");
            k.extend_from_slice(kind.as_bytes());
            k
        };
        assert_eq!(timer_hash(&key(1, "grant-expire")), hash(b"REQ-1042"));
        assert_eq!(timer_hash(&key(9, "revoke-overdue")), hash(b"REQ-1042"));
        assert_ne!(timer_hash(&key(1, "x")), hash(&key(1, "x")));
    }

    #[test]
    fn a_run_in_locality_order_fills_few_buckets_of_any_group() {
        let mut keys: Vec<String> = (0..10_000).map(|i| format!("REQ-{i}")).collect();
        keys.sort_by_key(|k| locality(k.as_bytes()));
        for buckets in [7u32, 64, 417, 1_000] {
            let run = &keys[..1_024];
            let touched: std::collections::BTreeSet<u32> = run
                .iter()
                .map(|k| bucket_of(hash(k.as_bytes()), buckets))
                .collect();
            // A tenth of the members: about a tenth of the buckets (a few more where
            // the group has not finished a round of splits), not nearly all of them.
            let most = (buckets as usize).div_ceil(10) * 2 + 2;
            assert!(touched.len() <= most, "{buckets}: {}", touched.len());
        }
    }

    #[test]
    fn a_bucket_decodes_to_what_was_encoded() {
        let mut bucket = Bucket {
            buckets: 3,
            ..Bucket::default()
        };
        bucket.members.insert(b"REQ-1".to_vec(), Vec::new());
        bucket
            .members
            .insert(b"REQ-2".to_vec(), b"{\"v\":1}".to_vec());
        assert_eq!(Bucket::decode(&bucket.encode()), Ok(bucket.clone()));
        let bytes = bucket.encode();
        assert!(Bucket::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(Bucket::decode(b"").is_err());
        assert!(Bucket::decode(&[9]).is_err(), "an unknown layout");
        assert_eq!(buckets_in(&bytes), Some(3));
        assert_eq!(buckets_in(&[9, 0, 0, 0, 3]), None);
    }

    #[test]
    fn bucket_keys_are_told_apart_from_text_rows_of_the_same_group() {
        let key = bucket_key(b"requests\0person:U1\0", 7);
        assert!(is_bucket_key(&key, 19));
        assert!(!is_bucket_key(b"requests\0person:U1\0REQ-1", 19));
        assert!(bucket_key(b"g", 0) < bucket_key(b"g", 1));
    }

    #[test]
    fn groups_grow_and_shrink_with_hysteresis() {
        assert!(!should_grow(GROW_AT));
        assert!(should_grow(GROW_AT + 1));
        assert!(should_merge(MERGE_BELOW - 1));
        assert!(!should_merge(MERGE_BELOW));
    }
}
