//! Step-up verification before a sensitive approval, as people use it: the approver
//! clicks Approve on a request for a resource labelled "step-up" (the shipped
//! `policies/access.rego`), an admin allows enrolment with the real binary, the
//! approver enrols and types codes from an authenticator app (computed here from the
//! key the enrolment modal showed). Wrong, replayed and forged codes: `step_up_codes`.

use std::time::Duration;

use c1bot::app::decisions::step_up::check;
use c1bot::simulator::{Person, SubmitOutcome};
use serde_json::Value;

use crate::grants::{advance, audit_entries_of, told};
use crate::helpers::{eventually, fast_sim_options, spawn_stopped, start, TestApp};
use crate::requests::{dm_containing, request, WAIT};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const BOB: &str = "U0BOB00001";

/// A bot whose catalog labels AWS production "step-up", with a step-up key.
pub async fn spawn_step_up_app() -> TestApp {
    let mut app = spawn_stopped(fast_sim_options()).await;
    let catalog = std::fs::read_to_string("catalog.example.toml").expect("example catalog");
    let unlabelled = "owners = [\"U0FRANK001\"]              # frank\nlabels = []";
    assert!(catalog.contains(unlabelled), "the example catalog changed");
    let labelled = catalog.replacen(
        unlabelled,
        "owners = [\"U0FRANK001\"]\nlabels = [\"step-up\"]",
        1,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("catalog.toml");
    std::fs::write(&path, labelled).expect("catalog written");
    app.config.catalog = c1bot::catalog::Catalog::load_file(&path).expect("catalog");
    app.config.step_up_key = Some(c1bot::config::StepUpKey::parse(KEY).expect("key"));
    start(app).await
}

/// Alice asks for ReadOnly on AWS production; bob's card arrives.
pub async fn alice_requests(app: &TestApp, why: &str) -> Person {
    request(app, "alice", "AWS production", "ReadOnly", "1 h", why).await;
    let bob = app.sim.person("bob");
    dm_containing(&bob, why).await;
    bob
}

/// `c1bot step-up allow USER` with the real binary, beside the running bot.
async fn allow(app: &TestApp, user: &str) -> String {
    let output = crate::audit::c1bot(&app.config.data_dir, &["step-up", "allow", user]).await;
    let said = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    said
}

/// The key the enrolment modal shows.
pub fn shown_secret(modal: &Value) -> Vec<u8> {
    let block = modal["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["block_id"] == "secret")
        .expect("the enrolment modal shows a key");
    let text = block["text"]["text"].as_str().unwrap_or_default();
    totp_rs::Secret::Encoded(text.trim_matches('`').to_owned())
        .to_bytes()
        .expect("a base32 key")
}

/// The code an authenticator app shows now (c1bot's clock), `steps` ahead.
pub fn code(app: &TestApp, secret: &[u8], steps: i64) -> String {
    let now = app.bot.as_ref().expect("running").clock.now().timestamp() + steps * 30;
    check::totp(secret.to_vec(), "")
        .expect("totp")
        .generate(u64::try_from(now).expect("after 1970"))
}

pub async fn type_code(person: &Person, code: &str) -> SubmitOutcome {
    person.fill("Code", code).await.expect("code typed");
    person.submit().await.expect("submitted")
}

pub fn field_error(outcome: &SubmitOutcome) -> String {
    match outcome {
        SubmitOutcome::Errors(errors) => errors.get("code").cloned().unwrap_or_default(),
        other => panic!("expected an error on the code, got {other:?}"),
    }
}

/// Bob allowed, then enrolled through his first Approve: the enrolment modal turns
/// into the verification modal. Returns his key.
pub async fn enrol_bob(app: &TestApp, bob: &Person) -> Vec<u8> {
    allow(app, BOB).await;
    bob.click("Approve").await.expect("clicked");
    let modal = bob.wait_for_modal(WAIT).await.expect("enrolment opens");
    assert_eq!(modal["title"]["text"], "Set up step-up");
    let secret = shown_secret(&modal);
    let outcome = type_code(bob, &code(app, &secret, 0)).await;
    let SubmitOutcome::Updated(view) = outcome else {
        panic!("enrolment should turn into the verification, got {outcome:?}");
    };
    assert_eq!(view["title"]["text"], "Verify to approve");
    secret
}

pub async fn approved(app: &TestApp) -> bool {
    app.sim
        .person("alice")
        .dms()
        .iter()
        .any(|m| m.visible_text().contains("Approved"))
}

#[tokio::test]
async fn approval_without_enrolment_explains_how_to_enrol_and_approves_nothing() {
    let app = spawn_step_up_app().await;
    let bob = alice_requests(&app, "needs step-up 1").await;

    bob.click("Approve").await.expect("clicked");

    told(&bob, "c1bot step-up allow U0BOB00001").await;
    assert!(bob.modal().is_none(), "nothing to type a code into");
    assert!(!approved(&app).await);
    let refusals = audit_entries_of(&app, "step-up.verify.refused").await;
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert_eq!(refusals[0]["actor"], BOB);
    app.stop().await;
}

#[tokio::test]
async fn an_allowed_approver_enrols_once_and_the_right_code_approves() {
    let app = spawn_step_up_app().await;
    let bob = alice_requests(&app, "needs step-up 2").await;

    let said = allow(&app, BOB).await;
    assert!(said.contains("U0BOB00001 may enrol"), "{said}");
    let allowed = audit_entries_of(&app, "step-up.allow").await;
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0]["subject"], BOB);
    assert!(allowed[0]["actor"]
        .as_str()
        .unwrap_or_default()
        .starts_with("cli:"));

    bob.click("Approve").await.expect("clicked");
    let modal = bob.wait_for_modal(WAIT).await.expect("enrolment opens");
    let secret = shown_secret(&modal);
    let key = totp_rs::Secret::Raw(secret.clone())
        .to_encoded()
        .to_string();
    let outcome = type_code(&bob, &code(&app, &secret, 0)).await;
    assert!(matches!(outcome, SubmitOutcome::Updated(_)), "{outcome:?}");
    assert!(!approved(&app).await, "enrolling alone approves nothing");

    // The next code from the app approves.
    advance(&app, Duration::from_secs(30));
    let outcome = type_code(&bob, &code(&app, &secret, 0)).await;
    assert!(matches!(outcome, SubmitOutcome::Closed), "{outcome:?}");
    dm_containing(&app.sim.person("alice"), "Approved").await;
    assert_eq!(audit_entries_of(&app, "step-up.enrol").await.len(), 1);
    let verified = audit_entries_of(&app, "step-up.verify").await;
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0]["detail"]["result"], "ok");
    let approval = audit_entries_of(&app, "request.approve").await;
    assert_eq!(approval[0]["detail"]["stepped_up"], true, "{approval:?}");

    // The key was shown in the modal and nowhere else.
    let posted = app.sim.calls_to("chat.postMessage");
    assert!(posted.iter().all(|c| !c.args.to_string().contains(&key)));
    assert!(bob
        .dms()
        .iter()
        .chain(bob.ephemerals().iter())
        .all(|m| !m.visible_text().contains(&key)));

    // Enrolled once: the next approval asks for a code, not for enrolling again.
    let _ = alice_requests(&app, "needs step-up 3").await;
    bob.click("Approve").await.expect("clicked");
    eventually(WAIT, "the verification opens", || async {
        bob.modal()
            .is_some_and(|m| m["title"]["text"] == "Verify to approve")
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn without_a_step_up_key_the_approval_is_refused_with_a_clear_message() {
    let mut app = spawn_stopped(fast_sim_options()).await;
    let step_up = spawn_step_up_app().await;
    app.config.catalog = step_up.config.catalog.clone();
    step_up.stop().await;
    assert!(app.config.step_up_key.is_none());
    let app = start(app).await;
    let bob = alice_requests(&app, "needs step-up 9").await;

    bob.click("Approve").await.expect("clicked");

    told(&bob, "C1BOT_STEP_UP_KEY is not set").await;
    assert!(bob.modal().is_none());
    assert!(!approved(&app).await);
    app.stop().await;
}

#[tokio::test]
async fn enrolling_again_needs_the_admin_again_and_replaces_the_key() {
    let app = spawn_step_up_app().await;
    let bob = alice_requests(&app, "needs step-up 10").await;
    let old = enrol_bob(&app, &bob).await;
    bob.close_modal().await;

    let said = allow(&app, BOB).await;
    assert!(said.contains("may enrol again"), "{said}");
    advance(&app, Duration::from_secs(30));
    bob.click("Approve").await.expect("clicked");
    let modal = bob.wait_for_modal(WAIT).await.expect("enrolment opens");
    assert_eq!(modal["title"]["text"], "Set up step-up");
    let new = shown_secret(&modal);
    assert_ne!(new, old);
    let error = field_error(&type_code(&bob, &code(&app, &old, 0)).await);
    assert!(
        error.contains("not right"),
        "the old key enrols nothing: {error}"
    );
    assert!(matches!(
        type_code(&bob, &code(&app, &new, 0)).await,
        SubmitOutcome::Updated(_)
    ));
    advance(&app, Duration::from_secs(30));
    assert!(matches!(
        type_code(&bob, &code(&app, &new, 0)).await,
        SubmitOutcome::Closed
    ));
    dm_containing(&app.sim.person("alice"), "Approved").await;
    assert_eq!(audit_entries_of(&app, "step-up.allow").await.len(), 2);
    let results: Vec<Value> = audit_entries_of(&app, "step-up.enrol")
        .await
        .into_iter()
        .map(|e| e["detail"]["result"].clone())
        .collect();
    assert_eq!(results, ["ok", "wrong", "ok"]);
    app.stop().await;
}

#[tokio::test]
async fn step_up_allow_works_with_the_bot_stopped_and_refuses_what_is_not_a_user_id() {
    let mut app = spawn_step_up_app().await;
    let bob = alice_requests(&app, "needs step-up 11").await;
    let refused = crate::audit::c1bot(&app.config.data_dir, &["step-up", "allow", "bob"]).await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a Slack user id"));

    crate::helpers::stop_bot(&mut app).await;
    let said = allow(&app, BOB).await;
    assert!(said.contains("may enrol"), "{said}");
    let app = start(app).await;

    bob.click("Approve").await.expect("clicked");
    let modal = bob.wait_for_modal(WAIT).await.expect("enrolment opens");
    assert_eq!(modal["title"]["text"], "Set up step-up");
    app.stop().await;
}
