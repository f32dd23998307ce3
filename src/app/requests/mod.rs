//! `/c1 request`: the modal, its typeahead, and the submission that creates a request.
//!
//! Order matters for Slack's deadlines: the modal is opened first (a `trigger_id`
//! lives 3 s), suggestions are answered in the ack from memory and the catalog, and a
//! valid submission is committed durably before its ack closes the modal.

pub mod break_glass;
mod choices;
pub mod extend;
pub mod one_line;
mod prefill;
pub mod scheduled;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::app::shared::directory::Person;
use crate::app::shared::request_form::{self, form_from};
use crate::app::shared::services::Services;
use crate::catalog::{check_fields, well_formed_fields, Catalog, Entitlement, Resource};
use crate::policy::Action;
use crate::slack::view_input::ViewInput;
use crate::slack::web::methods;
use crate::store::{AuditEvent, Change, TimerEntry};
use crate::templates::{Choice, Vars};
use crate::workflow::request::AccessRequest;
use crate::workflow::submit::{self, fields, Context, FieldErrors, PolicyVerdict, Requestable};
use choices::{choices_for, duration_options, requestable, Choices};
pub use prefill::{open_prefilled, Prefill};

/// Timer kinds this module schedules.
pub const TIMER_REMIND: &str = "remind";
pub const TIMER_EXPIRE: &str = "expire";
/// Slack shows at most 100 options in a select.
const MAX_OPTIONS: usize = 100;

/// What the modal remembers between interactions (in `private_metadata`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Metadata {
    channel: String,
    query: String,
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
fn modal(
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

/// Why a request was not created, per field of the form.
#[derive(Debug)]
pub struct Rejected {
    pub errors: FieldErrors,
    /// Slack or the store failed (trying again may work), rather than the request
    /// being invalid or refused by policy.
    pub transient: bool,
}

impl Rejected {
    fn invalid(errors: FieldErrors) -> Self {
        Self {
            errors,
            transient: false,
        }
    }

    /// The problems as one sentence list (for a one-line or DM answer, where the
    /// request form's extra fields cannot be filled in: it says where they can).
    pub fn sentence(&self) -> String {
        let mut problems: Vec<&str> = self.errors.values().map(String::as_str).collect();
        problems.dedup();
        let form = self
            .errors
            .keys()
            .any(|k| k.starts_with(crate::catalog::FIELD_BLOCK_PREFIX));
        if form {
            problems.push("Use `/c1 request` to fill in the request form.");
        }
        problems.join(" ")
    }
}

/// Validates `form` with policy and, if valid, commits the new request (extending
/// `extends`, when given) together with `also` before returning; the errors
/// otherwise, per field. Nothing is stored unless everything is.
pub async fn create(
    services: &Services,
    user: &str,
    channel: &str,
    form: &submit::Form,
    extends: Option<crate::app::grants::StartPlan>,
    // How the request came in, for the audit log: "modal", "one_line", "extend".
    way: &'static str,
    also: &Change,
) -> Result<(), Rejected> {
    submit_or_preview(services, user, channel, form, extends, way, also, false)
        .await
        .map(|_| ())
}

/// What [`create`] would store for `form` (an emergency taken, if it asks for one),
/// without storing anything: for the break-glass confirm step.
pub async fn preview(
    services: &Services,
    user: &str,
    channel: &str,
    form: &submit::Form,
) -> Result<AccessRequest, Rejected> {
    let previewed = submit_or_preview(
        services,
        user,
        channel,
        form,
        None,
        "preview",
        &Change::new(),
        true,
    )
    .await?;
    previewed.ok_or_else(|| Rejected::invalid(FieldErrors::new()))
}

#[allow(clippy::too_many_arguments)]
async fn submit_or_preview(
    services: &Services,
    user: &str,
    channel: &str,
    form: &submit::Form,
    extends: Option<crate::app::grants::StartPlan>,
    way: &'static str,
    also: &Change,
    preview_only: bool,
) -> Result<Option<AccessRequest>, Rejected> {
    let mut form = form.clone();
    let extends_id = extends
        .as_ref()
        .and_then(|plan| plan.previous.as_ref())
        .map(|previous| previous.data.id.clone());
    let mut extends = extends;
    let trouble = |message: &str| Rejected {
        errors: FieldErrors::from([(fields::JUSTIFICATION.to_owned(), message.to_owned())]),
        transient: true,
    };
    let person = services.directory.person(user).await.map_err(|error| {
        tracing::warn!(%error, "cannot read the requester's profile");
        trouble("c1bot could not check your Slack account just now; nothing was submitted. Try again in a moment.")
    })?;
    let target = form
        .resource
        .as_deref()
        .zip(form.entitlement.as_deref())
        .and_then(|(r, e)| lookup(&services.catalog, r, e));
    // Asking for oneself through the picker is simply asking for oneself.
    let beneficiary = form
        .on_behalf_of
        .as_deref()
        .filter(|other| *other != user)
        .map(str::to_owned);
    let subject = match &beneficiary {
        None => person.clone(),
        Some(other) => beneficiary_checked(services, &person, channel, other, target).await?,
    };
    let beneficiary = beneficiary.unwrap_or_else(|| user.to_owned());
    let mut screenings = Vec::new();
    let mut field_errors = FieldErrors::new();
    let mut emergency = None;
    let (requestable, plan) = match target {
        Some((resource, entitlement)) => {
            // Decisions about the access itself are taken for the person who gets it;
            // policy sees the form's fields that are well formed, and the start.
            let well_formed = well_formed_fields(&entitlement.fields, &form.fields);
            let decision = services.decide_submission(
                &subject,
                channel,
                (resource, entitlement),
                &well_formed,
                crate::workflow::schedule::checked_start(form.starts_at, services.now())
                    .ok()
                    .flatten(),
            );
            match check_fields(&entitlement.fields, &form.fields, &decision.required_fields) {
                Ok(values) => form.fields = values,
                Err(errors) if decision.allowed => field_errors = errors,
                Err(_) => {}
            }
            let mut steps = Vec::new();
            for step in &entitlement.steps {
                let (resolved, screened) = services.resolve_step(step, resource).await.map_err(|error| {
                    tracing::warn!(%error, "cannot resolve approvers");
                    trouble(&services.lookup_trouble("c1bot could not look up the approvers just now; nothing was submitted. Try again in a moment."))
                })?;
                screenings.push((step.name.clone(), screened));
                steps.push(resolved);
            }
            if form.emergency && form.starts_at.is_some() {
                field_errors.insert(
                    fields::STARTS_AT.to_owned(),
                    "Emergency access starts now: leave the start empty, or untick Emergency to schedule it.".to_owned(),
                );
            } else if form.emergency {
                match crate::app::requests::break_glass::plan(
                    entitlement,
                    resource,
                    &decision,
                    &steps,
                ) {
                    Ok(planned) => emergency = Some(planned),
                    Err(message) => {
                        field_errors.insert(fields::ENTITLEMENT.to_owned(), message);
                    }
                }
            }
            let plan = if decision.auto_approve || emergency.is_some() {
                let (via, screened) = crate::app::grants::via_for(services, resource, entitlement).await.map_err(|error| {
                    tracing::warn!(%error, "cannot resolve who provisions");
                    trouble(&services.lookup_trouble("c1bot could not look up who grants this access just now; nothing was submitted. Try again in a moment."))
                })?;
                Some(crate::app::grants::StartPlan {
                    via,
                    screened,
                    previous: extends.take().and_then(|plan| plan.previous),
                })
            } else {
                None
            };
            let requestable = Requestable {
                entitlement_name: entitlement.name.clone(),
                max_duration: entitlement.max_duration.as_secs().map(Duration::from_secs),
                permanent_allowed: entitlement.permanent_allowed,
                policy: PolicyVerdict {
                    allowed: decision.allowed,
                    reasons: decision.reasons.clone(),
                    auto_approve: decision.auto_approve,
                    max_duration: decision.max_duration,
                    self_approval_allowed: decision.allowed && decision.self_approval,
                },
                steps,
            };
            (Some(requestable), plan)
        }
        None => (None, None),
    };
    let now = services.now();
    let context = |id: String| Context {
        id,
        requester: user,
        beneficiary: &beneficiary,
        now,
        pending_ttl: chrono::Duration::from_std(services.requests.decide_within)
            .unwrap_or(chrono::Duration::hours(24)),
    };
    // Validate once outside the commit, so invalid input stores nothing at all.
    let checked = submit::create(&form, requestable.as_ref(), context("REQ-0".into()));
    let checked = match checked {
        Err(mut errors) => {
            errors.extend(field_errors);
            return Err(Rejected::invalid(errors));
        }
        Ok(_) if !field_errors.is_empty() => return Err(Rejected::invalid(field_errors)),
        Ok(created) => created,
    };
    let taken = |created: submit::Created| match &emergency {
        Some(planned) => crate::app::requests::break_glass::take(planned, created, now),
        None => Ok((created.request, created.effects)),
    };
    let (previewed, _) = taken(checked).map_err(|message| {
        Rejected::invalid(FieldErrors::from([(
            fields::ENTITLEMENT.to_owned(),
            message,
        )]))
    })?;
    if preview_only {
        return Ok(Some(previewed));
    }

    let remind_every = chrono::Duration::from_std(services.requests.remind_every)
        .unwrap_or(chrono::Duration::hours(4));
    let committed = services
        .store
        .commit_numbered(|number| {
            let created = submit::create(&form, requestable.as_ref(), context(format!("REQ-{number}")))
                .map_err(|errors| format!("the form no longer validates: {errors:?}"))?;
            let (mut request, effects) = taken(created)?;
            request.extends = extends_id.clone();
            let names = services.names(&request);
            let mut notifier = services.notifier(&names);
            notifier.provisioning = plan.as_ref().map(|plan| &plan.via);
            let messages = notifier
                .messages(&request, &effects)
                .map_err(|error| format!("cannot render the request's messages: {error}"))?;
            let mut change = Change::new()
                .at(now)
                .expect(crate::store::Table::Requests, request.id.clone(), None)
                .audit(AuditEvent {
                    actor: user.to_owned(),
                    action: if request.emergency.is_some() { "request.break_glass" } else if request.state.is_open() { "request.submitted" } else { "request.auto_approved" }.into(),
                    subject: request.id.clone(),
                    detail: json!({
                        "resource": request.resource, "entitlement": request.entitlement,
                        "duration": crate::app::shared::notify::duration_text(request.duration),
                        "justification": request.justification,
                        "fields": request.fields,
                        "policy": {"allowed": requestable.as_ref().map(|r| r.policy.allowed), "auto_approve": requestable.as_ref().map(|r| r.policy.auto_approve), "reasons": requestable.as_ref().map(|r| r.policy.reasons.clone())},
                        "approvers": request.steps.iter().map(|s| s.approvers.iter().cloned().collect::<Vec<_>>()).collect::<Vec<_>>(),
                        "via": way,
                        "beneficiary": request.beneficiary,
                        "on_behalf": request.beneficiary != request.requester,
                        "extends": extends_id,
                        "starts_at": request.starts_at,
                        "break_glass": request.emergency.is_some(),
                        "reviewers": request.emergency.as_ref().map(|e| e.reviewers.clone()),
                    }),
                });
            for (step, screened) in &screenings {
                for event in screened.audit(&request.id, "approver", step) {
                    change = change.audit(event);
                }
            }
            for message in messages {
                change = change.outbox(message);
            }
            if let Some(line) = services.activity_line(&request, true) {
                change = change.outbox(line);
            }
            change = match &plan {
                Some(plan) => crate::app::grants::start(services, &request, plan, now, change)
                    .map_err(|error| format!("cannot render the provisioning task: {error}"))?,
                None => change.put(crate::store::Table::Requests, request.id.clone(), &request),
            };
            if let Some(planned) = &emergency {
                change = crate::app::requests::break_glass::announce(services, &request, planned, now, change)
                    .map_err(|error| format!("cannot render the emergency notices: {error}"))?;
            }
            for (due, timer) in crate::app::shared::timer_entries::escalation_timers(&request, &effects, now) {
                change = change.timer(due, timer);
            }
            if let Some((due, timer)) = crate::app::requests::scheduled::start_timer(&request) {
                change = change.timer(due, timer);
            }
            if request.state.is_open() {
                change = change
                    .timer(request.decide_by, TimerEntry::new(TIMER_EXPIRE, request.id.clone()))
                    .timer(now + remind_every, TimerEntry::new(TIMER_REMIND, request.id.clone()));
            }
            Ok(change.and(also.clone()))
        })
        .await;
    match committed {
        Ok(done) => {
            tracing::info!(number = ?done.number, user, "request submitted");
            if let Some(n) = done.number {
                if let Ok(Some(stored)) = services.load_request(&format!("REQ-{n}")).await {
                    services.consequences.committed(
                        &crate::app::shared::consequences::Committed::Request(Box::new(
                            stored.data,
                        )),
                    );
                }
            }
            Ok(None)
        }
        // The envelope that asked was processed already (before a restart): done.
        Err(error) if error.already_processed() => Ok(None),
        Err(error) => {
            tracing::error!(%error, "could not store a request");
            Err(trouble(
                "c1bot could not save your request; nothing was submitted. Try again in a moment.",
            ))
        }
    }
}

/// The profile of the person `requester` asks for, once it is clear they may: an
/// active human in this workspace, and policy's `request_on_behalf` allows the
/// requester on this resource. Otherwise the answer for the picker's field.
async fn beneficiary_checked(
    services: &Services,
    requester: &Person,
    channel: &str,
    beneficiary: &str,
    target: Option<(&Resource, &Entitlement)>,
) -> Result<Person, Rejected> {
    let refuse = |message: String| {
        Rejected::invalid(FieldErrors::from([(fields::ON_BEHALF.to_owned(), message)]))
    };
    let them = services.directory.person(beneficiary).await.map_err(|error| {
        tracing::warn!(%error, "cannot read the beneficiary's profile");
        Rejected {
            transient: true,
            ..refuse("c1bot could not find that person in Slack just now; nothing was submitted. Try again in a moment.".into())
        }
    })?;
    if them.is_bot || them.profile.deleted {
        return Err(refuse(
            "Access can be requested only for people with an active account, not for apps or deactivated accounts.".into(),
        ));
    }
    if let Some((resource, entitlement)) = target {
        let decision = services.decide(
            Action::RequestOnBehalf,
            requester,
            channel,
            Some((resource, entitlement)),
            None,
        );
        if !decision.allowed {
            let why = if decision.reasons.is_empty() {
                "no policy lets you".to_owned()
            } else {
                decision.reasons.join("; ")
            };
            return Err(refuse(format!(
                "You cannot request access to {} for someone else: {why}.",
                resource.name
            )));
        }
    }
    Ok(them)
}

fn lookup<'a>(
    catalog: &'a Catalog,
    resource: &str,
    entitlement: &str,
) -> Option<(&'a Resource, &'a Entitlement)> {
    let resource = catalog.resource(resource)?;
    let entitlement = resource
        .entitlements
        .iter()
        .find(|e| e.id.as_str() == entitlement)?;
    Some((resource, entitlement))
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        text.chars().take(max - 1).chain(['…']).collect()
    }
}
