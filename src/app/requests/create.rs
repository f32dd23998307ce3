//! Creating a request from a form, for every way one comes in (the modal, a one-line
//! command, a DM, an extension): policy's decision, the approvers, an emergency when
//! asked for, and one commit with its messages, audit and timers.

use std::time::Duration;

use serde_json::json;

use super::checks::{beneficiary_checked, lookup, Rejected};
use super::{TIMER_EXPIRE, TIMER_REMIND};
use crate::app::shared::services::Services;
use crate::catalog::{check_fields, well_formed_fields};
use crate::store::{AuditEvent, Change, TimerEntry};
use crate::workflow::request::AccessRequest;
use crate::workflow::submit::{self, fields, Context, FieldErrors, PolicyVerdict, Requestable};

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
