//! Versioned records: every value in a keyed table is the JSON envelope
//! `{"v": <format version>, "rev": <revision>, "data": …}`.
//!
//! Owns the envelope encoding. `v` is the version of `data`'s format, chosen by the
//! caller's record type, so what is on disk outlives the code that wrote it (a reader
//! seeing an old `v` can migrate). `rev` counts writes to that key (1 on creation) and
//! is what [`crate::store::Change::expect`] compares, which makes "decide once"
//! a revision check. Must not know any domain type.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// A type stored in a keyed table, in its own stored form at `VERSION`. Bump
/// `VERSION` whenever the stored shape changes, and give [`Record::upgrade`] the step
/// from the old shape: a store written by an older c1bot reads in this one, and one
/// written by a newer c1bot is refused with a clear error instead of misread.
pub trait Record: Sized {
    const VERSION: u32;

    /// The stored form (JSON) of this record at `VERSION`.
    fn encode(&self) -> Result<String, serde_json::Error>;

    /// A record from its stored form at `VERSION`.
    fn decode(data: &str) -> Result<Self, serde_json::Error>;

    /// The stored form at `from + 1`, from one at `from` (`from < VERSION`): an
    /// explicit migration, one version at a time. Records that never changed shape
    /// have no older form to read.
    fn upgrade(from: u32, _data: serde_json::Value) -> Result<serde_json::Value, String> {
        Err(format!(
            "this build has no reader for records of version {from}"
        ))
    }

    /// The secondary-index entries this record is found under, maintained by the store
    /// in the same commit as the record (an entry the record no longer has is removed).
    /// Most records have none.
    fn index(&self) -> Vec<IndexKey> {
        Vec::new()
    }
}

/// One entry of a record in a table's secondary index: the record is found under
/// `name` (e.g. `requester:U0ALICE001`). A `counted` entry instead moves a counter of
/// how many records hold it (e.g. `state:pending`), read without a scan; records are
/// not looked up by a counted entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IndexKey {
    pub name: String,
    pub counted: bool,
}

impl IndexKey {
    /// An entry the record is looked up by.
    pub fn lookup(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            counted: false,
        }
    }

    /// An entry the record is counted under (and not looked up by).
    pub fn counted(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            counted: true,
        }
    }

    /// As kept in the envelope's `idx` list: counted entries start with `#`.
    pub fn stored(&self) -> String {
        if self.counted {
            format!("#{}", self.name)
        } else {
            self.name.clone()
        }
    }

    pub(crate) fn from_stored(stored: &str) -> Self {
        match stored.strip_prefix('#') {
            Some(name) => Self::counted(name),
            None => Self::lookup(stored),
        }
    }
}

/// Records read together, each with its key; one that cannot be read is its error,
/// beside the others.
pub type KeyedReads<T> = Vec<(String, Result<Versioned<T>, StoreError>)>;

/// A record as read back: its format version, its revision and its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versioned<T> {
    pub v: u32,
    /// 1 after the first write, +1 per write since. Records written without one read as 0.
    #[serde(default)]
    pub rev: u64,
    pub data: T,
}

/// Builds the envelope from already-serialized `data`, so a record is serialized once
/// (outside the transaction, whose closure may run more than once). `idx` is the
/// record's index entries as stored (see [`IndexKey::stored`]), omitted when empty.
pub(crate) fn envelope(v: u32, rev: u64, idx: &[String], data_json: &str) -> Vec<u8> {
    if idx.is_empty() {
        return format!(r#"{{"v":{v},"rev":{rev},"data":{data_json}}}"#).into_bytes();
    }
    let idx = serde_json::to_string(idx).unwrap_or_else(|_| "[]".to_owned());
    format!(r#"{{"v":{v},"rev":{rev},"idx":{idx},"data":{data_json}}}"#).into_bytes()
}

/// How a record's index entries (as stored) move from `before` to `after`: the
/// entries it leaves, and the entries it gains.
pub(crate) fn index_moves<'a>(
    before: &'a [String],
    after: &'a [String],
) -> (
    impl Iterator<Item = &'a String>,
    impl Iterator<Item = &'a String>,
) {
    (
        before.iter().filter(move |e| !after.contains(e)),
        after.iter().filter(move |e| !before.contains(e)),
    )
}

/// The revision and index entries of a stored envelope, without decoding its data.
#[derive(Deserialize, Clone)]
pub(crate) struct Header {
    #[serde(default)]
    pub rev: u64,
    #[serde(default)]
    pub idx: Vec<String>,
}

pub(crate) fn header(bytes: &[u8]) -> Result<Header, serde_json::Error> {
    if let Some(header) = header_before_data(bytes) {
        return Ok(header);
    }
    #[derive(Deserialize)]
    struct WithData {
        #[serde(default)]
        rev: u64,
        #[serde(default)]
        idx: Vec<String>,
        #[allow(dead_code)]
        data: IgnoredAny,
    }
    let parsed: WithData = serde_json::from_slice(bytes)?;
    Ok(Header {
        rev: parsed.rev,
        idx: parsed.idx,
    })
}

/// The header of an envelope laid out as [`envelope`] writes it (`{"v":…,"rev":…,`
/// then `"idx":[…],` when there are entries, then `"data":`), read from the bytes
/// before the data: a transaction reads the header of every record it writes, and
/// skipping a record's data was most of that. `None` for any other layout (an older
/// or hand-written record), which is read whole instead.
fn header_before_data(bytes: &[u8]) -> Option<Header> {
    let rest = bytes.strip_prefix(br#"{"v":"#)?;
    let (_, rest) = leading_number(rest)?;
    let rest = rest.strip_prefix(br#","rev":"#)?;
    let (rev, rest) = leading_number(rest)?;
    if rest.starts_with(br#","data":"#) {
        return Some(Header {
            rev,
            idx: Vec::new(),
        });
    }
    let rest = rest.strip_prefix(br#","idx":"#)?;
    let mut entries = serde_json::Deserializer::from_slice(rest).into_iter::<Vec<String>>();
    let idx = entries.next()?.ok()?;
    let rest = rest.get(entries.byte_offset()..)?;
    rest.starts_with(br#","data":"#)
        .then_some(Header { rev, idx })
}

/// The decimal number `bytes` starts with (at most 19 digits), and what follows it.
fn leading_number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    let (number, rest) = bytes.split_at(digits);
    let number = std::str::from_utf8(number).ok()?.parse().ok()?;
    Some((number, rest))
}

#[cfg(test)]
fn encode<R: Record>(rev: u64, record: &R) -> Result<Vec<u8>, serde_json::Error> {
    Ok(envelope(R::VERSION, rev, &[], &record.encode()?))
}

/// Why a stored record could not be read.
#[derive(Debug)]
pub(crate) enum DecodeError {
    /// Written at a version this build does not know: by a newer c1bot.
    Newer {
        found: u32,
        supported: u32,
    },
    Malformed(String),
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::Newer { found, supported } => write!(
                f,
                "written by a newer c1bot (record version {found}; this build reads up to {supported}): run that version, or restore a backup taken before the upgrade"
            ),
            DecodeError::Malformed(detail) => f.write_str(detail),
        }
    }
}

/// A stored envelope: its version and revision, its data still raw.
#[derive(Deserialize)]
struct Raw<'a> {
    v: u32,
    #[serde(default)]
    rev: u64,
    #[serde(borrow)]
    data: &'a serde_json::value::RawValue,
}

/// Reads an envelope as `T`, bringing older versions up to `T::VERSION` step by step.
pub(crate) fn decode<T: Record>(bytes: &[u8]) -> Result<Versioned<T>, DecodeError> {
    let raw: Raw<'_> =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    decode_parts(raw.v, raw.rev, raw.data.get())
}

/// [`decode`] for an envelope whose parts are stored apart (PostgreSQL's columns).
pub(crate) fn decode_parts<T: Record>(
    v: u32,
    rev: u64,
    data: &str,
) -> Result<Versioned<T>, DecodeError> {
    let data = match v.cmp(&T::VERSION) {
        std::cmp::Ordering::Equal => {
            T::decode(data).map_err(|e| DecodeError::Malformed(e.to_string()))?
        }
        std::cmp::Ordering::Greater => {
            return Err(DecodeError::Newer {
                found: v,
                supported: T::VERSION,
            })
        }
        std::cmp::Ordering::Less => {
            let mut value: serde_json::Value =
                serde_json::from_str(data).map_err(|e| DecodeError::Malformed(e.to_string()))?;
            for from in v..T::VERSION {
                value = T::upgrade(from, value).map_err(DecodeError::Malformed)?;
            }
            let text = value.to_string();
            T::decode(&text).map_err(|e| DecodeError::Malformed(e.to_string()))?
        }
    };
    Ok(Versioned {
        v: T::VERSION,
        rev,
        data,
    })
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
