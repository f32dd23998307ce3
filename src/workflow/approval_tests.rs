use chrono::{Duration as ChronoDuration, TimeZone, Utc};

use super::*;
use crate::workflow::request::{AccessDuration, Quorum, Step};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn request(steps: Vec<Step>) -> AccessRequest {
    AccessRequest {
        id: "REQ-1042".into(),
        requester: "alice".into(),
        beneficiary: "alice".into(),
        resource: "aws-prod".into(),
        entitlement: "readonly".into(),
        duration: AccessDuration::For(std::time::Duration::from_secs(4 * 3600)),
        justification: "incident 4711".into(),
        created_at: now(),
        decide_by: now() + ChronoDuration::hours(24),
        steps,
        state: State::Pending { step: 0 },
        decisions: Vec::new(),
        grant: None,
        extends: None,
        fields: Default::default(),
        starts_at: None,
        emergency: None,
    }
}

fn one_step(approvers: &[&str], quorum: Quorum) -> AccessRequest {
    request(vec![Step::new(
        "lead",
        approvers.iter().map(|a| a.to_string()),
        quorum,
    )])
}

fn approver(user: &str) -> Actor {
    Actor {
        user: user.into(),
        policy_allows: true,
        policy_reasons: Vec::new(),
        self_approval_allowed: false,
    }
}

#[test]
fn one_approval_approves_an_any_step_and_starts_provisioning() {
    let t = apply(
        &one_step(&["bob", "carol"], Quorum::Any),
        Action::Approve,
        &approver("bob"),
        now(),
    )
    .expect("approved");
    assert_eq!(t.request.state, State::Approved { auto: false });
    assert_eq!(
        t.effects,
        [
            Effect::RefreshCopies,
            Effect::TellRequester(Outcome::Approved),
            Effect::Provision
        ]
    );
    assert_eq!(t.request.decisions.len(), 1);
}

#[test]
fn a_quorum_of_two_waits_for_the_second_approver() {
    let req = one_step(&["bob", "carol", "frank"], Quorum::AtLeast(2));
    let first = apply(&req, Action::Approve, &approver("bob"), now()).expect("counted");
    assert_eq!(first.request.state, State::Pending { step: 0 });
    assert_eq!(first.effects, [Effect::RefreshCopies]);
    let second =
        apply(&first.request, Action::Approve, &approver("carol"), now()).expect("counted");
    assert_eq!(second.request.state, State::Approved { auto: false });
}

#[test]
fn an_all_step_needs_every_approver() {
    let req = one_step(&["bob", "carol"], Quorum::All);
    let first = apply(&req, Action::Approve, &approver("bob"), now()).expect("counted");
    assert!(first.request.state.is_open());
    let second =
        apply(&first.request, Action::Approve, &approver("carol"), now()).expect("counted");
    assert_eq!(second.request.state, State::Approved { auto: false });
}

#[test]
fn a_two_step_chain_asks_the_next_step_after_the_first() {
    let req = request(vec![
        Step::new("lead", ["bob".to_string()], Quorum::Any),
        Step::new("security", ["carol".to_string()], Quorum::Any),
    ]);
    let first = apply(&req, Action::Approve, &approver("bob"), now()).expect("step 1");
    assert_eq!(first.request.state, State::Pending { step: 1 });
    assert_eq!(
        first.effects,
        [Effect::RefreshCopies, Effect::AskApprovers { step: 1 }]
    );
    let refused = apply(&first.request, Action::Approve, &approver("bob"), now());
    assert_eq!(
        refused.err(),
        Some(Refusal::NotAnApprover),
        "step 1's approver cannot decide step 2"
    );
    let second = apply(&first.request, Action::Approve, &approver("carol"), now()).expect("step 2");
    assert_eq!(second.request.state, State::Approved { auto: false });
}

#[test]
fn self_approval_is_refused_even_for_a_listed_approver() {
    let req = one_step(&["alice", "bob"], Quorum::Any);
    let refused = apply(&req, Action::Approve, &approver("alice"), now());
    assert_eq!(refused.err(), Some(Refusal::SelfApproval));
}

#[test]
fn self_approval_is_allowed_only_when_policy_says_so_explicitly() {
    let req = one_step(&["alice"], Quorum::Any);
    let mut alice = approver("alice");
    alice.self_approval_allowed = true;
    assert!(apply(&req, Action::Approve, &alice, now()).is_ok());
}

#[test]
fn a_non_approver_is_refused_and_nothing_changes() {
    let req = one_step(&["bob"], Quorum::Any);
    assert_eq!(
        apply(&req, Action::Approve, &approver("mallory"), now()).err(),
        Some(Refusal::NotAnApprover)
    );
}

#[test]
fn policy_can_refuse_a_listed_approver_with_its_reason() {
    let req = one_step(&["bob"], Quorum::Any);
    let mut bob = approver("bob");
    bob.policy_allows = false;
    bob.policy_reasons = vec!["approvers need 2FA".into()];
    let refused = apply(&req, Action::Approve, &bob, now())
        .err()
        .expect("refused");
    assert!(refused.message("REQ-1042").contains("approvers need 2FA"));
}

#[test]
fn a_second_decision_is_refused_and_names_who_decided() {
    let req = one_step(&["bob", "carol"], Quorum::Any);
    let decided = apply(&req, Action::Approve, &approver("bob"), now()).expect("approved");
    let late = apply(
        &decided.request,
        Action::Deny { reason: None },
        &approver("carol"),
        now(),
    )
    .err()
    .expect("too late");
    assert_eq!(
        late.message("REQ-1042"),
        "REQ-1042 was already approved by <@bob>."
    );
}

#[test]
fn a_double_click_by_the_same_approver_counts_once() {
    let req = one_step(&["bob", "carol"], Quorum::All);
    let once = apply(&req, Action::Approve, &approver("bob"), now()).expect("counted");
    assert_eq!(
        apply(&once.request, Action::Approve, &approver("bob"), now()).err(),
        Some(Refusal::AlreadyApprovedByYou)
    );
}

#[test]
fn a_deny_closes_the_request_with_its_reason() {
    let req = one_step(&["bob", "carol"], Quorum::AtLeast(2));
    let t = apply(
        &req,
        Action::Deny {
            reason: Some("not during the freeze".into()),
        },
        &approver("carol"),
        now(),
    )
    .expect("denied");
    assert_eq!(
        t.request.state,
        State::Denied {
            by: "carol".into(),
            reason: Some("not during the freeze".into())
        }
    );
    assert_eq!(
        t.effects,
        [
            Effect::RefreshCopies,
            Effect::TellRequester(Outcome::Denied)
        ]
    );
}

#[test]
fn only_the_requester_may_cancel() {
    let req = one_step(&["bob"], Quorum::Any);
    assert_eq!(
        apply(&req, Action::Cancel, &approver("bob"), now()).err(),
        Some(Refusal::NotYourRequest)
    );
    let t = apply(&req, Action::Cancel, &approver("alice"), now()).expect("cancelled");
    assert!(
        matches!(&t.request.state, State::Cancelled { by, at: Some(_) } if by == "alice"),
        "{:?}",
        t.request.state
    );
}

#[test]
fn a_request_expires_only_after_its_deadline() {
    let req = one_step(&["bob"], Quorum::Any);
    assert_eq!(
        apply(&req, Action::Expire, &Actor::system(), now()).err(),
        Some(Refusal::NotDue)
    );
    let later = now() + ChronoDuration::hours(25);
    let t = apply(&req, Action::Expire, &Actor::system(), later).expect("expired");
    assert_eq!(t.request.state, State::Expired);
    assert_eq!(
        t.effects,
        [
            Effect::RefreshCopies,
            Effect::TellRequester(Outcome::Expired)
        ]
    );
}

#[test]
fn a_reminder_names_the_current_step_and_changes_nothing() {
    let req = one_step(&["bob"], Quorum::Any);
    let t = apply(&req, Action::Remind, &Actor::system(), now()).expect("reminded");
    assert_eq!(t.request, req);
    assert_eq!(t.effects, [Effect::RemindApprovers { step: 0 }]);
}

fn escalating_request() -> AccessRequest {
    let mut step = Step::new("lead", ["bob".to_string()], Quorum::Any);
    step.escalate_to = ["frank".to_string(), "alice".to_string()]
        .into_iter()
        .collect();
    step.escalate_after = Some(std::time::Duration::from_secs(7200));
    request(vec![
        step,
        Step::new("security", ["carol".to_string()], Quorum::Any),
    ])
}

#[test]
fn an_undecided_step_escalates_to_its_next_tier_once_and_asks_only_the_newcomers() {
    let t = apply(
        &escalating_request(),
        Action::Escalate { step: 0 },
        &Actor::system(),
        now(),
    )
    .expect("escalated");
    assert_eq!(
        t.effects,
        [
            Effect::AskAdded {
                step: 0,
                added: vec!["frank".into()]
            },
            Effect::RefreshCopies
        ],
        "the requester is never added"
    );
    assert!(t.request.steps[0].approvers.contains("frank") && t.request.steps[0].escalated);
    let again = apply(
        &t.request,
        Action::Escalate { step: 0 },
        &Actor::system(),
        now(),
    );
    assert_eq!(again.err(), Some(Refusal::NothingToEscalate));
    let frank = apply(&t.request, Action::Approve, &approver("frank"), now())
        .expect("the next tier may decide");
    assert_eq!(frank.request.state, State::Pending { step: 1 });
}

#[test]
fn an_escalation_for_a_step_already_passed_does_nothing() {
    let moved = apply(
        &escalating_request(),
        Action::Approve,
        &approver("bob"),
        now(),
    )
    .expect("step 1 done");
    assert_eq!(
        apply(
            &moved.request,
            Action::Escalate { step: 0 },
            &Actor::system(),
            now()
        )
        .err(),
        Some(Refusal::NothingToEscalate)
    );
}
