//! Tests for [`Config::load`]: sources, precedence, modes and error messages.

use std::collections::HashMap;
use std::io::Write;

use super::*;

// Realistic shapes, not real credentials.
const FAKE_APP: &str =
    "xapp-1-A0FAKEFAKE1-1234567890123-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978";
const FAKE_BOT: &str = "xoxb-1234567890123-1234567890123-FakeFakeFakeFakeFake0000";

fn load_with(
    file: Option<&Path>,
    vars: &[(&str, &str)],
    mode: Mode,
) -> Result<Config, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load(file, &|name| vars.get(name).cloned(), mode)
}

fn error_of(file: Option<&Path>, vars: &[(&str, &str)], mode: Mode) -> String {
    match load_with(file, vars, mode) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(err) => err.to_string(),
    }
}

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    file.write_all(text.as_bytes()).expect("write temp file");
    file
}

const BOTH_TOKENS: [(&str, &str); 2] = [(SLACK_APP_TOKEN, FAKE_APP), (SLACK_BOT_TOKEN, FAKE_BOT)];

#[test]
fn defaults_apply_when_there_is_no_file_and_no_environment() {
    let config = load_with(None, &[], Mode::Offline).expect("defaults are valid");
    assert_eq!(config.data_dir, PathBuf::from("./c1bot-data"));
    assert_eq!(config.slack.api_url.as_str(), "https://slack.com/api/");
    assert_eq!(config.slack.connections, 2);
    assert_eq!(config.slack.command.as_str(), "/c1");
    assert!(config.slack.app_token.is_none() && config.slack.bot_token.is_none());
    assert_eq!(
        config.socket,
        SocketConfig {
            ping_interval: Duration::from_secs(10),
            reconnect_backoff_initial: Duration::from_millis(500),
            reconnect_backoff_max: Duration::from_secs(30),
            hello_timeout: Duration::from_secs(10),
        }
    );
    assert_eq!(config.log.format, LogFormat::Text);
    assert_eq!(config.source, None);
}

#[test]
fn every_file_key_is_read() {
    let file = toml_file(
        r#"
data_dir = "/var/lib/c1bot"
[slack]
api_url = "https://slack.example/api"
connections = 4
command = "/access"
[socket]
ping_interval_secs = 5
reconnect_backoff_initial_ms = 250
reconnect_backoff_max_secs = 60
hello_timeout_secs = 7
[log]
format = "json"
"#,
    );
    let config = load_with(Some(file.path()), &[], Mode::Offline).expect("valid file");
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/c1bot"));
    assert_eq!(config.slack.api_url.as_str(), "https://slack.example/api/");
    assert_eq!(config.slack.connections, 4);
    assert_eq!(config.slack.command.as_str(), "/access");
    assert_eq!(config.socket.ping_interval, Duration::from_secs(5));
    assert_eq!(
        config.socket.reconnect_backoff_initial,
        Duration::from_millis(250)
    );
    assert_eq!(config.socket.reconnect_backoff_max, Duration::from_secs(60));
    assert_eq!(config.socket.hello_timeout, Duration::from_secs(7));
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.source.as_deref(), Some(file.path()));
}

#[test]
fn the_environment_overrides_the_file() {
    let file = toml_file("data_dir = \"/from/file\"\n[slack]\napi_url = \"https://file.example/api/\"\n[log]\nformat = \"text\"\n");
    let env = [
        (C1BOT_DATA_DIR, "/from/env"),
        (SLACK_API_URL, "http://127.0.0.1:40123/api"),
        (C1BOT_LOG_FORMAT, "json"),
    ];
    let config = load_with(Some(file.path()), &env, Mode::Offline).expect("valid");
    assert_eq!(config.data_dir, PathBuf::from("/from/env"));
    assert_eq!(config.slack.api_url.as_str(), "http://127.0.0.1:40123/api/");
    assert_eq!(config.log.format, LogFormat::Json);
}

#[test]
fn an_empty_environment_variable_counts_as_unset() {
    let file = toml_file("data_dir = \"/from/file\"\n");
    let config = load_with(
        Some(file.path()),
        &[(C1BOT_DATA_DIR, ""), (SLACK_API_URL, " ")],
        Mode::Offline,
    )
    .expect("valid");
    assert_eq!(config.data_dir, PathBuf::from("/from/file"));
    assert_eq!(config.slack.api_url, ApiUrl::default());
}

#[test]
fn an_api_url_without_a_trailing_slash_is_normalised() {
    let config = load_with(
        None,
        &[(SLACK_API_URL, "https://slack.com/api")],
        Mode::Offline,
    )
    .expect("valid");
    assert_eq!(
        config.slack.api_url.method_url("auth.test"),
        "https://slack.com/api/auth.test"
    );
}

#[test]
fn a_non_http_api_url_names_the_variable() {
    let err = error_of(
        None,
        &[(SLACK_API_URL, "ws://slack.com/api/")],
        Mode::Offline,
    );
    assert!(
        err.starts_with("SLACK_API_URL has scheme 'ws': it must be an http or https URL"),
        "{err}"
    );
}

#[test]
fn an_invalid_log_format_names_its_source() {
    let err = error_of(None, &[(C1BOT_LOG_FORMAT, "yaml")], Mode::Offline);
    assert_eq!(err, "C1BOT_LOG_FORMAT must be 'text' or 'json'");
}

#[test]
fn connections_must_be_between_1_and_10() {
    for ok in [1, 10] {
        let file = toml_file(&format!("[slack]\nconnections = {ok}\n"));
        let config = load_with(Some(file.path()), &[], Mode::Offline).expect("in range");
        assert_eq!(config.slack.connections, ok);
    }
    for bad in [0, 11, -1] {
        let file = toml_file(&format!("[slack]\nconnections = {bad}\n"));
        let err = error_of(Some(file.path()), &[], Mode::Offline);
        let expected = format!(
            "{}:2: slack.connections must be between 1 and 10 (Socket Mode connections kept open), got {bad}",
            file.path().display()
        );
        assert_eq!(err, expected);
    }
}

#[test]
fn an_invalid_slash_command_names_file_line_and_key() {
    let file = toml_file("[slack]\ncommand = \"C1\"\n");
    let err = error_of(Some(file.path()), &[], Mode::Offline);
    assert_eq!(
        err,
        format!(
            "{}:2: slack.command must start with '/', e.g. /c1",
            file.path().display()
        )
    );
}

#[test]
fn socket_durations_must_be_positive_and_the_backoff_cap_above_its_start() {
    let file = toml_file("[socket]\nping_interval_secs = 0\n");
    assert!(error_of(Some(file.path()), &[], Mode::Offline)
        .ends_with("socket.ping_interval_secs must be a positive whole number, got 0"));
    let file = toml_file(
        "[socket]\nreconnect_backoff_initial_ms = 5000\nreconnect_backoff_max_secs = 2\n",
    );
    let err = error_of(Some(file.path()), &[], Mode::Offline);
    assert!(
        err.contains(":3: socket.reconnect_backoff_max_secs (2s) is below"),
        "{err}"
    );
}

#[test]
fn an_unknown_key_error_names_the_key_and_the_file() {
    let file = toml_file("[slack]\nconections = 2\n");
    let err = error_of(Some(file.path()), &[], Mode::Offline);
    assert_eq!(
        err,
        format!(
            "{}:2: unknown key 'slack.conections' (expected one of: api_url, connections, command)",
            file.path().display()
        )
    );
}

#[test]
fn a_missing_named_file_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nope.toml");
    let err = error_of(Some(&path), &[], Mode::Offline);
    assert!(
        err.starts_with(&format!(
            "config file {} (given with --config) does not exist",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn a_missing_default_file_is_fine() {
    // Tests run in the crate root, which has no c1bot.toml.
    assert!(!Path::new(DEFAULT_CONFIG_FILE).exists());
    assert!(load_with(None, &[], Mode::Offline).is_ok());
}

#[test]
fn run_mode_needs_both_tokens() {
    assert_eq!(
        error_of(None, &[(SLACK_BOT_TOKEN, FAKE_BOT)], Mode::Run),
        "SLACK_APP_TOKEN is not set: set it to the app-level token (starts with xapp-, from Basic Information → App-Level Tokens, scope connections:write)"
    );
    assert!(error_of(None, &[(SLACK_APP_TOKEN, FAKE_APP)], Mode::Run)
        .starts_with("SLACK_BOT_TOKEN is not set: "));
    let config = load_with(None, &BOTH_TOKENS, Mode::Run).expect("both tokens");
    assert_eq!(
        config.slack.app_token.as_ref().map(AppToken::expose),
        Some(FAKE_APP)
    );
    assert_eq!(
        config.slack.bot_token.as_ref().map(BotToken::expose),
        Some(FAKE_BOT)
    );
}

#[test]
fn run_mode_reports_an_empty_token_as_empty() {
    let err = error_of(
        None,
        &[(SLACK_APP_TOKEN, ""), (SLACK_BOT_TOKEN, FAKE_BOT)],
        Mode::Run,
    );
    assert!(
        err.starts_with("SLACK_APP_TOKEN is set but empty: "),
        "{err}"
    );
}

#[test]
fn swapped_tokens_are_named_in_the_error() {
    let err = error_of(
        None,
        &[(SLACK_APP_TOKEN, FAKE_BOT), (SLACK_BOT_TOKEN, FAKE_APP)],
        Mode::Run,
    );
    assert_eq!(
        err,
        "SLACK_APP_TOKEN holds a bot token (xoxb-…): it needs the app-level token, which starts with xapp-; the xoxb- token belongs in SLACK_BOT_TOKEN"
    );
}

#[test]
fn a_token_with_a_trailing_newline_is_accepted() {
    let app = format!("{FAKE_APP}\n");
    let config = load_with(
        None,
        &[(SLACK_APP_TOKEN, &app), (SLACK_BOT_TOKEN, FAKE_BOT)],
        Mode::Run,
    )
    .expect("trimmed");
    assert_eq!(
        config.slack.app_token.as_ref().map(AppToken::expose),
        Some(FAKE_APP)
    );
}

#[test]
fn debug_of_config_contains_no_token_text() {
    let config = load_with(None, &BOTH_TOKENS, Mode::Run).expect("valid");
    let debug = format!("{config:?} {config:#?}");
    for secret in [
        FAKE_APP,
        FAKE_BOT,
        &FAKE_APP[5..],
        &FAKE_BOT[5..],
        "FakeFake",
        "A0FAKEFAKE1",
    ] {
        assert!(!debug.contains(secret), "Debug leaks {secret}: {debug}");
    }
    assert!(
        debug.contains("xapp-…(redacted)") && debug.contains("xoxb-…(redacted)"),
        "{debug}"
    );
}

#[test]
fn demo_mode_with_no_tokens_uses_the_simulator() {
    let config = load_with(None, &[], Mode::Demo).expect("no tokens is fine");
    assert!(config.slack.app_token.is_none() && config.slack.bot_token.is_none());
    let blank = load_with(
        None,
        &[(SLACK_APP_TOKEN, ""), (SLACK_BOT_TOKEN, "")],
        Mode::Demo,
    )
    .expect("blank");
    assert!(blank.slack.app_token.is_none());
}

#[test]
fn demo_mode_with_one_token_is_an_error() {
    assert_eq!(
        error_of(None, &[(SLACK_APP_TOKEN, FAKE_APP)], Mode::Demo),
        "c1bot demo needs both Slack tokens or neither: SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is not; unset SLACK_APP_TOKEN to use the built-in simulator, or set SLACK_BOT_TOKEN to use a real workspace"
    );
    assert!(error_of(None, &[(SLACK_BOT_TOKEN, FAKE_BOT)], Mode::Demo)
        .contains("SLACK_BOT_TOKEN is set but SLACK_APP_TOKEN is not"));
}

#[test]
fn demo_mode_with_both_tokens_validates_them() {
    assert!(load_with(None, &BOTH_TOKENS, Mode::Demo).is_ok_and(|c| c.slack.app_token.is_some()));
    let err = error_of(
        None,
        &[(SLACK_APP_TOKEN, "xapp-short"), (SLACK_BOT_TOKEN, FAKE_BOT)],
        Mode::Demo,
    );
    assert!(
        err.starts_with("SLACK_APP_TOKEN is too short (10 characters)"),
        "{err}"
    );
}

#[test]
fn offline_mode_ignores_tokens_entirely() {
    let config = load_with(
        None,
        &[(SLACK_APP_TOKEN, "garbage"), (SLACK_BOT_TOKEN, FAKE_APP)],
        Mode::Offline,
    )
    .expect("tokens not read");
    assert!(config.slack.app_token.is_none() && config.slack.bot_token.is_none());
}

#[test]
fn a_token_in_the_file_is_refused_without_echoing_it() {
    let file = toml_file(&format!("[slack]\nbot_token = \"{FAKE_BOT}\"\n"));
    let err = error_of(Some(file.path()), &BOTH_TOKENS, Mode::Run);
    assert!(err.ends_with("'slack.bot_token' is not accepted in the config file: tokens are secrets and are read only from the environment; remove it and set SLACK_BOT_TOKEN"), "{err}");
    assert!(!err.contains(FAKE_BOT));
}

#[test]
fn every_error_is_one_line() {
    let file = toml_file("[slack]\nconnections = \"two\"\n");
    let errors = [
        error_of(Some(file.path()), &[], Mode::Offline),
        error_of(None, &[], Mode::Run),
        error_of(None, &[(SLACK_API_URL, "not a url")], Mode::Offline),
    ];
    for err in errors {
        assert!(!err.contains('\n'), "{err}");
    }
}

const INLINE_CATALOG: &str = r#"
[[catalog.spaces]]
id = "root"
name = "Root"
[[catalog.resources]]
id = "db"
name = "Orders database"
space = "root"
[[catalog.resources.entitlements]]
id = "ro"
name = "ReadOnly"
max_duration = "4h"
[[catalog.resources.entitlements.steps]]
approvers = { users = ["U0BOB00001"] }
[catalog.resources.entitlements.provisioner]
kind = "manual"
assignees = { users = ["U0CAROL001"] }
"#;

#[test]
fn no_catalog_in_the_config_is_an_empty_catalog() {
    let config = load_with(None, &[], Mode::Offline).expect("defaults");
    assert!(config.catalog.is_empty());
}

#[test]
fn an_inline_catalog_is_read_and_validated() {
    let file = toml_file(INLINE_CATALOG);
    let config = load_with(Some(file.path()), &[], Mode::Offline).expect("valid");
    assert!(config.catalog.entitlement("db", "ro").is_some());
}

#[test]
fn a_catalog_file_is_read_relative_to_the_config_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog.example.toml");
    std::fs::copy(&example, dir.path().join("catalog.toml")).expect("copy example");
    let config_path = dir.path().join("c1bot.toml");
    std::fs::write(&config_path, "catalog_file = \"catalog.toml\"\n").expect("write config");
    let config = load_with(Some(&config_path), &[], Mode::Offline).expect("valid");
    assert!(config.catalog.resource("aws-prod").is_some());

    std::fs::write(&config_path, "catalog_file = \"missing.toml\"\n").expect("write config");
    let err = error_of(Some(&config_path), &[], Mode::Offline);
    assert!(err.starts_with("cannot read catalog file "), "{err}");
    assert!(err.contains("missing.toml"), "{err}");
}

#[test]
fn an_inline_catalog_and_a_catalog_file_together_are_refused() {
    let file = toml_file(&format!("catalog_file = \"c.toml\"\n{INLINE_CATALOG}"));
    let err = error_of(Some(file.path()), &[], Mode::Offline);
    assert!(
        err.ends_with(":1: catalog_file cannot be used together with an inline [catalog] table: keep one of them"),
        "{err}"
    );
}

#[test]
fn an_unknown_key_inside_the_inline_catalog_names_key_and_line() {
    let file =
        toml_file(&INLINE_CATALOG.replace("kind = \"manual\"", "kind = \"manual\"\nassignee = []"));
    let err = error_of(Some(file.path()), &[], Mode::Offline);
    assert!(
        err.ends_with(":17: unknown key 'catalog.resources.entitlements.provisioner.assignee' (expected one of: kind, assignees, url, secret_env, program, args, timeout, retries, retry_backoff)"),
        "{err}"
    );
}

#[test]
fn catalog_problems_name_the_config_file_and_line() {
    let file = toml_file(&INLINE_CATALOG.replace("space = \"root\"", "space = \"prod\""));
    let err = error_of(Some(file.path()), &[], Mode::Offline);
    let name = file.path().display().to_string();
    assert_eq!(
        err,
        format!("invalid catalog: {name}:8: resource 'db': space: no space has id 'prod'")
    );
}

#[test]
fn the_activity_channel_must_be_a_channel_id() {
    let file = toml_file("[activity]\nchannel = \"#access-log\"\n");
    let err = error_of(Some(file.path()), &[], Mode::Offline);
    assert!(
        err.contains("activity.channel") && err.contains("is not a Slack channel id"),
        "{err}"
    );
    let file = toml_file("[activity]\nchannel = \"C0ACCESSLG\"\ninclude_reason = true\n");
    let config = Config::load(Some(file.path()), &|_| None, Mode::Offline).expect("valid");
    assert_eq!(config.activity.channel.as_deref(), Some("C0ACCESSLG"));
    assert!(config.activity.include_reason);
}

#[test]
fn injected_faults_are_read_by_name_and_unknown_ones_refused() {
    use crate::config::Faults;
    assert_eq!(Faults::parse("").expect("none"), Faults::default());
    let faults = Faults::parse("timer-loop-panic=2, hold-after-ack=30, prepare-ahead-fail")
        .expect("all three");
    assert_eq!(faults.timer_loop_panics, 2);
    assert_eq!(faults.hold_after_ack_secs, 30);
    assert_eq!(faults.prepare_ahead_failures, 1);
    assert!(Faults::parse("disk-full").is_err());
    assert!(Faults::parse("hold-after-ack=soon").is_err());
}

#[test]
fn features_are_all_on_by_default_and_each_can_be_turned_off() {
    use crate::features::FeatureId;
    let config = load_with(None, &[], Mode::Offline).expect("defaults");
    assert!(config.features.contains(FeatureId::CampaignChannels));
    assert!(!config.features.contains(FeatureId::ActivityChannel));
    let file = toml_file("[features]\ncampaign_channels = false\ndm_requests = false\n");
    let config = load_with(Some(file.path()), &[], Mode::Offline).expect("valid");
    assert!(!config.features.contains(FeatureId::CampaignChannels));
    assert!(!config.features.contains(FeatureId::DmRequests));
    assert!(config.features.contains(FeatureId::AccessReviews));
}

#[test]
fn user_groups_cannot_be_turned_off_while_the_catalog_names_a_group() {
    let dir = tempfile::tempdir().expect("temp dir");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog.example.toml");
    std::fs::copy(&example, dir.path().join("catalog.toml")).expect("copy example");
    let config_path = dir.path().join("c1bot.toml");
    std::fs::write(
        &config_path,
        "catalog_file = \"catalog.toml\"\n\n[features]\nuser_groups = false\n",
    )
    .expect("write config");
    let err = error_of(Some(&config_path), &[], Mode::Offline);
    assert!(
        err.ends_with(":4: features.user_groups cannot be false while the catalog names user group S0SECOPS01: keep user groups on, or name people instead"),
        "{err}"
    );
}

#[test]
fn the_break_glass_channel_and_reminder_are_checked() {
    let file = toml_file("[break_glass]\nchannel = \"#security\"\n");
    let err = error_of(Some(file.path()), &[], Mode::Offline);
    assert!(
        err.contains("break_glass.channel") && err.contains("is not a Slack channel id"),
        "{err}"
    );
    let file = toml_file("[break_glass]\nreview_remind_every = \"5m\"\n");
    let err = error_of(Some(file.path()), &[], Mode::Offline);
    assert!(
        err.contains("break_glass.review_remind_every") && err.contains("at least 15m"),
        "{err}"
    );
    let file = toml_file("[break_glass]\nchannel = \"C0SECURITY\"\nreview_remind_every = \"2h\"\n");
    let config = Config::load(Some(file.path()), &|_| None, Mode::Offline).expect("valid");
    assert_eq!(config.break_glass.channel.as_deref(), Some("C0SECURITY"));
    assert_eq!(
        config.break_glass.review_remind_every,
        std::time::Duration::from_secs(7200)
    );
    let defaults = Config::load(None, &|_| None, Mode::Offline).expect("valid");
    assert_eq!(
        defaults.break_glass,
        crate::config::BreakGlassConfig::default()
    );
}
