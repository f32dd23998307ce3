//! An admin's allowance to enrol (or enrol again) in step-up: `c1bot step-up allow
//! U…`, outside Slack, so a stolen Slack session cannot grant it. Committed with its
//! audit entry; used up when the person enrols.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::app::decisions::step_up::state::{Allowance, StepUp};
use crate::app::decisions::step_up::{key, load};
use crate::app::shared::commit_path::{decide_and_commit, Decided, Ended};
use crate::app::shared::consequences::Consequences;
use crate::store::{AuditEvent, Change, Store, Table};

/// A Slack user id (`U…` or `W…`), checked before anything is stored.
pub fn parse_user(text: &str) -> Result<String, String> {
    let text = text.trim();
    let valid = text.len() >= 3
        && text.starts_with(['U', 'W'])
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a Slack user id (U… or W…, from the person's profile: ⋮ → Copy member ID)"
        ))
    }
}

/// Allows `user` to enrol, by `by` (who ran the command), at `now`. Returns the
/// sentence for the admin.
pub async fn allow(
    store: &Store,
    user: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<String, String> {
    let user = parse_user(user)?;
    let user = user.as_str();
    let ended = decide_and_commit(
        store,
        &Consequences::none(),
        &Change::new(),
        move || async move {
            let stored = match load(store, user).await {
                Ok(stored) => stored,
                Err(error) => return Decided::Stop(format!("{error:#}")),
            };
            let (rev, mut person) =
                stored.map_or((None, StepUp::default()), |s| (Some(s.rev), s.data));
            let again = person.enrolment.is_some();
            person.allowance = Some(Allowance {
                by: by.to_owned(),
                at: now,
            });
            let change = Change::new()
                .at(now)
                .expect(Table::Sessions, key(user), rev)
                .put(Table::Sessions, key(user), &person)
                .audit(AuditEvent {
                    actor: by.to_owned(),
                    action: "step-up.allow".into(),
                    subject: user.to_owned(),
                    detail: json!({ "re_enrolment": again }),
                });
            Decided::commit(change, again)
        },
    )
    .await;
    match ended {
        Ended::Committed(true) | Ended::AlreadyDone(true) => Ok(format!("{user} may enrol again: their next approval that needs step-up opens enrolment with a new key, which replaces the old one")),
        Ended::Committed(false) | Ended::AlreadyDone(false) => Ok(format!("{user} may enrol: their next approval that needs step-up opens enrolment")),
        Ended::Stopped(error) => Err(error),
        Ended::Failed(error) => Err(error.to_string()),
        Ended::KeptChanging => Err(format!("{user}'s step-up state kept changing; try again")),
    }
}

/// Who ran the command, for the audit entry: the operating-system account.
pub fn admin_name() -> String {
    let account = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{account}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_slack_user_ids_are_accepted() {
        assert_eq!(parse_user(" U0BOB00001 ").as_deref(), Ok("U0BOB00001"));
        assert!(parse_user("W0ENTERPRISE").is_ok());
        for bad in ["", "U1", "bob", "C0GENERAL1", "U0bob", "U0 BOB", "@bob"] {
            assert!(parse_user(bad).is_err(), "{bad:?}");
        }
    }

    /// On sled and PostgreSQL alike: the record and its audit entry, and an allowance
    /// given again (re-enrolment) moving the same record on.
    async fn an_allowance_is_stored_with_its_audit_entry(store: Store) {
        let now = DateTime::from_timestamp(1_800_000_000, 0).expect("in range");
        let said = allow(&store, "U0BOB00001", "cli:root", now)
            .await
            .expect("allowed");
        assert!(said.contains("may enrol"), "{said}");
        let person = load(&store, "U0BOB00001")
            .await
            .expect("reads")
            .expect("stored");
        assert_eq!(
            person.data.allowance,
            Some(Allowance {
                by: "cli:root".into(),
                at: now
            })
        );
        let mut out = Vec::new();
        store.export_audit(&mut out).await.expect("exports");
        let audit = String::from_utf8(out).expect("utf-8");
        assert!(
            audit.contains("step-up.allow") && audit.contains("U0BOB00001"),
            "{audit}"
        );
        let again = allow(&store, "U0BOB00001", "cli:root", now)
            .await
            .expect("allowed again");
        assert!(again.contains("may enrol"), "{again}");
        let person = load(&store, "U0BOB00001")
            .await
            .expect("reads")
            .expect("stored");
        assert_eq!(person.rev, 2);
    }

    crate::store::suite::both!(an_allowance_is_stored_with_its_audit_entry);
}
