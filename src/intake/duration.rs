//! Durations as people write them (`2h`, `90m`, `1h30m`, `2 hours`, `an hour`,
//! `1 hour and 30 minutes`, `permanent`), checked against an entitlement's maximum,
//! and said back in words ("at most 8 hours for ReadOnly").
//!
//! The compact forms and the units are the catalog's one grammar
//! ([`AccessDuration::parse`]); this adds the spoken ones: a count and a unit
//! as two words, and "and" between parts.

use super::text::{key, preview};
use super::Part;
use crate::catalog::{
    unit_seconds, AccessDuration, DurationError, Entitlement, MaxDuration, RequestedDuration,
};

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

const EXAMPLES: &str = "write e.g. 30m, 2h, 1d, 2 hours or permanent";
/// Why a word is no duration.
pub(super) const NOT_A_DURATION: &str =
    "I can't read it as a duration; write e.g. 30m, 2h, 1d, 2 hours or permanent";

/// A duration typed on its own (a guided conversation's answer), checked against
/// `entitlement` when it is known.
pub fn match_duration(text: &str, entitlement: Option<&Entitlement>) -> Part<RequestedDuration> {
    let text_key = key(text);
    let words: Vec<&str> = text_key.split(' ').filter(|w| !w.is_empty()).collect();
    let words = match words.split_first() {
        Some((&"for", rest)) if !rest.is_empty() => rest,
        _ => &words[..],
    };
    if words.is_empty() {
        return Part::Missing;
    }
    match read(words, 0) {
        Some(Ok((duration, used))) if used == words.len() => checked(duration, text, entitlement),
        Some(Err(why)) => Part::Invalid {
            text: preview(text, 60),
            why,
        },
        _ => Part::Invalid {
            text: preview(text, 60),
            why: NOT_A_DURATION.to_owned(),
        },
    }
}

/// `duration` as a part: found when `entitlement` (if known) allows it.
pub(super) fn checked(
    duration: RequestedDuration,
    text: &str,
    entitlement: Option<&Entitlement>,
) -> Part<RequestedDuration> {
    match entitlement.map(|e| allowed(duration, e)) {
        Some(Err(why)) => Part::Invalid {
            text: preview(text, 60),
            why,
        },
        _ => Part::Found(duration),
    }
}

/// Whether the entitlement grants `duration`: up to its maximum, and permanently
/// only where it offers "Permanent" among its duration choices. Without a policy's
/// cap: the workflow applies that one when the request is created.
fn allowed(duration: RequestedDuration, entitlement: &Entitlement) -> Result<(), String> {
    let max = entitlement.effective_max(None);
    let ok = match duration {
        RequestedDuration::Permanent => entitlement
            .duration_choices(None)
            .contains(&RequestedDuration::Permanent),
        RequestedDuration::For(_) => max.allows(duration),
    };
    if ok {
        return Ok(());
    }
    Err(match max {
        MaxDuration::Limited(limit) => {
            format!("at most {} for {}", spoken(limit), entitlement.name)
        }
        MaxDuration::Permanent => format!("{} is not granted permanently", entitlement.name),
    })
}

/// Reads a duration starting at `words[at]` (lowercase, cleaned). `None` when
/// nothing there looks like one; `Err` when it does but cannot be one (`1.5h`,
/// `0m`, `400d`); otherwise the duration and how many words it took.
pub(super) fn read(
    words: &[&str],
    at: usize,
) -> Option<Result<(RequestedDuration, usize), String>> {
    let first = *words.get(at)?;
    if matches!(first, "permanent" | "permanently") {
        return Some(Ok((RequestedDuration::Permanent, 1)));
    }
    let mut total: u64 = 0;
    let mut used = 0;
    loop {
        let part = match part_at(words, at + used) {
            Some(Ok(part)) => part,
            Some(Err(why)) if used == 0 => return Some(Err(why)),
            None if used == 0 => return None,
            // What follows a duration is not part of it.
            _ => break,
        };
        total = match total.checked_add(part.secs) {
            Some(total) => total,
            None => return Some(Err(too_long())),
        };
        used += part.words;
        // "1 hour and 30 minutes"
        if words.get(at + used) == Some(&"and")
            && matches!(part_at(words, at + used + 1), Some(Ok(_)))
        {
            used += 1;
        }
    }
    Some(match AccessDuration::from_secs(total) {
        Some(duration) => Ok((RequestedDuration::For(duration), used)),
        None if total == 0 => Err("it must be longer than zero".to_owned()),
        None => Err(too_long()),
    })
}

fn too_long() -> String {
    "it is longer than a year".to_owned()
}

struct Piece {
    secs: u64,
    words: usize,
}

/// One `<number><unit>` at `words[at]`: one word (`2h`, `1h30m`, `90min`) or two
/// (`2 hours`, `an hour`).
fn part_at(words: &[&str], at: usize) -> Option<Result<Piece, String>> {
    let word = *words.get(at)?;
    let starts_with_digit = word.starts_with(|c: char| c.is_ascii_digit());
    match AccessDuration::parse(word) {
        Ok(duration) => {
            return Some(Ok(Piece {
                secs: duration.as_secs(),
                words: 1,
            }))
        }
        Err(DurationError::Zero(_)) => return Some(Err("it must be longer than zero".to_owned())),
        Err(DurationError::TooLong(_)) => return Some(Err(too_long())),
        // Digits glued to what is no unit: `2x`, `1.5h`.
        Err(DurationError::Malformed(_))
            if starts_with_digit && !word.chars().all(|c| c.is_ascii_digit()) =>
        {
            return Some(Err(NOT_A_DURATION.to_owned()))
        }
        Err(DurationError::Malformed(_)) => {}
    }
    let count = number(word)?;
    let Some(unit) = words.get(at + 1).and_then(|w| unit_seconds(w)) else {
        // A bare number is a duration without its unit; "a" or "one" is just a word.
        return starts_with_digit.then(|| Err(format!("it needs a unit; {EXAMPLES}")));
    };
    Some(
        count
            .checked_mul(unit)
            .map(|secs| Piece { secs, words: 2 })
            .ok_or_else(too_long),
    )
}

fn number(word: &str) -> Option<u64> {
    match word {
        "a" | "an" | "one" => Some(1),
        "two" => Some(2),
        "three" => Some(3),
        "four" => Some(4),
        "five" => Some(5),
        "six" => Some(6),
        "seven" => Some(7),
        "eight" => Some(8),
        "ten" => Some(10),
        "twelve" => Some(12),
        "thirty" => Some(30),
        "ninety" => Some(90),
        _ if word.starts_with(|c: char| c.is_ascii_digit()) => {
            // Too many digits is no count of anything: u64::MAX says "too long".
            word.chars()
                .all(|c| c.is_ascii_digit())
                .then(|| word.parse().unwrap_or(u64::MAX))
        }
        _ => None,
    }
}

/// "8 hours", "1 day", "1 hour 30 minutes": the largest unit and the next one.
pub(super) fn spoken(duration: AccessDuration) -> String {
    const UNITS: [(u64, &str); 4] = [
        (DAY, "day"),
        (HOUR, "hour"),
        (MINUTE, "minute"),
        (1, "second"),
    ];
    let secs = duration.as_secs();
    let Some(first) = UNITS.iter().position(|(unit, _)| secs >= *unit) else {
        return "0 seconds".to_owned();
    };
    let say = |n: u64, name: &str| format!("{n} {name}{}", if n == 1 { "" } else { "s" });
    let (unit, name) = UNITS[first];
    let mut out = say(secs / unit, name);
    if let Some((minor_unit, minor_name)) = UNITS.get(first + 1) {
        let minor = (secs % unit) / minor_unit;
        if minor > 0 {
            out.push(' ');
            out.push_str(&say(minor, minor_name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> Option<u64> {
        let text = key(text);
        let words: Vec<&str> = text.split(' ').collect();
        match read(&words, 0)? {
            Ok((RequestedDuration::For(d), used)) if used == words.len() => Some(d.as_secs()),
            _ => None,
        }
    }

    #[test]
    fn compact_and_spoken_durations_read_the_same() {
        for (text, expected) in [
            ("2h", 2 * HOUR),
            ("90m", 90 * MINUTE),
            ("1d", DAY),
            ("1h30m", 90 * MINUTE),
            ("2 hours", 2 * HOUR),
            ("30 minutes", 30 * MINUTE),
            ("an hour", HOUR),
            ("1 hour and 30 minutes", 90 * MINUTE),
            ("1 hour 30 minutes", 90 * MINUTE),
            ("2hours", 2 * HOUR),
            ("90mins", 90 * MINUTE),
            ("1hr30min", 90 * MINUTE),
            ("2 H", 2 * HOUR),
            ("two days", 2 * DAY),
            ("1 week", 7 * DAY),
        ] {
            assert_eq!(secs(text), Some(expected), "{text}");
        }
    }

    #[test]
    fn things_that_look_like_durations_but_are_not_say_why() {
        for text in [
            "1.5h",
            "0m",
            "400d",
            "5",
            "2x",
            "99999999999999999999999h",
            "9999999999 weeks",
        ] {
            let text_key = key(text);
            let words: Vec<&str> = text_key.split(' ').collect();
            assert!(matches!(read(&words, 0), Some(Err(_))), "{text}");
        }
        for text in ["aws-prod", "a", "one", "readonly"] {
            let words = [text];
            assert!(read(&words, 0).is_none(), "{text}");
        }
    }

    #[test]
    fn durations_are_said_in_words() {
        let say = |s: u64| spoken(AccessDuration::from_secs(s).expect("positive"));
        assert_eq!(say(8 * HOUR), "8 hours");
        assert_eq!(say(DAY), "1 day");
        assert_eq!(say(90 * MINUTE), "1 hour 30 minutes");
        assert_eq!(say(2 * DAY + HOUR), "2 days 1 hour");
        assert_eq!(say(45), "45 seconds");
    }
}
