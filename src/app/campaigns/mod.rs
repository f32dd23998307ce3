//! Access-review campaigns in Slack: `/c1 campaign` (its modal, for people policy's
//! `manage_campaign` allows), the owners' card (*Start* / *End*, *Reassign*, the
//! campaign channel's buttons) and the reviewers' DMs (*Certify* / *Revoke* /
//! *Certify all*). The channel modal is [`channel`], reassigning [`reassign`],
//! reminder timers [`reminders`], items closed when their access
//! ends [`ended`], a revoked catalog member's removal notice (*Mark done*) `removal`;
//! every action is decided and committed by `commit`. `/c1 campaign` and its
//! submission are `create`, the buttons `clicks`, the stored campaigns `storage`, and
//! every message and modal is drawn by `render`.
//!
//! Messages go through the outbox under stable keys (`CMP-1/owner/<U>`,
//! `CMP-1/review/<U>/<page>`, `CMP-1/status/<n>` for the n-th channel attached) and
//! are edited in place. Button values are never trusted: the stored campaign and
//! policy decide who may do what.

pub mod channel;
mod clicks;
mod commit;
mod create;
pub mod ended;
mod form;
pub mod reassign;
pub mod reminders;
mod removal;
mod render;
mod review_checks;
mod storage;

use std::collections::BTreeMap;

use serde_json::{json, Value};

pub use self::clicks::{act, open};
pub use self::create::{command, submitted};
use self::review_checks::{may_review, may_review_own};
use self::storage::{load, stored};
pub use self::storage::{owners, INDEX_VERSION};

/// A modal's answer: a sentence under each field (by block id); the modal stays open.
fn field_errors(errors: form::FieldErrors) -> Option<Value> {
    Some(json!({ "response_action": "errors", "errors": errors }))
}

/// [`field_errors`] for one field.
fn field_error(block_id: &'static str, text: String) -> Option<Value> {
    field_errors(BTreeMap::from([(block_id, text)]))
}
