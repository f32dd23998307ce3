//! The DM conversation's one step message as Block Kit, from the `dm_step`,
//! `dm_confirm` and `dm_closed` templates. Pure rendering: the person's own text
//! goes through `Vars::text` and is escaped there.

use serde_json::Value;

use crate::app::dm::Closing;
use crate::app::shared::services::Services;
use crate::intake::conversation::{Conversation, Step};
use crate::templates::Vars;
use crate::workflow::submit::human;

/// "AWS production · ReadOnly · 2 h", as far as chosen.
fn so_far(services: &Services, conversation: &Conversation) -> String {
    let resource = conversation
        .resource
        .as_deref()
        .and_then(|r| services.catalog.resource(r));
    let mut parts: Vec<String> = Vec::new();
    if let Some(resource) = resource {
        parts.push(resource.name.clone());
        if let Some(entitlement) = resource
            .entitlements
            .iter()
            .find(|e| Some(e.id.as_str()) == conversation.entitlement.as_deref())
        {
            parts.push(entitlement.name.clone());
        }
    }
    if let Some(duration) = conversation.duration.as_deref().map(duration_label) {
        parts.push(duration);
    }
    if parts.is_empty() {
        "Nothing chosen yet.".into()
    } else {
        format!("So far: {}", parts.join(" · "))
    }
}

fn duration_label(value: &str) -> String {
    match crate::catalog::RequestedDuration::from_value(value) {
        Some(crate::catalog::RequestedDuration::For(d)) => {
            human(std::time::Duration::from_secs(d.as_secs()))
        }
        _ => "permanently".into(),
    }
}

pub(super) fn render(services: &Services, conversation: &Conversation) -> anyhow::Result<Value> {
    let templates = services.templates();
    let note = |hint: &str| match &conversation.problem {
        Some(problem) => format!(":warning: {problem}"),
        None => hint.to_owned(),
    };
    let step = conversation.step();
    if step == Step::Confirm {
        let names = name_parts(services, conversation);
        let vars = Vars::new()
            .text("resource", names.0)
            .text("entitlement", names.1)
            .text(
                "duration",
                conversation
                    .duration
                    .as_deref()
                    .map(duration_label)
                    .unwrap_or_default(),
            )
            .text("reason", conversation.reason.clone().unwrap_or_default())
            .text(
                "note",
                note("Submit sends it to the approvers; Edit opens the form with these answers."),
            )
            .text("key", &conversation.message_key);
        return Ok(templates.render("dm_confirm", &vars)?);
    }
    let (title, hint) = match step {
        Step::Resource => (
            "Which resource do you need access to?".to_owned(),
            "Pick one below, or type its name. Write cancel to stop.",
        ),
        Step::Entitlement => (
            format!("Which access on {}?", name_parts(services, conversation).0),
            "Pick one below, or type its name. Write cancel to stop.",
        ),
        Step::Duration => (
            "For how long?".to_owned(),
            "Pick one below, or type a duration such as 45m or 3h. The clock starts when access is granted.",
        ),
        _ => (
            "Why do you need it?".to_owned(),
            "Write the reason as your next message here; the approvers see it.",
        ),
    };
    let offers = conversation
        .offered
        .iter()
        .map(|offer| {
            Vars::new()
                .text("label", &offer.label)
                .text("value", &offer.value)
        })
        .collect();
    let vars = Vars::new()
        .text("title", title)
        .text("so_far", so_far(services, conversation))
        .text("note", note(hint))
        .text("key", &conversation.message_key)
        .list("offers", offers);
    Ok(templates.render("dm_step", &vars)?)
}

fn name_parts(services: &Services, conversation: &Conversation) -> (String, String) {
    let resource = conversation
        .resource
        .as_deref()
        .and_then(|r| services.catalog.resource(r));
    let entitlement = resource.and_then(|r| {
        r.entitlements
            .iter()
            .find(|e| Some(e.id.as_str()) == conversation.entitlement.as_deref())
    });
    (
        resource.map(|r| r.name.clone()).unwrap_or_default(),
        entitlement.map(|e| e.name.clone()).unwrap_or_default(),
    )
}

/// The step message once the conversation is over: how it ended, and what it held.
pub(super) fn closed(
    services: &Services,
    conversation: &Conversation,
    how: Closing,
) -> anyhow::Result<Value> {
    let outcome = match how {
        Closing::Answered => "Answered; the next step is below.".to_owned(),
        Closing::Cancelled => "Cancelled. Nothing was submitted.".to_owned(),
        Closing::Expired => format!(
            "This request expired after {} without an answer. Nothing was submitted; write to me to start again.",
            human(services.requests.conversation_expires_after)
        ),
        Closing::Submitted => {
            "Submitted. Your request and where it stands are in the message below.".to_owned()
        }
        Closing::InForm => "Continued in the form.".to_owned(),
    };
    let vars = Vars::new()
        .text("outcome", outcome)
        .text("so_far", so_far(services, conversation));
    Ok(services.templates().render("dm_closed", &vars)?)
}
