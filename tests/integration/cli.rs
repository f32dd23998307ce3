//! The offline commands, run as a person runs them: the real binary.

use std::path::Path;
use std::process::Command;

fn c1bot(config: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_c1bot"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("SLACK_APP_TOKEN")
        .env_remove("SLACK_BOT_TOKEN")
        .output()
        .expect("c1bot runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

fn copy_dir(from: &str, to: &Path) {
    std::fs::create_dir_all(to).expect("dir");
    for entry in std::fs::read_dir(from).expect("readable") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().expect("name"))).expect("copy");
        }
    }
}

#[test]
fn check_passes_on_the_shipped_files_and_reports_each_broken_one_with_its_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (policies, blocks) = (dir.path().join("policies"), dir.path().join("blocks"));
    copy_dir("policies", &policies);
    copy_dir("blocks", &blocks);
    std::fs::copy("catalog.example.toml", dir.path().join("catalog.toml")).expect("catalog");
    let config = dir.path().join("c1bot.toml");
    std::fs::write(
        &config,
        format!(
            "catalog_file = \"catalog.toml\"\npolicies_dir = {:?}\nblocks_dir = {:?}\n",
            policies, blocks
        ),
    )
    .expect("config");

    let (ok, text) = c1bot(&config, &["check"]);
    assert!(ok, "{text}");

    let catalog = std::fs::read_to_string(dir.path().join("catalog.toml")).expect("catalog");
    std::fs::write(
        dir.path().join("catalog.toml"),
        catalog.replacen("parent = \"root\"", "parent = \"nowhere\"", 1),
    )
    .expect("broken catalog");
    std::fs::write(
        policies.join("broken.rego"),
        "package c1.broken\n\nallow if {\n  input.x ==\n}\n",
    )
    .expect("broken policy");
    std::fs::write(
        blocks.join("usage.json"),
        "{\n  \"text\": \"x\",\n  \"blocks\": [\n}\n",
    )
    .expect("broken template");

    let (ok, text) = c1bot(&config, &["check"]);
    assert!(!ok, "broken files must fail the check");
    assert!(
        text.contains("catalog.toml:") && text.contains("nowhere"),
        "{text}"
    );
    assert!(text.contains("broken.rego:"), "{text}");
    assert!(text.contains("usage.json:4:"), "{text}");
    assert!(text.contains("3 problem(s) found"), "{text}");
}

#[test]
fn check_names_an_unknown_config_key_with_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("c1bot.toml");
    std::fs::write(&config, "[slack]\nconections = 3\n").expect("config");
    let (ok, text) = c1bot(&config, &["check"]);
    assert!(!ok);
    assert!(
        text.contains("c1bot.toml:2: unknown key 'slack.conections'"),
        "{text}"
    );
}

#[test]
fn manifest_and_policy_test_run_offline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("c1bot.toml");
    std::fs::write(
        &config,
        format!(
            "policies_dir = {:?}\n",
            std::fs::canonicalize("policies").expect("policies")
        ),
    )
    .expect("config");
    let (ok, manifest) = c1bot(&config, &["manifest"]);
    assert!(
        ok && manifest.contains("\"socket_mode_enabled\": true"),
        "{manifest}"
    );
    let (ok, report) = c1bot(&config, &["policy", "test"]);
    assert!(ok && report.contains("PASS"), "{report}");
}

#[test]
fn manifest_asks_only_for_the_scopes_and_events_of_the_features_turned_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("c1bot.toml");
    let scopes = |manifest: &str| -> Vec<String> {
        let json: serde_json::Value = serde_json::from_str(manifest).expect("JSON manifest");
        json["oauth_config"]["scopes"]["bot"]
            .as_array()
            .expect("scopes")
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    std::fs::write(&config, "").expect("config");
    let (ok, everything) = c1bot(&config, &["manifest"]);
    assert!(ok, "{everything}");
    assert!(scopes(&everything).contains(&"channels:manage".to_owned()));

    std::fs::write(&config, "[features]\ncampaign_channels = false\n").expect("config");
    let (ok, manifest) = c1bot(&config, &["manifest"]);
    assert!(ok, "{manifest}");
    let asked = scopes(&manifest);
    for channel_scope in [
        "channels:manage",
        "channels:join",
        "channels:read",
        "groups:read",
        "groups:write",
    ] {
        assert!(
            !asked.contains(&channel_scope.to_owned()),
            "{channel_scope} in {asked:?}"
        );
    }
    assert!(asked.contains(&"usergroups:read".to_owned()), "{asked:?}");

    std::fs::write(
        &config,
        "[features]\ndm_requests = false\naccess_reviews = false\nuser_groups = false\n",
    )
    .expect("config");
    let (ok, manifest) = c1bot(&config, &["manifest"]);
    assert!(ok, "{manifest}");
    assert_eq!(scopes(&manifest), ["chat:write", "commands", "users:read"]);
    assert!(!manifest.contains("message.im"), "{manifest}");
}
