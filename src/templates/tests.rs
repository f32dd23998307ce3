//! Renders every template in `blocks/` with ordinary and hostile values and checks
//! Block Kit's limits and escaping; plus load and render errors.

use serde_json::{json, Value};

use super::*;

fn shipped() -> Templates {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("blocks");
    Templates::load(&dir).unwrap_or_else(|e| panic!("{e}"))
}

const HOSTILE: [&str; 8] = [
    "<!channel> please look",
    "<!here>",
    "<@U0ALICE001> hi",
    "\"}]}, {\"type\": \"actions\"",
    "<https://evil.example|ok> & <mailto:x@y|z>",
    "نیاز به دسترسی دارم ‏שלום‎ 👋🏽 🇩🇪",
    "{{justification}} {{blocks:x:y}}",
    "*bold* _it_ ~s~ `code` &amp; &lt;",
];

/// Every variable of `template` set to `text`, every list to `items` copies of its
/// item template filled the same way, every options slot to `choices` options.
fn vars_for(templates: &Templates, name: &str, text: &str, items: usize, choices: usize) -> Vars {
    let template = templates.get(name).expect("template exists");
    let mut vars = Vars::new();
    for var in &template.placeholders.vars {
        vars = vars.text(var, text);
    }
    for list in &template.placeholders.lists {
        let item = vars_for(templates, &list.item_template, text, 0, choices.max(1));
        vars = vars.list(&list.slot, vec![item; items]);
    }
    for slot in &template.placeholders.options {
        let options = (0..choices)
            .map(|i| Choice {
                text: format!("{text} {i}"),
                value: format!("{i}:{text}"),
                selected: i == 1,
            })
            .collect();
        vars = vars.options(slot, options);
    }
    vars
}

/// Every string Slack reads as mrkdwn: mrkdwn text objects and a message's `text`.
fn mrkdwn_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                if let Some(Value::String(text)) = map.get("text") {
                    out.push(text.clone());
                }
            }
            map.values().for_each(|v| mrkdwn_strings(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| mrkdwn_strings(v, out)),
        _ => {}
    }
}

fn top_level_blocks(rendered: &Value) -> usize {
    rendered
        .get("blocks")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

#[test]
fn the_shipped_folder_holds_every_required_template() {
    let templates = shipped();
    for spec in specs::SPECS {
        assert!(templates.get(spec.name).is_some(), "{}", spec.name);
    }
    assert_eq!(
        templates.get("request_modal").map(|t| t.kind),
        Some(Kind::Modal)
    );
    assert_eq!(templates.get("home").map(|t| t.kind), Some(Kind::Home));
    assert_eq!(templates.get("status").map(|t| t.kind), Some(Kind::Message));
    assert_eq!(
        templates.get("home_task_item").map(|t| t.kind),
        Some(Kind::Blocks)
    );
}

#[test]
fn every_template_renders_hostile_values_harmlessly_within_limits() {
    let templates = shipped();
    let long = "x<y & z ".repeat(700); // 5,600 characters
    let mut values: Vec<&str> = HOSTILE.to_vec();
    values.push(&long);
    for name in templates.names().filter(|n| !n.ends_with("_item")) {
        for text in &values {
            let vars = vars_for(&templates, name, text, 3, 5);
            let rendered = templates
                .render(name, &vars)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let kind = templates.get(name).expect("exists").kind;
            assert_eq!(violations(kind, &rendered), Vec::<String>::new(), "{name}");

            let wire = serde_json::to_string(&rendered).expect("serializes");
            let back: Value = serde_json::from_str(&wire).expect("valid JSON");
            assert_eq!(back, rendered, "{name}");

            let mut mrkdwn = Vec::new();
            mrkdwn_strings(&rendered, &mut mrkdwn);
            if kind == Kind::Message {
                mrkdwn.push(rendered["text"].as_str().expect("text").to_owned());
            }
            for shown in mrkdwn {
                assert!(
                    !shown.contains('<') && !shown.contains('>'),
                    "{name}: unescaped in mrkdwn: {shown}"
                );
                if !text.contains("{{") {
                    assert!(!shown.contains("{{"), "{name}: placeholder left: {shown}");
                }
            }
            // The structure is the template's, whatever the values.
            assert_eq!(
                top_level_blocks(&rendered),
                top_level_blocks(
                    &templates
                        .render(name, &vars_for(&templates, name, "ok", 3, 5))
                        .expect("renders")
                ),
                "{name}"
            );
        }
    }
}

#[test]
fn an_approval_card_mentions_c1bots_own_tokens_and_escapes_user_text() {
    let templates = shipped();
    let vars = vars_for(&templates, "approval_request", "x", 0, 0)
        .mention("requester", "U0ALICE001")
        .mentions("approvers", &["U0BOB00001", "S0SECOPS01"])
        .date("requested_at", 1_763_630_043)
        .text("justification", "<!channel> <@U123> <https://evil|ok> \"}]")
        .mrkdwn("form_fields", Mrkdwn::built("\n*Ticket:* INC-1"))
        .text("request_id", "REQ-1042")
        .text("resource", "{{justification}}");
    let card = templates
        .render("approval_request", &vars)
        .expect("renders");
    // A value is never expanded again.
    assert_eq!(
        card["blocks"][1]["fields"][0]["text"],
        "*Resource*\n{{justification}}"
    );
    assert_eq!(
        card["blocks"][0]["text"]["text"],
        ":key: <@U0ALICE001> requests access  ·  *REQ-1042*"
    );
    assert_eq!(
        card["blocks"][2]["text"]["text"],
        "*Why*\n&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil|ok&gt; \"}]\n*Ticket:* INC-1"
    );
    let context = card["blocks"][3]["elements"][0]["text"]
        .as_str()
        .expect("text");
    assert!(
        context.contains("<@U0BOB00001>, <!subteam^S0SECOPS01>"),
        "{context}"
    );
    assert!(
        context.contains("<!date^1763630043^{date_short_pretty} at {time}|2025-11-20 09:14 UTC>"),
        "{context}"
    );
    let buttons = &card["blocks"][4]["elements"];
    assert_eq!(buttons[0]["action_id"], "approve");
    assert_eq!(buttons[0]["style"], "primary");
    assert_eq!(buttons[0]["value"], "REQ-1042");
    assert_eq!(buttons[1]["action_id"], "deny");
    assert_eq!(buttons[1]["style"], "danger");
    assert!(card["text"]
        .as_str()
        .expect("text")
        .starts_with("<@U0ALICE001> requests"));
}

#[test]
fn a_5000_character_justification_is_cut_with_an_ellipsis() {
    let templates = shipped();
    let vars =
        vars_for(&templates, "approval_request", "x", 0, 0).text("justification", "é".repeat(5000));
    let card = templates
        .render("approval_request", &vars)
        .expect("renders");
    let why = card["blocks"][2]["text"]["text"].as_str().expect("text");
    assert_eq!(why.chars().count(), 3000);
    assert!(why.ends_with('…'));
}

#[test]
fn plain_text_is_not_escaped_but_is_cut_to_its_limit() {
    let templates = Templates::from_sources([(
        "m",
        r#"{"type": "modal", "title": {"type": "plain_text", "text": "{{t}}"}, "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "{{t}}"}}]}"#,
    )])
    .expect("valid");
    let modal = templates
        .render(
            "m",
            &Vars::new().text("t", "<b> & a very long title indeed"),
        )
        .expect("renders");
    assert_eq!(modal["title"]["text"], "<b> & a very long title…");
    assert_eq!(
        modal["title"]["text"].as_str().map(|t| t.chars().count()),
        Some(24)
    );
    assert_eq!(
        modal["blocks"][0]["text"]["text"],
        "<b> & a very long title indeed"
    );
}

#[test]
fn the_request_modal_has_the_fields_the_workflow_reads() {
    let templates = shipped();
    let vars = Vars::new()
        .text("private_metadata", "{\"channel\":\"C0GENERAL1\"}")
        .text("resource_placeholder", "Search: aws")
        .options(
            "entitlements",
            vec![Choice {
                text: "ReadOnly".into(),
                value: "aws-prod:readonly".into(),
                selected: false,
            }],
        )
        .options(
            "durations",
            vec![
                Choice {
                    text: "1 h".into(),
                    value: "3600".into(),
                    selected: true,
                },
                Choice {
                    text: "4 h".into(),
                    value: "14400".into(),
                    selected: false,
                },
            ],
        );
    let modal = templates.render("request_modal", &vars).expect("renders");
    assert_eq!(modal["callback_id"], "c1_request");
    assert_eq!(modal["title"]["text"], "Request access");
    assert_eq!(modal["submit"]["text"], "Submit");
    assert_eq!(modal["close"]["text"], "Cancel");
    let block = |id: &str| -> Value {
        modal["blocks"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["block_id"] == id).cloned())
            .unwrap_or_else(|| panic!("no block {id}"))
    };
    let resource = block("resource");
    assert_eq!(resource["dispatch_action"], true);
    assert_eq!(resource["element"]["type"], "external_select");
    assert_eq!(resource["element"]["action_id"], "resource_select");
    assert_eq!(resource["element"]["min_query_length"], 0);
    assert_eq!(block("entitlement")["element"]["type"], "static_select");
    let duration = block("duration")["element"].clone();
    assert_eq!(duration["options"].as_array().map(Vec::len), Some(2));
    assert_eq!(duration["initial_option"]["value"], "3600");
    let justification = block("justification")["element"].clone();
    assert_eq!(justification["type"], "plain_text_input");
    assert_eq!(justification["multiline"], true);
    assert_eq!(modal["private_metadata"], "{\"channel\":\"C0GENERAL1\"}");
}

#[test]
fn long_lists_are_cut_to_the_block_budget_with_a_count_of_the_rest() {
    let templates = shipped();
    let home = templates
        .render("home", &vars_for(&templates, "home", "x", 80, 0))
        .expect("renders");
    let blocks = home["blocks"].as_array().expect("blocks");
    assert!(blocks.len() <= VIEW_BLOCKS, "{}", blocks.len());
    let more: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b["elements"][0]["text"].as_str())
        .filter(|t| t.starts_with("… and "))
        .collect();
    // Nine lists in Home: admins' notices, my requests, to decide, reviews waiting,
    // grant tasks, revoke tasks, overdue revocations, my access, access reviews I own.
    assert_eq!(more.len(), 9, "{more:?}");
    assert!(blocks.last().is_some_and(|b| b["elements"][0]["text"]
        .as_str()
        .is_some_and(|t| t.starts_with("… and "))));

    let status = templates
        .render("status", &vars_for(&templates, "status", "x", 60, 0))
        .expect("renders");
    assert!(top_level_blocks(&status) <= MESSAGE_BLOCKS);
    assert!(violations(Kind::Message, &status).is_empty());
}

#[test]
fn a_short_list_is_shown_whole_and_an_empty_one_shows_its_empty_state() {
    let templates = shipped();
    let item = vars_for(&templates, "status_request_item", "x", 0, 0).text("request_id", "REQ-7");
    let vars = vars_for(&templates, "status", "x", 0, 0)
        .list("open_requests", vec![item.clone(), item])
        .list("active_grants", Vec::new());
    let status = templates.render("status", &vars).expect("renders");
    let blocks = status["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), 5);
    assert_eq!(blocks[1]["accessory"]["value"], "REQ-7");
    assert_eq!(
        blocks[4]["text"]["text"],
        "_You hold no access granted through c1bot._"
    );
    assert!(blocks[4].get("block_id").is_none());
}

#[test]
fn a_missing_variable_and_an_unknown_template_are_named() {
    let templates = shipped();
    assert_eq!(
        templates.render("nope", &Vars::new()),
        Err(RenderError::UnknownTemplate("nope".into()))
    );
    let err = templates
        .render("usage", &Vars::new().text("command", "/c1"))
        .expect_err("intro missing");
    assert_eq!(err.to_string(), "template 'usage': no value for 'intro'");
    let err = templates
        .render(
            "status",
            &vars_for(&templates, "status", "x", 0, 0).text("open_requests", "oops"),
        )
        .expect_err("wrong kind");
    assert_eq!(
        err.to_string(),
        "template 'status': 'open_requests' must be a list (Vars::list)"
    );
    let err = templates
        .render(
            "request_modal",
            &vars_for(&templates, "request_modal", "x", 0, 0),
        )
        .expect_err("no options");
    assert!(
        err.to_string().contains("options 'durations' is empty")
            || err.to_string().contains("options 'entitlements' is empty"),
        "{err}"
    );
}

#[test]
fn load_errors_name_the_file_and_where_in_it() {
    let err = |name: &str, text: &str| {
        Templates::from_sources([(name, text)])
            .map(drop)
            .expect_err("invalid")
            .to_string()
    };
    assert_eq!(
        err("broken", "{\"blocks\": [\n  {\"type\": }\n]}"),
        "broken.json:2:12: invalid JSON: expected value"
    );
    assert_eq!(
        err("bad", r#"{"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi {{Name}}"}}]}"#),
        "bad.json:1: blocks[0].text.text: '{{Name}}' is not a placeholder: use {{name}} with lowercase letters, digits and '_'"
    );
    assert_eq!(
        err("what", r#"{"text": "no blocks"}"#),
        "what.json:1: not a template: expected a message {\"text\", \"blocks\"}, a view {\"type\": \"modal\" | \"home\"}, or an array of blocks"
    );
    assert_eq!(
        err("list", r#"{"text": "x", "blocks": [{"type": "section", "block_id": "{{blocks:rows:row_item}}", "text": {"type": "mrkdwn", "text": "none"}}]}"#),
        "list.json:1: list slot 'rows' names item template 'row_item', which is not a loaded array of blocks"
    );
    assert_eq!(
        err("quiet", r#"{"blocks": []}"#),
        "quiet.json: text: missing: a message needs a text fallback for notifications"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("usage.json"),
        r#"{"text": "x", "blocks": []}"#,
    )
    .expect("write");
    let missing = Templates::load(dir.path())
        .map(drop)
        .expect_err("incomplete")
        .to_string();
    assert!(
        missing.contains("request_modal.json: missing: c1bot sends this template")
            && missing.contains("usage.json:1: \"blocks\" is empty"),
        "{missing}"
    );
}

#[test]
fn templates_are_a_cheap_clone_sharing_one_copy() {
    let templates = shipped();
    let copy = templates.clone();
    assert!(Arc::ptr_eq(&templates.inner, &copy.inner));
    let _: Value = json!(null);
}
