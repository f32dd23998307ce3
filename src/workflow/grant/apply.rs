//! [`apply`]: one [`GrantAction`] on a request, checked against its state, each kind
//! of action in a function of its own.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::tasks::{
    begin_revoke, cannot_revoke, escalate, finish, grant_mut, open_task_of, overdue_timer,
    start_effect,
};
use super::{
    Ending, Grant, GrantAction, GrantEffect, GrantRefusal, GrantState, GrantTransition, Task,
    TaskKind, Timing, Via,
};
use crate::workflow::request::{AccessRequest, State, UserId};

/// An action under way: the request as it becomes, the effects so far, and when.
pub(super) struct Next {
    pub request: AccessRequest,
    pub effects: Vec<GrantEffect>,
    pub now: DateTime<Utc>,
    pub timing: Timing,
}

/// Applies `action` to `request` at `now`.
pub fn apply(
    request: &AccessRequest,
    action: GrantAction,
    now: DateTime<Utc>,
    timing: Timing,
) -> Result<GrantTransition, GrantRefusal> {
    let mut next = Next {
        request: request.clone(),
        effects: Vec::new(),
        now,
        timing,
    };
    match action {
        GrantAction::Start { via } => start(&mut next, via)?,
        GrantAction::Complete { kind, by } => {
            manual_task(&mut next, kind, &by)?;
            finish(&mut next, kind, by, true, None);
        }
        GrantAction::CannotComplete {
            kind,
            by,
            reason,
            owners,
        } => cannot_complete(&mut next, kind, by, reason, owners)?,
        GrantAction::Automatic {
            kind,
            ok,
            detail,
            fallback,
        } => automatic(&mut next, kind, ok, detail, fallback)?,
        GrantAction::Expire { via } => expire(&mut next, via)?,
        GrantAction::Revoke {
            by,
            reason,
            via,
            policy_allows,
        } => {
            let may = policy_allows
                || request.involves(&by)
                || request.decisions.iter().any(|d| d.approved && d.by == by);
            if !may {
                return Err(GrantRefusal::NotAllowedToRevoke);
            }
            revoke(&mut next, Ending::Revoked { by, reason }, via)?;
        }
        GrantAction::RemindExpiry => remind_expiry(&mut next)?,
        GrantAction::RevokeOverdue { owners } => revoke_overdue(&mut next, owners)?,
        GrantAction::Supersede { by } => {
            let grant = active(&mut next.request)?;
            grant.state = GrantState::Superseded { by };
            grant.ended_at = Some(now);
        }
    }
    Ok(GrantTransition {
        request: next.request,
        effects: next.effects,
    })
}

/// An approved request's access starts: the provisioning task is opened.
fn start(next: &mut Next, via: Via) -> Result<(), GrantRefusal> {
    if !matches!(next.request.state, State::Approved { .. }) {
        return Err(GrantRefusal::NotApproved);
    }
    if next.request.grant.is_some() {
        return Err(GrantRefusal::AlreadyStarted);
    }
    if crate::workflow::schedule::not_yet(&next.request, next.now) {
        return Err(GrantRefusal::NotDue);
    }
    next.effects
        .push(start_effect(TaskKind::Grant, &via, next.now));
    next.request.grant = Some(Grant {
        state: GrantState::Provisioning,
        provision: Task::new(TaskKind::Grant, via, next.now),
        deprovision: None,
        active_from: None,
        expires_at: None,
        ending: None,
        ending_started_at: None,
        ended_at: None,
        expiry_reminded: false,
        continues: None,
    });
    Ok(())
}

/// The open `kind` task is a manual one that `by` works.
fn manual_task(next: &mut Next, kind: TaskKind, by: &UserId) -> Result<(), GrantRefusal> {
    let task = open_task_of(grant_mut(&mut next.request)?, kind)?;
    if !task.is_manual() {
        return Err(GrantRefusal::Automatic);
    }
    if !task.workers().contains(by) {
        return Err(GrantRefusal::NotAnAssignee);
    }
    Ok(())
}

/// An assignee cannot do the task: a grant fails; access that should end is never
/// dropped, its task stays open and goes to the resource's owners at once.
fn cannot_complete(
    next: &mut Next,
    kind: TaskKind,
    by: UserId,
    reason: String,
    owners: BTreeSet<UserId>,
) -> Result<(), GrantRefusal> {
    manual_task(next, kind, &by)?;
    match kind {
        TaskKind::Grant => finish(next, kind, by, false, Some(reason)),
        TaskKind::Revoke => {
            let grant = grant_mut(&mut next.request)?;
            cannot_revoke(grant, by, reason, owners, &mut next.effects);
        }
    }
    Ok(())
}

/// An automatic provisioner's result: done, or the task goes to people (`fallback`).
fn automatic(
    next: &mut Next,
    kind: TaskKind,
    ok: bool,
    detail: String,
    fallback: BTreeSet<UserId>,
) -> Result<(), GrantRefusal> {
    let task = open_task_of(grant_mut(&mut next.request)?, kind)?;
    if task.is_manual() {
        return Err(GrantRefusal::Stale);
    }
    if ok {
        finish(next, kind, "c1bot".into(), true, Some(detail));
        return Ok(());
    }
    let task = grant_mut(&mut next.request)?
        .open_task_mut()
        .ok_or(GrantRefusal::Stale)?;
    task.via = Via::Manual {
        assignees: fallback,
        after_failure: Some(detail),
    };
    next.effects.push(GrantEffect::PostTask(kind));
    if kind == TaskKind::Revoke {
        next.effects.push(overdue_timer(next.now, next.timing));
    }
    Ok(())
}

/// Active access whose end has come starts its deprovisioning.
fn expire(next: &mut Next, via: Via) -> Result<(), GrantRefusal> {
    let grant = grant_mut(&mut next.request)?;
    if grant.state != GrantState::Active {
        return Err(GrantRefusal::Stale);
    }
    let due = grant.expires_at.ok_or(GrantRefusal::NoExpiry)?;
    if due > next.now {
        return Err(GrantRefusal::NotDue);
    }
    let ending = Ending::Expired { due };
    begin_revoke(grant, ending, via, next.now, next.timing, &mut next.effects);
    Ok(())
}

/// Someone allowed to ends active access early; the people on it are told first.
fn revoke(next: &mut Next, ending: Ending, via: Via) -> Result<(), GrantRefusal> {
    let grant = active(&mut next.request)?;
    begin_revoke(grant, ending, via, next.now, next.timing, &mut next.effects);
    next.effects.insert(0, GrantEffect::TellEnding);
    Ok(())
}

/// The "ends soon" reminder, offering an extension.
fn remind_expiry(next: &mut Next) -> Result<(), GrantRefusal> {
    let grant = grant_mut(&mut next.request)?;
    // After downtime a reminder can come due after the end it announces: skipped,
    // since the expiry follows at once.
    let passed = grant.expires_at.is_some_and(|end| end <= next.now);
    if grant.state != GrantState::Active || grant.expiry_reminded || passed {
        return Err(GrantRefusal::Stale);
    }
    grant.expiry_reminded = true;
    next.effects.push(GrantEffect::OfferExtension);
    Ok(())
}

/// A manual deprovisioning task past its time: its workers are reminded, and from
/// the second time on the owners are asked too.
fn revoke_overdue(next: &mut Next, owners: BTreeSet<UserId>) -> Result<(), GrantRefusal> {
    let grant = grant_mut(&mut next.request)?;
    if !open_task_of(grant, TaskKind::Revoke)?.is_manual() {
        return Err(GrantRefusal::Stale);
    }
    let task = grant.deprovision.as_mut().ok_or(GrantRefusal::Stale)?;
    task.reminders += 1;
    next.effects.push(GrantEffect::RemindTask {
        kind: TaskKind::Revoke,
        to: task.workers().into_iter().collect(),
    });
    if task.reminders > 1 {
        escalate(task, owners, &mut next.effects);
    }
    next.effects.push(overdue_timer(next.now, next.timing));
    Ok(())
}

/// The grant, if its access is active.
fn active(request: &mut AccessRequest) -> Result<&mut Grant, GrantRefusal> {
    let grant = grant_mut(request)?;
    if grant.state != GrantState::Active {
        return Err(GrantRefusal::NotActive {
            state: grant.state.label(),
        });
    }
    Ok(grant)
}
