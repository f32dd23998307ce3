//! The shipped `policies/` folder: it loads, decides as documented, its OPA-style tests
//! pass, and the test runner reports a broken copy correctly.

use std::fs;
use std::path::{Path, PathBuf};

use super::testing::{run_tests, TestOutcome};
use super::tests::{alice_requests, space, user};
use super::*;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// A copy of the shipped folder that a test may break.
fn copy_of_shipped() -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("a temporary directory");
    for entry in fs::read_dir(shipped()).expect("policies/ is readable") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().expect("a file name");
        fs::copy(&path, copy.path().join(name)).expect("copied");
    }
    copy
}

fn replace_in(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).expect("readable");
    assert!(
        text.contains(from),
        "{} should contain {from:?}",
        path.display()
    );
    fs::write(path, text.replace(from, to)).expect("writable");
}

fn shipped_policies() -> Policies {
    Policies::load(&shipped()).expect("the shipped policies load")
}

fn ids(items: &[&str]) -> std::collections::BTreeSet<String> {
    items.iter().map(|id| (*id).to_owned()).collect()
}

#[test]
fn the_shipped_policies_load_as_their_modules_without_their_tests() {
    // access.rego alone: each module costs every decision (BENCHMARKS.md), so the
    // shipped examples share one.
    assert_eq!(shipped_policies().module_count(), 1);
}

#[test]
fn the_shipped_policy_asks_for_step_up_only_to_approve_a_resource_labelled_step_up() {
    let mut input = alice_requests();
    input.action = crate::policy::Action::Approve;
    assert!(!shipped_policies().decide(&input).require_step_up);
    if let Some(resource) = input.resource.as_mut() {
        resource.labels.push("step-up".to_owned());
    }
    let mut request = input.clone();
    request.action = crate::policy::Action::Request;
    assert!(!shipped_policies().decide(&request).require_step_up);
    input.slack.user.is_admin = true;
    let decision = shipped_policies().decide(&input);
    assert!(decision.allowed && decision.require_step_up, "{decision:?}");
}

#[test]
fn a_member_may_request_in_production_through_inheritance_from_root() {
    let decision = shipped_policies().decide(&alice_requests());
    assert!(decision.allowed, "{decision:?}");
    assert!(!decision.auto_approve);
    assert_eq!(decision.space_read, ids(&["root", "prod", "prod-eu"]));
    assert!(decision.space_write.is_empty());
}

#[test]
fn readonly_in_a_dev_space_is_auto_approved_by_the_shipped_policy() {
    let mut input = alice_requests();
    input
        .spaces
        .push(space("dev", Some("root"), true, &["dev"]));
    fill_ancestors(&mut input.spaces);
    if let Some(resource) = input.resource.as_mut() {
        resource.space = "dev".to_owned();
    }
    let decision = shipped_policies().decide(&input);
    assert!(decision.allowed && decision.auto_approve, "{decision:?}");
}

#[test]
fn a_guest_is_refused_with_a_clear_message_by_the_shipped_policy() {
    let mut input = alice_requests();
    input.slack.user.is_ultra_restricted = true;
    let decision = shipped_policies().decide(&input);
    assert!(!decision.allowed);
    assert_eq!(
        decision.reasons,
        ["guest accounts cannot use c1bot, and access is not granted to guests"]
    );
}

#[test]
fn self_approval_is_refused_by_the_shipped_policy_even_for_an_owner() {
    let mut input = alice_requests();
    input.action = Action::Approve;
    input.slack.user = user("U0FRANK001");
    input.access_request = Some(AccessRequest {
        id: "REQ-1042".to_owned(),
        requester: "U0FRANK001".to_owned(),
        beneficiary: "U0FRANK001".to_owned(),
        duration_s: Some(3600),
        justification: "deploy".to_owned(),
        state: "pending".to_owned(),
        step: 0,
        approvals: Vec::new(),
        approvers: Vec::new(),
    });
    let decision = shipped_policies().decide(&input);
    assert!(!decision.allowed);
    assert_eq!(decision.reasons, ["you cannot approve your own request"]);
    assert!(!decision.self_approval);

    // A resource labelled "self-approval" lets the requester decide, explicitly.
    let mut labelled = input.clone();
    if let Some(resource) = labelled.resource.as_mut() {
        resource.labels.push("self-approval".to_owned());
    }
    let decision = shipped_policies().decide(&labelled);
    assert!(decision.allowed && decision.self_approval, "{decision:?}");

    input.slack.user = user("U0ALICE001");
    let decision = shipped_policies().decide(&input);
    assert_eq!(decision.reasons, [NO_POLICY_ALLOWS], "alice owns nothing");

    if let Some(request) = input.access_request.as_mut() {
        request.requester = "U0ALICE001".to_owned();
        request.beneficiary = "U0ALICE001".to_owned();
    }
    input.slack.user = user("U0FRANK001");
    let decision = shipped_policies().decide(&input);
    assert!(
        decision.allowed,
        "the owner approves someone else's request: {decision:?}"
    );
    assert_eq!(decision.space_write, ids(&["prod", "prod-eu"]));
}

#[test]
fn the_admin_entitlement_is_capped_at_eight_hours_by_the_shipped_policy() {
    let mut input = alice_requests();
    if let Some(entitlement) = input.entitlement.as_mut() {
        entitlement.id = "admin".to_owned();
    }
    let decision = shipped_policies().decide(&input);
    assert_eq!(
        decision.max_duration,
        Some(std::time::Duration::from_secs(8 * 3600))
    );
}

#[test]
fn the_shipped_opa_style_tests_pass() {
    let report = run_tests(&shipped()).expect("the shipped tests load");
    assert_eq!(report.failed(), 0, "{report}");
    assert!(report.passed() >= 15, "{report}");
    assert!(report
        .results
        .iter()
        .all(|result| result.file == "access_test.rego"));
    assert!(report
        .to_string()
        .contains(&format!("PASS: {0}/{0}", report.passed())));
}

#[test]
fn a_broken_policy_fails_exactly_the_test_that_covers_it() {
    let copy = copy_of_shipped();
    replace_in(
        &copy.path().join("access.rego"),
        "max_duration := \"8h\"",
        "max_duration := \"4h\"",
    );
    let report = run_tests(copy.path()).expect("still compiles");
    assert_eq!(report.failed(), 1, "{report}");
    let failed = report
        .results
        .iter()
        .find(|result| result.outcome != TestOutcome::Passed)
        .expect("one failure");
    assert_eq!(failed.file, "access_test.rego");
    assert_eq!(
        failed.name,
        "data.c1.access_test.test_admin_entitlement_is_limited_to_eight_hours"
    );
    assert_eq!(failed.outcome, TestOutcome::Failed);
    let text = report.to_string();
    assert!(text.contains("FAIL  access_test.rego: data.c1.access_test.test_admin_entitlement_is_limited_to_eight_hours"), "{text}");
    assert!(
        text.contains(&format!("FAIL: 1/{}", report.results.len())),
        "{text}"
    );
}

#[test]
fn a_test_that_errors_is_reported_with_its_error() {
    let copy = copy_of_shipped();
    let extra = "package c1.extra_test\n\ntest_divides if {\n  1 / (count(\"\") - 0) == 1\n}\n";
    fs::write(copy.path().join("extra_test.rego"), extra).expect("writable");
    let report = run_tests(copy.path()).expect("compiles");
    let errored = report
        .results
        .iter()
        .find(|result| result.name == "data.c1.extra_test.test_divides")
        .expect("the extra test ran");
    assert!(
        matches!(&errored.outcome, TestOutcome::Error(message) if message.starts_with("line 4: ")),
        "{:?}",
        errored.outcome
    );
    assert_eq!(report.failed(), 1, "{report}");
}

#[test]
fn loading_a_folder_with_a_syntax_error_names_the_file_and_line() {
    let copy = copy_of_shipped();
    let broken = copy.path().join("access.rego");
    let v1_rule = "guest if user.is_restricted";
    let text = fs::read_to_string(&broken).expect("readable");
    let expected_line = text
        .lines()
        .position(|line| line == v1_rule)
        .expect("the rule is in access.rego")
        + 1;
    replace_in(&broken, v1_rule, "guest { user.is_restricted }");
    let error = Policies::load(copy.path()).expect_err("refused");
    assert_eq!(
        error.to_string(),
        format!(
            "{}:{expected_line}: `if` keyword is required before rule body",
            broken.display()
        )
    );
    assert!(
        run_tests(copy.path()).is_err(),
        "tests cannot run on a broken policy"
    );
}

#[test]
fn a_folder_without_policies_is_refused() {
    let empty = tempfile::tempdir().expect("a temporary directory");
    let error = Policies::load(empty.path()).expect_err("refused");
    assert!(
        matches!(error, PolicyLoadError::NoPolicies { .. }),
        "{error}"
    );
}

#[test]
fn eval_input_file_prints_the_decision_for_the_documented_sample() {
    let readme = fs::read_to_string(shipped().join("README.md")).expect("README");
    let start = readme.find("```json").expect("a sample") + "```json".len();
    let end = start + readme[start..].find("```").expect("its end");
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    fs::write(file.path(), &readme[start..end]).expect("writable");

    let bob = eval_input_file(&shipped(), file.path()).expect("evaluates");
    assert!(bob.contains("decision: DENY"), "{bob}");
    assert!(bob.contains(NO_POLICY_ALLOWS), "{bob}");

    fs::write(
        file.path(),
        readme[start..end].replace("U0BOB00001", "U0FRANK001"),
    )
    .expect("writable");
    let frank = eval_input_file(&shipped(), file.path()).expect("evaluates");
    assert!(frank.contains("decision: ALLOW"), "{frank}");
    assert!(frank.contains("space_write: prod"), "{frank}");

    fs::write(file.path(), "{\"action\": \"fly\"}").expect("writable");
    let error = eval_input_file(&shipped(), file.path()).expect_err("refused");
    assert!(
        format!("{error:#}").contains("is not a policy input"),
        "{error:#}"
    );
}
