//! Requests written as text, against a small catalog built by the catalog's own
//! loader: tables of text → what each part became.

use super::duration::spoken;
use super::*;
use crate::catalog::{Catalog, Source};

const CATALOG: &str = r#"
[[spaces]]
id = "root"
name = "Root"
[[spaces]]
id = "prod"
name = "Production"
parent = "root"
inherit = true

[[resources]]
id = "aws-prod"
name = "AWS production"
space = "prod"
[[resources.entitlements]]
id = "readonly"
name = "ReadOnly"
default_duration = "1h"
max_duration = "8h"
provisioner = { kind = "manual", assignees = { users = ["U0CAROL001"] } }
[[resources.entitlements]]
id = "admin"
name = "Admin"
default_duration = "1h"
max_duration = "4h"
provisioner = { kind = "manual", assignees = { users = ["U0CAROL001"] } }

[[resources]]
id = "aws-dev"
name = "AWS development"
space = "prod"
[[resources.entitlements]]
id = "readonly"
name = "ReadOnly"
default_duration = "1h"
max_duration = "2d"
provisioner = { kind = "manual", assignees = { users = ["U0CAROL001"] } }
[[resources.entitlements]]
id = "poweruser"
name = "Power user"
default_duration = "1h"
max_duration = "1d"
provisioner = { kind = "manual", assignees = { users = ["U0CAROL001"] } }

[[resources]]
id = "orders-db"
name = "Orders database"
space = "prod"
[[resources.entitlements]]
id = "readonly"
name = "ReadOnly"
default_duration = "2h"
max_duration = "1d"
provisioner = { kind = "manual", assignees = { users = ["U0CAROL001"] } }
[[resources.entitlements]]
id = "readwrite"
name = "ReadWrite"
default_duration = "1h"
max_duration = "4h"
provisioner = { kind = "manual", assignees = { users = ["U0CAROL001"] } }

[[resources]]
id = "vault"
name = "Vault"
space = "prod"
[[resources.entitlements]]
id = "break-glass"
name = "Break glass"
default_duration = "1h"
max_duration = "permanent"
permanent_allowed = true
provisioner = { kind = "manual", assignees = { users = ["U0CAROL001"] } }

[[resources]]
id = "1password"
name = "1Password"
space = "prod"
[[resources.entitlements]]
id = "member"
name = "Member"
default_duration = "1d"
max_duration = "30d"
provisioner = { kind = "manual", assignees = { users = ["U0CAROL001"] } }
"#;

fn catalog() -> Catalog {
    Catalog::from_toml(Source {
        name: "intake-test.toml",
        text: CATALOG,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A part in one line: the value when found, else `missing`, `unknown TEXT [ids]`,
/// `ambiguous TEXT [ids]` or `invalid TEXT: WHY`; candidate ids are `resource` or
/// `resource:entitlement`.
fn show<T>(part: &Part<T>, value: impl Fn(&T) -> String) -> String {
    let ids = |candidates: &[Candidate]| {
        candidates
            .iter()
            .map(|c| match &c.entitlement {
                Some(e) => format!("{}:{e}", c.resource),
                None => c.resource.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match part {
        Part::Found(v) => value(v),
        Part::Missing => "missing".to_owned(),
        Part::Unknown { text, candidates } => format!("unknown {text} [{}]", ids(candidates)),
        Part::Ambiguous { text, candidates } => format!("ambiguous {text} [{}]", ids(candidates)),
        Part::Invalid { text, why } => format!("invalid {text}: {why}"),
    }
}

fn show_duration(d: &RequestedDuration) -> String {
    match d {
        RequestedDuration::For(d) => spoken(*d),
        RequestedDuration::Permanent => "permanent".to_owned(),
    }
}

/// Resource, entitlement, duration, reason, person (`-` for nobody, `?@name` for
/// a typed name that is no mention).
fn row(parsed: &Parsed) -> [String; 5] {
    let person = match (&parsed.on_behalf_of, &parsed.unresolved_mention) {
        (Some(id), _) => id.clone(),
        (None, Some(name)) => format!("?{name}"),
        (None, None) => "-".to_owned(),
    };
    [
        show(&parsed.resource, String::clone),
        show(&parsed.entitlement, String::clone),
        show(&parsed.duration, show_duration),
        show(&parsed.reason, String::clone),
        person,
    ]
}

type Row = (&'static str, [&'static str; 5]);

fn check(rows: &[Row], parse: impl Fn(&str) -> Option<Parsed>) {
    let mut failures = Vec::new();
    for (text, expected) in rows {
        let Some(parsed) = parse(text) else {
            failures.push(format!("{text:?}\n    read as no request at all"));
            continue;
        };
        let got = row(&parsed);
        if got != expected.map(str::to_owned) {
            failures.push(format!(
                "{text:?}\n    got      {got:?}\n    expected {expected:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

use super::duration::NOT_A_DURATION;

#[test]
fn one_line_requests_are_read_by_position() {
    let catalog = catalog();
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("aws-prod readonly 2h incident 4711", ["aws-prod", "readonly", "2 hours", "incident 4711", "-"]),
        ("  AWS-PROD  ReadOnly  90m  deploy check ", ["aws-prod", "readonly", "1 hour 30 minutes", "deploy check", "-"]),
        ("AWS production ReadOnly 1h audit", ["aws-prod", "readonly", "1 hour", "audit", "-"]),
        ("vault Break glass 2 hours outage", ["vault", "break-glass", "2 hours", "outage", "-"]),
        ("vault break-glass permanent outage", ["vault", "break-glass", "permanent", "outage", "-"]),
        ("1password member 1w onboarding", ["1password", "member", "7 days", "onboarding", "-"]),
        ("aws-prod readonly for 30 minutes because: db check", ["aws-prod", "readonly", "30 minutes", "db check", "-"]),
        ("aws-prod readonly 2h - incident", ["aws-prod", "readonly", "2 hours", "incident", "-"]),
        ("aws-prod readonly 2h", ["aws-prod", "readonly", "2 hours", "missing", "-"]),
        ("aws-prod readonly", ["aws-prod", "readonly", "missing", "missing", "-"]),
        ("aws-prod 2h incident", ["aws-prod", "missing", "2 hours", "incident", "-"]),
        ("aws-prod readonly 2h :fire: urgent", ["aws-prod", "readonly", "2 hours", ":fire: urgent", "-"]),
        ("aws-prod readonly 2h because of a page", ["aws-prod", "readonly", "2 hours", "of a page", "-"]),
        ("aws-prod readonly 2h 2 hosts down", ["aws-prod", "readonly", "2 hours", "2 hosts down", "-"]),
        ("aws-prod", ["aws-prod", "missing", "missing", "missing", "-"]),
        ("", ["missing", "missing", "missing", "missing", "-"]),
    ];
    check(rows, |text| Some(parse_one_line(text, &catalog)));
}

#[test]
fn one_line_requests_for_someone_else_name_them_with_a_mention_anywhere() {
    let catalog = catalog();
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("aws-prod readonly 2h incident 4711 for <@U0BOB00001|bob>", ["aws-prod", "readonly", "2 hours", "incident 4711", "U0BOB00001"]),
        ("for <@U0BOB00001> aws-prod readonly 2h incident", ["aws-prod", "readonly", "2 hours", "incident", "U0BOB00001"]),
        ("aws-prod readonly for <@U0BOB00001|bob> 2h incident", ["aws-prod", "readonly", "2 hours", "incident", "U0BOB00001"]),
        ("aws-prod readonly 2h for @U0BOB00001 incident", ["aws-prod", "readonly", "2 hours", "incident", "U0BOB00001"]),
        ("aws-prod readonly 2h for @bob incident", ["aws-prod", "readonly", "2 hours", "incident", "?@bob"]),
        ("aws-prod readonly 2h ask <@U0BOB00001>", ["aws-prod", "readonly", "2 hours", "ask @U0BOB00001", "-"]),
    ];
    check(rows, |text| Some(parse_one_line(text, &catalog)));
}

#[test]
fn one_line_requests_name_what_they_could_not_match_and_never_guess() {
    let catalog = catalog();
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("aws-prd readonly 2h x", ["unknown aws-prd [aws-prod]", "unknown readonly [aws-prod:readonly]", "2 hours", "x", "-"]),
        ("aws readonly 2h x", ["ambiguous aws [aws-dev, aws-prod]", "unknown readonly [aws-dev:readonly, aws-prod:readonly]", "2 hours", "x", "-"]),
        ("orders readonly 1h x", ["unknown orders [orders-db]", "unknown readonly [orders-db:readonly]", "1 hour", "x", "-"]),
        ("kubernetes admin 1h x", ["unknown kubernetes []", "unknown admin []", "1 hour", "x", "-"]),
        ("aws-prod admn 1h x", ["aws-prod", "unknown admn [aws-prod:admin]", "1 hour", "x", "-"]),
        ("aws-dev power 1h x", ["aws-dev", "unknown power [aws-dev:poweruser]", "1 hour", "x", "-"]),
        ("aws-prod read 1h x", ["aws-prod", "unknown read [aws-prod:readonly]", "1 hour", "x", "-"]),
        ("orders-db read 1h x", ["orders-db", "ambiguous read [orders-db:readonly, orders-db:readwrite]", "1 hour", "x", "-"]),
        ("aws-prod nothing-like-it 1h x", ["aws-prod", "unknown nothing-like-it [aws-prod:readonly, aws-prod:admin]", "1 hour", "x", "-"]),
    ];
    check(rows, |text| Some(parse_one_line(text, &catalog)));
}

#[test]
fn one_line_durations_are_checked_against_the_entitlement() {
    let catalog = catalog();
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("aws-prod readonly 12h x", ["aws-prod", "readonly", "invalid 12h: at most 8 hours for ReadOnly", "x", "-"]),
        ("aws-prod readonly 8h x", ["aws-prod", "readonly", "8 hours", "x", "-"]),
        ("aws-prod readonly permanent x", ["aws-prod", "readonly", "invalid permanent: at most 8 hours for ReadOnly", "x", "-"]),
        ("aws-dev poweruser 2 days x", ["aws-dev", "poweruser", "invalid 2 days: at most 1 day for Power user", "x", "-"]),
        ("aws-prod readonly soon because x", ["aws-prod", "readonly", &*Box::leak(format!("invalid soon: {NOT_A_DURATION}").into_boxed_str()), "x", "-"]),
        ("aws-prod readonly 1.5h x", ["aws-prod", "readonly", "invalid 1.5h: I can't read it as a duration; write e.g. 30m, 2h, 1d, 2 hours or permanent", "x", "-"]),
        ("aws-prod readonly 0m x", ["aws-prod", "readonly", "invalid 0m: it must be longer than zero", "x", "-"]),
        ("aws-prod readonly 400d x", ["aws-prod", "readonly", "invalid 400d: it is longer than a year", "x", "-"]),
        ("aws-prd readonly 12h x", ["unknown aws-prd [aws-prod]", "unknown readonly [aws-prod:readonly]", "12 hours", "x", "-"]),
    ];
    check(rows, |text| Some(parse_one_line(text, &catalog)));
}

#[test]
fn slack_markup_in_a_one_line_request_becomes_plain_text() {
    let catalog = catalog();
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("*aws-prod* `readonly` 2h &lt;!channel&gt; hi <!channel>", ["aws-prod", "readonly", "2 hours", "<!channel> hi @channel", "-"]),
        ("orders-db readwrite 2h fix <https://jira.example/X-1|X-1> &amp; verify", ["orders-db", "readwrite", "2 hours", "fix X-1 (https://jira.example/X-1) & verify", "-"]),
        ("orders-db readwrite 2h see <#C0SECURITY|security> and <!subteam^S0SECOPS01|@secops>", ["orders-db", "readwrite", "2 hours", "see #security and @secops", "-"]),
        ("orders-db readwrite 2h tab\there\u{0}nul", ["orders-db", "readwrite", "2 hours", "tab\there nul", "-"]),
    ];
    check(rows, |text| Some(parse_one_line(text, &catalog)));
}

#[test]
fn messages_that_read_as_requests_are_understood_wherever_the_parts_stand() {
    let catalog = catalog();
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("request aws-prod readonly for 2h because incident 4711", ["aws-prod", "readonly", "2 hours", "incident 4711", "-"]),
        ("request AWS production ReadOnly for 2 hours because the deploy failed", ["aws-prod", "readonly", "2 hours", "the deploy failed", "-"]),
        ("please give me readonly on aws-prod for 30m: checking logs", ["aws-prod", "readonly", "30 minutes", "checking logs", "-"]),
        ("Hi! Could you give me Admin on aws-prod for 1 hour - rollback", ["aws-prod", "admin", "1 hour", "rollback", "-"]),
        ("please request AWS Production readonly for 45 minutes because audit", ["aws-prod", "readonly", "45 minutes", "audit", "-"]),
        ("request: orders-db readwrite for 1 hour and 30 minutes because migration", ["orders-db", "readwrite", "1 hour 30 minutes", "migration", "-"]),
        ("request aws-prod readonly for 2h for reason: on-call", ["aws-prod", "readonly", "2 hours", "on-call", "-"]),
        ("request vault break glass permanently because outage", ["vault", "break-glass", "permanent", "outage", "-"]),
        ("I need access to the Orders database, readwrite, for an hour: hotfix", ["orders-db", "readwrite", "1 hour", "hotfix", "-"]),
        ("request aws-prod readonly 2h incident 4711", ["aws-prod", "readonly", "2 hours", "incident 4711", "-"]),
        ("can i get readonly access to aws-prod for 2h? on-call", ["aws-prod", "readonly", "2 hours", "on-call", "-"]),
        ("hey c1bot, i'd like admin on aws-prod for 1h because deploy", ["aws-prod", "admin", "1 hour", "deploy", "-"]),
        ("i want aws-dev power user for a day - testing", ["aws-dev", "poweruser", "1 day", "testing", "-"]),
        ("request 1password member for 1 month because onboarding", ["1password", "member", "30 days", "onboarding", "-"]),
        ("request orders-db readonly at 10:30 because x", ["orders-db", "readonly", "missing", "x", "-"]),
        ("aws-prod readonly 2h incident", ["aws-prod", "readonly", "2 hours", "incident", "-"]),
        ("i need aws-prod readonly for 2 hours", ["aws-prod", "readonly", "2 hours", "missing", "-"]),
        ("request aws-prod for 2h because x", ["aws-prod", "missing", "2 hours", "x", "-"]),
        ("give me aws-prod readonly because x", ["aws-prod", "readonly", "missing", "x", "-"]),
        ("request aws-prod readonly for <@U0BOB00001|bob> for 2h because onboarding", ["aws-prod", "readonly", "2 hours", "onboarding", "U0BOB00001"]),
        ("request aws-prod readonly for 2h for @bob because onboarding", ["aws-prod", "readonly", "2 hours", "onboarding", "?@bob"]),
        ("request aws-prod readonly for 2h because set up for <@U0BOB00001>", ["aws-prod", "readonly", "2 hours", "set up", "U0BOB00001"]),
        ("request aws-prod readonly for 2h because <@U0BOB00001> asked &amp; <!here>", ["aws-prod", "readonly", "2 hours", "@U0BOB00001 asked & @here", "-"]),
    ];
    check(rows, |text| parse_message(text, &catalog));
}

#[test]
fn messages_name_what_they_could_not_match_and_never_guess() {
    let catalog = catalog();
    #[rustfmt::skip]
    let rows: &[Row] = &[
        ("request aws-prd readonly for 2h because x", ["unknown aws-prd [aws-prod]", "unknown readonly [aws-prod:readonly]", "2 hours", "x", "-"]),
        ("give me readonly on aws-prd for 1h: x", ["unknown aws-prd [aws-prod]", "unknown readonly [aws-prod:readonly]", "1 hour", "x", "-"]),
        ("request aws readonly for 2h because x", ["ambiguous aws [aws-dev, aws-prod]", "unknown readonly [aws-dev:readonly, aws-prod:readonly]", "2 hours", "x", "-"]),
        ("request readonly for 2h because x", ["missing", "unknown readonly []", "2 hours", "x", "-"]),
        ("request aws-prod read only for 2h because x", ["aws-prod", "unknown read only [aws-prod:readonly]", "2 hours", "x", "-"]),
        ("request aws-prod adm for 1h because x", ["aws-prod", "unknown adm [aws-prod:admin]", "1 hour", "x", "-"]),
        ("request raedonly on aws-prd for 1h because x", ["unknown aws-prd [aws-prod]", "unknown raedonly []", "1 hour", "x", "-"]),
        ("request aws-prod readonly for 12h because x", ["aws-prod", "readonly", "invalid 12h: at most 8 hours for ReadOnly", "x", "-"]),
        ("request aws-prod readonly for two days because x", ["aws-prod", "readonly", "invalid two days: at most 8 hours for ReadOnly", "x", "-"]),
        ("request orders-db readonly for 1.5h because x", ["orders-db", "readonly", "invalid 1.5h: I can't read it as a duration; write e.g. 30m, 2h, 1d, 2 hours or permanent", "x", "-"]),
    ];
    check(rows, |text| parse_message(text, &catalog));
}

#[test]
fn messages_that_do_not_read_as_requests_are_left_to_a_conversation() {
    let catalog = catalog();
    for text in [
        "",
        "   ",
        "hello",
        "thanks!",
        "what can you do?",
        "is aws-prod down?",
        "i need help",
        "request",
        "please give me access",
        "<!channel>",
        "<@U0BOB00001> ping",
        "the readonly role is broken",
    ] {
        assert_eq!(parse_message(text, &catalog), None, "{text:?}");
    }
}

#[test]
fn a_reason_is_kept_up_to_two_thousand_characters() {
    let catalog = catalog();
    let at_limit = "é".repeat(MAX_REASON_CHARS);
    let parsed = parse_one_line(&format!("aws-prod readonly 2h {at_limit}"), &catalog);
    assert_eq!(parsed.reason, Part::Found(at_limit.clone()));

    let over = format!("{at_limit}x");
    for parsed in [
        parse_one_line(&format!("aws-prod readonly 2h {over}"), &catalog),
        parse_message(
            &format!("request aws-prod readonly for 2h because {over}"),
            &catalog,
        )
        .expect("a request"),
    ] {
        let Part::Invalid { text, why } = &parsed.reason else {
            panic!("{:?}", parsed.reason);
        };
        assert_eq!(text.chars().count(), 60);
        assert_eq!(
            why,
            "it is 2001 characters long; keep it to 2000 and link to the details"
        );
        assert_eq!(parsed.complete(), None);
    }
}

#[test]
fn a_complete_request_carries_every_part() {
    let catalog = catalog();
    let parsed = parse_message(
        "request aws-prod readonly for 2h because incident 4711 for <@U0BOB00001|bob>",
        &catalog,
    )
    .expect("a request");
    assert_eq!(
        parsed.complete(),
        Some(Complete {
            resource: "aws-prod".into(),
            entitlement: "readonly".into(),
            duration: RequestedDuration::For(
                crate::catalog::AccessDuration::parse("2h").expect("2h")
            ),
            reason: "incident 4711".into(),
            on_behalf_of: Some("U0BOB00001".into()),
            starts: None,
        })
    );
    assert!(parsed.problems().is_empty());
    let typed_name = parse_one_line("aws-prod readonly 2h for @bob x", &catalog);
    assert_eq!(typed_name.complete(), None);
}

#[test]
fn problems_are_one_friendly_sentence_per_part() {
    let catalog = catalog();
    let cases: &[(&str, &[&str])] = &[
        (
            "aws-prd readonly 2h x",
            &["I don't know the resource 'aws-prd'. Did you mean AWS production (aws-prod)?"],
        ),
        (
            "aws readonly 2h x",
            &["'aws' could be more than one resource: AWS development (aws-dev) or AWS production (aws-prod). Which one?"],
        ),
        (
            "kubernetes readonly 2h x",
            &["I don't know the resource 'kubernetes'."],
        ),
        (
            "orders-db read 2h x",
            &["'read' could be more than one entitlement on orders-db: Orders database · ReadOnly (readonly) or Orders database · ReadWrite (readwrite). Which one?"],
        ),
        (
            "aws-prod admn 2h x",
            &["I don't know the entitlement 'admn' on aws-prod. Did you mean AWS production · Admin (admin)?"],
        ),
        (
            "aws-prod readonly 12h x",
            &["The duration '12h' won't do: at most 8 hours for ReadOnly."],
        ),
        (
            "aws-prod readonly 2h for @bob x",
            &["I can't tell who '@bob' is: pick them from Slack's @ list so the name becomes a mention."],
        ),
        (
            "aws-prod",
            &[
                "Which entitlement do you need on aws-prod?",
                "For how long? For example 30m, 2h, 1d or 2 hours.",
                "Why do you need it? Add a reason for the approvers, e.g. 'because incident 4711'.",
            ],
        ),
        (
            "",
            &[
                "Which resource do you need access to?",
                "Which entitlement do you need?",
                "For how long? For example 30m, 2h, 1d or 2 hours.",
                "Why do you need it? Add a reason for the approvers, e.g. 'because incident 4711'.",
            ],
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            parse_one_line(text, &catalog).problems(),
            *expected,
            "{text:?}"
        );
    }
}

#[test]
fn problems_quote_long_text_briefly() {
    let catalog = catalog();
    let long = "x".repeat(500);
    let problems = parse_one_line(&format!("{long} readonly 2h y"), &catalog).problems();
    assert_eq!(problems.len(), 1);
    assert!(problems[0].chars().count() < 120, "{}", problems[0]);
}

#[test]
fn the_matchers_used_by_a_conversation_follow_the_same_rules() {
    let catalog = catalog();
    let show_resource = |text: &str| show(&match_resource(text, &catalog), String::clone);
    assert_eq!(show_resource("AWS Production"), "aws-prod");
    assert_eq!(show_resource(" `orders-db`. "), "orders-db");
    assert_eq!(show_resource("aws"), "ambiguous aws [aws-dev, aws-prod]");
    assert_eq!(show_resource("prod"), "unknown prod [aws-prod]");
    assert_eq!(show_resource("aws-prd"), "unknown aws-prd [aws-prod]");
    assert_eq!(show_resource("  "), "missing");

    let aws_prod = catalog.resource("aws-prod").expect("aws-prod");
    let show_entitlement = |text: &str| show(&match_entitlement(text, aws_prod), String::clone);
    assert_eq!(show_entitlement("READONLY"), "readonly");
    assert_eq!(show_entitlement("admin"), "admin");
    assert_eq!(
        show_entitlement("a"),
        "unknown a [aws-prod:admin, aws-prod:readonly]"
    );
    assert_eq!(
        show_entitlement("write"),
        "unknown write [aws-prod:readonly, aws-prod:admin]"
    );

    let readonly = catalog.entitlement("aws-prod", "readonly");
    let show_duration_of = |text: &str| show(&match_duration(text, readonly), show_duration);
    assert_eq!(show_duration_of("for 2 hours"), "2 hours");
    assert_eq!(show_duration_of("90m"), "1 hour 30 minutes");
    assert_eq!(
        show_duration_of("9h"),
        "invalid 9h: at most 8 hours for ReadOnly"
    );
    assert_eq!(
        show_duration_of("2 hours please"),
        format!("invalid 2 hours please: {NOT_A_DURATION}")
    );
    assert_eq!(show_duration_of(""), "missing");
    assert_eq!(
        show(&match_duration("permanent", None), show_duration),
        "permanent"
    );
}

#[test]
fn names_in_a_large_synthetic_catalog_match_by_their_words() {
    let catalog = Catalog::synthetic(500);
    let parsed = parse_message(
        "request Orders database 002 readwrite for 1h because migration",
        &catalog,
    )
    .expect("a request");
    assert_eq!(
        row(&parsed),
        [
            "orders-database-002",
            "readwrite",
            "1 hour",
            "migration",
            "-"
        ]
    );
    let Part::Ambiguous { candidates, .. } = match_resource("orders", &catalog) else {
        panic!("a prefix of ten resources is ambiguous");
    };
    assert_eq!(candidates.len(), 5);
}

/// A deterministic stream of awkward fragments: whatever they make, parsing answers.
#[test]
fn hostile_text_never_panics_and_never_completes_by_accident() {
    let catalog = catalog();
    const FRAGMENTS: &[&str] = &[
        "request",
        "aws-prod",
        "AWS",
        "production",
        "readonly",
        "for",
        "2h",
        "2",
        "hours",
        "because",
        ":",
        "-",
        "—",
        "<",
        ">",
        "<@",
        "<@U0BOB00001",
        "<@U0BOB00001|bob>",
        "@",
        "@bob",
        "<!channel>",
        "<!subteam^S1|@x>",
        "&amp;",
        "&lt;",
        "&",
        "<http://x|y z>",
        "\u{0}",
        "\u{202e}",
        "é",
        "e\u{301}",
        "👩‍💻",
        "日本語",
        "\n",
        "\t",
        "  ",
        "*",
        "_",
        "`",
        "permanent",
        "1.5h",
        "0m",
        "99999999999999999999d",
        "and",
        "an",
        "hour",
        "x",
        ":fire:",
        "for reason",
        "reason:",
        "1password",
        "Break",
        "glass",
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..3_000 {
        let mut text = String::new();
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let words = (seed >> 59) as usize + 1;
        for _ in 0..words {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            text.push_str(FRAGMENTS[(seed >> 33) as usize % FRAGMENTS.len()]);
            if seed & 1 == 0 {
                text.push(' ');
            }
        }
        for parsed in [
            Some(parse_one_line(&text, &catalog)),
            parse_message(&text, &catalog),
        ]
        .into_iter()
        .flatten()
        {
            let problems = parsed.problems();
            match parsed.complete() {
                Some(_) => assert!(problems.is_empty(), "{text:?}: {problems:?}"),
                None => assert!(!problems.is_empty(), "{text:?}: {parsed:?}"),
            }
        }
    }
    let huge = "request aws-prod readonly for 2h because ".to_owned()
        + &"<@U1|a b> : - &amp; ".repeat(20_000);
    let parsed = parse_message(&huge, &catalog).expect("a request");
    assert!(matches!(parsed.reason, Part::Invalid { .. }));
    let no_markers = "aws ".repeat(30_000);
    assert_eq!(parse_message(&no_markers, &catalog), None);
    let _ = parse_one_line(&no_markers, &catalog).problems();
}

#[test]
fn a_one_line_start_may_come_before_or_after_the_duration_and_is_not_the_reason() {
    use chrono::NaiveTime;
    use start::{Day, StartPhrase};
    let catalog = catalog();
    let nine_tomorrow = Some(StartPhrase {
        day: Day::Tomorrow,
        time: NaiveTime::from_hms_opt(9, 0, 0).expect("09:00"),
    });
    for line in [
        "aws-prod readonly 4h from 09:00 tomorrow incident 4711",
        "aws-prod readonly from tomorrow 9am for 4h incident 4711",
    ] {
        let complete = parse_one_line(line, &catalog).complete().expect(line);
        assert_eq!(complete.starts, nine_tomorrow, "{line}");
        assert_eq!(complete.reason, "incident 4711", "{line}");
    }
    let not_a_time = parse_one_line("aws-prod readonly 4h from home office", &catalog);
    assert_eq!(not_a_time.starts, None);
    assert_eq!(
        not_a_time.reason,
        Part::Found("from home office".to_owned())
    );
}
