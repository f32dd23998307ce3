//! The shared handles every handler uses, and the small lookups they share: a
//! person's profile, a policy decision, catalog names, resolved approvers.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use chrono::Utc;
use serde_json::json;

use crate::app::shared::directory::{Directory, Person};
use crate::app::shared::notify::{Names, Notifier};
use crate::app::shared::policy_input::{self, Origin};
use crate::catalog::{ApprovalStep, Catalog, Entitlement, Requirement, Resource};
use crate::clock::Clock;
use crate::config::{GrantsConfig, RequestsConfig};
use crate::policy::{Action, Decision, NamedId, Policies};
use crate::slack::web::{methods, WebApi};
use crate::store::{Store, Table};
use crate::templates::Templates;
use crate::workflow::request::{AccessRequest, Quorum, Step};

/// A value replaced whole at run time (policies and templates on reload). Readers take
/// a cheap snapshot, so one decision never sees half of an old and half of a new set.
#[derive(Clone)]
pub struct Shared<T>(std::sync::Arc<std::sync::RwLock<T>>);

impl<T: Clone> Shared<T> {
    pub fn new(value: T) -> Self {
        Self(std::sync::Arc::new(std::sync::RwLock::new(value)))
    }

    pub fn get(&self) -> T {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set(&self, value: T) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = value;
    }
}

/// People who opened App Home since start-up: the only ones whose Home is worth
/// republishing when something changes. Bounded: past the cap it starts over, and
/// the next `app_home_opened` adds people back.
#[derive(Clone, Default)]
pub struct HomeViewers(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

impl HomeViewers {
    const CAP: usize = 50_000;

    pub fn insert(&self, user: &str) {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if set.len() >= Self::CAP {
            set.clear();
        }
        set.insert(user.to_owned());
    }

    pub fn contains(&self, user: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(user)
    }
}

#[derive(Clone)]
pub struct Services {
    pub web: WebApi,
    pub store: Store,
    pub catalog: Catalog,
    /// Swapped on SIGHUP; read a snapshot with [`Services::templates`].
    pub templates: Shared<Templates>,
    /// Swapped on SIGHUP.
    pub policies: Shared<Policies>,
    pub directory: Directory,
    /// The slash command's name, e.g. `/c1`.
    pub command: String,
    pub team: NamedId,
    pub requests: RequestsConfig,
    pub grants: GrantsConfig,
    /// Every time c1bot stamps or compares goes through this clock.
    pub clock: Clock,
    pub home_viewers: HomeViewers,
    /// Homes owed a publish, coalesced per person.
    pub homes: crate::app::shared::home_refresh::HomeQueue,
    /// What follows a commit, subscribed to once (see [`crate::app::shared::commit_path`]).
    pub consequences: crate::app::shared::consequences::Consequences,
    /// Runs the entitlements' webhooks and commands.
    pub provisioners: crate::provisioner::Runner,
    /// Provisioner runs under way in this process.
    pub jobs: crate::app::shared::handles::Jobs,
    pub activity: crate::config::ActivityConfig,
    /// `[break_glass]`: the security channel and the review's reminders.
    pub break_glass: crate::config::BreakGlassConfig,
    pub metrics: crate::metrics::Metrics,
    /// Journal rows being processed in this process.
    pub intake: crate::app::shared::journaled::InFlight,
    /// Background work started by handlers (App Home publishes, provisioner runs,
    /// modal opens): shutdown waits for it, bounded.
    pub tasks: tokio_util::task::TaskTracker,
    /// Timers whose firing is failing now (the `c1bot_timers_failing` gauge).
    pub failing_timers: crate::app::shared::handles::FailingTimers,
    /// Marked by the timer loop while a burst of firings commits; the outbox sender
    /// yields to it.
    pub burst: crate::burst::Burst,
    /// Faults injected for drills (`C1BOT_FAULTS`).
    pub faults: InjectedFaults,
    /// Which features are on, and which wait for a scope.
    pub features: crate::features::Availability,
    /// Seals step-up secrets; `None` without `C1BOT_STEP_UP_KEY`.
    pub step_up: Option<crate::app::shared::seal::Sealer>,
}

/// The faults `C1BOT_FAULTS` asked for, counted down as they happen.
#[derive(Clone, Default)]
pub struct InjectedFaults {
    timer_loop_panics: std::sync::Arc<std::sync::atomic::AtomicU32>,
    prepare_ahead_failures: std::sync::Arc<std::sync::atomic::AtomicU32>,
    /// How long a journaled envelope waits between its ack and its processing.
    pub hold_after_ack: std::time::Duration,
}

impl InjectedFaults {
    pub fn new(faults: crate::config::Faults) -> Self {
        Self {
            timer_loop_panics: std::sync::Arc::new(std::sync::atomic::AtomicU32::new(
                faults.timer_loop_panics,
            )),
            prepare_ahead_failures: std::sync::Arc::new(std::sync::atomic::AtomicU32::new(
                faults.prepare_ahead_failures,
            )),
            hold_after_ack: std::time::Duration::from_secs(faults.hold_after_ack_secs.into()),
        }
    }

    /// Whether this timer pass must panic (one fewer left).
    pub fn take_timer_loop_panic(&self) -> bool {
        take_one(&self.timer_loop_panics)
    }

    /// Whether this round of preparing expiries ahead must fail (one fewer left).
    pub fn take_prepare_ahead_failure(&self) -> bool {
        take_one(&self.prepare_ahead_failures)
    }
}

/// Takes one from `left` if any is left.
fn take_one(left: &std::sync::atomic::AtomicU32) -> bool {
    use std::sync::atomic::Ordering;
    left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

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

    pub fn notifier<'a>(&'a self, names: &'a Names) -> Notifier<'a> {
        Notifier {
            templates: self.templates(),
            names,
            provisioning: None,
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

    pub async fn load_request(
        &self,
        id: &str,
    ) -> anyhow::Result<Option<crate::store::Versioned<AccessRequest>>> {
        Ok(self.store.get::<AccessRequest>(Table::Requests, id).await?)
    }

    /// A line only the person who clicked sees, where they clicked: through the
    /// click's `response_url` (see [`Sender::tell`](crate::app::shared::journaled::Sender::tell)),
    /// sent through the outbox so it is retried and, once the URL has expired,
    /// delivered to their DM. It tells; it decides nothing.
    pub fn answer(&self, to: &crate::app::shared::journaled::Sender, text: &str) {
        let change = crate::store::Change::new()
            .at(self.now())
            .outbox(to.tell(text));
        let store = self.store.clone();
        self.tasks.spawn(async move {
            if let Err(error) = store.commit(change).await {
                tracing::warn!(%error, "could not queue an answer to a click");
            }
        });
    }

    /// An ephemeral line to one person, best effort (it tells, it decides nothing).
    pub fn tell(&self, channel: &str, user: &str, text: String) {
        let web = self.web.clone();
        let args = json!({ "channel": channel, "user": user, "text": text });
        self.tasks.spawn(async move {
            if let Err(error) = web.call(methods::CHAT_POST_EPHEMERAL, args).await {
                tracing::warn!(%error, "could not show an ephemeral message");
            }
        });
    }

    /// Opens a modal for the person whose click or command gave `trigger_id`
    /// (call it first: the trigger expires 3 s after the click).
    pub async fn open_view(&self, trigger_id: &str, view: serde_json::Value, what: &str) {
        let args = json!({ "trigger_id": trigger_id, "view": view });
        if let Err(error) = self.web.call(methods::VIEWS_OPEN, args).await {
            tracing::warn!(%error, what, "could not open a modal");
        }
    }

    /// A refused attempt is audited too: who tried what (`<action>.refused`) on which
    /// request, and why it was refused. Best effort: a failure is logged.
    pub async fn audit_refusal(&self, user: &str, request_id: &str, action: &str, why: String) {
        let change = crate::store::Change::new()
            .at(self.now())
            .audit(crate::store::AuditEvent {
                actor: user.to_owned(),
                action: format!("{action}.refused"),
                subject: request_id.to_owned(),
                detail: json!({ "why": why }),
            });
        if let Err(error) = self.store.commit(change).await {
            tracing::error!(%error, action, "cannot audit a refused action");
        }
    }

    /// The activity channel's line for `request` (a post when `first`), if configured.
    pub fn activity_line(
        &self,
        request: &AccessRequest,
        first: bool,
    ) -> Option<crate::store::OutboxMessage> {
        let names = self.names(request);
        crate::app::shared::activity::line(
            &self.activity,
            &self.templates(),
            &names,
            request,
            first,
        )
    }

    /// What to tell a person when looking up people failed: that user groups wait
    /// for an admin's approval, when they do, else `otherwise`.
    pub fn lookup_trouble(&self, otherwise: &str) -> String {
        match self
            .features
            .refusal(crate::features::FeatureId::UserGroups)
        {
            Some(waiting) => format!("Nothing was submitted: {waiting}"),
            None => otherwise.to_owned(),
        }
    }

    pub fn templates(&self) -> Templates {
        self.templates.get()
    }

    pub fn now(&self) -> chrono::DateTime<Utc> {
        self.clock.now()
    }

    /// The grant workflow's configured timing.
    pub fn timing(&self) -> crate::workflow::grant::Timing {
        crate::workflow::grant::Timing {
            remind_before_expiry: self.grants.remind_before_expiry,
            revoke_overdue_after: self.grants.revoke_overdue_after,
        }
    }
}
