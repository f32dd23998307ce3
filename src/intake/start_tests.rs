use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::{America::New_York, Europe::Berlin};

use super::*;

fn phrase(text: &str) -> Option<(StartPhrase, usize)> {
    let keys: Vec<&str> = text.split_whitespace().collect();
    read(&keys, 0)
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("a time")
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("a time")
}

#[test]
fn the_forms_people_write_are_read() {
    let cases = [
        ("from 09:00 tomorrow", Day::Tomorrow, hm(9, 0), 3),
        ("from tomorrow 9am", Day::Tomorrow, hm(9, 0), 3),
        ("from 9:30pm today", Day::Today, hm(21, 30), 3),
        (
            "from monday 14:30",
            Day::Weekday(Weekday::Mon),
            hm(14, 30),
            3,
        ),
        ("from 17h", Day::Next, hm(17, 0), 2),
        ("from 12am tomorrow", Day::Tomorrow, hm(0, 0), 3),
        (
            "from 2026-12-07 08:15",
            Day::Date(NaiveDate::from_ymd_opt(2026, 12, 7).expect("date")),
            hm(8, 15),
            3,
        ),
    ];
    for (text, day, time, used) in cases {
        assert_eq!(
            phrase(text),
            Some((StartPhrase { day, time }, used)),
            "{text}"
        );
    }
}

#[test]
fn words_that_are_not_a_start_are_left_for_the_reason() {
    for text in [
        "from home",
        "from 25:00",
        "from 9",
        "from tomorrow",
        "from 13pm",
        "since 09:00",
        "from",
    ] {
        assert_eq!(phrase(text), None, "{text}");
    }
}

#[test]
fn a_start_is_the_wall_clock_time_in_the_requesters_zone() {
    let now = utc(2026, 12, 6, 10, 0);
    let tomorrow_nine = StartPhrase {
        day: Day::Tomorrow,
        time: hm(9, 0),
    };
    assert_eq!(
        tomorrow_nine.resolve(&Berlin, now),
        Some(utc(2026, 12, 7, 8, 0))
    );
    assert_eq!(
        tomorrow_nine.resolve(&New_York, now),
        Some(utc(2026, 12, 7, 14, 0))
    );
}

#[test]
fn a_bare_time_already_past_today_is_tomorrows() {
    let now = utc(2026, 12, 6, 10, 0);
    let at = |h| StartPhrase {
        day: Day::Next,
        time: hm(h, 0),
    };
    assert_eq!(at(9).resolve(&Utc, now), Some(utc(2026, 12, 7, 9, 0)));
    assert_eq!(at(11).resolve(&Utc, now), Some(utc(2026, 12, 6, 11, 0)));
}

#[test]
fn a_weekday_is_the_next_one_after_today() {
    // 2026-12-06 is a Sunday.
    let now = utc(2026, 12, 6, 10, 0);
    let on = |weekday| StartPhrase {
        day: Day::Weekday(weekday),
        time: hm(9, 0),
    };
    assert_eq!(
        on(Weekday::Mon).resolve(&Utc, now),
        Some(utc(2026, 12, 7, 9, 0))
    );
    assert_eq!(
        on(Weekday::Sun).resolve(&Utc, now),
        Some(utc(2026, 12, 13, 9, 0))
    );
}

#[test]
fn a_time_skipped_by_daylight_saving_names_no_instant() {
    // Berlin skips 02:00–03:00 on 2027-03-28.
    let skipped = StartPhrase {
        day: Day::Date(NaiveDate::from_ymd_opt(2027, 3, 28).expect("date")),
        time: hm(2, 30),
    };
    assert_eq!(skipped.resolve(&Berlin, utc(2027, 3, 20, 0, 0)), None);
}
