//! The step-up modals submitted (answered in the ack, committed before it): a code
//! for the person's live challenge, checked, and either the approval committed with
//! the code used up, the enrolment committed, or the failure counted. Every outcome
//! is audited (`step-up.verify`, `step-up.enrol`, and `….refused` for a submission
//! with no live challenge behind it).

use serde_json::{json, Value};

use crate::app::decisions;
use crate::app::decisions::step_up::check::{Attempt, StepUpCheck, TotpCheck, Verdict};
use crate::app::decisions::step_up::state::{Challenge, Enrolment, StepUp};
use crate::app::decisions::step_up::{key, load, locked, modal, NO_KEY};
use crate::app::shared::commit_path::{decide_and_commit, Decided, Ended};
use crate::app::shared::services::Services;
use crate::store::{AuditEvent, Change, Table};
use crate::workflow::approval::Action;

const NOT_OPEN: &str =
    "This verification is not open any more (or was not opened for you); click Approve again.";
const UNAVAILABLE: &str = "c1bot could not check your code just now; nothing changed. Try again.";
/// What one pass over a submission came to: the ack payload (`None` closes the
/// modal), committed with a change or not; or, when the person's record moved under
/// it (the view binding landing just after the modal opened), decided again on the
/// new state.
type Step = Decided<Option<Value>, Option<Value>>;

/// One submission, as read from the view.
struct Submission<'a> {
    user: &'a str,
    enrolling: bool,
    challenge_id: &'a str,
    view_id: &'a str,
    code: String,
}

/// The ack payload for a step-up modal's submission: `None` closes it.
pub async fn submitted(
    services: &Services,
    user: &str,
    modal: crate::controls::Modal,
    input: &crate::slack::view_input::ViewInput,
) -> Option<Value> {
    let submission = Submission {
        user,
        enrolling: modal == crate::controls::Modal::StepUpEnrol,
        challenge_id: &input.metadata,
        view_id: &input.view_id,
        code: input.text("code").unwrap_or_default().to_owned(),
    };
    let submission = &submission;
    let ended = decide_and_commit(
        &services.store,
        &services.consequences,
        &Change::new(),
        move || once(services, submission),
    )
    .await;
    match ended {
        Ended::Committed(answer) | Ended::AlreadyDone(answer) | Ended::Stopped(answer) => answer,
        Ended::Failed(error) => {
            tracing::warn!(%error, "cannot record a step-up attempt");
            Some(self::error(UNAVAILABLE))
        }
        Ended::KeptChanging => Some(error(UNAVAILABLE)),
    }
}

async fn once(services: &Services, s: &Submission<'_>) -> Step {
    let what = if s.enrolling {
        "step-up.enrol"
    } else {
        "step-up.verify"
    };
    let Some(sealer) = &services.step_up else {
        return answer(NO_KEY);
    };
    let stored = match load(&services.store, s.user).await {
        Ok(stored) => stored,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "cannot read step-up state");
            return answer(UNAVAILABLE);
        }
    };
    let (rev, mut person) = stored.map_or((None, StepUp::default()), |s| (Some(s.rev), s.data));
    let now = services.now();
    // The modal only names a challenge; it counts only as this person's live one, of
    // the kind this modal is, from the view it was opened in.
    let live = person
        .live_challenge(s.challenge_id, s.view_id, now)
        .cloned()
        .filter(|c| {
            c.pending_secret.is_some() == s.enrolling
                && (person.allowance.is_some() || !s.enrolling)
                && (person.enrolment.is_some() || s.enrolling)
        });
    let Some(challenge) = live else {
        let subject = person
            .challenge
            .as_ref()
            .map_or_else(|| s.user.to_owned(), |c| c.request_id.clone());
        let why = "no live step-up challenge for this submission";
        services
            .audit_refusal(s.user, &subject, what, why.into())
            .await;
        return answer(NOT_OPEN);
    };
    // Not bound yet (`views.open`'s answer still on its way): the first submission's
    // view pins it, so from now on only that view counts.
    let challenge = if challenge.view_id.is_none() && person.bind_view(&challenge.id, s.view_id) {
        Challenge {
            view_id: Some(s.view_id.to_owned()),
            ..challenge
        }
    } else {
        challenge
    };
    if let Some(until) = person.locked_until(now) {
        services
            .audit_refusal(s.user, &challenge.request_id, what, "locked out".into())
            .await;
        return answer(&locked(until));
    }
    let enrolment = match (&challenge.pending_secret, &person.enrolment) {
        (Some(pending), _) => Enrolment {
            sealed_secret: pending.clone(),
            at: now,
        },
        (None, Some(enrolment)) => enrolment.clone(),
        (None, None) => return answer(NOT_OPEN),
    };
    let check = TotpCheck {
        sealer: sealer.clone(),
    };
    let verdict = check
        .verify(Attempt {
            user: s.user,
            enrolment: &enrolment,
            last_counter: if s.enrolling { 0 } else { person.last_counter },
            code: &s.code,
            now,
        })
        .await;
    let outcome = Outcome {
        services,
        user: s.user,
        what,
        challenge: &challenge,
        rev,
        person,
    };
    match verdict {
        Verdict::Wrong => outcome.failed("wrong").await,
        Verdict::Replayed => outcome.failed("replayed").await,
        Verdict::Unavailable(why) => {
            tracing::error!(why, user = s.user, "step-up check unavailable");
            services
                .audit_refusal(s.user, &challenge.request_id, what, why)
                .await;
            answer(UNAVAILABLE)
        }
        Verdict::Accepted { counter } if s.enrolling => outcome.enrolled(counter).await,
        Verdict::Accepted { counter } => outcome.verified(counter).await,
    }
}

/// A checked attempt, about to be committed against the record read at `rev`.
struct Outcome<'a> {
    services: &'a Services,
    user: &'a str,
    what: &'static str,
    challenge: &'a Challenge,
    rev: Option<u64>,
    person: StepUp,
}

impl Outcome<'_> {
    /// The person's record as `person`, expecting the revision read, with the
    /// attempt's audit entry.
    fn record(&self, person: &StepUp, result: &str) -> Change {
        Change::new()
            .at(self.services.now())
            .expect(Table::Sessions, key(self.user), self.rev)
            .put(Table::Sessions, key(self.user), person)
            .audit(AuditEvent {
                actor: self.user.to_owned(),
                action: self.what.to_owned(),
                subject: self.challenge.request_id.clone(),
                detail: json!({ "result": result }),
            })
    }

    /// A wrong or replayed code: counted, audited, said on the field.
    async fn failed(mut self, result: &str) -> Step {
        let now = self.services.now();
        self.person.failed(now);
        let sentence = match (self.person.locked_until(now), result) {
            (Some(until), _) => locked(until),
            (None, "replayed") => "That code was used already; wait for the next one.".into(),
            (None, _) => "That code is not right; check your app and try again.".into(),
        };
        let change = self.record(&self.person, result);
        Decided::commit(change, Some(error(&sentence)))
    }

    /// The right code: the approval, committed with the code used up.
    async fn verified(mut self, counter: u64) -> Step {
        self.person.verified(counter);
        let also = self.record(&self.person, "ok");
        let request_id = &self.challenge.request_id;
        let decided = decisions::act_with(
            self.services,
            self.user,
            request_id,
            Action::Approve,
            &also,
            true,
        )
        .await;
        match decided {
            decisions::Result::Done => Decided::Stop(None),
            // The approval did not commit; if the person's record moved meanwhile, the
            // code is checked again on the new state.
            _ if self.record_moved().await => Decided::Again,
            decisions::Result::Refused(message) => {
                // The code was good: it is used up even though nothing was approved.
                Decided::commit(also, Some(error(&message)))
            }
            decisions::Result::Unavailable(message) => answer(&message),
            decisions::Result::NeedsStepUp => answer(crate::app::decisions::step_up::NEEDED),
        }
    }

    async fn record_moved(&self) -> bool {
        match load(&self.services.store, self.user).await {
            Ok(stored) => stored.map(|s| s.rev) != self.rev,
            Err(_) => false,
        }
    }

    /// Enrolment confirmed: the new secret becomes the person's, and the modal turns
    /// into the verification for the same request (a fresh challenge, the next code).
    async fn enrolled(mut self, counter: u64) -> Step {
        let now = self.services.now();
        let Some(sealed) = self.challenge.pending_secret.clone() else {
            return answer(NOT_OPEN);
        };
        self.person.enrolled(sealed, counter, now);
        // The same view turns into the verification: the binding carries over.
        let next = Challenge {
            view_id: self.challenge.view_id.clone(),
            ..crate::app::decisions::step_up::challenge(&self.challenge.request_id, now, None)
        };
        let request = match self.services.load_request(&self.challenge.request_id).await {
            Ok(Some(stored)) => stored.data,
            Ok(None) | Err(_) => return answer(UNAVAILABLE),
        };
        let view = match modal::verify(self.services, &request, &next.id) {
            Ok(view) => view,
            Err(error) => {
                tracing::error!(
                    error = format!("{error:#}"),
                    "cannot render the step-up modal"
                );
                return answer(UNAVAILABLE);
            }
        };
        self.person.open(next);
        let change = self.record(&self.person, "ok");
        let update = json!({ "response_action": "update", "view": view });
        Decided::commit(change, Some(update))
    }
}

fn answer(message: &str) -> Step {
    Decided::Stop(Some(error(message)))
}

fn error(message: &str) -> Value {
    json!({ "response_action": "errors", "errors": { "code": message } })
}
