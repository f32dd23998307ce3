use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDate, TimeZone, Utc};

use super::*;
use crate::workflow::grant::{Grant, GrantState, Task, TaskDone, TaskKind, Via};
use crate::workflow::request::{AccessDuration, Decision, Quorum, Step};

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0)
        .single()
        .expect("a valid instant")
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, d).expect("a valid day")
}

fn request(state: State) -> AccessRequest {
    AccessRequest {
        id: "REQ-1001".into(),
        requester: "UALICE".into(),
        beneficiary: "UALICE".into(),
        resource: "aws-prod".into(),
        entitlement: "read-only".into(),
        duration: AccessDuration::For(StdDuration::from_secs(3600)),
        justification: "why".into(),
        created_at: at(1, 9),
        decide_by: at(2, 9),
        steps: vec![Step::new("lead", ["UBOB".to_owned()], Quorum::Any)],
        state,
        decisions: Vec::new(),
        grant: None,
        extends: None,
        fields: Default::default(),
        starts_at: None,
        emergency: None,
    }
}

fn with_grant(state: GrantState, ended: Option<DateTime<Utc>>) -> AccessRequest {
    let mut r = request(State::Approved { auto: false });
    r.grant = Some(Grant {
        state,
        provision: Task {
            kind: TaskKind::Grant,
            via: Via::Manual {
                assignees: BTreeSet::from(["UCAROL".to_owned()]),
                after_failure: None,
            },
            started_at: at(1, 10),
            done: Some(TaskDone {
                by: "UCAROL".into(),
                at: at(1, 11),
                completed: true,
                detail: None,
            }),
            reminders: 0,
            escalated_to: BTreeSet::new(),
            blocked: None,
        },
        deprovision: None,
        active_from: Some(at(1, 11)),
        expires_at: Some(at(1, 12)),
        ending: None,
        ending_started_at: None,
        ended_at: ended,
        expiry_reminded: false,
        continues: None,
    });
    r
}

#[test]
fn an_open_request_or_live_access_is_not_closed() {
    assert_eq!(closed_at(&request(State::Pending { step: 0 })), None);
    for state in [
        GrantState::Provisioning,
        GrantState::Active,
        GrantState::Deprovisioning,
    ] {
        assert_eq!(closed_at(&with_grant(state, None)), None);
    }
}

#[test]
fn a_decided_request_closed_at_its_last_decision() {
    let mut denied = request(State::Denied {
        by: "UBOB".into(),
        reason: None,
    });
    denied.decisions.push(Decision {
        step: 0,
        by: "UBOB".into(),
        approved: false,
        reason: None,
        at: at(1, 15),
    });
    assert_eq!(closed_at(&denied), Some(at(1, 15)));
    let cancelled = request(State::Cancelled {
        by: "UALICE".into(),
        at: None,
    });
    assert_eq!(
        closed_at(&cancelled),
        Some(at(1, 9)),
        "from when it was asked, when the cancellation time is unknown"
    );
    let cancelled = request(State::Cancelled {
        by: "UALICE".into(),
        at: Some(at(1, 10)),
    });
    assert_eq!(
        closed_at(&cancelled),
        Some(at(1, 10)),
        "when it was cancelled"
    );
    assert_eq!(closed_at(&request(State::Expired)), Some(at(2, 9)));
}

#[test]
fn ended_access_closed_when_it_ended_or_at_its_last_step() {
    let revoked = with_grant(GrantState::Revoked, Some(at(3, 8)));
    assert_eq!(closed_at(&revoked), Some(at(3, 8)));
    let failed = with_grant(GrantState::Failed, None);
    assert_eq!(closed_at(&failed), Some(at(1, 11)));
    let extended = with_grant(
        GrantState::Superseded {
            by: "REQ-1002".into(),
        },
        None,
    );
    assert_eq!(closed_at(&extended), Some(at(1, 11)));
}

#[test]
fn only_whole_days_older_than_the_keep_time_are_due() {
    let keep = Duration::days(90);
    let now = at(1, 12) + Duration::days(90);
    // The cutoff falls on March 1st at noon: that day is not whole yet.
    assert_eq!(days_due(None, day(1), now, keep), Vec::<NaiveDate>::new());
    let due = days_due(None, day(1), now + Duration::days(2), keep);
    assert_eq!(due, vec![day(1), day(2)]);
    assert_eq!(
        days_due(Some(day(1)), day(1), now + Duration::days(2), keep),
        vec![day(2)]
    );
    assert_eq!(
        days_due(Some(day(2)), day(1), now + Duration::days(2), keep),
        Vec::<NaiveDate>::new(),
        "nothing twice"
    );
}
