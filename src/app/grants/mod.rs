//! Access after approval, driven by people: starting provisioning when a request is
//! approved, *Mark complete* / *Can't complete* on tasks, early revoke (`/c1 revoke`,
//! App Home, *I'm done*) and *Extend*.
//!
//! Like decisions, a button's value only names the request: who may act is checked
//! against the stored grant (its task's assignees) and, for revoke, policy. Each
//! change commits with its messages, timers and audit entry, expecting the revision
//! it was decided on; of two clicks on *Mark complete* exactly one counts.

pub mod provisioning;
pub mod timers;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tracing::Instrument;

use crate::app::shared::commit_path::{decide_and_commit, Decided, Ended};
use crate::app::shared::consequences::Committed;
use crate::app::shared::deactivated::Screened;
use crate::app::shared::grant_notify::GrantNotifier;
use crate::app::shared::services::Services;
use crate::catalog::{Entitlement, Resource};
use crate::policy::Action as PolicyAction;
use crate::store::{AuditEvent, Change, OutboxMessage, Table, TimerEntry, Versioned};
use crate::templates::RenderError;
use crate::workflow::grant::{self, GrantAction, GrantEffect, TaskKind, TimerKind, Via};
use crate::workflow::request::AccessRequest;

/// Timer kinds for grants, in the store's timer index.
pub const TIMER_GRANT_EXPIRE: &str = "grant-expire";
pub const TIMER_GRANT_REMIND: &str = "grant-remind";
pub const TIMER_REVOKE_OVERDUE: &str = "revoke-overdue";
pub const TIMER_PROVISIONER: &str = "provisioner-run";

/// The reason recorded when the person with the access clicks *I'm done*.
pub const DONE_REASON: &str = "no longer needed (I'm done)";

/// What became of an action, for the person who took it.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// Nothing changed, and trying again won't help.
    Refused(String),
    /// Slack or the store failed; nothing changed, and trying again may work.
    Unavailable(String),
}

impl From<Outcome> for crate::app::shared::journaled::Outcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Done => Self::Committed,
            Outcome::Refused(message) => Self::Refused(message),
            Outcome::Unavailable(message) => Self::Retry(message),
        }
    }
}

/// The store timer for a scheduled grant effect.
pub fn timer_entry(request_id: &str, timer: TimerKind) -> TimerEntry {
    let kind = match timer {
        TimerKind::Expiry => TIMER_GRANT_EXPIRE,
        TimerKind::ExpiryReminder => TIMER_GRANT_REMIND,
        TimerKind::RevokeOverdue => TIMER_REVOKE_OVERDUE,
        TimerKind::Provisioner => TIMER_PROVISIONER,
    };
    TimerEntry::new(kind, request_id.to_owned())
}

/// A grant transition rendered: the next request, its messages and its timers.
pub struct Rendered {
    pub request: AccessRequest,
    pub messages: Vec<OutboxMessage>,
    pub timers: Vec<(DateTime<Utc>, TimerEntry)>,
}

impl Rendered {
    /// Adds the record, messages and timers to `change`.
    pub fn into_change(self, mut change: Change) -> Change {
        change = change.put(Table::Requests, self.request.id.clone(), &self.request);
        for message in self.messages {
            change = change.outbox(message);
        }
        for (due, timer) in self.timers {
            change = change.timer(due, timer);
        }
        change
    }
}

/// Renders `effects` of a grant transition on `request`.
pub fn render(
    services: &Services,
    request: AccessRequest,
    effects: &[GrantEffect],
) -> Result<Rendered, RenderError> {
    let names = services.names(&request);
    let messages = GrantNotifier {
        templates: services.templates(),
        names: &names,
    }
    .messages(&request, effects)?;
    let mut messages = messages;
    messages.extend(services.activity_line(&request, false));
    let mut timers: Vec<_> = effects
        .iter()
        .filter_map(|effect| match effect {
            GrantEffect::Schedule { timer, at } => Some((*at, timer_entry(&request.id, *timer))),
            _ => None,
        })
        .collect();
    // Access that ends closes its review items, in a follow-up that cannot be lost.
    timers.extend(crate::app::shared::timer_entries::access_ended(&request));
    Ok(Rendered {
        request,
        messages,
        timers,
    })
}

/// Who works a task for `entitlement` of `resource`: its automatic provisioner if
/// it has one, else its assignees (user groups expanded now) without the
/// deactivated, or the resource's owners if none is left; the screening is returned
/// for the audit.
pub async fn via_for(
    services: &Services,
    resource: &Resource,
    entitlement: &Entitlement,
) -> anyhow::Result<(Via, Screened)> {
    if let Some(automatic) = &entitlement.provisioner.automatic {
        let via = Via::Automatic {
            provisioner: automatic.kind().to_owned(),
        };
        return Ok((via, Screened::default()));
    }
    let screened = services.active_assignees(resource, entitlement).await?;
    let via = Via::Manual {
        assignees: screened.people.clone(),
        after_failure: None,
    };
    Ok((via, screened))
}

/// Who removes `request`'s access, without asking Slack: the entitlement's
/// automatic provisioner; else its assignees, with user groups read from the
/// directory's cache when fresh and otherwise the people who were assignees when
/// the grant started (stored with it). Expiry and revoke therefore never wait on
/// Slack, and an outage at the due time cannot hold a revocation back.
pub fn removal_via(services: &Services, request: &AccessRequest) -> Via {
    let stored = request
        .grant
        .as_ref()
        .and_then(|grant| match &grant.provision.via {
            Via::Manual { assignees, .. } => Some(assignees.clone()),
            Via::Automatic { .. } => None,
        });
    let Some((_, entitlement)) = services.target(request) else {
        return Via::Manual {
            assignees: stored.unwrap_or_default(),
            after_failure: None,
        };
    };
    if let Some(automatic) = &entitlement.provisioner.automatic {
        return Via::Automatic {
            provisioner: automatic.kind().to_owned(),
        };
    }
    let assignees = &entitlement.provisioner.assignees;
    let mut people: BTreeSet<String> = assignees
        .users
        .iter()
        .map(|u| u.as_str().to_owned())
        .collect();
    let mut complete = true;
    for group in &assignees.groups {
        match services
            .directory
            .cached_group(group.as_str(), crate::app::shared::directory::GROUP_TTL)
        {
            Some(members) => people.extend(members),
            None => complete = false,
        }
    }
    let assignees = match (complete, stored) {
        (true, _) | (false, None) => people,
        (false, Some(stored)) => stored.union(&people).cloned().collect(),
    };
    Via::Manual {
        assignees,
        after_failure: None,
    }
}

/// The fallback assignees of an entitlement (for an automatic provisioner that failed).
pub async fn fallback_for(services: &Services, request: &AccessRequest) -> BTreeSet<String> {
    match services.target(request) {
        Some((resource, entitlement)) => services
            .active_assignees(resource, entitlement)
            .await
            .map(|screened| screened.people)
            .unwrap_or_default(),
        None => BTreeSet::new(),
    }
}

/// The resource's owners, who are asked when a revoke is overdue or impossible.
pub fn owners_of(services: &Services, request: &AccessRequest) -> BTreeSet<String> {
    services
        .target(request)
        .map(|(resource, _)| {
            resource
                .owners
                .iter()
                .map(|o| o.as_str().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// How provisioning of a just-approved request begins, resolved before the commit
/// (the commit itself must not wait on Slack).
pub struct StartPlan {
    pub via: Via,
    /// Deactivated assignees left out of `via`, audited with the start.
    pub screened: Screened,
    /// The active request an approved extension takes over, with its revision.
    pub previous: Option<Versioned<AccessRequest>>,
}

pub async fn plan_start(services: &Services, request: &AccessRequest) -> anyhow::Result<StartPlan> {
    let previous = match &request.extends {
        Some(id) => services.load_request(id).await?,
        None => None,
    };
    let (via, screened) = match services.target(request) {
        Some((resource, entitlement)) => via_for(services, resource, entitlement).await?,
        None => {
            let via = Via::Manual {
                assignees: BTreeSet::new(),
                after_failure: None,
            };
            (via, Screened::default())
        }
    };
    Ok(StartPlan {
        via,
        screened,
        previous,
    })
}

/// The approved `request` (written by this change) with its provisioning started,
/// added to `change`: an extension of access still active takes it over without a
/// new task; anything else gets its task (or its provisioner run).
pub fn start(
    services: &Services,
    request: &AccessRequest,
    plan: &StartPlan,
    now: DateTime<Utc>,
    change: Change,
) -> Result<Change, RenderError> {
    let timing = services.timing();
    if let Some(previous) = &plan.previous {
        if let Some((superseded, extension)) = grant::extend(&previous.data, request, now, timing) {
            let change = change
                .expect(
                    Table::Requests,
                    previous.data.id.clone(),
                    Some(previous.rev),
                )
                .put(Table::Requests, previous.data.id.clone(), &superseded)
                .audit(AuditEvent {
                    actor: "c1bot".into(),
                    action: "grant.extended".into(),
                    subject: previous.data.id.clone(),
                    detail: json!({ "by": request.id }),
                });
            let expires_at = extension.request.grant.as_ref().and_then(|g| g.expires_at);
            return Ok(render(services, extension.request, &extension.effects)?
                .into_change(change)
                .audit(AuditEvent {
                    actor: "c1bot".into(),
                    action: "grant.active".into(),
                    subject: request.id.clone(),
                    detail: json!({ "continues": previous.data.id, "expires_at": expires_at }),
                }));
        }
    }
    match grant::apply(
        request,
        GrantAction::Start {
            via: plan.via.clone(),
        },
        now,
        timing,
    ) {
        Ok(transition) => {
            let via = plan.via.clone();
            let mut change = render(services, transition.request, &transition.effects)?
                .into_change(change)
                .audit(AuditEvent {
                    actor: "c1bot".into(),
                    action: "grant.provisioning".into(),
                    subject: request.id.clone(),
                    detail: json!({ "via": via }),
                });
            for event in plan.screened.audit(&request.id, "assignee", "provisioning") {
                change = change.audit(event);
            }
            Ok(change)
        }
        // Not approved, or already started: the request as it is.
        Err(_) => Ok(change.put(Table::Requests, request.id.clone(), request)),
    }
}

/// What a person's click or command asks for; resolved into a [`GrantAction`] on
/// the fresh state each attempt.
#[derive(Debug, Clone)]
pub enum Ask {
    Complete(TaskKind),
    CannotComplete(TaskKind, String),
    Revoke(String),
}

/// Applies `ask` by `user` to the stored request, retrying on a concurrent change.
/// `also` commits with the change (a journal row's completion, words owed).
pub async fn act(
    services: &Services,
    user: &str,
    request_id: &str,
    ask: Ask,
    also: &Change,
) -> Outcome {
    // Every line logged while deciding carries the request id.
    let span = tracing::info_span!("request", request_id = %request_id, user = %user);
    act_once(services, user, request_id, ask, also)
        .instrument(span)
        .await
}

async fn act_once(
    services: &Services,
    user: &str,
    request_id: &str,
    ask: Ask,
    also: &Change,
) -> Outcome {
    let ask = &ask;
    let ended = decide_and_commit(
        &services.store,
        &services.consequences,
        also,
        move || async move {
            match decide(services, user, request_id, ask).await {
                Ok((change, next)) => {
                    let state = next
                        .grant
                        .as_ref()
                        .map(|g| g.state.label())
                        .unwrap_or_default();
                    Decided::commit_of(change, Committed::Request(Box::new(next)), state)
                }
                Err(outcome) => Decided::Stop(outcome),
            }
        },
    )
    .await;
    if let Ended::Committed(state) = &ended {
        tracing::info!(
            request_id,
            user,
            action = audit_action(ask),
            state,
            "grant change recorded"
        );
    }
    outcome_of(ended, request_id)
}

/// One attempt: `ask` on the stored request, as the change to commit (expecting the
/// revision read) and the request it leaves; or what to tell the person.
async fn decide(
    services: &Services,
    user: &str,
    request_id: &str,
    ask: &Ask,
) -> Result<(Change, AccessRequest), Outcome> {
    let stored = load_to_act(services, request_id).await?;
    let request = stored.data;
    let action = resolve(services, user, &request, ask)
        .await
        .map_err(Outcome::Unavailable)?;
    let now = services.now();
    let transition = match grant::apply(&request, action, now, services.timing()) {
        Ok(transition) => transition,
        Err(refusal) => {
            services
                .audit_refusal(
                    user,
                    request_id,
                    audit_action(ask),
                    refusal.message(request_id),
                )
                .await;
            return Err(Outcome::Refused(refusal.message(request_id)));
        }
    };
    let state = transition
        .request
        .grant
        .as_ref()
        .map(|g| g.state.label())
        .unwrap_or_default();
    let rendered = render(services, transition.request, &transition.effects).map_err(|error| {
        tracing::error!(%error, request_id, "cannot render a grant change");
        Outcome::Unavailable("c1bot could not record that; nothing changed. Try again.".into())
    })?;
    let next = rendered.request.clone();
    let change = rendered.into_change(
        Change::new()
            .at(now)
            .expect(Table::Requests, request_id, Some(stored.rev))
            .audit(AuditEvent {
                actor: user.to_owned(),
                action: audit_action(ask).into(),
                subject: request_id.to_owned(),
                detail: audit_detail(ask, state),
            }),
    );
    Ok((change, next))
}

/// What the person who acted on `request_id` is told of how the commit path ended.
pub fn outcome_of<T>(ended: Ended<T, Outcome>, request_id: &str) -> Outcome {
    match ended {
        Ended::Committed(_) | Ended::AlreadyDone(_) => Outcome::Done,
        Ended::Stopped(outcome) => outcome,
        Ended::Failed(error) => {
            tracing::error!(%error, request_id, "cannot store a change");
            Outcome::Unavailable("c1bot could not record that; nothing changed. Try again.".into())
        }
        Ended::KeptChanging => Outcome::Refused(format!(
            "{request_id} is changing quickly right now; try again."
        )),
    }
}

/// The request an attempt decides on, or what to tell the person when there is none
/// (or it cannot be read now).
pub async fn load_to_act(
    services: &Services,
    request_id: &str,
) -> Result<Versioned<AccessRequest>, Outcome> {
    match services.load_request(request_id).await {
        Ok(Some(stored)) => Ok(stored),
        Ok(None) => Err(Outcome::Refused(format!(
            "There is no request {request_id}."
        ))),
        Err(error) => {
            tracing::error!(%error, request_id, "cannot read a request");
            Err(Outcome::Unavailable(
                "c1bot could not read that request just now; try again in a moment.".into(),
            ))
        }
    }
}

/// The workflow action for `ask` on the current state, with what it needs resolved:
/// the deprovisioning route, the owners, and policy's `space_write` verdict.
async fn resolve(
    services: &Services,
    user: &str,
    request: &AccessRequest,
    ask: &Ask,
) -> Result<GrantAction, String> {
    Ok(match ask {
        Ask::Complete(kind) => GrantAction::Complete {
            kind: *kind,
            by: user.to_owned(),
        },
        Ask::CannotComplete(kind, reason) => GrantAction::CannotComplete {
            kind: *kind,
            by: user.to_owned(),
            reason: reason.clone(),
            owners: owners_of(services, request),
        },
        Ask::Revoke(reason) => {
            let policy_allows = if request.involves(user)
                || request.decisions.iter().any(|d| d.approved && d.by == user)
            {
                false
            } else {
                let person = services.directory.person(user).await.map_err(|error| {
                    tracing::warn!(%error, "cannot read the revoker's profile");
                    "c1bot could not check your Slack account just now; nothing changed. Try again in a moment.".to_owned()
                })?;
                let decision = services.decide(
                    PolicyAction::Revoke,
                    &person,
                    "",
                    services.target(request),
                    Some(request),
                );
                decision.allowed
            };
            let via = removal_via(services, request);
            GrantAction::Revoke {
                by: user.to_owned(),
                reason: reason.clone(),
                via,
                policy_allows,
            }
        }
    })
}

fn audit_action(ask: &Ask) -> &'static str {
    match ask {
        Ask::Complete(TaskKind::Grant) => "task.grant.complete",
        Ask::Complete(TaskKind::Revoke) => "task.revoke.complete",
        Ask::CannotComplete(TaskKind::Grant, _) => "task.grant.cannot_complete",
        Ask::CannotComplete(TaskKind::Revoke, _) => "task.revoke.cannot_complete",
        Ask::Revoke(_) => "grant.revoke",
    }
}

fn audit_detail(ask: &Ask, state: &str) -> Value {
    match ask {
        Ask::CannotComplete(_, reason) | Ask::Revoke(reason) => {
            json!({ "reason": reason, "state": state })
        }
        Ask::Complete(_) => json!({ "state": state }),
    }
}

/// `/c1 revoke REQ-1042 reason`, journaled: revoke now; the person is told in the
/// same commit ("Revoking …") or, refused, by the journal with the reason.
pub async fn revoke_now(
    services: &Services,
    sender: &crate::app::shared::journaled::Sender,
    request_id: &str,
    reason: String,
    also: Change,
) -> crate::app::shared::journaled::Outcome {
    let told = format!(
        "Revoking {request_id}: its access is being removed, and the person who had it is told."
    );
    let also = also.outbox(sender.tell(&told));
    act(
        services,
        &sender.user,
        request_id,
        Ask::Revoke(reason),
        &also,
    )
    .await
    .into()
}

/// `/c1 revoke REQ-1042` without a reason: asks for it in a modal (with one, the
/// command is journaled and decided by [`revoke_now`]). Returns the ack payload.
pub fn revoke_command(
    services: &Services,
    trigger_id: String,
    request_id: String,
    reason: String,
) -> Option<Value> {
    if request_id.is_empty() {
        return Some(json!({
            "response_type": "ephemeral",
            "text": format!("Say which access to end: `{} revoke REQ-1042 [reason]`. `{} status` lists yours.", services.command, services.command),
        }));
    }
    if reason.trim().is_empty() {
        open_reason_modal(services, trigger_id, request_id, Purpose::Revoke);
    }
    None
}

/// *Can't complete* or *Revoke*: the reason modal opens at once (the trigger lives 3 s).
pub fn open_reason_modal(
    services: &Services,
    trigger_id: String,
    request_id: String,
    purpose: Purpose,
) {
    let services = services.clone();
    tokio::spawn(async move {
        let Ok(Some(stored)) = services.load_request(&request_id).await else {
            return;
        };
        let names = services.names(&stored.data);
        let what = format!(
            "*{}* on *{}* for <@{}> ({})",
            crate::app::shared::mrkdwn::escape(&names.entitlement),
            crate::app::shared::mrkdwn::escape(&names.resource),
            stored.data.beneficiary,
            stored.data.id
        );
        let (callback, metadata, title, submit, question, hint) = match purpose {
            Purpose::CannotComplete(kind) => (
                crate::controls::Modal::TaskFail.id(),
                format!("{request_id}/{}", kind.as_str()),
                "Can't complete",
                "Send",
                format!("Why can't you complete this task for {what}?"),
                match kind {
                    TaskKind::Grant => {
                        "The request fails; the requester and approvers see this reason."
                    }
                    TaskKind::Revoke => {
                        "The task stays open and goes to the resource's owners with this reason."
                    }
                },
            ),
            Purpose::Revoke => (
                crate::controls::Modal::Revoke.id(),
                request_id.clone(),
                "Revoke access",
                "Revoke",
                format!("Revoke {what} now?"),
                "Recorded in the audit log and shown to the person with the access.",
            ),
        };
        let vars = crate::templates::Vars::new()
            .text("callback_id", callback)
            .text("request_id", metadata)
            .text("title", title)
            .text("submit", submit)
            // A mention built here, with the catalog names escaped.
            .mrkdwn("question", crate::templates::Mrkdwn::built(question))
            .text("hint", hint);
        let view = match services.templates().render("reason_modal", &vars) {
            Ok(view) => view,
            Err(error) => return tracing::error!(%error, "cannot render the reason modal"),
        };
        services.open_view(&trigger_id, view, "reason").await;
    });
}

#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    CannotComplete(TaskKind),
    Revoke,
}

/// The reason modal was submitted: the ack payload (the refusal under the reason
/// field) or `None` to close it.
pub async fn reason_submitted(
    services: &Services,
    user: &str,
    modal: crate::controls::Modal,
    input: &crate::slack::view_input::ViewInput,
) -> Option<Value> {
    let metadata = input.metadata.clone();
    let reason = input.words("reason");
    let Some(reason) = reason else {
        return Some(
            json!({ "response_action": "errors", "errors": { "reason": "Say why, in a few words." } }),
        );
    };
    let (request_id, ask) = if modal == crate::controls::Modal::Revoke {
        (metadata, Ask::Revoke(reason))
    } else {
        let (id, kind) = metadata
            .rsplit_once('/')
            .unwrap_or((metadata.as_str(), "grant"));
        let kind = if kind == "revoke" {
            TaskKind::Revoke
        } else {
            TaskKind::Grant
        };
        (id.to_owned(), Ask::CannotComplete(kind, reason))
    };
    match act(services, user, &request_id, ask, &Change::new()).await {
        Outcome::Done => None,
        Outcome::Refused(message) | Outcome::Unavailable(message) => {
            Some(json!({ "response_action": "errors", "errors": { "reason": message } }))
        }
    }
}
