//! Review items whose access ended during the review, closed when it ends: a grant
//! that leaves `Active` for good (deprovisioning started: expiry, *I'm done*, a
//! revoke; or removed) carries a timer (kind `campaign-access-ended`, subject the
//! request id) in the commit that ends it ([`timer_for`], added by
//! `grants::render`), so the follow-up survives a crash. It is due just after the
//! access ended ([`FOLLOW_UP_AFTER`]), behind the expiries due with it. When it
//! fires, every running campaign with an undecided item for that grant (found through
//! the campaigns' `item:` index) closes it (`CampaignAction::CloseEnded`, audited as
//! `campaign.access_ended`), which redraws the reviewer's page and the progress.
//!
//! Firing twice is harmless: a closed item is not closed again. A failure leaves the
//! timer to be tried again by the timer loop.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::commit::{commit, Acting, Failure};
use crate::app::services::Services;
use crate::campaign::{Actor, Campaign, CampaignAction, Source};
use crate::store::{Table, TimerEntry};
use crate::workflow::grant::GrantState;
use crate::workflow::request::AccessRequest;

pub const TIMER: &str = "campaign-access-ended";

/// How long after the access ended its follow-up is due: one step of a timer's due
/// time (milliseconds), so it sorts after every timer due when the access ended.
/// Timers due at the same instant are read in subject order, so a follow-up due
/// exactly when its expiry was would sort among the expiries of the same burst still
/// waiting to fire, and a read of the timers due, cut short, would take it before
/// them: at 1,000,000 grants the last 1,808 of 10,000 expiries waited 9.6 s behind
/// 8,192 follow-ups (BENCHMARKS.md, session 13). Any longer and a campaign ended in
/// the meantime would keep an item open whose access is gone.
pub const FOLLOW_UP_AFTER: chrono::Duration = chrono::Duration::milliseconds(1);

/// The campaigns' index entry of an undecided item reviewing `request_id`'s grant.
pub(super) fn index_name(request_id: &str) -> String {
    format!("item:{request_id}")
}

/// The follow-up timer of a request whose grant has ended or is being removed; due
/// [`FOLLOW_UP_AFTER`] after it ended. `None` while the access is there (or
/// continues elsewhere).
pub fn timer_for(request: &AccessRequest) -> Option<(DateTime<Utc>, TimerEntry)> {
    let grant = request.grant.as_ref()?;
    let at = match grant.state {
        GrantState::Deprovisioning => grant.ending_started_at?,
        GrantState::Revoked => grant.ended_at.or(grant.ending_started_at)?,
        _ => return None,
    };
    Some((
        at + FOLLOW_UP_AFTER,
        TimerEntry::new(TIMER, request.id.clone()),
    ))
}

/// Fires the timer of `request_id`: closes its undecided items in every running
/// campaign. `Err`: try again later.
pub async fn fire(services: &Services, request_id: &str) -> anyhow::Result<()> {
    let Some(stored) = services.load_request(request_id).await? else {
        return Ok(());
    };
    if timer_for(&stored.data).is_none() {
        return Ok(());
    }
    let campaigns = services
        .store
        .index::<Campaign>(Table::Campaigns, &index_name(request_id))
        .await?;
    for (id, campaign) in campaigns {
        let items: Vec<u32> = campaign
            .data
            .items
            .iter()
            .filter(|i| !i.is_decided())
            .filter(|i| matches!(&i.source, Source::Grant { request_id: r } if r == request_id))
            .map(|i| i.id)
            .collect();
        if items.is_empty() {
            continue;
        }
        let acting = Acting::new(Actor::new("c1bot"), "campaign.access_ended")
            .detail(json!({ "items": items, "request": request_id }));
        match commit(services, &id, CampaignAction::CloseEnded { items }, &acting).await {
            Ok(_) => {
                tracing::info!(campaign = %id, request_id, "review items closed: the access ended")
            }
            // Not running any more (completed): nothing is left to close.
            Err(Failure::Refused(refusal)) => {
                tracing::info!(campaign = %id, reason = %refusal.message(&id), "review items left as they are")
            }
            Err(Failure::Trouble(text)) => anyhow::bail!("campaign {id}: {text}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::grants::TIMER_GRANT_EXPIRE;
    use crate::store::Change;
    use crate::workflow::grant::tests::{expired, manual};

    /// REQ-1042 expired with a burst due at the same instant; the burst's other
    /// expiries (subjects after it) have not fired yet. A read of the timers due,
    /// cut short as the timer loop's are, takes those expiries before the follow-up.
    #[tokio::test]
    async fn a_follow_up_is_read_after_the_expiries_due_with_its_cause() {
        let request = expired(manual(&["carol"]));
        let grant = request.grant.as_ref().expect("a grant");
        let ended = grant.ending_started_at.expect("deprovisioning started");
        let (due, follow_up) = timer_for(&request).expect("a follow-up");
        assert_eq!(follow_up.kind, TIMER);

        let store = crate::store::suite::sled_store();
        let burst = (0..10).map(|n| format!("REQ-2{n:03}"));
        let change = burst.fold(Change::new().timer(due, follow_up), |change, id| {
            change.timer(ended, TimerEntry::new(TIMER_GRANT_EXPIRE, id))
        });
        store.commit(change).await.expect("scheduled");
        let read = store
            .due_timers_limit(ended + FOLLOW_UP_AFTER, 10)
            .await
            .expect("read");
        let kinds: Vec<&str> = read.timers.iter().map(|(_, e)| e.kind.as_str()).collect();
        assert_eq!(kinds, [TIMER_GRANT_EXPIRE; 10]);
        assert_eq!(due, ended + FOLLOW_UP_AFTER);
    }
}
