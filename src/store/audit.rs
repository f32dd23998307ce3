//! The hash-chained audit log: record building, canonical JSON, hashing, export and
//! the readers of its head. The chain check is [`super::audit_verify`].
//!
//! Each entry is `{v, seq, at, actor, action, subject, detail, prev_hash, hash}` with
//! `hash = sha256(prev_hash || canonical JSON of the entry without "hash")`, stored in
//! the `audit` tree under its big-endian `seq`. The head (last seq and hash) is kept
//! in `meta` and moved in the same transaction as the entry, so the chain and its head
//! never disagree. Editing, removing or reordering an entry breaks the chain at that
//! entry; cutting or rewriting the tail (head included) is only caught against a head
//! kept elsewhere, an [`super::AuditAnchor`]. Appending happens in [`super::tx`]; this
//! module is pure apart from the `SledStore` readers at the end.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::audit_verify::AuditAnchor;
use super::keys::{seq_key, AUDIT_HEAD};
use super::{records, SledStore, StoreError, Table};

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

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }
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
pub(super) fn chain_hash(prev_hash: &str, entry_without_hash: &Value) -> String {
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

impl SledStore {
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

    /// The chain's current head as stored beside it (`None` while the log is empty):
    /// what c1bot publishes as an anchor.
    pub fn audit_head(&self) -> Result<Option<AuditAnchor>, StoreError> {
        let head = self.read_versioned::<AuditHead>(Table::Meta, AUDIT_HEAD.as_bytes())?;
        Ok(head.map(|h| AuditAnchor {
            seq: h.data.seq,
            hash: h.data.hash,
        }))
    }

    /// The entries after `seq`, oldest first, as JSON objects; reads lazily.
    pub fn audit_after(&self, seq: u64) -> impl Iterator<Item = Result<Value, StoreError>> + use<> {
        let from = seq_key(seq.saturating_add(1));
        self.tree(Table::Audit).range(from..).map(|item| {
            let (key, bytes) = item.map_err(|e| StoreError::storage("reading the audit log", e))?;
            serde_json::from_slice(&bytes).map_err(|e| StoreError::decode(Table::Audit, &key, e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = json!({"b": {"z": 1, "a": "é\"\n"}, "a": [ {"y": 2, "x": 1} ]});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":[{"x":1,"y":2}],"b":{"a":"é\"\n","z":1}}"#
        );
    }
}
