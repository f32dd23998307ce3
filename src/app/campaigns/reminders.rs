//! Reminder timers of a running campaign (kind `campaign-remind`, subject `CMP-1`),
//! stored at *Start* for [`crate::campaign::reminders::reminder_times`].
//!
//! A firing timer is removed in the same commit as the reminder it sends, so a crash
//! cannot send one twice; a reminder the campaign refuses (completed, past due,
//! nobody waiting) only removes its timer.

use chrono::{DateTime, Utc};

use crate::app::campaigns::commit::{commit, Acting, Failure};
use crate::app::shared::services::Services;
use crate::campaign::{Actor, CampaignAction};

pub const TIMER: &str = "campaign-remind";

/// Who reminders are audited as.
const SYSTEM: &str = "c1bot";

/// Fires the reminder timer of campaign `id` due `at`. `Ok(true)`: sent, and the
/// timer removed with it; `Ok(false)`: nothing to send, the caller removes the timer.
pub async fn fire(services: &Services, id: &str, at: DateTime<Utc>) -> anyhow::Result<bool> {
    let mut acting = Acting::new(Actor::new(SYSTEM), "campaign.remind");
    acting.settles_timer = Some((at, TIMER));
    match commit(services, id, CampaignAction::Remind, &acting).await {
        Ok(_) => Ok(true),
        Err(Failure::Refused(refusal)) => {
            tracing::info!(campaign = id, reason = %refusal.message(id), "no reminder sent");
            Ok(false)
        }
        Err(Failure::Trouble(text)) => anyhow::bail!("campaign {id}: {text}"),
    }
}
