//! Timers on PostgreSQL (`c1bot_timers`, keyed by due time in ms, subject and kind):
//! the reads. Scheduling and cancelling are [`crate::store::Change`] operations
//! (`commit`). Rows come back in the order of sled's timer keys (due, then subject and
//! kind by bytes), and an unreadable row is reported under that key, for quarantine.

use chrono::{DateTime, TimeZone, Utc};
use tokio_postgres::Row;

use super::cached::Cached;
use super::records::decode_row;
use super::{Ctx, PgStore};
use crate::store::keys::{due_ms, timer_key};
use crate::store::{DueTimers, StoreError, Table, TimerEntry};

const COLUMNS: &str = "SELECT due_ms, subject, kind, v, entry::text FROM c1bot_timers";
const ORDER: &str = "ORDER BY due_ms, subject, kind";

impl PgStore {
    /// Every timer due at or before `now`, earliest first.
    pub async fn due_timers(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, TimerEntry)>, StoreError> {
        self.due_rows(now, None).await?.iter().map(decode).collect()
    }

    /// Timers of `kind` due before `until`, earliest first; unreadable rows skipped.
    pub async fn timers_of_kind_before(
        &self,
        kind: &str,
        until: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, TimerEntry)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                &format!("{COLUMNS} WHERE due_ms <= $1 AND kind = $2 {ORDER}"),
                &[&bound(until), &kind],
            )
            .await
            .ctx("reading the timers")?;
        Ok(rows.iter().filter_map(|row| decode(row).ok()).collect())
    }

    /// At most `limit` timers due at or before `now`, earliest first; unreadable rows
    /// apart, by key.
    pub async fn due_timers_limit(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<DueTimers, StoreError> {
        let mut out = DueTimers::default();
        for row in self.due_rows(now, Some(limit)).await? {
            match decode(&row) {
                Ok(timer) => out.timers.push(timer),
                Err(_) => out.undecodable.push(key_of(&row)),
            }
        }
        Ok(out)
    }

    /// When the earliest timer is due.
    pub async fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one_cached("SELECT min(due_ms) FROM c1bot_timers", &[])
            .await
            .ctx("reading the timers")?;
        Ok(row
            .get::<_, Option<i64>>(0)
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single()))
    }

    /// Resolves after a commit of this process that scheduled or cancelled a timer.
    pub async fn timers_changed(&self) {
        self.inner.timers_changed.notified().await;
    }

    async fn due_rows(
        &self,
        now: DateTime<Utc>,
        limit: Option<usize>,
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client().await?;
        let limit = limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
        client
            .query_cached(
                &format!("{COLUMNS} WHERE due_ms <= $1 {ORDER} LIMIT $2"),
                &[&bound(now), &limit],
            )
            .await
            .ctx("reading the timers")
    }
}

/// The largest `due_ms` due at `now` (sled's keys clamp instants before 1970 to 0).
fn bound(now: DateTime<Utc>) -> i64 {
    i64::try_from(due_ms(now)).unwrap_or(i64::MAX)
}

/// The row's sled-style key: what quarantine takes to find it again.
fn key_of(row: &Row) -> Vec<u8> {
    let due: i64 = row.get(0);
    let due = Utc
        .timestamp_millis_opt(due)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    timer_key(due, row.get(1), row.get(2))
}

fn decode(row: &Row) -> Result<(DateTime<Utc>, TimerEntry), StoreError> {
    let due = Utc
        .timestamp_millis_opt(row.get(0))
        .single()
        .ok_or_else(|| StoreError::decode(Table::Timers, &key_of(row), "not a due time"))?;
    let entry = decode_row(Table::Timers, &key_of(row), row.get(3), row.get(4))?;
    Ok((due, entry))
}
