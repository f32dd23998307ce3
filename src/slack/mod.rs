//! Everything that knows Slack's wire formats: Socket Mode frames and connections,
//! and the Web API client. Nothing outside this module builds a Slack frame or an
//! HTTP request to Slack.

pub mod backoff;
pub mod connection;
pub mod dedupe;
pub mod dispatch;
pub mod frame;
pub mod inbound;
pub mod interaction;
pub mod socket;
pub mod view_input;
pub mod web;
