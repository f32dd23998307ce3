//! The provisioners against real receivers: a local HTTP server that verifies the
//! signature, and shell scripts in a temporary directory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::Utc;

use super::*;
use crate::catalog::{CommandSpec, WebhookSpec};

const SECRET: &str = "s3cret-key";

fn document() -> Document {
    Document {
        operation: Operation::Revoke,
        request_id: "REQ-1042".into(),
        idempotency_key: "REQ-1042/revoke".into(),
        user: DocUser {
            id: "U0ALICE001".into(),
            email: Some("alice@example.com".into()),
        },
        resource: DocItem {
            id: "aws-prod".into(),
            name: "AWS production".into(),
        },
        entitlement: DocItem {
            id: "readonly".into(),
            name: "ReadOnly".into(),
        },
        expires_at: Some(Utc::now()),
        reason: Some("expired".into()),
        requested_by: "U0ALICE001".into(),
        approved_by: vec!["U0BOB00001".into()],
        fields: [("ticket".to_owned(), "INC-42".to_owned())].into(),
        sent_at: Utc::now(),
    }
}

/// What the test server saw, and how it answers: `script[i]` for the i-th call
/// (the last entry repeats), `delay` before answering.
#[derive(Clone, Default)]
struct Receiver {
    calls: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    bad_signatures: Arc<AtomicUsize>,
    script: Arc<Vec<u16>>,
    delay: Duration,
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let n = r.calls.fetch_add(1, Ordering::SeqCst);
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
        r.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    if let Ok(json) = serde_json::from_slice(&body) {
        r.bodies.lock().expect("lock").push(json);
    }
    tokio::time::sleep(r.delay).await;
    let code = r.script.get(n).or(r.script.last()).copied().unwrap_or(200);
    StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
}

async fn server(script: &[u16], delay: Duration) -> (String, Receiver) {
    let receiver = Receiver {
        script: Arc::new(script.to_vec()),
        delay,
        ..Receiver::default()
    };
    let app = axum::Router::new()
        .route("/grant", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/grant"), receiver)
}

fn webhook(url: &str, timeout_ms: u64, retries: u32) -> Automatic {
    Automatic::Webhook(WebhookSpec {
        url: url.into(),
        secret_env: "HOOK_SECRET".into(),
        timeout: Duration::from_millis(timeout_ms),
        retries,
        retry_backoff: Duration::from_millis(20),
    })
}

fn runner_for(spec: &Automatic) -> Runner {
    let mut secrets = HashMap::new();
    if let Automatic::Webhook(w) = spec {
        secrets.insert(w.secret_env.clone(), SECRET.as_bytes().to_vec());
    }
    Runner {
        http: reqwest::Client::new(),
        secrets: Arc::new(secrets),
    }
}

#[tokio::test]
async fn a_webhook_gets_the_signed_document_and_2xx_means_done() {
    let (url, receiver) = server(&[200], Duration::ZERO).await;
    let spec = webhook(&url, 2000, 3);
    let outcome = runner_for(&spec).run(&spec, &document()).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!((outcome.attempts, outcome.detail.as_str()), (1, "HTTP 200"));
    assert_eq!(receiver.bad_signatures.load(Ordering::SeqCst), 0);
    let bodies = receiver.bodies.lock().expect("lock").clone();
    assert_eq!(bodies[0]["operation"], "revoke");
    assert_eq!(bodies[0]["idempotency_key"], "REQ-1042/revoke");
    assert_eq!(bodies[0]["user"]["email"], "alice@example.com");
    assert_eq!(bodies[0]["entitlement"]["name"], "ReadOnly");
}

#[tokio::test]
async fn a_500_is_retried_and_the_next_success_counts() {
    let (url, receiver) = server(&[500, 200], Duration::ZERO).await;
    let spec = webhook(&url, 2000, 3);
    let outcome = runner_for(&spec).run(&spec, &document()).await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.attempts, 2);
    assert_eq!(receiver.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_webhook_that_keeps_failing_stops_after_its_retries() {
    let (url, receiver) = server(&[500], Duration::ZERO).await;
    let spec = webhook(&url, 2000, 2);
    let outcome = runner_for(&spec).run(&spec, &document()).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.attempts, 3);
    assert_eq!(receiver.calls.load(Ordering::SeqCst), 3);
    assert_eq!(outcome.detail, "HTTP 500 (after 3 attempts)");
}

#[tokio::test]
async fn a_slow_webhook_times_out() {
    let (url, _receiver) = server(&[200], Duration::from_secs(5)).await;
    let spec = webhook(&url, 150, 1);
    let started = std::time::Instant::now();
    let outcome = runner_for(&spec).run(&spec, &document()).await;
    assert!(!outcome.ok);
    assert!(
        outcome.detail.starts_with("timed out after 150 ms"),
        "{}",
        outcome.detail
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_receiver() {
    let (url, receiver) = server(&[200], Duration::ZERO).await;
    let spec = webhook(&url, 2000, 0);
    let mut runner = runner_for(&spec);
    runner.secrets = Arc::new(HashMap::from([(
        "HOOK_SECRET".to_owned(),
        b"other".to_vec(),
    )]));
    let outcome = runner.run(&spec, &document()).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.detail, "HTTP 401");
    assert_eq!(receiver.bad_signatures.load(Ordering::SeqCst), 1);
}

#[test]
fn a_signature_verifies_only_for_its_own_body_timestamp_and_secret() {
    let signature = sign(b"key", "1700000000", b"{\"a\":1}");
    assert!(signature.starts_with("v0=") && signature.len() == 67);
    assert!(verify_signature(
        b"key",
        "1700000000",
        b"{\"a\":1}",
        &signature
    ));
    assert!(!verify_signature(
        b"key",
        "1700000001",
        b"{\"a\":1}",
        &signature
    ));
    assert!(!verify_signature(
        b"key",
        "1700000000",
        b"{\"a\":2}",
        &signature
    ));
    assert!(!verify_signature(
        b"kez",
        "1700000000",
        b"{\"a\":1}",
        &signature
    ));
    assert!(!verify_signature(
        b"key",
        "1700000000",
        b"{\"a\":1}",
        "v0=zz"
    ));
}

fn script(dir: &std::path::Path, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("provision.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("script written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("executable");
    path.display().to_string()
}

/// Runs `script` through /bin/sh: executing a file another thread has just written
/// can fail with ETXTBSY when a test elsewhere forks at that moment.
fn command(script: String, timeout_ms: u64, retries: u32) -> Automatic {
    Automatic::Command(CommandSpec {
        program: "/bin/sh".into(),
        args: vec![script, "--from-c1bot".into()],
        timeout: Duration::from_millis(timeout_ms),
        retries,
        retry_backoff: Duration::from_millis(20),
    })
}

#[tokio::test]
async fn a_command_reads_the_document_on_stdin_and_exit_0_means_done() {
    let dir = tempfile::tempdir().expect("dir");
    let out = dir.path().join("seen.json");
    let program = script(
        dir.path(),
        &format!("cat > {:?}; echo \"$C1BOT_OPERATION $C1BOT_REQUEST_ID $1 ${{SLACK_BOT_TOKEN:-none}}\" >> {:?}", out, dir.path().join("env")),
    );
    let spec = command(program, 5000, 0);
    let outcome = runner_for(&spec).run(&spec, &document()).await;
    assert!(outcome.ok, "{outcome:?}");
    let seen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("stdin saved")).expect("json");
    assert_eq!(seen["request_id"], "REQ-1042");
    let env = std::fs::read_to_string(dir.path().join("env")).expect("env saved");
    assert_eq!(env.trim(), "revoke REQ-1042 --from-c1bot none");
}

#[tokio::test]
async fn a_failing_command_keeps_its_stderr_and_is_retried() {
    let dir = tempfile::tempdir().expect("dir");
    let program = script(
        dir.path(),
        "cat >/dev/null; echo 'no such role' >&2; exit 3",
    );
    let spec = command(program, 5000, 1);
    let outcome = runner_for(&spec).run(&spec, &document()).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.attempts, 2);
    assert_eq!(
        outcome.detail,
        "exit status 3: no such role (after 2 attempts)"
    );
}

#[tokio::test]
async fn a_hanging_command_is_killed_at_its_timeout() {
    let dir = tempfile::tempdir().expect("dir");
    let program = script(dir.path(), "sleep 5");
    let spec = command(program, 200, 0);
    let started = std::time::Instant::now();
    let outcome = runner_for(&spec).run(&spec, &document()).await;
    assert!(!outcome.ok);
    assert_eq!(outcome.detail, "timed out after 200 ms");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_missing_program_is_a_clear_failure() {
    let spec = Automatic::Command(CommandSpec {
        program: "/nonexistent/grant-tool".into(),
        args: Vec::new(),
        timeout: Duration::from_millis(1000),
        retries: 0,
        retry_backoff: Duration::from_millis(20),
    });
    let outcome = runner_for(&spec).run(&spec, &document()).await;
    assert!(!outcome.ok);
    assert!(
        outcome
            .detail
            .starts_with("could not start /nonexistent/grant-tool"),
        "{}",
        outcome.detail
    );
}

#[test]
fn a_webhook_without_its_secret_in_the_environment_stops_start_up() {
    let text = std::fs::read_to_string("catalog.example.toml").expect("example");
    let text = text.replacen(
        "kind = \"manual\"                          # a task to the assignees, who grant by hand",
        "kind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\nsecret_env = \"AWS_HOOK_SECRET\"",
        1,
    );
    let catalog = Catalog::from_toml(crate::catalog::Source {
        name: "catalog.toml",
        text: &text,
    })
    .expect("valid");
    let error = Runner::new(&catalog, |_| None).err().expect("refused");
    let message = format!("{error:#}");
    assert!(
        message.contains("AWS_HOOK_SECRET") && message.contains("readonly"),
        "{message}"
    );
    assert!(Runner::new(&catalog, |_| Some("k".into())).is_ok());
}
