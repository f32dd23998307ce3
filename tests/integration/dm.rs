//! Requests written to c1bot in a DM (the app's Messages tab), as people write them.

use std::time::Duration;

use c1bot::simulator::{Message, Person};
use serde_json::json;

use crate::grants::{advance, audit_entries_of};
use crate::helpers::{eventually, spawn_app, TestApp};
use crate::requests::{dm_containing, WAIT};

const BOT: &str = "U0C1BOT001";

/// c1bot's messages in the person's DM, oldest first.
fn from_bot(person: &Person) -> Vec<Message> {
    person.dms().into_iter().filter(|m| m.user == BOT).collect()
}

/// Waits until c1bot's newest message in the DM contains `text`, and returns it.
async fn bot_says(person: &Person, text: &str) -> Message {
    let wanted = text.to_owned();
    eventually(WAIT, &format!("c1bot says {text:?}"), || async {
        from_bot(person)
            .last()
            .is_some_and(|m| m.visible_text().contains(&wanted))
    })
    .await;
    from_bot(person).pop().expect("a message")
}

/// Waits until c1bot's message `ts` in the DM (edited in place) contains `text`.
async fn edited_to(person: &Person, ts: &str, text: &str) -> Message {
    let (wanted, ts) = (text.to_owned(), ts.to_owned());
    let find = || {
        from_bot(person)
            .into_iter()
            .find(|m| m.ts == ts && m.visible_text().contains(&wanted))
    };
    eventually(WAIT, &format!("message {ts} says {text:?}"), || async {
        find().is_some()
    })
    .await;
    find().expect("found")
}

async fn requests_submitted(app: &TestApp) -> Vec<serde_json::Value> {
    audit_entries_of(app, "request.submitted").await
}

#[tokio::test]
async fn a_complete_request_in_a_dm_is_confirmed_then_submitted_once() {
    let app = spawn_app().await;
    let (alice, bob) = (app.sim.person("alice"), app.sim.person("bob"));
    alice
        .send_dm("request aws-prod readonly for 2h because incident 4711")
        .await;
    let summary = bot_says(&alice, "Ready to submit").await;
    let text = summary.visible_text();
    assert!(
        text.contains("*ReadOnly* on *AWS production* for *2 h*") && text.contains("incident 4711"),
        "{text}"
    );
    assert_eq!(summary.buttons(), ["Submit", "Edit", "Cancel"]);
    assert!(bob.dms().is_empty(), "nothing is submitted before Submit");

    // A double click: both clicks reach c1bot before either is answered.
    let (first, second) = tokio::join!(alice.click("Submit"), alice.click("Submit"));
    first.expect("alice submits");
    second.expect("the second click lands too");
    let card = dm_containing(&bob, "incident 4711").await;
    assert_eq!(card.buttons(), ["Approve", "Deny"]);
    let closed = edited_to(&alice, &summary.ts, "Submitted").await;
    assert!(closed.buttons().is_empty());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        bob.dms()
            .iter()
            .filter(|m| m.buttons() == ["Approve", "Deny"])
            .count(),
        1,
        "one request, one card"
    );
    let submitted = requests_submitted(&app).await;
    assert_eq!(submitted.len(), 1);
    assert_eq!(submitted[0]["detail"]["via"], "dm");
    assert_eq!(submitted[0]["actor"], "U0ALICE001");
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_name_is_answered_with_candidates_as_buttons() {
    let app = spawn_app().await;
    let alice = app.sim.person("alice");
    alice
        .send_dm("request aws-prd readonly for 1h because audit")
        .await;
    let asked = bot_says(&alice, "Which resource").await;
    assert!(
        asked.visible_text().contains("aws-prd"),
        "the problem quotes what she wrote: {}",
        asked.visible_text()
    );
    assert!(
        asked.buttons().contains(&"AWS production".to_owned()),
        "{:?}",
        asked.buttons()
    );
    alice.click("AWS production").await.expect("picks");
    // What she wrote about the rest was kept: straight to the confirmation.
    let summary = bot_says(&alice, "Ready to submit").await;
    assert_eq!(summary.ts, asked.ts);
    assert!(summary.visible_text().contains("audit"));
    // Edit continues in the form, filled with her answers.
    alice.click("Edit").await.expect("edit");
    let modal = alice.wait_for_modal(WAIT).await.expect("the form opens");
    let values = &modal["state"]["values"];
    assert_eq!(
        values["resource"]["resource_select"]["selected_option"]["value"],
        "aws-prod"
    );
    assert_eq!(
        values["justification"]["justification_input"]["value"],
        "audit"
    );
    edited_to(&alice, &asked.ts, "Continued in the form").await;
    alice.submit().await.expect("submitted from the form");
    dm_containing(&app.sim.person("bob"), "audit").await;
    app.stop().await;
}

#[tokio::test]
async fn step_by_step_with_a_wrong_duration_and_a_restart_in_the_middle() {
    let mut app = spawn_app().await;
    let (alice, bob) = (app.sim.person("alice"), app.sim.person("bob"));
    alice.send_dm("hi").await;
    let first = bot_says(&alice, "Which resource do you need access to?").await;
    assert!(first.buttons().contains(&"AWS production".to_owned()));
    alice.click("AWS production").await.expect("resource");
    bot_says(&alice, "Which access on AWS production?").await;
    alice.click("ReadOnly").await.expect("entitlement");
    let asked = bot_says(&alice, "For how long?").await;
    assert!(asked.buttons().contains(&"8 h".to_owned()));
    assert!(!asked.buttons().contains(&"12 h".to_owned()));
    alice.send_dm("12h").await;
    bot_says(&alice, "at most 8 hours").await;

    app = crate::helpers::restart(app).await;

    alice.send_dm("2 hours").await;
    bot_says(&alice, "Why do you need it?").await;
    alice
        .send_dm("incident 4711 <!channel> *now* <https://evil.example|click>")
        .await;
    let summary = bot_says(&alice, "Ready to submit").await;
    assert!(
        !summary.visible_text().contains("<!channel>")
            && !summary.visible_text().contains("<https://evil"),
        "her text is shown, never as markup: {}",
        summary.visible_text()
    );
    // Clicks edited the step in place; each typed answer got the next step as a new
    // message below it, and the one above lost its buttons.
    let steps = from_bot(&alice);
    let texts: Vec<String> = steps.iter().map(|m| m.visible_text()).collect();
    assert_eq!(steps.len(), 4, "{texts:#?}");
    assert_eq!(steps.last().map(|m| m.ts.clone()), Some(summary.ts.clone()));
    assert!(summary.ts > first.ts);
    for earlier in &steps[..steps.len() - 1] {
        assert!(earlier.buttons().is_empty(), "{texts:#?}");
        assert!(
            earlier.visible_text().contains("the next step is below"),
            "{texts:#?}"
        );
    }
    alice.click("Submit").await.expect("submits");
    let card = dm_containing(&bob, "incident 4711").await;
    assert!(card.visible_text().contains("2 h"));
    assert!(!card.visible_text().contains("<!channel>"));
    app.stop().await;
}

#[tokio::test]
async fn other_bots_edits_deletions_and_channel_messages_are_ignored() {
    let app = spawn_app().await;
    let alice = app.sim.person("alice");
    let dm = format!("D{}", &alice.id()[1..]);
    let complete = "request aws-prod readonly for 2h because x";
    for event in [
        json!({"type": "message", "subtype": "bot_message", "bot_id": "B0OTHERBOT", "channel": dm, "channel_type": "im", "text": complete, "ts": "1763630100.000100"}),
        json!({"type": "message", "user": BOT, "bot_id": "B0C1BOT001", "channel": dm, "channel_type": "im", "text": complete, "ts": "1763630100.000200"}),
        json!({"type": "message", "subtype": "message_changed", "channel": dm, "channel_type": "im", "hidden": true, "ts": "1763630100.000300",
               "message": {"type": "message", "user": alice.id(), "text": complete, "ts": "1763630100.000050", "edited": {"user": alice.id(), "ts": "1763630100.000300"}}}),
        json!({"type": "message", "subtype": "message_deleted", "channel": dm, "channel_type": "im", "hidden": true, "deleted_ts": "1763630100.000050", "ts": "1763630100.000400"}),
        json!({"type": "message", "user": alice.id(), "channel": "C0GENERAL1", "channel_type": "channel", "text": complete, "ts": "1763630100.000500"}),
    ] {
        app.sim.push_event(event).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        app.sim.calls_to("chat.postMessage").is_empty(),
        "c1bot answered something it must not read"
    );
    // Her own new message is read.
    alice.send_dm(complete).await;
    bot_says(&alice, "Ready to submit").await;
    app.stop().await;
}

#[tokio::test]
async fn help_status_and_cancel_work_in_the_dm() {
    let app = spawn_app().await;
    let alice = app.sim.person("alice");
    alice.send_dm("help").await;
    bot_says(&alice, "/c1 request").await;
    alice.send_dm("status").await;
    eventually(WAIT, "status is posted", || async {
        from_bot(&alice).len() == 2
    })
    .await;
    alice.send_dm("hi").await;
    let asked = bot_says(&alice, "Which resource").await;
    alice.send_dm("cancel").await;
    let cancelled = bot_says(&alice, "Cancelled. Nothing was submitted.").await;
    assert_eq!(cancelled.ts, asked.ts);
    alice.send_dm("cancel").await;
    bot_says(&alice, "There is nothing to cancel.").await;
    assert!(requests_submitted(&app).await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_unanswered_conversation_expires_and_says_so() {
    let app = spawn_app().await;
    let alice = app.sim.person("alice");
    alice.send_dm("hi").await;
    let asked = bot_says(&alice, "Which resource").await;
    alice.click("Orders database").await.expect("picks");
    bot_says(&alice, "Which access on Orders database?").await;
    advance(&app, Duration::from_secs(31 * 60));
    let expired = bot_says(&alice, "expired after 30 min").await;
    assert_eq!(expired.ts, asked.ts);
    assert!(expired.buttons().is_empty());
    // An old button does nothing after that.
    let _ = alice.click_in(&asked.channel, &asked.ts, "ReadOnly").await;
    alice.send_dm("readonly").await;
    bot_says(&alice, "Which resource").await;
    app.stop().await;
}

#[tokio::test]
async fn hostile_text_typed_as_a_name_is_quoted_harmlessly() {
    let app = spawn_app().await;
    let alice = app.sim.person("alice");
    alice.send_dm("hi").await;
    bot_says(&alice, "Which resource").await;
    alice
        .send_dm("<!here> <@U0BOB00001> <https://evil.example|prod> &lt;b&gt;")
        .await;
    let answer = bot_says(&alice, "I don't know the resource").await;
    let text = answer.visible_text();
    for markup in ["<!here>", "<@U0BOB00001>", "<https://evil"] {
        assert!(!text.contains(markup), "{markup} reached mrkdwn: {text}");
    }
    assert!(app.sim.person("bob").dms().is_empty(), "bob was not pinged");
    app.stop().await;
}

#[tokio::test]
async fn a_person_writing_faster_than_slack_delivers_queues_at_most_the_cap() {
    let app = crate::helpers::spawn_app().await;
    let alice = app.sim.person("alice");
    // Her DM with c1bot, as her first message shows it.
    let first = alice.send_dm("hello?").await;
    assert!(first.ack(WAIT).await.is_some());
    let channel = alice.dms().first().expect("her message").channel.clone();
    // Slack refuses every reply to alice's DM for now: they wait in the outbox.
    app.sim
        .faults()
        .http_error_to("chat.postMessage", &channel, 503, 100_000);
    for _ in 0..(c1bot::app::dm::QUEUED_REPLIES_CAP + 10) {
        let sent = alice.send_dm("help").await;
        assert!(sent.ack(WAIT).await.is_some());
    }
    let bot = app.bot.as_ref().expect("running");
    crate::helpers::eventually(
        WAIT,
        "the messages past the cap are not answered",
        || async { bot.metrics.value("c1bot_dm_replies_capped_total", &[]) >= 10.0 },
    )
    .await;
    assert!(bot.store.outbox_queued_to(&channel) <= c1bot::app::dm::QUEUED_REPLIES_CAP);
    // Someone else's card is not held back by alice's queue.
    crate::requests::request(
        &app,
        "carol",
        "AWS production",
        "ReadOnly",
        "1 h",
        "unrelated",
    )
    .await;
    crate::requests::dm_containing(&app.sim.person("bob"), "unrelated").await;
    app.stop().await;
}

#[tokio::test]
async fn gibberish_to_start_is_answered_with_i_did_not_understand_and_the_choices() {
    let app = spawn_app().await;
    let alice = app.sim.person("alice");
    alice.send_dm("asdf qwer").await;
    let asked = bot_says(&alice, "Which resource do you need access to?").await;
    let text = asked.visible_text();
    assert!(text.contains("I didn't understand \"asdf qwer\""), "{text}");
    assert!(asked.buttons().contains(&"AWS production".to_owned()));
    // A greeting is no misunderstanding.
    let bob = app.sim.person("bob");
    bob.send_dm("hi").await;
    let greeted = bot_says(&bob, "Which resource do you need access to?").await;
    assert!(!greeted.visible_text().contains("didn't understand"));
    app.stop().await;
}
