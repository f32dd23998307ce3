//! Interaction payloads (`block_actions`, `view_submission`, `block_suggestion`),
//! reduced to what c1bot routes on. Pure.
//!
//! A submitted modal's input is decoded here ([`ViewInput`]); a view changed while
//! open travels on as JSON (c1bot's own template coming back, redrawn by the
//! module that rendered it, which decodes its input with [`ViewInput::decode`]).

use serde_json::Value;

use super::view_input::ViewInput;

/// One clicked or changed element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRef {
    pub action_id: String,
    pub block_id: String,
    /// A button's value or a select's selected value.
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Interaction {
    BlockActions {
        user: String,
        trigger_id: String,
        /// Where the clicked message is (`None` for a click inside a modal).
        channel: Option<String>,
        /// Where an answer to the click may go (`None` inside a modal).
        response_url: Option<String>,
        /// What the modal holds, for a change inside one.
        view: Option<ViewInput>,
        actions: Vec<ActionRef>,
    },
    ViewSubmission {
        user: String,
        callback_id: String,
        /// What the modal holds, decoded.
        input: ViewInput,
    },
    BlockSuggestion {
        user: String,
        action_id: String,
        value: String,
        view: ViewInput,
    },
    Other {
        kind: String,
    },
}

impl Interaction {
    pub fn parse(payload: &Value) -> Interaction {
        let text = |v: &Value, pointer: &str| {
            v.pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let user = text(payload, "/user/id");
        let kind = text(payload, "/type");
        match kind.as_str() {
            "block_actions" => Interaction::BlockActions {
                trigger_id: text(payload, "/trigger_id"),
                channel: payload
                    .pointer("/channel/id")
                    .or_else(|| payload.pointer("/container/channel_id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                response_url: payload
                    .get("response_url")
                    .and_then(Value::as_str)
                    .filter(|url| !url.is_empty())
                    .map(str::to_owned),
                view: payload.get("view").map(ViewInput::decode),
                actions: payload
                    .get("actions")
                    .and_then(Value::as_array)
                    .map(|actions| {
                        actions
                            .iter()
                            .map(|a| ActionRef {
                                action_id: text(a, "/action_id"),
                                block_id: text(a, "/block_id"),
                                value: a
                                    .get("value")
                                    .or_else(|| a.pointer("/selected_option/value"))
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_owned(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                user,
            },
            "view_submission" => Interaction::ViewSubmission {
                callback_id: text(payload, "/view/callback_id"),
                input: ViewInput::decode(payload.get("view").unwrap_or(&Value::Null)),
                user,
            },
            "block_suggestion" => Interaction::BlockSuggestion {
                action_id: text(payload, "/action_id"),
                value: text(payload, "/value"),
                view: ViewInput::decode(payload.get("view").unwrap_or(&Value::Null)),
                user,
            },
            _ => Interaction::Other { kind },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_button_click_yields_its_action_value_channel_and_where_to_answer() {
        let parsed = Interaction::parse(&json!({
            "type": "block_actions", "user": {"id": "U0BOB00001"}, "trigger_id": "1.2.3",
            "container": {"type": "message", "channel_id": "D0BOB00001"},
            "response_url": "https://hooks.slack.com/actions/1",
            "actions": [{"type": "button", "action_id": "approve", "block_id": "decision", "value": "REQ-1001"}]
        }));
        assert_eq!(
            parsed,
            Interaction::BlockActions {
                user: "U0BOB00001".into(),
                trigger_id: "1.2.3".into(),
                channel: Some("D0BOB00001".into()),
                response_url: Some("https://hooks.slack.com/actions/1".into()),
                view: None,
                actions: vec![ActionRef {
                    action_id: "approve".into(),
                    block_id: "decision".into(),
                    value: "REQ-1001".into()
                }],
            }
        );
    }

    #[test]
    fn a_select_change_reads_the_selected_value() {
        let parsed = Interaction::parse(&json!({
            "type": "block_actions", "user": {"id": "U1"}, "view": {"id": "V1"},
            "actions": [{"type": "external_select", "action_id": "resource_select", "block_id": "resource", "selected_option": {"value": "aws-prod"}}]
        }));
        let Interaction::BlockActions { actions, view, .. } = parsed else {
            panic!("block actions")
        };
        assert_eq!(actions[0].value, "aws-prod");
        assert!(view.is_some());
    }

    #[test]
    fn unknown_interaction_types_are_named() {
        assert_eq!(
            Interaction::parse(&json!({"type": "shortcut"})),
            Interaction::Other {
                kind: "shortcut".into()
            }
        );
    }
}
