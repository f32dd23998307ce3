//! The request modal: opening it, its typeahead, redrawing it as the resource and
//! entitlement are chosen, and its submission, handed to `requests::create`.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::choices::{choices_for, duration_options, requestable, Choices};
use super::create;
use crate::app::shared::request_form::{self, form_from};
use crate::app::shared::services::Services;
use crate::slack::view_input::ViewInput;
use crate::slack::web::methods;
use crate::store::Change;
use crate::templates::{Choice, Vars};

/// Slack shows at most 100 options in a select.
const MAX_OPTIONS: usize = 100;

/// What the modal remembers between interactions (in `private_metadata`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Metadata {
    pub(super) channel: String,
    pub(super) query: String,
}

/// `/c1 request [query]`: opens the modal at once, in the background of the ack.
pub fn open_modal(services: &Services, trigger_id: String, channel: String, query: String) {
    let services = services.clone();
    tokio::spawn(async move {
        let view = match modal(&services, &Metadata { channel, query }, None) {
            Ok(view) => view,
            Err(error) => return tracing::error!(%error, "cannot render the request modal"),
        };
        services.open_view(&trigger_id, view, "request").await;
    });
}

/// The modal, with entitlement and duration choices for `resource` when one is chosen.
pub(super) fn modal(
    services: &Services,
    meta: &Metadata,
    choices: Option<Choices<'_>>,
) -> anyhow::Result<Value> {
    let choices = choices.unwrap_or_else(|| Choices {
        entitlements: vec![Choice {
            text: "Choose a resource first".into(),
            value: "none".into(),
            selected: false,
        }],
        durations: duration_options(&request_form::duration_choices(None, None, false)),
        form: &[],
        required: BTreeSet::new(),
        break_glass: None,
    });
    let placeholder = if meta.query.is_empty() {
        "Search the catalog".to_owned()
    } else {
        format!("Search: {}", meta.query)
    };
    let vars = Vars::new()
        .text("private_metadata", serde_json::to_string(meta)?)
        .text("resource_placeholder", placeholder)
        .options("entitlements", choices.entitlements)
        .options("durations", choices.durations);
    let mut view = services.templates().render("request_modal", &vars)?;
    crate::app::shared::request_fields::insert(&mut view, choices.form, &choices.required);
    if let Some(cap) = choices.break_glass {
        crate::app::requests::break_glass::insert_choice(&mut view, cap);
    }
    Ok(view)
}

/// What c1bot stored in the request modal when it opened it.
fn metadata_of(input: &ViewInput) -> Metadata {
    serde_json::from_str(&input.metadata).unwrap_or_default()
}

/// `block_suggestion` for the resource select: resources matching the typed text
/// that have at least one entitlement policy lets this person request.
pub async fn suggest(services: &Services, user: &str, typed: &str, view: &ViewInput) -> Value {
    let meta = metadata_of(view);
    let query = if typed.trim().is_empty() {
        meta.query.as_str()
    } else {
        typed
    };
    let person = match services.directory.person(user).await {
        Ok(person) => person,
        Err(error) => {
            tracing::warn!(%error, "cannot read the requester's profile; offering nothing");
            return json!({ "options": [] });
        }
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut options = Vec::new();
    for (resource, _) in services.catalog.matches(query) {
        if options.len() >= MAX_OPTIONS || !seen.insert(resource.id.as_str()) {
            continue;
        }
        if !requestable(services, &person, &meta.channel, resource).is_empty() {
            options.push(json!({
                "text": {"type": "plain_text", "text": truncate(&resource.name, 75)},
                "value": resource.id.as_str(),
            }));
        }
    }
    json!({ "options": options })
}

/// The resource select changed: show that resource's requestable entitlements.
pub async fn resource_chosen(
    services: &Services,
    user: &str,
    view: &ViewInput,
    resource_id: &str,
) -> anyhow::Result<()> {
    let meta = metadata_of(view);
    let person = services.directory.person(user).await?;
    let Some(resource) = services.catalog.resource(resource_id) else {
        return Ok(());
    };
    let choices = choices_for(services, &person, &meta.channel, resource, None, None);
    redraw(services, view, modal(services, &meta, Some(choices))?).await
}

/// The entitlement select changed: offer that entitlement's durations, its default
/// preselected (the resource comes from what the person chose above).
pub async fn entitlement_chosen(
    services: &Services,
    user: &str,
    view: &ViewInput,
    entitlement_id: &str,
) -> anyhow::Result<()> {
    let meta = metadata_of(view);
    let Some(resource_id) = form_from(view).resource else {
        return Ok(());
    };
    let Some(resource) = services.catalog.resource(&resource_id) else {
        return Ok(());
    };
    let person = services.directory.person(user).await?;
    let choices = choices_for(
        services,
        &person,
        &meta.channel,
        resource,
        Some(entitlement_id),
        None,
    );
    redraw(services, view, modal(services, &meta, Some(choices))?).await
}

/// Replaces the open modal `view` with `updated` (`views.update`, guarded by its hash
/// so a newer version of the view is never overwritten).
async fn redraw(services: &Services, view: &ViewInput, updated: Value) -> anyhow::Result<()> {
    let args = json!({ "view_id": view.view_id, "hash": view.hash, "view": updated });
    services.web.call(methods::VIEWS_UPDATE, args).await?;
    Ok(())
}

/// `view_submission` of the request modal: the ack payload (errors) or `None` (close).
pub async fn submit(services: &Services, user: &str, input: &ViewInput) -> Option<Value> {
    let meta = metadata_of(input);
    let mut form = form_from(input);
    form.emergency = crate::app::requests::break_glass::chosen(input);
    if form.emergency {
        // Nothing is granted yet: the confirm step says what will happen first.
        return crate::app::requests::break_glass::ask_to_confirm(
            services,
            user,
            &meta.channel,
            form,
        )
        .await;
    }
    match create(
        services,
        user,
        &meta.channel,
        &form,
        None,
        "modal",
        &Change::new(),
    )
    .await
    {
        Ok(()) => None,
        Err(rejected) => Some(json!({ "response_action": "errors", "errors": rejected.errors })),
    }
}

pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        text.chars().take(max - 1).chain(['…']).collect()
    }
}
