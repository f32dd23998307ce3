//! Reading the request modal: `view.state.values` → [`Form`], and the modal's
//! duration choices. Pure.
//!
//! Slack sends every input keyed by block id, then action id; any field may be
//! missing or null (an untouched select), so everything is optional here and the
//! workflow says what is missing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::catalog::FIELD_BLOCK_PREFIX;
use crate::workflow::submit::{fields, human, Form};

/// Action ids inside the request modal's input blocks.
pub mod actions {
    pub const RESOURCE: &str = "resource_select";
    pub const ENTITLEMENT: &str = "entitlement_select";
    pub const DURATION: &str = "duration_select";
    pub const JUSTIFICATION: &str = "justification_input";
    pub const ON_BEHALF: &str = "on_behalf_select";
    pub const STARTS_AT: &str = "starts_at_picker";
}

/// The value a person chose or typed in block `block_id`, whatever the element.
pub fn value_of(state: &Value, block_id: &str) -> Option<String> {
    element_value(state.get("values")?.get(block_id)?)
}

fn element_value(block: &Value) -> Option<String> {
    block.as_object()?.values().find_map(|element| {
        element
            .pointer("/selected_option/value")
            .or_else(|| element.get("value"))
            .or_else(|| element.get("selected_user"))
            .or_else(|| element.get("selected_date"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    })
}

/// The request form's extra fields (blocks `field_<id>`), by field id; the catalog
/// and policy decide which of them count.
fn extra_fields(state: &Value) -> BTreeMap<String, String> {
    let Some(values) = state.get("values").and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    values
        .iter()
        .filter_map(|(block_id, block)| {
            let id = block_id.strip_prefix(FIELD_BLOCK_PREFIX)?;
            Some((id.to_owned(), element_value(block)?))
        })
        .collect()
}

/// The submitted form, from a view's `state`.
pub fn form_from_state(state: &Value) -> Form {
    Form {
        resource: value_of(state, fields::RESOURCE),
        entitlement: value_of(state, fields::ENTITLEMENT),
        duration: value_of(state, fields::DURATION),
        justification: value_of(state, fields::JUSTIFICATION),
        on_behalf_of: value_of(state, fields::ON_BEHALF),
        fields: extra_fields(state),
        starts_at: picked_time(state, fields::STARTS_AT),
        emergency: false,
    }
}

/// The instant a `datetimepicker` in block `block_id` holds (`selected_date_time`,
/// Unix seconds; the person picked it in their own time zone). Absent or null: none.
pub fn picked_time(state: &Value, block_id: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let block = state.get("values")?.get(block_id)?.as_object()?;
    block
        .values()
        .find_map(|element| element.get("selected_date_time").and_then(Value::as_i64))
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
}

/// Durations offered in the modal, up to `max`. Values are seconds, or `permanent`.
pub fn duration_choices(
    default: Option<Duration>,
    max: Option<Duration>,
    permanent_allowed: bool,
) -> Vec<(String, String)> {
    const STANDARD_MINUTES: [u64; 10] = [15, 30, 60, 120, 240, 480, 720, 1440, 4320, 10080];
    let mut choices: Vec<Duration> = STANDARD_MINUTES
        .iter()
        .map(|m| Duration::from_secs(m * 60))
        .filter(|d| max.is_none_or(|max| *d <= max))
        .collect();
    for extra in [default, max].into_iter().flatten() {
        if !choices.contains(&extra) {
            choices.push(extra);
        }
    }
    choices.sort();
    let mut options: Vec<(String, String)> = choices
        .into_iter()
        .map(|d| (human(d), d.as_secs().to_string()))
        .collect();
    if permanent_allowed {
        options.push(("Permanent".to_owned(), "permanent".to_owned()));
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_element_kind_is_read_from_slacks_state_shape() {
        let state = json!({"values": {
            "resource": {"resource_select": {"type": "external_select", "selected_option": {"text": {"type": "plain_text", "text": "AWS production"}, "value": "aws-prod"}}},
            "entitlement": {"entitlement_select": {"type": "static_select", "selected_option": {"value": "readonly"}}},
            "duration": {"duration_select": {"type": "static_select", "selected_option": {"value": "14400"}}},
            "justification": {"justification_input": {"type": "plain_text_input", "value": "incident 4711"}},
            "field_ticket": {"field_input": {"type": "plain_text_input", "value": "INC-42"}},
            "field_until": {"field_input": {"type": "datepicker", "selected_date": "2026-12-24"}},
            "field_empty": {"field_input": {"type": "plain_text_input", "value": null}}
        }});
        assert_eq!(
            form_from_state(&state),
            Form {
                resource: Some("aws-prod".into()),
                entitlement: Some("readonly".into()),
                duration: Some("14400".into()),
                justification: Some("incident 4711".into()),
                on_behalf_of: None,
                fields: BTreeMap::from([
                    ("ticket".to_owned(), "INC-42".to_owned()),
                    ("until".to_owned(), "2026-12-24".to_owned()),
                ]),
                starts_at: None,
                emergency: false,
            }
        );
    }

    #[test]
    fn the_start_is_read_from_the_datetimepicker_in_unix_seconds() {
        let state = json!({"values": {
            "starts_at": {"starts_at_picker": {"type": "datetimepicker", "selected_date_time": 1_796_630_400}}
        }});
        assert_eq!(
            form_from_state(&state).starts_at,
            chrono::DateTime::from_timestamp(1_796_630_400, 0)
        );
        let untouched = json!({"values": {
            "starts_at": {"starts_at_picker": {"type": "datetimepicker", "selected_date_time": null}}
        }});
        assert_eq!(form_from_state(&untouched).starts_at, None);
    }

    #[test]
    fn untouched_selects_and_empty_inputs_read_as_missing() {
        let state = json!({"values": {
            "entitlement": {"entitlement_select": {"type": "static_select", "selected_option": null}},
            "justification": {"justification_input": {"type": "plain_text_input", "value": null}}
        }});
        assert_eq!(form_from_state(&state), Form::default());
    }

    #[test]
    fn duration_choices_stop_at_the_maximum_and_include_default_and_maximum() {
        let choices = duration_choices(
            Some(Duration::from_secs(5400)),
            Some(Duration::from_secs(6 * 3600)),
            false,
        );
        let labels: Vec<&str> = choices.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            labels,
            ["15 min", "30 min", "1 h", "1 h 30 min", "2 h", "4 h", "6 h"]
        );
        assert_eq!(choices.last().map(|(_, v)| v.as_str()), Some("21600"));
    }

    #[test]
    fn permanent_is_offered_only_where_allowed() {
        let choices = duration_choices(None, None, true);
        assert_eq!(choices.last().map(|(_, v)| v.as_str()), Some("permanent"));
        assert!(duration_choices(None, None, false)
            .iter()
            .all(|(_, v)| v != "permanent"));
    }
}
