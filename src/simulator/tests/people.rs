//! People: slash commands, clicks, modals (fill / suggest / submit / close), DMs.

use std::time::Duration;

use serde_json::{json, Value};
use slack_morphism::prelude::*;

use super::harness::*;
use crate::simulator::SubmitOutcome;

fn request_modal() -> Value {
    json!({"type": "modal", "callback_id": "c1_request", "notify_on_close": true,
    "title": {"type": "plain_text", "text": "Request access"},
    "submit": {"type": "plain_text", "text": "Submit"},
    "blocks": [
        {"type": "input", "block_id": "justification", "label": {"type": "plain_text", "text": "Why"},
         "element": {"type": "plain_text_input", "action_id": "justification_input"}},
        {"type": "input", "block_id": "duration", "label": {"type": "plain_text", "text": "Duration"},
         "element": {"type": "static_select", "action_id": "duration_select", "options": [
            {"text": {"type": "plain_text", "text": "1 hour"}, "value": "PT1H"},
            {"text": {"type": "plain_text", "text": "4 hours"}, "value": "PT4H"}]}},
        {"type": "input", "block_id": "resource", "label": {"type": "plain_text", "text": "Resource"},
         "element": {"type": "external_select", "action_id": "resource_select"}},
        {"type": "input", "block_id": "approver", "optional": true, "label": {"type": "plain_text", "text": "Approver"},
         "element": {"type": "users_select", "action_id": "approver_select"}}
    ]})
}

/// The scripted bot: acks commands with a text, answers suggestions, refuses a
/// short justification once, then closes the modal.
fn responder() -> Responder {
    Box::new(|env: &Value| {
        let p = &env["payload"];
        match (env["type"].as_str(), p["type"].as_str()) {
            (Some("slash_commands"), _) if p["text"] == "silent" => None,
            (Some("slash_commands"), _) => Some(Some(json!({"text": "Opening the request form…"}))),
            (_, Some("block_suggestion")) => Some(Some(json!({"options": [
                {"text": {"type": "plain_text", "text": "prod-db (read)"}, "value": "res:prod-db:read"},
                {"text": {"type": "plain_text", "text": "prod-db (write)"}, "value": "res:prod-db:write"}]}))),
            (_, Some("view_submission")) => {
                let why =
                    &p["view"]["state"]["values"]["justification"]["justification_input"]["value"];
                if why.as_str().is_some_and(|w| w.len() < 10) {
                    Some(Some(
                        json!({"response_action": "errors", "errors": {"justification": "Too short"}}),
                    ))
                } else if why == "bogus ack please" {
                    Some(Some(json!({"text": "not a response_action"})))
                } else {
                    Some(None)
                }
            }
            _ => Some(None),
        }
    })
}

#[tokio::test]
async fn a_slash_command_reaches_the_app_as_slack_sends_it_and_its_answer_is_shown() {
    let sim = start().await;
    let bot_app = Bot::spawn(&sim, responder()).await;
    let alice = sim.person("alice");
    let out = alice.slash("/c1", "request prod-db", "#general").await;
    assert!(out.acked);
    assert_eq!(out.response_text, "Opening the request form…");
    assert_eq!(
        alice.ephemerals().last().map(|m| m.text.clone()).as_deref(),
        Some("Opening the request form…")
    );
    let env = bot_app.seen("slash_commands").pop().expect("envelope");
    let params: EnvelopeParams = serde_json::from_value(env.clone()).expect("params");
    assert!(params.accepts_response_payload);
    let cmd: SlackCommandEvent =
        serde_json::from_value(env["payload"].clone()).expect("slack-morphism parses");
    assert_eq!(cmd.channel_id.to_string(), "C0GENERAL1");
    assert_eq!(cmd.trigger_id.to_string(), out.trigger_id);
}

#[tokio::test]
async fn an_unacked_slash_command_is_an_error_the_person_sees() {
    let sim = start().await;
    let _bot = Bot::spawn(&sim, responder()).await;
    let out = sim.person("bob").slash("/c1", "silent", "C0GENERAL1").await;
    assert!(!out.acked);
    let errors = sim.person_errors();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.contains("operation_timeout"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn clicking_a_button_sends_block_actions_like_slack() {
    let sim = start().await;
    let bot_app = Bot::spawn(&sim, responder()).await;
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "Alice asks for prod-db"}},
        {"type": "actions", "block_id": "decision", "elements": [
            {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"}, "value": "req_1"},
            {"type": "button", "action_id": "deny", "text": {"type": "plain_text", "text": "Deny"}, "value": "req_1"}]}]);
    let posted = bot(
        &sim,
        "chat.postMessage",
        json!({"channel": "U0BOB00001", "text": "Request", "blocks": blocks}),
    )
    .await;
    let bob = sim.person("bob");
    assert_eq!(
        bob.last_dm().expect("dm").buttons(),
        vec!["Approve", "Deny"]
    );
    assert!(
        sim.person("alice").click("Approve").await.is_err(),
        "not visible to alice"
    );
    let out = bob.click("Approve").await.expect("click");
    assert!(out.acked);
    let forged = bob
        .click_with_value("Deny", "req_999")
        .await
        .expect("forged click");
    assert!(forged.acked);
    let envs = bot_app.seen("block_actions");
    let ev: SlackInteractionEvent =
        serde_json::from_value(envs[0]["payload"].clone()).expect("slack-morphism parses");
    let SlackInteractionEvent::BlockActions(actions) = ev else {
        panic!("not block_actions")
    };
    let action = &actions.actions.expect("actions")[0];
    assert_eq!(
        (action.action_id.to_string(), action.value.as_deref()),
        ("approve".into(), Some("req_1"))
    );
    assert_eq!(envs[0]["payload"]["container"]["message_ts"], posted["ts"]);
    assert_eq!(envs[0]["accepts_response_payload"], false);
    assert_eq!(envs[1]["payload"]["actions"][0]["value"], "req_999");
}

#[tokio::test]
async fn a_modal_is_filled_by_labels_validated_and_submitted() {
    let sim = start().await;
    let bot_app = Bot::spawn(&sim, responder()).await;
    let alice = sim.person("alice");
    let out = alice.slash("/c1", "request", "general").await;
    let opened = bot(
        &sim,
        "views.open",
        json!({"trigger_id": out.trigger_id, "view": request_modal()}),
    )
    .await;
    assert_eq!(opened["ok"], true, "{opened}");
    alice
        .wait_for_modal(Duration::from_secs(1))
        .await
        .expect("modal open");
    alice.fill("Why", "short").await.expect("fill why");
    alice
        .fill("Duration", "4 hours")
        .await
        .expect("fill duration");
    assert!(alice.fill("Duration", "9 years").await.is_err());
    alice
        .fill("Resource", "write")
        .await
        .expect("fill via suggestion");

    let suggestion = bot_app
        .seen("block_suggestion")
        .pop()
        .expect("suggestion sent");
    let ev: SlackInteractionEvent =
        serde_json::from_value(suggestion["payload"].clone()).expect("suggestion parses");
    assert!(matches!(ev, SlackInteractionEvent::BlockSuggestion(_)));

    let first = alice.submit().await.expect("submit");
    let want = [("justification".to_string(), "Too short".to_string())]
        .into_iter()
        .collect();
    assert_eq!(first, SubmitOutcome::Errors(want));
    assert!(alice.modal().is_some());

    alice
        .fill("Why", "Incident INC-4411 needs read access")
        .await
        .expect("refill");
    assert_eq!(alice.submit().await.expect("submit"), SubmitOutcome::Closed);
    assert!(alice.modal().is_none());

    let sub = bot_app.seen("view_submission").pop().expect("submission");
    let ev: SlackInteractionEvent =
        serde_json::from_value(sub["payload"].clone()).expect("view_submission parses");
    let SlackInteractionEvent::ViewSubmission(vs) = ev else {
        panic!("not view_submission")
    };
    let values = &sub["payload"]["view"]["state"]["values"];
    assert_eq!(
        values["resource"]["resource_select"]["selected_option"]["value"],
        "res:prod-db:write"
    );
    assert_eq!(
        values["duration"]["duration_select"]["selected_option"]["value"],
        "PT4H"
    );
    assert_eq!(
        values["approver"]["approver_select"],
        json!({"type": "users_select", "selected_user": null})
    );
    assert!(vs.view.state_params.state.is_some());
    assert!(sim.person_errors().is_empty(), "{:?}", sim.person_errors());
}

#[tokio::test]
async fn an_ack_slack_would_refuse_fails_the_submission() {
    let sim = start().await;
    let bot_app = Bot::spawn(&sim, responder()).await;
    let alice = sim.person("alice");
    let trigger = sim.inner.world().new_trigger("U0ALICE001");
    bot(
        &sim,
        "views.open",
        json!({"trigger_id": trigger, "view": request_modal()}),
    )
    .await;
    alice.fill("Why", "bogus ack please").await.expect("fill");
    alice.fill("Duration", "1 hour").await.expect("fill");
    alice
        .fill("Resource", "prod-db (read)")
        .await
        .expect("fill");
    let out = alice.submit().await.expect("submit");
    assert!(matches!(out, SubmitOutcome::Failed(_)), "{out:?}");
    assert!(alice.modal().is_some());
    assert_eq!(sim.person_errors().len(), 1);
    alice.close_modal().await;
    assert!(alice.modal().is_none());
    sim.wait_for(Duration::from_secs(1), |_| {
        !bot_app.seen("view_closed").is_empty()
    })
    .await
    .expect("view_closed sent");
}

#[tokio::test]
async fn dms_and_app_home_reach_the_app_as_events() {
    let sim = start().await;
    let bot_app = Bot::spawn(&sim, responder()).await;
    let carol = sim.person("carol");
    let h = carol.send_dm("help").await;
    assert!(h.ack(Duration::from_secs(1)).await.is_some());
    let home = json!({"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Your requests"}}]});
    assert_eq!(
        bot(
            &sim,
            "views.publish",
            json!({"user_id": "U0CAROL001", "view": home})
        )
        .await["ok"],
        true
    );
    assert_eq!(carol.home().expect("home")["type"], "home");
    let h = carol.open_app_home().await;
    assert!(h.ack(Duration::from_secs(1)).await.is_some());
    let events = bot_app.seen("events_api");
    assert_eq!(events[0]["payload"]["event"]["channel_type"], "im");
    assert_eq!(events[1]["payload"]["event"]["type"], "app_home_opened");
    assert_eq!(carol.dms().len(), 1);
}
