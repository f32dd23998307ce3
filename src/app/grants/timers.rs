//! Grant timers: expiry (deprovisioning starts), the reminder before expiry (Extend /
//! I'm done), an overdue revoke (remind, then escalate to the owners), and
//! provisioner runs (`app::provisioning`).
//!
//! Each firing becomes one [`Change`] for the timer loop's group commit: the timer
//! cancelled, the request's next state expected at the revision read, its messages,
//! its next timers and an audit entry saying when it was due and how late it ran.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::app::grants::{
    self, TIMER_GRANT_EXPIRE, TIMER_GRANT_REMIND, TIMER_PROVISIONER, TIMER_REVOKE_OVERDUE,
};
use crate::app::shared::firing::{Fired, Firing, TimerAudit};
use crate::app::shared::services::Services;
use crate::store::{Table, TimerEntry};
use crate::workflow::grant::{self as workflow, GrantAction, GrantRefusal};

/// Whether `kind` is a grant timer.
pub fn handles(kind: &str) -> bool {
    [
        TIMER_GRANT_EXPIRE,
        TIMER_GRANT_REMIND,
        TIMER_REVOKE_OVERDUE,
        TIMER_PROVISIONER,
    ]
    .contains(&kind)
}

pub async fn prepare(
    services: &Services,
    at: DateTime<Utc>,
    entry: &TimerEntry,
    now: DateTime<Utc>,
) -> anyhow::Result<Fired> {
    if entry.kind == TIMER_PROVISIONER {
        return crate::app::grants::provisioning::prepare_run(services, at, entry, now).await;
    }
    let done = crate::app::shared::firing::dropping(at, entry, now);
    let Some(stored) = services.load_request(&entry.subject).await? else {
        return Ok(Fired::just(done));
    };
    let request = &stored.data;
    let action = match entry.kind.as_str() {
        TIMER_GRANT_EXPIRE => GrantAction::Expire {
            via: grants::removal_via(services, request),
        },
        TIMER_GRANT_REMIND => GrantAction::RemindExpiry,
        _ => GrantAction::RevokeOverdue {
            owners: grants::owners_of(services, request),
        },
    };
    let transition = match workflow::apply(request, action, now, services.timing()) {
        Ok(transition) => transition,
        Err(GrantRefusal::NotDue) => {
            // Due later by the grant's own record: fire again then.
            let change = match request.grant.as_ref().and_then(|g| g.expires_at) {
                Some(expires_at) => done.timer(expires_at, entry.clone()),
                None => done,
            };
            return Ok(Fired::just(change));
        }
        // The grant moved on (revoked early, extended, already expired).
        Err(_) => return Ok(Fired::just(done)),
    };
    let late_ms = (now - at).num_milliseconds();
    if entry.kind == TIMER_GRANT_EXPIRE && late_ms > 60_000 {
        tracing::warn!(request_id = %entry.subject, late_ms, "expiry processed late (c1bot was down or the clock jumped)");
    }
    let next = transition.request.clone();
    let rendered = grants::render(services, transition.request, &transition.effects)?;
    let change =
        rendered.into_change(done.expect(Table::Requests, &entry.subject, Some(stored.rev)));
    Ok(Fired::Commit(Firing {
        change,
        audit: Some(Box::new(TimerAudit::new(
            audit_action(&entry.kind),
            entry.subject.clone(),
            json!({ "state": next.stage() }),
        ))),
        request: Some(Box::new(next)),
        job: None,
    }))
}

fn audit_action(kind: &str) -> &'static str {
    match kind {
        TIMER_GRANT_EXPIRE => "grant.expired",
        TIMER_GRANT_REMIND => "grant.expiry_reminder",
        _ => "task.revoke.overdue",
    }
}
