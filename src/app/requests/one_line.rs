//! `/c1 request <resource> <entitlement> <duration> [from <start>] <reason…>`: submitted at once
//! when every part is understood (the same validation and policy as the modal);
//! otherwise the modal opens filled with what was understood and the problems shown.
//! A complete one is journaled before its ack ([`crate::app::journal`]) and submitted
//! by [`submit`]; the person's answer commits with the request.

use serde_json::Value;

use crate::app::requests::{self, Prefill};
use crate::app::shared::journaled::Outcome;
use crate::app::shared::journaled::Sender;
use crate::app::shared::services::Services;
use crate::intake::{self, Part};
use crate::store::Change;
use crate::workflow::submit::Form;

/// Whether `text` is a complete one-line request (journaled, then [`submit`]ted).
/// An entitlement with a request form is never complete on one line: its fields
/// are filled in the modal.
pub fn is_complete(services: &Services, text: &str) -> bool {
    !text.trim().is_empty()
        && intake::parse_one_line(text, &services.catalog)
            .complete()
            .is_some_and(|complete| !has_form(services, &complete))
}

/// Whether the entitlement asks for extra fields (catalog `fields`).
fn has_form(services: &Services, complete: &intake::Complete) -> bool {
    services
        .catalog
        .resource(&complete.resource)
        .and_then(|r| {
            r.entitlements
                .iter()
                .find(|e| e.id.as_str() == complete.entitlement)
        })
        .is_some_and(|e| !e.fields.is_empty())
}

/// Submits a complete one-line request; "Submitted" commits with it, a refusal is
/// told by the journal.
pub async fn submit(services: &Services, sender: &Sender, text: &str, also: Change) -> Outcome {
    let (user, channel) = (
        sender.user.as_str(),
        sender.channel.as_deref().unwrap_or_default(),
    );
    let Some(complete) = intake::parse_one_line(text, &services.catalog).complete() else {
        return Outcome::Nothing;
    };
    let starts_at = match complete.starts {
        None => None,
        Some(phrase) => match crate::app::requests::scheduled::start_of(services, user, &phrase)
            .await
        {
            Ok(start) => Some(start),
            Err(rejected) if rejected.transient => return Outcome::Retry(rejected.sentence()),
            Err(rejected) => {
                return Outcome::Refused(format!("Nothing was submitted: {}", rejected.sentence()))
            }
        },
    };
    let form = Form {
        resource: Some(complete.resource),
        entitlement: Some(complete.entitlement),
        duration: Some(complete.duration.to_value()),
        justification: Some(complete.reason),
        on_behalf_of: complete.on_behalf_of,
        fields: Default::default(),
        starts_at,
        emergency: false,
    };
    let told = "Submitted. Your request and where it stands are in your DM with c1bot.";
    let also = also.outbox(sender.tell(told));
    match requests::create(services, user, channel, &form, None, "one_line", &also).await {
        Ok(()) => Outcome::Committed,
        Err(rejected) if rejected.transient => Outcome::Retry(rejected.sentence()),
        Err(rejected) => {
            Outcome::Refused(format!("Nothing was submitted: {}", rejected.sentence()))
        }
    }
}

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
    let complete = parsed.complete();
    match complete {
        // Complete: journaled before the ack and submitted by [`submit`].
        Some(complete) if !has_form(services, &complete) => None,
        complete => {
            let mut problems = parsed.problems();
            if complete.is_some() {
                problems
                    .push("This access asks for a few more details: fill them in below.".into());
            }
            open_filled(services, trigger_id, channel, user, parsed, problems, false);
            None
        }
    }
}

/// `/c1 break-glass <resource> <entitlement> <duration> <reason…>`: never submitted
/// from the line; the request modal opens filled with what was understood and with
/// *Emergency* ticked, and its confirm step follows.
pub fn open_as_emergency(
    services: &Services,
    trigger_id: String,
    channel: String,
    user: String,
    text: &str,
) {
    let parsed = intake::parse_one_line(text, &services.catalog);
    let problems = if parsed.complete().is_some() {
        Vec::new()
    } else {
        parsed.problems()
    };
    open_filled(services, trigger_id, channel, user, parsed, problems, true);
}

fn open_filled(
    services: &Services,
    trigger_id: String,
    channel: String,
    user: String,
    parsed: intake::Parsed,
    problems: Vec<String>,
    emergency: bool,
) {
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
        starts: parsed.starts,
        problems,
        emergency,
    };
    requests::open_prefilled(services, trigger_id, channel, user, query, prefill);
}
