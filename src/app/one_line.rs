//! `/c1 request <resource> <entitlement> <duration> <reason…>`: submitted at once
//! when every part is understood (the same validation and policy as the modal);
//! otherwise the modal opens filled with what was understood and the problems shown.

use serde_json::Value;

use super::requests::{self, Prefill};
use super::services::Services;
use crate::intake::{self, Part};
use crate::workflow::submit::Form;

/// The slash command's ack payload (`None`: nothing to show at once).
pub fn handle(
    services: &Services,
    trigger_id: String,
    channel: String,
    user: String,
    text: &str,
) -> Option<Value> {
    if text.trim().is_empty() {
        requests::open_modal(services, trigger_id, channel, String::new());
        return None;
    }
    let parsed = intake::parse_one_line(text, &services.catalog);
    match parsed.complete() {
        Some(complete) => {
            let form = Form {
                resource: Some(complete.resource),
                entitlement: Some(complete.entitlement),
                duration: Some(complete.duration.to_value()),
                justification: Some(complete.reason),
                on_behalf_of: complete.on_behalf_of,
            };
            let services = services.clone();
            tokio::spawn(async move {
                let message =
                    match requests::create(&services, &user, &channel, &form, None, "one_line")
                        .await
                    {
                        Ok(()) => {
                            "Submitted. Your request and where it stands are in your DM with c1bot."
                                .to_owned()
                        }
                        Err(errors) => {
                            let mut problems: Vec<&String> = errors.values().collect();
                            problems.dedup();
                            format!(
                                "Nothing was submitted: {}",
                                problems
                                    .iter()
                                    .map(|p| p.as_str())
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            )
                        }
                    };
                services.tell(&channel, &user, message);
            });
            None
        }
        None => {
            let problems = parsed.problems();
            let query = match &parsed.resource {
                Part::Unknown { text, .. } | Part::Ambiguous { text, .. } => text.clone(),
                _ => String::new(),
            };
            let prefill = Prefill {
                resource: parsed.resource.found().cloned(),
                entitlement: parsed.entitlement.found().cloned(),
                duration: parsed.duration.found().map(|d| d.to_value()),
                reason: parsed.reason.found().cloned(),
                on_behalf_of: parsed.on_behalf_of.clone(),
                problems,
            };
            requests::open_prefilled(services, trigger_id, channel, user, query, prefill);
            None
        }
    }
}
