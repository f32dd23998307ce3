//! Integration tests: c1bot against the in-repo Slack simulator, over real HTTP and a
//! real websocket on 127.0.0.1. Tests act as people (run a slash command, open App
//! Home) and assert on what those people see and on what Slack received.

mod activity;
mod audit;
mod backup;
mod break_glass;
mod break_glass_crash;
mod campaign_channel_existing;
mod campaign_channels;
mod campaign_home;
mod campaigns;
mod child;
mod cli;
mod crash;
mod crash_after_ack;
mod dm;
mod expiry_ahead;
mod grants;
mod helpers;
mod high_availability;
mod home_live;
mod migrate_store;
mod on_behalf;
mod one_line;
mod operations;
mod outage;
mod outbox;
mod provisioners;
mod refusals;
mod request_forms;
mod request_lifecycle;
mod requests;
mod scheduled;
mod scheduled_restart;
mod scopes;
mod seen;
mod seen_access;
mod shutdown;
mod socket_mode;
mod step_up;
mod step_up_codes;
mod store_upgrade;
mod supervision;
mod templates;
mod web_api;
