//! What a campaign is: its scope, who reviews, its state, the items under review and
//! the channel it reports to.
//!
//! These types are stored as they are (serde), so a field added later carries
//! `#[serde(default)]` and old records still read. Nothing here decides anything:
//! [`super::workflow`] changes a campaign, [`super::items`] builds its items.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::workflow::request::UserId;

/// An access-review campaign (`CMP-1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    /// Slack user ids of the people who start, end and manage it.
    pub owners: Vec<UserId>,
    pub scope: Scope,
    pub reviewers: ReviewerRule,
    pub due: DateTime<Utc>,
    pub state: CampaignState,
    /// Empty until the campaign starts: the access in scope is collected then.
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(default)]
    pub channel: Option<CampaignChannel>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    /// Reminder rounds sent so far.
    #[serde(default)]
    pub reminders: u32,
    /// Channels attached so far, counting removed ones: the current channel's status
    /// message is the one posted for attachment number `channels_attached`.
    #[serde(default)]
    pub channels_attached: u32,
}

impl Campaign {
    /// A draft with nothing collected yet.
    #[allow(clippy::too_many_arguments)]
    pub fn draft(
        id: impl Into<String>,
        name: impl Into<String>,
        owners: Vec<UserId>,
        scope: Scope,
        reviewers: ReviewerRule,
        due: DateTime<Utc>,
        created_by: impl Into<UserId>,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            owners,
            scope,
            reviewers,
            due,
            state: CampaignState::Draft,
            items: Vec::new(),
            channel: None,
            created_by: created_by.into(),
            created_at,
            reminders: 0,
            channels_attached: 0,
        }
    }

    pub fn is_owner(&self, user: &str) -> bool {
        self.owners.iter().any(|o| o == user)
    }

    pub fn item(&self, id: u32) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }

    /// Everyone reviewing at least one item, in id order.
    pub fn reviewers(&self) -> BTreeSet<UserId> {
        self.items
            .iter()
            .filter_map(|i| i.reviewer.clone())
            .collect()
    }

    /// The channel, when it is attached and still posting.
    pub fn live_channel(&self) -> Option<&CampaignChannel> {
        self.channel.as_ref().filter(|c| c.active)
    }
}

/// What a campaign reviews. An item is in scope when any one of the three matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Scope {
    /// Catalog space ids; a resource matches when its own space is listed (not an ancestor).
    pub spaces: Vec<String>,
    /// Catalog resource ids.
    pub resources: Vec<String>,
    /// `(resource id, entitlement id)` pairs.
    pub entitlements: Vec<(String, String)>,
}

/// Who reviews the items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewerRule {
    /// Each resource's owners (from the catalog).
    ResourceOwners,
    /// These Slack users, in turn.
    Users(Vec<UserId>),
    /// The members of these Slack user groups (resolved by the caller at start), in turn.
    Groups(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CampaignState {
    Draft,
    Running {
        started_at: DateTime<Utc>,
        started_by: UserId,
    },
    Completed {
        /// When it started, kept so a finished campaign still says how long it ran.
        started_at: DateTime<Utc>,
        at: DateTime<Utc>,
        by: UserId,
    },
}

impl CampaignState {
    pub fn label(&self) -> &'static str {
        match self {
            CampaignState::Draft => "a draft",
            CampaignState::Running { .. } => "running",
            CampaignState::Completed { .. } => "completed",
        }
    }
}

/// One person's access to one entitlement, to be certified or revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// Stable within its campaign; buttons carry it.
    pub id: u32,
    pub beneficiary: UserId,
    pub resource: String,
    pub entitlement: String,
    pub source: Source,
    /// `None` when nobody could be found to review it (a resource without owners);
    /// an owner then reassigns it.
    #[serde(default)]
    pub reviewer: Option<UserId>,
    #[serde(default)]
    pub decision: Option<Review>,
}

impl Item {
    /// The reviewer would review their own access: only when policy allows it.
    pub fn is_self_review(&self) -> bool {
        self.reviewer.as_deref() == Some(self.beneficiary.as_str())
    }

    pub fn is_decided(&self) -> bool {
        self.decision.is_some()
    }
}

/// Where the access under review came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A c1bot grant, still active (`REQ-…`).
    Grant { request_id: String },
    /// A member the catalog lists on the entitlement (access held outside c1bot).
    Standing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub verdict: Verdict,
    pub by: UserId,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Certify,
    Revoke,
    /// Closed by c1bot: the access ended (expired, revoked, given up) during the
    /// review, so there was nothing left to certify or revoke.
    Ended,
}

impl Verdict {
    /// As in "already certified by …".
    pub fn past_tense(self) -> &'static str {
        match self {
            Verdict::Certify => "certified",
            Verdict::Revoke => "revoked",
            Verdict::Ended => "closed: the access ended during the review",
        }
    }
}

/// The Slack channel a campaign reports to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignChannel {
    pub id: String,
    pub name: String,
    /// c1bot created it (`conversations.create`) rather than joining an existing one.
    pub created_by_c1bot: bool,
    /// False after *Deactivate*: c1bot stays in the channel but posts nothing.
    pub active: bool,
    /// People c1bot has asked to invite, so a reviewer is invited once.
    #[serde(default)]
    pub invited: BTreeSet<UserId>,
}
