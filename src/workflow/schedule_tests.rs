use std::collections::BTreeSet;
use std::time::Duration as StdDuration;

use chrono::{TimeZone, Utc};

use super::*;
use crate::workflow::approval::{self, Action, Actor, Effect};
use crate::workflow::grant::{self, GrantAction, GrantRefusal, GrantState, TaskKind, Timing, Via};
use crate::workflow::request::{Quorum, Step};
use crate::workflow::submit::{self, fields, Context, Form, PolicyVerdict, Requestable};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("time")
}

fn hours(n: i64) -> Duration {
    Duration::hours(n)
}

fn requestable(auto_approve: bool) -> Requestable {
    Requestable {
        entitlement_name: "ReadOnly".into(),
        max_duration: None,
        permanent_allowed: true,
        policy: PolicyVerdict {
            allowed: true,
            auto_approve,
            ..PolicyVerdict::default()
        },
        steps: vec![Step::new("lead", ["bob".to_string()], Quorum::Any)],
    }
}

fn form(duration: &str, starts_at: Option<DateTime<Utc>>) -> Form {
    Form {
        resource: Some("aws-prod".into()),
        entitlement: Some("readonly".into()),
        duration: Some(duration.into()),
        justification: Some("maintenance window".into()),
        on_behalf_of: None,
        starts_at,
        emergency: false,
        fields: Default::default(),
    }
}

fn submitted(form: &Form, auto: bool) -> Result<submit::Created, submit::FieldErrors> {
    submit::create(
        form,
        Some(&requestable(auto)),
        Context {
            id: "REQ-1".into(),
            requester: "alice",
            beneficiary: "alice",
            now: now(),
            pending_ttl: hours(24),
        },
    )
}

fn scheduled(start_in: Duration) -> AccessRequest {
    submitted(&form("14400", Some(now() + start_in)), false)
        .map(|c| c.request)
        .unwrap_or_else(|e| panic!("valid: {e:?}"))
}

fn approved(request: &AccessRequest, at: DateTime<Utc>) -> (AccessRequest, Vec<Effect>) {
    let bob = Actor {
        user: "bob".into(),
        policy_allows: true,
        policy_reasons: Vec::new(),
        self_approval_allowed: false,
    };
    let t = approval::apply(request, Action::Approve, &bob, at).expect("approves");
    (t.request, t.effects)
}

fn timing() -> Timing {
    Timing {
        remind_before_expiry: StdDuration::from_secs(900),
        revoke_overdue_after: StdDuration::from_secs(3600),
    }
}

fn manual() -> Via {
    Via::Manual {
        assignees: BTreeSet::from(["ops".to_string()]),
        after_failure: None,
    }
}

#[test]
fn a_start_in_the_past_is_an_error_on_the_start_field() {
    let errors = submitted(&form("14400", Some(now() - hours(2))), false)
        .err()
        .expect("invalid");
    assert!(
        errors[fields::STARTS_AT].contains("in the past"),
        "{errors:?}"
    );
}

#[test]
fn a_start_too_far_ahead_is_an_error_on_the_start_field() {
    let errors = submitted(&form("14400", Some(now() + Duration::days(31))), false)
        .err()
        .expect("invalid");
    assert!(errors[fields::STARTS_AT].contains("30 days"), "{errors:?}");
}

#[test]
fn a_start_within_a_minute_of_now_is_access_from_approval() {
    for start in [now() - Duration::seconds(59), now() + Duration::seconds(30)] {
        let request = submitted(&form("14400", Some(start)), false)
            .expect("valid")
            .request;
        assert_eq!(request.starts_at, None);
        assert_eq!(request.decide_by, now() + hours(24));
    }
}

#[test]
fn a_scheduled_request_may_be_decided_until_its_window_closes() {
    let request = scheduled(Duration::days(3));
    assert_eq!(request.starts_at, Some(now() + Duration::days(3)));
    assert_eq!(request.decide_by, now() + Duration::days(3) + hours(4));
    assert_eq!(
        window(&request),
        Some(Window {
            start: now() + Duration::days(3),
            end: Some(now() + Duration::days(3) + hours(4)),
        })
    );
}

#[test]
fn permanent_scheduled_access_may_be_decided_the_usual_time_after_its_start() {
    let request = submitted(&form("permanent", Some(now() + hours(5))), false)
        .expect("valid")
        .request;
    assert_eq!(request.decide_by, now() + hours(5) + hours(24));
    assert_eq!(window(&request).and_then(|w| w.end), None);
}

#[test]
fn an_approval_before_the_window_waits_and_provisioning_starts_at_the_window() {
    let request = scheduled(hours(10));
    let (request, effects) = approved(&request, now() + hours(1));
    assert!(effects.contains(&Effect::Provision));
    assert!(waiting(&request));
    assert_eq!(request.stage(), "scheduled");
    let start = GrantAction::Start { via: manual() };
    let early = grant::apply(&request, start.clone(), now() + hours(9), timing());
    assert_eq!(early.err(), Some(GrantRefusal::NotDue));
    let started = grant::apply(&request, start, now() + hours(10), timing()).expect("starts");
    assert_eq!(started.request.stage(), "provisioning");
    assert!(!waiting(&started.request));
}

#[test]
fn access_ends_at_start_plus_duration_even_when_granted_late() {
    let request = scheduled(hours(10));
    let (request, _) = approved(&request, now() + hours(1));
    let at_start = now() + hours(10);
    let started = grant::apply(
        &request,
        GrantAction::Start { via: manual() },
        at_start,
        timing(),
    )
    .expect("starts");
    let done = grant::apply(
        &started.request,
        GrantAction::Complete {
            kind: TaskKind::Grant,
            by: "ops".into(),
        },
        at_start + hours(1),
        timing(),
    )
    .expect("completes");
    let grant = done.request.grant.expect("a grant");
    assert_eq!(grant.state, GrantState::Active);
    assert_eq!(grant.active_from, Some(at_start + hours(1)));
    assert_eq!(grant.expires_at, Some(at_start + hours(4)));
}

#[test]
fn an_approval_inside_the_window_provisions_at_once_until_the_window_closes() {
    let request = scheduled(hours(2));
    let (request, _) = approved(&request, now() + hours(3));
    let started = grant::apply(
        &request,
        GrantAction::Start { via: manual() },
        now() + hours(3),
        timing(),
    )
    .expect("starts at once");
    let done = grant::apply(
        &started.request,
        GrantAction::Complete {
            kind: TaskKind::Grant,
            by: "ops".into(),
        },
        now() + hours(3),
        timing(),
    )
    .expect("completes");
    let expires = done.request.grant.and_then(|g| g.expires_at);
    assert_eq!(expires, Some(now() + hours(6)));
}

#[test]
fn an_undecided_request_expires_when_its_window_closes_not_before() {
    let request = scheduled(Duration::days(2));
    let end = now() + Duration::days(2) + hours(4);
    let early = approval::apply(&request, Action::Expire, &Actor::system(), end - hours(1));
    assert!(early.is_err(), "not due before the window closes");
    let expired =
        approval::apply(&request, Action::Expire, &Actor::system(), end).expect("expires");
    assert_eq!(expired.request.state, State::Expired);
}

#[test]
fn auto_approved_scheduled_access_waits_for_its_window() {
    let created = submitted(&form("3600", Some(now() + hours(3))), true).expect("valid");
    assert!(waiting(&created.request));
    let early = grant::apply(
        &created.request,
        GrantAction::Start { via: manual() },
        now(),
        timing(),
    );
    assert_eq!(early.err(), Some(GrantRefusal::NotDue));
}

#[test]
fn approved_access_waiting_for_its_window_may_be_withdrawn_by_its_requester_only() {
    let (request, _) = approved(&scheduled(hours(10)), now() + hours(1));
    let as_user = |user: &str| Actor {
        user: user.into(),
        ..Actor::system()
    };
    let refused = approval::apply(&request, Action::Cancel, &as_user("bob"), now() + hours(2));
    assert_eq!(refused.err(), Some(approval::Refusal::NotYourRequest));
    let withdrawn = approval::apply(
        &request,
        Action::Cancel,
        &as_user("alice"),
        now() + hours(2),
    )
    .expect("withdrawn");
    assert!(matches!(withdrawn.request.state, State::Cancelled { .. }));
    assert!(!waiting(&withdrawn.request));
    let start = grant::apply(
        &withdrawn.request,
        GrantAction::Start { via: manual() },
        now() + hours(10),
        timing(),
    );
    assert_eq!(start.err(), Some(GrantRefusal::NotApproved));
}
