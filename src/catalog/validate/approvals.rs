//! An entitlement's approval steps: approvers (people or groups), the quorum they
//! can satisfy, escalation, and the step's requirement.

use std::collections::HashSet;
use std::ops::Range;

use toml::Spanned;

use super::Checker;
use crate::catalog::duration::AccessDuration;
use crate::catalog::load::{RawRequire, RawStep};
use crate::catalog::model::{
    ApprovalStep, Approvers, Escalation, Requirement, SlackId, SlackIdKind,
};

impl Checker<'_> {
    pub(super) fn step(
        &mut self,
        raw: &RawStep,
        number: usize,
        item: &str,
        owners: &[SlackId],
        fallback: Option<Range<usize>>,
    ) -> Option<ApprovalStep> {
        let span = raw
            .approvers
            .as_ref()
            .map(Spanned::span)
            .or(fallback.clone());
        let approvers = match &raw.approvers {
            Some(a) => Approvers {
                users: self.slack_ids(
                    &a.get_ref().users,
                    SlackIdKind::User,
                    span.clone(),
                    item,
                    "approvers.users",
                ),
                groups: self.slack_ids(
                    &a.get_ref().groups,
                    SlackIdKind::UserGroup,
                    span.clone(),
                    item,
                    "approvers.groups",
                ),
                resource_owners: a.get_ref().resource_owners,
            },
            None => Approvers::default(),
        };
        let owners_count = if approvers.resource_owners {
            owners.len()
        } else {
            0
        };
        if approvers.users.is_empty() && approvers.groups.is_empty() && owners_count == 0 {
            let why = if approvers.resource_owners {
                "has no approvers: resource_owners = true but the resource has no owners"
            } else {
                "has no approvers: name users, groups, or set resource_owners = true"
            };
            self.problem(span.clone(), item, "approvers", why);
        }
        let require = self.require(raw, &approvers, owners, item, span.clone().or(fallback));
        let notify_channel = raw.notify_channel.as_ref().and_then(|c| {
            SlackId::parse(c.get_ref(), SlackIdKind::Channel)
                .map_err(|m| self.problem(Some(c.span()), item, "notify_channel", m))
                .ok()
        });
        let escalation = self.escalation(raw, item, span.clone());
        Some(ApprovalStep {
            name: raw.name.clone().unwrap_or_else(|| format!("Step {number}")),
            approvers,
            require: require?,
            notify_channel,
            escalation,
        })
    }

    /// `escalate_to` and `escalate_after` come together, and name someone.
    pub(super) fn escalation(
        &mut self,
        raw: &RawStep,
        item: &str,
        span: Option<Range<usize>>,
    ) -> Option<Escalation> {
        match (&raw.escalate_to, &raw.escalate_after) {
            (None, None) => None,
            (Some(to), None) => {
                self.problem(
                    Some(to.span()),
                    item,
                    "escalate_after",
                    "is needed with escalate_to: say how long the step may wait, e.g. \"2h\"",
                );
                None
            }
            (None, Some(after)) => {
                self.problem(
                    Some(after.span()),
                    item,
                    "escalate_to",
                    "is needed with escalate_after: name the users or groups to ask next",
                );
                None
            }
            (Some(to), Some(after)) => {
                let when = AccessDuration::parse(after.get_ref())
                    .map_err(|e| {
                        self.problem(Some(after.span()), item, "escalate_after", e.to_string())
                    })
                    .ok();
                let raw_to = to.get_ref();
                let approvers = Approvers {
                    users: self.slack_ids(
                        &raw_to.users,
                        SlackIdKind::User,
                        Some(to.span()),
                        item,
                        "escalate_to.users",
                    ),
                    groups: self.slack_ids(
                        &raw_to.groups,
                        SlackIdKind::UserGroup,
                        Some(to.span()),
                        item,
                        "escalate_to.groups",
                    ),
                    resource_owners: raw_to.resource_owners,
                };
                if approvers.users.is_empty()
                    && approvers.groups.is_empty()
                    && !approvers.resource_owners
                {
                    self.problem(
                        span.or(Some(to.span())),
                        item,
                        "escalate_to",
                        "names nobody: list users, groups, or set resource_owners = true",
                    );
                    return None;
                }
                Some(Escalation {
                    after: when?,
                    to: approvers,
                })
            }
        }
    }

    pub(super) fn require(
        &mut self,
        raw: &RawStep,
        approvers: &Approvers,
        owners: &[SlackId],
        item: &str,
        fallback: Option<Range<usize>>,
    ) -> Option<Requirement> {
        let Some(require) = &raw.require else {
            return Some(Requirement::Any);
        };
        let span = Some(require.span()).or(fallback);
        match require.get_ref() {
            RawRequire::Word(word) if word == "any" => Some(Requirement::Any),
            RawRequire::Word(word) if word == "all" => Some(Requirement::All),
            RawRequire::Word(word) => {
                self.problem(
                    span,
                    item,
                    "require",
                    format!(
                        "'{word}' is not a requirement: use \"any\", \"all\" or {{ at_least = N }}"
                    ),
                );
                None
            }
            RawRequire::AtLeast(n) => {
                let Some(n) = u32::try_from(n.at_least).ok().filter(|n| *n > 0) else {
                    self.problem(
                        span,
                        item,
                        "require.at_least",
                        format!("must be 1 or more, got {}", n.at_least),
                    );
                    return None;
                };
                // Groups are only known at run time; without them the count is exact.
                if approvers.groups.is_empty() {
                    let mut named: HashSet<&SlackId> = approvers.users.iter().collect();
                    if approvers.resource_owners {
                        named.extend(owners);
                    }
                    if named.len() < n as usize {
                        self.problem(
                            span,
                            item,
                            "require.at_least",
                            format!(
                                "needs {n} approvals but only {} approver(s) are named",
                                named.len()
                            ),
                        );
                        return None;
                    }
                }
                Some(Requirement::AtLeast(n))
            }
        }
    }
}
