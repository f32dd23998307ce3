//! The audit chain against a head kept elsewhere: `c1bot audit verify --head` while
//! c1bot runs (admin socket) and while it is stopped, after someone with the disk cut
//! the newest entries.

use std::path::Path;
use std::process::Output;

use c1bot::store::AuditAnchor;

use crate::helpers::TestApp;
use crate::requests::{dm_containing, request};

/// `c1bot ARGS` on `data_dir`, as an operator runs it.
pub async fn c1bot(data_dir: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_c1bot"))
        .args(args)
        .env("C1BOT_DATA_DIR", data_dir)
        .env_remove("SLACK_APP_TOKEN")
        .env_remove("SLACK_BOT_TOKEN")
        .output()
        .await
        .expect("c1bot runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Removes every entry of the `audit` tree after `keep` and moves the stored head back
/// to entry `keep`, with sled directly, as someone with the disk would. Returns how
/// many entries were cut.
fn cut_after(data_dir: &Path, keep: u64) -> usize {
    let db = sled::open(data_dir).expect("the data directory opens");
    let audit = db.open_tree("audit").expect("audit tree");
    let newer: Vec<_> = audit
        .range((keep + 1).to_be_bytes()..)
        .keys()
        .map(|key| key.expect("readable"))
        .collect();
    for key in &newer {
        audit.remove(key).expect("cut");
    }
    let kept = audit
        .get(keep.to_be_bytes())
        .expect("readable")
        .expect("kept");
    let kept: serde_json::Value = serde_json::from_slice(&kept).expect("json");
    let head = serde_json::json!({"v": 1, "rev": 1, "data": {"seq": keep, "hash": kept["hash"]}});
    db.open_tree("meta")
        .expect("meta tree")
        .insert("store/audit/head", head.to_string().as_bytes())
        .expect("head moved back");
    db.flush().expect("flushed");
    newer.len()
}

async fn requested(app: &TestApp, why: &str) {
    request(app, "alice", "AWS production", "ReadOnly", "1 h", why).await;
    dm_containing(&app.sim.person("bob"), why).await;
}

fn head_of(app: &TestApp) -> AuditAnchor {
    let store = &app.bot.as_ref().expect("running").store;
    store.audit_head().expect("readable").expect("audited")
}

#[tokio::test]
async fn a_cut_tail_passes_plain_verify_but_fails_against_the_published_head() {
    let mut app = crate::helpers::spawn_app().await;
    let dir = app.config.data_dir.clone();
    requested(&app, "first").await;
    let earlier = head_of(&app).to_string();
    requested(&app, "second").await;
    let published = head_of(&app);

    // While c1bot runs: a log grown past an anchor verifies against it.
    let grown = c1bot(&dir, &["audit", "verify", "--head", &earlier]).await;
    assert!(grown.status.success(), "{}", stdout(&grown));
    assert!(stdout(&grown).contains(&format!("holds the anchor {earlier}")));

    // Stopped, the newest entries are cut down to two before the published head,
    // and the stored head moved back with them.
    let bot = app.bot.take().expect("running");
    bot.stop().await.expect("stops");
    let last = published.seq - 2;
    assert!(cut_after(&dir, last) >= 2);
    let head = published.to_string();

    let plain = c1bot(&dir, &["audit", "verify"]).await;
    assert!(plain.status.success(), "{}", stdout(&plain));
    assert!(stdout(&plain).contains("intact"), "{}", stdout(&plain));

    let offline = c1bot(&dir, &["audit", "verify", "--head", &head]).await;
    assert_eq!(offline.status.code(), Some(1), "{}", stdout(&offline));
    let missing = format!("entry {} is missing", last + 1);
    assert!(stdout(&offline).contains(&missing), "{}", stdout(&offline));
    assert!(
        stdout(&offline).contains("TAMPERED"),
        "{}",
        stdout(&offline)
    );

    // Running again on the cut directory: the admin socket gives the same verdict.
    let app = crate::helpers::start(app).await;
    let online = c1bot(&dir, &["audit", "verify", "--head", &head]).await;
    assert_eq!(online.status.code(), Some(1), "{}", stdout(&online));
    assert!(stdout(&online).contains("TAMPERED"), "{}", stdout(&online));
    let malformed = c1bot(&dir, &["audit", "verify", "--head", "12:abc"]).await;
    assert_eq!(malformed.status.code(), Some(2), "clap refuses it");
    app.stop().await;
}
