//! Retention, as pure decisions: when a request closed (nothing about it can change
//! any more), and which closing days are old enough to leave the hot tables.
//!
//! Closed: denied, cancelled, expired without a decision, or approved and its access
//! over for good (revoked, failed, or continued by an extension).

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::grant::{Grant, GrantState, Task};
use super::request::{AccessRequest, State};

/// When `request` closed, or `None` while anything about it may still happen.
/// A cancelled request counts from when it was cancelled; one cancelled before that
/// time was kept, from its last decision or, without one, from when it was asked.
pub fn closed_at(request: &AccessRequest) -> Option<DateTime<Utc>> {
    let last_decision = request.decisions.iter().map(|d| d.at).max();
    let since_asked = |at: Option<DateTime<Utc>>| {
        Some(at.map_or(request.created_at, |at| at.max(request.created_at)))
    };
    match &request.state {
        State::Pending { .. } => None,
        State::Cancelled { at: Some(at), .. } => Some(*at),
        State::Denied { .. } | State::Cancelled { .. } => since_asked(last_decision),
        State::Expired => Some(request.decide_by),
        State::Approved { .. } => {
            let grant = request.grant.as_ref()?;
            match grant.state {
                GrantState::Revoked | GrantState::Failed | GrantState::Superseded { .. } => {
                    since_asked(grant.ended_at.or_else(|| latest(grant)))
                }
                GrantState::Provisioning | GrantState::Active | GrantState::Deprovisioning => None,
            }
        }
    }
}

/// The latest instant a grant records.
fn latest(grant: &Grant) -> Option<DateTime<Utc>> {
    let task = |t: &Task| [Some(t.started_at), t.done.as_ref().map(|d| d.at)];
    task(&grant.provision)
        .into_iter()
        .chain(grant.deprovision.iter().flat_map(task))
        .chain([grant.active_from])
        .flatten()
        .max()
}

/// The closing day a request is filed under (UTC).
pub fn closed_day(at: DateTime<Utc>) -> NaiveDate {
    at.date_naive()
}

/// The closing days to archive now: every day after `done_through` (the last day
/// already archived; `None`: none yet, start at `first`) whose requests closed more
/// than `keep` before `now`. A day is archived only once all of it is old enough.
pub fn days_due(
    done_through: Option<NaiveDate>,
    first: NaiveDate,
    now: DateTime<Utc>,
    keep: Duration,
) -> Vec<NaiveDate> {
    let Some(cutoff) = now.checked_sub_signed(keep) else {
        return Vec::new();
    };
    // The last whole day before the cutoff day.
    let Some(last) = closed_day(cutoff).pred_opt() else {
        return Vec::new();
    };
    let mut day = match done_through {
        Some(day) => match day.succ_opt() {
            Some(next) => next,
            None => return Vec::new(),
        },
        None => first,
    };
    let mut due = Vec::new();
    while day <= last {
        due.push(day);
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    due
}

#[cfg(test)]
#[path = "retention_tests.rs"]
mod tests;
