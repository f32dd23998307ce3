//! Starting provisioning of an approved request, and who does the work: a grant
//! transition rendered into its messages and timers, the route that provisions or
//! removes access (a provisioner, assignees, or the resource's owners), and an
//! extension taking over access still active.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::app::grants::{
    TIMER_GRANT_EXPIRE, TIMER_GRANT_REMIND, TIMER_PROVISIONER, TIMER_REVOKE_OVERDUE,
};
use crate::app::shared::deactivated::Screened;
use crate::app::shared::grant_notify::GrantNotifier;
use crate::app::shared::services::Services;
use crate::catalog::{Entitlement, Resource};
use crate::store::{AuditEvent, Change, OutboxMessage, Table, TimerEntry, Versioned};
use crate::templates::RenderError;
use crate::workflow::grant::{self, GrantAction, GrantEffect, TimerKind, Via};
use crate::workflow::request::AccessRequest;

/// The store timer for a scheduled grant effect.
pub fn timer_entry(request_id: &str, timer: TimerKind) -> TimerEntry {
    let kind = match timer {
        TimerKind::Expiry => TIMER_GRANT_EXPIRE,
        TimerKind::ExpiryReminder => TIMER_GRANT_REMIND,
        TimerKind::RevokeOverdue => TIMER_REVOKE_OVERDUE,
        TimerKind::Provisioner => TIMER_PROVISIONER,
    };
    TimerEntry::new(kind, request_id.to_owned())
}

/// A grant transition rendered: the next request, its messages and its timers.
pub struct Rendered {
    pub request: AccessRequest,
    pub messages: Vec<OutboxMessage>,
    pub timers: Vec<(DateTime<Utc>, TimerEntry)>,
}

impl Rendered {
    /// Adds the record, messages and timers to `change`.
    pub fn into_change(self, mut change: Change) -> Change {
        change = change.put(Table::Requests, self.request.id.clone(), &self.request);
        for message in self.messages {
            change = change.outbox(message);
        }
        for (due, timer) in self.timers {
            change = change.timer(due, timer);
        }
        change
    }
}

/// Renders `effects` of a grant transition on `request`.
pub fn render(
    services: &Services,
    request: AccessRequest,
    effects: &[GrantEffect],
) -> Result<Rendered, RenderError> {
    let names = services.names(&request);
    let messages = GrantNotifier {
        templates: services.templates(),
        names: &names,
    }
    .messages(&request, effects)?;
    let mut messages = messages;
    messages.extend(services.activity_line(&request, false));
    let mut timers: Vec<_> = effects
        .iter()
        .filter_map(|effect| match effect {
            GrantEffect::Schedule { timer, at } => Some((*at, timer_entry(&request.id, *timer))),
            _ => None,
        })
        .collect();
    // Access that ends closes its review items, in a follow-up that cannot be lost.
    timers.extend(crate::app::shared::timer_entries::access_ended(&request));
    Ok(Rendered {
        request,
        messages,
        timers,
    })
}

/// Who works a task for `entitlement` of `resource`: its automatic provisioner if
/// it has one, else its assignees (user groups expanded now) without the
/// deactivated, or the resource's owners if none is left; the screening is returned
/// for the audit.
pub async fn via_for(
    services: &Services,
    resource: &Resource,
    entitlement: &Entitlement,
) -> anyhow::Result<(Via, Screened)> {
    if let Some(automatic) = &entitlement.provisioner.automatic {
        let via = Via::Automatic {
            provisioner: automatic.kind().to_owned(),
        };
        return Ok((via, Screened::default()));
    }
    let screened = services.active_assignees(resource, entitlement).await?;
    let via = Via::Manual {
        assignees: screened.people.clone(),
        after_failure: None,
    };
    Ok((via, screened))
}

/// Who removes `request`'s access, without asking Slack: the entitlement's
/// automatic provisioner; else its assignees, with user groups read from the
/// directory's cache when fresh and otherwise the people who were assignees when
/// the grant started (stored with it). Expiry and revoke therefore never wait on
/// Slack, and an outage at the due time cannot hold a revocation back.
pub fn removal_via(services: &Services, request: &AccessRequest) -> Via {
    let stored = request
        .grant
        .as_ref()
        .and_then(|grant| match &grant.provision.via {
            Via::Manual { assignees, .. } => Some(assignees.clone()),
            Via::Automatic { .. } => None,
        });
    let Some((_, entitlement)) = services.target(request) else {
        return Via::Manual {
            assignees: stored.unwrap_or_default(),
            after_failure: None,
        };
    };
    if let Some(automatic) = &entitlement.provisioner.automatic {
        return Via::Automatic {
            provisioner: automatic.kind().to_owned(),
        };
    }
    let assignees = &entitlement.provisioner.assignees;
    let mut people: BTreeSet<String> = assignees
        .users
        .iter()
        .map(|u| u.as_str().to_owned())
        .collect();
    let mut complete = true;
    for group in &assignees.groups {
        match services
            .directory
            .cached_group(group.as_str(), crate::app::shared::directory::GROUP_TTL)
        {
            Some(members) => people.extend(members),
            None => complete = false,
        }
    }
    let assignees = match (complete, stored) {
        (true, _) | (false, None) => people,
        (false, Some(stored)) => stored.union(&people).cloned().collect(),
    };
    Via::Manual {
        assignees,
        after_failure: None,
    }
}

/// The fallback assignees of an entitlement (for an automatic provisioner that failed).
pub async fn fallback_for(services: &Services, request: &AccessRequest) -> BTreeSet<String> {
    match services.target(request) {
        Some((resource, entitlement)) => services
            .active_assignees(resource, entitlement)
            .await
            .map(|screened| screened.people)
            .unwrap_or_default(),
        None => BTreeSet::new(),
    }
}

/// The resource's owners, who are asked when a revoke is overdue or impossible.
pub fn owners_of(services: &Services, request: &AccessRequest) -> BTreeSet<String> {
    services
        .target(request)
        .map(|(resource, _)| {
            resource
                .owners
                .iter()
                .map(|o| o.as_str().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// How provisioning of a just-approved request begins, resolved before the commit
/// (the commit itself must not wait on Slack).
pub struct StartPlan {
    pub via: Via,
    /// Deactivated assignees left out of `via`, audited with the start.
    pub screened: Screened,
    /// The active request an approved extension takes over, with its revision.
    pub previous: Option<Versioned<AccessRequest>>,
}

pub async fn plan_start(services: &Services, request: &AccessRequest) -> anyhow::Result<StartPlan> {
    let previous = match &request.extends {
        Some(id) => services.load_request(id).await?,
        None => None,
    };
    let (via, screened) = match services.target(request) {
        Some((resource, entitlement)) => via_for(services, resource, entitlement).await?,
        None => {
            let via = Via::Manual {
                assignees: BTreeSet::new(),
                after_failure: None,
            };
            (via, Screened::default())
        }
    };
    Ok(StartPlan {
        via,
        screened,
        previous,
    })
}

/// The approved `request` (written by this change) with its provisioning started,
/// added to `change`: an extension of access still active takes it over without a
/// new task; anything else gets its task (or its provisioner run).
pub fn start(
    services: &Services,
    request: &AccessRequest,
    plan: &StartPlan,
    now: DateTime<Utc>,
    change: Change,
) -> Result<Change, RenderError> {
    let timing = services.timing();
    if let Some(previous) = &plan.previous {
        if let Some((superseded, extension)) = grant::extend(&previous.data, request, now, timing) {
            let change = change
                .expect(
                    Table::Requests,
                    previous.data.id.clone(),
                    Some(previous.rev),
                )
                .put(Table::Requests, previous.data.id.clone(), &superseded)
                .audit(AuditEvent {
                    actor: "c1bot".into(),
                    action: "grant.extended".into(),
                    subject: previous.data.id.clone(),
                    detail: json!({ "by": request.id }),
                });
            let expires_at = extension.request.grant.as_ref().and_then(|g| g.expires_at);
            return Ok(render(services, extension.request, &extension.effects)?
                .into_change(change)
                .audit(AuditEvent {
                    actor: "c1bot".into(),
                    action: "grant.active".into(),
                    subject: request.id.clone(),
                    detail: json!({ "continues": previous.data.id, "expires_at": expires_at }),
                }));
        }
    }
    match grant::apply(
        request,
        GrantAction::Start {
            via: plan.via.clone(),
        },
        now,
        timing,
    ) {
        Ok(transition) => {
            let via = plan.via.clone();
            let mut change = render(services, transition.request, &transition.effects)?
                .into_change(change)
                .audit(AuditEvent {
                    actor: "c1bot".into(),
                    action: "grant.provisioning".into(),
                    subject: request.id.clone(),
                    detail: json!({ "via": via }),
                });
            for event in plan.screened.audit(&request.id, "assignee", "provisioning") {
                change = change.audit(event);
            }
            Ok(change)
        }
        // Not approved, or already started: the request as it is.
        Err(_) => Ok(change.put(Table::Requests, request.id.clone(), request)),
    }
}
