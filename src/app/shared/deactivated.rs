//! Deactivated people are never asked to act: approvers and task assignees whom
//! Slack marks `deleted` are skipped (the caller audits each one), and a step or a
//! task left with too few people to act goes to the resource's owners at once.
//!
//! A profile that cannot be read counts as active: nobody is skipped on a guess,
//! and a lookup failure never stops a request.

use std::collections::BTreeSet;

use futures_util::future::join_all;
use serde_json::json;

use crate::app::shared::directory::Directory;
use crate::store::AuditEvent;

/// People screened for deactivation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Screened {
    /// Who may act: the active people, plus the active owners when too few were left.
    pub people: BTreeSet<String>,
    /// Deactivated people left out.
    pub skipped: Vec<String>,
    /// True when the owners were added because too few people were left to act.
    pub to_owners: bool,
}

impl Screened {
    /// Audit entries for this screening of `role`s ("approver", "assignee") of
    /// `place` (a step's or a task's name) on request `subject`.
    pub fn audit(&self, subject: &str, role: &str, place: &str) -> Vec<AuditEvent> {
        let mut events: Vec<AuditEvent> = self
            .skipped
            .iter()
            .map(|who| AuditEvent {
                actor: "c1bot".into(),
                action: format!("{role}.skipped"),
                subject: subject.to_owned(),
                detail: json!({ "who": who, "why": "deactivated in Slack", "at": place }),
            })
            .collect();
        if self.to_owners {
            events.push(AuditEvent {
                actor: "c1bot".into(),
                action: format!("{role}.escalated_to_owners"),
                subject: subject.to_owned(),
                detail: json!({ "at": place, "to": self.people }),
            });
        }
        events
    }
}

/// `people` without the deactivated; if fewer than `needed` are left, the active
/// `owners` join them.
pub async fn screen(
    directory: &Directory,
    people: BTreeSet<String>,
    needed: usize,
    owners: &[String],
) -> Screened {
    let gone = deactivated(directory, people.iter()).await;
    let mut active: BTreeSet<String> = people.difference(&gone).cloned().collect();
    let skipped: Vec<String> = gone.into_iter().collect();
    let mut to_owners = false;
    if active.len() < needed && !owners.is_empty() {
        let gone_owners = deactivated(directory, owners.iter()).await;
        let before = active.len();
        active.extend(owners.iter().filter(|o| !gone_owners.contains(*o)).cloned());
        to_owners = active.len() > before;
    }
    Screened {
        people: active,
        skipped,
        to_owners,
    }
}

/// Which of `ids` Slack says are deactivated, asked concurrently (profiles are
/// cached, see [`Directory::person`]).
async fn deactivated<'a>(
    directory: &Directory,
    ids: impl Iterator<Item = &'a String>,
) -> BTreeSet<String> {
    let ids: Vec<&String> = ids.collect();
    let answers = join_all(ids.iter().map(|id| directory.person(id))).await;
    ids.into_iter()
        .zip(answers)
        .filter_map(|(id, answer)| match answer {
            Ok(person) if person.profile.deleted => Some(id.clone()),
            Ok(_) => None,
            Err(error) => {
                tracing::warn!(%error, user = %id, "cannot read a profile; counted as active");
                None
            }
        })
        .collect()
}
