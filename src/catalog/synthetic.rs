//! A generated, valid catalog of any size, for tests and benchmarks that need
//! "500 entitlements" without a 3,000-line fixture. Deterministic.

use super::duration::{AccessDuration, MaxDuration};
use super::model::{
    ApprovalStep, Approvers, Assignees, Entitlement, Id, Provisioner, Requirement, Resource,
    SlackId, Space,
};

const SYSTEMS: [&str; 10] = [
    "AWS account",
    "Orders database",
    "Payments API",
    "Kubernetes cluster",
    "Data warehouse",
    "CI runners",
    "Billing service",
    "Search cluster",
    "Analytics",
    "Support console",
];
const KINDS: [(&str, &str, u64); 5] = [
    ("readonly", "ReadOnly", 8),
    ("readwrite", "ReadWrite", 4),
    ("admin", "Admin", 2),
    ("deploy", "Deploy", 4),
    ("support", "Support", 8),
];

pub(super) fn generate(n_entitlements: usize) -> (Vec<Space>, Vec<Resource>) {
    let spaces = vec![
        space("root", "Root", None, &[]),
        space("prod", "Production", Some("root"), &["prod"]),
        space("dev", "Development", Some("root"), &["dev"]),
    ];
    let resources = (0..n_entitlements.div_ceil(KINDS.len()))
        .map(|r| {
            let first = r * KINDS.len();
            let count = (n_entitlements - first).min(KINDS.len());
            resource(r, count)
        })
        .collect();
    (spaces, resources)
}

fn id(text: &str) -> Id {
    Id::parse(text).expect("generated ids are slugs")
}

fn user(text: &str) -> SlackId {
    SlackId::parse(text, super::SlackIdKind::User).expect("generated user ids are well formed")
}

fn space(slug: &str, name: &str, parent: Option<&str>, labels: &[&str]) -> Space {
    Space {
        id: id(slug),
        name: name.to_owned(),
        parent: parent.map(id),
        inherit: true,
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
    }
}

fn resource(n: usize, count: usize) -> Resource {
    let system = SYSTEMS[n % SYSTEMS.len()];
    let number = n / SYSTEMS.len() + 1;
    Resource {
        id: id(&format!(
            "{}-{number:03}",
            system.to_lowercase().replace(' ', "-")
        )),
        name: format!("{system} {number:03}"),
        description: format!("Synthetic resource {n}"),
        space: id(if n.is_multiple_of(2) { "prod" } else { "dev" }),
        owners: vec![user("U0FRANK001")],
        labels: Vec::new(),
        entitlements: KINDS[..count]
            .iter()
            .map(|(slug, name, max_hours)| entitlement(slug, name, *max_hours))
            .collect(),
    }
}

fn entitlement(slug: &str, name: &str, max_hours: u64) -> Entitlement {
    let hours = |h: u64| AccessDuration::from_secs(h * 3600).expect("a few hours is in range");
    Entitlement {
        id: id(slug),
        name: name.to_owned(),
        description: format!("{name} access"),
        default_duration: hours(1),
        max_duration: MaxDuration::Limited(hours(max_hours)),
        permanent_allowed: false,
        members: Vec::new(),
        fields: Vec::new(),
        break_glass_max: hours(1),
        steps: vec![ApprovalStep {
            name: "Team lead".to_owned(),
            approvers: Approvers {
                users: vec![user("U0BOB00001")],
                groups: Vec::new(),
                resource_owners: false,
            },
            require: Requirement::Any,
            escalation: None,
            notify_channel: None,
        }],
        provisioner: Provisioner::manual(Assignees {
            users: vec![user("U0CAROL001")],
            groups: Vec::new(),
        }),
    }
}
