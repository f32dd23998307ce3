//! c1bot: a self-hosted Slack bot for just-in-time access, over Socket Mode.
//!
//! Crate map, in reading order:
//! - [`config`]: raw file + environment -> validated [`config::Config`]; tokens never print.
//! - [`catalog`]: spaces, resources, entitlements and approval steps, validated at start-up.
//! - [`templates`]: Block Kit templates from `blocks/`, rendered safely within Slack's limits.
//! - [`controls`]: every button `action_id` and modal `callback_id` the code routes on.
//! - [`policy`]: the only module that imports regorus: Rego policies loaded once, decisions.
//! - [`clock`]: the one clock (system time plus a forward-only offset for jumps and tests).
//! - [`app`]: wiring, lifecycle and the handler that answers each envelope.
//! - [`slack`]: the only module that knows Slack's wire formats: Socket Mode frames,
//!   connections and their supervisor, and the Web API client.
//! - [`demo`]: the scripted walk-through `c1bot demo` runs against the simulator.
//! - [`workflow`]: the access-request state machine, pure: `(state, action, now) -> (next, effects)`.
//! - [`campaign`]: access-review campaigns, pure: items in scope, reviews, the campaign
//!   channel's rules, channel names and paging within Block Kit's limits.
//! - [`health`], [`metrics`]: the optional `/healthz`, `/readyz`, `/metrics` listener.
//! - [`features`]: what each feature needs from Slack (methods, scopes, events) and which work now.
//! - [`manifest`]: the Slack app manifest, built from the code's registries of methods and events.
//! - [`store`]: the only module that imports sled: versioned records, atomic commits with
//!   their outbox messages, audit entries and timers; [`outbox_sender`] delivers the outbox.
//! - [`supervise`]: long-running loops restarted after a panic, with heartbeats for `/readyz`.
//! - [`simulator`]: an in-process Slack (Web API over HTTP, Socket Mode over a websocket)
//!   used by the tests and by `c1bot demo`.

pub mod app;
pub mod burst;
pub mod campaign;
pub mod catalog;
pub mod check;
pub mod clock;
pub mod config;
pub mod controls;
pub mod demo;
pub mod features;
pub mod health;
pub mod intake;
pub mod manifest;
pub mod metrics;
pub mod outbox_sender;
pub mod policy;
pub mod provisioner;
pub mod simulator;
pub mod slack;
pub mod store;
pub mod supervise;
pub mod templates;
pub mod workflow;
