//! `/c1 request`: the modal, its typeahead, and the submission that creates a request.
//!
//! Order matters for Slack's deadlines: the modal is opened first (a `trigger_id`
//! lives 3 s), suggestions are answered in the ack from memory and the catalog, and a
//! valid submission is committed durably before its ack closes the modal.

pub mod break_glass;
mod checks;
mod choices;
mod create;
pub mod extend;
mod modal;
pub mod one_line;
mod prefill;
pub mod scheduled;

pub use checks::Rejected;
pub use create::{create, preview};
pub use modal::{entitlement_chosen, open_modal, resource_chosen, submit, suggest};
use modal::{modal, truncate, Metadata};
pub use prefill::{open_prefilled, Prefill};

/// Timer kinds this module schedules.
pub const TIMER_REMIND: &str = "remind";
pub const TIMER_EXPIRE: &str = "expire";
