//! Slack's date tokens as a reader sees them: `<!date^1765094400^{date_short_pretty}
//! at {time}|fallback>` is shown in the reader's own time zone (their profile's
//! `tz_offset`), which is how one message tells each reader their local time.
//! Pure.
//!
//! Simulated people read a 24-hour clock, and `_pretty` dates as plain dates (the
//! simulator does not know the reader's "today" when a test moves c1bot's clock).
//! A token this does not know is left as Slack would show an unknown one: its fallback.

use chrono::{DateTime, FixedOffset};

/// `text` with every `<!date^…>` token written out in the zone `offset_secs` east
/// of UTC.
pub fn in_zone(text: &str, offset_secs: i64) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("<!date^") {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let token = &rest[open + 7..open + close];
        out.push_str(&shown(token, offset_secs));
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

/// `1765094400^{date} at {time}^optional_link|fallback` as shown.
fn shown(token: &str, offset_secs: i64) -> String {
    let (spec, fallback) = token.split_once('|').unwrap_or((token, ""));
    let mut parts = spec.split('^');
    let at = parts
        .next()
        .and_then(|secs| secs.parse::<i64>().ok())
        .and_then(|secs| DateTime::from_timestamp(secs, 0));
    let zone = i32::try_from(offset_secs)
        .ok()
        .and_then(FixedOffset::east_opt);
    let (Some(at), Some(zone), Some(format)) = (at, zone, parts.next()) else {
        return fallback.to_owned();
    };
    let local = at.with_timezone(&zone);
    let mut out = format.to_owned();
    for (name, pattern) in [
        ("{date_num}", "%Y-%m-%d"),
        ("{date_short_pretty}", "%b %-d, %Y"),
        ("{date_long_pretty}", "%A, %B %-d, %Y"),
        ("{date_pretty}", "%B %-d, %Y"),
        ("{date_short}", "%b %-d, %Y"),
        ("{date_long}", "%A, %B %-d, %Y"),
        ("{date}", "%B %-d, %Y"),
        ("{time_secs}", "%H:%M:%S"),
        ("{time}", "%H:%M"),
    ] {
        if out.contains(name) {
            out = out.replace(name, &local.format(pattern).to_string());
        }
    }
    if out.contains('{') {
        return fallback.to_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str =
        "from <!date^1796630400^{date_short_pretty} at {time}|2026-12-07 08:00 UTC>.";

    #[test]
    fn each_reader_sees_their_own_zone() {
        assert_eq!(in_zone(TOKEN, 3600), "from Dec 7, 2026 at 09:00.");
        assert_eq!(in_zone(TOKEN, -18000), "from Dec 7, 2026 at 03:00.");
        assert_eq!(in_zone(TOKEN, 32400), "from Dec 7, 2026 at 17:00.");
    }

    #[test]
    fn an_unknown_format_or_a_bad_time_shows_the_fallback() {
        assert_eq!(
            in_zone("<!date^1796630400^{weird}|fallback>", 0),
            "fallback"
        );
        assert_eq!(in_zone("<!date^soon^{time}|fallback>", 0), "fallback");
        assert_eq!(in_zone("no tokens <@U1>", 0), "no tokens <@U1>");
        assert_eq!(in_zone("cut <!date^1", 0), "cut <!date^1");
    }
}
