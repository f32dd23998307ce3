//! Where things stand, for one person: `/c1 status` (ephemeral) and the App Home tab.
//!
//! Both are read from the store when asked for; App Home is republished for the
//! people a change concerns, so it stays current without anyone reopening it. Its
//! access-review lists come from [`crate::app::status::campaigns`].

pub mod campaigns;

use serde_json::{json, Value};

use crate::app::shared::consequences::Committed;
use crate::app::shared::services::Services;
use crate::slack::web::methods;

use crate::templates::Vars;
use crate::workflow::grant::{Ending, GrantState, TaskKind};
use crate::workflow::request::{AccessRequest, State};
use chrono::{DateTime, Utc};

fn stage(request: &AccessRequest, now: DateTime<Utc>) -> String {
    if let Some(grant) = &request.grant {
        return match &grant.state {
            GrantState::Provisioning => "approved · being set up".to_owned(),
            GrantState::Active => match grant.expires_at {
                Some(until) => format!(
                    "active · ends in {}",
                    crate::app::shared::grant_notify::late_text(until - now)
                ),
                None => "active · no end date".to_owned(),
            },
            GrantState::Deprovisioning => "being removed".to_owned(),
            GrantState::Revoked => "removed".to_owned(),
            GrantState::Failed => "could not be granted".to_owned(),
            GrantState::Superseded { by } => format!("extended by {by}"),
        };
    }
    match &request.state {
        State::Pending { step } => match request.steps.get(*step) {
            Some(s) => format!(
                "waiting for {} ({} of {} approvals)",
                s.name,
                s.approvals.len(),
                s.quorum.needed(s.approvers.len())
            ),
            None => "pending".to_owned(),
        },
        State::Approved { .. } if crate::workflow::schedule::waiting(request) => {
            "approved · waiting for its start".to_owned()
        }
        State::Approved { .. } => "approved · being set up".to_owned(),
        other => other.label().to_owned(),
    }
}

fn item(services: &Services, request: &AccessRequest) -> Vars {
    let names = services.names(request);
    let vars = Vars::new()
        .text("request_id", &request.id)
        .text("resource", &names.resource)
        .text("entitlement", &names.entitlement)
        .mrkdwn(
            "duration",
            crate::app::shared::schedule_shown::duration_shown(request),
        )
        .date("requested_at", request.created_at.timestamp())
        .text("stage", stage(request, services.now()))
        .mention("requester", &request.beneficiary)
        .text("justification", &request.justification);
    let grant = request.grant.as_ref();
    let vars = match grant.and_then(|g| g.expires_at) {
        Some(until) => vars.date("until", until.timestamp()),
        None => vars.text("until", "no end date"),
    };
    let why = match grant.and_then(|g| g.ending.as_ref()) {
        Some(Ending::Expired { .. }) => "expired".to_owned(),
        Some(Ending::Revoked { reason, .. }) => format!("revoked early: {reason}"),
        None => String::new(),
    };
    let task = grant.and_then(|g| g.open_task());
    let workers: Vec<String> = task
        .map(|t| t.workers().into_iter().collect())
        .unwrap_or_default();
    let vars = vars.text("why", why).date(
        "since",
        task.map(|t| t.started_at)
            .unwrap_or(request.created_at)
            .timestamp(),
    );
    if workers.is_empty() {
        vars.text("assignees", "an automatic provisioner")
    } else {
        vars.mentions("assignees", &workers)
    }
}

fn mine(request: &AccessRequest, user: &str) -> bool {
    request.requester == user || request.beneficiary == user
}

fn waiting_on(request: &AccessRequest, user: &str) -> bool {
    request
        .current_step()
        .is_some_and(|(_, step)| step.approvers.contains(user) && !step.approvals.contains(user))
}

/// The open task of `kind` on `request`, if `user` is one of its workers.
fn my_task(request: &AccessRequest, user: &str, kind: TaskKind) -> bool {
    request
        .grant
        .as_ref()
        .and_then(|g| g.open_task())
        .is_some_and(|t| t.kind == kind && t.workers().contains(user))
}

fn is_active(request: &AccessRequest) -> bool {
    request
        .grant
        .as_ref()
        .is_some_and(|g| g.state == GrantState::Active)
}

/// A revoke not done within the overdue time, shown to its workers and the
/// resource's owners.
fn overdue_for(
    services: &Services,
    request: &AccessRequest,
    user: &str,
    now: DateTime<Utc>,
) -> bool {
    let Some(task) = request.grant.as_ref().and_then(|g| g.open_task()) else {
        return false;
    };
    let after = chrono::Duration::from_std(services.grants.revoke_overdue_after)
        .unwrap_or(chrono::Duration::hours(1));
    task.kind == TaskKind::Revoke
        && task.started_at + after <= now
        && (task.workers().contains(user)
            || crate::app::grants::owners_of(services, request).contains(user))
}

/// The `/c1 status` answer, as a slash-command ack payload.
pub async fn status_message(services: &Services, user: &str) -> Value {
    let requests = crate::app::shared::request_index::for_person(services, user).await;
    let open: Vec<Vars> = requests
        .iter()
        .filter(|r| {
            mine(r, user)
                && (r.state.is_open()
                    || r.grant
                        .as_ref()
                        .is_some_and(|g| g.state == GrantState::Provisioning)
                    || (matches!(r.state, State::Approved { .. }) && r.grant.is_none()))
        })
        .map(|r| item(services, r))
        .collect();
    let active: Vec<Vars> = requests
        .iter()
        .filter(|r| r.beneficiary == user && is_active(r))
        .map(|r| item(services, r))
        .collect();
    let vars = Vars::new()
        .list("open_requests", open)
        .list("active_grants", active);
    match services.templates().render("status", &vars) {
        Ok(mut message) => {
            message["response_type"] = json!("ephemeral");
            message
        }
        Err(error) => {
            tracing::error!(%error, "cannot render status");
            json!({ "response_type": "ephemeral", "text": "c1bot could not show your status just now." })
        }
    }
}

/// Renders and publishes `user`'s App Home.
pub async fn publish_home(services: &Services, user: &str) {
    // Two independent index reads, so one wait for the store instead of two.
    let (requests, campaigns) = tokio::join!(
        crate::app::shared::request_index::for_person(services, user),
        crate::app::status::campaigns::campaigns_of(services, user)
    );
    let now = services.now();
    let pick = |keep: &dyn Fn(&AccessRequest) -> bool| -> Vec<Vars> {
        requests
            .iter()
            .filter(|r| keep(r))
            .map(|r| item(services, r))
            .collect()
    };
    let my_requests: Vec<Vars> = requests
        .iter()
        .filter(|r| mine(r, user))
        .rev()
        .map(|r| item(services, r))
        .collect();
    let vars = Vars::new()
        .text("command", &services.command)
        .date("updated_at", now.timestamp())
        .list("my_requests", my_requests)
        .list("to_decide", pick(&|r| waiting_on(r, user)))
        .list("my_tasks", pick(&|r| my_task(r, user, TaskKind::Grant)))
        .list("my_revokes", pick(&|r| my_task(r, user, TaskKind::Revoke)))
        .list("overdue", pick(&|r| overdue_for(services, r, user, now)))
        .list(
            "my_access",
            pick(&|r| r.beneficiary == user && is_active(r)),
        );
    let vars = crate::app::status::campaigns::add_lists(&campaigns, user, vars);
    let vars = vars.list("notices", admin_notices(services, user).await);
    let view = match services.templates().render("home", &vars) {
        Ok(view) => view,
        Err(error) => return tracing::error!(%error, "cannot render App Home"),
    };
    if let Err(error) = services
        .web
        .call(
            methods::VIEWS_PUBLISH,
            json!({ "user_id": user, "view": view }),
        )
        .await
    {
        tracing::warn!(%error, user, "could not publish App Home");
    }
}

/// For workspace admins and owners (who approve scopes): each feature waiting for a
/// scope. Nobody else is asked about (no profile lookup while nothing waits).
async fn admin_notices(services: &Services, user: &str) -> Vec<Vars> {
    if !services.features.any_waiting() {
        return Vec::new();
    }
    let admin = match services.directory.person(user).await {
        Ok(person) => person.profile.is_admin || person.profile.is_owner,
        Err(error) => {
            tracing::warn!(%error, "cannot read a profile for App Home's notices");
            false
        }
    };
    if !admin {
        return Vec::new();
    }
    services
        .features
        .problems()
        .into_iter()
        .map(|text| Vars::new().text("text", text))
        .collect()
}

/// The Home publisher beats at least this often while idle.
const IDLE_BEAT: std::time::Duration = std::time::Duration::from_secs(60);

/// Publishes each Home marked in `services.homes` once, until `shutdown`
/// (supervised; see `crate::app::shared::home_refresh`).
pub async fn publish_marked_homes(
    services: Services,
    beat: crate::supervise::Heartbeat,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let queue = services.homes.clone();
    while !shutdown.is_cancelled() {
        beat.beat();
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = queue.marked() => {}
            () = tokio::time::sleep(IDLE_BEAT) => {}
        }
        for person in queue.take() {
            if shutdown.is_cancelled() {
                return;
            }
            publish_home(&services, &person).await;
            beat.beat();
        }
    }
}

/// App Home's subscription to committed changes (wired once at start-up, see
/// [`crate::app::shared::consequences`]): everyone a change concerns is marked for one publish
/// (coalesced per person: see `crate::app::shared::home_refresh`).
pub fn republish_on_commit(
    homes: crate::app::shared::home_refresh::HomeQueue,
    viewers: crate::app::shared::services::HomeViewers,
) -> impl Fn(&Committed) + Send + Sync + 'static {
    move |committed| {
        let mut people = concerned(committed);
        // Slack shows App Home only to someone who opens it, and it is published fresh
        // then; keeping it live matters only for those who have it open.
        people.retain(|person| viewers.contains(person));
        homes.mark(people);
    }
}

/// Whose App Home shows a committed change: a request's requester, beneficiary,
/// approvers and task assignees; a campaign's owners (its state and progress) and
/// reviewers (how many items are left).
fn concerned(committed: &Committed) -> Vec<String> {
    let mut people = match committed {
        Committed::Request(request) => {
            let mut people = vec![request.requester.clone(), request.beneficiary.clone()];
            people.extend(
                request
                    .steps
                    .iter()
                    .flat_map(|s| s.approvers.iter().cloned()),
            );
            if let Some(grant) = &request.grant {
                people.extend(grant.provision.workers());
                people.extend(grant.deprovision.iter().flat_map(|t| t.workers()));
            }
            people
        }
        Committed::Campaign(campaign) => {
            let mut people = campaign.owners.clone();
            people.extend(campaign.reviewers());
            people
        }
    };
    people.sort();
    people.dedup();
    people
}
