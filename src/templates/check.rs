//! A loaded template against what the code gives it ([`super::specs`]): every problem
//! as `file:line: sentence`, so an admin's edit is refused at load, at SIGHUP and by
//! `c1bot check` instead of failing when someone clicks. Pure.

use std::collections::BTreeSet;

use serde_json::Value;

use super::lines::{line_of_path, line_of_text};
use super::specs::Spec;
use super::{Kind, Template};

/// Every way `template` (from `file`, whose text is `text`) breaks `spec`.
pub(super) fn against_spec(
    spec: &Spec,
    template: &Template,
    file: &str,
    text: &str,
) -> Vec<String> {
    let at =
        |line: Option<usize>, message: String| format!("{file}:{}: {message}", line.unwrap_or(1));
    let mut problems = Vec::new();
    if template.kind != spec.kind {
        problems.push(at(
            Some(1),
            format!(
                "this is {}, but c1bot sends it as {}",
                kind_name(template.kind),
                kind_name(spec.kind)
            ),
        ));
        return problems;
    }
    if spec.kind != Kind::Blocks {
        let empty = template
            .json
            .get("blocks")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty);
        if empty {
            problems.push(at(
                line_of_path(text, "blocks"),
                "\"blocks\" is empty: people would see only the notification text; keep at least one block".into(),
            ));
        }
    }
    let placeholders = &template.placeholders;
    for var in placeholders
        .vars
        .iter()
        .filter(|v| !spec.vars.contains(&v.as_str()))
    {
        problems.push(at(
            line_of_text(text, &format!("{{{{{var}}}}}")),
            format!(
                "unknown value {{{{{var}}}}}: c1bot gives this template {}",
                listed(spec.vars)
            ),
        ));
    }
    for var in spec
        .required
        .iter()
        .filter(|v| !placeholders.vars.contains(**v))
    {
        problems.push(at(
            Some(1),
            format!("{{{{{var}}}}} is missing: c1bot needs it here (it names what a click or a submission is about)"),
        ));
    }
    for list in &placeholders.lists {
        let declared = spec.lists.iter().find(|(slot, _)| *slot == list.slot);
        let line = line_of_text(text, &format!("{{{{blocks:{}:", list.slot));
        match declared {
            None => problems.push(at(
                line,
                format!(
                    "unknown list {{{{blocks:{}:…}}}}: c1bot fills {}",
                    list.slot,
                    listed_lists(spec)
                ),
            )),
            Some((_, item)) if *item != list.item_template => problems.push(at(
                line,
                format!(
                    "list '{}' is drawn with {item}, not {}: edit {item}.json instead",
                    list.slot, list.item_template
                ),
            )),
            Some(_) => {}
        }
    }
    for slot in placeholders
        .options
        .iter()
        .filter(|s| !spec.options.contains(&s.as_str()))
    {
        problems.push(at(
            line_of_text(text, &format!("{{{{options:{slot}}}}}")),
            format!(
                "unknown options {{{{options:{slot}}}}}: c1bot fills {}",
                listed(spec.options)
            ),
        ));
    }
    for slot in spec
        .options
        .iter()
        .filter(|s| !placeholders.options.contains(**s))
    {
        problems.push(at(
            Some(1),
            format!("{{{{options:{slot}}}}} is missing: its select would offer nothing"),
        ));
    }
    if !spec.callbacks.is_empty() {
        let callback = template.json.get("callback_id").and_then(Value::as_str);
        let answered = callback.is_some_and(|c| c.contains("{{") || spec.callbacks.contains(&c));
        if !answered {
            problems.push(at(
                line_of_path(text, "callback_id"),
                format!(
                    "the callback_id must be {}: c1bot answers this modal's submissions by it",
                    spec.callbacks
                        .iter()
                        .map(|c| format!("'{c}'"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ));
        }
    }
    let found = controls(&template.json);
    for button in buttons(&template.json, "") {
        let routed = spec.controls.contains(&button.action.as_str());
        let names_it = spec
            .required
            .iter()
            .any(|r| button.value.contains(&format!("{{{{{r}}}}}")));
        if !button.links && !button.action.contains("{{") && !routed_anywhere(&button.action) {
            problems.push(at(
                line_of_path(text, &button.path),
                format!(
                    "the button '{}' does nothing: c1bot routes no clicks with that action_id (give it a url, or use a button c1bot knows)",
                    button.action
                ),
            ));
        }
        if routed && !spec.required.is_empty() && !names_it {
            problems.push(at(
                line_of_path(text, &button.path),
                format!(
                    "the button '{}' has no {} in its value: c1bot would not know what a click is about",
                    button.action,
                    listed(spec.required)
                ),
            ));
        }
    }
    for control in spec.controls {
        let (block, action) = match control.split_once('/') {
            Some((block, action)) => (Some(block), action),
            None => (None, *control),
        };
        let present = found
            .iter()
            .any(|(b, a)| a == action && block.is_none_or(|block| b.as_deref() == Some(block)));
        if !present {
            let what = match block {
                Some(block) => format!("the input with block_id '{block}' and action_id '{action}' is missing: c1bot reads the value there"),
                None => format!("the control with action_id '{action}' is missing: c1bot routes its clicks"),
            };
            problems.push(at(Some(1), what));
        }
    }
    problems
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Message => "a message",
        Kind::Modal => "a modal",
        Kind::Home => "an App Home view",
        Kind::Blocks => "a list of blocks",
    }
}

fn listed(names: &[&str]) -> String {
    if names.is_empty() {
        return "no values".to_owned();
    }
    let names: Vec<String> = names.iter().map(|n| format!("{{{{{n}}}}}")).collect();
    names.join(", ")
}

fn listed_lists(spec: &Spec) -> String {
    if spec.lists.is_empty() {
        return "no lists".to_owned();
    }
    let names: Vec<&str> = spec.lists.iter().map(|(slot, _)| *slot).collect();
    names.join(", ")
}

/// A button: its action_id, value and JSON path.
struct Button {
    action: String,
    value: String,
    /// A link button opens its URL; its click needs no handler.
    links: bool,
    path: String,
}

/// Whether some template's contract routes clicks on `action`: the code declares in
/// [`super::specs::SPECS`] each control a template writes out that it routes (a
/// button whose action_id the code fills in, `{{action}}`, is the code's own).
fn routed_anywhere(action: &str) -> bool {
    super::specs::SPECS.iter().any(|spec| {
        spec.controls
            .iter()
            .any(|control| control.rsplit('/').next() == Some(action))
    })
}

/// Every button in `json` (below `path`).
fn buttons(json: &Value, path: &str) -> Vec<Button> {
    let child = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match json {
        Value::Object(map) => {
            let mut found: Vec<Button> = map
                .iter()
                .flat_map(|(key, value)| buttons(value, &child(key)))
                .collect();
            if map.get("type").and_then(Value::as_str) == Some("button") {
                let text = |key: &str| {
                    map.get(key)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                found.push(Button {
                    action: text("action_id"),
                    value: text("value"),
                    links: map.contains_key("url"),
                    path: path.to_owned(),
                });
            }
            found
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .flat_map(|(i, item)| buttons(item, &format!("{path}[{i}]")))
            .collect(),
        _ => Vec::new(),
    }
}

/// Every (block_id of the enclosing block, action_id) in `json`.
fn controls(json: &Value) -> BTreeSet<(Option<String>, String)> {
    fn walk(value: &Value, block: Option<&str>, out: &mut BTreeSet<(Option<String>, String)>) {
        match value {
            Value::Object(map) => {
                let block = map.get("block_id").and_then(Value::as_str).or(block);
                if let Some(action) = map.get("action_id").and_then(Value::as_str) {
                    out.insert((block.map(str::to_owned), action.to_owned()));
                }
                map.values().for_each(|v| walk(v, block, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, block, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(json, None, &mut out);
    out
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
