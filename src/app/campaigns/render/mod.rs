//! Campaign messages as Block Kit: the modal, the owners' card and the reviewers'
//! pages, from `blocks/campaign_*.json`. Pure rendering into outbox messages: the
//! owners' card and channel status are `card`, the reviewers' DMs `reviews`, the
//! modals `modals`.

mod card;
mod modals;
mod reviews;

use serde_json::Value;

use crate::store::OutboxMessage;

pub(super) use self::card::{owner_cards, status_message};
pub(super) use self::modals::{channel_modal, modal, reassign_modal};
pub(super) use self::reviews::{page_count, reminders, review_pages};

pub(super) fn message(card: Value, to: &str, key: String, fresh: bool) -> OutboxMessage {
    if fresh {
        OutboxMessage::post(to, &card, key)
    } else {
        OutboxMessage::update(&card, key)
    }
}
