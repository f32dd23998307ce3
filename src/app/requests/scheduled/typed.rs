//! A start typed as words (`from 09:00 tomorrow`, parsed by `intake::start`) placed
//! in the requester's Slack time zone, and the request modal's picker set to it.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};

use crate::app::requests::Rejected;
use crate::app::shared::directory::Person;
use crate::app::shared::services::Services;
use crate::intake::start::StartPhrase;
use crate::workflow::submit::{fields, FieldErrors};

/// The instant a typed start (`from 09:00 tomorrow`) names for `user`, in their
/// Slack time zone; or why not, for the start field.
pub async fn start_of(
    services: &Services,
    user: &str,
    phrase: &StartPhrase,
) -> Result<DateTime<Utc>, Rejected> {
    let person = services.directory.person(user).await.map_err(|error| {
        tracing::warn!(%error, "cannot read the requester's time zone");
        Rejected {
            errors: FieldErrors::from([(fields::STARTS_AT.to_owned(), "c1bot could not read your time zone from Slack just now; nothing was submitted. Try again in a moment.".to_owned())]),
            transient: true,
        }
    })?;
    resolve(phrase, &person, services.now()).ok_or_else(|| Rejected {
        errors: FieldErrors::from([(
            fields::STARTS_AT.to_owned(),
            "That start does not exist in your time zone (a daylight-saving change skips it): choose another time.".to_owned(),
        )]),
        transient: false,
    })
}

/// `phrase` in `person`'s time zone (Slack's `tz`; UTC when Slack gives none).
pub fn resolve(phrase: &StartPhrase, person: &Person, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let zone: Tz = person.profile.tz.parse().unwrap_or(Tz::UTC);
    phrase.resolve(&zone, now)
}

/// Sets the request modal's start picker to `start`, when there is one.
pub fn prefill_start(view: &mut Value, start: Option<DateTime<Utc>>) {
    let Some(start) = start else {
        return;
    };
    let blocks = view.get_mut("blocks").and_then(Value::as_array_mut);
    for block in blocks.into_iter().flatten() {
        if block.get("block_id").and_then(Value::as_str) != Some(fields::STARTS_AT) {
            continue;
        }
        if let Some(element) = block.get_mut("element").and_then(Value::as_object_mut) {
            element.insert("initial_date_time".into(), json!(start.timestamp()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::start::Day;
    use chrono::{NaiveTime, TimeZone};

    fn person(tz: &str) -> Person {
        Person::from_slack(&json!({"id": "U0ALICE001", "tz": tz})).expect("a person")
    }

    fn nine_tomorrow() -> StartPhrase {
        StartPhrase {
            day: Day::Tomorrow,
            time: NaiveTime::from_hms_opt(9, 0, 0).expect("09:00"),
        }
    }

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, h, 0, 0)
            .single()
            .expect("a time")
    }

    #[test]
    fn a_typed_start_is_in_the_persons_slack_zone_and_utc_without_one() {
        let now = at(10) - chrono::Duration::days(1);
        let phrase = nine_tomorrow();
        assert_eq!(resolve(&phrase, &person("Europe/Berlin"), now), Some(at(8)));
        assert_eq!(resolve(&phrase, &person(""), now), Some(at(9)));
        assert_eq!(resolve(&phrase, &person("Mars/Olympus"), now), Some(at(9)));
    }

    #[test]
    fn the_modal_picker_is_set_to_the_start() {
        let mut view = json!({"blocks": [
            {"type": "input", "block_id": "justification", "element": {"type": "plain_text_input"}},
            {"type": "input", "block_id": "starts_at", "element": {"type": "datetimepicker"}}
        ]});
        prefill_start(&mut view, Some(at(8)));
        assert_eq!(
            view["blocks"][1]["element"]["initial_date_time"],
            json!(at(8).timestamp())
        );
        assert!(view["blocks"][0]["element"]
            .get("initial_date_time")
            .is_none());
    }
}
