//! The timers a change schedules, as the entries it commits: each kind's name and
//! when it is due. Pure. Shared by the features that commit them and the timer loop
//! (`crate::app::timers`) that reads them back; what firing one does is its feature's.

use chrono::{DateTime, Utc};

use crate::store::TimerEntry;
use crate::workflow::approval::Effect;
use crate::workflow::grant::GrantState;
use crate::workflow::request::AccessRequest;

/// Timer kinds `escalate-<step>`: the step index is part of the kind so a timer for
/// an earlier step never escalates a later one.
pub const TIMER_ESCALATE_PREFIX: &str = "escalate-";

/// Escalation timers for the steps `effects` start asking.
pub fn escalation_timers(
    request: &AccessRequest,
    effects: &[Effect],
    now: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, TimerEntry)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::AskApprovers { step } => request.steps.get(*step).and_then(|s| {
                let after = chrono::Duration::from_std(s.escalate_after?).ok()?;
                (!s.escalate_to.is_empty()).then(|| {
                    (
                        now + after,
                        TimerEntry::new(
                            format!("{TIMER_ESCALATE_PREFIX}{step}"),
                            request.id.clone(),
                        ),
                    )
                })
            }),
            _ => None,
        })
        .collect()
}

/// Campaigns: the follow-up of a grant whose access ended, which closes the review
/// item that covered it (`crate::app::campaigns::ended`).
pub const ACCESS_ENDED: &str = "campaign-access-ended";

/// How long after the access ended its follow-up is due: one step of a timer's due
/// time (milliseconds), so it sorts after every timer due when the access ended.
/// Timers due at the same instant are read in subject order, so a follow-up due
/// exactly when its expiry was would sort among the expiries of the same burst still
/// waiting to fire, and a read of the timers due, cut short, would take it before
/// them: at 1,000,000 grants the last 1,808 of 10,000 expiries waited 9.6 s behind
/// 8,192 follow-ups (BENCHMARKS.md, session 13). Any longer and a campaign ended in
/// the meantime would keep an item open whose access is gone.
pub const FOLLOW_UP_AFTER: chrono::Duration = chrono::Duration::milliseconds(1);

/// The follow-up timer of a request whose grant has ended or is being removed; due
/// [`FOLLOW_UP_AFTER`] after it ended. `None` while the access is there (or
/// continues elsewhere).
pub fn access_ended(request: &AccessRequest) -> Option<(DateTime<Utc>, TimerEntry)> {
    let grant = request.grant.as_ref()?;
    let at = match grant.state {
        GrantState::Deprovisioning => grant.ending_started_at?,
        GrantState::Revoked => grant.ended_at.or(grant.ending_started_at)?,
        _ => return None,
    };
    Some((
        at + FOLLOW_UP_AFTER,
        TimerEntry::new(ACCESS_ENDED, request.id.clone()),
    ))
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
        let (due, follow_up) = access_ended(&request).expect("a follow-up");
        assert_eq!(follow_up.kind, ACCESS_ENDED);

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
