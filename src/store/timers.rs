//! The timer index: reminders, escalations and expiries, ordered by due time in the
//! `timers` tree under `due_ms (BE) ++ subject ++ 0 ++ kind`.
//!
//! Scheduling and cancelling are [`super::Change`] operations, so they commit with the
//! state change that caused them; firing a timer is a `Change` that cancels it.
//! This module only reads the index; it runs no clock and no loop.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::{timer_due_from_key, timers_due_bound};
use super::records::{self, Record};
use super::{Store, StoreError, Table};

/// What to do when a timer fires, and to what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerEntry {
    /// e.g. `reminder`, `escalation`, `expiry`.
    pub kind: String,
    /// e.g. `REQ-1042`.
    pub subject: String,
}

impl Record for TimerEntry {
    const VERSION: u32 = 1;
}

impl Store {
    /// Every timer due at or before `now`, earliest first. Reads only the due part of
    /// the index (a range scan), however many timers lie in the future.
    pub fn due_timers(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, TimerEntry)>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree(Table::Timers).range(..timers_due_bound(now)) {
            out.push(decode_timer(item)?);
        }
        Ok(out)
    }

    /// Timers due before `until` whose kind is `kind`, earliest first: a bounded range
    /// scan (at start-up, the leases of provisioner runs the last process left open).
    pub fn timers_of_kind_before(
        &self,
        kind: &str,
        until: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, TimerEntry)>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree(Table::Timers).range(..timers_due_bound(until)) {
            let (due, entry) = decode_timer(item)?;
            if entry.kind == kind {
                out.push((due, entry));
            }
        }
        Ok(out)
    }

    /// At most `limit` timers due at or before `now`, earliest first.
    pub fn due_timers_limit(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(DateTime<Utc>, TimerEntry)>, StoreError> {
        let mut out = Vec::new();
        for item in self
            .tree(Table::Timers)
            .range(..timers_due_bound(now))
            .take(limit)
        {
            out.push(decode_timer(item)?);
        }
        Ok(out)
    }

    /// When the earliest timer is due, if any is scheduled.
    pub fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let first = self
            .tree(Table::Timers)
            .first()
            .map_err(|e| StoreError::storage("reading the timer index", e))?;
        first
            .map(|item| decode_timer(Ok(item)).map(|(due, _)| due))
            .transpose()
    }

    /// Resolves after a commit that scheduled or cancelled a timer (one permit is kept
    /// for a commit made while nobody waits), so a timer loop can re-read the next due time.
    pub async fn timers_changed(&self) {
        self.inner.timers_changed.notified().await;
    }
}

fn decode_timer(
    item: Result<(sled::IVec, sled::IVec), sled::Error>,
) -> Result<(DateTime<Utc>, TimerEntry), StoreError> {
    let (key, bytes) = item.map_err(|e| StoreError::storage("reading the timer index", e))?;
    let due = timer_due_from_key(&key)
        .ok_or_else(|| StoreError::decode(Table::Timers, &key, "not a timer key"))?;
    let entry = records::decode::<TimerEntry>(&bytes)
        .map_err(|e| StoreError::decode(Table::Timers, &key, e))?;
    Ok((due, entry.data))
}
