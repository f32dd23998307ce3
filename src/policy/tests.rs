//! The decision semantics, as a table of (policies, input) -> decision run through
//! real regorus evaluation.

use std::collections::BTreeSet;
use std::time::Duration;

use super::*;

pub(super) fn user(id: &str) -> SlackUser {
    SlackUser {
        id: id.to_owned(),
        display_name: id.to_lowercase(),
        real_name: id.to_owned(),
        is_admin: false,
        is_owner: false,
        is_primary_owner: false,
        is_restricted: false,
        is_ultra_restricted: false,
        is_stranger: false,
        deleted: false,
        has_2fa: true,
        tz: "Europe/Berlin".to_owned(),
    }
}

pub(super) fn space(id: &str, parent: Option<&str>, inherit: bool, labels: &[&str]) -> Space {
    Space {
        id: id.to_owned(),
        name: id.to_owned(),
        labels: labels.iter().map(|label| (*label).to_owned()).collect(),
        parent: parent.map(str::to_owned),
        inherit,
        ancestors: Vec::new(),
    }
}

/// root -> prod (inherits) -> prod-eu (inherits); root -> vault (does not inherit)
/// -> vault-child (inherits).
fn tree() -> Vec<Space> {
    let mut spaces = vec![
        space("root", None, false, &[]),
        space("prod", Some("root"), true, &["prod"]),
        space("prod-eu", Some("prod"), true, &["prod"]),
        space("vault", Some("root"), false, &[]),
        space("vault-child", Some("vault"), true, &[]),
    ];
    fill_ancestors(&mut spaces);
    spaces
}

/// Alice requesting ReadOnly on a production resource owned by Frank, in [`tree`].
pub(super) fn alice_requests() -> PolicyInput {
    PolicyInput {
        action: Action::Request,
        request: RequestInfo {
            timestamp_ns: 1_763_630_043_000_000_000,
            fields: Default::default(),
            starts_at_ns: None,
        },
        slack: SlackContext {
            command: "/c1".to_owned(),
            channel: NamedId {
                id: "C0GENERAL1".to_owned(),
                name: "general".to_owned(),
            },
            team: NamedId {
                id: "T0C1TEAM01".to_owned(),
                name: "Acme".to_owned(),
            },
            user: user("U0ALICE001"),
        },
        spaces: tree(),
        resource: Some(Resource {
            id: "aws-prod".to_owned(),
            name: "AWS production".to_owned(),
            space: "prod".to_owned(),
            owners: vec!["U0FRANK001".to_owned()],
            labels: Vec::new(),
        }),
        entitlement: Some(Entitlement {
            id: "readonly".to_owned(),
            name: "ReadOnly".to_owned(),
            max_duration_s: 28_800,
            default_duration_s: 3_600,
            permanent_allowed: false,
        }),
        access_request: None,
    }
}

/// What a case expects. Each expected reason must be a prefix of the actual reason at
/// the same position (regorus's own error text follows the prefix).
struct Expect {
    allowed: bool,
    reasons: &'static [&'static str],
    auto_approve: bool,
    max_duration_s: Option<u64>,
    space_read: &'static [&'static str],
    space_write: &'static [&'static str],
}

const ALLOWED: Expect = Expect {
    allowed: true,
    reasons: &[],
    auto_approve: false,
    max_duration_s: None,
    space_read: &[],
    space_write: &[],
};

const fn denied(reasons: &'static [&'static str]) -> Expect {
    Expect {
        allowed: false,
        reasons,
        ..ALLOWED
    }
}

fn load(files: &[(&str, &str)]) -> Result<Policies, PolicyLoadError> {
    let files = files
        .iter()
        .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
        .collect();
    Policies::from_sources(files)
}

fn check(case: &str, files: &[(&str, &str)], input: &PolicyInput, expect: &Expect) {
    let policies =
        load(files).unwrap_or_else(|error| panic!("{case}: policies should load: {error}"));
    let decision = policies.decide(input);
    assert_eq!(
        decision.allowed, expect.allowed,
        "{case}: allowed ({decision:?})"
    );
    assert_eq!(
        decision.reasons.len(),
        expect.reasons.len(),
        "{case}: reasons {:?}",
        decision.reasons
    );
    for (actual, expected) in decision.reasons.iter().zip(expect.reasons) {
        assert!(
            actual.starts_with(expected),
            "{case}: reason {actual:?} should start with {expected:?}"
        );
    }
    assert_eq!(
        decision.auto_approve, expect.auto_approve,
        "{case}: auto_approve"
    );
    assert_eq!(
        decision.max_duration,
        expect.max_duration_s.map(Duration::from_secs),
        "{case}: max_duration"
    );
    let ids = |items: &[&str]| {
        items
            .iter()
            .map(|id| (*id).to_owned())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        decision.space_read,
        ids(expect.space_read),
        "{case}: space_read"
    );
    assert_eq!(
        decision.space_write,
        ids(expect.space_write),
        "{case}: space_write"
    );
}

/// (what the case shows, policy files, expected decision).
type Case = (
    &'static str,
    &'static [(&'static str, &'static str)],
    Expect,
);

const ALLOW: (&str, &str) = ("allow.rego", "package t.allow\nallow := true\n");

#[test]
fn decisions_follow_the_documented_semantics() {
    let cases: &[Case] = &[
        ("one allow allows", &[ALLOW], ALLOWED),
        (
            "deny wins over allow",
            &[ALLOW, ("deny.rego", "package t.deny\ndeny contains \"not on Fridays\" if input.action == \"request\"\n")],
            denied(&["not on Fridays"]),
        ),
        (
            "deny messages from several modules are all reasons, in file order, once each",
            &[
                ALLOW,
                ("a.rego", "package t.a\ndeny contains \"one\" if true\ndeny contains \"two\" if true\n"),
                ("b.rego", "package t.b\ndeny contains \"one\" if true\n"),
            ],
            denied(&["one", "two"]),
        ),
        (
            "without any allow the default is deny",
            &[("quiet.rego", "package t.quiet\ndefault allow := false\nspace_read contains \"root\" if true\n")],
            denied(&[NO_POLICY_ALLOWS]),
        ),
        (
            "an allow whose body fails is undefined and does not allow",
            &[("cond.rego", "package t.cond\nallow if input.slack.user.is_admin\n")],
            denied(&[NO_POLICY_ALLOWS]),
        ),
        ("no policies at all deny", &[], denied(&[NO_POLICY_ALLOWS])),
        (
            "a builtin error denies with the file and line",
            &[ALLOW, ("boom.rego", "package t.boom\n\nallow if to_number(input.slack.user.id) > 0\n")],
            denied(&["policy boom.rego could not be evaluated: line 3: "]),
        ),
        (
            "a type error denies",
            &[ALLOW, ("types.rego", "package t.types\ndeny contains \"late\" if input.request.timestamp_ns + input.slack.user.id > 0\n")],
            denied(&["policy types.rego could not be evaluated: line 2: "]),
        ),
        (
            "a division by zero denies",
            &[ALLOW, ("div.rego", "package t.div\nmax_duration := 3600 / (count(input.slack.command) - 3)\n")],
            denied(&["policy div.rego could not be evaluated: "]),
        ),
        (
            "a max_duration that does not parse denies",
            &[ALLOW, ("dur.rego", "package t.dur\nmax_duration := \"eight hours\"\n")],
            denied(&["policy dur.rego could not be evaluated: `max_duration`: \"eight hours\" is not a duration"]),
        ),
        (
            "an allow that is not a boolean denies",
            &[("yes.rego", "package t.yes\nallow := \"yes\"\n")],
            denied(&["policy yes.rego could not be evaluated: `allow` must be a boolean, not \"yes\""]),
        ),
        (
            "a deny written as a boolean denies with an explanation",
            &[ALLOW, ("flag.rego", "package t.flag\ndefault deny := false\ndeny if input.slack.user.is_admin\n")],
            denied(&["policy flag.rego could not be evaluated: `deny` must be a set of strings, not false"]),
        ),
        (
            "an error and a deny message are both reasons",
            &[
                ("a.rego", "package t.a\nallow := true\ndeny contains \"no\" if true\n"),
                ("b.rego", "package t.b\nmax_duration := \"soon\"\n"),
            ],
            denied(&["no", "policy b.rego could not be evaluated: "]),
        ),
        (
            "when a module fails, the others are still read, including rules with a key in the head",
            &[
                ("keyed.rego", "package t.keyed\nspace_read[\"prod\"] := true\ndeny contains \"keyed says no\" if true\n"),
                ("div.rego", "package t.div\nallow if 1 / (count(input.slack.command) - 3) > 0\n"),
            ],
            denied(&["keyed says no", "policy div.rego could not be evaluated: line 2: "]),
        ),
        (
            "auto_approve needs an allow",
            &[("auto.rego", "package t.auto\nauto_approve := true\n")],
            denied(&[NO_POLICY_ALLOWS]),
        ),
        (
            "one module's auto_approve holds when another allows",
            &[ALLOW, ("auto.rego", "package t.auto\nauto_approve if input.entitlement.id == \"readonly\"\n")],
            Expect { auto_approve: true, ..ALLOWED },
        ),
        (
            "max_duration is the smallest across modules",
            &[
                ALLOW,
                ("a.rego", "package t.a\nmax_duration := \"8h\"\n"),
                ("b.rego", "package t.b\nmax_duration := \"1h30m\"\n"),
                ("c.rego", "package t.c\nmax_duration := 7200\n"),
                ("d.rego", "package t.d\nmax_duration := \"2h\" if false\n"),
            ],
            Expect { max_duration_s: Some(5400), ..ALLOWED },
        ),
        (
            "max_duration is written as the catalog writes durations: days and weeks too",
            &[
                ALLOW,
                ("day.rego", "package t.day\nmax_duration := \"1d\"\n"),
                ("fortnight.rego", "package t.fortnight\nmax_duration := \"2w\"\n"),
            ],
            Expect { max_duration_s: Some(86_400), ..ALLOWED },
        ),
        (
            "grants flow down two levels of inheriting spaces but not into one that does not inherit",
            &[ALLOW, ("spaces.rego", "package t.spaces\nspace_read contains \"root\" if true\nspace_write contains \"prod\" if true\n")],
            Expect { space_read: &["root", "prod", "prod-eu"], space_write: &["prod", "prod-eu"], ..ALLOWED },
        ),
        (
            "a grant on a space that does not inherit reaches its inheriting children",
            &[ALLOW, ("vault.rego", "package t.vault\nspace_read contains \"vault\" if true\n")],
            Expect { space_read: &["vault", "vault-child"], ..ALLOWED },
        ),
        (
            "space grants are unioned across modules and may be objects keyed by id",
            &[
                ALLOW,
                ("a.rego", "package t.a\nspace_read[\"prod-eu\"] := true\nspace_read[\"vault\"] := false\n"),
                ("b.rego", "package t.b\nspace_read contains \"vault-child\" if true\n"),
            ],
            Expect { space_read: &["prod-eu", "vault-child"], ..ALLOWED },
        ),
        (
            "a refused decision grants no spaces, auto-approval or duration",
            &[
                ALLOW,
                ("a.rego", "package t.a\nspace_read contains \"root\" if true\nauto_approve := true\nmax_duration := \"1h\"\ndeny contains \"no\" if true\n"),
            ],
            denied(&["no"]),
        ),
        (
            "files sharing a package are one module named after both",
            &[
                ("a.rego", "package t.shared\nallow if ok\n"),
                ("b.rego", "package t.shared\nok if input.action == \"request\"\nmax_duration := \"nope\"\n"),
            ],
            denied(&["policy a.rego, b.rego could not be evaluated: "]),
        ),
        (
            "modules may import helpers from other packages",
            &[
                ("lib.rego", "package t.lib\nis_request if input.action == \"request\"\n"),
                ("main.rego", "package t.main\nimport data.t.lib\nallow if lib.is_request\n"),
            ],
            ALLOWED,
        ),
        (
            "test files are not policies",
            &[ALLOW, ("allow_test.rego", "package t.allow_test\ndeny contains \"tests do not decide\" if true\n")],
            ALLOWED,
        ),
    ];
    let input = alice_requests();
    for (case, files, expect) in cases {
        check(case, files, &input, expect);
    }
}

#[test]
fn require_step_up_holds_when_any_module_sets_it_and_only_on_an_allowed_decision() {
    let mut input = alice_requests();
    input.action = Action::Approve;
    let step_up = (
        "s.rego",
        "package t.s\nrequire_step_up if input.entitlement.id == \"readonly\"\n",
    );
    let decide = |files: &[(&str, &str)]| load(files).expect("policies load").decide(&input);
    assert!(
        decide(&[ALLOW]).allowed && !decide(&[ALLOW]).require_step_up,
        "off by default"
    );
    let decision = decide(&[ALLOW, step_up]);
    assert!(decision.allowed && decision.require_step_up, "{decision:?}");
    // Read only when approving: a request's decision does not evaluate it.
    let request = load(&[ALLOW, step_up])
        .expect("policies load")
        .decide(&alice_requests());
    assert!(request.allowed && !request.require_step_up, "{request:?}");
    let refused = decide(&[step_up]);
    assert!(
        !refused.allowed && !refused.require_step_up,
        "a denial asks for nothing"
    );
    let wrong = decide(&[
        ALLOW,
        ("w.rego", "package t.w\nrequire_step_up := \"yes\"\n"),
    ]);
    assert!(!wrong.allowed, "a rule of the wrong type denies");
    assert!(
        wrong.reasons[0].contains("`require_step_up` must be a boolean"),
        "{wrong:?}"
    );
}

#[test]
fn a_runaway_policy_is_stopped_by_the_time_budget_and_denies() {
    let slow = "package t.slow\n\
        deny contains \"never\" if {\n\
          count([1 | some i in numbers.range(1, 5000); some j in numbers.range(1, 5000)]) < 0\n\
        }\n";
    let policies = load(&[ALLOW, ("slow.rego", slow)])
        .expect("loads")
        .with_time_budget(Duration::from_millis(5));
    let decision = policies.decide(&alice_requests());
    assert!(!decision.allowed);
    assert_eq!(decision.reasons.len(), 1, "{:?}", decision.reasons);
    assert!(
        decision.reasons[0]
            .starts_with("policy slow.rego could not be evaluated: execution exceeded time limit"),
        "{:?}",
        decision.reasons
    );
}

#[test]
fn a_parse_error_names_the_file_and_line() {
    let bad = "package t.bad\n\nallow if {\n  input.action ==\n}\n";
    let error = load(&[ALLOW, ("policies/bad.rego", bad)]).expect_err("a parse error");
    assert_eq!(
        error.to_string(),
        "policies/bad.rego:5: expecting expression"
    );
}

#[test]
fn rego_v0_syntax_is_refused_with_its_line() {
    let old = "package t.old\n\nallow {\n  true\n}\n";
    let error = load(&[("old.rego", old)]).expect_err("v0 is refused");
    assert_eq!(
        error.to_string(),
        "old.rego:3: `if` keyword is required before rule body"
    );
}

#[test]
fn an_unsafe_variable_is_a_load_error_not_a_denial_at_every_decision() {
    let unsafe_var = "package t.unsafe\n\nallow if {\n  x == 1\n}\n";
    let error = load(&[("unsafe.rego", unsafe_var)]).expect_err("refused at load");
    let PolicyLoadError::Invalid { file, line, .. } = &error else {
        panic!("unexpected error {error:?}");
    };
    assert_eq!((file.as_str(), *line), ("unsafe.rego", Some(4)), "{error}");
}

#[test]
fn a_package_name_that_is_not_a_dotted_identifier_is_refused() {
    let quoted = "package t[\"with-dash\"]\nallow := true\n";
    let error = load(&[("quoted.rego", quoted)]).expect_err("refused");
    assert!(
        error.to_string().starts_with("quoted.rego: package "),
        "{error}"
    );
}

#[test]
fn an_unknown_function_reached_on_an_empty_input_is_a_load_error() {
    let unknown = "package t.unknown\n\nallow if {\n  no_such_function(1)\n}\n";
    let error = load(&[("unknown.rego", unknown)]).expect_err("refused at load");
    assert_eq!(
        error.to_string(),
        "unknown.rego:4: could not find function no_such_function"
    );

    // c1bot builds regorus without its base64 feature.
    let not_built = "package t.b64\n\ndeny contains base64.encode(\"x\") if true\n";
    let error = load(&[("b64.rego", not_built)]).expect_err("refused at load");
    assert_eq!(
        error.to_string(),
        "b64.rego:3: could not find function base64.encode"
    );
}

#[test]
fn many_modules_are_evaluated_rule_by_rule_with_the_same_semantics() {
    let texts: Vec<(String, String)> = (0..12)
        .map(|index| {
            let text = format!(
                "package t.m{index}\nmax_duration := \"{hours}h\"\nspace_read contains \"prod\" if {index} == 3\n",
                hours = 20 - index
            );
            (format!("m{index:02}.rego"), text)
        })
        .collect();
    let mut files: Vec<(&str, &str)> = texts
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect();
    files.push(ALLOW);
    check(
        "twelve modules allow",
        &files,
        &alice_requests(),
        &Expect {
            max_duration_s: Some(9 * 3600),
            space_read: &["prod", "prod-eu"],
            ..ALLOWED
        },
    );
    files.push((
        "z.rego",
        "package t.z\ndeny contains \"z says no\" if true\n",
    ));
    files.push(("zz.rego", "package t.zz\nallow := \"maybe\"\n"));
    check(
        "twelve modules deny",
        &files,
        &alice_requests(),
        &denied(&[
            "z says no",
            "policy zz.rego could not be evaluated: `allow` must be a boolean",
        ]),
    );
}
