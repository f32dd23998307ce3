//! App Home's two access-review lists: the campaigns a person owns, with their
//! progress ("Access reviews I own"), and the running campaigns still waiting on
//! their decisions ("Reviews waiting for me").
//!
//! Which campaigns are shown and in what order is decided by the pure [`owned`] and
//! [`to_review`]; [`campaigns_of`] reads the campaigns from the store and [`add_lists`]
//! fills the lists of `blocks/home.json`. Read-only: nothing here changes a campaign, and
//! publishing the view stays with [`crate::app::status`].

use std::cmp::Reverse;

use chrono::{DateTime, Utc};

use crate::app::shared::services::Services;
use crate::campaign::progress::{items_of, status_line};
use crate::campaign::{Campaign, CampaignState};
use crate::store::Table;
use crate::templates::Vars;

/// How many of an owner's campaigns are listed when completed ones are included.
/// Open campaigns (draft or running) are always listed, as they still need the
/// owner; completed ones only fill the list up to this many, newest first, since
/// they are history. The template renderer keeps the whole view within Block Kit's
/// 100 blocks whatever the lists hold (it ends a cut list with "… and N more").
pub const OWNED_SHOWN: usize = 10;

/// The campaigns `user` owns, in the order App Home lists them: open ones (draft or
/// running) by due date, then the most recently completed, up to [`OWNED_SHOWN`].
pub fn owned<'a>(campaigns: &'a [Campaign], user: &str) -> Vec<&'a Campaign> {
    let (mut open, mut completed): (Vec<&Campaign>, Vec<&Campaign>) = campaigns
        .iter()
        .filter(|c| c.is_owner(user))
        .partition(|c| completed_at(c).is_none());
    open.sort_by_key(|c| (c.due, c.created_at, c.id.clone()));
    completed.sort_by_key(|c| (Reverse(completed_at(c)), Reverse(c.created_at)));
    let room = OWNED_SHOWN.saturating_sub(open.len());
    open.extend(completed.into_iter().take(room));
    open
}

/// Running campaigns in which `user` has undecided items, with how many are left,
/// soonest due first. Drafts have no items yet and completed campaigns take no more
/// decisions, so neither is listed.
pub fn to_review<'a>(campaigns: &'a [Campaign], user: &str) -> Vec<(&'a Campaign, usize)> {
    let mut waiting: Vec<(&Campaign, usize)> = campaigns
        .iter()
        .filter(|c| matches!(c.state, CampaignState::Running { .. }))
        .map(|c| {
            let left = items_of(c, user)
                .into_iter()
                .filter(|i| !i.is_decided())
                .count();
            (c, left)
        })
        .filter(|(_, left)| *left > 0)
        .collect();
    waiting.sort_by_key(|(c, _)| (c.due, c.created_at, c.id.clone()));
    waiting
}

/// `vars` with the lists `my_campaigns` and `my_reviews` for `user`, from the
/// campaigns [`campaigns_of`] read.
pub fn add_lists(campaigns: &[Campaign], user: &str, vars: Vars) -> Vars {
    let mine = owned(campaigns, user).into_iter().map(owned_item).collect();
    let reviews = to_review(campaigns, user)
        .into_iter()
        .map(|(c, left)| review_item(c, left))
        .collect();
    vars.list("my_campaigns", mine).list("my_reviews", reviews)
}

/// The campaigns `user` owns or still has items to review in, through the index (one
/// round trip on PostgreSQL). Home still shows the request lists when this cannot be
/// read: the review lists then read as empty.
pub async fn campaigns_of(services: &Services, user: &str) -> Vec<Campaign> {
    let names = [format!("owner:{user}"), format!("reviewer:{user}")];
    let found = match services
        .store
        .index_read_any::<Campaign>(Table::Campaigns, &names)
        .await
    {
        Ok(found) => found,
        Err(error) => {
            tracing::error!(%error, "cannot read campaigns for App Home");
            return Vec::new();
        }
    };
    let mut campaigns = Vec::with_capacity(found.len());
    for (key, record) in found {
        match record {
            Ok(stored) => campaigns.push(stored.data),
            Err(error) => {
                tracing::error!(%error, campaign = key, "cannot read a campaign for App Home")
            }
        }
    }
    campaigns
}

fn completed_at(campaign: &Campaign) -> Option<DateTime<Utc>> {
    match campaign.state {
        CampaignState::Completed { at, .. } => Some(at),
        CampaignState::Draft | CampaignState::Running { .. } => None,
    }
}

fn owned_item(campaign: &Campaign) -> Vars {
    let (state, when, at) = match campaign.state {
        CampaignState::Draft => ("Draft", "due", campaign.due),
        CampaignState::Running { .. } => ("Running", "due", campaign.due),
        CampaignState::Completed { at, .. } => ("Completed", "ended", at),
    };
    Vars::new()
        .text("campaign_id", &campaign.id)
        .text("name", &campaign.name)
        .text("state", state)
        .text("progress", status_line(campaign))
        .text("when", when)
        .date("at", at.timestamp())
}

fn review_item(campaign: &Campaign, left: usize) -> Vars {
    let left = if left == 1 {
        "1 item".to_owned()
    } else {
        format!("{left} items")
    };
    Vars::new()
        .text("campaign_id", &campaign.id)
        .text("name", &campaign.name)
        .text("left", left)
        .date("due", campaign.due.timestamp())
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::campaign::{Item, Review, ReviewerRule, Scope, Source, Verdict};
    use crate::templates::Templates;

    fn at(day: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 11, 1, 9, 0, 0)
            .single()
            .expect("a valid date")
            + Duration::days(day)
    }

    /// `CMP-n`, owned by bob, created on day `n` and due on day `due`.
    fn campaign(n: i64, due: i64, state: CampaignState) -> Campaign {
        let mut c = Campaign::draft(
            format!("CMP-{n}"),
            format!("Review {n}"),
            vec!["U0BOB00001".to_owned()],
            Scope::default(),
            ReviewerRule::ResourceOwners,
            at(due),
            "U0BOB00001",
            at(n),
        );
        c.state = state;
        c
    }

    fn running(n: i64, due: i64) -> Campaign {
        campaign(
            n,
            due,
            CampaignState::Running {
                started_at: at(n),
                started_by: "U0BOB00001".to_owned(),
            },
        )
    }

    fn completed(n: i64, ended: i64) -> Campaign {
        campaign(
            n,
            ended + 5,
            CampaignState::Completed {
                started_at: at(n),
                at: at(ended),
                by: "U0BOB00001".to_owned(),
            },
        )
    }

    fn item(id: u32, reviewer: &str, decided: bool) -> Item {
        Item {
            id,
            beneficiary: "U0ALICE001".to_owned(),
            resource: "aws-prod".to_owned(),
            entitlement: "read-only".to_owned(),
            source: Source::Standing,
            reviewer: Some(reviewer.to_owned()),
            decision: decided.then(|| Review {
                verdict: Verdict::Certify,
                by: reviewer.to_owned(),
                at: at(3),
            }),
            removed: None,
        }
    }

    fn ids(shown: &[&Campaign]) -> Vec<String> {
        shown.iter().map(|c| c.id.clone()).collect()
    }

    #[test]
    fn open_campaigns_come_first_by_due_date_then_the_latest_completed() {
        let campaigns = vec![
            completed(1, 10),
            running(2, 30),
            campaign(3, 20, CampaignState::Draft),
            completed(4, 12),
        ];
        assert_eq!(
            ids(&owned(&campaigns, "U0BOB00001")),
            ["CMP-3", "CMP-2", "CMP-4", "CMP-1"]
        );
    }

    #[test]
    fn only_the_owners_campaigns_are_listed() {
        let mut theirs = running(1, 9);
        theirs.owners = vec!["U0CAROL001".to_owned()];
        let campaigns = vec![theirs, running(2, 9)];
        assert_eq!(ids(&owned(&campaigns, "U0BOB00001")), ["CMP-2"]);
        assert_eq!(ids(&owned(&campaigns, "U0CAROL001")), ["CMP-1"]);
        assert!(owned(&campaigns, "U0FRANK001").is_empty());
    }

    #[test]
    fn completed_campaigns_only_fill_the_list_up_to_its_cap() {
        let mut campaigns: Vec<Campaign> = (1..=12).map(|n| completed(n, 20 + n)).collect();
        campaigns.push(running(13, 40));
        let shown = owned(&campaigns, "U0BOB00001");
        assert_eq!(shown.len(), OWNED_SHOWN);
        assert_eq!(shown[0].id, "CMP-13");
        // The newest nine completed: CMP-12 down to CMP-4.
        assert_eq!(shown[1].id, "CMP-12");
        assert_eq!(shown[OWNED_SHOWN - 1].id, "CMP-4");
    }

    #[test]
    fn open_campaigns_are_never_dropped_for_the_cap() {
        let mut campaigns: Vec<Campaign> = (1..=12).map(|n| running(n, 30 - n)).collect();
        campaigns.push(completed(13, 20));
        let shown = owned(&campaigns, "U0BOB00001");
        assert_eq!(shown.len(), 12);
        assert!(shown.iter().all(|c| completed_at(c).is_none()));
        assert_eq!(shown[0].id, "CMP-12", "soonest due first");
    }

    #[test]
    fn a_reviewer_sees_running_campaigns_with_undecided_items_and_how_many() {
        let frank = "U0FRANK001";
        let mut soon = running(1, 8);
        soon.items = vec![
            item(1, frank, false),
            item(2, frank, true),
            item(3, frank, false),
            item(4, "U0CAROL001", false),
        ];
        let mut done = running(2, 7);
        done.items = vec![item(1, frank, true)];
        let mut later = running(3, 9);
        later.items = vec![item(1, frank, false)];
        let mut ended = completed(4, 6);
        ended.items = vec![item(1, frank, false)];
        let campaigns = vec![later, done, soon, ended];
        let waiting: Vec<(String, usize)> = to_review(&campaigns, frank)
            .into_iter()
            .map(|(c, left)| (c.id.clone(), left))
            .collect();
        assert_eq!(waiting, [("CMP-1".to_owned(), 2), ("CMP-3".to_owned(), 1)]);
        assert_eq!(
            to_review(&campaigns, "U0CAROL001")
                .into_iter()
                .map(|(c, left)| (c.id.clone(), left))
                .collect::<Vec<_>>(),
            [("CMP-1".to_owned(), 1)]
        );
        assert!(to_review(&campaigns, "U0BOB00001").is_empty());
    }

    /// The text `vars` shows through the shipped item template `item`.
    fn shown(item: &str, source: &str, vars: Vars) -> String {
        let home = r#"{"type": "home", "blocks": [{"type": "section", "block_id": "{{blocks:list:ITEM}}", "text": {"type": "mrkdwn", "text": "empty"}}]}"#;
        let templates = Templates::from_sources([
            ("home", home.replace("ITEM", item).as_str()),
            (item, source),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let view = templates
            .render("home", &Vars::new().list("list", vec![vars]))
            .unwrap_or_else(|e| panic!("{e}"));
        view["blocks"][0]["text"]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    #[test]
    fn an_owned_campaign_shows_its_state_progress_and_date_with_the_name_escaped() {
        let source = include_str!("../../../blocks/home_campaign_item.json");
        let mut ended = completed(1, 10);
        ended.name = "Q4 <!channel>".to_owned();
        ended.items = vec![item(1, "U0FRANK001", true), item(2, "U0FRANK001", false)];
        let text = shown("home_campaign_item", source, owned_item(&ended));
        assert!(text.contains("*CMP-1*  Q4 &lt;!channel&gt;"), "{text}");
        assert!(
            text.contains("Completed  ·  1 of 2 reviewed  ·  ended <!date^"),
            "{text}"
        );
        let text = shown("home_campaign_item", source, owned_item(&running(2, 10)));
        assert!(
            text.contains("Running  ·  0 of 0 reviewed  ·  due <!date^"),
            "{text}"
        );
    }

    #[test]
    fn a_waiting_review_says_how_many_items_are_left() {
        let source = include_str!("../../../blocks/home_review_item.json");
        let text = shown("home_review_item", source, review_item(&running(1, 10), 1));
        assert!(text.contains("1 item to review, due <!date^"), "{text}");
        let text = shown("home_review_item", source, review_item(&running(1, 10), 3));
        assert!(text.contains("3 items to review"), "{text}");
    }
}
