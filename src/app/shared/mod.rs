//! What every feature of `app` stands on, and nothing above it: the handles and
//! lookups (`services`, `directory`), the one decide-and-commit path
//! (`commit_path`) and what follows a commit (`consequences`), the stored forms of
//! records (`stored`, `request_index`), what an envelope's feature is given and
//! gives back (`journaled`), what a timer's firing comes to and which timers a
//! change schedules (`firing`, `timer_entries`), and the pure renderers of cards
//! and lines (`notify`, `grant_notify`, `activity`, `schedule_shown`, `mrkdwn`,
//! `request_form`, `request_fields`, `policy_input`, `commands`).
//!
//! A module here imports only modules here (`app::layout_tests` fails otherwise):
//! features depend on `shared`, never the other way.

pub mod activity;
pub mod commands;
pub mod commit_path;
pub mod consequences;
pub mod deactivated;
pub mod directory;
pub mod firing;
pub mod grant_notify;
pub mod handles;
pub mod home_refresh;
pub mod journaled;
pub mod mrkdwn;
pub mod notify;
pub mod policy_input;
pub mod request_fields;
pub mod request_form;
pub mod request_index;
pub mod schedule_shown;
pub mod seal;
pub mod services;
pub mod stored;
pub mod timer_entries;
