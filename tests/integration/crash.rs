//! `kill -9` at the worst moments, then a restart on the same data directory: a real
//! `c1bot run` process against the simulator. Nothing is lost and nothing is done
//! twice; an expiry that passed while c1bot was down is processed at start-up.

use std::path::Path;
use std::time::Duration;

use c1bot::simulator::{Person, Simulator};

use crate::child::{setup, setup_with_catalog};
use crate::helpers::eventually;
use crate::requests::{dm_containing, fill_request, WAIT};

/// Messages from c1bot in `person`'s DM that contain `text` (not the person's own).
pub fn count(person: &Person, text: &str) -> usize {
    person
        .dms()
        .iter()
        .filter(|m| m.user != person.id() && m.visible_text().contains(text))
        .count()
}

/// alice asks; bob has the card to approve.
pub async fn ask(sim: &Simulator) {
    let alice = sim.person("alice");
    fill_request(&alice, "AWS production", "ReadOnly", "4 h", "incident 4711").await;
    alice.submit().await.expect("submitted");
    dm_containing(&sim.person("bob"), "incident 4711").await;
}

/// alice's request approved, carol's grant task completed: alice's access is active.
pub async fn active(sim: &Simulator) {
    approve(sim).await;
    let (alice, carol) = (sim.person("alice"), sim.person("carol"));
    dm_containing(&carol, GRANT_TASK).await;
    carol.click("Mark complete").await.expect("carol completes");
    dm_containing(&alice, "Your access is active").await;
}

pub async fn approve(sim: &Simulator) {
    ask(sim).await;
    sim.person("bob")
        .click("Approve")
        .await
        .expect("bob approves");
}

pub const GRANT_TASK: &str = "Grant *ReadOnly* on *AWS production*";
pub const REVOKE_TASK: &str = "from <@U0ALICE001>: expired";
/// In the task while open and after it is closed.
const REVOKE_TASK_ANY: &str = "Revoke *ReadOnly* on *AWS production* from <@U0ALICE001>";

#[tokio::test]
async fn killed_between_approval_and_task_delivery_the_task_is_posted_once_after_restart() {
    let setup = setup().await;
    let bot = setup.start(Duration::ZERO).await;
    ask(&setup.sim).await;
    // Slack refuses every new message for now: the approval's DMs wait in the outbox.
    setup
        .sim
        .faults()
        .http_error("chat.postMessage", 503, 100_000);
    let bob = setup.sim.person("bob");
    bob.click("Approve").await.expect("bob approves");
    eventually(
        WAIT,
        "the approval is committed (bob's card is edited)",
        || async {
            bob.dms()
                .iter()
                .any(|m| m.visible_text().contains("Approved") && m.buttons().is_empty())
        },
    )
    .await;
    bot.kill_9().await;
    let carol = setup.sim.person("carol");
    assert_eq!(
        count(&carol, GRANT_TASK),
        0,
        "nothing was delivered before the kill"
    );

    setup.sim.faults().clear();
    let bot = setup.start(Duration::ZERO).await;
    dm_containing(&carol, GRANT_TASK).await;
    dm_containing(&setup.sim.person("alice"), "Approved").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&carol, GRANT_TASK), 1, "the task is posted once");
    assert_eq!(bot.gauge("c1bot_open_tasks{kind=\"grant\"}").await, 1.0);
    bot.kill_9().await;
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn an_expiry_that_passed_while_stopped_and_a_kill_mid_deprovision_revoke_once() {
    let setup = setup().await;
    let bot = setup.start(Duration::ZERO).await;
    active(&setup.sim).await;
    let (alice, carol) = (setup.sim.person("alice"), setup.sim.person("carol"));
    bot.kill_9().await;

    // Five hours later (the clock jumped while c1bot was down), with Slack refusing
    // new messages: the expiry is processed at start-up, its task waits in the outbox.
    let later = Duration::from_secs(5 * 3600);
    setup
        .sim
        .faults()
        .http_error("chat.postMessage", 503, 100_000);
    let bot = setup.start(later).await;
    eventually(
        WAIT,
        "the overdue expiry is processed at start-up",
        || async { bot.gauge("c1bot_grants{state=\"deprovisioning\"}").await == 1.0 },
    )
    .await;
    bot.kill_9().await;
    assert_eq!(count(&carol, REVOKE_TASK_ANY), 0);

    setup.sim.faults().clear();
    let bot = setup.start(later).await;
    dm_containing(&carol, REVOKE_TASK).await;
    carol.click("Mark complete").await.expect("carol revokes");
    let removed = dm_containing(&alice, "Access removed").await;
    assert!(
        removed.visible_text().contains("after the expiry"),
        "the person is told the removal ran late: {}",
        removed.visible_text()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&carol, REVOKE_TASK_ANY), 1, "one deprovisioning task");
    assert_eq!(bot.gauge("c1bot_grants{state=\"revoked\"}").await, 1.0);
    assert_eq!(bot.gauge("c1bot_grants{state=\"active\"}").await, 0.0);
    bot.kill_9().await;

    let store = c1bot::store::Store::open(setup.data.path()).expect("store opens after the kills");
    let mut out = Vec::new();
    store.export_audit(&mut out).await.expect("export");
    let expiries: Vec<serde_json::Value> = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["action"] == "grant.expired")
        .collect();
    assert_eq!(expiries.len(), 1, "expired once: {expiries:?}");
    assert!(
        expiries[0]["detail"]["late_ms"]
            .as_i64()
            .unwrap_or_default()
            > 3600 * 1000,
        "the audit says how late: {}",
        expiries[0]
    );
    assert!(store
        .verify_audit()
        .await
        .expect("verify")
        .problem
        .is_none());
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn a_provisioner_run_cut_by_kill_9_runs_again_at_once_after_restart() {
    use axum::routing::post;
    use std::sync::{Arc, Mutex};
    // The receiver hangs on its first call (c1bot dies meanwhile) and answers later ones.
    let keys: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = keys.clone();
    let app = axum::Router::new().route(
        "/iam",
        post(move |body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let first = {
                    let mut keys = seen.lock().expect("lock");
                    keys.push(
                        json["idempotency_key"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    );
                    keys.len() == 1
                };
                if first {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/iam", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let example =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog.example.toml"))
            .expect("example catalog");
    // A 20 s time-out and no retry: the run's lease lasts 50 s, far beyond this test's waits.
    let catalog = example.replacen(
        "kind = \"manual\"                          # a task to the assignees, who grant by hand",
        &format!("kind = \"webhook\"\nurl = \"{url}\"\nsecret_env = \"CRASH_HOOK_SECRET\"\ntimeout = \"20s\"\nretries = 0"),
        1,
    );
    let setup = setup_with_catalog(Some(catalog)).await;
    let bot = setup.start(Duration::ZERO).await;
    approve(&setup.sim).await;
    eventually(WAIT, "the grant call is under way", || async {
        !keys.lock().expect("lock").is_empty()
    })
    .await;
    bot.kill_9().await;

    let bot = setup.start(Duration::ZERO).await;
    dm_containing(&setup.sim.person("alice"), "Your access is active").await;
    assert_eq!(
        *keys.lock().expect("lock"),
        ["REQ-1001/grant", "REQ-1001/grant"],
        "called again after the restart, with the same idempotency key"
    );
    bot.kill_9().await;
    setup.sim.shutdown().await;
}
