//! The placeholder syntax inside a template's JSON string values, and the load-time
//! check of a whole template: which kind it is, which variables and slots it uses.
//!
//! - `{{name}}` anywhere in a string: a variable (`[a-z][a-z0-9_]*`).
//! - `{{blocks:slot:item_template}}` as the whole `block_id` of a top-level block:
//!   the block is replaced by the list `slot`, each item rendered with
//!   `item_template` (a file holding an array of blocks). With an empty list the
//!   block itself is shown, so it holds the empty state ("_No open requests._").
//! - `{{options:slot}}` as the whole `value` of an option in an `options` array:
//!   the option is replaced by the choices given for `slot`.
//!
//! Pure: works on parsed JSON, no I/O.

use std::collections::BTreeSet;

use serde_json::Value;

/// What a template file is, by its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{"text": …, "blocks": […]}`
    Message,
    /// `{"type": "modal", …}`
    Modal,
    /// `{"type": "home", …}`
    Home,
    /// `[block, …]`: the item of a list, spliced into another template.
    Blocks,
}

/// A piece of a string value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment<'a> {
    Literal(&'a str),
    Var(&'a str),
}

/// A list slot: `{{blocks:slot:item}}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ListSlot {
    pub slot: String,
    pub item_template: String,
}

/// What a template uses, found at load time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placeholders {
    pub vars: BTreeSet<String>,
    pub lists: Vec<ListSlot>,
    pub options: BTreeSet<String>,
}

const BLOCKS_PREFIX: &str = "{{blocks:";
const OPTIONS_PREFIX: &str = "{{options:";

pub(super) fn kind_of(json: &Value) -> Result<Kind, String> {
    match json {
        Value::Array(_) => Ok(Kind::Blocks),
        Value::Object(map) => match map.get("type").and_then(Value::as_str) {
            Some("modal") => Ok(Kind::Modal),
            Some("home") => Ok(Kind::Home),
            Some(other) => Err(format!("unknown view type '{other}' (expected modal or home)")),
            None if map.get("blocks").is_some_and(Value::is_array) => Ok(Kind::Message),
            None => Err("not a template: expected a message {\"text\", \"blocks\"}, a view {\"type\": \"modal\" | \"home\"}, or an array of blocks".to_owned()),
        },
        _ => Err("not a template: expected a JSON object or array".to_owned()),
    }
}

/// Splits a string value into literals and `{{var}}`s.
pub(super) fn segments(text: &str) -> Result<Vec<Segment<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if let Some(stray) = rest[..open].find("}}") {
            return Err(format!("'}}}}' without '{{{{' at character {stray}"));
        }
        if open > 0 {
            out.push(Segment::Literal(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| format!("'{{{{' is never closed in \"{text}\""))?;
        let name = &after[..close];
        if !is_name(name) {
            return Err(format!(
                "'{{{{{name}}}}}' is not a placeholder: use {{{{name}}}} with lowercase letters, digits and '_'"
            ));
        }
        out.push(Segment::Var(name));
        rest = &after[close + 2..];
    }
    if rest.contains("}}") {
        return Err("'}}' without '{{'".to_owned());
    }
    if !rest.is_empty() {
        out.push(Segment::Literal(rest));
    }
    Ok(out)
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `{{blocks:slot:item}}` -> (slot, item).
pub(super) fn list_slot(text: &str) -> Option<Result<ListSlot, String>> {
    let inner = text.strip_prefix(BLOCKS_PREFIX)?.strip_suffix("}}");
    let parsed = inner
        .and_then(|inner| inner.split_once(':'))
        .filter(|(slot, item)| is_name(slot) && is_name(item))
        .map(|(slot, item)| ListSlot {
            slot: slot.to_owned(),
            item_template: item.to_owned(),
        })
        .ok_or_else(|| {
            format!("'{text}' is not a list slot: use {{{{blocks:slot_name:item_template}}}}")
        });
    Some(parsed)
}

/// `{{options:slot}}` -> slot.
pub(super) fn options_slot(text: &str) -> Option<Result<String, String>> {
    let inner = text.strip_prefix(OPTIONS_PREFIX)?.strip_suffix("}}");
    Some(
        inner
            .filter(|slot| is_name(slot))
            .map(str::to_owned)
            .ok_or_else(|| {
                format!("'{text}' is not an options slot: use {{{{options:slot_name}}}}")
            }),
    )
}

/// Checks every string of a template and lists what it uses. Errors carry the JSON
/// path (`blocks[2].text.text`).
pub(super) fn analyse(json: &Value, kind: Kind) -> Result<Placeholders, String> {
    let mut found = Placeholders::default();
    let top_blocks = match (kind, json) {
        (Kind::Blocks, Value::Array(blocks)) => Some(blocks),
        (_, Value::Object(map)) => map.get("blocks").and_then(Value::as_array),
        _ => None,
    };
    if kind != Kind::Blocks && top_blocks.is_none() {
        return Err("blocks: missing: a message or view needs a \"blocks\" array".to_owned());
    }
    let has = |key: &str| json.get(key).is_some();
    if kind == Kind::Message && !has("text") {
        return Err("text: missing: a message needs a text fallback for notifications".to_owned());
    }
    if kind == Kind::Modal && !has("title") {
        return Err("title: missing: a modal needs a title".to_owned());
    }
    visit(json, "", false, &mut found)?;
    // List slots are only honoured at the top level of a message or view.
    if let Some(blocks) = top_blocks.filter(|_| kind != Kind::Blocks) {
        for block in blocks {
            if let Some(Ok(slot)) = block
                .get("block_id")
                .and_then(Value::as_str)
                .and_then(list_slot)
            {
                found.lists.push(slot);
            }
        }
    }
    Ok(found)
}

fn visit(
    value: &Value,
    path: &str,
    slot_allowed: bool,
    found: &mut Placeholders,
) -> Result<(), String> {
    match value {
        Value::String(text) => {
            let at = |e: String| format!("{}: {e}", if path.is_empty() { "(root)" } else { path });
            if let Some(slot) = list_slot(text) {
                slot.map_err(at)?;
                if !slot_allowed {
                    return Err(at(format!(
                        "'{}' must be the block_id of a top-level block of a message or view",
                        text
                    )));
                }
            } else if let Some(slot) = options_slot(text) {
                let slot = slot.map_err(at)?;
                if !path.ends_with("].value") || !path.contains("options[") {
                    return Err(at(format!(
                        "'{text}' must be the value of an option in an options array"
                    )));
                }
                found.options.insert(slot);
            } else {
                for segment in segments(text).map_err(at)? {
                    if let Segment::Var(name) = segment {
                        found.vars.insert(name.to_owned());
                    }
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                visit(item, &format!("{path}[{i}]"), path == "blocks", found)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let allowed = slot_allowed && key == "block_id";
                visit(item, &child, allowed, found)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_split_into_literals_and_variables() {
        assert_eq!(
            segments("Grant {{entitlement}} to {{requester}}!").expect("valid"),
            [
                Segment::Literal("Grant "),
                Segment::Var("entitlement"),
                Segment::Literal(" to "),
                Segment::Var("requester"),
                Segment::Literal("!"),
            ]
        );
        assert_eq!(segments("").expect("valid"), []);
    }

    #[test]
    fn malformed_placeholders_are_refused() {
        for bad in [
            "{{", "{{name", "name}}", "{{Name}}", "{{}}", "{{a b}}", "{{a}} }}", "{{{a}}}",
        ] {
            assert!(segments(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slots_are_recognised_only_where_they_can_work() {
        let ok: Value = serde_json::json!({"text": "x", "blocks": [
            {"type": "section", "block_id": "{{blocks:items:row}}", "text": {"type": "mrkdwn", "text": "_None._"}},
            {"type": "input", "element": {"type": "static_select", "options": [
                {"text": {"type": "plain_text", "text": "x"}, "value": "{{options:durations}}"}]}}
        ]});
        let found = analyse(&ok, Kind::Message).expect("valid");
        assert_eq!(
            found.lists,
            [ListSlot {
                slot: "items".into(),
                item_template: "row".into()
            }]
        );
        assert!(found.options.contains("durations"));

        let nested: Value = serde_json::json!({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "{{blocks:items:row}}"}}]});
        let err = analyse(&nested, Kind::Message).expect_err("misplaced");
        assert!(err.starts_with("blocks[0].text.text: "), "{err}");
    }
}
