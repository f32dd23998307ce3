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
use super::{SledStore, StoreError, Table};

/// What to do when a timer fires, and to what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerEntry {
    /// e.g. `reminder`, `escalation`, `expiry`.
    pub kind: String,
    /// e.g. `REQ-1042`.
    pub subject: String,
    /// Times firing it failed so far; the timer was moved forward after each.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failures: u32,
    /// When its first failure happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<DateTime<Utc>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl TimerEntry {
    pub fn new(kind: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            subject: subject.into(),
            failures: 0,
            failing_since: None,
        }
    }
}

/// Timers due now, and the keys of rows in the due range that could not be read.
#[derive(Debug, Default)]
pub struct DueTimers {
    pub timers: Vec<(DateTime<Utc>, TimerEntry)>,
    pub undecodable: Vec<Vec<u8>>,
}

impl Record for TimerEntry {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }
}

impl SledStore {
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
            // An unreadable row is the timer loop's to quarantine; it hides nothing here.
            let Ok((due, entry)) = decode_timer(item) else {
                continue;
            };
            if entry.kind == kind {
                out.push((due, entry));
            }
        }
        Ok(out)
    }

    /// At most `limit` timers due at or before `now`, earliest first. A row that
    /// cannot be decoded does not stop the others: its key is returned apart, for
    /// the caller to quarantine.
    pub fn due_timers_limit(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<DueTimers, StoreError> {
        let mut out = DueTimers::default();
        for item in self
            .tree(Table::Timers)
            .range(..timers_due_bound(now))
            .take(limit)
        {
            let (key, bytes) =
                item.map_err(|e| StoreError::storage("reading the timer index", e))?;
            match decode_timer(Ok((key.clone(), bytes))) {
                Ok(timer) => out.timers.push(timer),
                Err(_) => out.undecodable.push(key.to_vec()),
            }
        }
        Ok(out)
    }

    /// When the earliest timer is due, if any is scheduled (read from its key alone,
    /// so an undecodable value does not hide it).
    pub fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let first = self
            .tree(Table::Timers)
            .first()
            .map_err(|e| StoreError::storage("reading the timer index", e))?;
        Ok(first.and_then(|(key, _)| timer_due_from_key(&key)))
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
