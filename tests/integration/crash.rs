//! `kill -9` at the worst moments, then a restart on the same data directory: a real
//! `c1bot run` process against the simulator. Nothing is lost and nothing is done
//! twice; an expiry that passed while c1bot was down is processed at start-up.

use std::path::{Path, PathBuf};
use std::time::Duration;

use c1bot::simulator::{Person, SimOptions, Simulator, Workspace};
use tokio::process::{Child, Command};

use crate::helpers::eventually;
use crate::requests::{dm_containing, fill_request, WAIT};

/// A c1bot process on a data directory; killed (SIGKILL) when dropped.
pub(crate) struct Bot {
    child: Child,
    metrics: String,
}

pub(crate) struct Setup {
    pub(crate) sim: Simulator,
    pub(crate) data: tempfile::TempDir,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub(crate) async fn setup() -> Setup {
    setup_with_catalog(None).await
}

/// Like [`setup`], with the example catalog's text replaced when `catalog` is given.
async fn setup_with_catalog(catalog: Option<String>) -> Setup {
    let sim = Simulator::start(Workspace::demo(), SimOptions::default())
        .await
        .expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = dir.path().join("c1bot.toml");
    let catalog_file = match catalog {
        Some(text) => {
            let path = dir.path().join("catalog.toml");
            std::fs::write(&path, text).expect("catalog written");
            path
        }
        None => root.join("catalog.example.toml"),
    };
    std::fs::write(
        &config,
        format!(
            "catalog_file = {:?}\npolicies_dir = {:?}\nblocks_dir = {:?}\n",
            catalog_file,
            root.join("policies"),
            root.join("blocks"),
        ),
    )
    .expect("config written");
    Setup {
        sim,
        data: tempfile::tempdir().expect("data dir"),
        config,
        _dir: dir,
    }
}

impl Setup {
    /// Starts c1bot, its clock `offset` ahead, and waits until it is connected.
    pub(crate) async fn start(&self, offset: Duration) -> Bot {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_c1bot"))
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            .env_clear()
            .env("SLACK_APP_TOKEN", self.sim.app_token())
            .env("SLACK_BOT_TOKEN", self.sim.bot_token())
            .env("SLACK_API_URL", self.sim.api_url())
            .env("C1BOT_DATA_DIR", self.data.path())
            .env("C1BOT_HEALTH_LISTEN", format!("127.0.0.1:{port}"))
            .env("C1BOT_CLOCK_OFFSET_SECS", offset.as_secs().to_string())
            .env("RUST_LOG", "warn")
            .env("CRASH_HOOK_SECRET", "crash-test-key")
            .kill_on_drop(true)
            .spawn()
            .expect("c1bot starts");
        let bot = Bot {
            child,
            metrics: format!("http://127.0.0.1:{port}/metrics"),
        };
        eventually(Duration::from_secs(20), "c1bot is ready", || async {
            reqwest::get(bot.metrics.replace("/metrics", "/readyz"))
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
        bot
    }
}

impl Bot {
    pub(crate) async fn gauge(&self, series: &str) -> f64 {
        let Ok(response) = reqwest::get(&self.metrics).await else {
            return f64::NAN;
        };
        let text = response.text().await.unwrap_or_default();
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(f64::NAN)
    }

    pub(crate) async fn kill_9(mut self) {
        self.child.start_kill().expect("SIGKILL sent");
        self.child.wait().await.expect("reaped");
    }
}

pub(crate) fn count(person: &Person, text: &str) -> usize {
    person
        .dms()
        .iter()
        .filter(|m| m.visible_text().contains(text))
        .count()
}

/// alice asks; bob has the card to approve.
async fn ask(sim: &Simulator) {
    let alice = sim.person("alice");
    fill_request(&alice, "AWS production", "ReadOnly", "4 h", "incident 4711").await;
    alice.submit().await.expect("submitted");
    dm_containing(&sim.person("bob"), "incident 4711").await;
}

async fn approve(sim: &Simulator) {
    ask(sim).await;
    sim.person("bob")
        .click("Approve")
        .await
        .expect("bob approves");
}

const GRANT_TASK: &str = "Grant *ReadOnly* on *AWS production*";
const REVOKE_TASK: &str = "from <@U0ALICE001>: expired";
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
    approve(&setup.sim).await;
    let (alice, carol) = (setup.sim.person("alice"), setup.sim.person("carol"));
    dm_containing(&carol, GRANT_TASK).await;
    carol.click("Mark complete").await.expect("carol completes");
    dm_containing(&alice, "Your access is active").await;
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
    store.export_audit(&mut out).expect("export");
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
    assert!(store.verify_audit().expect("verify").problem.is_none());
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
