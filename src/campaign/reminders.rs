//! When a running campaign reminds its reviewers: halfway to the due date and a day
//! before it, never in its first hour (a short campaign gets fewer reminders).
//!
//! Pure: the caller stores one timer per instant when the campaign starts; a timer
//! that fires when nobody is left waiting does nothing ([`super::Refusal::NothingToRemind`]).

use chrono::{DateTime, TimeDelta, Utc};

/// Nothing is sent this soon after the start: reviewers have just been asked.
const QUIET_START: TimeDelta = TimeDelta::hours(1);
/// The last reminder comes this long before the due date.
const LAST_CALL: TimeDelta = TimeDelta::days(1);

/// The reminder instants for a campaign started at `started` and due at `due`, in
/// order, each strictly between the quiet start and the due date.
pub fn reminder_times(started: DateTime<Utc>, due: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let halfway = started + (due - started) / 2;
    let mut times: Vec<DateTime<Utc>> = [halfway, due - LAST_CALL]
        .into_iter()
        .filter(|t| *t >= started + QUIET_START && *t < due)
        .collect();
    times.sort_unstable();
    times.dedup();
    times
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_000_000, 0)
            .single()
            .expect("valid instant")
            + TimeDelta::hours(hours)
    }

    #[test]
    fn a_week_long_review_reminds_halfway_and_a_day_before() {
        assert_eq!(reminder_times(at(0), at(7 * 24)), [at(84), at(6 * 24)]);
    }

    #[test]
    fn a_two_day_review_reminds_once_when_both_fall_together() {
        assert_eq!(reminder_times(at(0), at(48)), [at(24)]);
    }

    #[test]
    fn a_review_due_within_a_day_is_reminded_halfway_only_if_an_hour_has_passed() {
        assert_eq!(reminder_times(at(0), at(12)), [at(6)]);
        assert_eq!(reminder_times(at(0), at(1)), Vec::<DateTime<Utc>>::new());
    }

    #[test]
    fn a_due_date_already_passed_gets_no_reminder() {
        assert!(reminder_times(at(10), at(5)).is_empty());
    }
}
