//! Scheduled access, as people use it: a request for access from a later time (the
//! modal's *Starts* picker, or `from 09:00 tomorrow` in the one-line command). The
//! window holds whatever happens: approved early, provisioning starts at the window
//! (not before, also across a kill -9); the clock starts then; not approved before
//! the window closes, the request expires. Everyone reads the window in their own
//! time zone.

use std::time::Duration;

use c1bot::simulator::{Person, SubmitOutcome};
use chrono::{DateTime, FixedOffset, Utc};

use crate::crash::{count, GRANT_TASK};
use crate::grants::{advance, app_with, audit_entries_of, told};
use crate::helpers::{eventually, TestApp};
use crate::requests::{dm_containing, fill_request, WAIT};

const HOUR: Duration = Duration::from_secs(3600);

/// c1bot's clock, to whole seconds (the picker's unit).
fn bot_now(app: &TestApp) -> DateTime<Utc> {
    let now = app.bot.as_ref().expect("running").clock.now();
    DateTime::from_timestamp(now.timestamp(), 0).expect("a time")
}

pub fn later(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    at + chrono::Duration::from_std(by).expect("a duration")
}

/// `who` fills the request modal, picks `start` under *Starts*, and submits.
pub async fn ask_from(
    person: &Person,
    resource: &str,
    entitlement: &str,
    why: &str,
    start: DateTime<Utc>,
) -> SubmitOutcome {
    fill_request(person, resource, entitlement, "4 h", why).await;
    person
        .fill("Starts", &start.timestamp().to_string())
        .await
        .expect("the modal has a start picker");
    person.submit().await.expect("submitted")
}

/// How `person` reads `at` in a Slack date token: their own zone, 24-hour clock.
/// Waits for `person`'s "access is active" DM and checks it says the access ends at `end`.
pub async fn active_until(person: &Person, end: DateTime<Utc>, why: &str) {
    let active = dm_containing(person, "Your access is active").await;
    assert!(
        active
            .visible_text()
            .contains(&format!("<!date^{}^", end.timestamp())),
        "{why}: {}",
        active.visible_text()
    );
}

fn local(person: &Person, at: DateTime<Utc>) -> String {
    let zone = FixedOffset::east_opt(i32::try_from(person.user().tz_offset).expect("offset"))
        .expect("a zone");
    at.with_timezone(&zone)
        .format("%b %-d, %Y at %H:%M")
        .to_string()
}

/// The `grant.window_opened` audit entries' subjects, oldest first.
async fn windows_opened(app: &TestApp) -> Vec<String> {
    audit_entries_of(app, "grant.window_opened")
        .await
        .iter()
        .filter_map(|e| e["subject"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn approved_before_the_window_provisioning_starts_at_the_window_not_before() {
    let app = app_with(|c| c.activity.channel = Some("C0SECURITY".into())).await;
    let (alice, bob, carol, frank) = (
        app.sim.person("alice"),
        app.sim.person("bob"),
        app.sim.person("carol"),
        app.sim.person("frank"),
    );
    let now = bot_now(&app);
    // A sentinel whose window opens first: the dev sandbox, approved by policy.
    let sentinel = ask_from(
        &alice,
        "Dev sandbox",
        "ReadOnly",
        "tidy-up",
        later(now, HOUR),
    )
    .await;
    assert_eq!(sentinel, SubmitOutcome::Closed);
    let start = later(now, 3 * HOUR);
    let outcome = ask_from(
        &alice,
        "AWS production",
        "ReadOnly",
        "maintenance window",
        start,
    )
    .await;
    assert_eq!(outcome, SubmitOutcome::Closed);

    // bob (New York) and alice (Berlin) each read the window in their own zone.
    let card = dm_containing(&bob, "maintenance window").await;
    let end = later(start, 4 * HOUR);
    let (shown_bob, shown_alice) = (local(&bob, start), local(&alice, start));
    assert_ne!(shown_bob, shown_alice);
    assert!(
        bob.reads(&card.visible_text())
            .contains(&format!("4 h, from {shown_bob} until {}", local(&bob, end))),
        "{}",
        bob.reads(&card.visible_text())
    );
    let own = dm_containing(&alice, "You asked for *ReadOnly* on *AWS production*").await;
    assert!(
        alice.reads(&own.visible_text()).contains(&shown_alice),
        "{}",
        alice.reads(&own.visible_text())
    );

    bob.click("Approve").await.expect("bob approves");
    alice
        .wait_for_message(WAIT, |m| {
            let text = m.visible_text();
            text.contains("REQ-1002") && text.contains("Scheduled: your access is set up at")
        })
        .await
        .expect("alice is told her access is scheduled");
    // Approval and provisioning would commit together: none started with it.
    assert!(windows_opened(&app).await.is_empty());
    assert!(audit_entries_of(&app, "grant.provisioning")
        .await
        .is_empty());
    alice
        .slash("/c1", "status", "general")
        .await
        .acked
        .then_some(())
        .expect("status answered");
    told(&alice, "approved · waiting for its start").await;
    // App Home and the activity line show the window as date tokens too.
    let token = format!("<!date^{}^", start.timestamp());
    alice.open_app_home().await;
    eventually(WAIT, "alice's App Home shows the window", || async {
        alice.home().is_some_and(|h| {
            let text = h.to_string();
            text.contains(&token) && text.contains("approved · waiting for its start")
        })
    })
    .await;
    eventually(WAIT, "the activity line shows the window", || async {
        app.sim.messages_in("C0SECURITY").iter().any(|m| {
            let text = m.visible_text();
            text.contains("REQ-1002")
                && text.contains(&token)
                && text.contains("approved, waiting for its start")
        })
    })
    .await;

    // Two hours on, the sentinel's window opens; this request's has not.
    advance(&app, 2 * HOUR);
    dm_containing(&frank, "Grant *ReadOnly* on *Dev sandbox*").await;
    assert_eq!(windows_opened(&app).await, ["REQ-1001"]);
    assert_eq!(count(&carol, GRANT_TASK), 0, "no task before the window");

    // At the window provisioning starts, and the clock started then: a grant
    // completed half an hour late still ends at start + 4 h.
    advance(&app, HOUR);
    let task = dm_containing(&carol, GRANT_TASK).await;
    assert!(
        task.visible_text()
            .contains(&format!("ends at <!date^{}^", end.timestamp())),
        "the task says when the access ends: {}",
        task.visible_text()
    );
    assert_eq!(windows_opened(&app).await, ["REQ-1001", "REQ-1002"]);
    advance(&app, HOUR / 2);
    carol.click("Mark complete").await.expect("carol completes");
    active_until(&alice, end, "ends at start + 4 h").await;
    advance(&app, Duration::from_secs(3 * 3600 + 31 * 60));
    dm_containing(&carol, "from <@U0ALICE001>: expired").await;
    app.stop().await;
}

#[tokio::test]
async fn not_approved_before_the_window_closes_the_request_expires() {
    // The usual time to decide is short; a scheduled request waits for its window.
    let app = app_with(|config| config.requests.decide_within = HOUR / 2).await;
    let (alice, bob) = (app.sim.person("alice"), app.sim.person("bob"));
    let start = later(bot_now(&app), HOUR);
    let outcome = ask_from(&alice, "AWS production", "ReadOnly", "window", start).await;
    assert_eq!(outcome, SubmitOutcome::Closed);
    dm_containing(&bob, "window").await;

    advance(&app, 5 * HOUR - Duration::from_secs(60));
    let status = alice.slash("/c1", "status", "general").await;
    assert!(status.acked);
    told(&alice, "waiting for Team lead").await;

    advance(&app, Duration::from_secs(61));
    dm_containing(&alice, "Nobody decided in time").await;
    let expired = audit_entries_of(&app, "request.expire").await;
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert!(audit_entries_of(&app, "grant.provisioning")
        .await
        .is_empty());
    app.stop().await;
}

#[tokio::test]
async fn approved_inside_the_window_access_starts_at_once_and_ends_with_the_window() {
    let app = app_with(|_| {}).await;
    let (alice, bob, carol) = (
        app.sim.person("alice"),
        app.sim.person("bob"),
        app.sim.person("carol"),
    );
    let start = later(bot_now(&app), HOUR);
    ask_from(&alice, "AWS production", "ReadOnly", "late approval", start).await;
    dm_containing(&bob, "late approval").await;
    advance(&app, 2 * HOUR);
    bob.click("Approve").await.expect("bob approves");
    dm_containing(&carol, GRANT_TASK).await;
    carol.click("Mark complete").await.expect("carol completes");
    let end = later(start, 4 * HOUR);
    active_until(&alice, end, "the window's end, not approval + 4 h").await;
    app.stop().await;
}

#[tokio::test]
async fn a_start_in_the_past_too_far_ahead_or_refused_by_policy_is_answered_and_nothing_is_stored()
{
    let app = app_with(|_| {}).await;
    let alice = app.sim.person("alice");
    let now = bot_now(&app);
    let past = ask_from(
        &alice,
        "AWS production",
        "ReadOnly",
        "x",
        now - chrono::Duration::hours(2),
    )
    .await;
    let SubmitOutcome::Errors(errors) = past else {
        panic!("refused on the field: {past:?}");
    };
    assert!(errors["starts_at"].contains("in the past"), "{errors:?}");
    alice.close_modal().await;
    let far = ask_from(
        &alice,
        "Dev sandbox",
        "ReadOnly",
        "x",
        now + chrono::Duration::days(40),
    )
    .await;
    let SubmitOutcome::Errors(errors) = far else {
        panic!("refused on the field: {far:?}");
    };
    assert!(errors["starts_at"].contains("30 days ahead"), "{errors:?}");
    alice.close_modal().await;
    // The shipped policy reads input.request.starts_at_ns: production at most a week ahead.
    let policy = ask_from(
        &alice,
        "AWS production",
        "ReadOnly",
        "x",
        now + chrono::Duration::days(10),
    )
    .await;
    let SubmitOutcome::Errors(errors) = policy else {
        panic!("refused by policy: {policy:?}");
    };
    assert!(
        errors["entitlement"].contains("production access can be scheduled at most 7 days ahead"),
        "{errors:?}"
    );
    assert!(audit_entries_of(&app, "request.submitted").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_one_line_start_is_read_in_the_requesters_time_zone() {
    let app = app_with(|_| {}).await;
    let (alice, bob) = (app.sim.person("alice"), app.sim.person("bob"));
    let now = bot_now(&app);
    let outcome = alice
        .slash(
            "/c1",
            "request aws-prod readonly 4h from 09:00 tomorrow incident 4711",
            "general",
        )
        .await;
    assert!(outcome.acked);
    told(&alice, "Submitted").await;
    // alice's Slack zone is Europe/Berlin: 09:00 there tomorrow.
    let berlin = chrono_tz::Europe::Berlin;
    let tomorrow = now.with_timezone(&berlin).date_naive() + chrono::Duration::days(1);
    let nine = tomorrow
        .and_hms_opt(9, 0, 0)
        .expect("09:00")
        .and_local_timezone(berlin)
        .earliest()
        .expect("09:00 exists")
        .with_timezone(&Utc);
    let card = dm_containing(&bob, "incident 4711").await;
    assert!(
        card.visible_text()
            .contains(&format!("from <!date^{}^", nine.timestamp())),
        "{}",
        card.visible_text()
    );
    let submitted = audit_entries_of(&app, "request.submitted").await;
    assert_eq!(submitted.len(), 1);
    assert_eq!(submitted[0]["detail"]["justification"], "incident 4711");
    assert_eq!(
        submitted[0]["detail"]["starts_at"],
        serde_json::json!(nine),
        "the audit says when it starts"
    );

    // A line with a part missing opens the form with *Starts* already set.
    let outcome = alice
        .slash(
            "/c1",
            "request aws-prod readonly from 09:00 tomorrow",
            "general",
        )
        .await;
    assert!(outcome.acked);
    let modal = alice.wait_for_modal(WAIT).await.expect("the form opens");
    let picker = modal["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["block_id"] == "starts_at")
        .map(|b| b["element"]["initial_date_time"].clone());
    assert_eq!(picker, Some(serde_json::json!(nine.timestamp())));
    app.stop().await;
}

#[tokio::test]
async fn approved_access_waiting_for_its_window_can_be_cancelled_and_is_never_provisioned() {
    let app = app_with(|_| {}).await;
    let (alice, bob, carol, frank) = (
        app.sim.person("alice"),
        app.sim.person("bob"),
        app.sim.person("carol"),
        app.sim.person("frank"),
    );
    let start = later(bot_now(&app), 2 * HOUR);
    ask_from(&alice, "AWS production", "ReadOnly", "plans changed", start).await;
    dm_containing(&bob, "plans changed").await;
    bob.click("Approve").await.expect("bob approves");
    dm_containing(&alice, "Scheduled: your access is set up at").await;
    let status = alice.slash("/c1", "status", "general").await;
    assert!(status.acked);
    told(&alice, "approved · waiting for its start").await;
    alice.click("Cancel").await.expect("alice cancels");
    dm_containing(&alice, "The request was withdrawn").await;

    // A sentinel whose window opens just after the cancelled one's.
    let sentinel = later(start, Duration::from_secs(60));
    ask_from(&alice, "Dev sandbox", "ReadOnly", "tidy-up", sentinel).await;
    advance(&app, 2 * HOUR + Duration::from_secs(120));
    dm_containing(&frank, "Grant *ReadOnly* on *Dev sandbox*").await;
    let provisioning = audit_entries_of(&app, "grant.provisioning").await;
    let subjects: Vec<&str> = provisioning
        .iter()
        .filter_map(|e| e["subject"].as_str())
        .collect();
    assert_eq!(subjects, ["REQ-1002"]);
    assert_eq!(count(&carol, GRANT_TASK), 0);
    app.stop().await;
}
