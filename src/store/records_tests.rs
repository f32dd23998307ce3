//! Tests of `records`: the envelope, its header, versions and migrations.

use super::*;
use serde_json::{json, Value};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Sample {
    name: String,
}

impl Record for Sample {
    const VERSION: u32 = 3;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }
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
    assert_eq!(header(&bytes).expect("header").rev, 7);
}

/// What the full parse says, for comparison with the shortcut.
fn header_read_whole(bytes: &[u8]) -> (u64, Vec<String>) {
    let value: Value = serde_json::from_slice(bytes).expect("JSON");
    let idx = value["idx"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e.as_str().expect("text").to_owned())
                .collect()
        })
        .unwrap_or_default();
    (value["rev"].as_u64().unwrap_or(0), idx)
}

#[test]
fn the_header_of_an_envelope_as_written_is_read_before_its_data() {
    let entries = [
        vec![],
        vec!["active:aws-prod".to_owned()],
        vec![
            "a\"b\\c".to_owned(),
            "#state:active".to_owned(),
            "ü,]}".to_owned(),
        ],
    ];
    for idx in entries {
        for rev in [0, 1, 42, u64::from(u32::MAX) + 5] {
            let bytes = envelope(3, rev, &idx, r#"{"name":"x\"}],\"data\":"}"#);
            let shortcut = header_before_data(&bytes).expect("the layout envelope writes");
            assert_eq!(
                (shortcut.rev, shortcut.idx.clone()),
                header_read_whole(&bytes)
            );
            let read = header(&bytes).expect("header");
            assert_eq!((read.rev, read.idx), (rev, idx.clone()));
        }
    }
}

#[test]
fn an_envelope_laid_out_otherwise_has_its_header_read_whole() {
    for bytes in [
        &br#"{"data":{"name":"a"},"rev":4,"v":3,"idx":["x"]}"#[..],
        br#"{"v":3,"idx":["x"],"rev":4,"data":{}}"#,
        br#"{"v":3, "rev":4,"data":{}}"#,
        br#"{"v":3,"rev":4,"idx":["x"] ,"data":{}}"#,
    ] {
        assert!(header_before_data(bytes).is_none(), "{bytes:?}");
        let read = header(bytes).expect("header");
        assert_eq!((read.rev, read.idx), header_read_whole(bytes));
    }
    assert!(header(br#"{"v":3,"rev":"#).is_err());
    assert!(header(br#"{"v":3,"rev":99999999999999999999,"data":{}}"#).is_err());
}

#[test]
fn an_envelope_without_a_revision_reads_as_revision_zero() {
    let back: Versioned<Sample> = decode(br#"{"v":3,"data":{"name":"a"}}"#).expect("decodes");
    assert_eq!(back.rev, 0);
}

/// Version 1 had `nick`, version 2 `name`; version 3 (today) adds nothing but is
/// a step all the same, so a version-1 record passes through both.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Renamed {
    name: String,
}

impl Record for Renamed {
    const VERSION: u32 = 3;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }

    fn upgrade(from: u32, data: Value) -> Result<Value, String> {
        match from {
            1 => Ok(json!({ "name": data["nick"] })),
            2 => Ok(data),
            _ => Err(format!("no step from {from}")),
        }
    }
}

#[test]
fn an_older_record_is_brought_up_one_version_at_a_time() {
    let back: Versioned<Renamed> =
        decode(br#"{"v":1,"rev":4,"data":{"nick":"old"}}"#).expect("upgrades");
    assert_eq!(back.data.name, "old");
    assert_eq!((back.v, back.rev), (3, 4));
}

#[test]
fn a_record_from_a_newer_build_is_refused_with_its_versions() {
    let error = decode::<Renamed>(br#"{"v":4,"rev":1,"data":{"name":"x"}}"#)
        .expect_err("a newer version is refused");
    assert!(matches!(
        error,
        DecodeError::Newer {
            found: 4,
            supported: 3
        }
    ));
    assert!(error.to_string().contains("newer c1bot"), "{error}");
}

#[test]
fn an_older_record_without_a_migration_is_malformed_not_a_panic() {
    let error = decode::<Sample>(br#"{"v":1,"rev":1,"data":{"name":"x"}}"#)
        .expect_err("no reader for version 1");
    assert!(matches!(error, DecodeError::Malformed(_)), "{error}");
}
