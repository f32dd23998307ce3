//! Versioned records: every value in a keyed table is the JSON envelope
//! `{"v": <format version>, "rev": <revision>, "data": …}`.
//!
//! Owns the envelope encoding. `v` is the version of `data`'s format, chosen by the
//! caller's record type, so what is on disk outlives the code that wrote it (a reader
//! seeing an old `v` can migrate). `rev` counts writes to that key (1 on creation) and
//! is what [`crate::store::Change::expect`] compares, which makes "decide once"
//! a revision check. Must not know any domain type.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

/// A type stored in a keyed table. Bump `VERSION` whenever the serialized shape
/// changes, and keep a reader for the old shape.
pub trait Record: Serialize + DeserializeOwned {
    const VERSION: u32;

    /// The secondary-index entries this record is found under, maintained by the store
    /// in the same commit as the record (an entry the record no longer has is removed).
    /// Most records have none.
    fn index(&self) -> Vec<IndexKey> {
        Vec::new()
    }
}

/// One entry of a record in a table's secondary index: the record is found under
/// `name` (e.g. `requester:U0ALICE001`). A `counted` entry also moves a counter of how
/// many records hold it (e.g. `state:pending`), read without a scan.
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

    /// An entry the record is looked up by and counted under.
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

/// The revision and index entries of a stored envelope, without decoding its data.
#[derive(Deserialize)]
pub(crate) struct Header {
    #[serde(default)]
    pub rev: u64,
    #[serde(default)]
    pub idx: Vec<String>,
}

pub(crate) fn header(bytes: &[u8]) -> Result<Header, serde_json::Error> {
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

#[cfg(test)]
fn encode<R: Record>(rev: u64, record: &R) -> Result<Vec<u8>, serde_json::Error> {
    Ok(envelope(
        R::VERSION,
        rev,
        &[],
        &serde_json::to_string(record)?,
    ))
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<Versioned<T>, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// The revision of a stored envelope, without decoding its data.
pub(crate) fn revision(bytes: &[u8]) -> Result<u64, serde_json::Error> {
    Ok(decode::<IgnoredAny>(bytes)?.rev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        name: String,
    }

    impl Record for Sample {
        const VERSION: u32 = 3;
    }

    #[test]
    fn the_envelope_carries_version_revision_and_data() {
        let bytes = encode(
            7,
            &Sample {
                name: "x\"}".into(),
            },
        )
        .expect("encodes");
        let raw: Value = serde_json::from_slice(&bytes).expect("valid JSON");
        assert_eq!(raw, json!({"v": 3, "rev": 7, "data": {"name": "x\"}"}}));
        let back: Versioned<Sample> = decode(&bytes).expect("decodes");
        assert_eq!(back.data.name, "x\"}");
        assert_eq!(revision(&bytes).expect("revision"), 7);
    }

    #[test]
    fn an_envelope_without_a_revision_reads_as_revision_zero() {
        let back: Versioned<Value> = decode(br#"{"v":1,"data":{}}"#).expect("decodes");
        assert_eq!(back.rev, 0);
    }
}
