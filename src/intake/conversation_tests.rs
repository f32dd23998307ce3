use chrono::{TimeZone, Utc};

use super::*;
use crate::intake::parse_message;

fn catalog() -> Catalog {
    Catalog::load_file(std::path::Path::new("catalog.example.toml"))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, minute, 0)
        .single()
        .expect("time")
}

fn anything(_: &Resource, _: &Entitlement) -> bool {
    true
}

fn no_admin(_: &Resource, e: &Entitlement) -> bool {
    e.id.as_str() != "admin"
}

fn durations(e: &Entitlement) -> Vec<(String, String)> {
    let max = e.max_duration.as_secs().map(std::time::Duration::from_secs);
    crate::app::shared::request_form::duration_choices(None, max, e.permanent_allowed)
}

fn menu<'a>(
    catalog: &'a Catalog,
    allow: &'a (dyn Fn(&Resource, &Entitlement) -> bool + Sync),
) -> Menu<'a> {
    Menu {
        catalog,
        may_request: allow,
        durations: &durations,
    }
}

fn labels(c: &Conversation) -> Vec<&str> {
    c.offered.iter().map(|o| o.label.as_str()).collect()
}

#[test]
fn a_bare_hello_starts_at_the_resource_with_every_resource_offered() {
    let catalog = catalog();
    let c = Conversation::start(
        "U1",
        "D1",
        "1.000001",
        None,
        &menu(&catalog, &anything),
        at(30),
    );
    assert_eq!(c.step(), Step::Resource);
    assert_eq!(c.problem, None);
    assert_eq!(
        labels(&c),
        ["AWS production", "Orders database", "Dev sandbox"]
    );
    assert_eq!(c.message_key, "dm/U1/1.000001");
}

#[test]
fn step_by_step_with_a_wrong_duration_on_the_way() {
    let catalog = catalog();
    let m = menu(&catalog, &no_admin);
    let mut c = Conversation::start("U1", "D1", "1.000001", None, &m, at(30));
    c.pick("aws-prod", &m, at(31)).expect("offered");
    assert_eq!(c.step(), Step::Entitlement);
    assert_eq!(labels(&c), ["ReadOnly"], "policy hides Admin");
    c.pick("readonly", &m, at(32)).expect("offered");
    assert_eq!(c.step(), Step::Duration);
    assert!(labels(&c).contains(&"8 h") && !labels(&c).contains(&"12 h"));

    assert!(c.answer("12h", "1.000002", &m, at(33)));
    assert_eq!(c.step(), Step::Duration);
    assert_eq!(
        c.problem.as_deref(),
        Some("The duration '12h' won't do: at most 8 hours for ReadOnly.")
    );
    assert!(c.answer("2 hours", "1.000003", &m, at(34)));
    assert_eq!(c.step(), Step::Reason);
    assert!(c.offered.is_empty());
    assert!(c.answer("because incident 4711", "1.000004", &m, at(35)));
    assert_eq!(c.step(), Step::Confirm);
    assert_eq!(c.expires_at, at(35), "each answer moves the expiry on");
    let complete = c.complete().expect("complete");
    assert_eq!(
        (
            complete.resource.as_str(),
            complete.entitlement.as_str(),
            complete.reason.as_str()
        ),
        ("aws-prod", "readonly", "incident 4711")
    );
    assert_eq!(complete.duration.to_value(), "7200");
}

#[test]
fn a_click_on_something_not_offered_now_is_refused() {
    let catalog = catalog();
    let m = menu(&catalog, &no_admin);
    let mut c = Conversation::start("U1", "D1", "1.000001", None, &m, at(30));
    c.pick("aws-prod", &m, at(31)).expect("offered");
    // A forged value, and an old button from the resource step.
    assert!(c.pick("admin", &m, at(32)).is_err());
    assert!(c.pick("orders-db", &m, at(32)).is_err());
    assert_eq!(c.step(), Step::Entitlement);
    assert_eq!(c.entitlement, None);
}

#[test]
fn a_redelivered_message_is_taken_in_once() {
    let catalog = catalog();
    let m = menu(&catalog, &anything);
    let mut c = Conversation::start("U1", "D1", "1.000001", None, &m, at(30));
    assert!(c.answer("aws-prod", "1.000002", &m, at(31)));
    assert!(!c.answer("aws-prod", "1.000002", &m, at(31)));
    assert_eq!(c.step(), Step::Entitlement);
}

#[test]
fn an_ambiguous_name_is_answered_with_candidates_never_a_guess() {
    let catalog = catalog();
    let m = menu(&catalog, &anything);
    let mut c = Conversation::start("U1", "D1", "1.000001", None, &m, at(30));
    c.answer("aws", "1.000002", &m, at(31));
    assert_eq!(c.resource, None);
    assert_eq!(labels(&c), ["AWS production"]);
    assert!(c.problem.as_deref().is_some_and(|p| p.contains("'aws'")));
}

#[test]
fn a_message_that_reads_as_a_request_starts_at_the_confirmation() {
    let catalog = catalog();
    let m = menu(&catalog, &anything);
    let parsed = parse_message(
        "request aws-prod readonly for 2h because incident 4711",
        &catalog,
    )
    .expect("reads as a request");
    let c = Conversation::start("U1", "D1", "1.000001", Some(&parsed), &m, at(30));
    assert_eq!(c.step(), Step::Confirm);
    assert_eq!(c.problem, None);
}

#[test]
fn a_request_with_an_unknown_resource_offers_the_closest() {
    let catalog = catalog();
    let m = menu(&catalog, &anything);
    let parsed = parse_message("request aws-prd readonly for 2h because x", &catalog)
        .expect("reads as a request");
    let c = Conversation::start("U1", "D1", "1.000001", Some(&parsed), &m, at(30));
    assert_eq!(c.step(), Step::Resource);
    assert!(labels(&c).contains(&"AWS production"), "{:?}", labels(&c));
    assert!(c.problem.as_deref().is_some_and(|p| p.contains("aws-prd")));
    // The parts it did understand are kept for later steps.
    assert_eq!(c.duration.as_deref(), Some("7200"));
    assert_eq!(c.reason.as_deref(), Some("x"));
    let mut c = c;
    c.pick("aws-prod", &m, at(31)).expect("offered");
    assert_eq!(c.entitlement.as_deref(), Some("readonly"));
    assert_eq!(c.step(), Step::Confirm);
}

#[test]
fn a_named_entitlement_policy_refuses_is_dropped_with_the_reason() {
    let catalog = catalog();
    let m = menu(&catalog, &no_admin);
    let parsed = parse_message("request aws-prod admin for 1h because x", &catalog)
        .expect("reads as a request");
    let c = Conversation::start("U1", "D1", "1.000001", Some(&parsed), &m, at(30));
    assert_eq!(c.step(), Step::Entitlement);
    assert_eq!(
        c.problem.as_deref(),
        Some("You may not request 'admin' on AWS production; choose another.")
    );
    assert_eq!(labels(&c), ["ReadOnly"]);
}

#[test]
fn typing_at_the_confirmation_changes_nothing() {
    let catalog = catalog();
    let m = menu(&catalog, &anything);
    let parsed = parse_message("request aws-prod readonly for 2h because x", &catalog)
        .expect("reads as a request");
    let mut c = Conversation::start("U1", "D1", "1.000001", Some(&parsed), &m, at(30));
    c.answer("<!channel> now", "1.000002", &m, at(31));
    assert_eq!(c.step(), Step::Confirm);
    assert_eq!(c.reason.as_deref(), Some("x"));
    assert!(c.problem.as_deref().is_some_and(|p| p.contains("Submit")));
}

#[test]
fn an_entitlement_on_several_resources_offers_each_resource() {
    let catalog = catalog();
    let m = menu(&catalog, &anything);
    let parsed =
        parse_message("request readonly for 1h because x", &catalog).expect("reads as a request");
    let mut c = Conversation::start("U1", "D1", "1.000001", Some(&parsed), &m, at(30));
    assert_eq!(c.step(), Step::Resource);
    assert_eq!(
        labels(&c),
        ["AWS production", "Orders database", "Dev sandbox"]
    );
    c.pick("orders-db", &m, at(31)).expect("offered");
    assert_eq!(c.entitlement.as_deref(), Some("readonly"));
    assert_eq!(c.step(), Step::Confirm);
}
