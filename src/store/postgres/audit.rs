//! The hash-chained audit log on PostgreSQL: entries in `c1bot_audit` under their
//! seq, exactly the bytes that were hashed (as `text`), and the head in the one row of
//! `c1bot_audit_head`, moved in the same transaction as the entries.
//!
//! Entries are built by [`crate::store::audit::build_entry`], the sled backend's
//! function, so both backends write identical, cross-verifiable chains; verification is
//! [`crate::store::audit_verify::verify_chain`] over the rows in seq order.

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use serde_json::Value;

use super::cached::Cached;
use super::{Ctx, PgStore};
use crate::store::audit::{build_entry, AuditHead};
use crate::store::audit_verify::verify_chain_from;
use crate::store::keys::seq_key;
use crate::store::keys::AUDIT_PRUNED;
use crate::store::{AuditAnchor, AuditEvent, AuditVerification, StoreError, Table};

/// Audit rows read per query when exporting or verifying.
const PAGE: i64 = 5_000;

/// The chain's head, locked by a transaction that appends to it.
pub(super) struct Chain {
    seq: u64,
    hash: String,
    moved: bool,
}

impl Chain {
    /// Locks the head row (`FOR UPDATE`) until the transaction ends.
    pub(super) async fn lock(tx: &Transaction<'_>) -> Result<Chain, StoreError> {
        let row = tx
            .query_one_cached(
                "SELECT seq, hash FROM c1bot_audit_head WHERE id = 1 FOR UPDATE",
                &[],
            )
            .await
            .ctx("locking the audit head")?;
        Ok(Chain {
            seq: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
            hash: row.get(1),
            moved: false,
        })
    }

    /// The next entry after the head, which moves to it: its seq and its row text.
    /// The caller inserts the row in the same transaction.
    pub(super) fn next(
        &mut self,
        event: &AuditEvent,
        at: DateTime<Utc>,
    ) -> Result<(u64, String), StoreError> {
        let seq = self.seq + 1;
        let (bytes, hash) = build_entry(seq, at, &self.hash, event);
        let text = String::from_utf8(bytes)
            .map_err(|e| StoreError::decode(Table::Audit, &seq_key(seq), e))?;
        self.seq = seq;
        self.hash = hash;
        self.moved = true;
        Ok((seq, text))
    }

    /// Appends one entry after the head; returns its seq.
    pub(super) async fn append(
        &mut self,
        tx: &Transaction<'_>,
        event: &AuditEvent,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (seq, text) = self.next(event, at)?;
        tx.execute_cached(
            "INSERT INTO c1bot_audit (seq, entry) VALUES ($1, $2)",
            &[&(seq as i64), &text],
        )
        .await
        .ctx("appending to the audit log")?;
        Ok(seq)
    }

    /// Writes the head back, if it moved.
    pub(super) async fn save(self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        if !self.moved {
            return Ok(());
        }
        tx.execute_cached(
            "UPDATE c1bot_audit_head SET seq = $1, hash = $2 WHERE id = 1",
            &[&(self.seq as i64), &self.hash],
        )
        .await
        .ctx("moving the audit head")?;
        Ok(())
    }
}

impl PgStore {
    /// Writes every audit entry as one JSON object per line, oldest first.
    pub async fn export_audit(
        &self,
        w: &mut (impl std::io::Write + Send),
    ) -> Result<u64, StoreError> {
        let mut count = 0;
        let mut after = 0i64;
        loop {
            let page = self.audit_page(after).await?;
            let Some((last, _)) = page.last() else {
                break;
            };
            after = *last;
            for (_, entry) in &page {
                w.write_all(entry.as_bytes())
                    .and_then(|()| w.write_all(b"\n"))
                    .map_err(|source| StoreError::Export { source })?;
                count += 1;
            }
        }
        w.flush().map_err(|source| StoreError::Export { source })?;
        Ok(count)
    }

    /// The chain's newest entry (`None` while the log is empty).
    pub async fn audit_head(&self) -> Result<Option<AuditAnchor>, StoreError> {
        Ok(self
            .stored_head()
            .await?
            .filter(|h| h.seq > 0)
            .map(|h| AuditAnchor {
                seq: h.seq,
                hash: h.hash,
            }))
    }

    /// At most `limit` entries after `seq`, oldest first.
    pub async fn audit_after(&self, seq: u64, limit: usize) -> Result<Vec<Value>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                "SELECT seq, entry FROM c1bot_audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[
                    &i64::try_from(seq).unwrap_or(i64::MAX),
                    &i64::try_from(limit).unwrap_or(i64::MAX),
                ],
            )
            .await
            .ctx("reading the audit log")?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.get(0);
                serde_json::from_str(row.get(1))
                    .map_err(|e| StoreError::decode(Table::Audit, &seq_key(seq as u64), e))
            })
            .collect()
    }

    /// Recomputes the chain (see [`crate::store::SledStore::verify_audit`]).
    pub async fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        self.verify_audit_against(None).await
    }

    /// Recomputes the chain and checks it against an anchor kept elsewhere.
    pub async fn verify_audit_against(
        &self,
        anchor: Option<&AuditAnchor>,
    ) -> Result<AuditVerification, StoreError> {
        let head = self.stored_head().await?;
        // Pages are read before the walk: verify_chain takes a plain iterator. A
        // chain of a million entries is some hundreds of MB; an operator tool.
        let mut entries = Vec::new();
        let mut after = 0i64;
        loop {
            let page = self.audit_page(after).await?;
            let Some((last, _)) = page.last() else {
                break;
            };
            after = *last;
            entries.extend(
                page.into_iter()
                    .map(|(seq, entry)| (seq_key(seq as u64).to_vec(), entry.into_bytes())),
            );
        }
        let head = head.filter(|h| h.seq > 0 || !entries.is_empty());
        // A log pruned on sled and then migrated chains from the pruned point.
        let pruned = self
            .get::<AuditHead>(Table::Meta, AUDIT_PRUNED)
            .await?
            .map(|p| p.data);
        Ok(verify_chain_from(
            entries,
            head.as_ref(),
            anchor,
            pruned.as_ref(),
        ))
    }

    async fn stored_head(&self) -> Result<Option<AuditHead>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt_cached("SELECT seq, hash FROM c1bot_audit_head WHERE id = 1", &[])
            .await
            .ctx("reading the audit head")?;
        Ok(row.map(|r| AuditHead {
            seq: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
            hash: r.get(1),
        }))
    }

    async fn audit_page(&self, after: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                "SELECT seq, entry FROM c1bot_audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after, &PAGE],
            )
            .await
            .ctx("reading the audit log")?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
