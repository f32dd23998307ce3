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
    /// Parses `90s`, `30m`, `4h`, `1h30m`, `1h 30m`, `2d`, `1w`, `2hours`, `1hr30min`:
    /// the grammar of [`parse_span`], in whole seconds, more than zero, at most a year.
    pub fn parse(text: &str) -> Result<Self, DurationError> {
        match parse_seconds(text)? {
            0 => Err(DurationError::Zero(text.to_owned())),
            total => Ok(AccessDuration(Duration::from_secs(total))),
        }
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

/// The seconds `text` says, at most a year; zero is allowed here, not by
/// [`AccessDuration::parse`]. Access is granted in whole seconds, so `1500ms` is
/// refused.
fn parse_seconds(text: &str) -> Result<u64, DurationError> {
    let millis = parse_millis(text)?;
    if millis % 1000 != 0 {
        return Err(DurationError::Malformed(text.to_owned()));
    }
    Ok(millis / 1000)
}

/// The milliseconds `text` says, at most a year: [`parse_span`] for what is granted
/// or waited for.
pub fn parse_millis(text: &str) -> Result<u64, DurationError> {
    let span = parse_span(text)?;
    u64::try_from(span.as_millis())
        .ok()
        .filter(|millis| *millis <= LONGEST * 1000)
        .ok_or_else(|| DurationError::TooLong(text.to_owned()))
}

/// The span `text` says. The one grammar of written durations, read by the catalog
/// (access and provisioner timeouts), the config, policies' `max_duration` and the
/// request line: parts of a number glued to a unit (`ms` or one of
/// [`unit_seconds`]), apart or not (`1h30m`, `1h 30m`, `2hours`), lowercase. No
/// limit but arithmetic: a policy's cap may be longer than any access (it then caps
/// nothing); [`parse_millis`] holds the rest to a year.
pub fn parse_span(text: &str) -> Result<Duration, DurationError> {
    let malformed = || DurationError::Malformed(text.to_owned());
    let too_long = || DurationError::TooLong(text.to_owned());
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(malformed());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let letters = rest[digits..]
            .find(|c: char| !c.is_ascii_alphabetic())
            .map_or(rest.len(), |n| digits + n);
        let unit = match &rest[digits..letters] {
            "ms" => Some(1),
            unit => unit_seconds(unit).map(|seconds| seconds * 1000),
        };
        let unit = unit.filter(|_| digits > 0).ok_or_else(malformed)?;
        // Only digits are left, so a number that does not parse is too long.
        let count: u64 = rest[..digits].parse().map_err(|_| too_long())?;
        total = count
            .checked_mul(unit)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(too_long)?;
        rest = rest[letters..].trim_start();
    }
    Ok(Duration::from_millis(total))
}

/// Seconds in a unit, written as a letter or a word. Lowercase only, so `M` can
/// never be read as months where minutes were meant; a month is 30 days.
pub fn unit_seconds(unit: &str) -> Option<u64> {
    Some(match unit {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => MINUTE,
        "h" | "hr" | "hrs" | "hour" | "hours" => HOUR,
        "d" | "day" | "days" => DAY,
        "w" | "wk" | "wks" | "week" | "weeks" => WEEK,
        "month" | "months" => 30 * DAY,
        _ => return None,
    })
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
        assert_eq!(secs("2hours"), 2 * 3600);
        assert_eq!(secs("1hr30min"), 5400);
        assert_eq!(secs("1month"), 30 * 86400);
        assert_eq!(secs("1w 2d"), 9 * 86400);
    }

    #[test]
    fn malformed_zero_and_huge_durations_are_refused() {
        for bad in [
            "", "4", "h", "4x", "-1h", "1.5h", "4 h", "h4", "1M", "2H", "1h,30m",
        ] {
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
    fn zero_is_a_number_of_seconds_but_no_access_duration_and_ms_only_a_timeout() {
        assert_eq!(parse_seconds("0s"), Ok(0));
        assert_eq!(parse_seconds(" 1d "), Ok(86400));
        assert!(matches!(
            parse_seconds("367d"),
            Err(DurationError::TooLong(_))
        ));
        assert!(matches!(
            parse_seconds("1500ms"),
            Err(DurationError::Malformed(_))
        ));
        assert_eq!(parse_millis("1s 500ms"), Ok(1500));
        assert_eq!(parse_millis("2m"), Ok(120_000));
        // Longer than any access, still a span (a policy's cap that caps nothing).
        assert_eq!(parse_span("400d"), Ok(Duration::from_secs(400 * 86400)));
        assert!(matches!(
            parse_millis("400d"),
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
