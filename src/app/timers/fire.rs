//! Firing one timer: what each kind of timer comes to (a [`Fired`] change for the
//! loop's group commit), for approval requests (reminders to approvers, the pending
//! deadline, escalations), campaigns and DM conversations; grant timers are
//! `app::grant_timers`. No I/O beyond reading the store and the commits a campaign or
//! conversation makes itself.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::app::requests::{TIMER_EXPIRE, TIMER_REMIND};
use crate::app::shared::services::Services;
use crate::app::shared::timer_entries::TIMER_ESCALATE_PREFIX;
use crate::app::timers::{Fired, Firing, TimerAudit};
use crate::store::{Table, TimerEntry};
use crate::workflow::approval::{self, Action, Actor, Refusal};

/// What firing `entry` (due `at`) comes to `now`.
pub(super) async fn prepare(
    services: &Services,
    at: DateTime<Utc>,
    entry: &TimerEntry,
    now: DateTime<Utc>,
) -> anyhow::Result<Fired> {
    if entry.kind == crate::app::requests::scheduled::TIMER_START {
        return crate::app::requests::scheduled::prepare(services, at, entry, now).await;
    }
    if crate::app::grants::timers::handles(&entry.kind) {
        return crate::app::grants::timers::prepare(services, at, entry, now).await;
    }
    // Every firing below at least drops the timer.
    let done = crate::app::shared::firing::dropping(at, entry, now);
    if entry.kind == crate::app::campaigns::reminders::TIMER {
        return Ok(
            if crate::app::campaigns::reminders::fire(services, &entry.subject, at).await? {
                Fired::Nothing
            } else {
                Fired::just(done)
            },
        );
    }
    if entry.kind == crate::app::campaigns::ended::TIMER {
        crate::app::campaigns::ended::fire(services, &entry.subject).await?;
        return Ok(Fired::just(done));
    }
    if entry.kind == crate::app::requests::break_glass::review::TIMER {
        return crate::app::requests::break_glass::review::remind(services, &entry.subject, done)
            .await;
    }
    if entry.kind == crate::app::dm::TIMER {
        // The conversation ends in its own commits; this one only drops the timer.
        crate::app::dm::expire(services, &entry.subject, now).await?;
        return Ok(Fired::just(done));
    }
    let escalation = entry
        .kind
        .strip_prefix(TIMER_ESCALATE_PREFIX)
        .and_then(|step| step.parse::<usize>().ok());
    let action = match (entry.kind.as_str(), escalation) {
        (_, Some(step)) => Action::Escalate { step },
        (TIMER_REMIND, _) => Action::Remind,
        (TIMER_EXPIRE, _) => Action::Expire,
        // Written by a newer release sharing the store (a rolling upgrade on
        // PostgreSQL): kept, moved forward and counted like any timer that cannot
        // fire, so the release that knows it fires it.
        (other, None) => anyhow::bail!(
            "c1bot does not know the timer kind {other:?} (a newer release may have written it)"
        ),
    };
    let Some(stored) = services.load_request(&entry.subject).await? else {
        return Ok(Fired::just(done));
    };
    let transition = match approval::apply(&stored.data, action.clone(), &Actor::system(), now) {
        Ok(transition) => transition,
        // Not yet due by the request's own deadline: fire again then.
        Err(Refusal::NotDue) => {
            let change = done.timer(stored.data.decide_by, entry.clone());
            return Ok(Fired::just(change));
        }
        Err(_) => return Ok(Fired::just(done)),
    };
    let names = services.names(&transition.request);
    let messages = services
        .notifier(&names)
        .messages(&transition.request, &transition.effects)?;
    let mut change = done
        .expect(Table::Requests, &entry.subject, Some(stored.rev))
        .put(Table::Requests, &entry.subject, &transition.request);
    if action == Action::Remind {
        let next = now
            + chrono::Duration::from_std(services.requests.remind_every)
                .unwrap_or(chrono::Duration::hours(4));
        if next < transition.request.decide_by {
            change = change.timer(next, TimerEntry::new(TIMER_REMIND, entry.subject.clone()));
        }
    }
    for message in messages {
        change = change.outbox(message);
    }
    Ok(Fired::Commit(Firing {
        change,
        request: Some(Box::new(transition.request)),
        job: None,
        audit: Some(Box::new(TimerAudit::new(
            format!("request.{}", entry.kind),
            entry.subject.clone(),
            Value::Null,
        ))),
    }))
}
