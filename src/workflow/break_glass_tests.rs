use chrono::{Duration as ChronoDuration, TimeZone};

use super::*;
use crate::workflow::request::{Quorum, Step};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 3, 0, 0)
        .single()
        .expect("valid time")
}

const HOUR: Duration = Duration::from_secs(3600);

fn open(duration: AccessDuration) -> AccessRequest {
    AccessRequest {
        requester: "alice".into(),
        beneficiary: "alice".into(),
        resource: "aws-prod".into(),
        entitlement: "admin".into(),
        duration,
        justification: "database down".into(),
        decide_by: now() + ChronoDuration::hours(24),
        steps: vec![Step::new("lead", ["bob".to_owned()], Quorum::Any)],
        ..AccessRequest::example(now())
    }
}

fn people(ids: &[&str]) -> BTreeSet<UserId> {
    ids.iter().map(|id| id.to_string()).collect()
}

#[test]
fn taking_it_approves_at_once_caps_the_duration_and_leaves_the_requester_out_of_the_review() {
    let (taken, effects) = take(
        open(AccessDuration::For(4 * HOUR)),
        None,
        people(&["alice", "bob"]),
        HOUR,
        false,
        now(),
    )
    .expect("taken");
    assert_eq!(taken.state, State::Approved { auto: false });
    assert_eq!(taken.duration, AccessDuration::For(HOUR));
    let emergency = taken.emergency.expect("marked");
    assert_eq!(emergency.reviewers, people(&["bob"]));
    assert_eq!(emergency.at, now());
    assert_eq!(emergency.reason, "database down", "the justification");
    assert_eq!(
        effects,
        [Effect::TellRequester(Outcome::Emergency), Effect::Provision]
    );
}

#[test]
fn a_shorter_request_keeps_its_duration_and_permanent_becomes_the_cap() {
    let (short, _) = take(
        open(AccessDuration::For(HOUR / 2)),
        None,
        people(&["bob"]),
        HOUR,
        false,
        now(),
    )
    .expect("taken");
    assert_eq!(short.duration, AccessDuration::For(HOUR / 2));
    let (permanent, _) = take(
        open(AccessDuration::Permanent),
        None,
        people(&["bob"]),
        HOUR,
        false,
        now(),
    )
    .expect("taken");
    assert_eq!(permanent.duration, AccessDuration::For(HOUR));
}

#[test]
fn escalating_an_open_request_also_closes_the_approvers_cards_and_starts_now() {
    let mut scheduled = open(AccessDuration::For(HOUR));
    scheduled.starts_at = Some(now() + ChronoDuration::hours(5));
    let (taken, effects) =
        take(scheduled, None, people(&["bob"]), HOUR, true, now()).expect("taken");
    assert_eq!(effects[0], Effect::RefreshCopies);
    assert_eq!(
        taken.starts_at, None,
        "an emergency does not wait for a window"
    );
}

#[test]
fn a_closed_request_or_one_nobody_could_review_is_refused() {
    let mut denied = open(AccessDuration::For(HOUR));
    denied.state = State::Denied {
        by: "bob".into(),
        reason: None,
    };
    assert!(take(denied, None, people(&["bob"]), HOUR, true, now())
        .expect_err("refused")
        .contains("denied already"));
    let nobody = take(
        open(AccessDuration::For(HOUR)),
        None,
        people(&["alice"]),
        HOUR,
        false,
        now(),
    );
    assert!(nobody
        .expect_err("refused")
        .contains("review it afterwards"));
}

#[test]
fn the_first_reviewer_answers_and_nobody_else_can() {
    let (taken, _) = take(
        open(AccessDuration::For(HOUR)),
        None,
        people(&["bob", "carol"]),
        HOUR,
        false,
        now(),
    )
    .expect("taken");
    assert!(awaiting_review(&taken));
    assert!(review(taken.clone(), "alice", Verdict::LooksRight, now())
        .expect_err("the requester")
        .contains("Only the reviewers"));
    assert!(review(taken.clone(), "mallory", Verdict::LooksRight, now()).is_err());
    let later = now() + ChronoDuration::hours(2);
    let reviewed = review(taken, "carol", Verdict::LooksRight, later).expect("reviewed");
    assert!(!awaiting_review(&reviewed));
    assert_eq!(
        reviewed.emergency.as_ref().and_then(|e| e.review.clone()),
        Some(Review {
            by: "carol".into(),
            at: later,
            verdict: Verdict::LooksRight
        })
    );
    let again = review(
        reviewed,
        "bob",
        Verdict::Revoke { reason: "x".into() },
        later,
    );
    assert_eq!(
        again.expect_err("answered"),
        "<@carol> reviewed REQ-7 already and found it right."
    );
}

#[test]
fn a_request_that_was_not_an_emergency_has_nothing_to_review() {
    let refused = review(
        open(AccessDuration::For(HOUR)),
        "bob",
        Verdict::LooksRight,
        now(),
    );
    assert!(refused
        .expect_err("refused")
        .contains("was not emergency access"));
}
