//! An access request as stored, version 2: its own types, separate from the
//! workflow's, so a change to the domain never silently changes what is on disk.
//!
//! Compact on purpose (an active grant is read and rewritten at every expiry, and a
//! store holds hundreds of thousands): short keys, instants as integer nanoseconds,
//! nothing written that is empty, false or equal to a default. Conversions both ways
//! are total: every domain value has one stored form and back.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::workflow::break_glass::{Emergency, Review, Verdict};
use crate::workflow::grant::{Blocked, Ending, Grant, GrantState, Task, TaskDone, TaskKind, Via};
use crate::workflow::request::{
    AccessDuration, AccessRequest, Decision, Quorum, State, Step, UserId,
};

/// Nanoseconds since the epoch: exact (to 2262) and a third the size of RFC 3339.
type Nanos = i64;

fn nanos(at: DateTime<Utc>) -> Nanos {
    at.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn instant(nanos: Nanos) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestV2 {
    #[serde(rename = "i")]
    id: String,
    #[serde(rename = "rq")]
    requester: UserId,
    /// Absent when the requester asked for themself.
    #[serde(rename = "b", default, skip_serializing_if = "Option::is_none")]
    beneficiary: Option<UserId>,
    #[serde(rename = "r")]
    resource: String,
    #[serde(rename = "e")]
    entitlement: String,
    /// Seconds; absent for permanent access.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    duration: Option<u64>,
    #[serde(rename = "j")]
    justification: String,
    #[serde(rename = "c")]
    created_at: Nanos,
    #[serde(rename = "db")]
    decide_by: Nanos,
    #[serde(rename = "s", default, skip_serializing_if = "Vec::is_empty")]
    steps: Vec<StepV2>,
    #[serde(rename = "st")]
    state: StateV2,
    #[serde(rename = "dc", default, skip_serializing_if = "Vec::is_empty")]
    decisions: Vec<DecisionV2>,
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    grant: Option<GrantV2>,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    extends: Option<String>,
    /// The request form's extra fields by id; absent when there are none.
    #[serde(rename = "f", default, skip_serializing_if = "BTreeMap::is_empty")]
    fields: BTreeMap<String, String>,
    /// Scheduled access: when it starts. Absent for access from approval, and in
    /// every record written before scheduling existed.
    #[serde(rename = "sa", default, skip_serializing_if = "Option::is_none")]
    starts_at: Option<Nanos>,
    /// Break-glass access and its review; absent for every other request.
    #[serde(rename = "eg", default, skip_serializing_if = "Option::is_none")]
    emergency: Option<EmergencyV2>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct EmergencyV2 {
    #[serde(rename = "a")]
    at: Nanos,
    #[serde(rename = "rs")]
    reason: String,
    #[serde(rename = "r")]
    reviewers: BTreeSet<UserId>,
    #[serde(rename = "x", default, skip_serializing_if = "is_false")]
    escalated: bool,
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    review: Option<ReviewV2>,
    #[serde(rename = "rm", default, skip_serializing_if = "is_zero")]
    reminders: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ReviewV2 {
    #[serde(rename = "b")]
    by: UserId,
    #[serde(rename = "a")]
    at: Nanos,
    /// Present when the reviewer revoked the access: their reason.
    #[serde(rename = "rv", default, skip_serializing_if = "Option::is_none")]
    revoked: Option<String>,
}

impl From<&Emergency> for EmergencyV2 {
    fn from(e: &Emergency) -> Self {
        EmergencyV2 {
            at: nanos(e.at),
            reason: e.reason.clone(),
            reviewers: e.reviewers.clone(),
            escalated: e.escalated,
            review: e.review.as_ref().map(|r| ReviewV2 {
                by: r.by.clone(),
                at: nanos(r.at),
                revoked: match &r.verdict {
                    Verdict::LooksRight => None,
                    Verdict::Revoke { reason } => Some(reason.clone()),
                },
            }),
            reminders: e.reminders,
        }
    }
}

impl From<EmergencyV2> for Emergency {
    fn from(e: EmergencyV2) -> Self {
        Emergency {
            at: instant(e.at),
            reason: e.reason,
            reviewers: e.reviewers,
            escalated: e.escalated,
            review: e.review.map(|r| Review {
                by: r.by,
                at: instant(r.at),
                verdict: match r.revoked {
                    None => Verdict::LooksRight,
                    Some(reason) => Verdict::Revoke { reason },
                },
            }),
            reminders: e.reminders,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StepV2 {
    #[serde(rename = "n")]
    name: String,
    #[serde(rename = "a")]
    approvers: BTreeSet<UserId>,
    /// 0: any, -1: all, n > 0: at least n.
    #[serde(rename = "q")]
    quorum: i64,
    #[serde(rename = "nc", default, skip_serializing_if = "Option::is_none")]
    notify_channel: Option<String>,
    #[serde(rename = "ok", default, skip_serializing_if = "BTreeSet::is_empty")]
    approvals: BTreeSet<UserId>,
    #[serde(rename = "et", default, skip_serializing_if = "BTreeSet::is_empty")]
    escalate_to: BTreeSet<UserId>,
    #[serde(rename = "ea", default, skip_serializing_if = "Option::is_none")]
    escalate_after: Option<u64>,
    #[serde(rename = "es", default, skip_serializing_if = "is_false")]
    escalated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t")]
enum StateV2 {
    #[serde(rename = "p")]
    Pending { s: usize },
    #[serde(rename = "a")]
    Approved {
        #[serde(default, skip_serializing_if = "is_false")]
        auto: bool,
    },
    #[serde(rename = "d")]
    Denied {
        by: UserId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<String>,
    },
    #[serde(rename = "c")]
    Cancelled {
        by: UserId,
        /// When; absent in requests cancelled before it was kept (an optional
        /// field, so a reader without it still reads the record).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<Nanos>,
    },
    #[serde(rename = "x")]
    Expired,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct DecisionV2 {
    #[serde(rename = "s")]
    step: usize,
    by: UserId,
    #[serde(rename = "ok")]
    approved: bool,
    #[serde(rename = "why", default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    at: Nanos,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct GrantV2 {
    #[serde(rename = "st")]
    state: GrantStateV2,
    #[serde(rename = "sb", default, skip_serializing_if = "Option::is_none")]
    superseded_by: Option<String>,
    #[serde(rename = "p")]
    provision: TaskV2,
    #[serde(rename = "dp", default, skip_serializing_if = "Option::is_none")]
    deprovision: Option<TaskV2>,
    #[serde(rename = "af", default, skip_serializing_if = "Option::is_none")]
    active_from: Option<Nanos>,
    #[serde(rename = "ex", default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<Nanos>,
    #[serde(rename = "en", default, skip_serializing_if = "Option::is_none")]
    ending: Option<EndingV2>,
    #[serde(rename = "es", default, skip_serializing_if = "Option::is_none")]
    ending_started_at: Option<Nanos>,
    #[serde(rename = "ed", default, skip_serializing_if = "Option::is_none")]
    ended_at: Option<Nanos>,
    #[serde(rename = "rm", default, skip_serializing_if = "is_false")]
    expiry_reminded: bool,
    #[serde(rename = "co", default, skip_serializing_if = "Option::is_none")]
    continues: Option<String>,
}

/// A grant's state; `x` (superseded) names its successor in `sb`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum GrantStateV2 {
    #[serde(rename = "p")]
    Provisioning,
    #[serde(rename = "a")]
    Active,
    #[serde(rename = "d")]
    Deprovisioning,
    #[serde(rename = "r")]
    Revoked,
    #[serde(rename = "f")]
    Failed,
    #[serde(rename = "x")]
    Superseded,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum TaskKindV2 {
    #[serde(rename = "g")]
    Grant,
    #[serde(rename = "r")]
    Revoke,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t")]
enum EndingV2 {
    #[serde(rename = "x")]
    Expired { due: Nanos },
    #[serde(rename = "r")]
    Revoked { by: UserId, why: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TaskV2 {
    #[serde(rename = "k")]
    kind: TaskKindV2,
    /// People who work it by hand; absent for an automatic provisioner.
    #[serde(rename = "as", default, skip_serializing_if = "Option::is_none")]
    assignees: Option<BTreeSet<UserId>>,
    #[serde(rename = "af", default, skip_serializing_if = "Option::is_none")]
    after_failure: Option<String>,
    /// The automatic provisioner's kind.
    #[serde(rename = "pv", default, skip_serializing_if = "Option::is_none")]
    provisioner: Option<String>,
    #[serde(rename = "s")]
    started_at: Nanos,
    #[serde(rename = "dn", default, skip_serializing_if = "Option::is_none")]
    done: Option<TaskDoneV2>,
    #[serde(rename = "rm", default, skip_serializing_if = "is_zero")]
    reminders: u32,
    #[serde(rename = "et", default, skip_serializing_if = "BTreeSet::is_empty")]
    escalated_to: BTreeSet<UserId>,
    #[serde(rename = "bl", default, skip_serializing_if = "Option::is_none")]
    blocked: Option<(UserId, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TaskDoneV2 {
    by: UserId,
    at: Nanos,
    #[serde(rename = "ok")]
    completed: bool,
    #[serde(rename = "dt", default, skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// Version 1 → 2. Version 1 was the domain type's own serde form, so it is read with
/// the domain type; the fixture test (`tests/fixtures/store-v1`) fails the day the
/// domain type stops reading it, and that day version 1 needs its own frozen type here.
pub fn upgrade_v1(data: serde_json::Value) -> Result<serde_json::Value, String> {
    let request: AccessRequest = serde_json::from_value(data)
        .map_err(|e| format!("a version-1 request does not read: {e}"))?;
    serde_json::to_value(RequestV2::from(&request))
        .map_err(|e| format!("a version-1 request does not convert: {e}"))
}

impl From<&AccessRequest> for RequestV2 {
    fn from(r: &AccessRequest) -> Self {
        RequestV2 {
            id: r.id.clone(),
            requester: r.requester.clone(),
            beneficiary: (r.beneficiary != r.requester).then(|| r.beneficiary.clone()),
            resource: r.resource.clone(),
            entitlement: r.entitlement.clone(),
            duration: match r.duration {
                AccessDuration::For(d) => Some(d.as_secs()),
                AccessDuration::Permanent => None,
            },
            justification: r.justification.clone(),
            created_at: nanos(r.created_at),
            decide_by: nanos(r.decide_by),
            steps: r.steps.iter().map(StepV2::from).collect(),
            state: StateV2::from(&r.state),
            decisions: r.decisions.iter().map(DecisionV2::from).collect(),
            grant: r.grant.as_ref().map(GrantV2::from),
            extends: r.extends.clone(),
            fields: r.fields.clone(),
            starts_at: r.starts_at.map(nanos),
            emergency: r.emergency.as_ref().map(EmergencyV2::from),
        }
    }
}

impl From<RequestV2> for AccessRequest {
    fn from(r: RequestV2) -> Self {
        AccessRequest {
            beneficiary: r.beneficiary.unwrap_or_else(|| r.requester.clone()),
            id: r.id,
            requester: r.requester,
            resource: r.resource,
            entitlement: r.entitlement,
            duration: match r.duration {
                Some(secs) => AccessDuration::For(Duration::from_secs(secs)),
                None => AccessDuration::Permanent,
            },
            justification: r.justification,
            created_at: instant(r.created_at),
            decide_by: instant(r.decide_by),
            steps: r.steps.into_iter().map(Step::from).collect(),
            state: r.state.into(),
            decisions: r.decisions.into_iter().map(Decision::from).collect(),
            grant: r.grant.map(Grant::from),
            extends: r.extends,
            fields: r.fields,
            starts_at: r.starts_at.map(instant),
            emergency: r.emergency.map(Emergency::from),
        }
    }
}

impl From<&Step> for StepV2 {
    fn from(s: &Step) -> Self {
        StepV2 {
            name: s.name.clone(),
            approvers: s.approvers.clone(),
            quorum: match s.quorum {
                Quorum::Any => 0,
                Quorum::All => -1,
                Quorum::AtLeast(n) => i64::try_from(n).unwrap_or(i64::MAX),
            },
            notify_channel: s.notify_channel.clone(),
            approvals: s.approvals.clone(),
            escalate_to: s.escalate_to.clone(),
            escalate_after: s.escalate_after.map(|d| d.as_secs()),
            escalated: s.escalated,
        }
    }
}

impl From<StepV2> for Step {
    fn from(s: StepV2) -> Self {
        let quorum = match s.quorum {
            0 => Quorum::Any,
            n if n < 0 => Quorum::All,
            n => Quorum::AtLeast(usize::try_from(n).unwrap_or(usize::MAX)),
        };
        let mut step = Step::new(s.name, s.approvers, quorum);
        step.notify_channel = s.notify_channel;
        step.approvals = s.approvals;
        step.escalate_to = s.escalate_to;
        step.escalate_after = s.escalate_after.map(Duration::from_secs);
        step.escalated = s.escalated;
        step
    }
}

impl From<&State> for StateV2 {
    fn from(s: &State) -> Self {
        match s {
            State::Pending { step } => StateV2::Pending { s: *step },
            State::Approved { auto } => StateV2::Approved { auto: *auto },
            State::Denied { by, reason } => StateV2::Denied {
                by: by.clone(),
                why: reason.clone(),
            },
            State::Cancelled { by, at } => StateV2::Cancelled {
                by: by.clone(),
                at: at.map(nanos),
            },
            State::Expired => StateV2::Expired,
        }
    }
}

impl From<StateV2> for State {
    fn from(s: StateV2) -> Self {
        match s {
            StateV2::Pending { s } => State::Pending { step: s },
            StateV2::Approved { auto } => State::Approved { auto },
            StateV2::Denied { by, why } => State::Denied { by, reason: why },
            StateV2::Cancelled { by, at } => State::Cancelled {
                by,
                at: at.map(instant),
            },
            StateV2::Expired => State::Expired,
        }
    }
}

impl From<&Decision> for DecisionV2 {
    fn from(d: &Decision) -> Self {
        DecisionV2 {
            step: d.step,
            by: d.by.clone(),
            approved: d.approved,
            reason: d.reason.clone(),
            at: nanos(d.at),
        }
    }
}

impl From<DecisionV2> for Decision {
    fn from(d: DecisionV2) -> Self {
        Decision {
            step: d.step,
            by: d.by,
            approved: d.approved,
            reason: d.reason,
            at: instant(d.at),
        }
    }
}

impl From<&Grant> for GrantV2 {
    fn from(g: &Grant) -> Self {
        let (state, superseded_by) = match &g.state {
            GrantState::Provisioning => (GrantStateV2::Provisioning, None),
            GrantState::Active => (GrantStateV2::Active, None),
            GrantState::Deprovisioning => (GrantStateV2::Deprovisioning, None),
            GrantState::Revoked => (GrantStateV2::Revoked, None),
            GrantState::Failed => (GrantStateV2::Failed, None),
            GrantState::Superseded { by } => (GrantStateV2::Superseded, Some(by.clone())),
        };
        GrantV2 {
            state,
            superseded_by,
            provision: TaskV2::from(&g.provision),
            deprovision: g.deprovision.as_ref().map(TaskV2::from),
            active_from: g.active_from.map(nanos),
            expires_at: g.expires_at.map(nanos),
            ending: g.ending.as_ref().map(|e| match e {
                Ending::Expired { due } => EndingV2::Expired { due: nanos(*due) },
                Ending::Revoked { by, reason } => EndingV2::Revoked {
                    by: by.clone(),
                    why: reason.clone(),
                },
            }),
            ending_started_at: g.ending_started_at.map(nanos),
            ended_at: g.ended_at.map(nanos),
            expiry_reminded: g.expiry_reminded,
            continues: g.continues.clone(),
        }
    }
}

impl From<GrantV2> for Grant {
    fn from(g: GrantV2) -> Self {
        let state = match g.state {
            GrantStateV2::Provisioning => GrantState::Provisioning,
            GrantStateV2::Active => GrantState::Active,
            GrantStateV2::Deprovisioning => GrantState::Deprovisioning,
            GrantStateV2::Revoked => GrantState::Revoked,
            GrantStateV2::Failed => GrantState::Failed,
            GrantStateV2::Superseded => GrantState::Superseded {
                by: g.superseded_by.unwrap_or_default(),
            },
        };
        Grant {
            state,
            provision: g.provision.into(),
            deprovision: g.deprovision.map(Task::from),
            active_from: g.active_from.map(instant),
            expires_at: g.expires_at.map(instant),
            ending: g.ending.map(|e| match e {
                EndingV2::Expired { due } => Ending::Expired { due: instant(due) },
                EndingV2::Revoked { by, why } => Ending::Revoked { by, reason: why },
            }),
            ending_started_at: g.ending_started_at.map(instant),
            ended_at: g.ended_at.map(instant),
            expiry_reminded: g.expiry_reminded,
            continues: g.continues,
        }
    }
}

impl From<&Task> for TaskV2 {
    fn from(t: &Task) -> Self {
        let (assignees, after_failure, provisioner) = match &t.via {
            Via::Manual {
                assignees,
                after_failure,
            } => (Some(assignees.clone()), after_failure.clone(), None),
            Via::Automatic { provisioner } => (None, None, Some(provisioner.clone())),
        };
        TaskV2 {
            kind: match t.kind {
                TaskKind::Grant => TaskKindV2::Grant,
                TaskKind::Revoke => TaskKindV2::Revoke,
            },
            assignees,
            after_failure,
            provisioner,
            started_at: nanos(t.started_at),
            done: t.done.as_ref().map(|d| TaskDoneV2 {
                by: d.by.clone(),
                at: nanos(d.at),
                completed: d.completed,
                detail: d.detail.clone(),
            }),
            reminders: t.reminders,
            escalated_to: t.escalated_to.clone(),
            blocked: t.blocked.as_ref().map(|b| (b.by.clone(), b.reason.clone())),
        }
    }
}

impl From<TaskV2> for Task {
    fn from(t: TaskV2) -> Self {
        let via = match (t.provisioner, t.assignees) {
            (Some(provisioner), _) => Via::Automatic { provisioner },
            (None, assignees) => Via::Manual {
                assignees: assignees.unwrap_or_default(),
                after_failure: t.after_failure,
            },
        };
        Task {
            kind: match t.kind {
                TaskKindV2::Grant => TaskKind::Grant,
                TaskKindV2::Revoke => TaskKind::Revoke,
            },
            via,
            started_at: instant(t.started_at),
            done: t.done.map(|d| TaskDone {
                by: d.by,
                at: instant(d.at),
                completed: d.completed,
                detail: d.detail,
            }),
            reminders: t.reminders,
            escalated_to: t.escalated_to,
            blocked: t.blocked.map(|(by, reason)| Blocked { by, reason }),
        }
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
