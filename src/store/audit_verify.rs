//! Checking the audit chain (`c1bot audit verify`): every entry's link and hash, the
//! head stored beside the log and, when given, an [`AuditAnchor`] kept elsewhere.
//!
//! The stored head lives in the same database as the entries, so whoever can rewrite
//! the disk can cut the newest entries and move the head back, and the chain still
//! checks out. An anchor (a `seq:hash` c1bot published earlier, see
//! `crate::app::audit_anchor`) catches that: entry `seq` must still be there with that
//! hash, and the chain must run unbroken through it to the end. Pure apart from the
//! `SledStore` reader at the end.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::audit::{chain_hash, AuditHead, GENESIS_HASH};
use super::keys::{seq_from_key, AUDIT_HEAD};
use super::{SledStore, StoreError, Table};

/// A head of the chain kept outside the store: entry `seq` had hash `hash`. Written
/// and read as `seq:hash` (`1042:3f5a…`, 64 hex digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditAnchor {
    pub seq: u64,
    pub hash: String,
}

impl fmt::Display for AuditAnchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

impl FromStr for AuditAnchor {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || {
            format!(
                "{text:?} is not an audit head: write it as SEQ:HASH, e.g. 1042:3f5a… with the 64 hex digits c1bot published"
            )
        };
        let (seq, hash) = text.trim().split_once(':').ok_or_else(malformed)?;
        let seq: u64 = seq.parse().map_err(|_| malformed())?;
        let hex = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        if seq == 0 || !hex {
            return Err(malformed());
        }
        Ok(AuditAnchor {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

/// The outcome of [`SledStore::verify_audit`].
#[derive(Debug, Clone, PartialEq)]
pub struct AuditVerification {
    /// Entries read.
    pub count: u64,
    /// The first break in the chain, if any.
    pub problem: Option<AuditProblem>,
}

impl AuditVerification {
    pub fn is_ok(&self) -> bool {
        self.problem.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditProblem {
    /// The first sequence number that does not check out.
    pub seq: u64,
    pub reason: String,
}

/// One stored audit entry: its key and its bytes.
pub(crate) type StoredEntry = (Vec<u8>, Vec<u8>);

/// Walks stored entries in key order and reports the first break; then checks that
/// the log reaches `anchor` (a cut tail) and ends where the head kept in `meta` says.
/// The anchor's hash is compared when the walk passes its entry.
#[cfg(test)]
pub(crate) fn verify_chain<I>(
    entries: I,
    head: Option<&AuditHead>,
    anchor: Option<&AuditAnchor>,
) -> AuditVerification
where
    I: IntoIterator<Item = StoredEntry>,
{
    verify_chain_from(entries, head, anchor, None)
}

/// [`verify_chain`] of a log pruned through `pruned` (see `super::audit_prune`): the
/// first entry chains from the pruned point's hash, and entries at or before it (left
/// by an interrupted prune) are skipped. `count` is then the last sequence number.
pub(crate) fn verify_chain_from<I>(
    entries: I,
    head: Option<&AuditHead>,
    anchor: Option<&AuditAnchor>,
    pruned: Option<&AuditHead>,
) -> AuditVerification
where
    I: IntoIterator<Item = StoredEntry>,
{
    let (mut count, mut prev_hash) =
        pruned.map_or((0, GENESIS_HASH.to_owned()), |p| (p.seq, p.hash.clone()));
    let broken = |seq, reason: String| AuditProblem { seq, reason };
    for (key, bytes) in entries {
        if pruned.is_some_and(|p| seq_from_key(&key).is_some_and(|seq| seq <= p.seq)) {
            continue;
        }
        let expected = count + 1;
        let checked = check_entry(expected, &key, &bytes, &prev_hash)
            .and_then(|hash| check_anchor(expected, hash, anchor));
        let problem = match checked {
            Ok(hash) => {
                prev_hash = hash;
                count = expected;
                continue;
            }
            Err(problem) => problem,
        };
        return AuditVerification {
            count,
            problem: Some(problem),
        };
    }
    if let Some(missing) = anchor.and_then(|a| reaches(a, count)) {
        return AuditVerification {
            count,
            problem: Some(missing),
        };
    }
    let problem = match head {
        None if count > 0 => Some(broken(count, "the log has entries but no head".into())),
        Some(head) if head.seq != count => Some(broken(
            count + 1,
            format!(
                "the head says the log ends at {}, but it ends at {count} (entries were removed)",
                head.seq
            ),
        )),
        Some(head) if head.hash != prev_hash => Some(broken(
            count,
            "the last entry's hash differs from the recorded head".into(),
        )),
        _ => None,
    };
    AuditVerification { count, problem }
}

/// Entry `seq` of hash `hash` against the anchor, when the anchor names that entry.
fn check_anchor(
    seq: u64,
    hash: String,
    anchor: Option<&AuditAnchor>,
) -> Result<String, AuditProblem> {
    match anchor {
        Some(anchor) if anchor.seq == seq && anchor.hash != hash => Err(AuditProblem {
            seq,
            reason: format!(
                "its hash is not the anchor's ({anchor}): the log was rewritten at or before entry {seq}, or the anchor comes from another data directory"
            ),
        }),
        _ => Ok(hash),
    }
}

/// A log that ends at `count` before the anchor's entry was cut.
fn reaches(anchor: &AuditAnchor, count: u64) -> Option<AuditProblem> {
    (count < anchor.seq).then(|| AuditProblem {
        seq: count + 1,
        reason: format!(
            "entry {} is missing: the anchor {anchor} says the log reached entry {}, but it ends at entry {count} (its newest entries were cut)",
            count + 1,
            anchor.seq
        ),
    })
}

/// Checks one entry; returns its hash.
fn check_entry(
    expected: u64,
    key: &[u8],
    bytes: &[u8],
    prev_hash: &str,
) -> Result<String, AuditProblem> {
    let broken = |reason: String| AuditProblem {
        seq: expected,
        reason,
    };
    let key_seq =
        seq_from_key(key).ok_or_else(|| broken("a key is not a sequence number".into()))?;
    if key_seq != expected {
        return Err(broken(format!(
            "entry {expected} is missing (the next stored entry is {key_seq})"
        )));
    }
    let mut entry: Map<String, Value> = serde_json::from_slice(bytes)
        .map_err(|e| broken(format!("the entry is not a JSON object: {e}")))?;
    if entry.get("seq").and_then(Value::as_u64) != Some(expected) {
        return Err(broken(format!(
            "the entry stored as {expected} carries seq {} (entries were reordered)",
            entry.get("seq").unwrap_or(&Value::Null)
        )));
    }
    if entry.get("prev_hash").and_then(Value::as_str) != Some(prev_hash) {
        return Err(broken(
            "prev_hash does not match the previous entry's hash".into(),
        ));
    }
    let stored_hash = match entry.remove("hash") {
        Some(Value::String(hash)) => hash,
        _ => return Err(broken("the entry has no hash".into())),
    };
    if chain_hash(prev_hash, &Value::Object(entry)) != stored_hash {
        return Err(broken(
            "the entry's content does not match its hash (it was edited)".into(),
        ));
    }
    Ok(stored_hash)
}

impl SledStore {
    /// Recomputes the whole chain; reports the first entry that was edited, removed or
    /// moved. A storage error is an `Err`; a broken chain is an `Ok` with a problem.
    /// It cannot tell a cut tail whose head was moved back too: see
    /// [`SledStore::verify_audit_against`].
    pub fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        self.verify_audit_against(None)
    }

    /// [`SledStore::verify_audit`], and the log must still hold the entry `anchor` names,
    /// with its hash: a cut or rewritten tail is reported even when the stored head
    /// was moved back with it.
    pub fn verify_audit_against(
        &self,
        anchor: Option<&AuditAnchor>,
    ) -> Result<AuditVerification, StoreError> {
        let head = self.read_versioned::<AuditHead>(Table::Meta, AUDIT_HEAD.as_bytes())?;
        let pruned = self.audit_pruned()?;
        // Streamed, so a long log is checked in constant memory; a read error stops
        // the walk and is returned instead of a verdict.
        let mut read_error = None;
        let entries = self.tree(Table::Audit).iter().map_while(|item| match item {
            Ok((key, bytes)) => Some((key.to_vec(), bytes.to_vec())),
            Err(e) => {
                read_error = Some(e);
                None
            }
        });
        let verification = verify_chain_from(
            entries,
            head.map(|h| h.data).as_ref(),
            anchor,
            pruned.as_ref(),
        );
        match read_error {
            Some(e) => Err(StoreError::storage("reading the audit log", e)),
            None => Ok(verification),
        }
    }
}

#[cfg(test)]
#[path = "audit_verify_tests.rs"]
mod tests;
