//! The timer index: reminders, escalations and expiries, ordered by due time in the
//! `timers` tree under `due_ms (BE) ++ subject ++ 0 ++ kind`.
//!
//! Scheduling and cancelling are [`super::Change`] operations, so they commit with the
//! state change that caused them; firing a timer is a `Change` that cancels it.
//! This module only reads the index; it runs no clock and no loop.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::{due_ms, seq_from_key, timer_due_from_key, timer_window, timers_due_bound};
use super::packed;
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
        for row in self.timer_rows(Some(now), usize::MAX)? {
            let (key, bytes) = row.map_err(unreadable)?;
            out.push(decode_timer(&key, &bytes)?);
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
        for row in self.timer_rows(Some(until), usize::MAX)? {
            // An unreadable row is the timer loop's to quarantine; it hides nothing here.
            let Ok((key, bytes)) = row else {
                continue;
            };
            let Ok((due, entry)) = decode_timer(&key, &bytes) else {
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
        for row in self.timer_rows(Some(now), limit)? {
            match row {
                Ok((key, bytes)) => match decode_timer(&key, &bytes) {
                    Ok(timer) if out.timers.len() < limit => out.timers.push(timer),
                    Ok(_) => {}
                    Err(_) => out.undecodable.push(key),
                },
                Err(key) => out.undecodable.push(key),
            }
        }
        Ok(out)
    }

    /// When the earliest timer is due, if any is scheduled (read from its key alone,
    /// so an undecodable value does not hide it).
    pub fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        // An unreadable bucket counts from its window's start; the due scan reports it.
        Ok(self
            .timer_rows(None, 1)?
            .first()
            .and_then(|row| timer_due_from_key(row_key(row))))
    }

    /// Every scheduled timer as (timer key, stored bytes), earliest first, in either
    /// layout (for copying a store).
    pub(crate) fn all_timer_rows(&self) -> Result<Vec<KeyAndBytes>, StoreError> {
        self.timer_rows(None, usize::MAX)?
            .into_iter()
            .map(|row| row.map_err(unreadable))
            .collect()
    }

    /// The timers due at or before `until` (all of them for `None`), as (timer key,
    /// stored bytes) in due order, read a window at a time and stopping after the
    /// window in which at least `enough` rows were read. A packed bucket that cannot
    /// be decoded is an `Err` carrying its key; so is a row whose key is no timer key.
    fn timer_rows(
        &self,
        until: Option<DateTime<Utc>>,
        enough: usize,
    ) -> Result<Vec<TimerRow>, StoreError> {
        let tree = self.tree(Table::Timers);
        let range = match until {
            Some(until) => tree.range(..timers_due_bound(until).to_vec()),
            None => tree.range::<Vec<u8>, _>(..),
        };
        let bound = until.map(due_ms);
        let mut rows: Vec<TimerRow> = Vec::new();
        let mut window = None;
        let mut found = 0;
        for item in range {
            let (key, bytes) =
                item.map_err(|e| StoreError::storage("reading the timer index", e))?;
            let Some(this) = timer_window(&key) else {
                rows.push(Err(key.to_vec()));
                continue;
            };
            if window.is_some_and(|w| w != this) && found >= enough {
                break;
            }
            window = Some(this);
            if !packed::is_bucket_key(&key, 8) {
                // A row from before packing (format 1), or one planted by hand.
                rows.push(Ok((key.to_vec(), bytes.to_vec())));
                found += 1;
                continue;
            }
            match packed::Bucket::decode(&bytes) {
                Ok(bucket) => {
                    for (member, value) in bucket.members {
                        if bound.is_none_or(|b| seq_from_key(&member).is_some_and(|d| d <= b)) {
                            rows.push(Ok((member, value)));
                            found += 1;
                        }
                    }
                }
                Err(detail) => {
                    tracing::error!(key = ?key, detail, "a packed timer bucket cannot be read");
                    rows.push(Err(key.to_vec()));
                }
            }
        }
        // Within a window, buckets hold members by hash: order them by due time.
        rows.sort_by(|a, b| row_key(a).cmp(row_key(b)));
        Ok(rows)
    }

    /// Resolves after a commit that scheduled or cancelled a timer (one permit is kept
    /// for a commit made while nobody waits), so a timer loop can re-read the next due time.
    pub async fn timers_changed(&self) {
        self.inner.timers_changed.notified().await;
    }
}

fn decode_timer(key: &[u8], bytes: &[u8]) -> Result<(DateTime<Utc>, TimerEntry), StoreError> {
    let due = timer_due_from_key(key)
        .ok_or_else(|| StoreError::decode(Table::Timers, key, "not a timer key"))?;
    let entry = records::decode::<TimerEntry>(bytes)
        .map_err(|e| StoreError::decode(Table::Timers, key, e))?;
    Ok((due, entry.data))
}

/// A timer's key and its stored bytes.
pub(crate) type KeyAndBytes = (Vec<u8>, Vec<u8>);

/// A timer, or the key of a row that cannot be read as timers.
type TimerRow = Result<KeyAndBytes, Vec<u8>>;

fn row_key(row: &TimerRow) -> &[u8] {
    match row {
        Ok((key, _)) | Err(key) => key,
    }
}

fn unreadable(key: Vec<u8>) -> StoreError {
    StoreError::decode(Table::Timers, &key, "not a readable timer row")
}
