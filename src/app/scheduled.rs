//! Scheduled access in the app: the durable timer that starts provisioning at a
//! request's window (`grant-start`), and the window as people read it.
//!
//! The timer is committed with the request itself, so a restart (even a kill -9)
//! keeps it; it fires at the window's start whatever happened meanwhile. An approved
//! request then starts provisioning (its task or provisioner run), exactly as an
//! approval does for access asked for now; a request still pending is left alone
//! (its approval provisions at once, inside the window), and one that closed drops
//! the timer. The decisions are `workflow::schedule`'s.
//!
//! Also the window as people read it (Slack date tokens, so each reader sees their
//! own time zone), and a typed start (`from 09:00 tomorrow`) placed in the
//! requester's zone.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

use super::directory::Person;
use super::grants;
use super::notify::duration_text;
use super::requests::Rejected;
use super::services::Services;
use super::timers::{Fired, Firing, TimerAudit};
use crate::intake::start::StartPhrase;
use crate::store::{Change, Table, TimerEntry};
use crate::templates::{slack_date, Mrkdwn};
use crate::workflow::grant::{self as workflow, GrantAction};
use crate::workflow::request::AccessRequest;
use crate::workflow::schedule;
use crate::workflow::submit::{fields, FieldErrors};

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
    let done = Change::new()
        .at(now)
        .cancel_timer(at, &entry.subject, &entry.kind);
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

/// The instant a typed start (`from 09:00 tomorrow`) names for `user`, in their
/// Slack time zone; or why not, for the start field.
pub async fn start_of(
    services: &Services,
    user: &str,
    phrase: &StartPhrase,
) -> Result<DateTime<Utc>, Rejected> {
    let person = services.directory.person(user).await.map_err(|error| {
        tracing::warn!(%error, "cannot read the requester's time zone");
        Rejected {
            errors: FieldErrors::from([(fields::STARTS_AT, "c1bot could not read your time zone from Slack just now; nothing was submitted. Try again in a moment.".to_owned())]),
            transient: true,
        }
    })?;
    resolve(phrase, &person, services.now()).ok_or_else(|| Rejected {
        errors: FieldErrors::from([(
            fields::STARTS_AT,
            "That start does not exist in your time zone (a daylight-saving change skips it): choose another time.".to_owned(),
        )]),
        transient: false,
    })
}

/// `phrase` in `person`'s time zone (Slack's `tz`; UTC when Slack gives none).
pub fn resolve(phrase: &StartPhrase, person: &Person, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let zone: Tz = person.profile.tz.parse().unwrap_or(Tz::UTC);
    phrase.resolve(&zone, now)
}

/// Sets the request modal's start picker to `start`, when there is one.
pub fn prefill_start(view: &mut Value, start: Option<DateTime<Utc>>) {
    let Some(start) = start else {
        return;
    };
    let blocks = view.get_mut("blocks").and_then(Value::as_array_mut);
    for block in blocks.into_iter().flatten() {
        if block.get("block_id").and_then(Value::as_str) != Some(fields::STARTS_AT) {
            continue;
        }
        if let Some(element) = block.get_mut("element").and_then(Value::as_object_mut) {
            element.insert("initial_date_time".into(), json!(start.timestamp()));
        }
    }
}

/// What the requester is told when `request` is approved ahead of its window.
pub fn waiting_detail(request: &AccessRequest) -> Option<String> {
    if !schedule::waiting(request) {
        return None;
    }
    let window = schedule::window(request)?;
    let start = slack_date(window.start.timestamp());
    Some(match window.end {
        Some(end) => format!(
            "Scheduled: your access is set up at {start} and ends at {}, however long setting it up takes.",
            slack_date(end.timestamp())
        ),
        None => format!("Scheduled: your access is set up at {start}."),
    })
}

/// The grant task's note for scheduled access: its clock already runs.
pub fn task_note(request: &AccessRequest) -> Option<String> {
    let window = schedule::window(request)?;
    Some(match window.end {
        Some(end) => format!(
            "Scheduled access: it started at {} and ends at {}, whenever you mark it complete.",
            slack_date(window.start.timestamp()),
            slack_date(end.timestamp())
        ),
        None => format!(
            "Scheduled access: it started at {}.",
            slack_date(window.start.timestamp())
        ),
    })
}

/// How long, and for a scheduled request when: "4 h, from <start> until <end>",
/// each time a Slack date token that every reader sees in their own time zone (the
/// fallback, for clients that cannot, in UTC).
pub fn duration_shown(request: &AccessRequest) -> Mrkdwn {
    let length = duration_text(request.duration);
    let Some(window) = schedule::window(request) else {
        return Mrkdwn::built(crate::app::mrkdwn::escape(&length));
    };
    let start = slack_date(window.start.timestamp());
    Mrkdwn::built(match window.end {
        Some(end) => format!(
            "{length}, from {start} until {}",
            slack_date(end.timestamp())
        ),
        None => format!("{length}, from {start}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::request::{AccessDuration, State};
    use chrono::TimeZone;
    use std::time::Duration;

    fn request(starts_at: Option<DateTime<Utc>>, state: State) -> AccessRequest {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 7, 8, 0, 0)
            .single()
            .expect("time");
        AccessRequest {
            id: "REQ-7".into(),
            requester: "U1".into(),
            beneficiary: "U1".into(),
            resource: "r".into(),
            entitlement: "e".into(),
            duration: AccessDuration::For(Duration::from_secs(4 * 3600)),
            justification: "j".into(),
            created_at: at,
            decide_by: at,
            steps: Vec::new(),
            state,
            decisions: Vec::new(),
            grant: None,
            extends: None,
            starts_at,
        }
    }

    #[test]
    fn the_window_is_shown_as_dates_each_reader_sees_in_their_zone() {
        let start = Utc
            .with_ymd_and_hms(2026, 12, 8, 8, 0, 0)
            .single()
            .expect("time");
        let shown = duration_shown(&request(Some(start), State::Pending { step: 0 }));
        assert_eq!(
            shown.as_str(),
            format!(
                "4 h, from <!date^{}^{{date_short_pretty}} at {{time}}|2026-12-08 08:00 UTC> until <!date^{}^{{date_short_pretty}} at {{time}}|2026-12-08 12:00 UTC>",
                start.timestamp(),
                start.timestamp() + 4 * 3600
            )
        );
        let now = duration_shown(&request(None, State::Pending { step: 0 }));
        assert_eq!(now.as_str(), "4 h");
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
