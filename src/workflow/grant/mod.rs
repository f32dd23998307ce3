//! Access after approval: provisioning, the active grant, how it ends (expiry, early
//! revoke, "I'm done", an approved extension) and deprovisioning.
//!
//! Pure, like [`super::approval`]: `(request, action, now, timing) -> (next, effects)`
//! or a refusal. The caller resolves who works a task (assignees, the automatic
//! provisioner, the resource's owners) and whether policy lets a person revoke, and
//! commits the next state with its messages and timers in one transaction expecting
//! the revision it read: of two clicks on *Mark complete* exactly one counts.
//!
//! The types are here; [`apply`] runs one action (`apply.rs`, a function per kind of
//! action), `tasks.rs` holds what the actions share, and [`extend`] lets an approved
//! extension take over active access (`extension.rs`).

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::request::{AccessRequest, UserId};

mod apply;
mod extension;
mod tasks;

pub use apply::apply;
pub use extension::extend;

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

// Also used by tests of what follows a grant's transitions (`app::campaigns::ended`).
#[cfg(test)]
pub(crate) mod tests;
