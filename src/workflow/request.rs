//! The access request: what was asked, its approval chain, and where it stands.
//!
//! Pure data. These are domain types; the store keeps its own versioned copies.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A Slack user id (`U…`), as the workflow sees it.
pub type UserId = String;

/// How many of a step's approvers must approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quorum {
    Any,
    All,
    AtLeast(usize),
}

impl Quorum {
    /// Approvals needed, given how many approvers the step resolved to.
    pub fn needed(self, approvers: usize) -> usize {
        match self {
            Quorum::Any => 1,
            Quorum::All => approvers.max(1),
            Quorum::AtLeast(n) => n.max(1),
        }
    }
}

/// One approval step, with its approvers resolved when the step started
/// (user groups expanded, resource owners named).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    pub approvers: BTreeSet<UserId>,
    pub quorum: Quorum,
    /// Post once in this channel instead of DMing each approver.
    pub notify_channel: Option<String>,
    pub approvals: BTreeSet<UserId>,
    /// The next tier, asked too when the step is still undecided after `escalate_after`.
    #[serde(default)]
    pub escalate_to: BTreeSet<UserId>,
    #[serde(default, with = "opt_secs")]
    pub escalate_after: Option<Duration>,
    #[serde(default)]
    pub escalated: bool,
}

impl Step {
    pub fn new(
        name: impl Into<String>,
        approvers: impl IntoIterator<Item = UserId>,
        quorum: Quorum,
    ) -> Self {
        Self {
            name: name.into(),
            approvers: approvers.into_iter().collect(),
            quorum,
            notify_channel: None,
            approvals: BTreeSet::new(),
            escalate_to: BTreeSet::new(),
            escalate_after: None,
            escalated: false,
        }
    }

    pub fn is_complete(&self) -> bool {
        self.approvals.len() >= self.quorum.needed(self.approvers.len())
    }

    /// Approvers who may act, the requester and beneficiary excluded.
    pub fn eligible(&self, request: &AccessRequest) -> BTreeSet<UserId> {
        self.approvers
            .iter()
            .filter(|a| !request.involves(a))
            .cloned()
            .collect()
    }
}

/// Where a request stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Waiting for step `step` (0-based).
    Pending {
        step: usize,
    },
    /// Every step approved (or auto-approved): provisioning comes next.
    Approved {
        auto: bool,
    },
    Denied {
        by: UserId,
        reason: Option<String>,
    },
    Cancelled {
        by: UserId,
        /// When; absent in records written before it was kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
    },
    /// The pending deadline passed without a decision.
    Expired,
}

impl State {
    pub fn is_open(&self) -> bool {
        matches!(self, State::Pending { .. })
    }

    pub fn label(&self) -> &'static str {
        match self {
            State::Pending { .. } => "pending",
            State::Approved { .. } => "approved",
            State::Denied { .. } => "denied",
            State::Cancelled { .. } => "cancelled",
            State::Expired => "expired",
        }
    }
}

/// A decision, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub step: usize,
    pub by: UserId,
    pub approved: bool,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// Access duration: the clock starts when access is granted, not when requested (or,
/// for scheduled access, at the window's start: [`super::schedule`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessDuration {
    For(#[serde(with = "secs")] Duration),
    Permanent,
}

mod opt_secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|s| s.map(Duration::from_secs))
    }
}

mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    /// Short id shown to people, e.g. `REQ-1042`.
    pub id: String,
    pub requester: UserId,
    /// Who gets the access (the requester, unless requested on someone's behalf).
    pub beneficiary: UserId,
    pub resource: String,
    pub entitlement: String,
    pub duration: AccessDuration,
    pub justification: String,
    pub created_at: DateTime<Utc>,
    /// A pending request expires at this time without a decision.
    pub decide_by: DateTime<Utc>,
    pub steps: Vec<Step>,
    pub state: State,
    pub decisions: Vec<Decision>,
    /// Access after approval: provisioning, the active grant and its end.
    #[serde(default)]
    pub grant: Option<super::grant::Grant>,
    /// The request whose access this one asks to extend (from the *Extend* button).
    #[serde(default)]
    pub extends: Option<String>,
    /// The request form's extra fields (catalog `fields`), by field id; only the
    /// filled ones.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// Scheduled access: when the access starts (`None`: as soon as it is approved).
    /// See [`super::schedule`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// Break-glass: taken without approvers, and its post-incident review. See
    /// [`super::break_glass`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency: Option<super::break_glass::Emergency>,
}

#[cfg(test)]
impl AccessRequest {
    /// A request for tests to start from: `REQ-7`, `U1` asking for themself, 4 h,
    /// created at `at`, pending with no steps; a test sets what it is about.
    pub(crate) fn example(at: DateTime<Utc>) -> AccessRequest {
        AccessRequest {
            id: "REQ-7".into(),
            requester: "U1".into(),
            beneficiary: "U1".into(),
            resource: "r".into(),
            entitlement: "e".into(),
            duration: AccessDuration::For(Duration::from_secs(4 * 3600)),
            justification: "j".into(),
            created_at: at,
            decide_by: at,
            steps: Vec::new(),
            state: State::Pending { step: 0 },
            decisions: Vec::new(),
            grant: None,
            extends: None,
            fields: BTreeMap::new(),
            starts_at: None,
            emergency: None,
        }
    }
}

impl AccessRequest {
    /// Where the request stands as people see it: the grant's state once approved.
    pub fn stage(&self) -> &'static str {
        match &self.grant {
            Some(grant) => grant.state.label(),
            None if super::schedule::waiting(self) => "scheduled",
            None => self.state.label(),
        }
    }

    /// True for the requester and the beneficiary: neither may approve.
    pub fn involves(&self, user: &str) -> bool {
        self.requester == user || self.beneficiary == user
    }

    pub fn current_step(&self) -> Option<(usize, &Step)> {
        match self.state {
            State::Pending { step } => self.steps.get(step).map(|s| (step, s)),
            _ => None,
        }
    }

    /// The decision that closed the request, if a person made one.
    pub fn closing_decision(&self) -> Option<&Decision> {
        match &self.state {
            State::Approved { auto: false } | State::Denied { .. } => self.decisions.last(),
            _ => None,
        }
    }
}
