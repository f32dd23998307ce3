//! Why a campaign action was refused, and the sentence shown to whoever clicked.
//!
//! The sentences mention users as `<@U…>` (Slack renders them as names) and never
//! repeat user-written text such as the campaign's name, so the caller can post them
//! without escaping.

use super::model::{UserId, Verdict};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Only the campaign's owners start, end, reassign and manage its channel.
    NotAnOwner,
    /// Start on a campaign that is not a draft.
    AlreadyStarted,
    /// The action needs a running campaign.
    NotRunning {
        state: &'static str,
    },
    /// Nothing in scope: a campaign with no items would have nothing to do.
    NothingToReview,
    /// Start when the due date has already passed.
    DueInPast,
    NoSuchItem {
        item: u32,
    },
    /// The item was decided before; the first decision stands.
    AlreadyDecided {
        verdict: Verdict,
        by: UserId,
    },
    /// Someone else reviews the item (or nobody does yet).
    NotTheReviewer {
        reviewer: Option<UserId>,
    },
    /// The reviewer's own access, and policy does not allow self-review.
    SelfReviewNotAllowed,
    /// *Certify all* with nothing left that this person may certify.
    NothingToCertify,
    /// Reassigning to whoever already reviews the item.
    AlreadyTheReviewer,
    ChannelAlreadyAttached {
        name: String,
    },
    NoChannel,
    ChannelAlreadyInactive,
    ChannelAlreadyActive,
    /// A channel change that would post after the campaign completed.
    CampaignCompleted,
    /// A reminder with no undecided item left.
    NothingToRemind,
    /// A reminder after the due date.
    PastDue,
}

impl Refusal {
    /// A sentence for the person whose action was refused.
    pub fn message(&self, campaign_id: &str) -> String {
        match self {
            Refusal::NotAnOwner => {
                format!("Only the owners of {campaign_id} can do that.")
            }
            Refusal::AlreadyStarted => format!("{campaign_id} has already started."),
            Refusal::NotRunning { state } => {
                format!("{campaign_id} is not running (it is {state}).")
            }
            Refusal::NothingToReview => {
                format!("{campaign_id} has nothing to review: no active access matches its scope.")
            }
            Refusal::DueInPast => {
                format!("The due date of {campaign_id} has passed; set a later one to start it.")
            }
            Refusal::NoSuchItem { item } => format!("{campaign_id} has no item {item}."),
            Refusal::AlreadyDecided {
                verdict: Verdict::Ended,
                ..
            } => format!(
                "The access in this item of {campaign_id} ended during the review (it expired, was revoked or given up); there is nothing left to decide."
            ),
            Refusal::AlreadyDecided { verdict, by } => format!(
                "This item of {campaign_id} was already {} by <@{by}>.",
                verdict.past_tense()
            ),
            Refusal::NotTheReviewer { reviewer: Some(r) } => {
                format!("This item of {campaign_id} is for <@{r}> to review.")
            }
            Refusal::NotTheReviewer { reviewer: None } => {
                format!("This item of {campaign_id} has no reviewer yet; an owner can assign one.")
            }
            Refusal::SelfReviewNotAllowed => format!(
                "You cannot review your own access in {campaign_id}; ask an owner to reassign it."
            ),
            Refusal::NothingToCertify => {
                format!("You have nothing left to certify in {campaign_id}.")
            }
            Refusal::AlreadyTheReviewer => {
                format!("That person already reviews this item of {campaign_id}.")
            }
            Refusal::ChannelAlreadyAttached { name } => format!(
                "{campaign_id} already reports to #{name}; remove it before adding another."
            ),
            Refusal::NoChannel => format!("{campaign_id} has no channel."),
            Refusal::ChannelAlreadyInactive => {
                format!("The channel of {campaign_id} is already deactivated.")
            }
            Refusal::ChannelAlreadyActive => {
                format!("The channel of {campaign_id} is already active.")
            }
            Refusal::CampaignCompleted => {
                format!("{campaign_id} is completed; nothing more is posted for it.")
            }
            Refusal::NothingToRemind => format!("{campaign_id} has no one left to remind."),
            Refusal::PastDue => format!("{campaign_id} is past its due date."),
        }
    }
}
