//! `[audit]`: where and how often c1bot publishes the audit chain's head (its anchor)
//! outside the store. Owns these keys' defaults and checks; the publisher is
//! `crate::app::audit_anchor`.

use std::time::Duration;

use super::file::ParsedFile;
use super::{channel_id, invalid, ConfigError};

/// How often the head is published when it moved, unless `[audit] anchor_every` says.
pub const DEFAULT_ANCHOR_EVERY: Duration = Duration::from_secs(3600);

/// Publishing the audit head (see the README, "Audit anchors").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// `[audit] anchor_channel`, a channel id; `None`: the activity channel if there is
    /// one, else the log line alone.
    pub anchor_channel: Option<String>,
    /// How often the head is published, when it moved since the last publication.
    pub anchor_every: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            anchor_channel: None,
            anchor_every: DEFAULT_ANCHOR_EVERY,
        }
    }
}

pub(super) fn audit_config(file: &ParsedFile) -> Result<AuditConfig, ConfigError> {
    let raw = &file.raw.audit;
    let anchor_channel = channel_id(file, "audit.anchor_channel", raw.anchor_channel.as_deref())?;
    let anchor_every = match &raw.anchor_every {
        None => DEFAULT_ANCHOR_EVERY,
        Some(text) => crate::catalog::AccessDuration::parse(text)
            .map(|d| d.as_duration())
            .map_err(|e| {
                invalid(
                    file.origin("audit.anchor_every"),
                    format_args!("{e} (write it like 15m, 1h or 1d)"),
                )
            })?,
    };
    Ok(AuditConfig {
        anchor_channel,
        anchor_every,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<AuditConfig, String> {
        ParsedFile::parse("c1bot.toml", text)
            .and_then(|file| audit_config(&file))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn without_the_table_the_head_is_published_hourly_to_no_channel_of_its_own() {
        assert_eq!(load(""), Ok(AuditConfig::default()));
        assert_eq!(
            AuditConfig::default().anchor_every,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn both_keys_are_read() {
        let config = load("[audit]\nanchor_channel = \"C0AUDIT001\"\nanchor_every = \"15m\"\n");
        assert_eq!(
            config,
            Ok(AuditConfig {
                anchor_channel: Some("C0AUDIT001".into()),
                anchor_every: Duration::from_secs(900),
            })
        );
    }

    #[test]
    fn a_bad_value_names_the_key_and_its_line() {
        let err = load("[audit]\n\nanchor_every = \"hourly\"\n").expect_err("bad duration");
        assert!(
            err.starts_with("c1bot.toml:3: audit.anchor_every 'hourly' is not a duration"),
            "{err}"
        );
        let err = load("[audit]\nanchor_channel = \"#audit\"\n").expect_err("not an id");
        assert!(
            err.starts_with("c1bot.toml:2: audit.anchor_channel"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_key_names_the_file_the_line_and_the_keys_there_are() {
        let err = load("[audit]\nanchor_chanel = \"C0AUDIT001\"\n").expect_err("typo");
        assert_eq!(
            err,
            "c1bot.toml:2: unknown key 'audit.anchor_chanel' (expected anchor_channel or anchor_every)"
        );
    }
}
