//! Operating c1bot: one instance per data directory, metrics.

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_second_instance_on_the_same_data_directory_is_refused() {
    let app = spawn_app().await;

    let error = c1bot::app::start(&app.config)
        .await
        .err()
        .expect("the second instance must not start");

    let message = format!("{error:#}");
    assert!(message.contains("only one instance"), "{message}");
    assert_eq!(
        app.sim.open_connections(),
        2,
        "the first instance keeps serving"
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_envelopes_and_web_api_calls() {
    let app = spawn_app().await;
    let outcome = app
        .sim
        .person("alice")
        .slash("/c1", "help", "general")
        .await;
    assert!(outcome.acked);

    let text = app.bot.as_ref().expect("running").metrics.render().await;

    assert!(
        text.contains("c1bot_envelopes_total{kind=\"slash_commands\",payload_type=\"\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("c1bot_web_api_calls_total{method=\"auth.test\",result=\"ok\"} 1"),
        "{text}"
    );
    assert!(text.contains("c1bot_ack_latency_seconds_count 1"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn health_endpoints_and_metrics_are_served_over_http() {
    let mut app = crate::helpers::spawn_stopped(crate::helpers::fast_sim_options()).await;
    app.config.health.listen = Some("127.0.0.1:0".parse().expect("address"));
    let app = crate::helpers::start(app).await;
    let addr = app
        .bot
        .as_ref()
        .and_then(|b| b.health_addr)
        .expect("listener bound");
    assert!(
        app.sim
            .person("alice")
            .slash("/c1", "help", "general")
            .await
            .acked
    );

    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("http://{addr}{path}")).send();
    assert_eq!(get("/healthz").await.expect("healthz").status(), 200);
    let ready = get("/readyz").await.expect("readyz");
    assert_eq!(ready.status(), 200, "{:?}", ready.text().await);
    let metrics = get("/metrics").await.expect("metrics");
    assert!(metrics.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/plain; version=0.0.4"));
    let text = metrics.text().await.expect("body");

    // Every sample line parses as `name{labels} value`.
    let mut names = std::collections::BTreeSet::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        assert!(value.parse::<f64>().is_ok(), "bad value in {line:?}");
        names.insert(series.split('{').next().unwrap_or_default().to_owned());
    }
    for expected in [
        "c1bot_envelopes_total",
        "c1bot_ack_latency_seconds_bucket",
        "c1bot_web_api_calls_total",
        "c1bot_requests",
        "c1bot_grants",
        "c1bot_open_tasks",
        "c1bot_overdue_revocations",
        "c1bot_outbox_depth",
    ] {
        assert!(
            names.contains(expected),
            "{expected} missing from {names:?}"
        );
    }

    let probe = tokio::process::Command::new(env!("CARGO_BIN_EXE_c1bot"))
        .arg("healthcheck")
        .env("C1BOT_HEALTH_LISTEN", addr.to_string())
        .env_remove("SLACK_APP_TOKEN")
        .env_remove("SLACK_BOT_TOKEN")
        .status()
        .await
        .expect("runs");
    assert!(
        probe.success(),
        "c1bot healthcheck must pass against a ready bot"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_reload_swaps_policies_and_a_broken_file_keeps_the_old_set() {
    let policies = tempfile::tempdir().expect("temp dir");
    std::fs::copy("policies/access.rego", policies.path().join("access.rego")).expect("copy");
    let mut app = crate::helpers::spawn_stopped(crate::helpers::fast_sim_options()).await;
    app.config.policies_dir = policies.path().to_path_buf();
    let app = crate::helpers::start(app).await;
    let reloader = app.bot.as_ref().expect("running").reloader.clone();
    let offered = |app: &crate::helpers::TestApp| {
        let alice = app.sim.person("alice");
        async move {
            assert!(alice.slash("/c1", "request", "general").await.acked);
            alice
                .wait_for_modal(std::time::Duration::from_secs(10))
                .await
                .expect("modal");
            let offered = alice.fill("Resource", "AWS production").await.is_ok();
            alice.close_modal().await;
            offered
        }
    };
    assert!(offered(&app).await, "the shipped policy lets alice request");

    std::fs::write(
        policies.path().join("broken.rego"),
        "package c1.broken\nallow if {\n",
    )
    .expect("write");
    let error = reloader.reload().expect_err("a broken policy is refused");
    assert!(error.contains("broken.rego"), "{error}");
    assert!(offered(&app).await, "the old policies stay in force");

    std::fs::remove_file(policies.path().join("broken.rego")).expect("remove");
    std::fs::write(
        policies.path().join("access.rego"),
        "package c1.access\n\ndefault allow := false\n",
    )
    .expect("deny all");
    reloader.reload().expect("a valid set loads");
    assert!(!offered(&app).await, "the new deny-all policy is in force");
    app.stop().await;
}

#[tokio::test]
async fn a_backup_taken_under_load_restores_to_a_working_instance() {
    let mut app = crate::helpers::spawn_app().await;
    crate::requests::request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "1 h",
        "before the backup",
    )
    .await;
    let copies = tempfile::tempdir().expect("temp dir");
    let copy = copies.path().join("backup");

    // Requests keep coming while the backup is taken by the CLI, as an operator would.
    let load = async {
        for i in 0..3 {
            crate::requests::request(
                &app,
                "mallory",
                "AWS production",
                "ReadOnly",
                "1 h",
                &format!("during {i}"),
            )
            .await;
        }
    };
    let backup = tokio::process::Command::new(env!("CARGO_BIN_EXE_c1bot"))
        .args(["backup"])
        .arg(&copy)
        .env("C1BOT_DATA_DIR", &app.config.data_dir)
        .env_remove("SLACK_APP_TOKEN")
        .env_remove("SLACK_BOT_TOKEN")
        .output();
    let ((), output) = tokio::join!(load, backup);
    let output = output.expect("c1bot backup runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Restore: a new instance on the copy.
    crate::helpers::stop_bot(&mut app).await;
    app.config.data_dir = copy.clone();
    let app = crate::helpers::start(app).await;
    let status = app
        .sim
        .person("alice")
        .slash("/c1", "status", "general")
        .await;
    let text = status.response.map(|r| r.to_string()).unwrap_or_default();
    assert!(
        text.contains("REQ-1001"),
        "the restored instance knows the request: {text}"
    );
    let store = &app.bot.as_ref().expect("running").store;
    assert!(
        store.verify_audit().await.expect("readable").is_ok(),
        "the copy's audit chain verifies"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_audit_log_is_exported_and_verified_while_c1bot_runs() {
    let app = crate::helpers::spawn_app().await;
    crate::requests::request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "1 h",
        "audited",
    )
    .await;
    crate::requests::dm_containing(&app.sim.person("bob"), "audited").await;
    let cli = |args: &[&str]| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_c1bot"))
            .args(args)
            .env("C1BOT_DATA_DIR", &app.config.data_dir)
            .env_remove("SLACK_APP_TOKEN")
            .env_remove("SLACK_BOT_TOKEN")
            .output()
    };
    let export = cli(&["audit", "export"]).await.expect("runs");
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let lines = String::from_utf8_lossy(&export.stdout).into_owned();
    assert!(
        lines.lines().any(|l| l.contains("request.submitted")),
        "{lines}"
    );
    let verify = cli(&["audit", "verify"]).await.expect("runs");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    assert!(String::from_utf8_lossy(&verify.stdout).contains("hash chain verified"));
    app.stop().await;
}
