//! The outbox on PostgreSQL (`c1bot_outbox`, one row per pending Web API call under its
//! id): settling, attempt marks, the sender's reads, and the in-memory index.
//!
//! Ids come from the `outbox` counter in the transaction that queues them, so they are
//! gap-free and in commit order. Transactions of one process commit concurrently, so a
//! transaction reserves its ids in the index while it holds the counter's row lock
//! ([`Reserved`]); the sender is handed an id only when every smaller id this process
//! allocated is committed or rolled back.

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use serde_json::json;

use super::audit::Chain;
use super::cached::Cached;
use super::commit::next_counter;
use super::records::{decode_row, Locked};
use super::{transaction, Ctx, Mode, PgStore};
use crate::store::keys::seq_key;
use crate::store::outbox_index::OutboxIndex;
use crate::store::records::Record;
use crate::store::{
    AuditEvent, OutboxEntry, OutboxMessage, OutboxScan, SlackRef, StoreError, Table,
};

/// Outbox ids a transaction allocated: held back from the sender until
/// [`Reserved::committed`]; abandoned if dropped before (the transaction rolled back).
pub(super) struct Reserved<'a> {
    index: &'a OutboxIndex,
    ids: Vec<u64>,
    entries: Vec<(u64, Option<String>)>,
}

impl<'a> Reserved<'a> {
    pub(super) fn new(index: &'a OutboxIndex) -> Self {
        Reserved {
            index,
            ids: Vec::new(),
            entries: Vec::new(),
        }
    }

    pub(super) fn reserve(&mut self, ids: impl Iterator<Item = u64>) {
        let ids: Vec<u64> = ids.collect();
        self.index.reserve(&ids);
        self.ids.extend(ids);
    }

    /// Id `id` holds a message queued to `channel`.
    pub(super) fn describe(&mut self, id: u64, channel: Option<String>) {
        self.entries.push((id, channel));
    }

    /// The transaction committed: the ids go to the sender.
    pub(super) fn committed(mut self) {
        self.index.note_reserved(&self.entries, 0);
        self.ids.clear();
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        if !self.ids.is_empty() {
            self.index.abandon(&self.ids);
        }
    }
}

/// Queues `messages` at `now` in `tx` (after every other lock but the audit head's).
pub(super) async fn queue(
    tx: &Transaction<'_>,
    messages: &[OutboxMessage],
    now: DateTime<Utc>,
    reserved: &mut Reserved<'_>,
) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    let first = next_counter(tx, "outbox", messages.len() as i64).await?;
    reserved.reserve((first..first + messages.len() as i64).map(|id| id as u64));
    for (id, message) in (first..).zip(messages) {
        let entry = OutboxEntry::new(message.clone(), now);
        write_entry(tx, id, &entry, true).await?;
        reserved.describe(id as u64, message.queued_to().map(str::to_owned));
    }
    Ok(())
}

async fn write_entry(
    tx: &Transaction<'_>,
    id: i64,
    entry: &OutboxEntry,
    new: bool,
) -> Result<(), StoreError> {
    let json = entry
        .encode()
        .map_err(|e| StoreError::decode(Table::Outbox, &seq_key(id as u64), e))?;
    let sql = if new {
        "INSERT INTO c1bot_outbox (id, v, entry) VALUES ($1, $2, $3::text::json)"
    } else {
        "UPDATE c1bot_outbox SET v = $2, entry = $3::text::json WHERE id = $1"
    };
    tx.execute_cached(sql, &[&id, &(OutboxEntry::VERSION as i32), &json])
        .await
        .ctx("writing an outbox entry")?;
    Ok(())
}

/// Entry `id`, locked for this transaction (`None`: settled already).
async fn lock_entry(tx: &Transaction<'_>, id: u64) -> Result<Option<OutboxEntry>, StoreError> {
    let row = tx
        .query_opt_cached(
            "SELECT v, entry::text FROM c1bot_outbox WHERE id = $1 FOR UPDATE",
            &[&(id as i64)],
        )
        .await
        .ctx("reading an outbox entry")?;
    row.map(|row| decode(id, row.get(0), row.get(1)))
        .transpose()
}

fn decode(id: u64, v: i32, json: &str) -> Result<OutboxEntry, StoreError> {
    decode_row(Table::Outbox, &seq_key(id), v, json)
}

impl PgStore {
    /// Removes entry `id`, records where it landed, audits it: one transaction. An
    /// unknown id is a no-op (settled already).
    pub async fn outbox_delivered(
        &self,
        id: u64,
        posted: Option<SlackRef>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let settled = transaction!(self, Mode::Write, StoreError, |tx| {
            let Some(entry) = lock_entry(&tx, id).await? else {
                return Ok(None);
            };
            let message = &entry.message;
            tx.execute_cached("DELETE FROM c1bot_outbox WHERE id = $1", &[&(id as i64)])
                .await
                .ctx("settling an outbox entry")?;
            if let (Some(ref_key), Some(posted)) = (&message.record_ref, &posted) {
                let json = posted
                    .encode()
                    .map_err(|e| StoreError::decode(Table::SlackRefs, ref_key.as_bytes(), e))?;
                let mut locked = Locked::default();
                locked
                    .put(
                        &tx,
                        Table::SlackRefs,
                        ref_key,
                        SlackRef::VERSION,
                        &[],
                        &json,
                    )
                    .await?;
                locked.finish(&tx).await?;
            }
            let event = AuditEvent {
                actor: "c1bot".into(),
                action: "notification.sent".into(),
                subject: message.subject().to_owned(),
                detail: json!({
                    "outbox_id": id,
                    "method": message.method,
                    "ref": message.record_ref.as_ref().or(message.update_ref.as_ref()),
                    "channel": posted.as_ref().map(|p| &p.channel),
                    "ts": posted.as_ref().map(|p| &p.ts),
                    "copies": posted.as_ref().map_or(0, |p| p.copies.len()),
                }),
            };
            let mut chain = Chain::lock(&tx).await?;
            chain.append(&tx, &event, now).await?;
            chain.save(&tx).await?;
            Ok(Some(message.queued_to().map(str::to_owned)))
        })?;
        if let Some(channel) = settled {
            self.inner.outbox_index.settled(channel.as_deref());
        }
        Ok(())
    }

    /// Records a failed attempt of entry `id` (see [`crate::store::SledStore::outbox_failed`]).
    pub async fn outbox_failed(
        &self,
        id: u64,
        error: &str,
        give_up: bool,
        maybe_posted: bool,
        now: DateTime<Utc>,
        then: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let (settled, reserved) = transaction!(self, Mode::Write, StoreError, |tx| {
            let mut reserved = Reserved::new(&self.inner.outbox_index);
            let Some(mut entry) = lock_entry(&tx, id).await? else {
                return Ok((None, reserved));
            };
            entry.attempts += 1;
            entry.last_error = Some(error.to_owned());
            entry.first_failed_at.get_or_insert(now);
            entry.last_failed_at = Some(now);
            entry.maybe_posted = maybe_posted;
            if !give_up {
                write_entry(&tx, id as i64, &entry, false).await?;
                return Ok((None, reserved));
            }
            tx.execute_cached("DELETE FROM c1bot_outbox WHERE id = $1", &[&(id as i64)])
                .await
                .ctx("settling an outbox entry")?;
            let message = &entry.message;
            let event = AuditEvent {
                actor: "c1bot".into(),
                action: "notification.failed".into(),
                subject: message.subject().to_owned(),
                detail: json!({
                    "outbox_id": id,
                    "method": message.method,
                    "ref": message.record_ref.as_ref().or(message.update_ref.as_ref()),
                    "channel": message.args.get("channel"),
                    "error": error,
                    "attempts": entry.attempts,
                }),
            };
            queue(&tx, then, now, &mut reserved).await?;
            let mut chain = Chain::lock(&tx).await?;
            chain.append(&tx, &event, now).await?;
            chain.save(&tx).await?;
            Ok((Some(message.queued_to().map(str::to_owned)), reserved))
        })?;
        let queued = !reserved.entries.is_empty();
        reserved.committed();
        if let Some(channel) = settled {
            self.inner.outbox_index.settled(channel.as_deref());
        }
        if queued {
            self.inner.outbox_ready.notify_one();
        }
        Ok(())
    }

    /// Marks, durably, that an attempt to post entry `id` starts now; false when the
    /// entry is settled already.
    pub async fn outbox_attempt_started(
        &self,
        id: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        transaction!(self, Mode::Write, StoreError, |tx| {
            let Some(mut entry) = lock_entry(&tx, id).await? else {
                return Ok(false);
            };
            entry.attempt_started_at.get_or_insert(now);
            entry.maybe_posted = true;
            write_entry(&tx, id as i64, &entry, false).await?;
            Ok(true)
        })
    }

    /// Entry `id` as stored now (`None`: settled).
    pub async fn outbox_entry(&self, id: u64) -> Result<Option<OutboxEntry>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt_cached(
                "SELECT v, entry::text FROM c1bot_outbox WHERE id = $1",
                &[&(id as i64)],
            )
            .await
            .ctx("reading an outbox entry")?;
        row.map(|row| decode(id, row.get(0), row.get(1)))
            .transpose()
    }

    /// Every readable entry, oldest first.
    pub async fn pending_outbox(&self) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        let client = self.client().await?;
        Ok(scan(&client, i64::MAX).await?.entries)
    }

    /// Starts a sender (see [`crate::store::SledStore::outbox_resume`]): the counter and
    /// the rows below it are read in one snapshot, and ids below it are never handed
    /// out as fresh afterwards.
    pub async fn outbox_resume(&self) -> Result<OutboxScan, StoreError> {
        let (next, scan) = transaction!(self, Mode::Snapshot, StoreError, |tx| {
            let next: i64 = tx
                .query_one_cached(
                    "SELECT value FROM c1bot_counters WHERE name = 'outbox'",
                    &[],
                )
                .await
                .ctx("reading the outbox counter")?
                .get(0);
            let scan = scan(&tx, next).await?;
            Ok((next, scan))
        })?;
        self.inner
            .outbox_index
            .forget_fresh_below(u64::try_from(next).unwrap_or(0));
        Ok(scan)
    }

    /// Ids committed since the last call, in id (commit) order.
    pub fn take_committed_outbox(&self) -> Vec<u64> {
        self.inner.outbox_index.take_fresh(u64::MAX)
    }

    pub fn outbox_queued_to(&self, channel_or_user: &str) -> usize {
        self.inner.outbox_index.queued_to(channel_or_user)
    }

    pub fn outbox_depth(&self) -> usize {
        self.inner.outbox_index.total()
    }

    /// Counts what the outbox holds into the in-memory index (at connect).
    pub(super) async fn index_outbox(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        for (_, entry) in scan(&client, i64::MAX).await?.entries {
            self.inner
                .outbox_index
                .count_existing(entry.message.queued_to());
        }
        Ok(())
    }

    pub async fn slack_ref(&self, key: &str) -> Result<Option<SlackRef>, StoreError> {
        Ok(self
            .get::<SlackRef>(Table::SlackRefs, key)
            .await?
            .map(|r| r.data))
    }

    pub async fn slack_refs(&self, prefix: &str) -> Result<Vec<(String, SlackRef)>, StoreError> {
        Ok(self
            .scan_prefix::<SlackRef>(Table::SlackRefs, prefix)
            .await?
            .into_iter()
            .map(|(k, r)| (k, r.data))
            .collect())
    }

    /// Resolves after a commit of this process that queued outbox messages (one
    /// permit is kept).
    pub async fn outbox_changed(&self) {
        self.inner.outbox_ready.notified().await;
    }
}

/// Readable entries with ids below `below`, oldest first, and every unreadable row.
async fn scan(
    client: &impl deadpool_postgres::GenericClient,
    below: i64,
) -> Result<OutboxScan, StoreError> {
    let rows = client
        .query_cached(
            "SELECT id, v, entry::text FROM c1bot_outbox ORDER BY id",
            &[],
        )
        .await
        .ctx("reading the outbox")?;
    let mut out = OutboxScan::default();
    for row in rows {
        let id: i64 = row.get(0);
        let key = seq_key(id as u64).to_vec();
        match decode(id as u64, row.get(1), row.get(2)) {
            Ok(entry) if id < below => out.entries.push((id as u64, entry)),
            Ok(_) => {}
            Err(error) => out.undecodable.push((key, error.to_string())),
        }
    }
    Ok(out)
}
