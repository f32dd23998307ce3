//! Backups that fail never hurt the running bot: a destination it cannot write and
//! one without room are refused with the reason, while requests keep committing.

use std::path::Path;

use crate::audit::c1bot;
use crate::helpers::TestApp;
use crate::requests::{dm_containing, request};

/// alice asks three times while `during` runs; each request reaches its approver.
async fn requests_while<F: std::future::Future>(app: &TestApp, during: F) -> F::Output {
    let run = uuid::Uuid::new_v4();
    let load = async {
        for i in 0..3 {
            let why = format!("during the backup {run} {i}");
            request(app, "alice", "AWS production", "ReadOnly", "1 h", &why).await;
            dm_containing(&app.sim.person("bob"), &why).await;
        }
    };
    let ((), output) = tokio::join!(load, during);
    output
}

async fn still_serving(app: &TestApp) {
    let why = format!("after {}", uuid::Uuid::new_v4());
    request(app, "alice", "AWS production", "ReadOnly", "1 h", &why).await;
    dm_containing(&app.sim.person("bob"), &why).await;
    let store = &app.bot.as_ref().expect("running").store;
    assert!(store.verify_audit().await.expect("readable").is_ok());
}

#[tokio::test]
async fn a_backup_to_a_place_c1bot_cannot_write_is_refused_with_the_reason() {
    let app = crate::helpers::spawn_app().await;
    // Root may write anywhere permission bits allow; nothing creates a directory in /proc.
    let dest = "/proc/c1bot-backup";
    let output = requests_while(&app, c1bot(&app.config.data_dir, &["backup", dest])).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "backup failed: backup to /proc/c1bot-backup: cannot create the destination directory"
        ),
        "the client is told why: {stderr}"
    );
    assert!(!Path::new(dest).exists());
    still_serving(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_backup_without_room_is_refused_before_copying_and_leaves_nothing() {
    let app = crate::helpers::spawn_app().await;
    let store = app
        .bot
        .as_ref()
        .expect("running")
        .store
        .sled()
        .expect("a sled store")
        .clone();
    let dir = tempfile::tempdir().expect("temp dir");
    let dest = dir.path().join("copy");
    // A destination with 64 KiB free: less than any copy needs.
    let refused = requests_while(&app, store.backup_to_with(&dest, |_| Ok(64 * 1024))).await;
    let reason = refused.expect_err("no room").to_string();
    assert!(
        reason.contains("not enough free space") && reason.contains("0.1 MB is free"),
        "{reason}"
    );
    assert!(!dest.exists(), "no partial copy is left");
    still_serving(&app).await;

    // The same place with its real free space takes the copy, under the same load.
    let copied = requests_while(&app, store.backup_to(&dest)).await;
    assert!(copied.expect("a backup with room") > 0);
    still_serving(&app).await;
    app.stop().await;
}
