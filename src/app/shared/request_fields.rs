//! The request modal's extra fields (catalog `fields` of the chosen entitlement):
//! their input blocks, and the line cards show them in. Pure.
//!
//! They are built here rather than in `blocks/`: the catalog declares each field's
//! label, hint, kind and choices, so the catalog is their template. They go right
//! after the justification, keyed `field_<id>` (action `field_input`), so Slack
//! keeps what a person typed when the modal is redrawn.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

use crate::catalog::{FieldKind, FormField};
use crate::templates::Mrkdwn;
use crate::workflow::submit::fields;

/// The action id of every extra field's element.
pub const ACTION: &str = "field_input";

/// Inserts the input blocks of `form` into the request modal `view`, right after
/// the justification (at the end if an admin's template has none). `required` are
/// the ids policy requires besides those the catalog does.
pub fn insert(view: &mut Value, form: &[FormField], required: &BTreeSet<String>) {
    let Some(blocks) = view.get_mut("blocks").and_then(Value::as_array_mut) else {
        return;
    };
    let at = blocks
        .iter()
        .position(|b| b.get("block_id").and_then(Value::as_str) == Some(fields::JUSTIFICATION))
        .map_or(blocks.len(), |i| i + 1);
    let inputs = form.iter().map(|field| {
        input(
            field,
            field.required || required.contains(field.id.as_str()),
        )
    });
    blocks.splice(at..at, inputs);
}

fn input(field: &FormField, required: bool) -> Value {
    let element = match &field.kind {
        FieldKind::Text {
            pattern,
            max_length,
        } => {
            let mut element = json!({
                "type": "plain_text_input",
                "action_id": ACTION,
                "max_length": max_length,
            });
            if let Some(pattern) = pattern {
                element["placeholder"] = plain(&format!("Matching {pattern}"), 150);
            }
            element
        }
        FieldKind::Choice { options } => json!({
            "type": "static_select",
            "action_id": ACTION,
            "placeholder": plain("Choose one", 150),
            "options": options
                .iter()
                .map(|o| json!({"text": plain(o, 75), "value": o}))
                .collect::<Vec<_>>(),
        }),
        FieldKind::Date => json!({"type": "datepicker", "action_id": ACTION}),
    };
    let mut block = json!({
        "type": "input",
        "block_id": field.block_id(),
        "optional": !required,
        "label": plain(&field.label, 2000),
        "element": element,
    });
    if !field.hint.is_empty() {
        block["hint"] = plain(&field.hint, 2000);
    }
    block
}

fn plain(text: &str, max: usize) -> Value {
    let text: String = if text.chars().count() <= max {
        text.to_owned()
    } else {
        text.chars().take(max - 1).chain(['…']).collect()
    };
    json!({"type": "plain_text", "text": text})
}

/// The filled fields as card lines (`*Ticket:* INC-42`, one per line, each after a
/// newline), labelled as the catalog names them now; a field the catalog no longer
/// has shows its id. Empty when there are none. Values are escaped.
pub fn card_lines(values: &BTreeMap<String, String>, form: &[FormField]) -> Mrkdwn {
    let mut text = String::new();
    let label_of = |id: &str| {
        form.iter()
            .find(|f| f.id.as_str() == id)
            .map_or(id.to_owned(), |f| f.label.clone())
    };
    // In the catalog's order, then any it no longer declares.
    let declared: Vec<&String> = form
        .iter()
        .filter_map(|f| values.get_key_value(f.id.as_str()).map(|(k, _)| k))
        .collect();
    let gone = values.keys().filter(|id| !declared.contains(id));
    for id in declared.iter().copied().chain(gone) {
        let value = &values[id];
        text.push_str(&format!(
            "\n*{}:* {}",
            crate::app::shared::mrkdwn::escape(&label_of(id)),
            crate::app::shared::mrkdwn::escape(value)
        ));
    }
    Mrkdwn::built(text)
}

#[cfg(test)]
#[path = "request_fields_tests.rs"]
mod tests;
