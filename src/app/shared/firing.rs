//! What firing one timer comes to ([`Fired`]): the change to commit, what follows
//! its commit, and its audit entry. The loop completes the entry when the change
//! commits, with when the timer was due, when it fired and how late, so the entry
//! tells the truth also for an expiry prepared ahead of its time.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::app::shared::handles::Job;
use crate::store::{AuditEvent, Change, TimerEntry};
use crate::workflow::request::AccessRequest;

/// What firing one timer comes to.
pub enum Fired {
    /// Commit this, then do what follows it.
    Commit(Firing),
    /// Handled another way (a provisioner run was started), or not due yet.
    Nothing,
}

/// The change every firing starts from: timer `entry`, due `at`, removed, stamped
/// `now` (a firing that does nothing else just drops the timer).
pub fn dropping(at: DateTime<Utc>, entry: &TimerEntry, now: DateTime<Utc>) -> Change {
    Change::new()
        .at(now)
        .cancel_timer(at, &entry.subject, &entry.kind)
}

impl Fired {
    /// Commit `change`; nothing follows and nothing is audited.
    pub fn just(change: Change) -> Self {
        Fired::Commit(Firing {
            change,
            request: None,
            job: None,
            audit: None,
        })
    }
}

/// A firing ready to commit.
pub struct Firing {
    pub change: Change,
    /// After the commit, the homes of the people on this request are refreshed.
    pub request: Option<Box<AccessRequest>>,
    /// After the commit, this provisioner run starts (the change holds its lease).
    pub job: Option<Job>,
    pub audit: Option<Box<TimerAudit>>,
}

impl Firing {
    /// The change as it commits at `now` for a timer due `at` (stamped `now`, with
    /// its audit entry), and what follows it.
    pub fn commit_at(
        self,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> (Change, Option<Box<AccessRequest>>, Option<Job>) {
        let change = self.change.at(now);
        let change = match self.audit {
            Some(audit) => change.audit(audit.event(at, now)),
            None => change,
        };
        (change, self.request, self.job)
    }
}

/// A timer's audit entry, but for when it fired.
pub struct TimerAudit {
    action: String,
    subject: String,
    detail: Map<String, Value>,
}

impl TimerAudit {
    /// `detail` is an object; anything else is recorded under `detail`.
    pub fn new(action: impl Into<String>, subject: impl Into<String>, detail: Value) -> Self {
        let detail = match detail {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => Map::from_iter([("detail".to_owned(), other)]),
        };
        Self {
            action: action.into(),
            subject: subject.into(),
            detail,
        }
    }

    /// The entry for a timer due `due` that fired at `fired`.
    pub fn event(self, due: DateTime<Utc>, fired: DateTime<Utc>) -> AuditEvent {
        let mut detail = self.detail;
        detail.insert("due".into(), json!(due));
        detail.insert("fired".into(), json!(fired));
        detail.insert("late_ms".into(), json!((fired - due).num_milliseconds()));
        AuditEvent {
            actor: "c1bot".into(),
            action: self.action,
            subject: self.subject,
            detail: Value::Object(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("a time")
    }

    #[test]
    fn the_entry_says_when_the_timer_fired_not_when_it_was_prepared() {
        let audit = TimerAudit::new(
            "grant.expired",
            "REQ-1",
            json!({ "state": "deprovisioning" }),
        );
        let event = audit.event(at("2026-01-01T09:00:00Z"), at("2026-01-01T09:00:01.250Z"));
        assert_eq!(event.action, "grant.expired");
        assert_eq!(event.subject, "REQ-1");
        assert_eq!(event.detail["late_ms"], 1250);
        assert_eq!(event.detail["state"], "deprovisioning");
        assert_eq!(event.detail["due"], json!(at("2026-01-01T09:00:00Z")));
        assert_eq!(event.detail["fired"], json!(at("2026-01-01T09:00:01.250Z")));
    }

    #[test]
    fn a_detail_that_is_not_an_object_is_kept_under_detail() {
        let event = TimerAudit::new("x", "REQ-1", json!("why"))
            .event(at("2026-01-01T09:00:00Z"), at("2026-01-01T09:00:00Z"));
        assert_eq!(event.detail["detail"], "why");
    }
}
