//! Admins' edits that break what the code gives a template are refused at load, each
//! with its file and line.

use std::path::Path;

use super::super::Templates;

/// The shipped `blocks/` with `file` replaced by `edit(original)`; the problems
/// `Templates::load` reports (empty when it loads).
fn problems_after(file: &str, edit: impl Fn(&str) -> String) -> Vec<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("blocks");
    for entry in std::fs::read_dir(&shipped).expect("blocks") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_owned();
        let text = std::fs::read_to_string(&path).expect("text");
        let text = if name.to_str() == Some(file) {
            edit(&text)
        } else {
            text
        };
        std::fs::write(dir.path().join(name), text).expect("copy");
    }
    match Templates::load(dir.path()) {
        Ok(_) => Vec::new(),
        Err(error) => error
            .problems()
            .into_iter()
            .map(|p| p.replace(&format!("{}/", dir.path().display()), ""))
            .collect(),
    }
}

fn replaced(from: &'static str, to: &'static str) -> impl Fn(&str) -> String {
    move |text| {
        assert!(text.contains(from), "{from:?}");
        text.replacen(from, to, 1)
    }
}

#[test]
fn the_shipped_templates_meet_their_specs() {
    assert_eq!(problems_after("none", str::to_owned), Vec::<String>::new());
}

#[test]
fn an_unknown_value_is_named_with_its_line() {
    let problems = problems_after(
        "task_closed.json",
        replaced(
            "{{outcome}} {{by}} on {{at}}",
            "{{outcome}} {{who}} on {{at}}",
        ),
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("task_closed.json:11: unknown value {{who}}: c1bot gives this template {{summary}}, {{request_id}}"),
        "{problems:?}"
    );
}

#[test]
fn an_empty_blocks_array_is_refused_with_its_line() {
    let problems = problems_after("task_closed.json", |_| {
        "{\n  \"text\": \"{{summary}} ({{request_id}}): {{outcome}}\",\n  \"blocks\": []\n}\n"
            .to_owned()
    });
    assert_eq!(
        problems,
        ["task_closed.json:3: \"blocks\" is empty: people would see only the notification text; keep at least one block"]
    );
}

#[test]
fn a_button_that_no_longer_names_its_request_is_refused() {
    let problems = problems_after(
        "approval_request.json",
        replaced("\"value\": \"{{request_id}}\"", "\"value\": \"REQ\""),
    );
    assert_eq!(
        problems,
        ["approval_request.json:31: the button 'approve' has no {{request_id}} in its value: c1bot would not know what a click is about"]
    );
}

#[test]
fn a_button_no_handler_routes_is_refused_and_a_link_button_is_not() {
    let escalate = r#"{
          "type": "button",
          "action_id": "escalate_now",
          "text": { "type": "plain_text", "text": "Escalate" },
          "value": "{{request_id}}"
        },
        {
          "type": "button",
          "action_id": "deny","#;
    let problems = problems_after(
        "approval_request.json",
        replaced(
            "{\n          \"type\": \"button\",\n          \"action_id\": \"deny\",",
            escalate,
        ),
    );
    assert_eq!(
        problems,
        ["approval_request.json:38: the button 'escalate_now' does nothing: c1bot routes no clicks with that action_id (give it a url, or use a button c1bot knows)"]
    );
    let runbook = escalate.replace(
        r#""value": "{{request_id}}""#,
        r#""url": "https://wiki.example/runbook""#,
    );
    let problems = problems_after("approval_request.json", move |text| {
        let from = "{\n          \"type\": \"button\",\n          \"action_id\": \"deny\",";
        text.replacen(from, &runbook, 1)
    });
    assert_eq!(problems, Vec::<String>::new());
}

#[test]
fn a_removed_control_or_required_value_is_refused() {
    let problems = problems_after(
        "deny_reason_modal.json",
        replaced("\"action_id\": \"reason_input\"", "\"action_id\": \"why\""),
    );
    assert!(
        problems.iter().any(|p| p.starts_with("deny_reason_modal.json:1: the input with block_id 'reason' and action_id 'reason_input' is missing")),
        "{problems:?}"
    );
    let problems = problems_after("task_closed.json", |text| {
        text.replace("{{summary}}", "Task")
    });
    assert_eq!(
        problems,
        ["task_closed.json:1: {{summary}} is missing: c1bot needs it here (it names what a click or a submission is about)"]
    );
}

#[test]
fn a_list_drawn_with_another_item_template_is_refused() {
    let problems = problems_after(
        "home.json",
        replaced(
            "{{blocks:my_access:status_grant_item}}",
            "{{blocks:my_access:home_task_item}}",
        ),
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .contains("list 'my_access' is drawn with status_grant_item, not home_task_item"),
        "{problems:?}"
    );
}

#[test]
fn a_modal_whose_callback_id_c1bot_does_not_answer_is_refused() {
    let problems = problems_after(
        "deny_reason_modal.json",
        replaced(
            "\"callback_id\": \"c1_deny\"",
            "\"callback_id\": \"c1_refuse\"",
        ),
    );
    assert_eq!(
        problems,
        ["deny_reason_modal.json:3: the callback_id must be 'c1_deny': c1bot answers this modal's submissions by it"]
    );
}
