//! Web API: auth and token types, encodings, faults, chat, views, conversations.

use std::time::Duration;

use serde_json::{json, Value};
use slack_morphism::api::{SlackApiChatPostMessageResponse, SlackApiConversationsCreateResponse};

use super::harness::*;

#[tokio::test]
async fn tokens_are_checked_per_method() {
    let sim = start().await;
    let (app, bot) = (sim.app_token(), sim.bot_token());
    let cases: [(&str, Option<&str>, &str); 5] = [
        ("auth.test", None, "not_authed"),
        ("auth.test", Some("xoxb-nope"), "invalid_auth"),
        ("chat.postMessage", Some(&app), "not_allowed_token_type"),
        (
            "apps.connections.open",
            Some(&bot),
            "not_allowed_token_type",
        ),
        ("chat.fly", Some(&bot), "unknown_method"),
    ];
    for (method, token, want) in cases {
        let (status, headers, body) = call(
            &sim,
            method,
            token,
            json!({"channel": "C0GENERAL1", "text": "x"}),
        )
        .await;
        assert_eq!(
            (status, body["ok"].clone(), body["error"].clone()),
            (200, json!(false), json!(want)),
            "{method}"
        );
        assert!(headers["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("application/json"));
    }
    let (_, headers, body) = call(&sim, "auth.test", Some(&bot), json!({})).await;
    assert_eq!(body["user_id"], "U0C1BOT001");
    assert!(headers["x-oauth-scopes"]
        .to_str()
        .unwrap_or("")
        .contains("chat:write"));
}

#[tokio::test]
async fn a_token_in_a_json_body_is_not_auth_but_in_a_form_it_is() {
    let sim = start().await;
    let (_, _, body) = call(&sim, "auth.test", None, json!({"token": sim.bot_token()})).await;
    assert_eq!(body["error"], "not_authed");
    let form = [
        ("token", sim.bot_token()),
        ("channel", "U0ALICE001".into()),
        (
            "blocks",
            r#"[{"type":"section","text":{"type":"mrkdwn","text":"hello *alice*"}}]"#.into(),
        ),
    ];
    let resp = reqwest::Client::new()
        .post(format!("{}chat.postMessage", sim.api_url()))
        .form(&form)
        .send()
        .await
        .expect("post");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(
        sim.person("alice").last_dm().expect("dm").visible_text(),
        "hello *alice*"
    );
    let get = reqwest::Client::new()
        .get(format!("{}users.info?user=U0BOB00001", sim.api_url()))
        .bearer_auth(sim.bot_token())
        .send()
        .await
        .expect("get");
    let body: Value = get.json().await.expect("json");
    assert_eq!(body["user"]["tz"], "America/New_York");
    assert_eq!(body["user"]["profile"]["email"], "bob@acme.example");
}

#[tokio::test]
async fn injected_rate_limit_is_429_with_retry_after_then_clears() {
    let sim = start().await;
    sim.faults().rate_limit("chat.postMessage", 7, 1);
    let args = json!({"channel": "C0GENERAL1", "text": "x"});
    let (status, headers, body) = call(
        &sim,
        "chat.postMessage",
        Some(&sim.bot_token()),
        args.clone(),
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(body, json!({"ok": false, "error": "ratelimited"}));
    let (status, _, body) = call(&sim, "chat.postMessage", Some(&sim.bot_token()), args).await;
    assert_eq!((status, body["ok"].clone()), (200, json!(true)));
    let calls = sim.calls_to("chat.postMessage");
    assert_eq!(
        calls.iter().map(|c| c.http_status).collect::<Vec<_>>(),
        vec![429, 200]
    );
}

#[tokio::test]
async fn post_message_and_update_parse_as_slack_morphism_responses() {
    let sim = start().await;
    let blocks = json!([{"type": "section", "text": {"type": "mrkdwn", "text": "Request"}},
        {"type": "actions", "elements": [{"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"}, "value": "r1"}]}]);
    let body = bot(
        &sim,
        "chat.postMessage",
        json!({"channel": "U0BOB00001", "text": "Request", "blocks": blocks}),
    )
    .await;
    let parsed: SlackApiChatPostMessageResponse =
        serde_json::from_value(body.clone()).expect("slack-morphism parses");
    assert_eq!(parsed.channel.to_string(), "D0BOB00001");
    let upd = bot(
        &sim,
        "chat.update",
        json!({"channel": "D0BOB00001", "ts": body["ts"], "text": "Approved by Bob"}),
    )
    .await;
    assert_eq!(upd["ok"], true, "{upd}");
    let dm = sim.person("bob").last_dm().expect("dm");
    assert!(dm.edited);
    assert_eq!(dm.visible_text(), "Approved by Bob");
    let missing = bot(
        &sim,
        "chat.update",
        json!({"channel": "D0BOB00001", "ts": "1.2", "text": "x"}),
    )
    .await;
    assert_eq!(missing["error"], "message_not_found");
    let none = bot(&sim, "chat.postMessage", json!({"channel": "C0GENERAL1"})).await;
    assert_eq!(none["error"], "no_text");
    let private = bot(
        &sim,
        "chat.postMessage",
        json!({"channel": "G0INCIDENT", "text": "x"}),
    )
    .await;
    assert_eq!(private["error"], "not_in_channel");
    let eph = bot(
        &sim,
        "chat.postEphemeral",
        json!({"channel": "C0SECURITY", "user": "U0ALICE001", "text": "x"}),
    )
    .await;
    assert_eq!(eph["error"], "user_not_in_channel");
}

#[tokio::test]
async fn trigger_ids_are_single_use_and_expire() {
    let sim = start().await;
    let view = json!({"type": "modal", "title": {"type": "plain_text", "text": "Request access"}, "blocks": []});
    let fresh = sim.inner.world().new_trigger("U0ALICE001");
    let ok = bot(
        &sim,
        "views.open",
        json!({"trigger_id": fresh, "view": view}),
    )
    .await;
    assert_eq!(ok["ok"], true, "{ok}");
    for key in ["id", "team_id", "hash", "root_view_id", "app_id", "bot_id"] {
        assert!(ok["view"][key].is_string(), "{key}");
    }
    assert_eq!(ok["view"]["state"], json!({"values": {}}));
    let again = bot(
        &sim,
        "views.open",
        json!({"trigger_id": fresh, "view": view}),
    )
    .await;
    assert_eq!(again["error"], "exchanged_trigger_id");
    let unknown = bot(
        &sim,
        "views.open",
        json!({"trigger_id": "1.2.3", "view": view}),
    )
    .await;
    assert_eq!(unknown["error"], "invalid_trigger_id");
    let old = sim.inner.world().new_trigger("U0ALICE001");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let late = bot(&sim, "views.open", json!({"trigger_id": old, "view": view})).await;
    assert_eq!(late["error"], "expired_trigger_id");
}

#[tokio::test]
async fn views_are_validated_and_updates_check_the_hash() {
    let sim = start().await;
    let long = json!({"type": "modal", "title": {"type": "plain_text", "text": "A title that is far too long"}, "blocks": []});
    let t = sim.inner.world().new_trigger("U0ALICE001");
    let bad = bot(&sim, "views.open", json!({"trigger_id": t, "view": long})).await;
    assert_eq!(bad["error"], "invalid_arguments");
    let no_submit = json!({"type": "modal", "title": {"type": "plain_text", "text": "T"},
        "blocks": [{"type": "input", "label": {"type": "plain_text", "text": "Why"}, "element": {"type": "plain_text_input"}}]});
    let bad = bot(
        &sim,
        "views.open",
        json!({"trigger_id": t, "view": no_submit}),
    )
    .await;
    assert_eq!(bad["error"], "invalid_arguments");
    let good = json!({"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": []});
    let opened = bot(&sim, "views.open", json!({"trigger_id": t, "view": good})).await;
    let (id, hash) = (opened["view"]["id"].clone(), opened["view"]["hash"].clone());
    let upd = bot(
        &sim,
        "views.update",
        json!({"view_id": id, "hash": hash, "view": good}),
    )
    .await;
    assert_eq!(upd["ok"], true, "{upd}");
    let stale = bot(
        &sim,
        "views.update",
        json!({"view_id": id, "hash": hash, "view": good}),
    )
    .await;
    assert_eq!(stale["error"], "hash_conflict");
    let gone = bot(
        &sim,
        "views.update",
        json!({"view_id": "V404", "view": good}),
    )
    .await;
    assert_eq!(gone["error"], "not_found");
}

#[tokio::test]
async fn conversations_follow_slack_rules() {
    let sim = start().await;
    let bad = bot(&sim, "conversations.create", json!({"name": "Bad Name"})).await;
    assert_eq!(bad["error"], "invalid_name_specials");
    let created = bot(
        &sim,
        "conversations.create",
        json!({"name": "c1-review-q4"}),
    )
    .await;
    let parsed: SlackApiConversationsCreateResponse =
        serde_json::from_value(created.clone()).expect("parses");
    let id = parsed.channel.id.to_string();
    assert_eq!(
        bot(
            &sim,
            "conversations.create",
            json!({"name": "c1-review-q4"})
        )
        .await["error"],
        "name_taken"
    );
    let invited = bot(
        &sim,
        "conversations.invite",
        json!({"channel": id, "users": "U0ALICE001,U0BOB00001"}),
    )
    .await;
    assert_eq!(invited["ok"], true, "{invited}");
    let again = bot(
        &sim,
        "conversations.invite",
        json!({"channel": id, "users": "U0ALICE001,U0ERIN0001"}),
    )
    .await;
    assert_eq!(again["errors"][0]["error"], "already_in_channel");
    assert_eq!(again["errors"][1]["error"], "cant_invite");
    let not_member = bot(
        &sim,
        "conversations.invite",
        json!({"channel": "C0SECURITY", "users": "U0ALICE001"}),
    )
    .await;
    assert_eq!(not_member["error"], "not_in_channel");
    let private = bot(&sim, "conversations.join", json!({"channel": "G0INCIDENT"})).await;
    assert_eq!(private["error"], "method_not_supported_for_channel_type");
    assert_eq!(
        bot(&sim, "conversations.join", json!({"channel": "C0SECURITY"})).await["ok"],
        true
    );
    let twice = bot(&sim, "conversations.join", json!({"channel": "C0SECURITY"})).await;
    assert_eq!(twice["warning"], "already_in_channel");
    let dm = bot(&sim, "conversations.open", json!({"users": "U0CAROL001"})).await;
    assert_eq!(dm["channel"]["id"], "D0CAROL001");
    assert_eq!(
        bot(&sim, "conversations.open", json!({"users": "U0ERIN0001"})).await["error"],
        "user_disabled"
    );
    let page = bot(&sim, "conversations.list", json!({"limit": 1})).await;
    assert_eq!(page["channels"].as_array().map(Vec::len), Some(1));
    let cursor = page["response_metadata"]["next_cursor"].clone();
    let next = bot(
        &sim,
        "conversations.list",
        json!({"limit": 10, "cursor": cursor}),
    )
    .await;
    assert_eq!(next["response_metadata"]["next_cursor"], "");
    assert_eq!(
        bot(
            &sim,
            "users.lookupByEmail",
            json!({"email": "no@acme.example"})
        )
        .await["error"],
        "users_not_found"
    );
    assert_eq!(
        bot(
            &sim,
            "usergroups.users.list",
            json!({"usergroup": "S0SECOPS01"})
        )
        .await["users"],
        json!(["U0BOB00001", "U0CAROL001"])
    );
}

#[tokio::test]
async fn messages_posted_before_the_start_are_in_the_dm_and_can_be_updated_by_ts() {
    let sim = start().await;
    let texts: Vec<String> = (0..50)
        .map(|n| format!("Your access REQ-{n} is active."))
        .collect();
    let (dm, stamps) = sim.posted_before("U0BOB00001", &texts);
    assert_eq!(dm, "D0BOB00001");
    assert_eq!(sim.person("bob").dms().len(), 50);
    // One in the middle of many, found by its ts.
    let upd = bot(
        &sim,
        "chat.update",
        json!({"channel": dm, "ts": stamps[31], "text": "Your access REQ-31 ended."}),
    )
    .await;
    assert_eq!(upd["ok"], true, "{upd}");
    let dms = sim.person("bob").dms();
    assert_eq!(dms[31].visible_text(), "Your access REQ-31 ended.");
    assert!(dms[31].edited);
    assert!(!dms[30].edited && !dms[32].edited);
}
