//! The post-incident review of emergency access: *Looks right* (journaled click)
//! or *Revoke now* (a reason, then the access is revoked in the same commit), each
//! re-checked against the stored request (only its reviewers, only once); every
//! reviewer's task closes saying who answered; reminders until someone does.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::app::grants::{self, Outcome};
use crate::app::shared::commit_path::{decide_and_commit, Decided};
use crate::app::shared::consequences::Committed;
use crate::app::shared::firing::{Fired, Firing};
use crate::app::shared::services::Services;
use crate::store::{AuditEvent, Change, OutboxMessage, Table, TimerEntry};
use crate::templates::{Mrkdwn, Vars};
use crate::workflow::break_glass::{self, Verdict};
use crate::workflow::grant::{self as grant_flow, GrantAction};
use crate::workflow::request::AccessRequest;

/// The reminder timer of an unanswered review.
pub const TIMER: &str = "break-glass-review";

/// Where reviewer `who`'s task for `request_id` is recorded (edited when closed).
pub fn review_key(request_id: &str, who: &str) -> String {
    format!("{request_id}/break-glass/review/{who}")
}

/// *Looks right*, journaled: the review is done; the access stays.
pub async fn looks_right(
    services: &Services,
    user: &str,
    request_id: &str,
    also: &Change,
) -> Outcome {
    decide(services, user, request_id, Verdict::LooksRight, also).await
}

/// *Revoke now*: the reason modal opens at once (the trigger lives 3 s).
pub fn open_revoke(services: &Services, trigger_id: String, request_id: String) {
    let services = services.clone();
    tokio::spawn(async move {
        let question = format!(
            "Revoke the emergency access {} now? It is removed at once, and the person and the other reviewers are told why.",
            crate::app::shared::mrkdwn::escape(&request_id)
        );
        let vars = Vars::new()
            .text("callback_id", crate::controls::Modal::BreakGlassRevoke.id())
            .text("request_id", &request_id)
            .text("title", "Revoke now")
            .text("submit", "Revoke")
            .mrkdwn("question", Mrkdwn::built(question))
            .text("hint", "Recorded in the audit log as the review's verdict.");
        match services.templates().render("reason_modal", &vars) {
            Ok(view) => services.open_view(&trigger_id, view, "reason").await,
            Err(error) => tracing::error!(%error, "cannot render the reason modal"),
        }
    });
}

/// The *Revoke now* reason was submitted: `None` closes the modal, or the refusal.
pub async fn revoke_submitted(
    services: &Services,
    user: &str,
    input: &crate::slack::view_input::ViewInput,
) -> Option<Value> {
    let request_id = input.metadata.clone();
    let reason = input.words("reason");
    let Some(reason) = reason else {
        return Some(
            json!({"response_action": "errors", "errors": {"reason": "Say why, in a few words."}}),
        );
    };
    match decide(
        services,
        user,
        &request_id,
        Verdict::Revoke { reason },
        &Change::new(),
    )
    .await
    {
        Outcome::Done => None,
        Outcome::Refused(message) | Outcome::Unavailable(message) => {
            Some(json!({"response_action": "errors", "errors": {"reason": message}}))
        }
    }
}

/// Records `verdict` by `user` on the stored request (and, for *Revoke now*, the
/// revocation), retrying on a concurrent change.
async fn decide(
    services: &Services,
    user: &str,
    request_id: &str,
    verdict: Verdict,
    also: &Change,
) -> Outcome {
    let verdict = &verdict;
    let ended = decide_and_commit(
        &services.store,
        &services.consequences,
        also,
        move || async move {
            let stored = match grants::load_to_act(services, request_id).await {
                Ok(stored) => stored,
                Err(outcome) => return Decided::Stop(outcome),
            };
            let now = services.now();
            match reviewed(services, user, stored.data, verdict, now) {
                Ok((change, next)) => {
                    let change = change.expect(Table::Requests, request_id, Some(stored.rev));
                    Decided::commit_of(change, Committed::Request(Box::new(next)), ())
                }
                Err(message) => {
                    services
                        .audit_refusal(user, request_id, "break_glass.review", message.clone())
                        .await;
                    Decided::Stop(Outcome::Refused(message))
                }
            }
        },
    )
    .await;
    grants::outcome_of(ended, request_id)
}

/// The change a review makes: the verdict on the request, the revocation with its
/// messages for *Revoke now*, every reviewer's task closed, audited.
fn reviewed(
    services: &Services,
    user: &str,
    request: AccessRequest,
    verdict: &Verdict,
    now: DateTime<Utc>,
) -> Result<(Change, AccessRequest), String> {
    let request = break_glass::review(request, user, verdict.clone(), now)?;
    let (action, detail) = match verdict {
        Verdict::LooksRight => ("found it right", json!({"verdict": "looks_right"})),
        Verdict::Revoke { reason } => {
            ("revoked it", json!({"verdict": "revoke", "reason": reason}))
        }
    };
    let mut change = Change::new().at(now).audit(AuditEvent {
        actor: user.to_owned(),
        action: "break_glass.reviewed".into(),
        subject: request.id.clone(),
        detail,
    });
    change = closed_tasks(services, &request, user, action, verdict, now, change)?;
    let trouble = |error: &dyn std::fmt::Display| {
        tracing::error!(%error, "cannot render a review");
        "c1bot could not record that; nothing changed. Try again.".to_owned()
    };
    Ok(match verdict {
        Verdict::LooksRight => (
            change.put(Table::Requests, request.id.clone(), &request),
            request,
        ),
        Verdict::Revoke { reason } => {
            let action = GrantAction::Revoke {
                by: user.to_owned(),
                reason: reason.clone(),
                via: grants::removal_via(services, &request),
                // The reviewers are the entitlement's approvers.
                policy_allows: true,
            };
            let transition = grant_flow::apply(&request, action, now, services.timing())
                .map_err(|refusal| refusal.message(&request.id))?;
            let rendered = grants::render(services, transition.request, &transition.effects)
                .map_err(|e| trouble(&e))?;
            let next = rendered.request.clone();
            let change = rendered.into_change(change.audit(AuditEvent {
                actor: user.to_owned(),
                action: "grant.revoke".into(),
                subject: request.id.clone(),
                detail: json!({"reason": reason, "via": "break_glass_review"}),
            }));
            (change, next)
        }
    })
}

/// Every reviewer's task edited to say who answered and how.
fn closed_tasks(
    services: &Services,
    request: &AccessRequest,
    by: &str,
    action: &str,
    verdict: &Verdict,
    now: DateTime<Utc>,
    mut change: Change,
) -> Result<Change, String> {
    let names = services.names(request);
    let detail = match verdict {
        Verdict::LooksRight => String::new(),
        Verdict::Revoke { reason } => format!("Reason: {reason}"),
    };
    let vars = Vars::new()
        .text(
            "summary",
            format!(
                "Emergency access review: {} on {}",
                names.entitlement, names.resource
            ),
        )
        .text("request_id", &request.id)
        .text("outcome", format!("Reviewed: {action}, by"))
        .mention("by", by)
        .date("at", now.timestamp())
        .text("detail", detail);
    let card = services
        .templates()
        .render("task_closed", &vars)
        .map_err(|error| {
            tracing::error!(%error, "cannot render a closed review");
            "c1bot could not record that; nothing changed. Try again.".to_owned()
        })?;
    for reviewer in request.emergency.iter().flat_map(|e| e.reviewers.iter()) {
        change = change.outbox(OutboxMessage::update(
            &card,
            review_key(&request.id, reviewer),
        ));
    }
    Ok(change)
}

/// The reminder timer fired: while the review waits, each reviewer is reminded and
/// the next reminder set; once answered, the timer is just dropped.
pub async fn remind(services: &Services, request_id: &str, done: Change) -> anyhow::Result<Fired> {
    let Some(stored) = services.load_request(request_id).await? else {
        return Ok(Fired::just(done));
    };
    if !break_glass::awaiting_review(&stored.data) {
        return Ok(Fired::just(done));
    }
    let mut request = stored.data;
    let now = services.now();
    let names = services.names(&request);
    let reviewers: Vec<String> = request
        .emergency
        .iter()
        .flat_map(|e| e.reviewers.iter().cloned())
        .collect();
    if let Some(emergency) = request.emergency.as_mut() {
        emergency.reminders += 1;
    }
    let detail = format!(
        "Reminder: <@{}>'s emergency access still waits for a review. Answer *Looks right* or *Revoke now* on the review message.",
        request.beneficiary
    );
    let vars = crate::app::requests::break_glass::request_vars(&request, &names)
        .text("title", "Emergency access to review")
        .mrkdwn("detail", Mrkdwn::built(detail));
    let card = services.templates().render("access_notice", &vars)?;
    let every = chrono::Duration::from_std(services.break_glass.review_remind_every)
        .unwrap_or(chrono::Duration::hours(4));
    let mut change = done
        .expect(Table::Requests, request_id, Some(stored.rev))
        .put(Table::Requests, request_id, &request)
        .timer(now + every, TimerEntry::new(TIMER, request_id.to_owned()));
    let sent = request.emergency.as_ref().map_or(0, |e| e.reminders);
    for reviewer in &reviewers {
        let key = format!("{request_id}/break-glass/reminder/{sent}/{reviewer}");
        change = change.outbox(OutboxMessage::post(reviewer, &card, key));
    }
    Ok(Fired::Commit(Firing {
        change,
        request: Some(Box::new(request)),
        job: None,
        audit: None,
    }))
}
