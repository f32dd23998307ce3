//! c1bot: a self-hosted Slack bot for just-in-time access, over Socket Mode.
//!
//! Crate map, in reading order:
//! - [`config`]: raw file + environment -> validated [`config::Config`]; tokens never print.
//! - [`app`]: wiring, lifecycle and the handler that answers each envelope.
//! - [`slack`]: the only module that knows Slack's wire formats: Socket Mode frames,
//!   connections and their supervisor, and the Web API client.
//! - [`demo`]: the scripted walk-through `c1bot demo` runs against the simulator.
//! - [`simulator`]: an in-process Slack (Web API over HTTP, Socket Mode over a websocket)
//!   used by the tests and by `c1bot demo`.

pub mod app;
pub mod config;
pub mod demo;
pub mod policy;
pub mod simulator;
pub mod slack;
