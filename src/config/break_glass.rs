//! `[break_glass]`: where emergency access is announced and how often its
//! post-incident review is chased. Owns these keys' defaults and checks; the work is
//! `crate::app::requests::break_glass`.

use std::time::Duration;

use super::file::ParsedFile;
use super::{channel_id, invalid, ConfigError};

/// An unanswered review is chased this often unless `review_remind_every` says.
pub const DEFAULT_REVIEW_REMIND_EVERY: Duration = Duration::from_secs(4 * 3600);
/// Shorter would nag reviewers in the middle of the incident itself.
const SHORTEST_REMIND: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlassConfig {
    /// The security channel that gets a loud line for every emergency grant; `None`:
    /// no channel (the approvers and owners are still told by DM).
    pub channel: Option<String>,
    /// How often the review task's reviewers are reminded until one answers.
    pub review_remind_every: Duration,
}

impl Default for BreakGlassConfig {
    fn default() -> Self {
        Self {
            channel: None,
            review_remind_every: DEFAULT_REVIEW_REMIND_EVERY,
        }
    }
}

pub(super) fn break_glass_config(file: &ParsedFile) -> Result<BreakGlassConfig, ConfigError> {
    let raw = &file.raw.break_glass;
    let channel = channel_id(file, "break_glass.channel", raw.channel.as_deref())?;
    let review_remind_every = match &raw.review_remind_every {
        None => DEFAULT_REVIEW_REMIND_EVERY,
        Some(text) => {
            let key = "break_glass.review_remind_every";
            let parsed = crate::catalog::AccessDuration::parse(text)
                .map(|d| d.as_duration())
                .map_err(|e| invalid(file.origin(key), format_args!("{e} (write it like 4h)")))?;
            if parsed < SHORTEST_REMIND {
                return Err(invalid(file.origin(key), "must be at least 15m"));
            }
            parsed
        }
    };
    Ok(BreakGlassConfig {
        channel,
        review_remind_every,
    })
}
