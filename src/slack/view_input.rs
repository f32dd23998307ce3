//! What a modal holds, decoded once from the `view` of a `view_submission` (or of a
//! change inside an open modal): which view it is, what c1bot stored in it when it
//! opened it (`private_metadata`), and what people entered, by block and element.
//! Pure.
//!
//! Slack sends every input as `view.state.values.<block_id>.<action_id>`, in the
//! shape of its element (`value`, `selected_option`, `selected_users`,
//! `selected_date_time`, …), and any of them may be missing or null (an untouched
//! select). Features read what they asked for by block id ([`ViewInput::text`]),
//! never that JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// What one element holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Entered {
    /// Typed text, a selected option's value, a user, a conversation or a date, as
    /// Slack wrote it.
    One(String),
    /// Several selected options' values, users or conversations.
    Many(Vec<String>),
    /// A date-time picker's instant.
    Instant(DateTime<Utc>),
}

/// A modal's input.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewInput {
    /// Slack's id of the view (a step-up challenge is bound to it).
    pub view_id: String,
    /// The view's version, so `views.update` never overwrites a newer one.
    pub hash: String,
    /// What c1bot put in the view when it opened it (an id; checked again, never
    /// trusted).
    pub metadata: String,
    /// By `(block_id, action_id)`; elements left empty are absent.
    entered: BTreeMap<(String, String), Entered>,
}

impl ViewInput {
    /// Decodes a modal's `view`.
    pub fn decode(view: &Value) -> ViewInput {
        let text = |key: &str| {
            view.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let mut entered = BTreeMap::new();
        let blocks = view.pointer("/state/values").and_then(Value::as_object);
        for (block_id, elements) in blocks.into_iter().flatten() {
            for (action_id, element) in elements.as_object().into_iter().flatten() {
                if let Some(value) = element_value(element) {
                    entered.insert((block_id.clone(), action_id.clone()), value);
                }
            }
        }
        ViewInput {
            view_id: text("id"),
            hash: text("hash"),
            metadata: text("private_metadata"),
            entered,
        }
    }

    /// The one value entered in block `block_id`, whatever its element.
    pub fn text(&self, block_id: &str) -> Option<&str> {
        self.in_block(block_id)
            .into_iter()
            .find_map(|value| match value {
                Entered::One(text) => Some(text.as_str()),
                _ => None,
            })
    }

    /// [`ViewInput::text`], trimmed; `None` when only blanks were entered.
    pub fn words(&self, block_id: &str) -> Option<String> {
        self.text(block_id)
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    }

    /// The values chosen in block `block_id`'s multi-select (empty when none).
    pub fn many(&self, block_id: &str) -> Vec<String> {
        self.in_block(block_id)
            .into_iter()
            .find_map(|value| match value {
                Entered::Many(values) => Some(values.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The values chosen in element `action_id`'s multi-select, in whichever block
    /// Slack put it.
    pub fn many_of_element(&self, action_id: &str) -> Vec<String> {
        self.entered
            .iter()
            .filter(|((_, action), _)| action == action_id)
            .flat_map(|(_, value)| match value {
                Entered::Many(values) => values.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// The instant picked in block `block_id` (in the person's own zone, sent as
    /// Unix seconds).
    pub fn instant(&self, block_id: &str) -> Option<DateTime<Utc>> {
        self.in_block(block_id)
            .into_iter()
            .find_map(|value| match value {
                Entered::Instant(at) => Some(*at),
                _ => None,
            })
    }

    /// Every block whose id starts with `prefix` and holds one value: (the rest of
    /// its id, the value).
    pub fn texts_under(&self, prefix: &str) -> BTreeMap<String, String> {
        self.entered
            .iter()
            .filter_map(|((block, _), value)| match value {
                Entered::One(text) => Some((block.strip_prefix(prefix)?.to_owned(), text.clone())),
                _ => None,
            })
            .collect()
    }

    /// What block `block_id`'s elements hold (a block has one input element).
    fn in_block(&self, block_id: &str) -> Vec<&Entered> {
        self.entered
            .iter()
            .filter(|((block, _), _)| block == block_id)
            .map(|(_, value)| value)
            .collect()
    }
}

/// What an element of `state.values` holds, by the shape Slack gives it.
fn element_value(element: &Value) -> Option<Entered> {
    let one = |key: &str| element.get(key).and_then(Value::as_str).map(str::to_owned);
    let many = |key: &str, inner: Option<&str>| {
        element.get(key).and_then(Value::as_array).map(|list| {
            list.iter()
                .filter_map(|item| match inner {
                    Some(inner) => item.get(inner).and_then(Value::as_str),
                    None => item.as_str(),
                })
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
    };
    if let Some(value) = element
        .pointer("/selected_option/value")
        .and_then(Value::as_str)
    {
        return Some(Entered::One(value.to_owned()));
    }
    let single = [
        "value",
        "selected_user",
        "selected_conversation",
        "selected_channel",
        "selected_date",
        "selected_time",
    ];
    if let Some(value) = single.iter().find_map(|key| one(key)) {
        return Some(Entered::One(value));
    }
    if let Some(secs) = element.get("selected_date_time").and_then(Value::as_i64) {
        return DateTime::from_timestamp(secs, 0).map(Entered::Instant);
    }
    many("selected_options", Some("value"))
        .or_else(|| many("selected_users", None))
        .or_else(|| many("selected_conversations", None))
        .or_else(|| many("selected_channels", None))
        .map(Entered::Many)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entered() -> ViewInput {
        ViewInput::decode(&json!({
            "id": "V1", "private_metadata": "REQ-1001", "hash": "h",
            "state": {"values": {
                "resource": {"resource_select": {"type": "external_select",
                    "selected_option": {"text": {"type": "plain_text", "text": "AWS"}, "value": "aws-prod"}}},
                "reason": {"reason_input": {"type": "plain_text_input", "value": "  on call  "}},
                "blank": {"blank_input": {"type": "plain_text_input", "value": "   "}},
                "untouched": {"untouched_select": {"type": "static_select", "selected_option": null}},
                "owners": {"owners_select": {"type": "multi_users_select", "selected_users": ["U1", "U2"]}},
                "spaces": {"spaces_select": {"type": "multi_static_select",
                    "selected_options": [{"value": "prod"}, {"value": "dev"}]}},
                "groups_elsewhere": {"groups_select": {"type": "multi_static_select",
                    "selected_options": [{"value": "S1"}]}},
                "starts_at": {"starts_at_picker": {"type": "datetimepicker", "selected_date_time": 1_796_630_400}},
                "until": {"until_picker": {"type": "datepicker", "selected_date": "2026-12-24"}},
                "field_ticket": {"field_input": {"type": "plain_text_input", "value": "OPS-1"}},
                "field_until": {"field_input": {"type": "datepicker", "selected_date": "2026-12-24"}}
            }}
        }))
    }

    #[test]
    fn each_element_shape_reads_as_what_it_holds() {
        let form = entered();
        assert_eq!(
            (
                form.view_id.as_str(),
                form.hash.as_str(),
                form.metadata.as_str()
            ),
            ("V1", "h", "REQ-1001")
        );
        assert_eq!(form.text("resource"), Some("aws-prod"));
        assert_eq!(form.words("reason").as_deref(), Some("on call"));
        assert_eq!(form.words("blank"), None, "blanks are nothing entered");
        assert_eq!(
            form.text("untouched"),
            None,
            "a null select is nothing entered"
        );
        assert_eq!(form.many("owners"), ["U1", "U2"]);
        assert_eq!(form.many("spaces"), ["prod", "dev"]);
        assert_eq!(form.many_of_element("groups_select"), ["S1"]);
        assert_eq!(
            form.instant("starts_at"),
            DateTime::from_timestamp(1_796_630_400, 0)
        );
        assert_eq!(form.text("until"), Some("2026-12-24"));
        assert_eq!(form.text("missing"), None);
        assert_eq!(
            form.texts_under("field_"),
            BTreeMap::from([
                ("ticket".to_owned(), "OPS-1".to_owned()),
                ("until".to_owned(), "2026-12-24".to_owned())
            ])
        );
    }

    #[test]
    fn a_view_without_state_or_metadata_holds_nothing() {
        assert_eq!(ViewInput::decode(&json!({})), ViewInput::default());
        assert_eq!(
            ViewInput::decode(&json!({"state": {"values": []}})),
            ViewInput::default()
        );
    }
}
