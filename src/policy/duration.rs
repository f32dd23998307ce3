//! The `max_duration` values policies write: `"8h"`, `"30m"`, `"1h30m"`, `"45s"` or a
//! number of seconds. Pure; knows nothing of regorus.

use std::time::Duration;

/// Parses a duration string made of `<digits><unit>` parts, units `h`, `m`, `s`, each
/// at most once and in that order (`"1h30m"`), or bare digits meaning seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration like \"8h\", \"30m\" or \"1h30m\"");
    let text_trimmed = text.trim();
    if text_trimmed.is_empty() {
        return Err(invalid());
    }
    if text_trimmed.bytes().all(|byte| byte.is_ascii_digit()) {
        return text_trimmed
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| invalid());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    // Units must come in decreasing order so "30m1h" and "1h1h" are rejected.
    let mut smallest_unit_so_far = u64::MAX;
    for character in text_trimmed.chars() {
        if character.is_ascii_digit() {
            digits.push(character);
            continue;
        }
        let unit_seconds = match character {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(invalid()),
        };
        if digits.is_empty() || unit_seconds >= smallest_unit_so_far {
            return Err(invalid());
        }
        smallest_unit_so_far = unit_seconds;
        let amount: u64 = digits.parse().map_err(|_| invalid())?;
        total = amount
            .checked_mul(unit_seconds)
            .and_then(|seconds| total.checked_add(seconds))
            .ok_or_else(invalid)?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(invalid());
    }
    Ok(Duration::from_secs(total))
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
            "30m1h",
            "1h1h",
            "-5m",
            "1d",
            "8 h",
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
