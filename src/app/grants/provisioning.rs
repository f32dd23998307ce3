//! Automatic provisioner runs (webhook, command), made durable by a lease timer.
//!
//! A run is a `provisioner-run` timer. Firing it commits a *lease*: the same timer
//! moved to `now + lease`, longer than every attempt and backoff of the provisioner
//! together. Only then is the call made; its result commits with the lease cancelled.
//! A crash mid-call leaves the lease, which fires after a restart (at once: the
//! start-up pass pulls leases forward, since nothing of the last process is still
//! running), and the call is made again with the same `idempotency_key`. In this
//! process a run under way is never started twice (the `running` set).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tracing::Instrument;

use crate::app::grants::{self, TIMER_PROVISIONER};
use crate::app::shared::commit_path::{decide_and_commit, Decided, Ended};
use crate::app::shared::consequences::Committed;
use crate::app::shared::firing::{Fired, Firing};
use crate::app::shared::handles::Job;
use crate::app::shared::services::Services;
use crate::catalog::Automatic;
use crate::provisioner::{DocItem, DocUser, Document, Operation, Outcome};
use crate::store::{AuditEvent, Change, Table, TimerEntry};
use crate::workflow::grant::{self as workflow, GrantAction, TaskKind};
use crate::workflow::request::AccessRequest;

/// Provisioner calls in flight at once: enough to drain a burst of expiries
/// quickly, few enough not to flood the system being called.
/// Added to a lease beyond the provisioner's own worst case.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// The longest a run can take: every attempt timing out, with every backoff.
pub fn lease_for(automatic: &Automatic) -> Duration {
    let (timeout, retries, backoff) = automatic.timing();
    let attempts = retries + 1;
    let mut total = timeout * attempts;
    let mut wait = backoff;
    for _ in 0..retries {
        total += wait;
        wait = (wait * 2).min(Duration::from_secs(30));
    }
    total + LEASE_MARGIN
}

/// The longest lease any entitlement in the catalog can take.
fn longest_lease(services: &Services) -> Duration {
    services
        .catalog
        .resources()
        .iter()
        .flat_map(|r| r.entitlements.iter())
        .filter_map(|e| e.provisioner.automatic.as_ref())
        .map(lease_for)
        .max()
        .unwrap_or(LEASE_MARGIN)
}

/// At start-up: leases the last process left are pulled forward to now, because no
/// run of that process can still be going.
pub async fn resume_leases(services: &Services) {
    let now = services.now();
    let until = now
        + chrono::Duration::from_std(longest_lease(services)).unwrap_or(chrono::Duration::hours(1));
    let leases = match services
        .store
        .timers_of_kind_before(TIMER_PROVISIONER, until)
        .await
    {
        Ok(leases) => leases,
        Err(error) => return tracing::error!(%error, "cannot read provisioner leases"),
    };
    let stale: Vec<_> = leases.into_iter().filter(|(due, _)| *due > now).collect();
    if stale.is_empty() {
        return;
    }
    tracing::info!(
        runs = stale.len(),
        "resuming provisioner runs interrupted by a stop"
    );
    let mut change = Change::new().at(now);
    for (due, entry) in stale {
        change = change
            .cancel_timer(due, &entry.subject, &entry.kind)
            .timer(now, entry);
    }
    let store = services.store.clone();
    tokio::spawn(async move {
        if let Err(error) = store.commit(change).await {
            tracing::error!(%error, "cannot resume provisioner runs");
        }
    });
}

/// A `provisioner-run` timer fired: lease it, and start the run after the commit.
pub async fn prepare_run(
    services: &Services,
    at: DateTime<Utc>,
    entry: &TimerEntry,
    now: DateTime<Utc>,
) -> anyhow::Result<Fired> {
    let done = crate::app::shared::firing::dropping(at, entry, now);
    if services.jobs.is_running(&entry.subject) {
        // Its own lease; the run in progress settles it.
        return Ok(Fired::Nothing);
    }
    let Some(stored) = services.load_request(&entry.subject).await? else {
        return Ok(Fired::just(done));
    };
    let task = stored
        .data
        .grant
        .as_ref()
        .and_then(|g| g.open_task())
        .filter(|t| !t.is_manual());
    let (Some(task), Some((_, entitlement))) = (task, services.target(&stored.data)) else {
        return Ok(Fired::just(done));
    };
    let Some(automatic) = &entitlement.provisioner.automatic else {
        // The catalog no longer automates this: hand the task to its assignees.
        return Ok(Fired::just(done));
    };
    let lease = now
        + chrono::Duration::from_std(lease_for(automatic)).unwrap_or(chrono::Duration::hours(1));
    let change = done.timer(lease, entry.clone());
    Ok(Fired::Commit(Firing {
        change,
        request: None,
        job: Some(Job {
            request_id: entry.subject.clone(),
            kind: task.kind,
            lease,
        }),
        audit: None,
    }))
}

/// Starts `job` in the background (its lease is committed).
pub fn spawn(services: &Services, job: Job) {
    if services.jobs.is_running(&job.request_id) {
        return;
    }
    services.jobs.set_running(&job.request_id, true);
    let services = services.clone();
    let span = tracing::info_span!("provisioner", request_id = %job.request_id);
    tokio::spawn(async move {
        let permit = services.jobs.permits().acquire_owned().await;
        if let Err(error) = run(&services, &job).await {
            tracing::error!(%error, request_id = %job.request_id, "provisioner run failed to settle; it runs again when its lease ends");
        }
        drop(permit);
        services.jobs.set_running(&job.request_id, false);
    }.instrument(span));
}

async fn run(services: &Services, job: &Job) -> anyhow::Result<()> {
    let Some(stored) = services.load_request(&job.request_id).await? else {
        return Ok(());
    };
    let request = stored.data;
    let Some((resource, entitlement)) = services.target(&request) else {
        return Ok(());
    };
    let Some(automatic) = entitlement.provisioner.automatic.clone() else {
        return Ok(());
    };
    let runner = services.provisioners.clone();
    let email = services
        .directory
        .person(&request.beneficiary)
        .await
        .ok()
        .and_then(|p| p.email);
    let document = document(services, &request, job.kind, email, resource, entitlement);
    let outcome = runner.run(&automatic, &document).await;
    settle(services, job, &request.id, outcome).await
}

fn document(
    services: &Services,
    request: &AccessRequest,
    kind: TaskKind,
    email: Option<String>,
    resource: &crate::catalog::Resource,
    entitlement: &crate::catalog::Entitlement,
) -> Document {
    let grant = request.grant.as_ref();
    let operation = match kind {
        TaskKind::Grant => Operation::Grant,
        TaskKind::Revoke => Operation::Revoke,
    };
    let expires_at = match (kind, request.duration) {
        (TaskKind::Grant, crate::workflow::request::AccessDuration::For(d)) => {
            chrono::Duration::from_std(d)
                .ok()
                .map(|d| services.now() + d)
        }
        (TaskKind::Revoke, _) => grant.and_then(|g| g.expires_at),
        _ => None,
    };
    let reason = match grant.and_then(|g| g.ending.as_ref()) {
        Some(workflow::Ending::Expired { .. }) => Some("expired".to_owned()),
        Some(workflow::Ending::Revoked { by, reason }) => {
            Some(format!("revoked by {by}: {reason}"))
        }
        None => None,
    };
    Document {
        operation,
        request_id: request.id.clone(),
        idempotency_key: format!("{}/{}", request.id, kind.as_str()),
        user: DocUser {
            id: request.beneficiary.clone(),
            email,
        },
        resource: DocItem {
            id: resource.id.as_str().to_owned(),
            name: resource.name.clone(),
        },
        entitlement: DocItem {
            id: entitlement.id.as_str().to_owned(),
            name: entitlement.name.clone(),
        },
        expires_at,
        reason,
        requested_by: request.requester.clone(),
        approved_by: request
            .decisions
            .iter()
            .filter(|d| d.approved)
            .map(|d| d.by.clone())
            .collect(),
        fields: request.fields.clone(),
        sent_at: services.now(),
    }
}

/// Records the result: the grant moves on (or the task goes to the fallback
/// assignees), the lease is cancelled, and the call is audited with its duration.
async fn settle(
    services: &Services,
    job: &Job,
    request_id: &str,
    outcome: Outcome,
) -> anyhow::Result<()> {
    let outcome = &outcome;
    let ended = decide_and_commit(
        &services.store,
        &services.consequences,
        &Change::new(),
        move || async move {
            match recorded(services, job, request_id, outcome).await {
                Ok(Some((change, next))) => {
                    let stage = next.stage();
                    Decided::commit_of(change, Committed::Request(Box::new(next)), Some(stage))
                }
                // The task moved on meanwhile (someone revoked by hand): keep the record.
                Ok(None) => {
                    Decided::commit(lease_done(services.now(), job, request_id, outcome), None)
                }
                Err(error) => Decided::Stop(error),
            }
        },
    )
    .await;
    match ended {
        Ended::Committed(Some(state)) => {
            tracing::info!(
                request_id,
                ok = outcome.ok,
                attempts = outcome.attempts,
                state,
                "provisioner result recorded"
            );
            Ok(())
        }
        Ended::Committed(None) | Ended::AlreadyDone(_) => Ok(()),
        Ended::Stopped(error) => Err(error),
        Ended::Failed(error) => Err(error.into()),
        Ended::KeptChanging => {
            anyhow::bail!("{request_id} kept changing while recording the provisioner's result")
        }
    }
}

/// The lease cancelled and the call audited with its duration: what is recorded of
/// every provisioner run.
fn lease_done(now: DateTime<Utc>, job: &Job, request_id: &str, outcome: &Outcome) -> Change {
    Change::new()
        .at(now)
        .cancel_timer(job.lease, request_id, TIMER_PROVISIONER)
        .audit(AuditEvent {
            actor: "c1bot".into(),
            action: format!("provisioner.{}", job.kind.as_str()),
            subject: request_id.to_owned(),
            detail: json!({
                "ok": outcome.ok,
                "attempts": outcome.attempts,
                "elapsed_ms": outcome.elapsed.as_millis() as u64,
                "detail": outcome.detail,
            }),
        })
}

/// One attempt: the result on the stored request (the grant moves on, or the task
/// goes to the fallback assignees) with [`lease_done`], and the request it leaves;
/// `None` when the task has moved on (or the request is gone).
async fn recorded(
    services: &Services,
    job: &Job,
    request_id: &str,
    outcome: &Outcome,
) -> anyhow::Result<Option<(Change, AccessRequest)>> {
    let Some(stored) = services.load_request(request_id).await? else {
        return Ok(None);
    };
    let fallback = grants::fallback_for(services, &stored.data).await;
    let action = GrantAction::Automatic {
        kind: job.kind,
        ok: outcome.ok,
        detail: outcome.detail.clone(),
        fallback,
    };
    let now = services.now();
    let Ok(transition) = workflow::apply(&stored.data, action, now, services.timing()) else {
        return Ok(None);
    };
    let next = transition.request.clone();
    let change = grants::render(services, transition.request, &transition.effects)?.into_change(
        lease_done(now, job, request_id, outcome).expect(
            Table::Requests,
            request_id,
            Some(stored.rev),
        ),
    );
    Ok(Some((change, next)))
}
