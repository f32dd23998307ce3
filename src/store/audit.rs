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
use serde_json::Value;
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
///
/// The entry's own keys are written straight out in their sorted order: the same
/// bytes as [`canonical_json`] of the entry as an object (a unit test holds the two
/// together), without building and copying a tree of values for every entry (a
/// burst of expiries appends thousands inside one locked transaction).
pub(crate) fn build_entry(
    seq: u64,
    at: DateTime<Utc>,
    prev_hash: &str,
    event: &AuditEvent,
) -> (Vec<u8>, String) {
    let mut out = Vec::with_capacity(320);
    out.extend_from_slice(b"{\"action\":");
    put_str(&mut out, &event.action);
    out.extend_from_slice(b",\"actor\":");
    put_str(&mut out, &event.actor);
    out.extend_from_slice(b",\"at\":");
    put_str(&mut out, &at.to_rfc3339_opts(SecondsFormat::Millis, true));
    out.extend_from_slice(b",\"detail\":");
    write_canonical(&event.detail, &mut out);
    out.push(b',');
    // "hash" sorts between "detail" and "prev_hash".
    let hash_goes = out.len();
    out.extend_from_slice(b"\"prev_hash\":");
    put_str(&mut out, prev_hash);
    out.extend_from_slice(format!(",\"seq\":{seq},\"subject\":").as_bytes());
    put_str(&mut out, &event.subject);
    out.extend_from_slice(format!(",\"v\":{ENTRY_VERSION}}}").as_bytes());
    let hash = hash_hex(prev_hash, &out);
    let mut stored = Vec::with_capacity(out.len() + 80);
    stored.extend_from_slice(&out[..hash_goes]);
    stored.extend_from_slice(b"\"hash\":");
    put_str(&mut stored, &hash);
    stored.push(b',');
    stored.extend_from_slice(&out[hash_goes..]);
    (stored, hash)
}

/// `sha256(prev_hash || canonical(entry without "hash"))`, lowercase hex.
pub(super) fn chain_hash(prev_hash: &str, entry_without_hash: &Value) -> String {
    hash_hex(prev_hash, canonical_json(entry_without_hash).as_bytes())
}

fn hash_hex(prev_hash: &str, canonical: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(canonical);
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    hex
}

/// JSON with object keys sorted (by UTF-8 bytes) at every level and no whitespace.
/// Written by hand rather than relying on `serde_json::Map` order, which flips to
/// insertion order if any crate in the build enables `preserve_order`.
pub(crate) fn canonical_json(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    // serde_json writes UTF-8 only.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                put_str(out, key);
                out.push(b':');
                write_canonical(&map[key], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        // Writing a scalar into a Vec cannot fail.
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

/// `text` as a JSON string, escaped as serde_json escapes it.
fn put_str(out: &mut Vec<u8>, text: &str) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
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
    use serde_json::json;

    /// What an entry was before it was written key by key: the canonical JSON of the
    /// entry as an object. Stored entries and their hashes must not change.
    fn as_an_object(
        seq: u64,
        at: DateTime<Utc>,
        prev: &str,
        event: &AuditEvent,
    ) -> (String, String) {
        let mut entry = json!({
            "v": ENTRY_VERSION,
            "seq": seq,
            "at": at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "actor": event.actor,
            "action": event.action,
            "subject": event.subject,
            "detail": event.detail,
            "prev_hash": prev,
        });
        let hash = chain_hash(prev, &entry);
        entry["hash"] = Value::String(hash.clone());
        (canonical_json(&entry), hash)
    }

    #[test]
    fn an_entry_is_written_as_the_canonical_json_of_the_entry_object() {
        let at: DateTime<Utc> = "2026-12-06T11:00:00.123456Z".parse().expect("a time");
        let details = [
            json!({}),
            json!(null),
            json!({"late_ms": 12, "due": "2026", "fired": "x", "state": "deprovisioning"}),
            // Keys that look like the entry's own, escapes, non-ASCII, nesting.
            json!({"prev_hash": {"hash": "\"prev_hash\":"}, "é": ["<&>", 1.5, -3, true]}),
            json!("a \u{2028} line\nbreak"),
        ];
        for (i, detail) in details.into_iter().enumerate() {
            let event = AuditEvent {
                actor: "U0ALICE001".into(),
                action: "grant.expired".into(),
                subject: format!("REQ-{i} \"quoted\" \u{e9}"),
                detail,
            };
            let prev = if i == 0 {
                GENESIS_HASH.to_owned()
            } else {
                "ab".repeat(32)
            };
            let (bytes, hash) = build_entry(7 + i as u64, at, &prev, &event);
            let (expected, expected_hash) = as_an_object(7 + i as u64, at, &prev, &event);
            assert_eq!(String::from_utf8(bytes).expect("utf-8"), expected);
            assert_eq!(hash, expected_hash);
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = json!({"b": {"z": 1, "a": "é\"\n"}, "a": [ {"y": 2, "x": 1} ]});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":[{"x":1,"y":2}],"b":{"a":"é\"\n","z":1}}"#
        );
    }
}
