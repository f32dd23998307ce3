//! What people see is right (issue 15, section 2), one test per item, each asserting
//! on what the person reads: who decided, when, short durations, the request form.

use std::time::Duration;

use c1bot::simulator::{Person, SubmitOutcome};

use crate::grants::{advance, app_with, catalog_edited, told};
use crate::helpers::{eventually, TestApp};
use crate::requests::{dm_containing, offered, preselected, request, WAIT};

const ALICE: &str = "<@U0ALICE001>";
const BOB: &str = "<@U0BOB00001>";
const CAROL: &str = "<@U0CAROL001>";

/// c1bot's clock now, in Unix seconds.
fn now(app: &TestApp) -> i64 {
    app.bot.as_ref().expect("running").clock.now().timestamp()
}

/// The Unix time of the first `<!date^…>` token in `text` after `after`.
fn date_after(text: &str, after: &str) -> i64 {
    let rest = text
        .find(after)
        .map(|at| &text[at..])
        .unwrap_or_else(|| panic!("{after:?} in {text}"));
    let start = rest.find("<!date^").expect("a date token") + "<!date^".len();
    rest[start..]
        .split('^')
        .next()
        .and_then(|secs| secs.parse().ok())
        .unwrap_or_else(|| panic!("a date in {text}"))
}

#[tokio::test]
async fn a_decided_card_names_everyone_whose_approval_counted() {
    let app = app_with(|_| {}).await;
    request(
        &app,
        "alice",
        "AWS production",
        "Admin",
        "1 h",
        "rotate keys",
    )
    .await;
    // Step 1: bob. Step 2 in #security: 2 of secops (bob, carol).
    let (bob, carol) = (app.sim.person("bob"), app.sim.person("carol"));
    dm_containing(&bob, "rotate keys").await;
    bob.click("Approve").await.expect("step 1");
    eventually(WAIT, "the security step is posted", || async {
        app.sim
            .messages_in("C0SECURITY")
            .iter()
            .any(|m| m.buttons() == ["Approve", "Deny"])
    })
    .await;
    let post = app
        .sim
        .messages_in("C0SECURITY")
        .into_iter()
        .find(|m| !m.buttons().is_empty())
        .expect("post");
    carol
        .click_in(&post.channel, &post.ts, "Approve")
        .await
        .expect("carol approves");
    bob.click_in(&post.channel, &post.ts, "Approve")
        .await
        .expect("bob approves");

    let alice = app.sim.person("alice");
    let told = dm_containing(&alice, "Your access is being set up").await;
    let text = told.visible_text();
    assert!(text.contains(&format!("By {BOB}, {CAROL}")), "{text}");
    let copy = dm_containing(&alice, "*Approved* by").await.visible_text();
    assert!(copy.contains(&format!("by {BOB}, {CAROL} on")), "{copy}");
    eventually(WAIT, "the #security post names both approvers", || async {
        app.sim.messages_in("C0SECURITY").iter().any(|m| {
            let text = m.visible_text();
            m.buttons().is_empty() && text.contains("*Approved* by") && text.contains(CAROL)
        })
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn cancelled_and_expired_messages_say_when_it_happened() {
    let app = app_with(|c| c.requests.decide_within = Duration::from_secs(3600)).await;
    let asked = now(&app);
    request(&app, "alice", "AWS production", "ReadOnly", "1 h", "first").await;
    let alice = app.sim.person("alice");
    dm_containing(&alice, "REQ-1001").await;
    advance(&app, Duration::from_secs(20 * 60));
    alice.click("Cancel request").await.expect("alice cancels");
    let cancelled = dm_containing(&alice, "The request was withdrawn")
        .await
        .visible_text();
    let at = date_after(&cancelled, &format!("By {ALICE} on"));
    assert!(
        (asked + 20 * 60..asked + 20 * 60 + 30).contains(&at),
        "cancelled 20 min after asking, not when asked ({asked}): {cancelled}"
    );
    let copy = dm_containing(&alice, "*Cancelled* by").await.visible_text();
    assert_eq!(date_after(&copy, "*Cancelled* by"), at, "{copy}");

    let asked = now(&app);
    request(&app, "alice", "AWS production", "ReadOnly", "1 h", "second").await;
    dm_containing(&alice, "REQ-1002").await;
    advance(&app, Duration::from_secs(2 * 3600));
    let expired = dm_containing(&alice, "Nobody decided in time")
        .await
        .visible_text();
    let at = date_after(&expired, "By c1bot on");
    assert!(
        (asked + 3600..asked + 3600 + 30).contains(&at),
        "expired an hour after asking, not when asked ({asked}): {expired}"
    );
    app.stop().await;
}

/// Opens the request form and chooses `resource` and `entitlement`, like a person.
async fn choose(person: &Person, resource: &str, entitlement: &str) {
    assert!(person.slash("/c1", "request", "general").await.acked);
    person.wait_for_modal(WAIT).await.expect("the form opens");
    person.fill("Resource", resource).await.expect("resource");
    eventually(WAIT, "the entitlements appear", || async {
        offered(person, "entitlement").contains(&entitlement.to_owned())
    })
    .await;
    person
        .fill("Entitlement", entitlement)
        .await
        .expect("entitlement");
}

#[tokio::test]
async fn a_duration_under_a_minute_reads_in_seconds_in_the_form_and_on_cards() {
    let catalog = catalog_edited("default_duration = \"1h\"", "default_duration = \"45s\"");
    let app = app_with(|c| c.catalog = catalog).await;
    let alice = app.sim.person("alice");
    choose(&alice, "AWS production", "ReadOnly").await;
    eventually(WAIT, "45 s is preselected", || async {
        preselected(&alice, "duration").as_deref() == Some("45 s")
    })
    .await;
    alice
        .fill("Justification", "a quick look")
        .await
        .expect("typed");
    let outcome = alice.submit().await.expect("submitted");
    assert!(matches!(outcome, SubmitOutcome::Closed), "{outcome:?}");

    let card = dm_containing(&app.sim.person("bob"), "a quick look").await;
    assert!(card.visible_text().contains("*Duration*\n45 s"), "{card:?}");
    assert!(!card.visible_text().contains("0 min"), "{card:?}");
    app.stop().await;
}

#[tokio::test]
async fn the_form_preselects_the_default_and_offers_up_to_the_chosen_entitlements_maximum() {
    let app = app_with(|_| {}).await;
    let alice = app.sim.person("alice");
    // ReadOnly: default 1 h, at most 8 h. Admin: default 1 h, at most 4 h.
    choose(&alice, "AWS production", "ReadOnly").await;
    eventually(WAIT, "ReadOnly's default is preselected", || async {
        preselected(&alice, "duration").as_deref() == Some("1 h")
    })
    .await;
    assert_eq!(
        offered(&alice, "duration").last().map(String::as_str),
        Some("8 h")
    );

    alice.fill("Entitlement", "Admin").await.expect("Admin");
    eventually(WAIT, "the durations stop at Admin's 4 h", || async {
        offered(&alice, "duration").last().map(String::as_str) == Some("4 h")
    })
    .await;
    let durations = offered(&alice, "duration");
    assert!(!durations.contains(&"8 h".to_owned()), "{durations:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_refused_click_in_a_channel_the_person_never_joined_is_answered_to_them() {
    let app = app_with(|_| {}).await;
    request(
        &app,
        "alice",
        "AWS production",
        "Admin",
        "1 h",
        "rotate keys",
    )
    .await;
    let bob = app.sim.person("bob");
    dm_containing(&bob, "rotate keys").await;
    bob.click("Approve").await.expect("step 1");
    eventually(WAIT, "the security step is posted", || async {
        app.sim
            .messages_in("C0SECURITY")
            .iter()
            .any(|m| m.buttons() == ["Approve", "Deny"])
    })
    .await;
    let post = app
        .sim
        .messages_in("C0SECURITY")
        .into_iter()
        .find(|m| !m.buttons().is_empty())
        .expect("post");

    // #security is public; mallory reads it without joining and clicks Approve.
    let mallory = app.sim.person("mallory");
    mallory
        .click_in(&post.channel, &post.ts, "Approve")
        .await
        .expect("mallory clicks");
    told(&mallory, "You are not an approver of REQ-1001").await;
    assert!(
        app.sim.calls_to("chat.postEphemeral").is_empty(),
        "answered through the click's response_url, not an ephemeral Slack refuses"
    );
    app.stop().await;
}

#[tokio::test]
async fn bidirectional_controls_in_a_reason_do_not_reach_the_approvers_card() {
    let app = app_with(|_| {}).await;
    // U+202E would show "needed for 8 h" as written right to left from there on.
    let typed = "read only \u{202E}needed for 8 h\u{202C} \u{2066}ok\u{2069}";
    request(&app, "alice", "AWS production", "ReadOnly", "1 h", typed).await;
    let card = dm_containing(&app.sim.person("bob"), "read only").await;
    let text = card.visible_text();
    assert!(text.contains("read only needed for 8 h ok"), "{text}");
    assert!(
        !text.contains(['\u{202A}', '\u{202C}', '\u{202E}', '\u{2066}', '\u{2069}']),
        "{text:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn auto_approval_says_who_sets_the_access_up() {
    let app = app_with(|_| {}).await;
    // Dev sandbox is auto-approved by the shipped policy; frank grants it by hand.
    request(
        &app,
        "alice",
        "Dev sandbox",
        "ReadOnly",
        "1 h",
        "try a thing",
    )
    .await;
    let told = dm_containing(&app.sim.person("alice"), "Approved automatically").await;
    let text = told.visible_text();
    assert!(
        text.contains("<@U0FRANK001> sets it up by hand"),
        "the requester learns a person still has to act: {text}"
    );
    dm_containing(
        &app.sim.person("frank"),
        "Grant *ReadOnly* on *Dev sandbox*",
    )
    .await;
    app.stop().await;
}
