//! A data directory written by an older release serves in this one: records stored at
//! an older version are migrated as they are read, counters and timers carry on.
//!
//! The fixture `tests/fixtures/store-v1.jsonl` is every row of a data directory that
//! the release before versioned request records (request version 1) wrote while alice
//! got access to AWS production and asked for Admin; see
//! [`generate_the_version_1_fixture`] for how it was made.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::child::setup;
use crate::crash::{active, REVOKE_TASK};
use crate::requests::{dm_containing, fill_request};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/store-v1.jsonl");

/// Far enough ahead of when the fixture was written that everything in it is due:
/// the test's outcome does not depend on the day it runs.
const LATER: Duration = Duration::from_secs(60 * 24 * 3600);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("fixture hex"))
        .collect()
}

/// A byte string as a JSON field: readable text when it is UTF-8, hex otherwise.
fn field(name: &str, bytes: &[u8]) -> (String, Value) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (name.to_owned(), json!(text)),
        Err(_) => (format!("{name}_hex"), json!(hex(bytes))),
    }
}

fn bytes(row: &Value, name: &str) -> Vec<u8> {
    match (row.get(name), row.get(format!("{name}_hex"))) {
        (Some(Value::String(text)), _) => text.as_bytes().to_vec(),
        (_, Some(Value::String(hex))) => unhex(hex),
        _ => panic!("fixture row without {name}: {row}"),
    }
}

/// Every row of every tree of the sled database in `dir`, one JSON object a line.
fn dump(dir: &Path) -> String {
    let db = sled::open(dir).expect("the data directory opens");
    let mut out = String::new();
    for name in db.tree_names() {
        let tree = db.open_tree(&name).expect("tree");
        for row in tree.iter() {
            let (key, value) = row.expect("row");
            let mut line = serde_json::Map::new();
            let (n, t) = field("tree", &name);
            line.insert(n, t);
            let (n, k) = field("key", &key);
            line.insert(n, k);
            let (n, v) = field("value", &value);
            line.insert(n, v);
            out.push_str(&Value::Object(line).to_string());
            out.push('\n');
        }
    }
    out
}

/// Writes the rows of a dump into a new sled database in `dir`.
fn load(dump: &str, dir: &Path) {
    let db = sled::open(dir).expect("a new data directory");
    for line in dump.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).expect("a fixture row");
        let tree = db.open_tree(bytes(&row, "tree")).expect("tree");
        tree.insert(bytes(&row, "key"), bytes(&row, "value"))
            .expect("row written");
    }
    db.flush().expect("flushed");
}

/// Regenerates the fixture with an older c1bot binary:
/// `C1BOT_FIXTURE_BIN=/path/to/old/c1bot cargo test --test integration
/// generate_the_version_1_fixture -- --ignored`. The checked-in fixture was written by
/// commit f223160 (the last release whose requests were stored at version 1).
#[tokio::test]
#[ignore = "writes tests/fixtures/store-v1.jsonl with an older binary"]
async fn generate_the_version_1_fixture() {
    let bin = std::env::var("C1BOT_FIXTURE_BIN").expect("C1BOT_FIXTURE_BIN names the old binary");
    let setup = setup().await;
    let bot = setup
        .start_binary(Path::new(&bin), Duration::ZERO, &[])
        .await;
    active(&setup.sim).await;
    let alice = setup.sim.person("alice");
    fill_request(&alice, "AWS production", "Admin", "1 h", "audit check").await;
    alice.submit().await.expect("submitted");
    dm_containing(&setup.sim.person("bob"), "audit check").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    bot.kill_9().await;
    std::fs::write(FIXTURE, dump(setup.data.path())).expect("fixture written");
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn a_data_directory_written_by_the_version_1_release_serves() {
    let setup = setup().await;
    let fixture = std::fs::read_to_string(FIXTURE).expect("the fixture");
    let old_requests = fixture
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|row| row["tree"] == "requests")
        .filter(|row| {
            row["value"]
                .as_str()
                .is_some_and(|v| v.starts_with(r#"{"v":1,"#))
        })
        .count();
    assert_eq!(old_requests, 2, "the fixture holds two version-1 requests");
    load(&fixture, setup.data.path());
    let bot = setup.start(LATER).await;
    let (alice, carol) = (setup.sim.person("alice"), setup.sim.person("carol"));

    // alice's active grant expired while "nobody ran c1bot": the revoke task goes out.
    dm_containing(&carol, REVOKE_TASK).await;

    // Her pending request ran out of time: she is told.
    dm_containing(&alice, "Nobody decided in time").await;
    // The migrated grant is worked to its end.
    carol.click("Mark complete").await.expect("carol revokes");
    dm_containing(&alice, "Access removed").await;

    // Numbering carries on after the old requests.
    fill_request(&alice, "AWS production", "ReadOnly", "1 h", "after upgrade").await;
    alice.submit().await.expect("submitted");
    dm_containing(&setup.sim.person("bob"), "after upgrade").await;
    let status = alice.slash("/c1", "status", "general").await;
    let text = status.response.map(|r| r.to_string()).unwrap_or_default();
    assert!(
        text.contains("REQ-1003"),
        "the new request is REQ-1003: {text}"
    );
    let metrics = bot.scrape().await;
    let moved_aside: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("c1bot_quarantined_rows") && !l.ends_with(" 0"))
        .collect();
    assert!(metrics.contains("c1bot_"), "metrics answer");
    assert!(
        moved_aside.is_empty(),
        "nothing was set aside: {moved_aside:?}"
    );
    bot.kill_9().await;
    setup.sim.shutdown().await;
}
