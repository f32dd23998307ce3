//! Block Kit's size limits, enforced on a rendered message or view by truncating
//! (with "…") instead of letting Slack refuse the whole call.
//!
//! Limits from `shared/slack-protocol.md` §3: section text 3000, fields 10 × 2000,
//! header 150, context 10 elements × 2000, button text 75 / value 2000, option
//! text 75 / value 150, placeholder 150, input label and hint 2000, modal title /
//! submit / close 24, private_metadata 3000, ids 255, blocks 50 per message and
//! 100 per modal or Home tab, message `text` 3000. Pure.

use serde_json::{json, Map, Value};

use super::placeholder::Kind;

pub const MESSAGE_BLOCKS: usize = 50;
pub const VIEW_BLOCKS: usize = 100;
pub const ELLIPSIS: char = '…';

/// How many top-level blocks a template of this kind may have.
pub fn max_blocks(kind: Kind) -> Option<usize> {
    match kind {
        Kind::Message => Some(MESSAGE_BLOCKS),
        Kind::Modal | Kind::Home => Some(VIEW_BLOCKS),
        Kind::Blocks => None,
    }
}

/// Truncates everything over a limit, in place; returns what it cut, for logs.
pub fn enforce(kind: Kind, root: &mut Value) -> Vec<String> {
    let mut walk = Walk {
        fix: true,
        found: Vec::new(),
    };
    walk.root(kind, root);
    walk.found
}

/// Everything over a limit, without changing anything (for tests).
pub fn violations(kind: Kind, root: &Value) -> Vec<String> {
    let mut copy = root.clone();
    let mut walk = Walk {
        fix: false,
        found: Vec::new(),
    };
    walk.root(kind, &mut copy);
    walk.found
}

/// The context block that ends a cut list.
pub(super) fn more_block(hidden: usize) -> Value {
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("{ELLIPSIS} and {hidden} more")}]})
}

/// Cuts `text` to `max` characters ending in "…". In mrkdwn it never leaves half
/// of a `<…>` token or an `&…;` entity behind.
pub(super) fn truncate(text: &mut String, max: usize, mrkdwn: bool) -> bool {
    if text.chars().count() <= max {
        return false;
    }
    let keep = max.saturating_sub(1);
    let mut end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
    if mrkdwn {
        let kept = &text[..end];
        if let Some(open) = kept.rfind('<').filter(|&i| !kept[i..].contains('>')) {
            end = open;
        }
        let kept = &text[..end];
        if let Some(amp) = kept.rfind('&').filter(|&i| !kept[i..].contains(';')) {
            end = amp;
        }
    }
    text.truncate(end);
    if max > 0 {
        text.push(ELLIPSIS);
    }
    true
}

struct Walk {
    fix: bool,
    found: Vec<String>,
}

impl Walk {
    fn string(&mut self, value: Option<&mut Value>, max: usize, mrkdwn: bool, path: &str) {
        let Some(Value::String(text)) = value else {
            return;
        };
        let len = text.chars().count();
        if len <= max {
            return;
        }
        self.found
            .push(format!("{path}: {len} characters, limit {max}"));
        if self.fix {
            truncate(text, max, mrkdwn);
        }
    }

    /// A text object: `{"type": "mrkdwn" | "plain_text", "text": …}`.
    fn text_object(&mut self, value: Option<&mut Value>, max: usize, path: &str) {
        let Some(Value::Object(object)) = value else {
            return;
        };
        let mrkdwn = object.get("type").and_then(Value::as_str) == Some("mrkdwn");
        self.string(object.get_mut("text"), max, mrkdwn, &format!("{path}.text"));
    }

    fn array<'a>(
        &mut self,
        value: Option<&'a mut Value>,
        max: usize,
        path: &str,
    ) -> Option<&'a mut Vec<Value>> {
        let Some(Value::Array(items)) = value else {
            return None;
        };
        if items.len() > max {
            self.found
                .push(format!("{path}: {} items, limit {max}", items.len()));
            if self.fix {
                items.truncate(max);
            }
        }
        Some(items)
    }

    fn root(&mut self, kind: Kind, root: &mut Value) {
        let blocks = match (kind, root) {
            (Kind::Blocks, Value::Array(blocks)) => blocks,
            (_, Value::Object(view)) => {
                self.view_fields(kind, view);
                match view.get_mut("blocks") {
                    Some(Value::Array(blocks)) => blocks,
                    _ => return,
                }
            }
            _ => return,
        };
        if let Some(max) = max_blocks(kind).filter(|max| blocks.len() > *max) {
            self.found
                .push(format!("blocks: {} blocks, limit {max}", blocks.len()));
            if self.fix {
                let hidden = blocks.len() - (max - 1);
                blocks.truncate(max - 1);
                blocks.push(more_block(hidden));
            }
        }
        for (i, block) in blocks.iter_mut().enumerate() {
            if let Value::Object(block) = block {
                self.block(block, &format!("blocks[{i}]"));
            }
        }
    }

    fn view_fields(&mut self, kind: Kind, view: &mut Map<String, Value>) {
        match kind {
            Kind::Message => self.string(view.get_mut("text"), 3000, true, "text"),
            Kind::Modal => {
                for key in ["title", "submit", "close"] {
                    self.text_object(view.get_mut(key), 24, key);
                }
            }
            Kind::Home | Kind::Blocks => {}
        }
        self.string(
            view.get_mut("private_metadata"),
            3000,
            false,
            "private_metadata",
        );
        self.string(view.get_mut("callback_id"), 255, false, "callback_id");
        self.string(view.get_mut("external_id"), 255, false, "external_id");
    }

    fn block(&mut self, block: &mut Map<String, Value>, path: &str) {
        self.string(
            block.get_mut("block_id"),
            255,
            false,
            &format!("{path}.block_id"),
        );
        let kind = block
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        match kind.as_str() {
            "section" => {
                self.text_object(block.get_mut("text"), 3000, &format!("{path}.text"));
                let fields_path = format!("{path}.fields");
                if let Some(fields) = self.array(block.get_mut("fields"), 10, &fields_path) {
                    for (i, field) in fields.iter_mut().enumerate() {
                        self.text_object(Some(field), 2000, &format!("{fields_path}[{i}]"));
                    }
                }
                self.element(block.get_mut("accessory"), &format!("{path}.accessory"));
            }
            "header" => self.text_object(block.get_mut("text"), 150, &format!("{path}.text")),
            "context" => {
                let elements_path = format!("{path}.elements");
                if let Some(elements) = self.array(block.get_mut("elements"), 10, &elements_path) {
                    for (i, element) in elements.iter_mut().enumerate() {
                        let at = format!("{elements_path}[{i}]");
                        self.string(
                            element.get_mut("alt_text"),
                            2000,
                            false,
                            &format!("{at}.alt_text"),
                        );
                        self.text_object(Some(element), 2000, &at);
                    }
                }
            }
            "actions" => {
                let elements_path = format!("{path}.elements");
                if let Some(elements) = self.array(block.get_mut("elements"), 25, &elements_path) {
                    for (i, element) in elements.iter_mut().enumerate() {
                        self.element(Some(element), &format!("{elements_path}[{i}]"));
                    }
                }
            }
            "input" => {
                self.text_object(block.get_mut("label"), 2000, &format!("{path}.label"));
                self.text_object(block.get_mut("hint"), 2000, &format!("{path}.hint"));
                self.element(block.get_mut("element"), &format!("{path}.element"));
            }
            "image" => {
                self.string(
                    block.get_mut("alt_text"),
                    2000,
                    false,
                    &format!("{path}.alt_text"),
                );
                self.text_object(block.get_mut("title"), 2000, &format!("{path}.title"));
            }
            "markdown" => self.string(block.get_mut("text"), 12_000, true, &format!("{path}.text")),
            _ => {}
        }
    }

    fn element(&mut self, element: Option<&mut Value>, path: &str) {
        let Some(Value::Object(element)) = element else {
            return;
        };
        self.string(
            element.get_mut("action_id"),
            255,
            false,
            &format!("{path}.action_id"),
        );
        self.text_object(
            element.get_mut("placeholder"),
            150,
            &format!("{path}.placeholder"),
        );
        if element.get("type").and_then(Value::as_str) == Some("button") {
            self.text_object(element.get_mut("text"), 75, &format!("{path}.text"));
            self.string(
                element.get_mut("value"),
                2000,
                false,
                &format!("{path}.value"),
            );
            self.string(element.get_mut("url"), 3000, false, &format!("{path}.url"));
        }
        self.string(
            element.get_mut("initial_value"),
            3000,
            false,
            &format!("{path}.initial_value"),
        );
        let options_path = format!("{path}.options");
        if let Some(options) = self.array(element.get_mut("options"), 100, &options_path) {
            for (i, option) in options.iter_mut().enumerate() {
                self.option(option, &format!("{options_path}[{i}]"));
            }
        }
        if let Some(initial) = element.get_mut("initial_option") {
            self.option(initial, &format!("{path}.initial_option"));
        }
        if let Some(Value::Object(confirm)) = element.get_mut("confirm") {
            let at = format!("{path}.confirm");
            self.text_object(confirm.get_mut("title"), 100, &format!("{at}.title"));
            self.text_object(confirm.get_mut("text"), 300, &format!("{at}.text"));
            self.text_object(confirm.get_mut("confirm"), 30, &format!("{at}.confirm"));
            self.text_object(confirm.get_mut("deny"), 30, &format!("{at}.deny"));
        }
    }

    fn option(&mut self, option: &mut Value, path: &str) {
        self.text_object(option.get_mut("text"), 75, &format!("{path}.text"));
        self.text_object(
            option.get_mut("description"),
            75,
            &format!("{path}.description"),
        );
        self.string(
            option.get_mut("value"),
            150,
            false,
            &format!("{path}.value"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(text: &str, max: usize, mrkdwn: bool) -> String {
        let mut text = text.to_owned();
        truncate(&mut text, max, mrkdwn);
        text
    }

    #[test]
    fn long_text_ends_in_an_ellipsis_within_the_limit() {
        assert_eq!(cut("abcdef", 4, false), "abc…");
        assert_eq!(cut("abc", 3, false), "abc");
        assert_eq!(cut("👋👋👋👋", 3, false), "👋👋…");
    }

    #[test]
    fn truncation_never_splits_a_token_or_an_entity() {
        assert_eq!(cut("hi <@U0BOB00001> there", 8, true), "hi …");
        assert_eq!(cut("a &amp; b", 5, true), "a …");
        assert_eq!(cut("a &amp; b", 5, false), "a &a…");
    }

    #[test]
    fn too_many_blocks_end_with_a_count_of_the_rest() {
        let blocks: Vec<Value> = (0..60).map(|_| json!({"type": "divider"})).collect();
        let mut message = json!({"text": "x", "blocks": blocks});
        assert_eq!(violations(Kind::Message, &message).len(), 1);
        enforce(Kind::Message, &mut message);
        let blocks = message["blocks"].as_array().expect("blocks");
        assert_eq!(blocks.len(), 50);
        assert_eq!(blocks[49]["elements"][0]["text"], "… and 11 more");
        assert!(violations(Kind::Message, &message).is_empty());
    }
}
