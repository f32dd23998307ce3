//! The store's tables (sled trees) and every byte-level key encoding.
//!
//! Owns: tree names, big-endian sequence keys, the timer index key and the reserved
//! `meta` keys. Must not know what a record means. sled compares keys as bytes, so
//! every number in a key is big-endian: little-endian keys look right until the
//! 257th entry and then sort wrongly.

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};

/// One sled tree. The keyed tables (`Requests`, `SlackRefs`, `Meta`, `Sessions`) hold
/// versioned records under text keys; `Outbox`, `Timers` and `Audit` are indexes the
/// store maintains itself and only [`crate::store::Change`]'s dedicated operations write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Requests,
    /// Where a message was posted (channel + ts), keyed by a logical message key such
    /// as `REQ-1042/approver/U0BOB00001`.
    SlackRefs,
    /// Counters and the audit head live under the reserved `store/` prefix; the rest is
    /// free for callers.
    Meta,
    Outbox,
    Timers,
    Audit,
    /// Modal state and other short-lived conversation state.
    Sessions,
    /// Access-review campaigns (`CMP-1`).
    Campaigns,
    /// Rows moved aside because they could not be decoded (see
    /// [`crate::store::SledStore::quarantine`]), keyed `<table>/<hex of the original key>`.
    Quarantine,
    /// The intake journal: envelopes acked but not yet processed, under their
    /// big-endian journal number. A row is removed in the commit that processes it.
    Journal,
    /// Dedupe keys of journaled envelopes (`env:<envelope_id>`, `evt:<event_id>`) →
    /// the journal number, kept for [`JOURNAL_KEEP_KEYS`] after receipt.
    JournalKeys,
    /// The same keys ordered by receipt (`received_ms BE ++ key`), for pruning.
    JournalKeysByTime,
    /// Journal rows given up after their retries, kept for an operator.
    JournalFailed,
    /// Secondary indexes of the keyed tables: `<table> 0x00 <entry name> 0x00 <record
    /// key>` → nothing, maintained with each record (see `Record::index`).
    Index,
    /// Closed requests past their retention time, out of the hot tables and indexes
    /// (see `crate::app::retention`), under their id.
    Archive,
}

impl Table {
    /// In tree-index order: `ALL[t.index()] == t`.
    pub const ALL: [Table; 15] = [
        Table::Requests,
        Table::SlackRefs,
        Table::Meta,
        Table::Outbox,
        Table::Timers,
        Table::Audit,
        Table::Sessions,
        Table::Campaigns,
        Table::Quarantine,
        Table::Journal,
        Table::JournalKeys,
        Table::JournalKeysByTime,
        Table::JournalFailed,
        Table::Index,
        Table::Archive,
    ];

    /// The sled tree name.
    pub fn name(self) -> &'static str {
        match self {
            Table::Requests => "requests",
            Table::SlackRefs => "slack_refs",
            Table::Meta => "meta",
            Table::Outbox => "outbox",
            Table::Timers => "timers",
            Table::Audit => "audit",
            Table::Sessions => "sessions",
            Table::Campaigns => "campaigns",
            Table::Quarantine => "quarantine",
            Table::Journal => "journal",
            Table::JournalKeys => "journal_keys",
            Table::JournalKeysByTime => "journal_keys_by_time",
            Table::JournalFailed => "journal_failed",
            Table::Index => "index",
            Table::Archive => "archive",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// Whether callers may `put`/`delete` text-keyed records here.
    pub(crate) fn holds_records(self) -> bool {
        matches!(
            self,
            Table::Requests
                | Table::SlackRefs
                | Table::Meta
                | Table::Sessions
                | Table::Campaigns
                | Table::Archive
        )
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Keys in `meta` that the store owns; callers may not write under this prefix.
pub(crate) const RESERVED_META_PREFIX: &str = "store/";
pub(crate) const FORMAT_KEY: &str = "store/format";
pub(crate) const REQUEST_COUNTER: &str = "store/counter/request";
pub(crate) const OUTBOX_COUNTER: &str = "store/counter/outbox";
pub(crate) const AUDIT_HEAD: &str = "store/audit/head";
/// The last pruned audit entry (seq and hash), once the log has been pruned.
pub(crate) const AUDIT_PRUNED: &str = "store/audit/pruned";
/// Rows quarantined from a table, as a counter per table: `store/quarantined/<table>`.
pub(crate) const QUARANTINED_PREFIX: &str = "store/quarantined/";
pub(crate) const JOURNAL_COUNTER: &str = "store/counter/journal";
/// How many records of a table hold a counted index entry:
/// `store/count/<table>/<entry name>`.
pub(crate) fn count_key(table: Table, name: &str) -> String {
    format!("store/count/{}/{name}", table.name())
}

/// The first bytes of every index row of `name` in `table`.
pub(crate) fn index_prefix(table: Table, name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(table.name().len() + name.len() + 2);
    key.extend_from_slice(table.name().as_bytes());
    key.push(0);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key
}

/// Which index version a table's rows were last built with: `store/index-version/<table>`.
pub(crate) fn index_version_key(table: Table) -> String {
    format!("store/index-version/{}", table.name())
}

/// Journal rows ever given up (a counter).
pub(crate) const JOURNAL_FAILED_COUNTER: &str = "store/journal/failed";

/// How long a journaled envelope's dedupe keys are remembered: well past Slack's
/// retries of an event (immediately, after a minute, after five minutes).
pub const JOURNAL_KEEP_KEYS: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// `received_ms (8 bytes BE) ++ key`: dedupe keys in the order they arrived.
pub(crate) fn journal_key_by_time(received: DateTime<Utc>, key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + key.len());
    out.extend_from_slice(&due_ms(received).to_be_bytes());
    out.extend_from_slice(key.as_bytes());
    out
}

/// The first short request number (`REQ-1001`).
pub const FIRST_REQUEST_NUMBER: u64 = 1001;

pub(crate) fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub(crate) fn seq_from_key(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// Milliseconds since the epoch; instants before 1970 sort as 1970 (no timer is
/// ever due that early, and an unsigned key keeps the byte order simple).
pub(crate) fn due_ms(due: DateTime<Utc>) -> u64 {
    u64::try_from(due.timestamp_millis()).unwrap_or(0)
}

/// `due_ms (8 bytes BE) ++ subject ++ 0x00 ++ kind`: time-ordered, and unique per
/// (due, subject, kind) so the same reminder scheduled twice is one entry.
pub(crate) fn timer_key(due: DateTime<Utc>, subject: &str, kind: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(9 + subject.len() + kind.len());
    key.extend_from_slice(&due_ms(due).to_be_bytes());
    key.extend_from_slice(subject.as_bytes());
    key.push(0);
    key.extend_from_slice(kind.as_bytes());
    key
}

/// Timers are packed (see `packed`) by the window of this many milliseconds they
/// fall due in: a window is one group, read whole when any of it is due.
pub(crate) const TIMER_WINDOW_MS: u64 = 10 * 60 * 1000;

/// The packed group of the timer key `key`: the start of its window (8 bytes BE),
/// which sorts with the due times of unpacked timer keys.
pub(crate) fn timer_window(key: &[u8]) -> Option<[u8; 8]> {
    let due = seq_from_key(key)?;
    Some((due - due % TIMER_WINDOW_MS).to_be_bytes())
}

/// The exclusive upper bound of every timer due at or before `now`.
pub(crate) fn timers_due_bound(now: DateTime<Utc>) -> [u8; 8] {
    due_ms(now).saturating_add(1).to_be_bytes()
}

pub(crate) fn timer_due_from_key(key: &[u8]) -> Option<DateTime<Utc>> {
    let ms = i64::try_from(seq_from_key(key)?).ok()?;
    Utc.timestamp_millis_opt(ms).single()
}

/// The parts of a [`timer_key`]: due (ms since the epoch), subject and kind.
pub(crate) fn parse_timer_key(key: &[u8]) -> Option<(u64, String, String)> {
    let due = seq_from_key(key)?;
    let rest = key.get(8..)?;
    let nul = rest.iter().position(|b| *b == 0)?;
    let subject = std::str::from_utf8(&rest[..nul]).ok()?;
    let kind = std::str::from_utf8(&rest[nul + 1..]).ok()?;
    Some((due, subject.to_owned(), kind.to_owned()))
}

/// Why a subject or kind cannot go into a timer key.
pub(crate) fn check_timer_part(what: &str, value: &str) -> Result<(), String> {
    if value.as_bytes().contains(&0) {
        return Err(format!(
            "a timer {what} may not contain a NUL byte: {value:?}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_listed_in_index_order() {
        for (i, table) in Table::ALL.iter().enumerate() {
            assert_eq!(table.index(), i);
        }
    }

    #[test]
    fn sequence_keys_sort_numerically_past_256() {
        let mut keys: Vec<[u8; 8]> = [1u64, 256, 2, 257, 70_000].map(seq_key).to_vec();
        keys.sort();
        let seqs: Vec<u64> = keys.iter().filter_map(|k| seq_from_key(k)).collect();
        assert_eq!(seqs, [1, 2, 256, 257, 70_000]);
    }

    #[test]
    fn timer_keys_sort_by_due_time_first() {
        let t = |ms| {
            Utc.timestamp_millis_opt(ms)
                .single()
                .expect("valid instant")
        };
        let early_z = timer_key(t(1_000), "zzz", "reminder");
        let late_a = timer_key(t(2_000), "aaa", "expiry");
        assert!(early_z < late_a);
        assert_eq!(timer_due_from_key(&late_a), Some(t(2_000)));
        assert!(late_a.as_slice() < timers_due_bound(t(2_000)).as_slice());
        assert!(late_a.as_slice() >= timers_due_bound(t(1_999)).as_slice());
    }

    #[test]
    fn a_timer_key_parses_back_into_its_parts() {
        let due = Utc.timestamp_millis_opt(1_234).single().expect("valid");
        let key = timer_key(due, "REQ-1042", "expiry");
        assert_eq!(
            parse_timer_key(&key),
            Some((1_234, "REQ-1042".to_owned(), "expiry".to_owned()))
        );
        assert_eq!(parse_timer_key(b"short"), None);
        assert_eq!(parse_timer_key(&key[..12]), None, "no NUL: not a timer key");
    }

    #[test]
    fn a_nul_byte_in_a_timer_subject_is_refused() {
        assert!(check_timer_part("subject", "REQ-1\0x").is_err());
        assert!(check_timer_part("subject", "REQ-1042").is_ok());
    }
}
