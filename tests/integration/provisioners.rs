//! Automatic provisioners through the simulator: a webhook served by the test (it
//! verifies c1bot's signature) and commands written as shell scripts. When one still
//! fails after its retries, the entitlement's assignees get a manual task.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use c1bot::provisioner::{verify_signature, SIGNATURE_HEADER, TIMESTAMP_HEADER};

use crate::grants::{advance, app_with, approved_request, audit_entries, catalog_edited};
use crate::helpers::TestApp;
use crate::requests::dm_containing;

const SECRET: &str = "test-hmac-key";
const MANUAL: &str =
    "kind = \"manual\"                          # a task to the assignees, who grant by hand";

/// A webhook receiver: answers `script[i]` to the i-th call (the last repeats) after
/// `delay`, and records each verified body.
#[derive(Clone, Default)]
struct Hook {
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    unsigned: Arc<Mutex<usize>>,
    calls: Arc<Mutex<usize>>,
    script: Arc<Vec<u16>>,
    delay: Duration,
}

impl Hook {
    fn operations(&self) -> Vec<String> {
        self.bodies
            .lock()
            .expect("lock")
            .iter()
            .map(|b| b["operation"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

async fn receive(
    State(hook): State<Hook>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let n = {
        let mut calls = hook.calls.lock().expect("lock");
        *calls += 1;
        *calls - 1
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    if !verify_signature(
        SECRET.as_bytes(),
        &header(TIMESTAMP_HEADER),
        &body,
        &header(SIGNATURE_HEADER),
    ) {
        *hook.unsigned.lock().expect("lock") += 1;
        return StatusCode::UNAUTHORIZED;
    }
    tokio::time::sleep(hook.delay).await;
    let code = hook
        .script
        .get(n)
        .or(hook.script.last())
        .copied()
        .unwrap_or(200);
    if code < 300 {
        if let Ok(json) = serde_json::from_slice(&body) {
            hook.bodies.lock().expect("lock").push(json);
        }
    }
    StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
}

async fn hook_server(script: &[u16], delay: Duration) -> (String, Hook) {
    let hook = Hook {
        script: Arc::new(script.to_vec()),
        delay,
        ..Hook::default()
    };
    let app = axum::Router::new()
        .route("/iam", post(receive))
        .with_state(hook.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/iam"), hook)
}

/// AWS production ReadOnly provisioned by `settings` (carol stays the fallback).
async fn app_provisioned_by(settings: String) -> TestApp {
    app_with(move |c| {
        c.catalog = catalog_edited(MANUAL, &settings);
        c.provisioner_secrets.insert("AWS_HOOK_SECRET", SECRET);
    })
    .await
}

fn webhook(url: &str, timeout: &str, retries: u32) -> String {
    format!(
        "kind = \"webhook\"\nurl = \"{url}\"\nsecret_env = \"AWS_HOOK_SECRET\"\ntimeout = \"{timeout}\"\nretries = {retries}\nretry_backoff = \"50ms\""
    )
}

#[tokio::test]
async fn a_webhook_grants_and_at_expiry_revokes_with_signed_documents() {
    let (url, hook) = hook_server(&[200], Duration::ZERO).await;
    let app = app_provisioned_by(webhook(&url, "2s", 2)).await;
    approved_request(&app).await;
    let alice = app.sim.person("alice");
    let active = dm_containing(&alice, "Your access is active").await;
    assert!(active.visible_text().contains("the automatic provisioner"));
    assert_eq!(hook.operations(), ["grant"]);
    let grant = hook.bodies.lock().expect("lock")[0].clone();
    assert_eq!(grant["user"]["id"], "U0ALICE001");
    assert_eq!(grant["idempotency_key"], "REQ-1001/grant");
    assert!(grant["expires_at"].is_string());

    advance(&app, Duration::from_secs(4 * 3600 + 1));
    dm_containing(&alice, "Access removed").await;
    assert_eq!(hook.operations(), ["grant", "revoke"]);
    assert_eq!(*hook.unsigned.lock().expect("lock"), 0);
    assert!(
        app.sim.person("carol").dms().is_empty(),
        "no manual task was needed"
    );
    let calls: Vec<_> = audit_entries(&app)
        .await
        .into_iter()
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("provisioner."))
        })
        .collect();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls
        .iter()
        .all(|c| c["detail"]["ok"] == true && c["detail"]["elapsed_ms"].is_u64()));
    app.stop().await;
}

#[tokio::test]
async fn a_webhook_500_is_retried_and_then_succeeds() {
    let (url, hook) = hook_server(&[500, 200], Duration::ZERO).await;
    let app = app_provisioned_by(webhook(&url, "2s", 3)).await;
    approved_request(&app).await;
    dm_containing(&app.sim.person("alice"), "Your access is active").await;
    assert_eq!(*hook.calls.lock().expect("lock"), 2);
    let call = audit_entries(&app)
        .await
        .into_iter()
        .find(|e| e["action"] == "provisioner.grant")
        .expect("audited");
    assert_eq!(call["detail"]["attempts"], 2);
    app.stop().await;
}

#[tokio::test]
async fn a_webhook_that_times_out_hands_a_manual_task_to_the_fallback_assignees() {
    let (url, _hook) = hook_server(&[200], Duration::from_secs(10)).await;
    let app = app_provisioned_by(webhook(&url, "200ms", 1)).await;
    approved_request(&app).await;
    let carol = app.sim.person("carol");
    let task = dm_containing(
        &carol,
        "Could not be done automatically: timed out after 200 ms",
    )
    .await;
    assert_eq!(task.buttons(), ["Mark complete", "Can't complete"]);
    carol
        .click("Mark complete")
        .await
        .expect("carol grants by hand");
    dm_containing(&app.sim.person("alice"), "Your access is active").await;
    let call = audit_entries(&app)
        .await
        .into_iter()
        .find(|e| e["action"] == "provisioner.grant")
        .expect("audited");
    assert_eq!(call["detail"]["ok"], false);
    app.stop().await;
}

fn script(dir: &std::path::Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

fn command(program: &str, timeout: &str) -> String {
    format!("kind = \"command\"\nprogram = \"{program}\"\ntimeout = \"{timeout}\"\nretries = 0")
}

#[tokio::test]
async fn a_command_provisioner_grants_from_stdin() {
    let dir = tempfile::tempdir().expect("dir");
    let seen = dir.path().join("seen.json");
    let program = script(dir.path(), "grant.sh", &format!("cat >> {seen:?}"));
    let app = app_provisioned_by(command(&program, "5s")).await;
    approved_request(&app).await;
    dm_containing(&app.sim.person("alice"), "Your access is active").await;
    let document: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&seen).expect("stdin").trim()).expect("json");
    assert_eq!(document["operation"], "grant");
    assert_eq!(document["request_id"], "REQ-1001");
    app.stop().await;
}

#[tokio::test]
async fn a_failing_command_keeps_its_stderr_and_the_fallback_gets_the_task() {
    let dir = tempfile::tempdir().expect("dir");
    let program = script(
        dir.path(),
        "grant.sh",
        "echo 'role arn:aws:iam::1:role/ro not found' >&2; exit 2",
    );
    let app = app_provisioned_by(command(&program, "5s")).await;
    approved_request(&app).await;
    dm_containing(
        &app.sim.person("carol"),
        "exit status 2: role arn:aws:iam::1:role/ro not found",
    )
    .await;
    let call = audit_entries(&app)
        .await
        .into_iter()
        .find(|e| e["action"] == "provisioner.grant")
        .expect("audited");
    assert!(call["detail"]["detail"]
        .as_str()
        .is_some_and(|d| d.contains("not found")));
    app.stop().await;
}

#[tokio::test]
async fn a_command_that_hangs_is_stopped_at_its_timeout() {
    let dir = tempfile::tempdir().expect("dir");
    let program = script(dir.path(), "grant.sh", "sleep 30");
    let app = app_provisioned_by(command(&program, "300ms")).await;
    approved_request(&app).await;
    dm_containing(&app.sim.person("carol"), "timed out after 300 ms").await;
    app.stop().await;
}

#[tokio::test]
async fn the_provisioner_document_carries_the_request_forms_fields() {
    let (url, hook) = hook_server(&[200], Duration::ZERO).await;
    let text = std::fs::read_to_string("catalog.example.toml")
        .expect("example catalog")
        .replacen(MANUAL, &webhook(&url, "2s", 0), 1)
        .replacen(
            "permanent_allowed = false\n",
            "permanent_allowed = false\n\n[[resources.entitlements.fields]]\nid = \"ticket\"\nlabel = \"Ticket\"\nkind = \"text\"\n",
            1,
        );
    let catalog = c1bot::catalog::Catalog::from_toml(c1bot::catalog::Source {
        name: "catalog.toml",
        text: &text,
    })
    .expect("edited catalog is valid");
    let app = app_with(move |c| {
        c.catalog = catalog;
        c.provisioner_secrets.insert("AWS_HOOK_SECRET", SECRET);
    })
    .await;
    let alice = app.sim.person("alice");
    crate::requests::fill_request(&alice, "AWS production", "ReadOnly", "4 h", "incident 4711")
        .await;
    crate::helpers::eventually(
        crate::requests::WAIT,
        "the ticket field appears",
        || async {
            alice
                .modal()
                .is_some_and(|m| m.to_string().contains("field_ticket"))
        },
    )
    .await;
    alice.fill("Ticket", "INC-4711").await.expect("typed");
    alice.submit().await.expect("submitted");
    let bob = app.sim.person("bob");
    dm_containing(&bob, "incident 4711").await;
    bob.click("Approve").await.expect("bob approves");
    dm_containing(&alice, "Your access is active").await;
    let grant = hook.bodies.lock().expect("lock")[0].clone();
    assert_eq!(grant["fields"], serde_json::json!({"ticket": "INC-4711"}));
    app.stop().await;
}
