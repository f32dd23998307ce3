//! [`extend`]: an approved extension takes over active access without provisioning
//! it again.

use chrono::{DateTime, Utc};

use super::apply::apply;
use super::tasks::expiry_timers;
use super::{Grant, GrantAction, GrantEffect, GrantState, GrantTransition, TaskKind, Timing};
use crate::workflow::request::{AccessDuration, AccessRequest};

/// An approved extension of `previous` (still active): `extension` takes over its
/// access without provisioning again, until the old end plus the time asked for. Returns
/// both requests' next states; `None` when `previous` is no longer active (the
/// extension is then provisioned as a new grant).
pub fn extend(
    previous: &AccessRequest,
    extension: &AccessRequest,
    now: DateTime<Utc>,
    timing: Timing,
) -> Option<(AccessRequest, GrantTransition)> {
    let old = previous.grant.as_ref()?;
    if old.state != GrantState::Active || extension.grant.is_some() {
        return None;
    }
    let old_end = old.expires_at?;
    let AccessDuration::For(more) = extension.duration else {
        return None;
    };
    let expires_at = old_end.max(now) + chrono::Duration::from_std(more).ok()?;
    let superseded = apply(
        previous,
        GrantAction::Supersede {
            by: extension.id.clone(),
        },
        now,
        timing,
    )
    .ok()?
    .request;
    let mut next = extension.clone();
    let mut provision = old.provision.clone();
    provision.kind = TaskKind::Grant;
    next.grant = Some(Grant {
        state: GrantState::Active,
        provision,
        deprovision: None,
        active_from: old.active_from,
        expires_at: Some(expires_at),
        ending: None,
        ending_started_at: None,
        ended_at: None,
        expiry_reminded: false,
        continues: Some(previous.id.clone()),
    });
    let mut effects = vec![GrantEffect::TellActive];
    effects.extend(expiry_timers(expires_at, now, timing));
    Some((
        superseded,
        GrantTransition {
            request: next,
            effects,
        },
    ))
}
