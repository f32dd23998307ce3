//! The hash-chained audit log: record building, canonical JSON, hashing, and the
//! chain check behind `c1bot audit verify`.
//!
//! Each entry is `{v, seq, at, actor, action, subject, detail, prev_hash, hash}` with
//! `hash = sha256(prev_hash || canonical JSON of the entry without "hash")`, stored in
//! the `audit` tree under its big-endian `seq`. The head (last seq and hash) is kept
//! in `meta` and moved in the same transaction as the entry, so the chain and its head
//! never disagree. Editing, removing or reordering an entry breaks the chain at that
//! entry; rewriting the whole tail is only caught against an exported head, so
//! operators should keep exports. Appending happens in [`super::tx`]; this module is
//! pure apart from the two `Store` readers at the end.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::keys::{seq_from_key, AUDIT_HEAD};
use super::{records, Store, StoreError, Table};

/// Format version of an audit entry (part of the hashed content).
const ENTRY_VERSION: u32 = 1;

/// `prev_hash` of the first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Something that happened, as the caller describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Who did it: a Slack user id, or `c1bot` for the bot itself.
    pub actor: String,
    /// What happened, dotted: `request.created`, `decision.approved`, `notification.failed`.
    pub action: String,
    /// What it happened to, e.g. `REQ-1042`.
    pub subject: String,
    pub detail: Value,
}

/// The chain's head, kept in `meta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AuditHead {
    pub seq: u64,
    pub hash: String,
}

impl records::Record for AuditHead {
    const VERSION: u32 = 1;
}

/// The outcome of [`Store::verify_audit`].
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

/// The stored bytes and new hash of entry `seq`, chained after `prev_hash`.
pub(crate) fn build_entry(
    seq: u64,
    at: DateTime<Utc>,
    prev_hash: &str,
    event: &AuditEvent,
) -> (Vec<u8>, String) {
    let mut entry = json!({
        "v": ENTRY_VERSION,
        "seq": seq,
        "at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "detail": event.detail,
        "prev_hash": prev_hash,
    });
    let hash = chain_hash(prev_hash, &entry);
    entry["hash"] = Value::String(hash.clone());
    (canonical_json(&entry).into_bytes(), hash)
}

/// `sha256(prev_hash || canonical(entry without "hash"))`, lowercase hex.
fn chain_hash(prev_hash: &str, entry_without_hash: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(canonical_json(entry_without_hash).as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// JSON with object keys sorted (by UTF-8 bytes) at every level and no whitespace.
/// Written by hand rather than relying on `serde_json::Map` order, which flips to
/// insertion order if any crate in the build enables `preserve_order`.
pub(crate) fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// One stored audit entry: its key and its bytes.
pub(crate) type StoredEntry = (Vec<u8>, Vec<u8>);

/// Walks stored entries in key order and reports the first break, then compares the
/// end of the chain with the head kept in `meta` (which catches a truncated tail).
pub(crate) fn verify_chain<I>(entries: I, head: Option<&AuditHead>) -> AuditVerification
where
    I: IntoIterator<Item = StoredEntry>,
{
    let mut count = 0;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let broken = |seq, reason: String| AuditProblem { seq, reason };
    for (key, bytes) in entries {
        let expected = count + 1;
        let problem = match check_entry(expected, &key, &bytes, &prev_hash) {
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

impl Store {
    /// Writes every audit entry as one JSON object per line, oldest first; returns how many.
    pub fn export_audit(&self, w: &mut impl Write) -> Result<u64, StoreError> {
        let mut count = 0;
        for item in self.tree(Table::Audit).iter() {
            let (_, bytes) = item.map_err(|e| StoreError::storage("reading the audit log", e))?;
            w.write_all(&bytes)
                .and_then(|()| w.write_all(b"\n"))
                .map_err(|source| StoreError::Export { source })?;
            count += 1;
        }
        w.flush().map_err(|source| StoreError::Export { source })?;
        Ok(count)
    }

    /// Recomputes the whole chain; reports the first entry that was edited, removed or
    /// moved. A storage error is an `Err`; a broken chain is an `Ok` with a problem.
    pub fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        let head = self.read_versioned::<AuditHead>(Table::Meta, AUDIT_HEAD.as_bytes())?;
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
        let verification = verify_chain(entries, head.map(|h| h.data).as_ref());
        match read_error {
            Some(e) => Err(StoreError::storage("reading the audit log", e)),
            None => Ok(verification),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(n: u64) -> AuditEvent {
        AuditEvent {
            actor: "U0BOB00001".into(),
            action: "decision.approved".into(),
            subject: format!("REQ-{n}"),
            detail: json!({"b": 1, "a": [true, null, "x"]}),
        }
    }

    /// A well-formed chain of `n` entries and its head.
    fn chain(n: u64) -> (Vec<StoredEntry>, AuditHead) {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
            .single()
            .expect("valid");
        let mut prev = GENESIS_HASH.to_owned();
        let mut out = Vec::new();
        for seq in 1..=n {
            let (bytes, hash) = build_entry(seq, at, &prev, &event(seq));
            out.push((seq.to_be_bytes().to_vec(), bytes));
            prev = hash;
        }
        (out, AuditHead { seq: n, hash: prev })
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = json!({"b": {"z": 1, "a": "é\"\n"}, "a": [ {"y": 2, "x": 1} ]});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":[{"x":1,"y":2}],"b":{"a":"é\"\n","z":1}}"#
        );
    }

    #[test]
    fn an_intact_chain_verifies() {
        let (entries, head) = chain(5);
        let result = verify_chain(entries, Some(&head));
        assert_eq!(
            result,
            AuditVerification {
                count: 5,
                problem: None
            }
        );
    }

    #[test]
    fn an_empty_log_verifies() {
        assert!(verify_chain(Vec::new(), None).is_ok());
    }

    #[test]
    fn an_edited_entry_is_reported_with_its_seq() {
        let (mut entries, head) = chain(5);
        let edited = String::from_utf8(entries[2].1.clone())
            .expect("utf8")
            .replace("REQ-3", "REQ-9");
        entries[2].1 = edited.into_bytes();
        let problem = verify_chain(entries, Some(&head))
            .problem
            .expect("detected");
        assert_eq!(problem.seq, 3);
        assert!(problem.reason.contains("edited"), "{}", problem.reason);
    }

    #[test]
    fn a_removed_entry_is_reported_with_its_seq() {
        let (mut entries, head) = chain(5);
        entries.remove(1);
        let problem = verify_chain(entries, Some(&head))
            .problem
            .expect("detected");
        assert_eq!(problem.seq, 2);
        assert!(problem.reason.contains("missing"), "{}", problem.reason);
    }

    #[test]
    fn swapped_entries_are_reported_as_reordered() {
        let (mut entries, head) = chain(5);
        let (a, b) = (entries[1].1.clone(), entries[2].1.clone());
        entries[1].1 = b;
        entries[2].1 = a;
        let problem = verify_chain(entries, Some(&head))
            .problem
            .expect("detected");
        assert_eq!(problem.seq, 2);
        assert!(problem.reason.contains("reordered"), "{}", problem.reason);
    }

    #[test]
    fn a_truncated_tail_is_caught_by_the_head() {
        let (mut entries, head) = chain(5);
        entries.truncate(3);
        let problem = verify_chain(entries, Some(&head))
            .problem
            .expect("detected");
        assert_eq!(problem.seq, 4);
    }
}
