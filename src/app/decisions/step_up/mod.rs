//! Step-up verification before a sensitive approval. Where policy says an approval
//! needs it (`require_step_up`, for the entitlement or the approver), Approve opens a
//! modal asking for a one-time code, and the approval commits only with a valid one,
//! in the same commit as the code being used up.
//!
//! Owns: what an Approve click that needs step-up leads to (explain how to enrol,
//! the enrolment modal, the verification modal, a lock-out), the modals' submissions
//! (`submit`), an admin's allowance to enrol (`allow`), and each person's state
//! (`state`, pure), stored as one record in `Table::Sessions` under `step-up/<user>`
//! so every change to it is one compare-and-swap with its audit entry. The check is
//! an interface (`check::StepUpCheck`), TOTP today; secrets are sealed (`seal`).
//!
//! Must not: trust a modal's `private_metadata` (it only names the server-side
//! challenge, which must be this person's live one), or show a secret anywhere but
//! the enrolment modal.

pub mod allow;
pub mod check;
mod modal;
pub mod state;
mod stored;
mod submit;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::app::decisions;
use crate::app::shared::commit_path::{decide_and_commit, Decided, Ended};
use crate::app::shared::journaled::{Outcome, Sender};
use crate::app::shared::services::Services;
use crate::slack::web::answers::ViewOpened;
use crate::slack::web::methods;
use crate::store::{Change, Store, Table, Versioned};
use crate::workflow::approval::Action;
use state::{Challenge, Next, StepUp};

pub use submit::submitted;

/// Said when an approval needs step-up and the person came another way.
pub const NEEDED: &str =
    "This approval needs step-up verification: click Approve on the request to enter a code.";
const NO_KEY: &str = "This approval needs step-up verification, which this c1bot cannot do: C1BOT_STEP_UP_KEY is not set. Ask a c1bot admin.";
/// Secret length in bytes: 160 bits, RFC 4226's recommendation.
const SECRET_LEN: usize = 20;

/// The record key of `user`'s step-up state.
pub fn key(user: &str) -> String {
    format!("step-up/{user}")
}

pub(crate) async fn load(store: &Store, user: &str) -> anyhow::Result<Option<Versioned<StepUp>>> {
    use anyhow::Context;
    store
        .get::<StepUp>(Table::Sessions, &key(user))
        .await
        .context("reading a person's step-up state")
}

/// An Approve click (journaled): decided as any approval, unless policy wants step-up,
/// in which case the verification (or enrolment) modal opens instead.
pub async fn approve(
    services: &Services,
    sender: &Sender,
    trigger_id: &str,
    request_id: &str,
    also: Change,
) -> Outcome {
    match decisions::act(services, &sender.user, request_id, Action::Approve, &also).await {
        decisions::Result::NeedsStepUp => {
            begin(services, sender, trigger_id, request_id, also).await
        }
        other => other.into(),
    }
}

/// Opens what the person's state calls for, with a fresh challenge committed first.
async fn begin(
    services: &Services,
    sender: &Sender,
    trigger_id: &str,
    request_id: &str,
    also: Change,
) -> Outcome {
    let user = sender.user.as_str();
    let Some(sealer) = &services.step_up else {
        tracing::error!(
            request_id,
            "policy requires step-up but C1BOT_STEP_UP_KEY is not set"
        );
        services
            .audit_refusal(user, request_id, "step-up.verify", NO_KEY.into())
            .await;
        return Outcome::Refused(NO_KEY.into());
    };
    let request = match services.load_request(request_id).await {
        Ok(Some(stored)) => stored.data,
        Ok(None) => return Outcome::Refused(format!("There is no request {request_id}.")),
        Err(error) => {
            tracing::error!(%error, request_id, "cannot read a request");
            return Outcome::Retry("c1bot could not read that request just now.".into());
        }
    };
    let request = &request;
    let ended = decide_and_commit(
        &services.store,
        &services.consequences,
        &also,
        move || async move {
            let stored = match load(&services.store, user).await {
                Ok(stored) => stored,
                Err(error) => {
                    tracing::error!(error = format!("{error:#}"), "cannot read step-up state");
                    return Decided::Stop(Outcome::Retry(
                        "c1bot could not read your step-up state.".into(),
                    ));
                }
            };
            let (rev, mut person) =
                stored.map_or((None, StepUp::default()), |s| (Some(s.rev), s.data));
            let now = services.now();
            let (challenge, view) = match person.next(now) {
                Next::Explain => {
                    let why = explain(request_id, user);
                    services
                        .audit_refusal(user, request_id, "step-up.verify", "not enrolled".into())
                        .await;
                    return Decided::Stop(Outcome::Refused(why));
                }
                Next::Locked { until } => {
                    services
                        .audit_refusal(user, request_id, "step-up.verify", "locked out".into())
                        .await;
                    return Decided::Stop(Outcome::Refused(locked(until)));
                }
                Next::Verify => {
                    let challenge = challenge(request_id, now, None);
                    let view = modal::verify(services, request, &challenge.id);
                    (challenge, view)
                }
                Next::Enrol => {
                    let secret: [u8; SECRET_LEN] = rand::random();
                    let sealed = match sealer.seal(user, &secret) {
                        Ok(sealed) => sealed,
                        Err(error) => {
                            tracing::error!(error = format!("{error:#}"), "cannot seal a secret");
                            return Decided::Stop(Outcome::Retry(
                                "c1bot could not start your enrolment.".into(),
                            ));
                        }
                    };
                    let challenge = challenge(request_id, now, Some(sealed));
                    let view = modal::enrol(services, request_id, &challenge.id, &secret, user);
                    (challenge, view)
                }
            };
            let view = match view {
                Ok(view) => view,
                Err(error) => {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "cannot render a step-up modal"
                    );
                    return Decided::Stop(Outcome::Retry(
                        "c1bot could not open the verification.".into(),
                    ));
                }
            };
            let challenge_id = challenge.id.clone();
            person.open(challenge);
            let change = Change::new()
                .at(now)
                .expect(Table::Sessions, key(user), rev)
                .put(Table::Sessions, key(user), &person);
            Decided::commit(change, (challenge_id, view))
        },
    )
    .await;
    match ended {
        Ended::Committed((challenge_id, view)) => {
            if let Some(view_id) = open_view(services, sender, trigger_id, view).await {
                bind_view(services, user, &challenge_id, &view_id).await;
            }
            Outcome::Committed
        }
        Ended::AlreadyDone(_) => Outcome::Committed,
        Ended::Stopped(outcome) => outcome,
        Ended::Failed(error) => {
            tracing::error!(%error, "cannot store a step-up challenge");
            Outcome::Retry("c1bot could not open the verification.".into())
        }
        Ended::KeptChanging => {
            Outcome::Retry("Your step-up state is changing quickly; try again.".into())
        }
    }
}

/// Opens the modal and returns its view id; if Slack refuses (the click's trigger
/// lives 3 s, e.g. after a restart), the person is told to click again.
async fn open_view(
    services: &Services,
    sender: &Sender,
    trigger_id: &str,
    view: serde_json::Value,
) -> Option<String> {
    let args = json!({ "trigger_id": trigger_id, "view": view });
    let opened = services
        .web
        .call_as::<ViewOpened>(methods::VIEWS_OPEN, args);
    let error = match opened.await {
        Ok(opened) => return Some(opened.view.id),
        Err(error) => error,
    };
    tracing::warn!(%error, "could not open the step-up modal");
    let text = "c1bot could not open the verification window in time; click Approve again.";
    let change = Change::new().at(services.now()).outbox(sender.tell(text));
    if let Err(error) = services.store.commit(change).await {
        tracing::error!(%error, "cannot tell a person to click Approve again");
    }
    None
}

/// Binds challenge `id` to the view Slack opened for it, so only that view's
/// submission counts. Best effort: until it is stored (or if it cannot be), the
/// challenge still needs its id, its person and its time.
async fn bind_view(services: &Services, user: &str, id: &str, view_id: &str) {
    let ended: Ended<(), ()> = decide_and_commit(
        &services.store,
        &services.consequences,
        &Change::new(),
        move || async move {
            let Ok(Some(stored)) = load(&services.store, user).await else {
                return Decided::Stop(());
            };
            let mut person = stored.data;
            if !person.bind_view(id, view_id) {
                return Decided::Stop(());
            }
            let change = Change::new()
                .at(services.now())
                .expect(Table::Sessions, key(user), Some(stored.rev))
                .put(Table::Sessions, key(user), &person);
            Decided::commit(change, ())
        },
    )
    .await;
    if let Ended::Failed(error) = ended {
        tracing::warn!(%error, "cannot bind a step-up challenge to its view");
    }
}

fn challenge(request_id: &str, now: DateTime<Utc>, pending_secret: Option<String>) -> Challenge {
    Challenge {
        id: uuid::Uuid::new_v4().simple().to_string(),
        request_id: request_id.to_owned(),
        expires_at: now + state::CHALLENGE_TTL,
        pending_secret,
        view_id: None,
    }
}

/// How someone not enrolled gets enrolled.
fn explain(request_id: &str, user: &str) -> String {
    format!(
        "Approving {request_id} needs step-up verification with an authenticator app, and you have not enrolled one. Ask a c1bot admin to run `c1bot step-up allow {user}`, then click Approve again to enrol."
    )
}

fn locked(until: DateTime<Utc>) -> String {
    format!(
        "Too many wrong codes: step-up verification is locked for you until {} UTC. Nothing was approved.",
        until.format("%H:%M")
    )
}
