//! What the actions share: finding the grant and its open task, opening and finishing
//! tasks, starting a revoke, escalating to owners, and the timers they schedule.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::apply::Next;
use super::{
    Blocked, Ending, Grant, GrantEffect, GrantRefusal, GrantState, Task, TaskDone, TaskKind,
    TimerKind, Timing, Via,
};
use crate::workflow::request::{AccessDuration, AccessRequest, UserId};

pub(super) fn grant_mut(request: &mut AccessRequest) -> Result<&mut Grant, GrantRefusal> {
    request.grant.as_mut().ok_or(GrantRefusal::NotApproved)
}

pub(super) fn open_task_of(grant: &Grant, kind: TaskKind) -> Result<&Task, GrantRefusal> {
    let task = match kind {
        TaskKind::Grant => Some(&grant.provision),
        TaskKind::Revoke => grant.deprovision.as_ref(),
    };
    match (task, grant.open_task()) {
        (Some(task), Some(open)) if open.kind == kind => Ok(task),
        (task, _) => Err(GrantRefusal::TaskClosed {
            done: task.and_then(|t| t.done.clone()),
        }),
    }
}

pub(super) fn start_effect(kind: TaskKind, via: &Via, now: DateTime<Utc>) -> GrantEffect {
    match via {
        Via::Manual { .. } => GrantEffect::PostTask(kind),
        Via::Automatic { .. } => GrantEffect::Schedule {
            timer: TimerKind::Provisioner,
            at: now,
        },
    }
}

pub(super) fn overdue_timer(now: DateTime<Utc>, timing: Timing) -> GrantEffect {
    GrantEffect::Schedule {
        timer: TimerKind::RevokeOverdue,
        at: now
            + chrono::Duration::from_std(timing.revoke_overdue_after)
                .unwrap_or(chrono::Duration::hours(1)),
    }
}

pub(super) fn expiry_timers(
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
    timing: Timing,
) -> Vec<GrantEffect> {
    let mut out = vec![GrantEffect::Schedule {
        timer: TimerKind::Expiry,
        at: expires_at,
    }];
    let lead = chrono::Duration::from_std(timing.remind_before_expiry)
        .unwrap_or(chrono::Duration::minutes(15));
    // Access shorter than the lead gets no reminder: it would arrive as access starts.
    if expires_at - lead > now {
        out.push(GrantEffect::Schedule {
            timer: TimerKind::ExpiryReminder,
            at: expires_at - lead,
        });
    }
    out
}

/// The open task is done (`completed`) or cannot be (a grant fails): the grant
/// moves on, with its timers and messages.
pub(super) fn finish(
    next: &mut Next,
    kind: TaskKind,
    by: UserId,
    completed: bool,
    detail: Option<String>,
) {
    let (now, timing, effects) = (next.now, next.timing, &mut next.effects);
    let duration = next.request.duration;
    // Scheduled access keeps its window: its clock started at the window's start.
    let clock_from = crate::workflow::schedule::clock_starts(&next.request, now);
    let Some(grant) = next.request.grant.as_mut() else {
        return;
    };
    let manual = grant.open_task().is_some_and(Task::is_manual);
    if let Some(task) = grant.open_task_mut() {
        task.done = Some(TaskDone {
            by,
            at: now,
            completed,
            detail,
        });
    }
    if manual {
        effects.push(GrantEffect::UpdateTaskCopies(kind));
    }
    match (kind, completed) {
        (TaskKind::Grant, true) => {
            grant.state = GrantState::Active;
            grant.active_from = Some(now);
            if let AccessDuration::For(d) = duration {
                let expires_at =
                    clock_from + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero());
                grant.expires_at = Some(expires_at);
                effects.push(GrantEffect::TellActive);
                effects.extend(expiry_timers(expires_at, now, timing));
            } else {
                effects.push(GrantEffect::TellActive);
            }
        }
        (TaskKind::Grant, false) => {
            grant.state = GrantState::Failed;
            grant.ended_at = Some(now);
            effects.push(GrantEffect::TellFailed);
        }
        (TaskKind::Revoke, _) => {
            grant.state = GrantState::Revoked;
            grant.ended_at = Some(now);
            effects.push(GrantEffect::TellRevoked);
        }
    }
}

pub(super) fn begin_revoke(
    grant: &mut Grant,
    ending: Ending,
    via: Via,
    now: DateTime<Utc>,
    timing: Timing,
    effects: &mut Vec<GrantEffect>,
) {
    effects.push(GrantEffect::RetireOffers);
    effects.push(start_effect(TaskKind::Revoke, &via, now));
    if matches!(via, Via::Manual { .. }) {
        effects.push(overdue_timer(now, timing));
    }
    grant.state = GrantState::Deprovisioning;
    grant.ending = Some(ending);
    grant.ending_started_at = Some(now);
    grant.deprovision = Some(Task::new(TaskKind::Revoke, via, now));
}

/// A deprovisioning task someone cannot do: recorded on the task, and the owners
/// are asked now rather than after the overdue time.
pub(super) fn cannot_revoke(
    grant: &mut Grant,
    by: UserId,
    reason: String,
    owners: BTreeSet<UserId>,
    effects: &mut Vec<GrantEffect>,
) {
    let Some(task) = grant.deprovision.as_mut() else {
        return;
    };
    task.blocked = Some(Blocked { by, reason });
    effects.push(GrantEffect::UpdateTaskCopies(TaskKind::Revoke));
    escalate(task, owners, effects);
}

/// Adds the owners not already working the task, and asks them.
pub(super) fn escalate(task: &mut Task, owners: BTreeSet<UserId>, effects: &mut Vec<GrantEffect>) {
    let workers = task.workers();
    let added: Vec<UserId> = owners
        .into_iter()
        .filter(|o| !workers.contains(o))
        .collect();
    task.escalated_to.extend(added.iter().cloned());
    if !added.is_empty() {
        effects.push(GrantEffect::EscalateTask {
            kind: task.kind,
            to: added,
        });
    }
}
