//! Access durations: [`AccessDuration`] (a positive, whole-second span written
//! `30m`, `4h`, `1h30m`, `2d`), [`MaxDuration`] (a limit, or permanent) and
//! [`RequestedDuration`] (what a requester picks).
//!
//! Owns the written form in the catalog, the human form in messages ("1 h 30 min")
//! and the value form in a modal's select options ("5400", "permanent"). It knows
//! nothing about policies; callers pass a policy's cap in.

use std::fmt;
use std::time::Duration;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;
/// Longer than anyone should hold time-limited access; also keeps arithmetic far from overflow.
const LONGEST: u64 = 366 * DAY;

/// A positive length of access, in whole seconds, at most a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessDuration(Duration);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("'{0}' is not a duration: use a number and a unit, e.g. 30m, 4h, 1h30m, 2d")]
    Malformed(String),
    #[error("'{0}' is zero: a duration must be positive")]
    Zero(String),
    #[error("'{0}' is longer than a year: use max_duration = \"permanent\" with permanent_allowed = true instead")]
    TooLong(String),
}

impl AccessDuration {
    /// Parses `90s`, `30m`, `4h`, `1h30m`, `1h 30m`, `2d`, `1w`; units s, m, h, d, w.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let malformed = || DurationError::Malformed(text.to_owned());
        let mut total: u64 = 0;
        let mut number: Option<u64> = None;
        let mut saw_part = false;
        for c in text.trim().chars() {
            match c {
                '0'..='9' => {
                    let digit = u64::from(c as u8 - b'0');
                    let n = number.unwrap_or(0);
                    number = Some(
                        n.checked_mul(10)
                            .and_then(|n| n.checked_add(digit))
                            .filter(|n| *n <= LONGEST)
                            .ok_or_else(|| DurationError::TooLong(text.to_owned()))?,
                    );
                }
                ' ' if number.is_none() => {}
                's' | 'm' | 'h' | 'd' | 'w' => {
                    let n = number.take().ok_or_else(malformed)?;
                    let unit = match c {
                        's' => 1,
                        'm' => MINUTE,
                        'h' => HOUR,
                        'd' => DAY,
                        _ => WEEK,
                    };
                    total = n
                        .checked_mul(unit)
                        .and_then(|part| total.checked_add(part))
                        .filter(|t| *t <= LONGEST)
                        .ok_or_else(|| DurationError::TooLong(text.to_owned()))?;
                    saw_part = true;
                }
                _ => return Err(malformed()),
            }
        }
        if number.is_some() || !saw_part {
            return Err(malformed());
        }
        if total == 0 {
            return Err(DurationError::Zero(text.to_owned()));
        }
        Ok(AccessDuration(Duration::from_secs(total)))
    }

    /// `None` for zero or more than a year.
    pub fn from_secs(secs: u64) -> Option<Self> {
        (1..=LONGEST)
            .contains(&secs)
            .then(|| AccessDuration(Duration::from_secs(secs)))
    }

    pub fn as_secs(self) -> u64 {
        self.0.as_secs()
    }

    pub fn as_duration(self) -> Duration {
        self.0
    }
}

/// "4 h", "30 min", "1 h 30 min", "1 d 4 h": the largest unit and the next one.
impl fmt::Display for AccessDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 4] = [(DAY, "d"), (HOUR, "h"), (MINUTE, "min"), (1, "s")];
        let secs = self.as_secs();
        let Some(first) = UNITS.iter().position(|(unit, _)| secs >= *unit) else {
            return f.write_str("0 s");
        };
        let (unit, name) = UNITS[first];
        write!(f, "{} {name}", secs / unit)?;
        // Only the adjacent smaller unit: "1 d 30 s" would read as noise.
        if let Some((minor_unit, minor_name)) = UNITS.get(first + 1) {
            let minor = (secs % unit) / minor_unit;
            if minor > 0 {
                write!(f, " {minor} {minor_name}")?;
            }
        }
        Ok(())
    }
}

/// The most an entitlement (or a policy) allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxDuration {
    Limited(AccessDuration),
    Permanent,
}

impl MaxDuration {
    /// The tighter of the two.
    pub fn min(self, other: MaxDuration) -> MaxDuration {
        match (self, other) {
            (MaxDuration::Permanent, x) | (x, MaxDuration::Permanent) => x,
            (MaxDuration::Limited(a), MaxDuration::Limited(b)) => MaxDuration::Limited(a.min(b)),
        }
    }

    pub fn allows(self, requested: RequestedDuration) -> bool {
        match (self, requested) {
            (MaxDuration::Permanent, _) => true,
            (MaxDuration::Limited(_), RequestedDuration::Permanent) => false,
            (MaxDuration::Limited(max), RequestedDuration::For(d)) => d <= max,
        }
    }

    /// Seconds, or `None` when permanent (as policies see it).
    pub fn as_secs(self) -> Option<u64> {
        match self {
            MaxDuration::Limited(d) => Some(d.as_secs()),
            MaxDuration::Permanent => None,
        }
    }
}

impl fmt::Display for MaxDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxDuration::Limited(d) => d.fmt(f),
            MaxDuration::Permanent => f.write_str("permanent"),
        }
    }
}

/// What a requester asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedDuration {
    For(AccessDuration),
    Permanent,
}

const PERMANENT_VALUE: &str = "permanent";

impl RequestedDuration {
    /// The select option's value: whole seconds, or `permanent`.
    pub fn to_value(self) -> String {
        match self {
            RequestedDuration::For(d) => d.as_secs().to_string(),
            RequestedDuration::Permanent => PERMANENT_VALUE.to_owned(),
        }
    }

    /// Reads back [`RequestedDuration::to_value`]; `None` for anything else, since
    /// a submitted value is outside input.
    pub fn from_value(value: &str) -> Option<Self> {
        if value == PERMANENT_VALUE {
            return Some(RequestedDuration::Permanent);
        }
        let secs = value.parse::<u64>().ok()?;
        AccessDuration::from_secs(secs).map(RequestedDuration::For)
    }
}

impl fmt::Display for RequestedDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestedDuration::For(d) => d.fmt(f),
            RequestedDuration::Permanent => f.write_str("Permanent"),
        }
    }
}

/// The steps offered in a duration select, before they are cut at the maximum.
pub(super) const LADDER: [u64; 10] = [
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    4 * HOUR,
    8 * HOUR,
    DAY,
    2 * DAY,
    WEEK,
    30 * DAY,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> u64 {
        AccessDuration::parse(text).expect(text).as_secs()
    }

    #[test]
    fn written_durations_parse_to_seconds() {
        assert_eq!(secs("30m"), 1800);
        assert_eq!(secs("4h"), 4 * 3600);
        assert_eq!(secs("1h30m"), 5400);
        assert_eq!(secs("1h 30m"), 5400);
        assert_eq!(secs("2d"), 2 * 86400);
        assert_eq!(secs("1w"), 7 * 86400);
        assert_eq!(secs("90s"), 90);
    }

    #[test]
    fn malformed_zero_and_huge_durations_are_refused() {
        for bad in ["", "4", "h", "4x", "-1h", "1.5h", "4 h", "h4"] {
            assert!(
                matches!(AccessDuration::parse(bad), Err(DurationError::Malformed(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            AccessDuration::parse("0m"),
            Err(DurationError::Zero(_))
        ));
        assert!(matches!(
            AccessDuration::parse("400d"),
            Err(DurationError::TooLong(_))
        ));
        assert!(matches!(
            AccessDuration::parse("99999999999999999999999h"),
            Err(DurationError::TooLong(_))
        ));
    }

    #[test]
    fn durations_display_for_people() {
        let show = |t: &str| AccessDuration::parse(t).expect(t).to_string();
        assert_eq!(show("4h"), "4 h");
        assert_eq!(show("30m"), "30 min");
        assert_eq!(show("1h30m"), "1 h 30 min");
        assert_eq!(show("2d"), "2 d");
        assert_eq!(show("1d4h"), "1 d 4 h");
        assert_eq!(show("1d30s"), "1 d");
        assert_eq!(show("45s"), "45 s");
    }

    #[test]
    fn the_tighter_maximum_wins_and_permanent_needs_permanent() {
        let h = |n: u64| MaxDuration::Limited(AccessDuration::from_secs(n * 3600).expect("n>0"));
        assert_eq!(h(8).min(h(4)), h(4));
        assert_eq!(MaxDuration::Permanent.min(h(4)), h(4));
        assert!(!h(8).allows(RequestedDuration::Permanent));
        assert!(MaxDuration::Permanent.allows(RequestedDuration::Permanent));
        let four = RequestedDuration::For(AccessDuration::parse("4h").expect("4h"));
        assert!(h(4).allows(four));
        assert!(!h(2).allows(four));
    }

    #[test]
    fn option_values_round_trip_and_refuse_garbage() {
        let four = RequestedDuration::For(AccessDuration::parse("4h").expect("4h"));
        assert_eq!(four.to_value(), "14400");
        assert_eq!(RequestedDuration::from_value("14400"), Some(four));
        assert_eq!(
            RequestedDuration::from_value("permanent"),
            Some(RequestedDuration::Permanent)
        );
        for bad in ["", "0", "-5", "4h", "99999999999"] {
            assert_eq!(RequestedDuration::from_value(bad), None, "{bad}");
        }
    }
}
