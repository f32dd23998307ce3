use chrono::{TimeZone, Utc};

use super::*;
use crate::workflow::request::Quorum;

fn requestable() -> Requestable {
    Requestable {
        entitlement_name: "ReadOnly".into(),
        max_duration: Some(Duration::from_secs(8 * 3600)),
        permanent_allowed: false,
        policy: PolicyVerdict {
            allowed: true,
            ..PolicyVerdict::default()
        },
        steps: vec![Step::new("lead", ["bob".to_string()], Quorum::Any)],
    }
}

fn form(duration: &str, justification: &str) -> Form {
    Form {
        resource: Some("aws-prod".into()),
        entitlement: Some("readonly".into()),
        duration: Some(duration.into()),
        justification: Some(justification.into()),
        on_behalf_of: None,
        fields: Default::default(),
        starts_at: None,
        emergency: false,
    }
}

fn ctx() -> Context<'static> {
    Context {
        id: "REQ-1001".into(),
        requester: "alice",
        beneficiary: "alice",
        now: Utc
            .with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
            .single()
            .expect("time"),
        pending_ttl: chrono::Duration::hours(24),
    }
}

fn errors(form: &Form, requestable: Option<&Requestable>) -> FieldErrors {
    create(form, requestable, ctx()).err().expect("invalid")
}

#[test]
fn a_valid_form_creates_a_pending_request_that_asks_the_first_step() {
    let created = create(
        &form("14400", " incident 4711 "),
        Some(&requestable()),
        ctx(),
    )
    .expect("valid");
    assert_eq!(created.request.state, State::Pending { step: 0 });
    assert_eq!(
        created.request.duration,
        AccessDuration::For(Duration::from_secs(14400))
    );
    assert_eq!(created.request.justification, "incident 4711");
    assert_eq!(
        created.effects,
        [Effect::RefreshCopies, Effect::AskApprovers { step: 0 }]
    );
}

#[test]
fn an_empty_justification_is_answered_on_its_field() {
    let errors = errors(&form("3600", "   "), Some(&requestable()));
    assert_eq!(
        errors.keys().map(String::as_str).collect::<Vec<_>>(),
        [fields::JUSTIFICATION]
    );
}

#[test]
fn a_duration_over_the_maximum_names_the_maximum() {
    let errors = errors(&form("36000", "why"), Some(&requestable()));
    assert_eq!(
        errors[fields::DURATION],
        "The longest you can have ReadOnly is 8 h."
    );
}

#[test]
fn policys_maximum_applies_when_shorter_than_the_catalogs() {
    let mut r = requestable();
    r.policy.max_duration = Some(Duration::from_secs(3600));
    assert_eq!(
        errors(&form("7200", "why"), Some(&r))[fields::DURATION],
        "The longest you can have ReadOnly is 1 h."
    );
}

#[test]
fn permanent_access_needs_the_entitlement_to_allow_it() {
    assert!(errors(&form("permanent", "why"), Some(&requestable())).contains_key(fields::DURATION));
    let mut r = requestable();
    r.permanent_allowed = true;
    assert!(
        errors(&form("permanent", "why"), Some(&r)).contains_key(fields::DURATION),
        "a fixed maximum still applies"
    );
    r.max_duration = None;
    let created = create(&form("permanent", "why"), Some(&r), ctx()).expect("valid");
    assert_eq!(created.request.duration, AccessDuration::Permanent);
    r.policy.max_duration = Some(Duration::from_secs(3600));
    assert!(
        errors(&form("permanent", "why"), Some(&r)).contains_key(fields::DURATION),
        "policy's cap applies"
    );
}

#[test]
fn an_entitlement_gone_from_the_catalog_is_answered() {
    assert!(errors(&form("3600", "why"), None)[fields::ENTITLEMENT]
        .contains("no longer in the catalog"));
}

#[test]
fn a_policy_denial_shows_the_policys_reason() {
    let mut r = requestable();
    r.policy.allowed = false;
    r.policy.reasons = vec!["guests cannot request production access".into()];
    assert_eq!(
        errors(&form("3600", "why"), Some(&r))[fields::ENTITLEMENT],
        "You cannot request ReadOnly: guests cannot request production access."
    );
}

#[test]
fn a_request_nobody_else_may_approve_is_refused_at_submission() {
    let mut r = requestable();
    r.steps = vec![Step::new("lead", ["alice".to_string()], Quorum::Any)];
    assert!(errors(&form("3600", "why"), Some(&r))[fields::ENTITLEMENT]
        .starts_with("Nobody else can approve"));
}

#[test]
fn a_quorum_larger_than_the_approvers_left_is_refused() {
    let mut r = requestable();
    r.steps = vec![Step::new(
        "security",
        ["alice".to_string(), "bob".to_string()],
        Quorum::AtLeast(2),
    )];
    assert!(errors(&form("3600", "why"), Some(&r)).contains_key(fields::ENTITLEMENT));
}

#[test]
fn the_requester_is_never_one_of_the_approvers() {
    let mut r = requestable();
    r.steps = vec![Step::new(
        "lead",
        ["alice".to_string(), "bob".to_string()],
        Quorum::Any,
    )];
    let created = create(&form("3600", "why"), Some(&r), ctx()).expect("valid");
    assert!(!created.request.steps[0].approvers.contains("alice"));
}

#[test]
fn auto_approval_by_policy_skips_the_steps() {
    let mut r = requestable();
    r.policy.auto_approve = true;
    r.steps.clear();
    let created = create(&form("3600", "why"), Some(&r), ctx()).expect("valid");
    assert_eq!(created.request.state, State::Approved { auto: true });
    assert_eq!(
        created.effects,
        [
            Effect::TellRequester(Outcome::AutoApproved),
            Effect::Provision
        ]
    );
}

#[test]
fn every_invalid_field_is_reported_at_once() {
    let errors = errors(&form("99999999", ""), Some(&requestable()));
    assert!(errors.contains_key(fields::DURATION) && errors.contains_key(fields::JUSTIFICATION));
}

#[test]
fn durations_read_as_people_say_them() {
    assert_eq!(human(Duration::from_secs(4 * 3600)), "4 h");
    assert_eq!(human(Duration::from_secs(90 * 60)), "1 h 30 min");
    assert_eq!(human(Duration::from_secs(30 * 60)), "30 min");
    assert_eq!(human(Duration::from_secs(2 * 86400)), "2 d");
    assert_eq!(human(Duration::from_secs(45)), "45 s");
    assert_eq!(human(Duration::from_secs(90)), "1 min 30 s");
    assert_eq!(human(Duration::ZERO), "0 s");
}

#[test]
fn a_request_for_someone_else_keeps_both_people_and_asks_neither_to_approve() {
    let mut r = requestable();
    r.steps = vec![Step::new(
        "lead",
        ["bob".to_string(), "frank".to_string(), "carol".to_string()],
        Quorum::Any,
    )];
    let mut context = ctx();
    context.requester = "bob";
    context.beneficiary = "frank";
    let created = create(&form("3600", "on call"), Some(&r), context).expect("valid");
    assert_eq!(created.request.requester, "bob");
    assert_eq!(created.request.beneficiary, "frank");
    assert_eq!(
        created.request.steps[0]
            .approvers
            .iter()
            .collect::<Vec<_>>(),
        ["carol"]
    );
}

#[test]
fn a_policy_denial_for_someone_else_is_worded_for_them() {
    let mut r = requestable();
    r.policy.allowed = false;
    r.policy.reasons = vec!["guest accounts cannot request or approve access".into()];
    let mut context = ctx();
    context.beneficiary = "dave";
    let errors = create(&form("3600", "why"), Some(&r), context)
        .err()
        .expect("denied");
    assert_eq!(
        errors[fields::ENTITLEMENT],
        "ReadOnly cannot be requested for that person: guest accounts cannot request or approve access."
    );
}
