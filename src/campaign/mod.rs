//! Access-review campaigns, as pure decisions: no I/O, no clock, no Slack, no store.
//!
//! - [`model`]: the campaign, its scope, reviewer rule, items and channel (stored as is).
//! - [`items`]: active grants and standing members in scope -> items with reviewers.
//! - [`workflow`]: start / certify / revoke / certify all / reassign / remind / end and
//!   the channel actions -> next campaign + effects, or a [`Refusal`].
//! - `channel`: the channel's rules: invitations, and silence after completion.
//! - [`progress`]: "x of y reviewed", overall and per reviewer.
//! - [`reminders`]: when a running campaign reminds its reviewers.
//! - [`refusal`]: why an action was refused, as a sentence for the person.
//! - [`channel_name`]: Slack's rules for a new channel's name and description.
//! - [`pages`]: a reviewer's items split into messages within Block Kit's 50 blocks.
//!
//! The caller supplies `now`, the access in scope, resolved user groups and policy's
//! verdict on self-review, and commits the result with its messages in one store
//! transaction.

mod channel;
pub mod channel_name;
pub mod items;
pub mod model;
pub mod pages;
pub mod progress;
pub mod refusal;
pub mod reminders;
pub mod workflow;

pub use model::{
    Campaign, CampaignChannel, CampaignState, Item, Review, ReviewerRule, Scope, Source, Verdict,
};
pub use refusal::Refusal;
pub use workflow::{apply, Actor, CampaignAction, Effect};
