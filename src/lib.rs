//! c1bot: a self-hosted Slack bot for just-in-time access, over Socket Mode.
//!
//! Crate map, in reading order:
//! - [`config`]: raw file + environment -> validated [`config::Config`]; tokens never print.
//! - [`slack`]: the only module that knows Slack's wire formats: Socket Mode frames,
//!   connections and their supervisor, and the Web API client.
//! - [`simulator`]: an in-process Slack (Web API over HTTP, Socket Mode over a websocket)
//!   used by the tests and by `c1bot demo`.

pub mod config;
pub mod simulator;
pub mod slack;
