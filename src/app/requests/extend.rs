//! *Extend*: more time on active access, asked as a new request that names the one
//! it extends. Policy and approvers decide it like any other; when approved while the
//! old access is still active, it takes that access over until the old end plus the
//! time asked (`workflow::grant::extend`), with no new provisioning task.

use std::time::Duration;

use serde_json::{json, Value};

use crate::app::grants::StartPlan;
use crate::app::shared::journaled::Sender;
use crate::app::shared::services::Services;
use crate::templates::{Choice, Vars};
use crate::workflow::grant::GrantState;
use crate::workflow::grant::Via;
use crate::workflow::submit::{fields, Form};

/// A click on *Extend*: the modal opens at once, for the person with the access only.
pub fn open_modal(services: &Services, trigger_id: String, sender: Sender, request_id: String) {
    let services = services.clone();
    tokio::spawn(async move {
        let user = sender.user.clone();
        let request = match services.load_request(&request_id).await {
            Ok(Some(stored)) => stored.data,
            _ => return services.answer(&sender, &format!("There is no request {request_id}.")),
        };
        let active = request
            .grant
            .as_ref()
            .is_some_and(|g| g.state == GrantState::Active);
        if request.beneficiary != user {
            return services.answer(
                &sender,
                &format!(
                    "Only <@{}> can extend the access from {request_id}.",
                    request.beneficiary
                ),
            );
        }
        let Some(until) = request
            .grant
            .as_ref()
            .and_then(|g| g.expires_at)
            .filter(|_| active)
        else {
            return services.answer(&sender, &format!("Access from {request_id} is not active with an end date; request it again with `{} request`.", services.command));
        };
        let names = services.names(&request);
        let max = services
            .target(&request)
            .and_then(|(_, entitlement)| entitlement.max_duration.as_secs())
            .map(Duration::from_secs);
        let durations = crate::app::shared::request_form::duration_choices(None, max, false)
            .into_iter()
            .map(|(text, value)| Choice {
                text,
                value,
                selected: false,
            })
            .collect();
        let vars = Vars::new()
            .text("request_id", &request.id)
            .text("entitlement", &names.entitlement)
            .text("resource", &names.resource)
            .date("until", until.timestamp())
            .options("durations", durations);
        match services.templates().render("extend_modal", &vars) {
            Ok(view) => services.open_view(&trigger_id, view, "extend").await,
            Err(error) => tracing::error!(%error, "cannot render the extend modal"),
        }
    });
}

/// The extend modal was submitted: errors for the modal, or `None` to close it once
/// the new request is committed.
pub async fn submitted(
    services: &Services,
    user: &str,
    input: &crate::slack::view_input::ViewInput,
) -> Option<Value> {
    let request_id = input.metadata.as_str();
    let refuse = |message: String| {
        Some(json!({ "response_action": "errors", "errors": { fields::JUSTIFICATION: message } }))
    };
    let previous = match services.load_request(request_id).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return refuse(format!("There is no request {request_id}.")),
        Err(error) => {
            tracing::error!(%error, "cannot read the request to extend");
            return refuse(
                "c1bot could not read that request just now; nothing was submitted. Try again."
                    .into(),
            );
        }
    };
    // Checked again on submission: the modal may have been open a while.
    if previous.data.beneficiary != user {
        return refuse(format!(
            "Only <@{}> can extend this access.",
            previous.data.beneficiary
        ));
    }
    let form = Form {
        resource: Some(previous.data.resource.clone()),
        entitlement: Some(previous.data.entitlement.clone()),
        duration: input.text(fields::DURATION).map(str::to_owned),
        justification: input.text(fields::JUSTIFICATION).map(str::to_owned),
        on_behalf_of: None,
        // The extension asks for the same access, so it carries the same form.
        fields: previous.data.fields.clone(),
        starts_at: None,
        emergency: false,
    };
    let plan = StartPlan {
        via: Via::Manual {
            assignees: Default::default(),
            after_failure: None,
        },
        screened: Default::default(),
        previous: Some(previous),
    };
    let also = crate::store::Change::new();
    match crate::app::requests::create(services, user, "", &form, Some(plan), "extend", &also).await
    {
        Ok(()) => None,
        Err(rejected) => {
            Some(json!({ "response_action": "errors", "errors": on_this_modal(rejected.errors) }))
        }
    }
}

/// The errors keyed by blocks this modal has: one about a request-form field (the
/// catalog or policy asks for more than the extended request carries) is shown at
/// the justification, saying where the form can be filled in.
fn on_this_modal(
    errors: crate::workflow::submit::FieldErrors,
) -> crate::workflow::submit::FieldErrors {
    let mut shown = crate::workflow::submit::FieldErrors::new();
    for (key, message) in errors {
        let (key, message) = match key.strip_prefix(crate::catalog::FIELD_BLOCK_PREFIX) {
            Some(_) => (
                fields::JUSTIFICATION.to_owned(),
                format!("{message} Ask with `/c1 request` to fill in the request form."),
            ),
            None => (key, message),
        };
        shown
            .entry(key)
            .and_modify(|m: &mut String| {
                m.push(' ');
                m.push_str(&message)
            })
            .or_insert(message);
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::submit::FieldErrors;

    #[test]
    fn a_request_form_error_is_shown_at_the_justification_with_where_to_fill_the_form() {
        let errors = FieldErrors::from([
            (
                "field_ticket".to_owned(),
                "Ticket is required for this access.".to_owned(),
            ),
            (
                "justification".to_owned(),
                "Tell the approvers why.".to_owned(),
            ),
            ("duration".to_owned(), "Too long.".to_owned()),
        ]);
        let shown = on_this_modal(errors);
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert_eq!(shown["duration"], "Too long.");
        let justification = &shown["justification"];
        assert!(
            justification.contains("Ticket is required for this access.")
                && justification.contains("Tell the approvers why.")
                && justification.contains("/c1 request"),
            "{justification}"
        );
    }
}
