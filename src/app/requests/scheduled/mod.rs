//! Scheduled access in the app: the durable timer that starts provisioning at a
//! request's window (`grant-start`).
//!
//! The timer is committed with the request itself, so a restart (even a kill -9)
//! keeps it; it fires at the window's start whatever happened meanwhile. An approved
//! request then starts provisioning (its task or provisioner run), exactly as an
//! approval does for access asked for now; a request still pending is left alone
//! (its approval provisions at once, inside the window), and one that closed drops
//! the timer. The decisions are `workflow::schedule`'s.
//!
//! Also the window as people read it ([`shown`]: Slack date tokens, so each reader
//! sees their own time zone) and a typed start placed in the requester's zone
//! ([`typed`]).

mod typed;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::app::grants;
use crate::app::shared::firing::{Fired, Firing, TimerAudit};
use crate::app::shared::services::Services;
use crate::store::{Table, TimerEntry};
use crate::workflow::grant::{self as workflow, GrantAction};
use crate::workflow::request::AccessRequest;
use crate::workflow::schedule;

pub use crate::app::shared::schedule_shown::{duration_shown, task_note, waiting_detail};
pub use typed::{prefill_start, resolve, start_of};

/// The timer kind that starts provisioning at a scheduled window.
pub const TIMER_START: &str = "grant-start";

/// The start timer of a request just made with a window: at its start.
pub fn start_timer(request: &AccessRequest) -> Option<(DateTime<Utc>, TimerEntry)> {
    let start = request.starts_at?;
    let may_start = request.state.is_open() || schedule::waiting(request);
    may_start.then(|| (start, TimerEntry::new(TIMER_START, request.id.clone())))
}

/// The `grant-start` timer (due `at`) fired `now`: start provisioning of a request
/// approved and waiting for its window, in the timer loop's commit.
pub async fn prepare(
    services: &Services,
    at: DateTime<Utc>,
    entry: &TimerEntry,
    now: DateTime<Utc>,
) -> anyhow::Result<Fired> {
    let done = crate::app::shared::firing::dropping(at, entry, now);
    let Some(stored) = services.load_request(&entry.subject).await? else {
        return Ok(Fired::just(done));
    };
    let request = &stored.data;
    // Pending: its approval provisions at once. Closed or started: nothing to do.
    if !schedule::waiting(request) {
        return Ok(Fired::just(done));
    }
    if let Some(start) = request
        .starts_at
        .filter(|_| schedule::not_yet(request, now))
    {
        return Ok(Fired::just(done.timer(start, entry.clone())));
    }
    // Who works the task is resolved now, as an approval would: an error here is the
    // timer loop's to retry with backoff, never a dropped start.
    let plan = grants::plan_start(services, request).await?;
    let next = workflow::apply(
        request,
        GrantAction::Start {
            via: plan.via.clone(),
        },
        now,
        services.timing(),
    )
    .map(|t| t.request)
    .unwrap_or_else(|_| request.clone());
    let change = grants::start(
        services,
        request,
        &plan,
        now,
        done.expect(Table::Requests, &entry.subject, Some(stored.rev)),
    )?;
    Ok(Fired::Commit(Firing {
        change,
        audit: Some(Box::new(TimerAudit::new(
            "grant.window_opened",
            entry.subject.clone(),
            json!({ "starts_at": request.starts_at, "state": next.stage() }),
        ))),
        request: Some(Box::new(next)),
        job: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::request::State;
    use chrono::TimeZone;

    fn request(starts_at: Option<DateTime<Utc>>, state: State) -> AccessRequest {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 7, 8, 0, 0)
            .single()
            .expect("time");
        AccessRequest {
            state,
            starts_at,
            ..AccessRequest::example(at)
        }
    }

    #[test]
    fn only_a_request_that_may_still_start_gets_a_start_timer() {
        let start = Utc
            .with_ymd_and_hms(2026, 12, 8, 8, 0, 0)
            .single()
            .expect("time");
        let pending = request(Some(start), State::Pending { step: 0 });
        assert_eq!(
            start_timer(&pending),
            Some((start, TimerEntry::new(TIMER_START, "REQ-7".to_owned())))
        );
        let auto = request(Some(start), State::Approved { auto: true });
        assert!(start_timer(&auto).is_some());
        assert!(start_timer(&request(None, State::Pending { step: 0 })).is_none());
        assert!(start_timer(&request(Some(start), State::Expired)).is_none());
    }
}
