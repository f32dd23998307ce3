//! Policy decision benchmark: one `Policies::decide` with the shipped policies, and
//! with 50 modules (the shipped one plus 49 generated team policies), single thread.
//!
//! Reports load time (read + parse + analyse + warm) and decision latency median, p99
//! and max over BENCH_ITERATIONS decisions (default 20,000) after 1,000 warm-up ones.
//! Goal: a decision under 100 µs median.
//!
//! `cargo bench --bench policy`

use std::path::Path;
use std::time::{Duration, Instant};

use c1bot::policy::{
    fill_ancestors, AccessRequest, Action, Entitlement, NamedId, Policies, PolicyInput,
    RequestInfo, Resource, SlackContext, SlackUser, Space,
};

const WARM_UP: usize = 1_000;
const LOAD_RUNS: usize = 20;
const GENERATED_MODULES: usize = 49;

fn main() {
    let iterations: usize = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(20_000);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let shipped_text =
        std::fs::read_to_string(dir.join("access.rego")).expect("policies/access.rego");

    println!("policy decision benchmark, {iterations} decisions per case, single thread");

    let (policies, load) = time_load(|| Policies::load(&dir).expect("shipped policies load"));
    println!(
        "\nshipped policies ({} module): load {}",
        policies.module_count(),
        fmt(load)
    );
    run_cases(&policies, iterations);

    let many_sources = {
        let mut sources = vec![("access.rego".to_owned(), shipped_text.clone())];
        sources.extend(
            (0..GENERATED_MODULES).map(|team| (format!("team_{team:02}.rego"), team_policy(team))),
        );
        sources
    };
    let (many, load) = time_load(|| {
        Policies::from_sources(many_sources.clone()).expect("generated policies load")
    });
    println!(
        "\n{} modules (shipped + {GENERATED_MODULES} generated): load {}",
        many.module_count(),
        fmt(load)
    );
    run_cases(&many, iterations);
}

fn run_cases(policies: &Policies, iterations: usize) {
    let request = input(Action::Request, "U0ALICE001");
    let approve = input(Action::Approve, "U0FRANK001");
    let guest = {
        let mut guest = input(Action::Request, "U0ALICE001");
        guest.slack.user.is_restricted = true;
        guest
    };
    for (name, input) in [
        ("request (allowed)", &request),
        ("approve by owner (allowed)", &approve),
        ("request by guest (denied)", &guest),
    ] {
        let decision = policies.decide(input);
        let verdict = if decision.allowed { "allow" } else { "deny" };
        let timings = measure(policies, input, iterations);
        println!(
            "  {name:<28} -> {verdict:<5} median {}  p99 {}  max {}",
            fmt(percentile(&timings, 50.0)),
            fmt(percentile(&timings, 99.0)),
            fmt(percentile(&timings, 100.0)),
        );
    }
}

fn time_load(load: impl Fn() -> Policies) -> (Policies, Duration) {
    let mut timings: Vec<Duration> = (0..LOAD_RUNS)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(load());
            started.elapsed()
        })
        .collect();
    timings.sort();
    (load(), percentile(&timings, 50.0))
}

fn measure(policies: &Policies, input: &PolicyInput, iterations: usize) -> Vec<Duration> {
    for _ in 0..WARM_UP {
        std::hint::black_box(policies.decide(input));
    }
    let mut timings: Vec<Duration> = (0..iterations)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(policies.decide(std::hint::black_box(input)));
            started.elapsed()
        })
        .collect();
    timings.sort();
    timings
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn fmt(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros >= 1000.0 {
        format!("{:.2} ms", micros / 1000.0)
    } else {
        format!("{micros:.1} µs")
    }
}

/// A team's policy as a real deployment might write one: a frozen-resource deny, a
/// business-hours rule for production, its own space grants, an on-call allow, a
/// duration cap and an auto-approval.
fn team_policy(team: usize) -> String {
    format!(
        r#"package c1.teams.team_{team:02}

team_space := "team-{team:02}"

oncall := {{"U0ONCALL{team:02}", "U0ONCALLB{team:02}"}}

deny contains message if {{
	input.action == "request"
	"frozen-{team:02}" in input.resource.labels
	message := sprintf("resource %s is frozen for team {team:02}'s migration", [input.resource.id])
}}

deny contains "production access outside business hours needs the on-call" if {{
	input.action == "request"
	input.resource.space == team_space
	"prod" in {{label | some space in input.spaces; space.id == input.resource.space; some label in space.labels}}
	hour := time.clock([input.request.timestamp_ns, "UTC"])[0]
	not hour_in_business(hour)
	not input.slack.user.id in oncall
}}

hour_in_business(hour) if {{
	hour >= 7
	hour < 19
}}

space_read contains team_space if startswith(input.slack.channel.name, "team-{team:02}")

space_write contains team_space if input.slack.user.id in oncall

allow if {{
	input.action == "approve"
	input.slack.user.id in oncall
	input.resource.space == team_space
}}

max_duration := "{hours}h" if {{
	input.resource.space == team_space
	input.entitlement.id == "admin"
}}

auto_approve if {{
	input.resource.space == team_space
	input.entitlement.id == "readonly"
	input.slack.user.has_2fa
}}
"#,
        hours = 1 + team % 8,
    )
}

fn input(action: Action, user_id: &str) -> PolicyInput {
    let space = |id: &str, parent: Option<&str>, inherit: bool, labels: &[&str]| Space {
        id: id.to_owned(),
        name: id.to_owned(),
        labels: labels.iter().map(|label| (*label).to_owned()).collect(),
        parent: parent.map(str::to_owned),
        inherit,
        ancestors: Vec::new(),
    };
    let mut spaces = vec![
        space("root", None, false, &[]),
        space("prod", Some("root"), true, &["prod"]),
        space("prod-eu", Some("prod"), true, &["prod"]),
        space("dev", Some("root"), true, &["dev"]),
        space("vault", Some("root"), false, &[]),
    ];
    spaces.extend(
        (0..8).map(|team| space(&format!("team-{team:02}"), Some("prod"), true, &["prod"])),
    );
    fill_ancestors(&mut spaces);
    PolicyInput {
        action,
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
            user: SlackUser {
                id: user_id.to_owned(),
                display_name: "someone".to_owned(),
                real_name: "Some One".to_owned(),
                is_admin: false,
                is_owner: false,
                is_primary_owner: false,
                is_restricted: false,
                is_ultra_restricted: false,
                is_stranger: false,
                deleted: false,
                has_2fa: true,
                tz: "Europe/Berlin".to_owned(),
            },
        },
        spaces,
        resource: Some(Resource {
            id: "aws-prod".to_owned(),
            name: "AWS production".to_owned(),
            space: "prod-eu".to_owned(),
            owners: vec!["U0FRANK001".to_owned()],
            labels: vec!["aws".to_owned()],
        }),
        entitlement: Some(Entitlement {
            id: "readonly".to_owned(),
            name: "ReadOnly".to_owned(),
            max_duration_s: 28_800,
            default_duration_s: 3_600,
            permanent_allowed: false,
        }),
        access_request: Some(AccessRequest {
            id: "REQ-1042".to_owned(),
            requester: "U0ALICE001".to_owned(),
            beneficiary: "U0ALICE001".to_owned(),
            duration_s: Some(14_400),
            justification: "Investigating incident 1234".to_owned(),
            state: "pending".to_owned(),
            step: 0,
            approvals: Vec::new(),
            approvers: vec!["U0BOB00001".to_owned()],
        }),
    }
}
