//! The access-request workflow, as pure decisions: no I/O, no clock, no Slack.
//!
//! - [`request`]: the request, its approval steps and states.
//! - [`submit`]: a submitted form → a new request, or one sentence per field.
//! - [`approval`]: approve / deny / cancel / expire / remind → next state + effects.
//! - [`grant`]: after approval: provisioning tasks, active access, expiry, revoke,
//!   extension and deprovisioning → next state + effects.
//! - [`break_glass`]: emergency access taken without approvers, reviewed afterwards.
//! - [`schedule`]: scheduled access: the window, its checks, when its clock starts.
//! - [`retention`]: when a request closed, and which closing days are old enough to archive.
//!
//! The caller supplies `now`, policy verdicts and resolved approvers, and commits the
//! result with its messages in one store transaction.

pub mod approval;
pub mod break_glass;
pub mod grant;
pub mod request;
pub mod retention;
pub mod schedule;
pub mod submit;
