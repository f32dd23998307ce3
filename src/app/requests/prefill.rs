//! A one-line `/c1 request` (or `/c1 break-glass`) that is incomplete or asks for
//! more: the request modal opens filled with what was understood, the problems
//! shown at its top.

use serde_json::{json, Value};

use crate::app::requests::choices::choices_for;
use crate::app::requests::{modal, truncate, Metadata};
use crate::app::shared::services::Services;
use crate::catalog::Resource;
use crate::workflow::submit::fields;

/// What a one-line `/c1 request` understood, for the modal it opens when something
/// is missing or wrong.
pub struct Prefill {
    pub resource: Option<String>,
    pub entitlement: Option<String>,
    /// The duration option's value (`"7200"`, `"permanent"`).
    pub duration: Option<String>,
    pub reason: Option<String>,
    /// The person named with `for @user`.
    pub on_behalf_of: Option<String>,
    /// `from 09:00 tomorrow`, in the requester's time zone.
    pub starts: Option<crate::intake::start::StartPhrase>,
    /// One sentence per problem, plain text.
    pub problems: Vec<String>,
    /// `/c1 break-glass`: *Emergency* ticked (where policy offers it).
    pub emergency: bool,
}

/// Opens the request modal filled with what was understood, the problems shown at
/// its top; `query` pre-filters the resource search when the resource is unknown.
pub fn open_prefilled(
    services: &Services,
    trigger_id: String,
    channel: String,
    user: String,
    query: String,
    prefill: Prefill,
) {
    let services = services.clone();
    tokio::spawn(async move {
        let meta = Metadata { channel, query };
        let resource = prefill
            .resource
            .as_deref()
            .and_then(|id| services.catalog.resource(id));
        let person = services.directory.person(&user).await;
        let starts_at = match (&prefill.starts, &person) {
            (Some(phrase), Ok(person)) => {
                crate::app::requests::scheduled::resolve(phrase, person, services.now())
            }
            _ => None,
        };
        let choices = match (resource, person) {
            (Some(resource), Ok(person)) => Some(choices_for(
                &services,
                &person,
                &meta.channel,
                resource,
                prefill.entitlement.as_deref(),
                prefill.duration.as_deref(),
            )),
            _ => None,
        };
        let mut view = match modal(&services, &meta, choices) {
            Ok(view) => view,
            Err(error) => return tracing::error!(%error, "cannot render the request modal"),
        };
        prefill_view(&mut view, resource, &prefill);
        crate::app::requests::scheduled::prefill_start(&mut view, starts_at);
        services.open_view(&trigger_id, view, "request").await;
    });
}

/// Sets the resource select's and justification's initial values, and puts the
/// problems above the form.
fn prefill_view(view: &mut Value, resource: Option<&Resource>, prefill: &Prefill) {
    let Some(blocks) = view.get_mut("blocks").and_then(Value::as_array_mut) else {
        return;
    };
    for block in blocks.iter_mut() {
        let id = block
            .get("block_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        // An admin may have reshaped the block: set a value only where an element is.
        let Some(element) = block.get_mut("element").and_then(Value::as_object_mut) else {
            continue;
        };
        match (id.as_deref(), resource) {
            (Some(fields::RESOURCE), Some(resource)) => {
                element.insert(
                    "initial_option".into(),
                    json!({
                        "text": {"type": "plain_text", "text": truncate(&resource.name, 75)},
                        "value": resource.id.as_str(),
                    }),
                );
            }
            (Some(fields::ON_BEHALF), _) => {
                if let Some(user) = &prefill.on_behalf_of {
                    element.insert("initial_user".into(), json!(user));
                }
            }
            (Some(fields::JUSTIFICATION), _) => {
                if let Some(reason) = prefill.reason.as_deref().filter(|r| !r.is_empty()) {
                    element.insert("initial_value".into(), json!(truncate(reason, 3000)));
                }
            }
            (Some(fields::EMERGENCY), _) if prefill.emergency => {
                if let Some(options) = element.get("options").cloned() {
                    element.insert("initial_options".into(), options);
                }
            }
            _ => {}
        }
    }
    let mut problems = prefill.problems.clone();
    let offered = blocks.iter().any(|b| b["block_id"] == fields::EMERGENCY);
    if prefill.emergency && !offered {
        problems.push(if prefill.entitlement.is_some() {
            "Emergency access is not offered for this access: ask for it with approval below.".into()
        } else {
            "Choose the resource and the entitlement: Emergency is offered below where policy allows it.".into()
        });
    }
    if !problems.is_empty() {
        let text: Vec<String> = problems
            .iter()
            .map(|p| format!(":warning: {}", crate::app::shared::mrkdwn::escape(p)))
            .collect();
        blocks.insert(
            0,
            json!({"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(&text.join("\n"), 3000)}]}),
        );
    }
}
