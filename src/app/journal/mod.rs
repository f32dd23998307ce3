//! Durable intake: every envelope whose ack promises a change (a click that decides,
//! a one-line request, a DM message) is written to the store's journal before its
//! ack and processed from there, so `kill -9` right after the ack loses nothing.
//!
//! Owns the journal's life on the application side: taking an envelope in
//! ([`take`]), settling what processing came to ([`settle`]: the row completes in
//! the same commit as the change, a refusal is told through the outbox, a failure is
//! retried with backoff and finally given up, counted and told), and the supervised
//! loop that processes rows a crash or a failure left ([`run`]). Which envelopes are
//! journaled and how each is processed is [`route`].

pub mod route;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::app::shared::services::Services;
use crate::slack::backoff::Backoff;
use crate::slack::dispatch::Ack;
use crate::slack::frame::Envelope;
use crate::store::{AuditEvent, Change, CommitError, JournalId, Journaled, OutboxMessage, Table};
use crate::supervise::Heartbeat;

pub use route::journaled;

pub use crate::app::shared::journaled::{InFlight, Outcome};

/// Attempts before a row is given up: with [`RETRY`] about ten minutes in all.
const MAX_ATTEMPTS: u32 = 8;
const RETRY: Backoff = Backoff {
    initial: Duration::from_secs(2),
    max: Duration::from_secs(300),
};
/// How often the loop looks for rows to retry when nothing wakes it.
const IDLE: Duration = Duration::from_secs(5);
/// Rows processed at once by the loop (at start-up, a backlog).
const CONCURRENCY: usize = 16;

/// Journals `envelope`, acks it once the row is on disk, then processes it.
pub async fn take(services: &Services, envelope: Envelope, ack: Ack) {
    let keys = envelope.dedupe_keys();
    match services
        .store
        .journal(&keys, &envelope.to_frame(), services.now())
        .await
    {
        Ok(Journaled::New(id)) => {
            services.intake.claim(id);
            ack.send(None);
            if !services.faults.hold_after_ack.is_zero() {
                tokio::time::sleep(services.faults.hold_after_ack).await;
            }
            let outcome = route::process(services, id, &envelope).await;
            settle(services, id, &envelope, outcome).await;
            services.intake.release(id);
        }
        Ok(Journaled::Duplicate(id)) => {
            tracing::info!(journal = %id, envelope_id = %envelope.envelope_id, "a copy of a journaled envelope; acked, not processed again");
            ack.send(None);
        }
        Err(error) => {
            tracing::error!(%error, envelope_id = %envelope.envelope_id, "cannot journal an envelope; leaving it unacked");
            services.metrics.inc(
                "c1bot_intake_unjournaled_total",
                "Envelopes left unacked because the journal could not be written.",
                &[],
            );
            ack.withhold();
        }
    }
}

/// Records what processing row `id` came to (see [`Outcome`]).
pub async fn settle(services: &Services, id: JournalId, envelope: &Envelope, outcome: Outcome) {
    let now = services.now();
    let person = route::person(envelope);
    let done = match outcome {
        Outcome::Committed => {
            // Every path that commits carries the row; one that forgot would be
            // processed again after a restart, so close it and say so.
            match services.store.journal_entry(id).await {
                Ok(None) => return,
                Ok(Some(_)) => {
                    tracing::error!(journal = %id, "a processed envelope's commit did not complete its journal row; completing it now");
                    Change::new().at(now).completes(id)
                }
                Err(error) => {
                    return tracing::error!(%error, journal = %id, "cannot read the journal")
                }
            }
        }
        Outcome::Nothing => {
            // Lost in a crash, the row is processed again and again does nothing.
            let done = Change::new().at(now).completes(id);
            if let Err(error) = services.store.commit_unhurried(done).await {
                if !error.already_processed() {
                    tracing::error!(%error, journal = %id, "cannot complete a journal row; it is processed again later");
                }
            }
            return;
        }
        Outcome::Refused(text) => {
            let change = Change::new().at(now).completes(id);
            match &person {
                Some(person) => change.outbox(person.tell(&text)),
                None => change,
            }
        }
        Outcome::Retry(text) => return retry(services, id, envelope, &text, now).await,
    };
    match services.store.commit(done).await {
        Ok(_) | Err(CommitError::Conflict { .. }) => {}
        Err(error) => {
            tracing::error!(%error, journal = %id, "cannot complete a journal row; it is processed again later")
        }
    }
}

async fn retry(
    services: &Services,
    id: JournalId,
    envelope: &Envelope,
    text: &str,
    now: DateTime<Utc>,
) {
    let attempts = match services.store.journal_entry(id).await {
        Ok(Some(entry)) => entry.attempts + 1,
        Ok(None) => return,
        Err(error) => return tracing::error!(%error, journal = %id, "cannot read the journal"),
    };
    services.metrics.inc(
        "c1bot_intake_retries_total",
        "Journaled envelopes whose processing failed and will be tried again.",
        &[],
    );
    if attempts < MAX_ATTEMPTS {
        let wait = chrono::Duration::from_std(RETRY.ceiling(attempts)).unwrap_or_default();
        tracing::warn!(journal = %id, attempts, reason = text, "processing failed; trying again later");
        if let Err(error) = services.store.journal_retry(id, text, now + wait).await {
            tracing::error!(%error, journal = %id, "cannot record a failed attempt");
        }
        return;
    }
    let person = route::person(envelope);
    let what = route::describe(envelope);
    let words = format!(
        "c1bot could not process your {what} ({text}). It did not go through: please try again."
    );
    let then: Vec<OutboxMessage> = person
        .iter()
        .map(|p| OutboxMessage::text(&p.user, &words))
        .collect();
    let audit = AuditEvent {
        actor: person
            .as_ref()
            .map_or("c1bot".to_owned(), |p| p.user.clone()),
        action: "intake.failed".into(),
        subject: envelope.envelope_id.clone(),
        detail: json!({ "journal": id.0, "what": what, "error": text, "attempts": attempts }),
    };
    tracing::error!(journal = %id, what, reason = text, "giving up on a journaled envelope; the person is told");
    match services
        .store
        .journal_give_up(id, text, &audit, &then, now)
        .await
    {
        Ok(_) => services.metrics.inc(
            "c1bot_intake_given_up_total",
            "Journaled envelopes given up after their retries (the person was told).",
            &[],
        ),
        Err(error) => tracing::error!(%error, journal = %id, "cannot give a journal row up"),
    }
}

/// The supervised loop: processes rows left by a crash (at once at start-up) and
/// rows waiting for a retry; quarantines rows it cannot read; forgets old dedupe keys.
pub async fn run(services: Services, beat: Heartbeat, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let wait = match pass(&services, &shutdown).await {
            Ok(wait) => wait,
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "journal pass failed");
                IDLE
            }
        };
        beat.beat();
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// One pass; returns how long to wait before the next.
pub async fn pass(services: &Services, shutdown: &CancellationToken) -> anyhow::Result<Duration> {
    let now = services.now();
    let pending = services.store.journal_pending().await?;
    for key in pending.undecodable {
        services
            .store
            .quarantine(Table::Journal, &key, "not a journal row", now)
            .await?;
    }
    let mut wait = IDLE;
    let mut due = Vec::new();
    for (id, entry) in pending.rows {
        match entry.next_attempt_at {
            Some(at) if at > now => {
                wait = wait.min((at - now).to_std().unwrap_or_default());
            }
            _ => due.push((id, entry)),
        }
    }
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut running = tokio::task::JoinSet::new();
    for (id, entry) in due {
        if shutdown.is_cancelled() {
            break;
        }
        let Some(envelope) = Envelope::from_frame(&entry.envelope) else {
            services
                .store
                .quarantine(Table::Journal, &id.0.to_be_bytes(), "not an envelope", now)
                .await?;
            continue;
        };
        if !services.intake.claim(id) {
            continue;
        }
        let permit = semaphore.clone().acquire_owned().await?;
        let services = services.clone();
        running.spawn(async move {
            tracing::info!(journal = %id, attempts = entry.attempts, "processing a journaled envelope");
            let outcome = route::process(&services, id, &envelope).await;
            settle(&services, id, &envelope, outcome).await;
            services.intake.release(id);
            drop(permit);
        });
    }
    while running.join_next().await.is_some() {}
    services.metrics.set(
        "c1bot_intake_pending",
        "Journaled envelopes not yet processed (as of the journal loop's last pass).",
        &[],
        services.store.journal_pending().await?.rows.len() as f64,
    );
    services.store.prune_journal_keys(now, 10_000).await?;
    Ok(wait)
}
