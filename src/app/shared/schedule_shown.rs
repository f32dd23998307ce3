//! The window of scheduled access as people read it: Slack date tokens
//! (`<!date^…>`), which every reader's client shows in their own time zone, with a
//! UTC fallback. Pure.

use crate::app::shared::notify::duration_text;
use crate::templates::{slack_date, Mrkdwn};
use crate::workflow::request::AccessRequest;
use crate::workflow::schedule;

/// What the requester is told when `request` is approved ahead of its window.
pub fn waiting_detail(request: &AccessRequest) -> Option<String> {
    if !schedule::waiting(request) {
        return None;
    }
    let window = schedule::window(request)?;
    let start = slack_date(window.start.timestamp());
    Some(match window.end {
        Some(end) => format!(
            "Scheduled: your access is set up at {start} and ends at {}, however long setting it up takes.",
            slack_date(end.timestamp())
        ),
        None => format!("Scheduled: your access is set up at {start}."),
    })
}

/// The grant task's note for scheduled access: its clock already runs.
pub fn task_note(request: &AccessRequest) -> Option<String> {
    let window = schedule::window(request)?;
    Some(match window.end {
        Some(end) => format!(
            "Scheduled access: it started at {} and ends at {}, whenever you mark it complete.",
            slack_date(window.start.timestamp()),
            slack_date(end.timestamp())
        ),
        None => format!(
            "Scheduled access: it started at {}.",
            slack_date(window.start.timestamp())
        ),
    })
}

/// How long, and for a scheduled request when: "4 h, from <start> until <end>",
/// each time a Slack date token that every reader sees in their own time zone (the
/// fallback, for clients that cannot, in UTC).
pub fn duration_shown(request: &AccessRequest) -> Mrkdwn {
    let length = duration_text(request.duration);
    let Some(window) = schedule::window(request) else {
        return Mrkdwn::built(crate::app::shared::mrkdwn::escape(&length));
    };
    let start = slack_date(window.start.timestamp());
    Mrkdwn::built(match window.end {
        Some(end) => format!(
            "{length}, from {start} until {}",
            slack_date(end.timestamp())
        ),
        None => format!("{length}, from {start}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};

    fn request(starts_at: Option<DateTime<Utc>>) -> AccessRequest {
        let at = Utc
            .with_ymd_and_hms(2026, 12, 7, 8, 0, 0)
            .single()
            .expect("time");
        AccessRequest {
            starts_at,
            ..AccessRequest::example(at)
        }
    }

    #[test]
    fn the_window_is_shown_as_dates_each_reader_sees_in_their_zone() {
        let start = Utc
            .with_ymd_and_hms(2026, 12, 8, 8, 0, 0)
            .single()
            .expect("time");
        let shown = duration_shown(&request(Some(start)));
        assert_eq!(
            shown.as_str(),
            format!(
                "4 h, from <!date^{}^{{date_short_pretty}} at {{time}}|2026-12-08 08:00 UTC> until <!date^{}^{{date_short_pretty}} at {{time}}|2026-12-08 12:00 UTC>",
                start.timestamp(),
                start.timestamp() + 4 * 3600
            )
        );
        let now = duration_shown(&request(None));
        assert_eq!(now.as_str(), "4 h");
    }
}
