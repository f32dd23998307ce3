//! The `max_duration` values policies write: a duration in the catalog's one grammar
//! (`"8h"`, `"30m"`, `"1h30m"`, `"1d"`, `"2w"`, [`crate::catalog::parse_span`]) or
//! a number of seconds. Pure; knows nothing of regorus.

use std::time::Duration;

use crate::catalog::{parse_span, DurationError};

/// Parses a policy's duration: bare digits are seconds, anything else is read as the
/// catalog reads a duration. Zero is a cap that permits no access; one longer than a
/// year caps nothing but "Permanent".
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if !trimmed.is_empty() && trimmed.bytes().all(|byte| byte.is_ascii_digit()) {
        return trimmed
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("{text:?} is more seconds than c1bot can count"));
    }
    parse_span(trimmed).map_err(|error| match error {
        DurationError::TooLong(_) => format!("{text:?} is longer than c1bot can count"),
        _ => format!("{text:?} is not a duration like \"8h\", \"30m\", \"1h30m\" or \"1d\""),
    })
}

/// The inverse of [`parse_duration`] for whole seconds: `8h`, `1h30m`, `45s`, `0s`.
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let (hours, minutes, seconds) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut text = String::new();
    if hours > 0 {
        text.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        text.push_str(&format!("{minutes}m"));
    }
    if seconds > 0 || text.is_empty() {
        text.push_str(&format!("{seconds}s"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_hours_minutes_and_seconds_parse() {
        let cases = [
            ("8h", 8 * 3600),
            ("30m", 30 * 60),
            ("1h30m", 5400),
            ("45s", 45),
            ("2h0m5s", 7205),
            ("3600", 3600),
            (" 15m ", 900),
            ("0s", 0),
            ("1d", 86400),
            ("2w", 14 * 86400),
            ("1h 30m", 5400),
            ("2hours", 7200),
            ("10000h", 10_000 * 3600),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(seconds)),
                "{text}"
            );
        }
    }

    #[test]
    fn malformed_durations_are_refused() {
        let malformed = [
            "",
            "h",
            "8x",
            "1.5h",
            "-5m",
            "8 h",
            "1M",
            "99999999999999999999h",
        ];
        for text in malformed {
            assert!(parse_duration(text).is_err(), "{text:?} should be refused");
        }
    }

    #[test]
    fn durations_format_as_they_are_written_in_policies() {
        assert_eq!(format_duration(Duration::from_secs(8 * 3600)), "8h");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(3661)), "1h1m1s");
        assert_eq!(format_duration(Duration::from_secs(0)), "0s");
    }
}
