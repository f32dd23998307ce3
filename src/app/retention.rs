//! Retention: closed requests leave the hot tables and indexes once they are older
//! than `[retention] closed_after`, moving to the archive table (or removed, when
//! `archive = false`); the audit log keeps their whole history.
//!
//! Owns the supervised loop and one pass of it. Which days are due and when a request
//! closed are pure (`crate::workflow::retention`); requests are found through their
//! `closed:<day>` index entry, so a pass costs what it archives, never the store. A
//! day's cursor moves only once all of that day's requests are out, so a crash or a
//! conflict in the middle of a day is picked up by the next pass.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::app::shared::request_index::closed_entry;
use crate::app::shared::stored::request::RequestV2;
use crate::clock::Clock;
use crate::config::RetentionConfig;
use crate::metrics::Metrics;
use anyhow::Context;

use crate::store::{AuditEvent, Change, Record, Store, Table, Versioned};
use crate::supervise::Heartbeat;
use crate::workflow::request::AccessRequest;
use crate::workflow::retention::{closed_at, days_due};

/// How often the loop looks for due days (a pass with nothing due reads one row).
const PASS_EVERY: Duration = Duration::from_secs(600);
pub const STALE_AFTER: Duration = Duration::from_secs(1800);
/// Requests archived per commit.
const BATCH: usize = 256;
/// Where the last fully archived day is kept.
const CURSOR_KEY: &str = "retention/through";
/// Before any c1bot: the first pass walks from here (one index lookup a day).
const FIRST_DAY: (i32, u32, u32) = (2024, 1, 1);

/// The last closing day whose requests are all out of the hot tables.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    through: NaiveDate,
}

impl Record for Cursor {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }
}

/// A request in the archive: its stored form, without index entries (the archive is
/// read by id only).
pub struct Archived(pub AccessRequest);

impl Record for Archived {
    const VERSION: u32 = <AccessRequest as Record>::VERSION;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&RequestV2::from(&self.0))
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<RequestV2>(data).map(|r| Archived(r.into()))
    }

    fn upgrade(from: u32, data: serde_json::Value) -> Result<serde_json::Value, String> {
        <AccessRequest as Record>::upgrade(from, data)
    }
}

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub archived: usize,
    /// Requests that changed under the pass or failed to commit: tried again next time.
    pub deferred: usize,
}

/// Runs a pass every [`PASS_EVERY`]; beats after each pass that could read the store.
pub async fn run(
    store: Store,
    clock: Clock,
    config: RetentionConfig,
    metrics: Metrics,
    beat: Heartbeat,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        match pass(&store, clock.now(), config).await {
            Ok(done) => {
                beat.beat();
                if done.archived > 0 {
                    metrics.add(
                        "c1bot_requests_archived_total",
                        "Closed requests moved out of the hot tables by retention.",
                        &[],
                        done.archived as u64,
                    );
                    tracing::info!(archived = done.archived, "closed requests archived");
                }
                if done.deferred > 0 {
                    tracing::warn!(
                        deferred = done.deferred,
                        "some closed requests wait for the next retention pass"
                    );
                }
            }
            Err(error) => tracing::error!(%error, "retention could not read the store"),
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(PASS_EVERY) => {}
        }
    }
}

/// Archives every request whose closing day is due at `now`.
pub async fn pass(
    store: &Store,
    now: DateTime<Utc>,
    config: RetentionConfig,
) -> anyhow::Result<Pass> {
    let keep = chrono::Duration::from_std(config.closed_after).unwrap_or(chrono::Duration::MAX);
    let through = store
        .get::<Cursor>(Table::Meta, CURSOR_KEY)
        .await?
        .map(|c| c.data.through);
    let first =
        NaiveDate::from_ymd_opt(FIRST_DAY.0, FIRST_DAY.1, FIRST_DAY.2).unwrap_or(NaiveDate::MIN);
    let mut done = Pass::default();
    let mut finished = None;
    for day in days_due(through, first, now, keep) {
        let ids = store
            .index_keys(Table::Requests, &closed_entry(day))
            .await
            .with_context(|| format!("reading the requests closed on {day}"))?;
        let mut deferred = 0;
        for chunk in ids.chunks(BATCH) {
            let mut changes = Vec::with_capacity(chunk.len());
            for id in chunk {
                if let Some(change) = archive(store, id, now, keep, config.archive).await? {
                    changes.push(change);
                }
            }
            for result in store.commit_all(changes).await {
                match result {
                    Ok(_) => done.archived += 1,
                    Err(error) => {
                        tracing::warn!(%error, %day, "a closed request was not archived");
                        deferred += 1;
                    }
                }
            }
        }
        if deferred > 0 {
            done.deferred += deferred;
            break;
        }
        finished = Some(day);
    }
    // Once per pass: a crash before this repeats days, which finds nothing left.
    if let Some(through) = finished {
        store
            .commit(Change::new().put(Table::Meta, CURSOR_KEY, &Cursor { through }))
            .await
            .context("moving the retention cursor")?;
    }
    Ok(done)
}

/// The change that takes request `id` out of the hot tables, if it is still closed
/// long enough ago (the record, read again, is the truth; the day only found it).
async fn archive(
    store: &Store,
    id: &str,
    now: DateTime<Utc>,
    keep: chrono::Duration,
    keep_archive: bool,
) -> anyhow::Result<Option<Change>> {
    let Some(Versioned { rev, data, .. }) =
        store
            .get::<AccessRequest>(Table::Requests, id)
            .await
            .with_context(|| format!("reading {id} to archive it"))?
    else {
        return Ok(None);
    };
    let Some(closed) = closed_at(&data) else {
        return Ok(None);
    };
    if now.signed_duration_since(closed) < keep {
        return Ok(None);
    }
    let mut change = Change::new()
        .expect(Table::Requests, id, Some(rev))
        .delete(Table::Requests, id);
    let refs = store
        .slack_refs(&format!("{id}/"))
        .await
        .with_context(|| format!("reading {id}'s message references"))?;
    for (key, _) in refs {
        change = change.delete(Table::SlackRefs, key);
    }
    if keep_archive {
        change = change.put(Table::Archive, id, &Archived(data));
    }
    Ok(Some(change.audit(AuditEvent {
        actor: "c1bot".into(),
        action: if keep_archive {
            "request.archived".into()
        } else {
            "request.removed".into()
        },
        subject: id.to_owned(),
        detail: serde_json::json!({ "closed_at": closed }),
    })))
}

#[cfg(test)]
#[path = "retention_tests.rs"]
mod tests;
