//! What happens when a timer cannot fire: it is moved forward with capped backoff,
//! counted (`c1bot_timers_failing`, `c1bot_timer_failures_total`), and after a few
//! failures in a row the people responsible are told, in the same commit. Never
//! dropped.

use chrono::{DateTime, Utc};

use crate::app::shared::services::Services;
use crate::slack::backoff::Backoff;
use crate::store::{Change, OutboxMessage, TimerEntry};

/// A timer whose firing fails is moved forward by this backoff, never dropped.
const FAILED: Backoff = Backoff {
    initial: std::time::Duration::from_secs(5),
    max: std::time::Duration::from_secs(300),
};

/// At this many failures in a row, the people responsible are told (once).
const TELL_AFTER_FAILURES: u32 = 5;

/// A timer that failed to fire: moved forward with backoff and its failure counted;
/// at [`TELL_AFTER_FAILURES`] the people responsible are told in the same commit.
pub(super) async fn postpone(
    services: &Services,
    at: DateTime<Utc>,
    entry: &TimerEntry,
    error: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let failures = entry.failures + 1;
    let next = now + chrono::Duration::from_std(FAILED.ceiling(failures)).unwrap_or_default();
    tracing::error!(kind = %entry.kind, subject = %entry.subject, failures, retry_at = %next, error, "a timer could not fire; it stays and is tried again");
    services.failing_timers.failed(entry, error);
    services.metrics.inc(
        "c1bot_timer_failures_total",
        "Timer firings that failed and were moved forward to be tried again.",
        &[("kind", &entry.kind)],
    );
    let mut moved = entry.clone();
    moved.failures = failures;
    let since = *moved.failing_since.get_or_insert(now);
    let mut change = Change::new()
        .at(now)
        .cancel_timer(at, &entry.subject, &entry.kind)
        .timer(next, moved);
    if failures == TELL_AFTER_FAILURES {
        for owner in responsible(services, entry).await {
            change = change.outbox(OutboxMessage::text(
                &owner,
                &format!(
                    ":warning: c1bot cannot process the {} timer of {} ({} failures since {}): {}. It keeps trying; check c1bot's log and Slack's status.",
                    entry.kind,
                    crate::app::shared::mrkdwn::escape(&entry.subject),
                    failures,
                    crate::templates::slack_date(since.timestamp()),
                    crate::app::shared::mrkdwn::escape(error),
                ),
            ));
        }
    }
    services.store.commit(change).await?;
    Ok(())
}

/// Who is told about a timer that keeps failing: the resource's owners for a
/// request, the owners of a campaign.
async fn responsible(services: &Services, entry: &TimerEntry) -> Vec<String> {
    if entry.subject.starts_with("REQ-") {
        if let Ok(Some(stored)) = services.load_request(&entry.subject).await {
            return crate::app::grants::owners_of(services, &stored.data)
                .into_iter()
                .collect();
        }
    }
    if entry.subject.starts_with("CMP-") {
        return crate::app::campaigns::owners(services, &entry.subject).await;
    }
    Vec::new()
}

pub(super) fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}
