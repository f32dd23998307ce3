//! One person's step-up state and the pure rules over it: whether they may enrol,
//! must verify, or are locked out; which verification is live; what a failure or a
//! success changes. No I/O, no clock: the caller passes `now`.

use chrono::{DateTime, Duration, Utc};

/// Failed attempts (wrong or replayed codes, any modal) a person may make within
/// [`FAILURE_WINDOW`] before further attempts are refused until the oldest ages out.
pub const MAX_FAILURES: usize = 5;
pub const FAILURE_WINDOW: Duration = Duration::minutes(15);
/// How long a verification opened by Approve stays answerable.
pub const CHALLENGE_TTL: Duration = Duration::minutes(10);

/// Everything c1bot keeps about one person's step-up, stored as one record so every
/// change to it is one compare-and-swap.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepUp {
    /// An admin's allowance to enrol (or enrol again), consumed by enrolling.
    pub allowance: Option<Allowance>,
    pub enrolment: Option<Enrolment>,
    /// The newest time step (or a push provider's counter) accepted: a code at or
    /// before it is a replay.
    pub last_counter: u64,
    /// When recent failed attempts happened (only those within the window are kept).
    pub failures: Vec<DateTime<Utc>>,
    /// The verification an Approve click opened, if one is live.
    pub challenge: Option<Challenge>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowance {
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The TOTP secret, sealed (see `crate::app::shared::seal`).
    pub sealed_secret: String,
    pub at: DateTime<Utc>,
}

/// Server-side state behind one open modal: the modal's `private_metadata` names
/// it, and a submission counts only if it is this person's live challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub id: String,
    pub request_id: String,
    pub expires_at: DateTime<Utc>,
    /// While enrolling: the new secret (sealed), shown only in the modal.
    pub pending_secret: Option<String>,
    /// The Slack view showing it, once `views.open` answered: a submission from any
    /// other view does not count.
    pub view_id: Option<String>,
}

/// What an Approve click that needs step-up leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Neither enrolled nor allowed to enrol: tell them how to get enrolled.
    Explain,
    /// An admin allowed enrolment: the enrolment modal.
    Enrol,
    /// The verification modal.
    Verify,
    /// Too many failed attempts: nothing opens until then.
    Locked { until: DateTime<Utc> },
}

impl StepUp {
    pub fn next(&self, now: DateTime<Utc>) -> Next {
        if let Some(until) = self.locked_until(now) {
            return Next::Locked { until };
        }
        match (&self.allowance, &self.enrolment) {
            (Some(_), _) => Next::Enrol,
            (None, Some(_)) => Next::Verify,
            (None, None) => Next::Explain,
        }
    }

    /// When attempts may start again, while [`MAX_FAILURES`] failures lie within the
    /// window before `now`.
    pub fn locked_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let recent: Vec<&DateTime<Utc>> = self
            .failures
            .iter()
            .filter(|at| **at > now - FAILURE_WINDOW)
            .collect();
        if recent.len() < MAX_FAILURES {
            return None;
        }
        recent
            .into_iter()
            .min()
            .map(|oldest| *oldest + FAILURE_WINDOW)
    }

    /// The challenge `id`, submitted from view `view_id`, if it is this person's live
    /// one (and that view is the one it was opened in, once known).
    pub fn live_challenge(
        &self,
        id: &str,
        view_id: &str,
        now: DateTime<Utc>,
    ) -> Option<&Challenge> {
        self.challenge.as_ref().filter(|c| {
            !id.is_empty()
                && c.id == id
                && c.expires_at > now
                && c.view_id.as_ref().is_none_or(|v| v == view_id)
        })
    }

    /// Records the view challenge `id` was opened in; false if it is not the open one.
    pub fn bind_view(&mut self, id: &str, view_id: &str) -> bool {
        match self.challenge.as_mut() {
            Some(c) if c.id == id && !view_id.is_empty() => {
                c.view_id = Some(view_id.to_owned());
                true
            }
            _ => false,
        }
    }

    /// A new challenge replaces any earlier one (one open modal per person).
    pub fn open(&mut self, challenge: Challenge) {
        self.challenge = Some(challenge);
    }

    /// A failed attempt at `now`; the failures that aged out are dropped.
    pub fn failed(&mut self, now: DateTime<Utc>) {
        self.failures.retain(|at| *at > now - FAILURE_WINDOW);
        self.failures.push(now);
    }

    /// A verification accepted at `counter`: the code is used up, failures forgiven,
    /// the challenge closed.
    pub fn verified(&mut self, counter: u64) {
        self.last_counter = self.last_counter.max(counter);
        self.failures.clear();
        self.challenge = None;
    }

    /// Enrolment confirmed with a code at `counter`: the pending secret becomes the
    /// person's, the allowance is used up, and the code counts as used.
    pub fn enrolled(&mut self, sealed_secret: String, counter: u64, now: DateTime<Utc>) {
        self.enrolment = Some(Enrolment {
            sealed_secret,
            at: now,
        });
        self.allowance = None;
        // A new secret starts its own sequence of steps; only this code is used.
        self.last_counter = counter;
        self.failures.clear();
        self.challenge = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).expect("in range")
    }

    fn enrolled() -> StepUp {
        StepUp {
            enrolment: Some(Enrolment {
                sealed_secret: "sealed".into(),
                at: at(0),
            }),
            ..StepUp::default()
        }
    }

    #[test]
    fn nobody_enrolled_or_allowed_is_told_how_to_enrol() {
        assert_eq!(StepUp::default().next(at(0)), Next::Explain);
    }

    #[test]
    fn an_allowance_opens_enrolment_even_for_someone_enrolled() {
        let mut person = enrolled();
        assert_eq!(person.next(at(0)), Next::Verify);
        person.allowance = Some(Allowance {
            by: "admin".into(),
            at: at(0),
        });
        assert_eq!(person.next(at(0)), Next::Enrol);
    }

    #[test]
    fn the_fifth_failure_within_the_window_locks_until_the_oldest_ages_out() {
        let mut person = enrolled();
        for minute in 0..4 {
            person.failed(at(minute * 60));
            assert_eq!(person.locked_until(at(minute * 60)), None);
        }
        person.failed(at(240));
        let until = at(0) + FAILURE_WINDOW;
        assert_eq!(person.next(at(241)), Next::Locked { until });
        assert_eq!(person.locked_until(until), None, "the oldest aged out");
        assert_eq!(person.next(until), Next::Verify);
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let mut person = enrolled();
        for n in 0..4 {
            person.failed(at(n));
        }
        person.failed(at(0) + FAILURE_WINDOW + Duration::seconds(10));
        assert_eq!(person.failures.len(), 1);
        assert_eq!(person.locked_until(at(2000)), None);
    }

    #[test]
    fn a_challenge_counts_only_by_its_id_and_before_it_expires() {
        let mut person = enrolled();
        person.open(Challenge {
            id: "ch1".into(),
            request_id: "REQ-1".into(),
            expires_at: at(600),
            pending_secret: None,
            view_id: None,
        });
        assert!(person.live_challenge("ch1", "V1", at(10)).is_some());
        assert!(person.live_challenge("ch2", "V1", at(10)).is_none());
        assert!(person.live_challenge("", "V1", at(10)).is_none());
        assert!(
            person.live_challenge("ch1", "V1", at(600)).is_none(),
            "expired"
        );
        assert!(!person.bind_view("ch2", "V1"), "not the open challenge");
        assert!(person.bind_view("ch1", "V1"));
        assert!(person.live_challenge("ch1", "V1", at(10)).is_some());
        assert!(
            person.live_challenge("ch1", "V2", at(10)).is_none(),
            "another view"
        );
    }

    #[test]
    fn success_uses_the_code_forgives_failures_and_closes_the_challenge() {
        let mut person = enrolled();
        person.failed(at(0));
        person.open(Challenge {
            id: "ch1".into(),
            request_id: "REQ-1".into(),
            expires_at: at(600),
            pending_secret: None,
            view_id: None,
        });
        person.verified(42);
        assert_eq!(person.last_counter, 42);
        assert!(person.failures.is_empty() && person.challenge.is_none());
        person.verified(41);
        assert_eq!(person.last_counter, 42, "never moves back");
    }

    #[test]
    fn enrolling_uses_up_the_allowance_and_restarts_the_counter() {
        let mut person = enrolled();
        person.last_counter = 99;
        person.allowance = Some(Allowance {
            by: "admin".into(),
            at: at(0),
        });
        person.enrolled("new".into(), 7, at(5));
        assert_eq!(person.allowance, None);
        assert_eq!(person.last_counter, 7);
        assert_eq!(
            person.enrolment.as_ref().map(|e| e.sealed_secret.as_str()),
            Some("new")
        );
        assert_eq!(person.next(at(6)), Next::Verify);
    }
}
