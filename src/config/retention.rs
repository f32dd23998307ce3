//! `[retention]`: how long closed requests stay in the hot tables, and whether they
//! are archived or removed after that. Owns these keys' defaults and checks; the work
//! is `crate::app::retention`.

use std::time::Duration;

use super::file::ParsedFile;
use super::{invalid, ConfigError};

/// Closed requests stay this long unless `[retention] closed_after` says.
pub const DEFAULT_CLOSED_AFTER: Duration = Duration::from_secs(90 * 24 * 3600);
/// Shorter would archive what people still look at (and follow-ups on it).
const SHORTEST: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// A closed request (denied, cancelled, expired, revoked) leaves the hot tables
    /// and indexes this long after it closed.
    pub closed_after: Duration,
    /// `true` (the default): it moves to the archive table; `false`: it is removed
    /// (the audit log keeps its whole history either way).
    pub archive: bool,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            closed_after: DEFAULT_CLOSED_AFTER,
            archive: true,
        }
    }
}

pub(super) fn retention_config(file: &ParsedFile) -> Result<RetentionConfig, ConfigError> {
    let raw = &file.raw.retention;
    let closed_after = match &raw.closed_after {
        None => DEFAULT_CLOSED_AFTER,
        Some(text) => {
            let parsed = crate::catalog::AccessDuration::parse(text)
                .map(|d| d.as_duration())
                .map_err(|e| {
                    invalid(
                        file.origin("retention.closed_after"),
                        format_args!("{e} (write it like 30d or 90d)"),
                    )
                })?;
            if parsed < SHORTEST {
                return Err(invalid(
                    file.origin("retention.closed_after"),
                    "must be at least 1d",
                ));
            }
            parsed
        }
    };
    Ok(RetentionConfig {
        closed_after,
        archive: raw.archive.unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<RetentionConfig, String> {
        ParsedFile::parse("c1bot.toml", text)
            .and_then(|file| retention_config(&file))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn without_the_table_closed_requests_are_archived_after_90_days() {
        assert_eq!(load(""), Ok(RetentionConfig::default()));
        assert_eq!(DEFAULT_CLOSED_AFTER, Duration::from_secs(90 * 86_400));
        assert!(RetentionConfig::default().archive);
    }

    #[test]
    fn both_keys_are_read() {
        assert_eq!(
            load("[retention]\nclosed_after = \"30d\"\narchive = false\n"),
            Ok(RetentionConfig {
                closed_after: Duration::from_secs(30 * 86_400),
                archive: false,
            })
        );
    }

    #[test]
    fn a_bad_or_too_short_time_names_the_key() {
        let bad = load("[retention]\nclosed_after = \"soon\"\n").expect_err("refused");
        assert!(bad.contains("retention.closed_after"), "{bad}");
        let short = load("[retention]\nclosed_after = \"1h\"\n").expect_err("refused");
        assert!(short.contains("at least 1d"), "{short}");
    }
}
