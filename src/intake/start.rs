//! The start of scheduled access written as words: `from 09:00 tomorrow`,
//! `from tomorrow 9am`, `from monday 14:30`, `from 2026-12-07 09:00`, `from 17:00`.
//!
//! Read as a wall-clock time on a day, with no time zone: which instant that is
//! depends on the requester's zone and the time now, which the caller supplies to
//! [`StartPhrase::resolve`]. A bare time is the next time the clock shows it (today,
//! or tomorrow once it has passed). Pure.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};

/// Which day a start phrase names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Day {
    /// No day given: the next time the clock shows the time.
    Next,
    Today,
    Tomorrow,
    /// The next such weekday after today.
    Weekday(Weekday),
    Date(NaiveDate),
}

/// A wall-clock start, as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartPhrase {
    pub day: Day,
    pub time: NaiveTime,
}

/// Reads `from <time> [<day>]` or `from <day> <time>` at `keys[at]` (lowercase
/// words); the phrase and how many words it used, or `None` when the words there
/// are not one (then they are something else, such as the reason).
pub fn read(keys: &[&str], at: usize) -> Option<(StartPhrase, usize)> {
    if keys.get(at) != Some(&"from") {
        return None;
    }
    let first = keys.get(at + 1)?;
    let second = keys.get(at + 2);
    if let Some(time) = time_of(first) {
        return Some(match second.and_then(|w| day_of(w)) {
            Some(day) => (StartPhrase { day, time }, 3),
            None => (
                StartPhrase {
                    day: Day::Next,
                    time,
                },
                2,
            ),
        });
    }
    let day = day_of(first)?;
    let time = time_of(second?)?;
    Some((StartPhrase { day, time }, 3))
}

impl StartPhrase {
    /// The instant this phrase names for someone in `zone` at `now`. `None` for a
    /// wall-clock time that does not exist that day (skipped by a daylight-saving
    /// change); an ambiguous one (repeated) is its first occurrence.
    pub fn resolve<Z: TimeZone>(&self, zone: &Z, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = now.with_timezone(zone).date_naive();
        let at = |date: NaiveDate| {
            zone.from_local_datetime(&date.and_time(self.time))
                .earliest()
                .map(|t| t.with_timezone(&Utc))
        };
        match self.day {
            Day::Next => {
                let start = at(today)?;
                if start + Duration::minutes(1) >= now {
                    Some(start)
                } else {
                    at(today.succ_opt()?)
                }
            }
            Day::Today => at(today),
            Day::Tomorrow => at(today.succ_opt()?),
            Day::Weekday(weekday) => {
                let ahead = (7 + weekday.num_days_from_monday()
                    - today.weekday().num_days_from_monday())
                    % 7;
                let ahead = if ahead == 0 { 7 } else { ahead };
                at(today + Duration::days(i64::from(ahead)))
            }
            Day::Date(date) => at(date),
        }
    }
}

/// `09:00`, `9:30`, `17h`, `9am`, `9:30pm`, `12am` (midnight).
fn time_of(word: &str) -> Option<NaiveTime> {
    let (clock, offset) = if let Some(c) = word.strip_suffix("am") {
        (c, Some(0))
    } else if let Some(c) = word.strip_suffix("pm") {
        (c, Some(12))
    } else if let Some(c) = word.strip_suffix('h') {
        (c, None)
    } else {
        (word, None)
    };
    let (hour, minute) = match clock.split_once(':') {
        Some((h, m)) if m.len() == 2 => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
        None if offset.is_some() || word.ends_with('h') => (clock.parse::<u32>().ok()?, 0),
        _ => return None,
    };
    if clock.is_empty() || clock.len() > 5 {
        return None;
    }
    let hour = match offset {
        Some(add) if (1..=12).contains(&hour) => hour % 12 + add,
        Some(_) => return None,
        None => hour,
    };
    NaiveTime::from_hms_opt(hour, minute, 0)
}

fn day_of(word: &str) -> Option<Day> {
    Some(match word {
        "today" => Day::Today,
        "tomorrow" => Day::Tomorrow,
        _ => match word.parse::<Weekday>() {
            Ok(weekday) => Day::Weekday(weekday),
            Err(_) => Day::Date(NaiveDate::parse_from_str(word, "%Y-%m-%d").ok()?),
        },
    })
}

#[cfg(test)]
#[path = "start_tests.rs"]
mod tests;
