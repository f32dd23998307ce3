//! Pruning the audit log (`c1bot audit prune`): entries up to a point leave the store
//! once an export of them has been checked, so the log's full history is kept (in
//! the export) while the store stops growing with it.
//!
//! Safe by construction: the store's chain must verify; the export must be an
//! unbroken chain from the current start that holds the prune point with the same
//! hash as the store; only then is the prune point recorded (`store/audit/pruned`,
//! flushed) and the entries through it deleted in batches. Verification afterwards
//! chains from the recorded point and skips what an interrupted prune left behind, so
//! a crash in the middle leaves a log that verifies, and pruning again finishes it.

use serde_json::Value;

use super::audit::AuditHead;
use super::audit_verify::{verify_chain_from, AuditAnchor};
use super::keys::{seq_key, AUDIT_PRUNED};
use super::records::{self, Record};
use super::{SledStore, StoreError, Table};

/// Entries deleted per batch.
const BATCH: usize = 10_000;

/// Why a prune did nothing.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn refused(reason: impl Into<String>) -> PruneError {
    PruneError::Refused(reason.into())
}

impl SledStore {
    /// The last pruned entry, if the log was ever pruned.
    pub(crate) fn audit_pruned(&self) -> Result<Option<AuditHead>, StoreError> {
        Ok(self
            .read_versioned::<AuditHead>(Table::Meta, AUDIT_PRUNED.as_bytes())?
            .map(|v| v.data))
    }

    /// Removes the entries through `through` from the store, once `export` (JSON
    /// lines, as `c1bot audit export` writes) is checked to hold them; returns how
    /// many were removed.
    pub fn prune_audit(&self, through: &AuditAnchor, export: &[u8]) -> Result<u64, PruneError> {
        let verified = self.verify_audit()?;
        if let Some(problem) = verified.problem {
            return Err(refused(format!(
                "the audit log does not verify (entry {}: {}); nothing pruned",
                problem.seq, problem.reason
            )));
        }
        let pruned = self.audit_pruned()?;
        let start = pruned.as_ref().map_or(0, |p| p.seq);
        if through.seq <= start {
            return Err(refused(format!(
                "the log is already pruned through entry {start}"
            )));
        }
        let stored = self
            .tree(Table::Audit)
            .get(seq_key(through.seq))
            .map_err(|e| StoreError::storage("reading the audit log", e))?
            .ok_or_else(|| refused(format!("the log has no entry {}", through.seq)))?;
        let stored_hash = serde_json::from_slice::<Value>(&stored)
            .ok()
            .and_then(|v| v.get("hash").and_then(Value::as_str).map(str::to_owned));
        if stored_hash.as_deref() != Some(through.hash.as_str()) {
            return Err(refused(format!(
                "entry {} in the store does not have the hash {}",
                through.seq, through.hash
            )));
        }
        check_export(export, pruned.as_ref(), through)?;
        self.record_pruned(through)?;
        // From the oldest entry still stored: what an earlier, interrupted prune left.
        let oldest = self
            .tree(Table::Audit)
            .first()
            .map_err(|e| StoreError::storage("reading the audit log", e))?
            .and_then(|(key, _)| super::keys::seq_from_key(&key))
            .unwrap_or(start + 1);
        self.delete_through(oldest.saturating_sub(1), through.seq)
    }

    fn record_pruned(&self, through: &AuditAnchor) -> Result<(), StoreError> {
        let point = AuditHead {
            seq: through.seq,
            hash: through.hash.clone(),
        };
        let json = point
            .encode()
            .map_err(|e| StoreError::decode(Table::Meta, AUDIT_PRUNED.as_bytes(), e))?;
        let rev = self
            .read_versioned::<AuditHead>(Table::Meta, AUDIT_PRUNED.as_bytes())?
            .map_or(1, |v| v.rev + 1);
        let bytes = records::envelope(AuditHead::VERSION, rev, &[], &json);
        self.tree(Table::Meta)
            .insert(AUDIT_PRUNED.as_bytes(), bytes)
            .map_err(|e| StoreError::storage("recording the audit prune point", e))?;
        self.flush_blocking()
    }

    /// A synchronous flush: pruning runs off the runtime (the admin socket's blocking
    /// task, or the stopped-bot CLI).
    fn flush_blocking(&self) -> Result<(), StoreError> {
        self.inner
            .db
            .flush()
            .map(|_| ())
            .map_err(|e| StoreError::storage("flushing the audit prune", e))
    }

    fn delete_through(&self, after: u64, through: u64) -> Result<u64, PruneError> {
        let tree = self.tree(Table::Audit);
        let mut removed = 0;
        let mut from = after.saturating_add(1);
        while from <= through {
            let to = from.saturating_add(BATCH as u64 - 1).min(through);
            let mut batch = sled::Batch::default();
            for seq in from..=to {
                batch.remove(&seq_key(seq));
            }
            tree.apply_batch(batch)
                .map_err(|e| StoreError::storage("pruning the audit log", e))?;
            removed += to - from + 1;
            from = to.saturating_add(1);
        }
        self.flush_blocking()?;
        Ok(removed)
    }
}

/// The export must chain unbroken from the current start through `through`, with
/// `through`'s hash.
fn check_export(
    export: &[u8],
    pruned: Option<&AuditHead>,
    through: &AuditAnchor,
) -> Result<(), PruneError> {
    let mut entries = Vec::new();
    let mut last: Option<AuditHead> = None;
    for (n, line) in export.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: Value = serde_json::from_slice(line)
            .map_err(|e| refused(format!("export line {}: not a JSON entry: {e}", n + 1)))?;
        let seq = value.get("seq").and_then(Value::as_u64);
        let hash = value.get("hash").and_then(Value::as_str);
        let (Some(seq), Some(hash)) = (seq, hash) else {
            return Err(refused(format!("export line {}: no seq or hash", n + 1)));
        };
        last = Some(AuditHead {
            seq,
            hash: hash.to_owned(),
        });
        entries.push((seq_key(seq).to_vec(), line.to_vec()));
    }
    let verified = verify_chain_from(entries, last.as_ref(), Some(through), pruned);
    match verified.problem {
        None => Ok(()),
        Some(problem) => Err(refused(format!(
            "the export does not hold the log through entry {} (entry {}: {}); nothing pruned",
            through.seq, problem.seq, problem.reason
        ))),
    }
}

#[cfg(test)]
#[path = "audit_prune_tests.rs"]
mod tests;
