//! Scheduled access: a request that asks for access from a later time ("from 09:00
//! tomorrow, for 4 h"). Pure.
//!
//! The window is fixed when the request is made: approval does not move it.
//! Provisioning starts at the window's start (a durable timer, `app::scheduled`), or
//! at approval when that comes later; the access ends at start + duration whenever it
//! was granted; a request still undecided when its window closes expires; and one
//! approved may be withdrawn until its window opens.

use chrono::{DateTime, Duration, Utc};

use super::approval::{Actor, Effect, Outcome, Refusal, Transition};
use super::request::{AccessDuration, AccessRequest, State};

/// How far ahead a start may be.
pub const MAX_AHEAD: Duration = Duration::days(30);

/// A start this close to `now` (or a little before it, as a picker's minute rounds
/// down) is no schedule at all: the request is for now.
pub const NOW_SLACK: Duration = Duration::minutes(1);

/// When access starts and, unless permanent, when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

/// The start the person asked for, checked: `None` for access now, or the sentence
/// for the start field.
pub fn checked_start(
    start: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, String> {
    let Some(start) = start else {
        return Ok(None);
    };
    if start < now - NOW_SLACK {
        return Err("That start is in the past: choose a later time, or leave it empty to start as soon as it is approved.".into());
    }
    if start <= now + NOW_SLACK {
        return Ok(None);
    }
    if start > now + MAX_AHEAD {
        return Err(format!(
            "Access can be scheduled at most {} days ahead.",
            MAX_AHEAD.num_days()
        ));
    }
    Ok(Some(start))
}

/// The window of a scheduled request.
pub fn window(request: &AccessRequest) -> Option<Window> {
    let start = request.starts_at?;
    Some(Window {
        start,
        end: end_of(start, request.duration),
    })
}

fn end_of(start: DateTime<Utc>, duration: AccessDuration) -> Option<DateTime<Utc>> {
    match duration {
        AccessDuration::For(d) => Some(start + Duration::from_std(d).unwrap_or(Duration::zero())),
        AccessDuration::Permanent => None,
    }
}

/// Until when a new request may be decided: its window's end for a scheduled request
/// (a request not approved before its window closes expires), the usual time to
/// decide counted from the start for permanent access; `ttl` from `now` otherwise.
pub fn decide_by(
    start: Option<DateTime<Utc>>,
    duration: AccessDuration,
    now: DateTime<Utc>,
    ttl: Duration,
) -> DateTime<Utc> {
    match start {
        None => now + ttl,
        Some(start) => end_of(start, duration).unwrap_or(start + ttl),
    }
}

/// When the clock of `request`'s access starts, if it is granted at `granted`: the
/// window's start for a scheduled request (so a late grant does not move its end),
/// else the grant itself.
pub fn clock_starts(request: &AccessRequest, granted: DateTime<Utc>) -> DateTime<Utc> {
    request.starts_at.unwrap_or(granted).min(granted)
}

/// True while `request` must not be provisioned yet: its window starts after `now`.
pub fn not_yet(request: &AccessRequest, now: DateTime<Utc>) -> bool {
    request.starts_at.is_some_and(|start| start > now)
}

/// Approved and waiting for its window to open (provisioning has not started).
pub fn waiting(request: &AccessRequest) -> bool {
    request.starts_at.is_some()
        && request.grant.is_none()
        && matches!(request.state, State::Approved { .. })
}

/// Cancel on a request approved and waiting for its window: the requester (or the
/// person it is for) may still withdraw it, as while it was pending; nothing was
/// provisioned, and its start timer finds it closed.
pub fn withdraw(
    request: &AccessRequest,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Transition, Refusal> {
    if !request.involves(&actor.user) {
        return Err(Refusal::NotYourRequest);
    }
    let mut next = request.clone();
    next.state = State::Cancelled {
        by: actor.user.clone(),
        at: Some(now),
    };
    Ok(Transition {
        request: next,
        effects: vec![
            Effect::RefreshCopies,
            Effect::TellRequester(Outcome::Cancelled),
        ],
    })
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
