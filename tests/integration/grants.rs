//! Access after approval, as people see it: the provisioning task, active access,
//! expiry (the clock moved forward), the deprovisioning task, early revoke, overdue
//! revokes and *Extend*.

use std::time::Duration;

use c1bot::simulator::Person;

use crate::helpers::{eventually, fast_sim_options, spawn_stopped, start, TestApp};
use crate::requests::{dm_containing, request, WAIT};

/// The example catalog with `edit` applied to its text (`from` must occur).
pub fn catalog_edited(from: &str, to: &str) -> c1bot::catalog::Catalog {
    let text = std::fs::read_to_string("catalog.example.toml").expect("example catalog");
    assert!(text.contains(from), "the example catalog has {from:?}");
    let text = text.replacen(from, to, 1);
    c1bot::catalog::Catalog::from_toml(c1bot::catalog::Source {
        name: "catalog.toml",
        text: &text,
    })
    .expect("edited catalog is valid")
}

pub async fn app_with(tune: impl FnOnce(&mut c1bot::config::Config)) -> TestApp {
    let mut app = spawn_stopped(fast_sim_options()).await;
    tune(&mut app.config);
    start(app).await
}

/// alice asks for ReadOnly on AWS production for 4 h; bob approves.
pub async fn approved_request(app: &TestApp) {
    request(
        app,
        "alice",
        "AWS production",
        "ReadOnly",
        "4 h",
        "incident 4711",
    )
    .await;
    let bob = app.sim.person("bob");
    dm_containing(&bob, "incident 4711").await;
    bob.click("Approve").await.expect("bob approves");
}

/// Moves c1bot's clock forward.
pub fn advance(app: &TestApp, by: Duration) {
    app.bot.as_ref().expect("running").clock.advance(by);
}

pub async fn audit_entries(app: &TestApp) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    app.bot
        .as_ref()
        .expect("running")
        .store
        .export_audit(&mut out)
        .await
        .expect("export");
    String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .collect()
}

/// The audit entries whose action is `action`, oldest first.
pub async fn audit_entries_of(app: &TestApp, action: &str) -> Vec<serde_json::Value> {
    audit_entries(app)
        .await
        .into_iter()
        .filter(|e| e["action"] == action)
        .collect()
}

pub async fn audit_actions(app: &TestApp) -> Vec<String> {
    audit_entries(app)
        .await
        .into_iter()
        .filter_map(|entry| entry["action"].as_str().map(str::to_owned))
        .collect()
}

/// Waits until `person` sees an ephemeral message containing `text`.
pub async fn told(person: &Person, text: &str) {
    eventually(
        WAIT,
        &format!("{} is told {text:?}", person.id()),
        || async {
            person
                .ephemerals()
                .iter()
                .any(|m| m.visible_text().contains(text))
        },
    )
    .await;
}

async fn grant_task(carol: &Person) -> c1bot::simulator::Message {
    let task = dm_containing(carol, "Grant *ReadOnly* on *AWS production*").await;
    assert_eq!(task.buttons(), ["Mark complete", "Can't complete"]);
    task
}

#[tokio::test]
async fn approve_task_complete_active_expiry_revoke_task_complete_revoked() {
    let app = app_with(|_| {}).await;
    approved_request(&app).await;
    let (alice, carol) = (app.sim.person("alice"), app.sim.person("carol"));

    let task = grant_task(&carol).await;
    let text = task.visible_text();
    assert!(
        text.contains("<@U0ALICE001>") && text.contains("4 h") && text.contains("REQ-1001"),
        "{text}"
    );
    carol.click("Mark complete").await.expect("carol completes");

    let active = dm_containing(&alice, "Your access is active").await;
    assert!(
        active.visible_text().contains("<!date^"),
        "the end is shown in alice's own time zone: {}",
        active.visible_text()
    );
    assert!(active.visible_text().contains("<@U0CAROL001>"));
    eventually(
        WAIT,
        "carol's task shows who completed it, without buttons",
        || async {
            carol.dms().iter().any(|m| {
                m.visible_text().contains("Completed by <@U0CAROL001>") && m.buttons().is_empty()
            })
        },
    )
    .await;

    advance(&app, Duration::from_secs(4 * 3600 + 1));
    let revoke = dm_containing(
        &carol,
        "Revoke *ReadOnly* on *AWS production* from <@U0ALICE001>: expired",
    )
    .await;
    assert_eq!(revoke.buttons(), ["Mark complete", "Can't complete"]);
    carol.click("Mark complete").await.expect("carol revokes");

    let removed = dm_containing(&alice, "Access removed").await;
    assert!(removed.visible_text().contains("expired"));
    let actions = audit_actions(&app).await;
    for expected in [
        "grant.provisioning",
        "task.grant.complete",
        "grant.expired",
        "task.revoke.complete",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing from {actions:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn the_first_assignee_wins_and_the_others_copy_says_who() {
    let app = app_with(|c| {
        // dave and carol both grant AWS ReadOnly.
        c.catalog = catalog_edited(
            r#"assignees = { users = ["U0CAROL001"] }   # carol"#,
            r#"assignees = { users = ["U0CAROL001", "U0DAVE0001"] }"#,
        );
    })
    .await;
    approved_request(&app).await;
    let (carol, dave) = (app.sim.person("carol"), app.sim.person("dave"));
    grant_task(&carol).await;
    grant_task(&dave).await;

    let (first, second) = tokio::join!(carol.click("Mark complete"), dave.click("Mark complete"));
    first.expect("carol's click is acked");
    second.expect("dave's click is acked");

    eventually(WAIT, "both copies closed, naming one person", || async {
        let closed = |p: &Person| {
            p.dms()
                .iter()
                .any(|m| m.visible_text().contains("Completed by") && m.buttons().is_empty())
        };
        closed(&carol) && closed(&dave)
    })
    .await;
    let completions = audit_actions(&app)
        .await
        .iter()
        .filter(|a| *a == "task.grant.complete")
        .count();
    assert_eq!(completions, 1, "one completion counts");
    let alice = app.sim.person("alice");
    dm_containing(&alice, "Your access is active").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let active_dms = alice
        .dms()
        .iter()
        .filter(|m| m.visible_text().contains("Your access is active"))
        .count();
    assert_eq!(active_dms, 1, "alice is told once");
    app.stop().await;
}

#[tokio::test]
async fn cant_complete_fails_the_request_and_tells_requester_and_approver_why() {
    let app = app_with(|_| {}).await;
    approved_request(&app).await;
    let carol = app.sim.person("carol");
    grant_task(&carol).await;
    carol.click("Can't complete").await.expect("carol clicks");
    carol
        .wait_for_modal(WAIT)
        .await
        .expect("the reason modal opens");
    carol
        .fill("Reason", "no <!channel> such account")
        .await
        .expect("reason typed");
    carol.submit().await.expect("submitted");

    for who in ["alice", "bob"] {
        let told = dm_containing(&app.sim.person(who), "Access could not be granted").await;
        let text = told.visible_text();
        assert!(
            text.contains("no &lt;!channel&gt; such account"),
            "reason shown, escaped: {text}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn someone_else_clicking_mark_complete_is_refused_and_nothing_changes() {
    let app = app_with(|_| {}).await;
    approved_request(&app).await;
    let carol = app.sim.person("carol");
    let task = grant_task(&carol).await;
    // Mallory forges a click on carol's task with her own identity.
    let mallory = app.sim.person("mallory");
    let outcome = mallory
        .click_in(&task.channel, &task.ts, "Mark complete")
        .await;
    if outcome.is_ok() {
        told(&mallory, "not an assignee").await;
    }
    assert!(!audit_actions(&app)
        .await
        .iter()
        .any(|a| a == "task.grant.complete"));
    assert_eq!(task.buttons(), ["Mark complete", "Can't complete"]);
    app.stop().await;
}

pub async fn active_grant(app: &TestApp) {
    approved_request(app).await;
    let carol = app.sim.person("carol");
    grant_task(&carol).await;
    carol.click("Mark complete").await.expect("carol completes");
    dm_containing(&app.sim.person("alice"), "Your access is active").await;
}

#[tokio::test]
async fn the_requester_revokes_early_with_a_reason_and_the_task_says_why() {
    let app = app_with(|_| {}).await;
    active_grant(&app).await;
    let alice = app.sim.person("alice");
    let outcome = alice
        .slash("/c1", "revoke REQ-1001 incident closed", "general")
        .await;
    assert!(outcome.acked);
    dm_containing(&alice, "Your access is being removed").await;
    let carol = app.sim.person("carol");
    dm_containing(&carol, "revoked early: incident closed").await;
    carol.click("Mark complete").await.expect("carol revokes");
    dm_containing(&alice, "Access removed").await;
    app.stop().await;
}

#[tokio::test]
async fn a_space_writer_may_revoke_and_a_stranger_may_not() {
    let app = app_with(|_| {}).await;
    active_grant(&app).await;
    let mallory = app.sim.person("mallory");
    mallory
        .slash("/c1", "revoke REQ-1001 because I can", "general")
        .await;
    told(&mallory, "Only the person with the access").await;
    // frank owns AWS production: space_write on its space.
    let frank = app.sim.person("frank");
    frank
        .slash("/c1", "revoke REQ-1001 suspicious activity", "general")
        .await;
    told(&frank, "Revoking REQ-1001").await;
    dm_containing(&app.sim.person("carol"), "suspicious activity").await;
    let actions = audit_actions(&app).await;
    assert!(actions.iter().any(|a| a == "grant.revoke.refused"));
    assert!(actions.iter().any(|a| a == "grant.revoke"));
    app.stop().await;
}

#[tokio::test]
async fn the_reminder_before_expiry_offers_extend_and_im_done_revokes_now() {
    let app = app_with(|_| {}).await;
    active_grant(&app).await;
    advance(&app, Duration::from_secs(4 * 3600 - 10 * 60));
    let alice = app.sim.person("alice");
    let reminder = dm_containing(&alice, "ends").await;
    assert_eq!(reminder.buttons(), ["Extend", "I'm done"]);
    alice.click("I'm done").await.expect("alice is done");
    dm_containing(&app.sim.person("carol"), "no longer needed").await;
    app.stop().await;
}

#[tokio::test]
async fn an_overdue_revoke_reminds_then_escalates_to_the_owner() {
    let app = app_with(|c| c.grants.revoke_overdue_after = Duration::from_secs(3600)).await;
    active_grant(&app).await;
    advance(&app, Duration::from_secs(4 * 3600 + 1));
    let carol = app.sim.person("carol");
    dm_containing(&carol, "from <@U0ALICE001>: expired").await;
    assert_eq!(overdue_gauge(&app).await, "0", "open, not yet overdue");
    advance(&app, Duration::from_secs(3600 + 1));
    dm_containing(&carol, "Reminder:").await;
    assert_eq!(overdue_gauge(&app).await, "1", "open for more than an hour");
    advance(&app, Duration::from_secs(3600 + 1));
    // frank owns AWS production.
    let frank = app.sim.person("frank");
    let escalated = dm_containing(&frank, "Overdue: the resource's owners").await;
    assert_eq!(escalated.buttons(), ["Mark complete", "Can't complete"]);
    frank.open_app_home().await;
    eventually(
        WAIT,
        "frank's App Home lists the overdue revocation",
        || async {
            frank
                .home()
                .is_some_and(|h| h.to_string().contains("should have been removed"))
        },
    )
    .await;
    frank.click("Mark complete").await.expect("frank revokes");
    dm_containing(&app.sim.person("alice"), "Access removed").await;
    assert_eq!(overdue_gauge(&app).await, "0", "removed");
    app.stop().await;
}

/// The value of `c1bot_overdue_revocations` in a scrape.
async fn overdue_gauge(app: &TestApp) -> String {
    let text = app.bot.as_ref().expect("running").metrics.render().await;
    text.lines()
        .find_map(|line| line.strip_prefix("c1bot_overdue_revocations "))
        .unwrap_or("missing")
        .to_owned()
}

#[tokio::test]
async fn extend_goes_through_approval_and_continues_the_access() {
    let app = app_with(|_| {}).await;
    active_grant(&app).await;
    advance(&app, Duration::from_secs(4 * 3600 - 10 * 60));
    let alice = app.sim.person("alice");
    dm_containing(&alice, "ends").await;
    alice.click("Extend").await.expect("alice extends");
    alice
        .wait_for_modal(WAIT)
        .await
        .expect("the extend modal opens");
    alice.fill("Extra time", "2 h").await.expect("duration");
    alice
        .fill("Justification", "incident still open")
        .await
        .expect("why");
    alice.submit().await.expect("submitted");
    let bob = app.sim.person("bob");
    dm_containing(&bob, "incident still open").await;
    bob.click("Approve")
        .await
        .expect("bob approves the extension");
    let active = dm_containing(&alice, "an approved extension of REQ-1001").await;
    assert!(active.visible_text().contains("REQ-1002"));
    // The old expiry passes: nothing is revoked.
    advance(&app, Duration::from_secs(20 * 60));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!app
        .sim
        .person("carol")
        .dms()
        .iter()
        .any(|m| m.visible_text().contains("from <@U0ALICE001>: expired")));
    // The new end passes: now it is.
    advance(&app, Duration::from_secs(2 * 3600));
    dm_containing(&app.sim.person("carol"), "from <@U0ALICE001>: expired").await;
    app.stop().await;
}

#[tokio::test]
async fn revoke_from_status_asks_a_reason_and_a_revoke_that_cannot_be_done_goes_to_the_owner() {
    let app = app_with(|_| {}).await;
    active_grant(&app).await;
    let alice = app.sim.person("alice");
    let status = alice.slash("/c1", "status", "general").await;
    assert!(status.acked);
    alice
        .click("Revoke")
        .await
        .expect("alice clicks Revoke on her status");
    alice
        .wait_for_modal(WAIT)
        .await
        .expect("the reason modal opens");
    alice
        .fill("Reason", "incident closed")
        .await
        .expect("reason");
    alice.submit().await.expect("submitted");
    let carol = app.sim.person("carol");
    dm_containing(&carol, "revoked early: incident closed").await;

    carol.click("Can't complete").await.expect("carol cannot");
    carol
        .wait_for_modal(WAIT)
        .await
        .expect("the reason modal opens");
    carol
        .fill("Reason", "console is down")
        .await
        .expect("reason");
    carol.submit().await.expect("submitted");
    // frank owns AWS production: asked at once, and may complete it.
    let frank = app.sim.person("frank");
    let task = dm_containing(&frank, "<@U0CAROL001> could not do it: console is down.").await;
    assert!(
        !task.visible_text().contains("automatically"),
        "{}",
        task.visible_text()
    );
    frank.click("Mark complete").await.expect("frank revokes");
    dm_containing(&alice, "Access removed").await;
    app.stop().await;
}
