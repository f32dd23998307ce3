//! Rendering one template: substitute variables into the parsed JSON tree (never
//! into JSON text, so no value can break the structure), expand list and options
//! slots, fit lists into Block Kit's block budget, then enforce the size limits.
//!
//! Escaping follows where Slack reads mrkdwn: the `text` of a `{"type": "mrkdwn"}`
//! object and a message's top-level `text` (its notification fallback). Text
//! values are escaped there and nowhere else; `plain_text`, ids and values are
//! shown literally by Slack. Pure.

use serde_json::{json, Map, Value};

use super::limits::{self, more_block};
use super::placeholder::{list_slot, options_slot, segments, Kind, Segment};
use super::vars::{Choice, Var, Vars};
use super::{RenderError, Template, Templates};
use crate::app::shared::mrkdwn::escape;

pub(super) fn render(templates: &Templates, name: &str, vars: &Vars) -> Result<Value, RenderError> {
    let template = templates
        .get(name)
        .ok_or_else(|| RenderError::UnknownTemplate(name.to_owned()))?;
    let fill = Fill {
        template: name,
        vars,
    };
    let mut json = template.json.clone();
    match (&mut json, template.kind) {
        (Value::Array(blocks), Kind::Blocks) => fill.each(blocks)?,
        (Value::Object(root), kind) => {
            let blocks = match root.remove("blocks") {
                Some(Value::Array(blocks)) => blocks,
                _ => Vec::new(),
            };
            let blocks = fill.top_blocks(templates, blocks, limits::max_blocks(kind))?;
            for (key, value) in root.iter_mut() {
                let mrkdwn = kind == Kind::Message && key == "text";
                fill.value(value, mrkdwn)?;
            }
            root.insert("blocks".to_owned(), Value::Array(blocks));
        }
        _ => {}
    }
    limits::enforce(template.kind, &mut json);
    Ok(json)
}

struct Fill<'a> {
    template: &'a str,
    vars: &'a Vars,
}

/// A top-level block, or the rendered items of a list slot.
enum Part {
    Block(Value),
    List(Vec<Vec<Value>>),
}

impl Fill<'_> {
    fn missing(&self, name: &str) -> RenderError {
        RenderError::MissingVar {
            template: self.template.to_owned(),
            name: name.to_owned(),
        }
    }

    fn wrong(&self, name: &str, expected: &'static str) -> RenderError {
        RenderError::WrongVar {
            template: self.template.to_owned(),
            name: name.to_owned(),
            expected,
        }
    }

    fn each(&self, items: &mut [Value]) -> Result<(), RenderError> {
        items
            .iter_mut()
            .try_for_each(|item| self.value(item, false))
    }

    fn value(&self, value: &mut Value, mrkdwn: bool) -> Result<(), RenderError> {
        match value {
            Value::String(text) => {
                *text = self.string(text, mrkdwn)?;
                Ok(())
            }
            Value::Array(items) => self.each(items),
            Value::Object(object) => self.object(object),
            _ => Ok(()),
        }
    }

    fn object(&self, object: &mut Map<String, Value>) -> Result<(), RenderError> {
        let is_mrkdwn = object.get("type").and_then(Value::as_str) == Some("mrkdwn");
        let mut selected = None;
        for (key, value) in object.iter_mut() {
            match value {
                Value::Array(options) if key == "options" => {
                    selected = self.options(options)?.or(selected);
                }
                value => self.value(value, is_mrkdwn && key == "text")?,
            }
        }
        if let Some(option) = selected {
            object.insert("initial_option".to_owned(), option);
        }
        Ok(())
    }

    /// Expands `{{options:slot}}` entries; returns the selected option, if any.
    fn options(&self, options: &mut Vec<Value>) -> Result<Option<Value>, RenderError> {
        let mut expanded = Vec::with_capacity(options.len());
        let mut selected = None;
        for mut option in options.drain(..) {
            let slot = option
                .get("value")
                .and_then(Value::as_str)
                .and_then(options_slot);
            let Some(Ok(slot)) = slot else {
                self.value(&mut option, false)?;
                expanded.push(option);
                continue;
            };
            let choices = match self.vars.get(&slot) {
                Some(Var::Options(choices)) => choices,
                Some(_) => return Err(self.wrong(&slot, "options (Vars::options)")),
                None => return Err(self.missing(&slot)),
            };
            if choices.is_empty() {
                return Err(RenderError::NoOptions {
                    template: self.template.to_owned(),
                    name: slot,
                });
            }
            for Choice {
                text,
                value,
                selected: is_selected,
            } in choices
            {
                let option = json!({"text": {"type": "plain_text", "text": text, "emoji": true}, "value": value});
                if *is_selected {
                    selected = Some(option.clone());
                }
                expanded.push(option);
            }
        }
        *options = expanded;
        Ok(selected)
    }

    fn string(&self, text: &str, mrkdwn: bool) -> Result<String, RenderError> {
        // Checked at load; a string that does not parse is kept as written.
        let Ok(parts) = segments(text) else {
            return Ok(text.to_owned());
        };
        let mut out = String::with_capacity(text.len());
        for part in parts {
            match part {
                Segment::Literal(literal) => out.push_str(literal),
                Segment::Var(name) => match self.vars.get(name) {
                    Some(Var::Text(value)) if mrkdwn => out.push_str(&escape(value)),
                    Some(Var::Text(value)) => out.push_str(value),
                    Some(Var::Token { mrkdwn: token, .. }) if mrkdwn => out.push_str(token),
                    Some(Var::Token { plain, .. }) => out.push_str(plain),
                    Some(Var::List(_) | Var::Options(_)) => {
                        return Err(self.wrong(name, "text (Vars::text, mention or date)"))
                    }
                    None => return Err(self.missing(name)),
                },
            }
        }
        Ok(out)
    }

    /// Fills the top-level blocks and splices list items in, within `max` blocks:
    /// each list shows whole items while they fit, then "… and N more".
    fn top_blocks(
        &self,
        templates: &Templates,
        blocks: Vec<Value>,
        max: Option<usize>,
    ) -> Result<Vec<Value>, RenderError> {
        let mut parts = Vec::with_capacity(blocks.len());
        for mut block in blocks {
            let slot = block
                .get("block_id")
                .and_then(Value::as_str)
                .and_then(list_slot);
            let Some(Ok(slot)) = slot else {
                self.value(&mut block, false)?;
                parts.push(Part::Block(block));
                continue;
            };
            let items = match self.vars.get(&slot.slot) {
                Some(Var::List(items)) => items,
                Some(_) => return Err(self.wrong(&slot.slot, "a list (Vars::list)")),
                None => return Err(self.missing(&slot.slot)),
            };
            if items.is_empty() {
                // The slot block is the empty state.
                if let Value::Object(object) = &mut block {
                    object.remove("block_id");
                }
                self.value(&mut block, false)?;
                parts.push(Part::Block(block));
                continue;
            }
            let item_template = templates
                .get(&slot.item_template)
                .ok_or_else(|| RenderError::UnknownTemplate(slot.item_template.clone()))?;
            let rendered = items
                .iter()
                .map(|vars| render_item(item_template, &slot.item_template, vars))
                .collect::<Result<Vec<_>, _>>()?;
            parts.push(Part::List(rendered));
        }
        Ok(assemble(parts, max))
    }
}

fn render_item(template: &Template, name: &str, vars: &Vars) -> Result<Vec<Value>, RenderError> {
    let fill = Fill {
        template: name,
        vars,
    };
    let mut json = template.json.clone();
    match &mut json {
        Value::Array(blocks) => {
            fill.each(blocks)?;
            Ok(std::mem::take(blocks))
        }
        _ => Err(RenderError::WrongVar {
            template: name.to_owned(),
            name: name.to_owned(),
            expected: "an item template (a JSON array of blocks)",
        }),
    }
}

/// Splices lists between the fixed blocks. Lists take turns, one item at a time,
/// so one long list cannot crowd out the others; every list cut short ends in
/// "… and N more", and the blocks it needs are kept free while taking turns.
fn assemble(parts: Vec<Part>, max: Option<usize>) -> Vec<Value> {
    let fixed = parts.iter().filter(|p| matches!(p, Part::Block(_))).count();
    let lists: Vec<&Vec<Vec<Value>>> = parts
        .iter()
        .filter_map(|p| match p {
            Part::List(items) => Some(items),
            Part::Block(_) => None,
        })
        .collect();
    let mut shown = vec![0usize; lists.len()];
    if let Some(budget) = max.map(|max| max.saturating_sub(fixed)) {
        let mut used = 0;
        loop {
            let mut progress = false;
            for (i, items) in lists.iter().enumerate() {
                let Some(next) = items.get(shown[i]) else {
                    continue;
                };
                shown[i] += 1;
                let unfinished = lists
                    .iter()
                    .zip(&shown)
                    .filter(|(items, shown)| **shown < items.len())
                    .count();
                if used + next.len() + unfinished <= budget {
                    used += next.len();
                    progress = true;
                } else {
                    shown[i] -= 1;
                }
            }
            if !progress {
                break;
            }
        }
    } else {
        shown = lists.iter().map(|items| items.len()).collect();
    }
    let mut out = Vec::new();
    let mut list = 0;
    for part in parts {
        match part {
            Part::Block(block) => out.push(block),
            Part::List(items) => {
                let count = items.len();
                let take = shown.get(list).copied().unwrap_or(count);
                list += 1;
                out.extend(items.into_iter().take(take).flatten());
                if take < count {
                    out.push(more_block(count - take));
                }
            }
        }
    }
    out
}
