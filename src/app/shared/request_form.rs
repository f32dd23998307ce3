//! Reading the request modal: what it holds ([`ViewInput`], decoded by `slack`) →
//! [`Form`], and the modal's duration choices. Pure.
//!
//! Any field may be missing (an untouched select), so everything is optional here
//! and the workflow says what is missing.

use std::time::Duration;

use crate::catalog::FIELD_BLOCK_PREFIX;
use crate::slack::view_input::ViewInput;
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

/// The submitted form, from what the modal holds; the request form's extra fields
/// are its blocks `field_<id>`, by field id (the catalog and policy decide which of
/// them count).
pub fn form_from(input: &ViewInput) -> Form {
    let text = |block_id: &str| input.text(block_id).map(str::to_owned);
    Form {
        resource: text(fields::RESOURCE),
        entitlement: text(fields::ENTITLEMENT),
        duration: text(fields::DURATION),
        justification: text(fields::JUSTIFICATION),
        on_behalf_of: text(fields::ON_BEHALF),
        fields: input.texts_under(FIELD_BLOCK_PREFIX),
        starts_at: input.instant(fields::STARTS_AT),
        emergency: false,
    }
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
    use serde_json::{json, Value};
    use std::collections::BTreeMap;

    fn read(state: &Value) -> Form {
        form_from(&ViewInput::decode(&json!({ "state": state })))
    }

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
            read(&state),
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
            read(&state).starts_at,
            chrono::DateTime::from_timestamp(1_796_630_400, 0)
        );
        let untouched = json!({"values": {
            "starts_at": {"starts_at_picker": {"type": "datetimepicker", "selected_date_time": null}}
        }});
        assert_eq!(read(&untouched).starts_at, None);
    }

    #[test]
    fn untouched_selects_and_empty_inputs_read_as_missing() {
        let state = json!({"values": {
            "entitlement": {"entitlement_select": {"type": "static_select", "selected_option": null}},
            "justification": {"justification_input": {"type": "plain_text_input", "value": null}}
        }});
        assert_eq!(read(&state), Form::default());
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
