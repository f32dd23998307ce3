//! Tests of the campaign state machine, by part; the fixtures are here.

use chrono::{Duration, TimeZone};

use super::*;
use crate::campaign::model::{ReviewerRule, Scope, Source};
use crate::campaign::progress::{progress, progress_by_reviewer, status_line};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn later(minutes: i64) -> DateTime<Utc> {
    now() + Duration::minutes(minutes)
}

fn item(id: u32, beneficiary: &str, resource: &str, reviewer: Option<&str>) -> Item {
    Item {
        id,
        beneficiary: beneficiary.into(),
        resource: resource.into(),
        entitlement: "readonly".into(),
        source: Source::Grant {
            request_id: format!("REQ-{id}"),
        },
        reviewer: reviewer.map(str::to_owned),
        decision: None,
        removed: None,
    }
}

/// frank reviews 1, 2 and his own 3; carol reviews 4; nobody reviews 5.
fn items() -> Vec<Item> {
    vec![
        item(1, "alice", "aws-prod", Some("frank")),
        item(2, "erin", "aws-prod", Some("frank")),
        item(3, "frank", "aws-prod", Some("frank")),
        item(4, "bob", "orders-db", Some("carol")),
        item(5, "bob", "dev-sandbox", None),
    ]
}

/// CMP-1, owned by owen and olga, due in a week.
fn draft() -> Campaign {
    Campaign::draft(
        "CMP-1",
        "Q4 <prod> review",
        vec!["owen".into(), "olga".into()],
        Scope {
            spaces: vec!["prod".into()],
            ..Scope::default()
        },
        ReviewerRule::ResourceOwners,
        now() + Duration::days(7),
        "owen",
        now(),
    )
}

fn by(user: &str) -> Actor {
    Actor::new(user)
}

fn step(campaign: &Campaign, action: CampaignAction, actor: &str) -> (Campaign, Vec<Effect>) {
    apply(campaign, action, &by(actor), later(1)).unwrap_or_else(|r| panic!("refused: {r:?}"))
}

fn refused(campaign: &Campaign, action: CampaignAction, actor: &str) -> Refusal {
    apply(campaign, action, &by(actor), later(1)).expect_err("refused")
}

fn start(items: Vec<Item>) -> CampaignAction {
    CampaignAction::Start { items }
}

fn running() -> Campaign {
    step(&draft(), start(items()), "owen").0
}

fn attach(id: &str, name: &str) -> CampaignAction {
    CampaignAction::AttachChannel {
        id: id.into(),
        name: name.into(),
        created: true,
    }
}

fn with_channel(campaign: &Campaign) -> Campaign {
    step(campaign, attach("C0REVIEW01", "access-review"), "owen").0
}

fn status() -> Effect {
    Effect::UpdateStatusMessage {
        channel: "C0REVIEW01".into(),
    }
}

fn dm(reviewer: &str) -> Effect {
    Effect::UpdateReviewerDm {
        reviewer: reviewer.into(),
    }
}

fn invite(users: &[&str]) -> Effect {
    Effect::InviteToChannel {
        channel: "C0REVIEW01".into(),
        users: users.iter().map(|u| u.to_string()).collect(),
    }
}

fn posts_to_channel(effect: &Effect) -> bool {
    matches!(
        effect,
        Effect::UpdateStatusMessage { .. } | Effect::InviteToChannel { .. }
    )
}

const UNASSIGNED: &str =
    "CMP-1: nobody could be found to review item(s) 5; reassign them to a reviewer.";

mod channel;
mod decisions;
mod lifecycle;
mod removal;
