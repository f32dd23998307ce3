//! Approve, Deny and Cancel on a request, from a button or the deny-reason modal.
//!
//! The button's value only says which request; who may act is decided from the
//! stored request and policy, every time. The commit expects the revision the
//! decision was made on, so of two simultaneous clicks exactly one counts; the other
//! is re-run on the new state and told who decided.

pub mod step_up;

use serde_json::{json, Value};
use tracing::Instrument;

use crate::app::shared::commit_path::{decide_and_commit, Decided, Ended};
use crate::app::shared::consequences::Committed;
use crate::app::shared::services::Services;
use crate::policy::Action as PolicyAction;
use crate::slack::view_input::ViewInput;
use crate::store::{AuditEvent, Change, Table};
use crate::templates::Vars;
use crate::workflow::approval::{self, Action, Actor, Effect};
use crate::workflow::request::AccessRequest;

/// What became of an action, for the person who took it.
#[derive(Debug)]
pub enum Result {
    Done,
    /// A sentence to show the person; nothing changed, and trying again won't help.
    Refused(String),
    /// Slack or the store failed; nothing changed, and trying again may work.
    Unavailable(String),
    /// Policy wants step-up verification for this approval and none was given:
    /// nothing changed (see [`crate::app::decisions::step_up`]).
    NeedsStepUp,
}

impl From<Result> for crate::app::shared::journaled::Outcome {
    fn from(result: Result) -> Self {
        match result {
            Result::Done => Self::Committed,
            Result::Refused(message) => Self::Refused(message),
            Result::Unavailable(message) => Self::Retry(message),
            Result::NeedsStepUp => Self::Refused(crate::app::decisions::step_up::NEEDED.into()),
        }
    }
}

/// A click on Deny: the reason modal opens at once (the trigger lives 3 s); the
/// decision is taken when it is submitted.
pub fn open_deny_modal(services: &Services, trigger_id: String, request_id: String) {
    let services = services.clone();
    tokio::spawn(async move {
        let Ok(Some(stored)) = services.load_request(&request_id).await else {
            return;
        };
        let request = stored.data;
        let names = services.names(&request);
        let vars = Vars::new()
            .text("request_id", &request.id)
            .mention("requester", &request.requester)
            .text("resource", &names.resource)
            .text("entitlement", &names.entitlement);
        let view = match services.templates().render("deny_reason_modal", &vars) {
            Ok(mut view) => {
                view["private_metadata"] = json!(request.id);
                view
            }
            Err(error) => return tracing::error!(%error, "cannot render the deny modal"),
        };
        services.open_view(&trigger_id, view, "deny reason").await;
    });
}

/// The deny modal was submitted: the ack payload (the refusal under the reason field)
/// or `None` to close it.
pub async fn deny_submitted(services: &Services, user: &str, input: &ViewInput) -> Option<Value> {
    let request_id = input.metadata.clone();
    let reason = input.words("reason");
    match act(
        services,
        user,
        &request_id,
        Action::Deny { reason },
        &Change::new(),
    )
    .await
    {
        Result::Done => None,
        Result::Refused(message) | Result::Unavailable(message) => {
            Some(json!({ "response_action": "errors", "errors": { "reason": message } }))
        }
        Result::NeedsStepUp => Some(
            json!({ "response_action": "errors", "errors": { "reason": crate::app::decisions::step_up::NEEDED } }),
        ),
    }
}

/// Applies `action` by `user` to the stored request, retrying on a concurrent change.
/// `also` commits with the decision (a journal row's completion).
pub async fn act(
    services: &Services,
    user: &str,
    request_id: &str,
    action: Action,
    also: &Change,
) -> Result {
    act_with(services, user, request_id, action, also, false).await
}

/// [`act`], where `stepped_up` says the approver passed step-up verification (whose
/// record change is in `also`); without it, an approval policy gives
/// `require_step_up` is [`Result::NeedsStepUp`] and nothing changes.
pub async fn act_with(
    services: &Services,
    user: &str,
    request_id: &str,
    action: Action,
    also: &Change,
    stepped_up: bool,
) -> Result {
    // Every line logged while deciding carries the request id.
    let span = tracing::info_span!("request", request_id = %request_id, user = %user);
    act_once(services, user, request_id, action, also, stepped_up)
        .instrument(span)
        .await
}

async fn act_once(
    services: &Services,
    user: &str,
    request_id: &str,
    action: Action,
    also: &Change,
    stepped_up: bool,
) -> Result {
    let action = &action;
    let ended = decide_and_commit(
        &services.store,
        &services.consequences,
        also,
        move || async move {
            match decide(services, user, request_id, action, stepped_up).await {
                Ok((change, next)) => {
                    let state = next.state.label();
                    Decided::commit_of(change, Committed::Request(Box::new(next)), state)
                }
                Err(result) => Decided::Stop(result),
            }
        },
    )
    .await;
    match ended {
        Ended::Committed(state) => {
            tracing::info!(
                request_id,
                user,
                action = audit_action(action),
                state,
                "decision recorded"
            );
            Result::Done
        }
        Ended::AlreadyDone(_) => Result::Done,
        Ended::Stopped(result) => result,
        Ended::Failed(error) => {
            tracing::error!(%error, request_id, "cannot store a decision");
            Result::Unavailable(
                "c1bot could not record that decision; nothing changed. Try again.".into(),
            )
        }
        Ended::KeptChanging => Result::Refused(format!(
            "{request_id} is changing quickly right now; try again."
        )),
    }
}

/// One attempt: the decision on the stored request, as the change to commit (expecting
/// the revision read) and the request it leaves; or what to tell the person.
async fn decide(
    services: &Services,
    user: &str,
    request_id: &str,
    action: &Action,
    stepped_up: bool,
) -> std::result::Result<(Change, AccessRequest), Result> {
    let stored = match services.load_request(request_id).await {
        Ok(Some(stored)) => stored,
        Ok(None) => {
            return Err(Result::Refused(format!(
                "There is no request {request_id}."
            )))
        }
        Err(error) => {
            tracing::error!(%error, request_id, "cannot read a request");
            return Err(Result::Unavailable(
                "c1bot could not read that request just now; try again in a moment.".into(),
            ));
        }
    };
    let request = stored.data;
    let (actor, needs_step_up) = actor_for(services, user, &request, action)
        .await
        .map_err(Result::Unavailable)?;
    let now = services.now();
    let transition = match approval::apply(&request, action.clone(), &actor, now) {
        Ok(transition) => transition,
        Err(refusal) => {
            services
                .audit_refusal(
                    user,
                    request_id,
                    audit_action(action),
                    refusal.message(request_id),
                )
                .await;
            return Err(Result::Refused(refusal.message(request_id)));
        }
    };
    // Asked only once the approval would count: a refusal needs no code.
    if needs_step_up && !stepped_up {
        return Err(Result::NeedsStepUp);
    }
    let unrecorded = || {
        Result::Unavailable(
            "c1bot could not record that decision; nothing changed. Try again.".into(),
        )
    };
    let plan = if transition.effects.contains(&Effect::Provision) {
        match crate::app::grants::plan_start(services, &transition.request).await {
            Ok(plan) => Some(plan),
            Err(error) => {
                tracing::warn!(%error, request_id, "cannot resolve who provisions");
                return Err(Result::Unavailable(
                    "c1bot could not look up who grants this access just now; nothing changed. Try again in a moment.".into(),
                ));
            }
        }
    } else {
        None
    };
    let names = services.names(&transition.request);
    let messages = services
        .notifier(&names)
        .messages(&transition.request, &transition.effects)
        .map_err(|error| {
            tracing::error!(%error, "cannot render the decision's messages");
            unrecorded()
        })?;
    let mut detail = json!({
        "state": transition.request.state,
        "policy_allowed": actor.policy_allows,
        "policy_reasons": actor.policy_reasons,
    });
    if stepped_up {
        detail["stepped_up"] = json!(true);
    }
    let mut change = Change::new()
        .at(now)
        .expect(Table::Requests, request_id, Some(stored.rev))
        .audit(AuditEvent {
            actor: user.to_owned(),
            action: audit_action(action).into(),
            subject: request_id.to_owned(),
            detail,
        });
    for message in messages {
        change = change.outbox(message);
    }
    change = match &plan {
        Some(plan) => {
            let started =
                crate::app::grants::start(services, &transition.request, plan, now, change)
                    .map_err(|error| {
                        tracing::error!(%error, "cannot render the provisioning task");
                        unrecorded()
                    })?;
            // Scheduled access approved ahead of its window waits for it
            // (`app::scheduled`); its activity line says so.
            if crate::workflow::schedule::waiting(&transition.request) {
                match services.activity_line(&transition.request, false) {
                    Some(line) => started.outbox(line),
                    None => started,
                }
            } else {
                started
            }
        }
        None => {
            let change = change.put(Table::Requests, request_id, &transition.request);
            match services.activity_line(&transition.request, false) {
                Some(line) => change.outbox(line),
                None => change,
            }
        }
    };
    for (due, timer) in crate::app::shared::timer_entries::escalation_timers(
        &transition.request,
        &transition.effects,
        now,
    ) {
        change = change.timer(due, timer);
    }
    Ok((change, transition.request))
}

/// Who is acting and what policy says about them deciding this request, and whether
/// their approval needs step-up verification (policy's `require_step_up`).
async fn actor_for(
    services: &Services,
    user: &str,
    request: &crate::workflow::request::AccessRequest,
    action: &Action,
) -> std::result::Result<(Actor, bool), String> {
    if !matches!(action, Action::Approve | Action::Deny { .. }) {
        let actor = Actor {
            user: user.to_owned(),
            policy_allows: false,
            policy_reasons: Vec::new(),
            self_approval_allowed: false,
        };
        return Ok((actor, false));
    }
    let person = services.directory.person(user).await.map_err(|error| {
        tracing::warn!(%error, "cannot read the approver's profile");
        "c1bot could not check your Slack account just now; nothing changed. Try again in a moment."
            .to_owned()
    })?;
    let decision = services.decide(
        PolicyAction::Approve,
        &person,
        "",
        services.target(request),
        Some(request),
    );
    let needs_step_up =
        matches!(action, Action::Approve) && decision.allowed && decision.require_step_up;
    let actor = Actor {
        user: user.to_owned(),
        policy_allows: decision.allowed,
        self_approval_allowed: decision.allowed && decision.self_approval,
        policy_reasons: decision.reasons,
    };
    Ok((actor, needs_step_up))
}

fn audit_action(action: &Action) -> &'static str {
    match action {
        Action::Approve => "request.approve",
        Action::Deny { .. } => "request.deny",
        Action::Cancel => "request.cancel",
        Action::Expire => "request.expire",
        Action::Remind => "request.remind",
        Action::Escalate { .. } => "request.escalate",
    }
}
