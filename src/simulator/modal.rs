//! A person's modal: reading the top view, filling inputs by label (with
//! `block_suggestion` for external selects and `block_actions` for dispatching
//! inputs), submitting (`view_submission`, applying the `response_action`) and
//! closing (`view_closed`).

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Map, Value};

use super::delivery;
use super::payloads::{self, ActionSource};
use super::person::{action_ts, Person, SubmitOutcome};
use super::web;

const TROUBLE: &str = "We had some trouble connecting. Try again?";

impl Person {
    /// The top view of this person's open modal stack (with current `state`).
    pub fn modal(&self) -> Option<Value> {
        let w = self.inner.world();
        w.top_modal(&self.id).and_then(|id| w.view_json(&id))
    }

    /// Waits until a modal is open (e.g. after a click that opens one).
    pub async fn wait_for_modal(&self, within: std::time::Duration) -> anyhow::Result<Value> {
        let me = self.clone();
        self.inner
            .wait_until(within, |_| me.modal())
            .await
            .ok_or_else(|| anyhow!("{}: no modal opened within {within:?}", self.id))
    }

    fn top_view(&self) -> anyhow::Result<(String, Value)> {
        let w = self.inner.world();
        let id = w
            .top_modal(&self.id)
            .ok_or_else(|| anyhow!("{}: no modal open", self.id))?;
        let view = w
            .view_json(&id)
            .context("modal stack points at a missing view")?;
        Ok((id, view))
    }

    /// Sets the input whose label is `label` (see the brief for per-type rules).
    /// `external_select` picks the option whose text equals `value`, else the
    /// first option whose text contains it (case-insensitive).
    pub async fn fill(&self, label: &str, value: &str) -> anyhow::Result<()> {
        let (view_id, view) = self.top_view()?;
        let block = view["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|b| b["type"] == "input" && b["label"]["text"] == label)
            .cloned()
            .ok_or_else(|| anyhow!("no input labelled {label:?} in the open modal"))?;
        let block_id = block["block_id"].as_str().unwrap_or_default().to_string();
        let element = &block["element"];
        let action_id = element["action_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let state = match element["type"].as_str().unwrap_or("") {
            "external_select" => {
                let option = self.suggest(&view, &block_id, &action_id, value).await?;
                json!({"type": "external_select", "selected_option": option})
            }
            _ => self.state_value(element, value)?,
        };
        {
            let mut w = self.inner.world();
            let rec = w.views.get_mut(&view_id).context("open modal vanished")?;
            let entry = rec
                .values
                .entry(block_id.clone())
                .or_insert_with(|| json!({}));
            entry[action_id.as_str()] = state.clone();
        }
        self.inner.bump();
        if block["dispatch_action"] == true {
            let view = self.top_view()?.1;
            let mut action = state;
            action["action_id"] = Value::from(action_id);
            action["block_id"] = Value::from(block_id);
            action["action_ts"] = Value::from(action_ts());
            let outcome = self
                .send_block_actions(ActionSource::View { view }, action)
                .await?;
            if !outcome.acked {
                bail!("the app did not ack the block_actions for {label:?}");
            }
        }
        Ok(())
    }

    /// The `state.values` entry for `element` set to `value`.
    fn state_value(&self, element: &Value, value: &str) -> anyhow::Result<Value> {
        let kind = element["type"].as_str().unwrap_or("");
        let w = self.inner.world();
        let user = |name: &str| {
            w.ws.user(name.trim())
                .map(|u| u.id.clone())
                .ok_or_else(|| anyhow!("no user {name:?}"))
        };
        let channel = |name: &str| {
            w.resolve_channel(name.trim())
                .map(|c| c.id.clone())
                .ok_or_else(|| anyhow!("no channel {name:?}"))
        };
        let split = || value.split(',').map(str::trim).filter(|s| !s.is_empty());
        let v = match kind {
            "plain_text_input" | "number_input" | "email_text_input" | "url_text_input" => {
                json!({"type": kind, "value": value})
            }
            "static_select" | "radio_buttons" => {
                json!({"type": kind, "selected_option": pick_option(element, value)?})
            }
            "multi_static_select" | "checkboxes" => {
                let picked: anyhow::Result<Vec<Value>> =
                    split().map(|v| pick_option(element, v)).collect();
                json!({"type": kind, "selected_options": picked?})
            }
            "users_select" => json!({"type": kind, "selected_user": user(value)?}),
            "multi_users_select" => {
                let ids: anyhow::Result<Vec<String>> = split().map(user).collect();
                json!({"type": kind, "selected_users": ids?})
            }
            "conversations_select" => {
                json!({"type": kind, "selected_conversation": channel(value)?})
            }
            "channels_select" => json!({"type": kind, "selected_channel": channel(value)?}),
            "multi_conversations_select" => {
                let ids: anyhow::Result<Vec<String>> = split().map(channel).collect();
                json!({"type": kind, "selected_conversations": ids?})
            }
            "multi_channels_select" => {
                let ids: anyhow::Result<Vec<String>> = split().map(channel).collect();
                json!({"type": kind, "selected_channels": ids?})
            }
            "datepicker" => json!({"type": kind, "selected_date": value}),
            "timepicker" => json!({"type": kind, "selected_time": value}),
            "datetimepicker" => {
                let secs: i64 = value.parse().context("datetimepicker takes unix seconds")?;
                json!({"type": kind, "selected_date_time": secs})
            }
            other => bail!("filling a {other:?} element is not simulated"),
        };
        Ok(v)
    }

    /// Sends `block_suggestion` with `query` and picks from the options in the ack.
    async fn suggest(
        &self,
        view: &Value,
        block_id: &str,
        action_id: &str,
        query: &str,
    ) -> anyhow::Result<Value> {
        let user = self.user();
        let ids = self.team_ids();
        let payload = payloads::block_suggestion(
            &ids.team(),
            &user,
            view.clone(),
            block_id,
            action_id,
            query,
        );
        let envelope = payloads::envelope("interactive", payload);
        let shown = "options failed to load";
        let ack = self
            .deliver("block_suggestion", envelope, shown)
            .await
            .ok_or_else(|| anyhow!("block_suggestion was not acked"))?;
        let payload = ack.payload.unwrap_or(Value::Null);
        let mut options: Vec<Value> = payload["options"].as_array().cloned().unwrap_or_default();
        for group in payload["option_groups"].as_array().into_iter().flatten() {
            options.extend(group["options"].as_array().cloned().unwrap_or_default());
        }
        let text = |o: &Value| o["text"]["text"].as_str().unwrap_or_default().to_string();
        let lower = query.to_lowercase();
        options
            .iter()
            .find(|o| text(o) == query)
            .or_else(|| {
                options
                    .iter()
                    .find(|o| text(o).to_lowercase().contains(&lower))
            })
            .cloned()
            .ok_or_else(|| anyhow!("no suggested option matches {query:?} in {payload}"))
    }

    /// Submits the top modal and applies the app's answer to the modal stack.
    pub async fn submit(&self) -> anyhow::Result<SubmitOutcome> {
        self.submit_checked(true).await
    }

    /// [`Person::submit`] without the Slack client's own check that required inputs
    /// are filled: what a modified client or a hand-made payload sends, and so what
    /// the app must refuse itself.
    pub async fn submit_unchecked(&self) -> anyhow::Result<SubmitOutcome> {
        self.submit_checked(false).await
    }

    async fn submit_checked(&self, client_checks: bool) -> anyhow::Result<SubmitOutcome> {
        let (view_id, mut view) = self.top_view()?;
        if view["submit"].is_null() {
            bail!("the open modal has no submit button");
        }
        view["state"] = json!({"values": submission_values(&view, client_checks)?});
        let user = self.user();
        let ids = self.team_ids();
        let trigger_id = self.inner.world().new_trigger(&self.id);
        let payload = payloads::view_submission(&ids.team(), &user, view, &trigger_id);
        let envelope = payloads::envelope("interactive", payload);
        let envelope_id = envelope["envelope_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let Some(ack) = self.deliver("view_submission", envelope, TROUBLE).await else {
            return Ok(SubmitOutcome::Failed(TROUBLE.to_string()));
        };
        let outcome = self.apply_submission(&view_id, ack.payload);
        if let SubmitOutcome::Failed(why) = &outcome {
            self.inner
                .world()
                .record_person_error(&self.id, "view_submission", &envelope_id, why);
        }
        self.inner.bump();
        Ok(outcome)
    }

    /// Submits `view` as this person although their Slack client never showed it to
    /// them (a forged `view_submission`: another person's modal copied with its
    /// `private_metadata`, or one made up). `typed` sets plain-text inputs by label.
    /// Returns the app's ack payload; nobody's modal stack changes.
    pub async fn submit_forged(
        &self,
        mut view: Value,
        typed: &[(&str, &str)],
    ) -> anyhow::Result<Option<Value>> {
        let mut values = Map::new();
        for (label, text) in typed {
            let block = input_blocks(&view)
                .find(|b| b["label"]["text"] == *label)
                .ok_or_else(|| anyhow!("no input labelled {label:?} in the forged view"))?;
            let block_id = block["block_id"].as_str().unwrap_or_default().to_owned();
            let action_id = block["element"]["action_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            values.insert(
                block_id,
                json!({ action_id: {"type": "plain_text_input", "value": text} }),
            );
        }
        view["state"] = json!({ "values": values });
        let user = self.user();
        let ids = self.team_ids();
        let trigger_id = self.inner.world().new_trigger(&self.id);
        let payload = payloads::view_submission(&ids.team(), &user, view, &trigger_id);
        let envelope = payloads::envelope("interactive", payload);
        let ack = self
            .deliver("view_submission", envelope, TROUBLE)
            .await
            .ok_or_else(|| anyhow!("the forged view_submission was not acked"))?;
        Ok(ack.payload)
    }

    fn apply_submission(&self, view_id: &str, payload: Option<Value>) -> SubmitOutcome {
        let mut w = self.inner.world();
        let stack = w.modal_stacks.entry(self.id.clone()).or_default();
        let payload = match payload {
            None => Value::Null,
            Some(Value::Object(m)) if m.is_empty() => Value::Null,
            Some(p) => p,
        };
        let refuse = |why: &str| SubmitOutcome::Failed(format!("{TROUBLE} ({why})"));
        match payload["response_action"].as_str() {
            _ if payload.is_null() => {
                stack.retain(|id| id != view_id);
                SubmitOutcome::Closed
            }
            Some("clear") => {
                stack.clear();
                SubmitOutcome::Cleared
            }
            Some("errors") => {
                let Some(errors) = payload["errors"].as_object() else {
                    return refuse("errors must be an object");
                };
                let view = w.view_json(view_id).unwrap_or_default();
                let inputs: Vec<&str> = input_blocks(&view)
                    .filter_map(|b| b["block_id"].as_str())
                    .collect();
                let mut out = BTreeMap::new();
                for (block, msg) in errors {
                    if !inputs.contains(&block.as_str()) {
                        return refuse(&format!("errors key {block:?} is not an input block"));
                    }
                    out.insert(block.clone(), msg.as_str().unwrap_or_default().to_string());
                }
                SubmitOutcome::Errors(out)
            }
            Some(action @ ("update" | "push")) => {
                let new = &payload["view"];
                if let Err(e) = web::validate_view(new, "modal") {
                    return refuse(&format!("invalid view: {}", e.code));
                }
                if action == "update" {
                    match web::replace_view(&mut w, view_id, new) {
                        Some(v) => SubmitOutcome::Updated(v),
                        None => refuse("view vanished"),
                    }
                } else {
                    let user = self.id.clone();
                    match web::push_view(&mut w, &user, new) {
                        Ok(v) => SubmitOutcome::Pushed(v),
                        Err(e) => refuse(&e.code),
                    }
                }
            }
            _ => refuse(&format!("not a response_action Slack accepts: {payload}")),
        }
    }

    /// Closes the top view (the whole stack if it has `clear_on_close`), sending
    /// `view_closed` when the view asked for `notify_on_close`.
    pub async fn close_modal(&self) {
        let Ok((view_id, view)) = self.top_view() else {
            return;
        };
        {
            let mut w = self.inner.world();
            let stack = w.modal_stacks.entry(self.id.clone()).or_default();
            if view["clear_on_close"] == true {
                stack.clear();
            } else {
                stack.retain(|id| *id != view_id);
            }
        }
        self.inner.bump();
        if view["notify_on_close"] == true {
            let ids = self.team_ids();
            let payload = payloads::view_closed(&ids.team(), &self.user(), view);
            let envelope = payloads::envelope("interactive", payload);
            let envelope_id = envelope["envelope_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            delivery::dispatch(&self.inner, envelope);
            let _ =
                delivery::wait_ack(&self.inner, &envelope_id, self.inner.options.ack_timeout).await;
        }
    }
}

fn input_blocks(view: &Value) -> impl Iterator<Item = &Value> {
    view["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "input")
}

/// The option of a static select / radio group whose visible text is `text`.
fn pick_option(element: &Value, text: &str) -> anyhow::Result<Value> {
    let mut options: Vec<&Value> = element["options"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    for group in element["option_groups"].as_array().into_iter().flatten() {
        options.extend(group["options"].as_array().into_iter().flatten());
    }
    options
        .into_iter()
        .find(|o| o["text"]["text"] == text)
        .cloned()
        .ok_or_else(|| anyhow!("no option {text:?}"))
}

/// `state.values` for a submission: what the person filled, plus null-valued
/// entries for unfilled optional inputs. An unfilled required input is an error
/// (Slack's client would not submit).
fn submission_values(view: &Value, client_checks: bool) -> anyhow::Result<Map<String, Value>> {
    let mut values = view["state"]["values"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for block in input_blocks(view) {
        let block_id = block["block_id"].as_str().unwrap_or_default();
        let element = &block["element"];
        let action_id = element["action_id"].as_str().unwrap_or_default();
        if values
            .get(block_id)
            .and_then(|b| b.get(action_id))
            .is_some()
        {
            continue;
        }
        if block["optional"] != true && client_checks {
            bail!(
                "required input {:?} is not filled: Slack would not submit",
                block["label"]["text"]
            );
        }
        let kind = element["type"].as_str().unwrap_or_default();
        let empty = match kind {
            "static_select" | "external_select" | "radio_buttons" => {
                json!({"type": kind, "selected_option": null})
            }
            "multi_static_select" | "multi_external_select" | "checkboxes" => {
                json!({"type": kind, "selected_options": []})
            }
            "users_select" => json!({"type": kind, "selected_user": null}),
            "multi_users_select" => json!({"type": kind, "selected_users": []}),
            "conversations_select" => json!({"type": kind, "selected_conversation": null}),
            "multi_conversations_select" => json!({"type": kind, "selected_conversations": []}),
            "channels_select" => json!({"type": kind, "selected_channel": null}),
            "multi_channels_select" => json!({"type": kind, "selected_channels": []}),
            "datepicker" => json!({"type": kind, "selected_date": null}),
            "timepicker" => json!({"type": kind, "selected_time": null}),
            "datetimepicker" => json!({"type": kind, "selected_date_time": null}),
            _ => json!({"type": kind, "value": null}),
        };
        let entry = values
            .entry(block_id.to_string())
            .or_insert_with(|| json!({}));
        entry[action_id] = empty;
    }
    Ok(values)
}
