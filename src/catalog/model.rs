//! The validated catalog's types: spaces, resources, entitlements, approval steps,
//! provisioners, and the id newtypes they are made of.
//!
//! Holding one of these means it passed validation (`validate`): ids are slugs,
//! Slack ids have the right shape, durations are bounded. Nothing here reads files
//! or decides who may do what; policies and the workflow do that.

use std::fmt;

use super::duration::{AccessDuration, MaxDuration, RequestedDuration, LADDER};
use super::fields::FormField;

/// Longest catalog id, so ids fit in Slack's option values and block ids with room to spare.
pub const MAX_ID_LEN: usize = 64;

/// A catalog id: a lowercase slug `[a-z0-9][a-z0-9-_]*`, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(String);

impl Id {
    pub fn parse(text: &str) -> Result<Id, String> {
        let mut chars = text.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok =
            chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !first_ok || !rest_ok {
            return Err(format!(
                "'{text}' is not an id: use lowercase letters, digits, '-' and '_', starting with a letter or digit"
            ));
        }
        if text.len() > MAX_ID_LEN {
            return Err(format!("'{text}' is longer than {MAX_ID_LEN} characters"));
        }
        Ok(Id(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of Slack object an id names; Slack ids start with a letter per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlackIdKind {
    User,
    UserGroup,
    Channel,
}

/// A Slack id of one kind: `U…`/`W…` users, `S…` user groups, `C…`/`G…` channels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlackId(String);

impl SlackId {
    pub fn parse(text: &str, kind: SlackIdKind) -> Result<SlackId, String> {
        let prefixes: &[char] = match kind {
            SlackIdKind::User => &['U', 'W'],
            SlackIdKind::UserGroup => &['S'],
            SlackIdKind::Channel => &['C', 'G'],
        };
        let well_formed = text.starts_with(prefixes)
            && (3..=32).contains(&text.len())
            && text
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if !well_formed {
            let example = match kind {
                SlackIdKind::User => "a Slack user id such as U0BOB00001",
                SlackIdKind::UserGroup => "a Slack user group id such as S0SECOPS01",
                SlackIdKind::Channel => "a Slack channel id such as C0SECURITY",
            };
            return Err(format!("'{text}' is not {example}"));
        }
        Ok(SlackId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SlackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A node of the space tree (as in Spacelift): access rules attach to spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Space {
    pub id: Id,
    pub name: String,
    /// `None` only for the root.
    pub parent: Option<Id>,
    /// Whether this space inherits its parent's access rules.
    pub inherit: bool,
    pub labels: Vec<String>,
}

/// Something access is granted to ("AWS production").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub id: Id,
    pub name: String,
    pub description: String,
    pub space: Id,
    /// Slack user ids; approvers when a step says `resource_owners = true`.
    pub owners: Vec<SlackId>,
    pub labels: Vec<String>,
    pub entitlements: Vec<Entitlement>,
}

/// One kind of access to a resource ("ReadOnly").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entitlement {
    pub id: Id,
    pub name: String,
    pub description: String,
    /// Offered first in the modal; never above `max_duration`.
    pub default_duration: AccessDuration,
    pub max_duration: MaxDuration,
    /// Whether "Permanent" may be requested; true whenever `max_duration` is permanent.
    pub permanent_allowed: bool,
    /// Slack user ids who hold this access outside c1bot (standing access); access
    /// reviews include them alongside the grants c1bot made.
    pub members: Vec<SlackId>,
    /// In order; empty means the request is granted only if policy auto-approves it.
    pub steps: Vec<ApprovalStep>,
    pub provisioner: Provisioner,
    /// Extra fields of the request form, in the order the modal shows them.
    pub fields: Vec<FormField>,
    /// The longest emergency (break-glass) access, where policy allows taking it
    /// (`break_glass`); never above `max_duration`.
    pub break_glass_max: AccessDuration,
}

/// A stage of approval: who may decide and how many must.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalStep {
    pub name: String,
    pub approvers: Approvers,
    pub require: Requirement,
    /// One post in this channel instead of a DM to each approver.
    pub notify_channel: Option<SlackId>,
    /// A next tier asked when the step is still undecided after a while.
    pub escalation: Option<Escalation>,
}

/// `escalate_after` + `escalate_to` of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub after: super::AccessDuration,
    pub to: Approvers,
}

/// Who may decide a step. Groups are resolved (`usergroups.users.list`) when the step starts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Approvers {
    pub users: Vec<SlackId>,
    pub groups: Vec<SlackId>,
    pub resource_owners: bool,
}

/// How many of a step's approvers must approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    Any,
    All,
    AtLeast(u32),
}

/// Who carries out a granted request: people (a task they mark done), or an
/// automatic provisioner with those people as the fallback when it keeps failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioner {
    pub assignees: Assignees,
    pub automatic: Option<Automatic>,
}

impl Provisioner {
    pub fn manual(assignees: Assignees) -> Self {
        Self {
            assignees,
            automatic: None,
        }
    }

    pub fn is_manual(&self) -> bool {
        self.automatic.is_none()
    }
}

/// An automatic provisioner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Automatic {
    Webhook(WebhookSpec),
    Command(CommandSpec),
}

impl Automatic {
    /// `webhook` or `command`, as written in the catalog.
    pub fn kind(&self) -> &'static str {
        match self {
            Automatic::Webhook(_) => "webhook",
            Automatic::Command(_) => "command",
        }
    }

    /// Per-attempt timeout, retries after the first attempt, and the first backoff.
    pub fn timing(&self) -> (std::time::Duration, u32, std::time::Duration) {
        match self {
            Automatic::Webhook(w) => (w.timeout, w.retries, w.retry_backoff),
            Automatic::Command(c) => (c.timeout, c.retries, c.retry_backoff),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSpec {
    pub url: String,
    /// The environment variable holding the HMAC key.
    pub secret_env: String,
    pub timeout: std::time::Duration,
    pub retries: u32,
    pub retry_backoff: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub program: String,
    pub args: Vec<String>,
    pub timeout: std::time::Duration,
    pub retries: u32,
    pub retry_backoff: std::time::Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignees {
    pub users: Vec<SlackId>,
    pub groups: Vec<SlackId>,
}

impl Entitlement {
    /// The entitlement's maximum, tightened by a policy's `max_duration` if it set one.
    pub fn effective_max(&self, policy_max: Option<AccessDuration>) -> MaxDuration {
        match policy_max {
            Some(cap) => self.max_duration.min(MaxDuration::Limited(cap)),
            None => self.max_duration,
        }
    }

    /// The durations a requester may pick, shortest first: common steps up to the
    /// effective maximum, plus the default and the maximum themselves, plus
    /// "Permanent" where allowed and no policy caps it.
    pub fn duration_choices(&self, policy_max: Option<AccessDuration>) -> Vec<RequestedDuration> {
        let max = self.effective_max(policy_max);
        let mut secs: Vec<u64> = LADDER.to_vec();
        secs.push(self.default_duration.as_secs());
        if let MaxDuration::Limited(limit) = max {
            secs.push(limit.as_secs());
        }
        secs.sort_unstable();
        secs.dedup();
        let mut choices: Vec<RequestedDuration> = secs
            .into_iter()
            .filter_map(AccessDuration::from_secs)
            .map(RequestedDuration::For)
            .filter(|d| max.allows(*d))
            .collect();
        if self.permanent_allowed && max == MaxDuration::Permanent {
            choices.push(RequestedDuration::Permanent);
        }
        choices
    }

    /// The pre-selected duration: the default, or the maximum if a policy lowered it.
    pub fn initial_duration(&self, policy_max: Option<AccessDuration>) -> RequestedDuration {
        match self.effective_max(policy_max) {
            MaxDuration::Limited(max) => RequestedDuration::For(self.default_duration.min(max)),
            MaxDuration::Permanent => RequestedDuration::For(self.default_duration),
        }
    }
}
