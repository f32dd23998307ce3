//! The audit chain against a head kept elsewhere: the head c1bot publishes (log line,
//! channel), and `c1bot audit verify --head` while c1bot runs (admin socket) and while
//! it is stopped, after someone with the disk cut the newest entries.

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use c1bot::store::AuditAnchor;

use crate::helpers::{eventually, TestApp};
use crate::requests::{dm_containing, request, WAIT};

/// `c1bot ARGS` on `data_dir`, as an operator runs it. A stopped in-process bot (or
/// sled opened by the test) may hold the directory's lock for a moment after it is
/// dropped: that answer is asked again.
pub async fn c1bot(data_dir: &Path, args: &[&str]) -> Output {
    for _ in 0..100 {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_c1bot"))
            .args(args)
            .env("C1BOT_DATA_DIR", data_dir)
            .env_remove("SLACK_APP_TOKEN")
            .env_remove("SLACK_BOT_TOKEN")
            .output()
            .await
            .expect("c1bot runs");
        if !String::from_utf8_lossy(&output.stderr).contains("only one instance") {
            return output;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the data directory stayed locked");
}

/// sled on `data_dir`, once the stopped bot has let go of it.
async fn open_when_free(data_dir: &Path) -> sled::Db {
    for _ in 0..100 {
        if let Ok(db) = sled::open(data_dir) {
            return db;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the data directory stayed locked");
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Removes every entry of the `audit` tree after `keep` and moves the stored head back
/// to entry `keep`, with sled directly, as someone with the disk would. Returns how
/// many entries were cut.
async fn cut_after(data_dir: &Path, keep: u64) -> usize {
    let db = open_when_free(data_dir).await;
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

async fn head_of(app: &TestApp) -> AuditAnchor {
    let store = &app.bot.as_ref().expect("running").store;
    store
        .audit_head()
        .await
        .expect("readable")
        .expect("audited")
}

#[tokio::test]
async fn a_cut_tail_passes_plain_verify_but_fails_against_the_published_head() {
    let mut app = crate::helpers::spawn_app().await;
    let dir = app.config.data_dir.clone();
    requested(&app, "first").await;
    let earlier = head_of(&app).await.to_string();
    requested(&app, "second").await;
    let published = head_of(&app).await;

    // While c1bot runs: a log grown past an anchor verifies against it.
    let grown = c1bot(&dir, &["audit", "verify", "--head", &earlier]).await;
    assert!(grown.status.success(), "{}", stdout(&grown));
    assert!(stdout(&grown).contains(&format!("holds the anchor {earlier}")));

    // Stopped, the newest entries are cut down to two before the published head,
    // and the stored head moved back with them.
    let bot = app.bot.take().expect("running");
    bot.stop().await.expect("stops");
    let last = published.seq - 2;
    assert!(cut_after(&dir, last).await >= 2);
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

/// Every log line (JSON) emitted on this thread while the guard lives: the bot's tasks
/// run on the test's current-thread runtime.
struct Logs {
    lines: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
    _second: tracing::Dispatch,
}

impl Logs {
    fn capture() -> Logs {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        // With a single dispatcher registered, tracing-core decides a callsite's
        // interest from whichever thread hits it first: another test's bot (no
        // subscriber on its thread) would make this one's log lines "never" for good.
        // A second live dispatcher makes every callsite ask each thread's own.
        let second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
        Logs {
            lines,
            _guard: tracing::subscriber::set_default(subscriber),
            _second: second,
        }
    }

    /// The `fields` of every line with `target`.
    fn from(&self, target: &str) -> Vec<serde_json::Value> {
        let bytes = self.lines.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|line| line["target"] == target)
            .map(|line| line["fields"].clone())
            .collect()
    }
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut lines) = self.0.lock() {
            lines.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The anchors c1bot posted in `channel`, oldest first.
fn posted_anchors(app: &TestApp, channel: &str) -> Vec<AuditAnchor> {
    app.sim
        .messages_in(channel)
        .iter()
        .filter_map(|m| m.visible_text().split('`').nth(1)?.parse().ok())
        .collect()
}

#[tokio::test]
async fn the_head_is_published_in_the_log_and_the_channel_and_verifies() {
    let logs = Logs::capture();
    let app = crate::grants::app_with(|c| {
        c.activity.channel = Some("C0SECURITY".into());
        c.audit.anchor_every = Duration::from_millis(100);
    })
    .await;
    requested(&app, "anchored").await;
    eventually(
        WAIT,
        "an anchor is posted to the activity channel",
        || async { !posted_anchors(&app, "C0SECURITY").is_empty() },
    )
    .await;
    let posted = posted_anchors(&app, "C0SECURITY").remove(0);
    let logged = logs.from(c1bot::app::audit_anchor::TARGET);
    let line = logged
        .iter()
        .find(|f| f["seq"] == posted.seq)
        .unwrap_or_else(|| panic!("the posted anchor was logged first: {logged:?}"));
    assert_eq!(line["hash"], posted.hash.as_str());

    let dir = &app.config.data_dir;
    let verified = c1bot(dir, &["audit", "verify", "--head", &posted.to_string()]).await;
    assert!(verified.status.success(), "{}", stdout(&verified));
    app.stop().await;
}

#[test]
fn check_validates_the_audit_table_with_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("c1bot.toml");
    let check = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_c1bot"))
            .arg("--config")
            .arg(&config)
            .arg("check")
            .output()
            .expect("c1bot runs")
    };
    std::fs::write(
        &config,
        "[audit]\nanchor_channel = \"C0AUDIT001\"\nanchor_every = \"30m\"\n",
    )
    .expect("config");
    let good = check();
    assert!(good.status.success(), "{}", stdout(&good));
    std::fs::write(&config, "[audit]\nanchor_every = \"soon\"\n").expect("config");
    let bad = check();
    assert!(!bad.status.success());
    assert!(
        stdout(&bad).contains("c1bot.toml:2: audit.anchor_every 'soon' is not a duration"),
        "{}",
        stdout(&bad)
    );
}

/// The hash of entry `seq` in an export.
fn hash_in(export: &str, seq: u64) -> String {
    export
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["seq"] == seq)
        .and_then(|e| e["hash"].as_str().map(str::to_owned))
        .expect("the entry is in the export")
}

#[tokio::test]
async fn a_running_c1bot_prunes_its_audit_log_only_through_a_checked_export() {
    let app = crate::helpers::spawn_app().await;
    let dir = app.config.data_dir.clone();
    requested(&app, "first").await;
    requested(&app, "second").await;
    let exported = c1bot(&dir, &["audit", "export"]).await;
    assert!(exported.status.success());
    let export = stdout(&exported);
    let files = tempfile::tempdir().expect("temp dir");
    let file = files.path().join("audit-export.jsonl");
    std::fs::write(&file, &export).expect("export kept");
    let point = format!("3:{}", hash_in(&export, 3));
    let file_arg = file.to_str().expect("utf-8 path");

    // A file that does not hold the entries: refused, nothing removed.
    let partial = files.path().join("partial.jsonl");
    std::fs::write(
        &partial,
        export.lines().take(2).collect::<Vec<_>>().join("\n"),
    )
    .expect("written");
    let refused = c1bot(
        &dir,
        &[
            "audit",
            "prune",
            "--through",
            &point,
            "--export",
            partial.to_str().expect("utf-8"),
        ],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(said.contains("does not hold"), "{said}");

    let pruned = c1bot(
        &dir,
        &["audit", "prune", "--through", &point, "--export", file_arg],
    )
    .await;
    assert!(
        pruned.status.success(),
        "{}",
        String::from_utf8_lossy(&pruned.stderr)
    );
    assert!(
        stdout(&pruned).contains("3 entries removed"),
        "{}",
        stdout(&pruned)
    );

    // The log goes on and verifies from the pruned point, against the published head.
    requested(&app, "third").await;
    let head = head_of(&app).await.to_string();
    let verified = c1bot(&dir, &["audit", "verify", "--head", &head]).await;
    assert!(verified.status.success(), "{}", stdout(&verified));
    assert!(
        stdout(&verified).contains("intact"),
        "{}",
        stdout(&verified)
    );
    let after = stdout(&c1bot(&dir, &["audit", "export"]).await);
    assert!(
        after.lines().all(|l| !l.contains("\"seq\":1,")),
        "entry 1 left the store"
    );
    app.stop().await;
}
