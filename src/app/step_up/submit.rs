//! The step-up modals submitted (answered in the ack, committed before it): a code
//! for the person's live challenge, checked, and either the approval committed with
//! the code used up, the enrolment committed, or the failure counted. Every outcome
//! is audited (`step-up.verify`, `step-up.enrol`, and `….refused` for a submission
//! with no live challenge behind it).

use serde_json::{json, Value};

use super::check::{Attempt, StepUpCheck, TotpCheck, Verdict};
use super::state::{Challenge, Enrolment, StepUp};
use super::{key, load, locked, modal, NO_KEY};
use crate::app::decisions;
use crate::app::services::Services;
use crate::store::{AuditEvent, Change, Table};
use crate::workflow::approval::Action;

const NOT_OPEN: &str =
    "This verification is not open any more (or was not opened for you); click Approve again.";
const UNAVAILABLE: &str = "c1bot could not check your code just now; nothing changed. Try again.";

/// The ack payload for a step-up modal's submission: `None` closes it.
pub async fn submitted(
    services: &Services,
    user: &str,
    callback_id: &str,
    view: &Value,
) -> Option<Value> {
    let enrolling = callback_id == super::ENROL_CALLBACK_ID;
    let what = if enrolling {
        "step-up.enrol"
    } else {
        "step-up.verify"
    };
    let challenge_id = view
        .get("private_metadata")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let code =
        crate::app::request_form::value_of(view.get("state").unwrap_or(&Value::Null), "code")
            .unwrap_or_default();
    let Some(sealer) = &services.step_up else {
        return Some(error(NO_KEY));
    };
    let stored = match load(&services.store, user).await {
        Ok(stored) => stored,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "cannot read step-up state");
            return Some(self::error(UNAVAILABLE));
        }
    };
    let (rev, mut person) = stored.map_or((None, StepUp::default()), |s| (Some(s.rev), s.data));
    let now = services.now();
    // The modal only names a challenge; it counts only as this person's live one, of
    // the kind this modal is.
    let live = person
        .live_challenge(challenge_id, now)
        .cloned()
        .filter(|c| {
            c.pending_secret.is_some() == enrolling
                && (person.allowance.is_some() || !enrolling)
                && (person.enrolment.is_some() || enrolling)
        });
    let Some(challenge) = live else {
        let subject = person
            .challenge
            .as_ref()
            .map_or_else(|| user.to_owned(), |c| c.request_id.clone());
        services
            .audit_refusal(
                user,
                &subject,
                what,
                "no live step-up challenge for this submission".into(),
            )
            .await;
        return Some(error(NOT_OPEN));
    };
    if let Some(until) = person.locked_until(now) {
        services
            .audit_refusal(user, &challenge.request_id, what, "locked out".into())
            .await;
        return Some(error(&locked(until)));
    }
    let enrolment = match (&challenge.pending_secret, &person.enrolment) {
        (Some(pending), _) => Enrolment {
            sealed_secret: pending.clone(),
            at: now,
        },
        (None, Some(enrolment)) => enrolment.clone(),
        (None, None) => return Some(error(NOT_OPEN)),
    };
    let last_counter = if enrolling { 0 } else { person.last_counter };
    let check = TotpCheck {
        sealer: sealer.clone(),
    };
    let verdict = check
        .verify(Attempt {
            user,
            enrolment: &enrolment,
            last_counter,
            code: &code,
            now,
        })
        .await;
    let audit = |result: &str| AuditEvent {
        actor: user.to_owned(),
        action: what.to_owned(),
        subject: challenge.request_id.clone(),
        detail: json!({ "result": result }),
    };
    let record = |person: &StepUp| {
        Change::new()
            .at(now)
            .expect(Table::Sessions, key(user), rev)
            .put(Table::Sessions, key(user), person)
    };
    match verdict {
        Verdict::Wrong | Verdict::Replayed => {
            let (result, sentence) = if verdict == Verdict::Replayed {
                (
                    "replayed",
                    "That code was used already; wait for the next one.",
                )
            } else {
                (
                    "wrong",
                    "That code is not right; check your app and try again.",
                )
            };
            person.failed(now);
            let sentence = match person.locked_until(now) {
                Some(until) => locked(until),
                None => sentence.to_owned(),
            };
            match services
                .store
                .commit(record(&person).audit(audit(result)))
                .await
            {
                Ok(_) => Some(error(&sentence)),
                Err(error) => {
                    tracing::warn!(%error, "cannot record a failed step-up attempt");
                    Some(self::error(UNAVAILABLE))
                }
            }
        }
        Verdict::Unavailable(why) => {
            tracing::error!(why, user, "step-up check unavailable");
            services
                .audit_refusal(user, &challenge.request_id, what, why)
                .await;
            Some(error(UNAVAILABLE))
        }
        Verdict::Accepted { counter } if enrolling => {
            enrolled(services, &challenge, person, counter, record, audit("ok")).await
        }
        Verdict::Accepted { counter } => {
            person.verified(counter);
            let also = record(&person).audit(audit("ok"));
            let decided = decisions::act_with(
                services,
                user,
                &challenge.request_id,
                Action::Approve,
                &also,
                true,
            )
            .await;
            match decided {
                decisions::Result::Done => None,
                decisions::Result::Refused(message) => {
                    // The code was good: it is used up even though nothing was approved.
                    if let Err(error) = services.store.commit(also).await {
                        tracing::warn!(%error, "cannot record a used step-up code");
                    }
                    Some(error(&message))
                }
                decisions::Result::Unavailable(message) => Some(error(&message)),
                decisions::Result::NeedsStepUp => Some(error(super::NEEDED)),
            }
        }
    }
}

/// Enrolment confirmed: the new secret becomes the person's, and the modal turns into
/// the verification for the same request (a fresh challenge, the next code).
async fn enrolled(
    services: &Services,
    challenge: &Challenge,
    mut person: StepUp,
    counter: u64,
    record: impl Fn(&StepUp) -> Change,
    audit: AuditEvent,
) -> Option<Value> {
    let now = services.now();
    let Some(sealed) = challenge.pending_secret.clone() else {
        return Some(error(NOT_OPEN));
    };
    person.enrolled(sealed, counter, now);
    let next = super::challenge(&challenge.request_id, now, None);
    let request = match services.load_request(&challenge.request_id).await {
        Ok(Some(stored)) => stored.data,
        Ok(None) | Err(_) => return Some(error(UNAVAILABLE)),
    };
    let view = match modal::verify(services, &request, &next.id) {
        Ok(view) => view,
        Err(error) => {
            tracing::error!(
                error = format!("{error:#}"),
                "cannot render the step-up modal"
            );
            return Some(self::error(UNAVAILABLE));
        }
    };
    person.open(next);
    match services.store.commit(record(&person).audit(audit)).await {
        Ok(_) => Some(json!({ "response_action": "update", "view": view })),
        Err(error) => {
            tracing::warn!(%error, "cannot record an enrolment");
            Some(self::error(UNAVAILABLE))
        }
    }
}

fn error(message: &str) -> Value {
    json!({ "response_action": "errors", "errors": { "code": message } })
}
