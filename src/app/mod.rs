//! Wiring and lifecycle: from a validated [`Config`](crate::config::Config) to a
//! running bot, and an orderly stop.
//!
//! Start-up order: Web API client, bot-token check (`auth.test`), dispatcher, Socket
//! Mode. Shutdown order: stop reading envelopes, let in-flight envelopes finish and
//! be acked (bounded), then return.
//!
//! `start` wires and runs the bot, `running` is what it hands back (with the
//! SIGHUP `Reloader`), and `connect` reaches Slack at start-up.

pub mod admin;
pub mod audit_anchor;
pub mod campaigns;
mod connect;
pub mod decisions;
pub mod dm;
pub mod gauges;
pub mod grants;
pub mod handler;
pub mod journal;
#[cfg(test)]
mod layout_tests;
pub mod leader;
pub mod requests;
pub mod retention;
mod running;
pub mod scopes;
pub mod shared;
mod start;
pub mod status;
pub mod timers;
pub mod upkeep;

pub use connect::web_api;
pub use running::{Reloader, Running};
pub use start::{start, start_on};
