use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::workflow::break_glass::{Emergency, Review, Verdict};
use crate::workflow::grant::{Blocked, Ending, Grant, GrantState, Task, TaskDone, TaskKind, Via};
use crate::workflow::request::{AccessDuration, AccessRequest, Decision, Quorum, State, Step};

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + secs, 123_456_789)
        .single()
        .expect("a valid instant")
}

fn people(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

fn task(kind: TaskKind, via: Via) -> Task {
    Task {
        kind,
        via,
        started_at: at(100),
        done: Some(TaskDone {
            by: "UWORK".into(),
            at: at(200),
            completed: true,
            detail: Some("done \"by hand\"".into()),
        }),
        reminders: 3,
        escalated_to: people(&["UOWNER"]),
        blocked: Some(Blocked {
            by: "UWORK".into(),
            reason: "waiting on vendor".into(),
        }),
    }
}

/// Every field set, every enum off its default, so a conversion that forgets one fails.
fn everything() -> AccessRequest {
    let mut first = Step::new("manager", ["UMGR".to_owned()], Quorum::Any);
    first.approvals = people(&["UMGR"]);
    first.notify_channel = Some("C0APPROVE".into());
    let mut second = Step::new(
        "security",
        ["USEC1".to_owned(), "USEC2".to_owned()],
        Quorum::AtLeast(2),
    );
    second.escalate_to = people(&["UOWNER"]);
    second.escalate_after = Some(Duration::from_secs(3600));
    second.escalated = true;
    let third = Step::new("all", ["UA".to_owned()], Quorum::All);
    AccessRequest {
        id: "REQ-1042".into(),
        requester: "UALICE".into(),
        beneficiary: "UBOB".into(),
        resource: "prod-db".into(),
        entitlement: "read-only".into(),
        duration: AccessDuration::For(Duration::from_secs(45)),
        justification: "INC-1 <!here> *bold*".into(),
        fields: [("ticket".to_owned(), "INC-1".to_owned())].into(),
        created_at: at(0),
        decide_by: at(86_400),
        steps: vec![first, second, third],
        state: State::Denied {
            by: "USEC1".into(),
            reason: Some("not now".into()),
        },
        decisions: vec![Decision {
            step: 1,
            by: "USEC1".into(),
            approved: false,
            reason: Some("not now".into()),
            at: at(300),
        }],
        grant: Some(Grant {
            state: GrantState::Superseded {
                by: "REQ-1043".into(),
            },
            provision: task(
                TaskKind::Grant,
                Via::Manual {
                    assignees: people(&["UWORK"]),
                    after_failure: Some("webhook said 500".into()),
                },
            ),
            deprovision: Some(task(
                TaskKind::Revoke,
                Via::Automatic {
                    provisioner: "webhook".into(),
                },
            )),
            active_from: Some(at(400)),
            expires_at: Some(at(4000)),
            ending: Some(Ending::Revoked {
                by: "UOWNER".into(),
                reason: "left the team".into(),
            }),
            ending_started_at: Some(at(500)),
            ended_at: Some(at(600)),
            expiry_reminded: true,
            continues: Some("REQ-1000".into()),
        }),
        extends: Some("REQ-1000".into()),
        starts_at: Some(at(7200)),
        emergency: Some(Emergency {
            at: at(10),
            reason: "the database is down".into(),
            reviewers: people(&["UMGR", "USEC1"]),
            escalated: true,
            review: Some(Review {
                by: "USEC1".into(),
                at: at(900),
                verdict: Verdict::Revoke {
                    reason: "not an incident".into(),
                },
            }),
            reminders: 2,
        }),
    }
}

#[test]
fn a_break_glass_review_that_found_it_right_survives_the_stored_form() {
    let mut request = everything();
    if let Some(review) = request.emergency.as_mut().and_then(|e| e.review.as_mut()) {
        review.verdict = Verdict::LooksRight;
    }
    assert_eq!(round_trip(&request), request);
}

fn round_trip(request: &AccessRequest) -> AccessRequest {
    let text = serde_json::to_string(&RequestV2::from(request)).expect("encodes");
    AccessRequest::from(serde_json::from_str::<RequestV2>(&text).expect("decodes"))
}

#[test]
fn every_field_survives_the_stored_form() {
    let request = everything();
    assert_eq!(round_trip(&request), request);
}

#[test]
fn every_state_survives_the_stored_form() {
    let states = [
        State::Pending { step: 2 },
        State::Approved { auto: true },
        State::Approved { auto: false },
        State::Cancelled {
            by: "UALICE".into(),
            at: None,
        },
        State::Cancelled {
            by: "UALICE".into(),
            at: Some(DateTime::from_timestamp_nanos(1_763_630_043_123_456_789)),
        },
        State::Expired,
    ];
    for state in states {
        let mut request = everything();
        request.state = state;
        request.duration = AccessDuration::Permanent;
        request.beneficiary = request.requester.clone();
        assert_eq!(round_trip(&request), request);
    }
    for grant_state in [
        GrantState::Provisioning,
        GrantState::Active,
        GrantState::Deprovisioning,
        GrantState::Revoked,
        GrantState::Failed,
    ] {
        let mut request = everything();
        if let Some(grant) = request.grant.as_mut() {
            grant.state = grant_state;
            grant.ending = Some(Ending::Expired { due: at(4000) });
        }
        assert_eq!(round_trip(&request), request);
    }
}

#[test]
fn an_active_grant_is_compact() {
    let mut request = everything();
    request.state = State::Approved { auto: false };
    request.steps.truncate(1);
    request.decisions.clear();
    request.extends = None;
    if let Some(grant) = request.grant.as_mut() {
        grant.state = GrantState::Active;
        grant.deprovision = None;
        grant.ending = None;
        grant.ending_started_at = None;
        grant.ended_at = None;
        grant.continues = None;
        grant.provision.blocked = None;
        grant.provision.escalated_to.clear();
        grant.provision.reminders = 0;
    }
    let stored = serde_json::to_string(&RequestV2::from(&request)).expect("encodes");
    let domain = serde_json::to_string(&request).expect("encodes");
    assert!(
        stored.len() * 2 < domain.len(),
        "stored {} bytes, domain form {} bytes: {stored}",
        stored.len(),
        domain.len()
    );
}

#[test]
fn a_version_one_request_upgrades_to_the_same_request() {
    let request = everything();
    let v1 = serde_json::to_value(&request).expect("the version-1 form");
    let v2 = upgrade_v1(v1).expect("upgrades");
    let back = AccessRequest::from(serde_json::from_value::<RequestV2>(v2).expect("reads"));
    assert_eq!(back, request);
}

#[test]
fn a_record_written_before_scheduling_reads_as_access_from_approval() {
    let mut value = serde_json::to_value(RequestV2::from(&everything())).expect("encodes");
    assert!(
        value["sa"].is_i64(),
        "the start is stored as nanoseconds: {value}"
    );
    if let Some(fields) = value.as_object_mut() {
        fields.remove("sa");
    }
    let read = AccessRequest::from(serde_json::from_value::<RequestV2>(value).expect("reads"));
    assert_eq!(read.starts_at, None);
    assert_eq!(read.decide_by, everything().decide_by);
}

#[test]
fn an_unknown_grant_state_is_an_error_not_a_guess() {
    let mut value = serde_json::to_value(RequestV2::from(&everything())).expect("encodes");
    value["g"]["st"] = json!("z");
    assert!(serde_json::from_value::<RequestV2>(value).is_err());
}
