//! What a person sees: stored messages and the Block Kit reading helpers
//! (`visible_text`, buttons, input blocks) shared by messages, modals and the
//! Home tab. Pure functions over `serde_json::Value`; no I/O, no locking.

use serde_json::Value;

/// A message as a person currently sees it (after any `chat.update`).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub channel: String,
    pub ts: String,
    pub text: String,
    /// The `blocks` array as sent by the app (`Value::Null` or `[]` when none).
    pub blocks: Value,
    /// Author: the bot user id or a person's id.
    pub user: String,
    pub thread_ts: Option<String>,
    pub edited: bool,
    /// Message metadata (`{"event_type", "event_payload"}`) the app posted with it.
    pub metadata: Option<Value>,
}

/// A button found in blocks: enough to build a `block_actions` action.
#[derive(Debug, Clone, PartialEq)]
pub struct ButtonRef {
    pub block_id: String,
    pub action_id: String,
    pub text: String,
    pub value: Option<String>,
    /// The button's `text` object as sent (for the action's `text` field).
    pub text_object: Value,
}

impl Message {
    /// The text a person reads: every text of section / header / context / rich
    /// text blocks and button texts, joined by newlines; `text` if there are no blocks.
    pub fn visible_text(&self) -> String {
        match self.blocks.as_array() {
            Some(blocks) if !blocks.is_empty() => blocks_visible_text(&self.blocks),
            _ => self.text.clone(),
        }
    }

    /// Visible texts of every button in the message, in block order.
    pub fn buttons(&self) -> Vec<String> {
        find_buttons(&self.blocks)
            .into_iter()
            .map(|b| b.text)
            .collect()
    }

    /// The message object as Slack puts it in payloads and history.
    pub fn to_json(&self, team_id: &str, bot_id: &str, bot_user_id: &str) -> Value {
        let mut m = serde_json::json!({
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
            "team": team_id,
            "blocks": if self.blocks.is_array() { self.blocks.clone() } else { Value::Array(vec![]) },
        });
        if self.user == bot_user_id {
            m["bot_id"] = Value::from(bot_id);
        }
        if let Some(thread_ts) = &self.thread_ts {
            m["thread_ts"] = Value::from(thread_ts.as_str());
        }
        if self.edited {
            m["edited"] = serde_json::json!({"user": self.user, "ts": self.ts});
        }
        m
    }
}

/// Visible text of a blocks array (see [`Message::visible_text`]).
pub fn blocks_visible_text(blocks: &Value) -> String {
    let mut out = Vec::new();
    for block in blocks.as_array().into_iter().flatten() {
        match block["type"].as_str().unwrap_or("") {
            "section" => {
                push_text(&mut out, &block["text"]);
                for field in block["fields"].as_array().into_iter().flatten() {
                    push_text(&mut out, field);
                }
                push_element_text(&mut out, &block["accessory"]);
            }
            "header" => push_text(&mut out, &block["text"]),
            "context" => {
                for el in block["elements"].as_array().into_iter().flatten() {
                    push_text(&mut out, el);
                }
            }
            "actions" => {
                for el in block["elements"].as_array().into_iter().flatten() {
                    push_element_text(&mut out, el);
                }
            }
            "rich_text" => {
                let mut s = String::new();
                collect_rich_text(&block["elements"], &mut s);
                if !s.is_empty() {
                    out.push(s);
                }
            }
            "markdown" => {
                if let Some(t) = block["text"].as_str() {
                    out.push(t.to_string());
                }
            }
            "input" => push_text(&mut out, &block["label"]),
            _ => {}
        }
    }
    out.join("\n")
}

fn push_text(out: &mut Vec<String>, text_obj: &Value) {
    if let Some(t) = text_obj["text"].as_str() {
        out.push(t.to_string());
    }
}

fn push_element_text(out: &mut Vec<String>, el: &Value) {
    if el["type"] == "button" {
        push_text(out, &el["text"]);
    }
}

fn collect_rich_text(v: &Value, s: &mut String) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| collect_rich_text(i, s)),
        Value::Object(map) => {
            if let Some(Value::String(t)) = map.get("text") {
                s.push_str(t);
            }
            if let Some(els) = map.get("elements") {
                collect_rich_text(els, s);
            }
        }
        _ => {}
    }
}

/// Every button in `blocks` (actions blocks and section accessories).
pub fn find_buttons(blocks: &Value) -> Vec<ButtonRef> {
    let mut out = Vec::new();
    for block in blocks.as_array().into_iter().flatten() {
        let block_id = block["block_id"].as_str().unwrap_or("").to_string();
        let elements: Vec<&Value> = match block["type"].as_str() {
            Some("actions") => block["elements"].as_array().into_iter().flatten().collect(),
            Some("section") => vec![&block["accessory"]],
            _ => vec![],
        };
        for el in elements.into_iter().filter(|e| e["type"] == "button") {
            out.push(ButtonRef {
                block_id: block_id.clone(),
                action_id: el["action_id"].as_str().unwrap_or("").to_string(),
                text: el["text"]["text"].as_str().unwrap_or("").to_string(),
                value: el["value"].as_str().map(str::to_string),
                text_object: el["text"].clone(),
            });
        }
    }
    out
}

/// Gives every block a `block_id` and every interactive element an `action_id`
/// when the app left them out, as Slack does (generated ids are short and random).
pub fn assign_ids(blocks: &mut Value) {
    for block in blocks.as_array_mut().into_iter().flatten() {
        if block.get("block_id").and_then(Value::as_str).is_none() {
            block["block_id"] = Value::from(short_id());
        }
        match block["type"].as_str() {
            Some("input") | Some("section") => {
                let key = if block["type"] == "input" {
                    "element"
                } else {
                    "accessory"
                };
                if let Some(el) = block.get_mut(key).filter(|e| e.is_object()) {
                    ensure_action_id(el);
                }
            }
            Some("actions") => {
                for el in block["elements"].as_array_mut().into_iter().flatten() {
                    ensure_action_id(el);
                }
            }
            _ => {}
        }
    }
}

fn ensure_action_id(el: &mut Value) {
    if el.get("action_id").and_then(Value::as_str).is_none() {
        el["action_id"] = Value::from(short_id());
    }
}

fn short_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..5].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msg(blocks: Value) -> Message {
        Message {
            channel: "D1".into(),
            ts: "1.000001".into(),
            text: "fallback".into(),
            blocks,
            user: "U0C1BOT001".into(),
            thread_ts: None,
            edited: false,
            metadata: None,
        }
    }

    #[test]
    fn visible_text_reads_sections_headers_context_and_buttons() {
        let m = msg(json!([
            {"type": "header", "text": {"type": "plain_text", "text": "Access request"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Alice* wants prod-db"},
             "fields": [{"type": "mrkdwn", "text": "4 hours"}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "req_1"}, {"type": "image", "image_url": "x", "alt_text": "y"}]},
            {"type": "actions", "block_id": "d", "elements": [
                {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"}, "value": "r1"},
                {"type": "button", "action_id": "deny", "text": {"type": "plain_text", "text": "Deny"}, "value": "r1"}]}
        ]));
        assert_eq!(
            m.visible_text(),
            "Access request\n*Alice* wants prod-db\n4 hours\nreq_1\nApprove\nDeny"
        );
        assert_eq!(m.buttons(), vec!["Approve", "Deny"]);
    }

    #[test]
    fn visible_text_falls_back_to_text_without_blocks() {
        assert_eq!(msg(Value::Null).visible_text(), "fallback");
        assert_eq!(msg(json!([])).visible_text(), "fallback");
    }

    #[test]
    fn assign_ids_fills_missing_block_and_action_ids() {
        let mut blocks = json!([{"type": "input", "label": {"type": "plain_text", "text": "Why"},
                                 "element": {"type": "plain_text_input"}}]);
        assign_ids(&mut blocks);
        assert!(blocks[0]["block_id"].is_string());
        assert!(blocks[0]["element"]["action_id"].is_string());
    }
}
