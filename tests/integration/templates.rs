//! Templates an admin edits cannot break c1bot: `c1bot check` names the file and
//! line of an unknown value or an empty `blocks` array, and a running c1bot keeps
//! the set it has when a SIGHUP finds a broken one.

use std::path::Path;
use std::time::Duration;

use crate::child::setup;
use crate::crash::{approve, GRANT_TASK};
use crate::helpers::eventually;
use crate::requests::{dm_containing, WAIT};

/// A copy of the shipped `blocks/` in `dir`.
fn copy_blocks(dir: &Path) {
    std::fs::create_dir_all(dir).expect("blocks dir");
    for entry in std::fs::read_dir("blocks").expect("blocks") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.join(path.file_name().expect("name"))).expect("copy");
    }
}

/// `task_closed.json` with an empty `blocks` array, and an unknown value in
/// `approval_request.json`.
fn break_two(blocks: &Path) {
    std::fs::write(
        blocks.join("task_closed.json"),
        "{\n  \"text\": \"{{summary}} ({{request_id}}): {{outcome}}\",\n  \"blocks\": []\n}\n",
    )
    .expect("write");
    let card = std::fs::read_to_string(blocks.join("approval_request.json")).expect("read");
    std::fs::write(
        blocks.join("approval_request.json"),
        card.replacen("*Why*\\n{{justification}}", "*Why*\\n{{reason}}", 1),
    )
    .expect("write");
}

#[test]
fn check_names_the_file_and_line_of_an_unknown_value_and_of_an_empty_blocks_array() {
    let dir = tempfile::tempdir().expect("temp dir");
    let blocks = dir.path().join("blocks");
    copy_blocks(&blocks);
    break_two(&blocks);
    let config = dir.path().join("c1bot.toml");
    std::fs::write(
        &config,
        format!(
            "policies_dir = {:?}\nblocks_dir = {:?}\n",
            std::fs::canonicalize("policies").expect("policies"),
            blocks
        ),
    )
    .expect("config");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_c1bot"))
        .arg("--config")
        .arg(&config)
        .arg("check")
        .env_remove("SLACK_APP_TOKEN")
        .env_remove("SLACK_BOT_TOKEN")
        .output()
        .expect("c1bot check runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{text}");
    assert!(
        text.contains("task_closed.json:3: \"blocks\" is empty"),
        "{text}"
    );
    assert!(
        text.contains("approval_request.json:19: unknown value {{reason}}: c1bot gives this template {{request_id}}, {{requester}}"),
        "{text}"
    );
    assert!(text.contains("2 problem(s) found"), "{text}");
}

#[tokio::test]
async fn a_running_c1bot_keeps_its_templates_when_a_sighup_finds_broken_ones() {
    let setup = setup().await;
    let blocks = setup.config.with_file_name("blocks");
    copy_blocks(&blocks);
    let config = std::fs::read_to_string(&setup.config).expect("config");
    let shipped = std::fs::canonicalize("blocks").expect("blocks");
    std::fs::write(
        &setup.config,
        config.replace(&format!("{shipped:?}"), &format!("{blocks:?}")),
    )
    .expect("config");
    let bot = setup.start(Duration::ZERO).await;
    approve(&setup.sim).await;
    let carol = setup.sim.person("carol");
    dm_containing(&carol, GRANT_TASK).await;

    break_two(&blocks);
    bot.signal("-HUP");
    eventually(WAIT, "the reload is refused", || async {
        bot.gauge("c1bot_reloads_total{result=\"failed\"}").await == 1.0
    })
    .await;
    carol.click("Mark complete").await.expect("carol completes");
    let closed = dm_containing(&carol, "Completed by").await;
    assert!(
        closed.blocks.as_array().is_some_and(|b| !b.is_empty()),
        "the card is drawn with the templates c1bot had: {closed:?}"
    );
    assert_eq!(bot.ready().await.0, 200);
    bot.kill_9().await;
    setup.sim.shutdown().await;
}
