//! Access after approval: provisioning, the active grant, how it ends (expiry, early
//! revoke, "I'm done", an approved extension) and deprovisioning.
//!
//! Pure, like [`super::approval`]: `(request, action, now, timing) -> (next, effects)`
//! or a refusal. The caller resolves who works a task (assignees, the automatic
//! provisioner, the resource's owners) and whether policy lets a person revoke, and
//! commits the next state with its messages and timers in one transaction expecting
//! the revision it read: of two clicks on *Mark complete* exactly one counts.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::request::{AccessDuration, AccessRequest, State, UserId};

/// Which way a task moves access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Grant,
    Revoke,
}

impl TaskKind {
    /// `grant` / `revoke`, as in message keys, audit actions and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Grant => "grant",
            TaskKind::Revoke => "revoke",
        }
    }
}

/// Who carries out a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum Via {
    /// People, who do it by hand and click *Mark complete*.
    Manual {
        assignees: BTreeSet<UserId>,
        /// Set when an automatic provisioner failed first: what it said.
        #[serde(default)]
        after_failure: Option<String>,
    },
    /// The entitlement's webhook or command.
    Automatic { provisioner: String },
}

/// A grant or revoke task and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    pub kind: TaskKind,
    pub via: Via,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub done: Option<TaskDone>,
    /// Overdue reminders sent so far.
    #[serde(default)]
    pub reminders: u32,
    /// Owners asked to step in after the task went overdue (they may complete it too).
    #[serde(default)]
    pub escalated_to: BTreeSet<UserId>,
    /// An assignee said they cannot do it (a revoke stays open and goes to the owners).
    #[serde(default)]
    pub blocked: Option<Blocked>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocked {
    pub by: UserId,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDone {
    /// A person, or `c1bot` for an automatic provisioner.
    pub by: UserId,
    pub at: DateTime<Utc>,
    pub completed: bool,
    #[serde(default)]
    pub detail: Option<String>,
}

impl Task {
    fn new(kind: TaskKind, via: Via, now: DateTime<Utc>) -> Self {
        Self {
            kind,
            via,
            started_at: now,
            done: None,
            reminders: 0,
            escalated_to: BTreeSet::new(),
            blocked: None,
        }
    }

    /// People who may act on it: its assignees and any owner it escalated to.
    pub fn workers(&self) -> BTreeSet<UserId> {
        let mut people = self.escalated_to.clone();
        if let Via::Manual { assignees, .. } = &self.via {
            people.extend(assignees.iter().cloned());
        }
        people
    }

    pub fn is_manual(&self) -> bool {
        matches!(self.via, Via::Manual { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GrantState {
    Provisioning,
    Active,
    Deprovisioning,
    Revoked,
    /// Provisioning could not be done; the request ends here.
    Failed,
    /// An approved extension took over (`REQ-…`); access continues there.
    Superseded {
        by: String,
    },
}

impl GrantState {
    pub fn label(&self) -> &'static str {
        match self {
            GrantState::Provisioning => "provisioning",
            GrantState::Active => "active",
            GrantState::Deprovisioning => "deprovisioning",
            GrantState::Revoked => "revoked",
            GrantState::Failed => "failed",
            GrantState::Superseded { .. } => "extended",
        }
    }
}

/// Why access is ending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum Ending {
    Expired { due: DateTime<Utc> },
    Revoked { by: UserId, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub state: GrantState,
    pub provision: Task,
    #[serde(default)]
    pub deprovision: Option<Task>,
    #[serde(default)]
    pub active_from: Option<DateTime<Utc>>,
    /// `None` while provisioning, and for permanent access.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ending: Option<Ending>,
    /// When deprovisioning started.
    #[serde(default)]
    pub ending_started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expiry_reminded: bool,
    /// Set on an extension's grant: the request whose access it continues.
    #[serde(default)]
    pub continues: Option<String>,
}

impl Grant {
    /// The open task, if one is waiting.
    pub fn open_task(&self) -> Option<&Task> {
        match self.state {
            GrantState::Provisioning => Some(&self.provision),
            GrantState::Deprovisioning => self.deprovision.as_ref(),
            _ => None,
        }
    }

    fn open_task_mut(&mut self) -> Option<&mut Task> {
        match self.state {
            GrantState::Provisioning => Some(&mut self.provision),
            GrantState::Deprovisioning => self.deprovision.as_mut(),
            _ => None,
        }
    }

    /// How late deprovisioning started after the expiry it was for.
    pub fn late_by(&self) -> Option<chrono::Duration> {
        match (&self.ending, self.ending_started_at) {
            (Some(Ending::Expired { due }), Some(started)) => Some(started - *due),
            _ => None,
        }
    }
}

/// Configured timing the transitions need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub remind_before_expiry: Duration,
    pub revoke_overdue_after: Duration,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantAction {
    /// The request was approved: start provisioning.
    Start { via: Via },
    /// An assignee clicked *Mark complete*.
    Complete { kind: TaskKind, by: UserId },
    /// An assignee clicked *Can't complete* and gave a reason. A revoke that cannot
    /// be done stays open and goes to `owners` (the resource's) at once.
    CannotComplete {
        kind: TaskKind,
        by: UserId,
        reason: String,
        owners: BTreeSet<UserId>,
    },
    /// The automatic provisioner finished (after its own retries). On failure the
    /// task goes to `fallback` as a manual task.
    Automatic {
        kind: TaskKind,
        ok: bool,
        detail: String,
        fallback: BTreeSet<UserId>,
    },
    /// The expiry timer fired: deprovision via `via`.
    Expire { via: Via },
    /// Someone ends access early; `policy_allows` is policy's `space_write` verdict.
    Revoke {
        by: UserId,
        reason: String,
        via: Via,
        policy_allows: bool,
    },
    /// The reminder before expiry fired.
    RemindExpiry,
    /// The deprovisioning task's overdue timer fired; `owners` are the resource's.
    RevokeOverdue { owners: BTreeSet<UserId> },
    /// An approved extension (`by`) takes over this grant's access.
    Supersede { by: String },
}

/// Timers a transition schedules, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerKind {
    Expiry,
    ExpiryReminder,
    RevokeOverdue,
    /// Run the automatic provisioner now.
    Provisioner,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantEffect {
    /// DM the open task to its assignees.
    PostTask(TaskKind),
    /// Redraw every posted copy of the task (done, failed, by whom).
    UpdateTaskCopies(TaskKind),
    /// Tell the person with access that it is active, and until when.
    TellActive,
    /// Tell the requester, beneficiary and approvers that provisioning failed.
    TellFailed,
    /// Tell the person with access that it is being removed, and why.
    TellEnding,
    /// Tell the person with access that it has been removed (and how late, if late).
    TellRevoked,
    /// Offer *Extend* and *I'm done* before expiry.
    OfferExtension,
    /// Access stopped being active: retire the buttons of the messages that offered
    /// *I'm done* / *Extend* for it.
    RetireOffers,
    /// Remind these workers of the overdue task.
    RemindTask {
        kind: TaskKind,
        to: Vec<UserId>,
    },
    /// The overdue task also goes to these owners.
    EscalateTask {
        kind: TaskKind,
        to: Vec<UserId>,
    },
    Schedule {
        timer: TimerKind,
        at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantRefusal {
    NotApproved,
    AlreadyStarted,
    /// The task is not the open one (done, or a grant task clicked during revoke).
    TaskClosed {
        done: Option<TaskDone>,
    },
    NotAnAssignee,
    /// An automatic provisioner is working on it; nobody clicks for it.
    Automatic,
    NotActive {
        state: &'static str,
    },
    NotAllowedToRevoke,
    /// A timer that no longer applies (the grant moved on or was extended).
    Stale,
    NotDue,
    /// Nothing to end: permanent access has no expiry.
    NoExpiry,
}

impl GrantRefusal {
    pub fn message(&self, request_id: &str) -> String {
        match self {
            GrantRefusal::NotApproved => format!("{request_id} is not approved."),
            GrantRefusal::AlreadyStarted => format!("Provisioning of {request_id} already started."),
            GrantRefusal::TaskClosed { done: Some(done) } if done.by == "c1bot" => {
                format!("This task for {request_id} was already done automatically.")
            }
            GrantRefusal::TaskClosed { done: Some(done) } => format!(
                "This task for {request_id} was already {} by <@{}>.",
                if done.completed { "completed" } else { "marked as impossible" },
                done.by
            ),
            GrantRefusal::TaskClosed { done: None } => {
                format!("This task for {request_id} is no longer open.")
            }
            GrantRefusal::NotAnAssignee => {
                format!("You are not an assignee of this task for {request_id}.")
            }
            GrantRefusal::Automatic => format!(
                "An automatic provisioner is handling {request_id}; you will get a task if it fails."
            ),
            GrantRefusal::NotActive { state } => {
                format!("Access from {request_id} is not active (it is {state}).")
            }
            GrantRefusal::NotAllowedToRevoke => format!(
                "Only the person with the access, the requester, an approver of {request_id} or someone who may manage its space can revoke it."
            ),
            GrantRefusal::Stale => format!("{request_id} has moved on."),
            GrantRefusal::NotDue => format!("{request_id} is not due yet."),
            GrantRefusal::NoExpiry => format!("Access from {request_id} is permanent."),
        }
    }
}

#[derive(Debug)]
pub struct GrantTransition {
    pub request: AccessRequest,
    pub effects: Vec<GrantEffect>,
}

/// Applies `action` to `request` at `now`.
pub fn apply(
    request: &AccessRequest,
    action: GrantAction,
    now: DateTime<Utc>,
    timing: Timing,
) -> Result<GrantTransition, GrantRefusal> {
    let mut next = request.clone();
    let mut effects = Vec::new();
    match action {
        GrantAction::Start { via } => {
            if !matches!(request.state, State::Approved { .. }) {
                return Err(GrantRefusal::NotApproved);
            }
            if request.grant.is_some() {
                return Err(GrantRefusal::AlreadyStarted);
            }
            if super::schedule::not_yet(request, now) {
                return Err(GrantRefusal::NotDue);
            }
            effects.push(start_effect(TaskKind::Grant, &via, now));
            next.grant = Some(Grant {
                state: GrantState::Provisioning,
                provision: Task::new(TaskKind::Grant, via, now),
                deprovision: None,
                active_from: None,
                expires_at: None,
                ending: None,
                ending_started_at: None,
                ended_at: None,
                expiry_reminded: false,
                continues: None,
            });
        }
        GrantAction::Complete { kind, by } => {
            let grant = grant_mut(&mut next)?;
            let task = open_task_of(grant, kind)?;
            if !task.is_manual() {
                return Err(GrantRefusal::Automatic);
            }
            if !task.workers().contains(&by) {
                return Err(GrantRefusal::NotAnAssignee);
            }
            finish(&mut next, kind, by, true, None, now, timing, &mut effects);
        }
        GrantAction::CannotComplete {
            kind,
            by,
            reason,
            owners,
        } => {
            let grant = grant_mut(&mut next)?;
            let task = open_task_of(grant, kind)?;
            if !task.is_manual() {
                return Err(GrantRefusal::Automatic);
            }
            if !task.workers().contains(&by) {
                return Err(GrantRefusal::NotAnAssignee);
            }
            match kind {
                TaskKind::Grant => finish(
                    &mut next,
                    kind,
                    by,
                    false,
                    Some(reason),
                    now,
                    timing,
                    &mut effects,
                ),
                // Access that should end is never dropped: the task stays open and
                // goes to the resource's owners at once, with the reason.
                TaskKind::Revoke => cannot_revoke(grant, by, reason, owners, &mut effects),
            }
        }
        GrantAction::Automatic {
            kind,
            ok,
            detail,
            fallback,
        } => {
            let grant = grant_mut(&mut next)?;
            let task = open_task_of(grant, kind)?;
            if task.is_manual() {
                return Err(GrantRefusal::Stale);
            }
            if ok {
                finish(
                    &mut next,
                    kind,
                    "c1bot".into(),
                    true,
                    Some(detail),
                    now,
                    timing,
                    &mut effects,
                );
            } else {
                let task = grant_mut(&mut next)?
                    .open_task_mut()
                    .ok_or(GrantRefusal::Stale)?;
                task.via = Via::Manual {
                    assignees: fallback,
                    after_failure: Some(detail),
                };
                effects.push(GrantEffect::PostTask(kind));
                if kind == TaskKind::Revoke {
                    effects.push(overdue_timer(now, timing));
                }
            }
        }
        GrantAction::Expire { via } => {
            let grant = grant_mut(&mut next)?;
            if grant.state != GrantState::Active {
                return Err(GrantRefusal::Stale);
            }
            let due = grant.expires_at.ok_or(GrantRefusal::NoExpiry)?;
            if due > now {
                return Err(GrantRefusal::NotDue);
            }
            begin_revoke(
                grant,
                Ending::Expired { due },
                via,
                now,
                timing,
                &mut effects,
            );
        }
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
            let grant = grant_mut(&mut next)?;
            if grant.state != GrantState::Active {
                return Err(GrantRefusal::NotActive {
                    state: grant.state.label(),
                });
            }
            begin_revoke(
                grant,
                Ending::Revoked { by, reason },
                via,
                now,
                timing,
                &mut effects,
            );
            effects.insert(0, GrantEffect::TellEnding);
        }
        GrantAction::RemindExpiry => {
            let grant = grant_mut(&mut next)?;
            // After downtime a reminder can come due after the end it announces:
            // skipped, since the expiry follows at once.
            let passed = grant.expires_at.is_some_and(|end| end <= now);
            if grant.state != GrantState::Active || grant.expiry_reminded || passed {
                return Err(GrantRefusal::Stale);
            }
            grant.expiry_reminded = true;
            effects.push(GrantEffect::OfferExtension);
        }
        GrantAction::RevokeOverdue { owners } => {
            let grant = grant_mut(&mut next)?;
            let task = open_task_of(grant, TaskKind::Revoke)?;
            if !task.is_manual() {
                return Err(GrantRefusal::Stale);
            }
            let task = grant.deprovision.as_mut().ok_or(GrantRefusal::Stale)?;
            task.reminders += 1;
            effects.push(GrantEffect::RemindTask {
                kind: TaskKind::Revoke,
                to: task.workers().into_iter().collect(),
            });
            // First overdue: remind. From the second on, the owners are asked too.
            if task.reminders > 1 {
                escalate(task, owners, &mut effects);
            }
            effects.push(overdue_timer(now, timing));
        }
        GrantAction::Supersede { by } => {
            let grant = grant_mut(&mut next)?;
            if grant.state != GrantState::Active {
                return Err(GrantRefusal::NotActive {
                    state: grant.state.label(),
                });
            }
            grant.state = GrantState::Superseded { by };
            grant.ended_at = Some(now);
        }
    }
    Ok(GrantTransition {
        request: next,
        effects,
    })
}

/// An approved extension of `previous` (still active): `extension` takes over its
/// access without provisioning again, until the old end plus the time asked for. Returns
/// both requests' next states; `None` when `previous` is no longer active (the
/// extension is then provisioned as a new grant).
pub fn extend(
    previous: &AccessRequest,
    extension: &AccessRequest,
    now: DateTime<Utc>,
    timing: Timing,
) -> Option<(AccessRequest, GrantTransition)> {
    let old = previous.grant.as_ref()?;
    if old.state != GrantState::Active || extension.grant.is_some() {
        return None;
    }
    let old_end = old.expires_at?;
    let AccessDuration::For(more) = extension.duration else {
        return None;
    };
    let expires_at = old_end.max(now) + chrono::Duration::from_std(more).ok()?;
    let superseded = apply(
        previous,
        GrantAction::Supersede {
            by: extension.id.clone(),
        },
        now,
        timing,
    )
    .ok()?
    .request;
    let mut next = extension.clone();
    let mut provision = old.provision.clone();
    provision.kind = TaskKind::Grant;
    next.grant = Some(Grant {
        state: GrantState::Active,
        provision,
        deprovision: None,
        active_from: old.active_from,
        expires_at: Some(expires_at),
        ending: None,
        ending_started_at: None,
        ended_at: None,
        expiry_reminded: false,
        continues: Some(previous.id.clone()),
    });
    let mut effects = vec![GrantEffect::TellActive];
    effects.extend(expiry_timers(expires_at, now, timing));
    Some((
        superseded,
        GrantTransition {
            request: next,
            effects,
        },
    ))
}

fn grant_mut(request: &mut AccessRequest) -> Result<&mut Grant, GrantRefusal> {
    request.grant.as_mut().ok_or(GrantRefusal::NotApproved)
}

fn open_task_of(grant: &Grant, kind: TaskKind) -> Result<&Task, GrantRefusal> {
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

fn start_effect(kind: TaskKind, via: &Via, now: DateTime<Utc>) -> GrantEffect {
    match via {
        Via::Manual { .. } => GrantEffect::PostTask(kind),
        Via::Automatic { .. } => GrantEffect::Schedule {
            timer: TimerKind::Provisioner,
            at: now,
        },
    }
}

fn overdue_timer(now: DateTime<Utc>, timing: Timing) -> GrantEffect {
    GrantEffect::Schedule {
        timer: TimerKind::RevokeOverdue,
        at: now
            + chrono::Duration::from_std(timing.revoke_overdue_after)
                .unwrap_or(chrono::Duration::hours(1)),
    }
}

fn expiry_timers(
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

#[allow(clippy::too_many_arguments)]
fn finish(
    request: &mut AccessRequest,
    kind: TaskKind,
    by: UserId,
    completed: bool,
    detail: Option<String>,
    now: DateTime<Utc>,
    timing: Timing,
    effects: &mut Vec<GrantEffect>,
) {
    let duration = request.duration;
    // Scheduled access keeps its window: its clock started at the window's start.
    let clock_from = super::schedule::clock_starts(request, now);
    let Some(grant) = request.grant.as_mut() else {
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

fn begin_revoke(
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
fn cannot_revoke(
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
fn escalate(task: &mut Task, owners: BTreeSet<UserId>, effects: &mut Vec<GrantEffect>) {
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

// Also used by tests of what follows a grant's transitions (`app::campaigns::ended`).
#[cfg(test)]
#[path = "grant_tests.rs"]
pub(crate) mod tests;
