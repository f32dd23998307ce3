//! What handlers ask [`Services`] before they act: policy's decision on a person's
//! action, the catalog entry and names of a request, and the approvers and assignees
//! resolved now (user groups expanded, the deactivated screened out).

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use crate::app::shared::directory::Person;
use crate::app::shared::notify::Names;
use crate::app::shared::policy_input::{self, Origin};
use crate::catalog::{ApprovalStep, Entitlement, Requirement, Resource};
use crate::policy::{Action, Decision, NamedId};
use crate::workflow::request::{AccessRequest, Quorum, Step};

use super::Services;

impl Services {
    pub fn origin(&self, channel_id: &str) -> Origin {
        Origin {
            command: self.command.clone(),
            channel: NamedId {
                id: channel_id.to_owned(),
                name: String::new(),
            },
            team: self.team.clone(),
        }
    }

    /// Asks policy about `person` doing `action`.
    pub fn decide(
        &self,
        action: Action,
        person: &Person,
        channel_id: &str,
        target: Option<(&Resource, &Entitlement)>,
        request: Option<&AccessRequest>,
    ) -> Decision {
        let input = policy_input::build(
            action,
            person,
            &self.origin(channel_id),
            &self.catalog,
            target,
            request,
            SystemTime::from(self.now()),
        );
        self.policies.get().decide(&input)
    }

    /// [`Services::decide`] for a request being submitted: policy sees the form's
    /// extra fields as `input.request.fields` and, for scheduled access, when it
    /// starts as `input.request.starts_at_ns`.
    pub fn decide_submission(
        &self,
        person: &Person,
        channel_id: &str,
        target: (&Resource, &Entitlement),
        fields: &BTreeMap<String, String>,
        starts_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Decision {
        let mut input = policy_input::build(
            Action::Request,
            person,
            &self.origin(channel_id),
            &self.catalog,
            Some(target),
            None,
            SystemTime::from(self.now()),
        );
        input.request.fields = fields.clone();
        input.request.starts_at_ns = policy_input::starts_at_ns(starts_at);
        self.policies.get().decide(&input)
    }

    /// The catalog entry a request is about.
    pub fn target(&self, request: &AccessRequest) -> Option<(&Resource, &Entitlement)> {
        let resource = self.catalog.resource(&request.resource)?;
        let entitlement = resource
            .entitlements
            .iter()
            .find(|e| e.id.as_str() == request.entitlement)?;
        Some((resource, entitlement))
    }

    pub fn names(&self, request: &AccessRequest) -> Names {
        match self.target(request) {
            Some((resource, entitlement)) => Names {
                resource: resource.name.clone(),
                entitlement: entitlement.name.clone(),
                space: self
                    .catalog
                    .space(resource.space.as_str())
                    .map(|s| s.name.clone())
                    .unwrap_or_else(|| resource.space.as_str().to_owned()),
                form_fields: crate::app::shared::request_fields::card_lines(
                    &request.fields,
                    &entitlement.fields,
                ),
            },
            // Removed from the catalog since: show the ids rather than fail.
            None => Names {
                resource: request.resource.clone(),
                entitlement: request.entitlement.clone(),
                space: String::new(),
                form_fields: crate::app::shared::request_fields::card_lines(&request.fields, &[]),
            },
        }
    }

    /// A catalog step with its approvers resolved now: named users, user-group
    /// members (asked from Slack) and, where configured, the resource's owners;
    /// deactivated people left out, and the owners added when too few are left to
    /// meet the step's rule (see [`crate::app::shared::deactivated`]). The screening is returned
    /// for the audit.
    pub async fn resolve_step(
        &self,
        step: &ApprovalStep,
        resource: &Resource,
    ) -> anyhow::Result<(Step, crate::app::shared::deactivated::Screened)> {
        let mut approvers: BTreeSet<String> = step
            .approvers
            .users
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect();
        for group in &step.approvers.groups {
            approvers.extend(self.directory.group_members(group.as_str()).await?);
        }
        if step.approvers.resource_owners {
            approvers.extend(resource.owners.iter().map(|o| o.as_str().to_owned()));
        }
        let quorum = match step.require {
            Requirement::Any => Quorum::Any,
            Requirement::All => Quorum::All,
            Requirement::AtLeast(n) => Quorum::AtLeast(n as usize),
        };
        let needed = match quorum {
            Quorum::AtLeast(n) => n,
            Quorum::Any | Quorum::All => 1,
        };
        let owners = self.owners(resource);
        let screened =
            crate::app::shared::deactivated::screen(&self.directory, approvers, needed, &owners)
                .await;
        let mut resolved = Step::new(step.name.clone(), screened.people.clone(), quorum);
        resolved.notify_channel = step.notify_channel.as_ref().map(|c| c.as_str().to_owned());
        if let Some(escalation) = &step.escalation {
            let mut tier: BTreeSet<String> = escalation
                .to
                .users
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect();
            for group in &escalation.to.groups {
                tier.extend(self.directory.group_members(group.as_str()).await?);
            }
            if escalation.to.resource_owners {
                tier.extend(resource.owners.iter().map(|o| o.as_str().to_owned()));
            }
            let tier = crate::app::shared::deactivated::screen(&self.directory, tier, 0, &[]).await;
            resolved.escalate_to = tier.people;
            resolved.escalate_after = Some(escalation.after.as_duration());
        }
        Ok((resolved, screened))
    }

    fn owners(&self, resource: &Resource) -> Vec<String> {
        resource
            .owners
            .iter()
            .map(|o| o.as_str().to_owned())
            .collect()
    }

    /// Who carries out provisioning for `entitlement` of `resource`: its assignees
    /// without the deactivated, or the resource's active owners if none is left.
    pub async fn active_assignees(
        &self,
        resource: &Resource,
        entitlement: &Entitlement,
    ) -> anyhow::Result<crate::app::shared::deactivated::Screened> {
        let assignees = self.assignees(entitlement).await?.into_iter().collect();
        let owners = self.owners(resource);
        Ok(crate::app::shared::deactivated::screen(&self.directory, assignees, 1, &owners).await)
    }

    /// Who carries out provisioning for an entitlement (groups expanded).
    pub async fn assignees(&self, entitlement: &Entitlement) -> anyhow::Result<Vec<String>> {
        let assignees = &entitlement.provisioner.assignees;
        let mut people: BTreeSet<String> = assignees
            .users
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect();
        for group in &assignees.groups {
            people.extend(self.directory.group_members(group.as_str()).await?);
        }
        Ok(people.into_iter().collect())
    }
}
