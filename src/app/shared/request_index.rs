//! Where an access request is found without scanning the store: its secondary-index
//! entries (maintained by the store in the same commit as the request) and the reads
//! that go through them. Pure apart from [`for_person`] and [`active_on`].
//!
//! Entries: the people it is about (`person:`), the approvers its current step waits
//! on (`approver:`), the workers of its open task (`worker:`), its resource while a
//! revoke is open (`revoking:`) or access is active (`active:`); counted by request
//! state (`state:`), grant state (`grant:`) and open manual task (`task:`), which
//! `/metrics` reads without a scan; by the day they closed (`closed:`), which
//! retention reads. Bump [`INDEX_VERSION`] when the entries change:
//! every request is re-indexed once at start-up.

use std::collections::BTreeSet;

use crate::app::shared::services::Services;
use crate::app::shared::stored::request::{self, RequestV2};
use crate::store::{IndexKey, Record, Table, Versioned};
use crate::workflow::grant::{GrantState, TaskKind};
use crate::workflow::request::AccessRequest;
use crate::workflow::retention;

/// The version of [`entries`]; a change re-indexes every request at start-up.
pub const INDEX_VERSION: u64 = 2;

/// Every request with a revoke task open (the overdue gauge reads these).
pub const REVOKE_OPEN: &str = "revoke-open";

/// Version 1 was the domain type's own serde form; version 2 is
/// [`RequestV2`], compact and independent of the domain type.
impl Record for AccessRequest {
    const VERSION: u32 = 2;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&RequestV2::from(self))
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<RequestV2>(data).map(AccessRequest::from)
    }

    fn upgrade(from: u32, data: serde_json::Value) -> Result<serde_json::Value, String> {
        match from {
            1 => request::upgrade_v1(data),
            _ => Err(format!("no migration from request version {from}")),
        }
    }

    fn index(&self) -> Vec<IndexKey> {
        entries(self)
    }
}

/// The index entries of `request`.
pub fn entries(request: &AccessRequest) -> Vec<IndexKey> {
    let mut lookups: BTreeSet<String> = BTreeSet::new();
    lookups.insert(format!("person:{}", request.requester));
    lookups.insert(format!("person:{}", request.beneficiary));
    if request.state.is_open() {
        if let Some((_, step)) = request.current_step() {
            lookups.extend(
                step.approvers
                    .iter()
                    .filter(|a| !step.approvals.contains(*a))
                    .map(|a| format!("approver:{a}")),
            );
        }
    }
    let mut counted = vec![format!("state:{}", request.state.label())];
    if let Some(grant) = &request.grant {
        counted.push(format!("grant:{}", grant.state.label()));
        if let Some(task) = grant.open_task() {
            lookups.extend(task.workers().iter().map(|w| format!("worker:{w}")));
            if task.is_manual() {
                counted.push(format!("task:{}", task.kind.as_str()));
            }
            if task.kind == TaskKind::Revoke {
                lookups.insert(format!("revoking:{}", request.resource));
                lookups.insert(REVOKE_OPEN.to_owned());
            }
        }
        if grant.state == GrantState::Active {
            lookups.insert(format!("active:{}", request.resource));
        }
    }
    if let Some(at) = retention::closed_at(request) {
        lookups.insert(closed_entry(retention::closed_day(at)));
    }
    lookups
        .into_iter()
        .map(IndexKey::lookup)
        .chain(counted.into_iter().map(IndexKey::counted))
        .collect()
}

/// The entry of requests that closed on `day` (retention reads these).
pub fn closed_entry(day: chrono::NaiveDate) -> String {
    format!("closed:{day}")
}

/// Every request that concerns `user` now: theirs, waiting on them, their tasks,
/// and open revokes on the resources they own. Costs what they have.
pub async fn for_person(services: &Services, user: &str) -> Vec<AccessRequest> {
    let mut names = vec![
        format!("person:{user}"),
        format!("approver:{user}"),
        format!("worker:{user}"),
    ];
    names.extend(
        services
            .catalog
            .resources()
            .iter()
            .filter(|r| r.owners.iter().any(|o| o.as_str() == user))
            .map(|r| format!("revoking:{}", r.id.as_str())),
    );
    read(services, &names).await
}

/// The requests whose access is active on `resource`.
pub async fn active_on(services: &Services, resource: &str) -> Vec<AccessRequest> {
    read(services, &[format!("active:{resource}")]).await
}

/// The requests indexed under any of `names`, each once, in key order.
async fn read(services: &Services, names: &[String]) -> Vec<AccessRequest> {
    let found = match services
        .store
        .index_read_any::<AccessRequest>(Table::Requests, names)
        .await
    {
        Ok(found) => found,
        Err(error) => {
            tracing::error!(%error, ?names, "cannot read a request index");
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(found.len());
    for (key, record) in found {
        match record {
            Ok(Versioned { data, .. }) => out.push(data),
            Err(error) => tracing::error!(%error, request_id = key, "cannot read a request"),
        }
    }
    // REQ-1002 after REQ-999: by number, not by text.
    out.sort_by_key(|r| r.id.trim_start_matches("REQ-").parse::<u64>().unwrap_or(0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::grant::{self, GrantAction, Timing, Via};
    use crate::workflow::request::{AccessDuration, Quorum, State, Step};
    use chrono::{TimeZone, Utc};
    use std::time::Duration;

    fn at(hours: i64) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0)
            .single()
            .expect("time")
            + chrono::Duration::hours(hours)
    }

    fn timing() -> Timing {
        Timing {
            remind_before_expiry: Duration::from_secs(900),
            revoke_overdue_after: Duration::from_secs(3600),
        }
    }

    /// bob asks for frank; carol and dave approve (both needed).
    fn pending() -> AccessRequest {
        AccessRequest {
            id: "REQ-7".into(),
            requester: "bob".into(),
            beneficiary: "frank".into(),
            resource: "aws-prod".into(),
            entitlement: "readonly".into(),
            duration: AccessDuration::For(Duration::from_secs(4 * 3600)),
            justification: "why".into(),
            created_at: at(0),
            decide_by: at(24),
            steps: vec![Step::new(
                "lead",
                ["carol".to_owned(), "dave".to_owned()],
                Quorum::All,
            )],
            state: State::Pending { step: 0 },
            decisions: Vec::new(),
            grant: None,
            extends: None,
            fields: Default::default(),
            starts_at: None,
            emergency: None,
        }
    }

    fn names(request: &AccessRequest) -> Vec<String> {
        entries(request).into_iter().map(|e| e.stored()).collect()
    }

    #[test]
    fn a_pending_request_is_found_by_its_people_and_the_approvers_it_waits_on() {
        let mut request = pending();
        request.steps[0].approvals.insert("carol".into());
        let names = names(&request);
        for expected in [
            "person:bob",
            "person:frank",
            "approver:dave",
            "#state:pending",
        ] {
            assert!(
                names.contains(&expected.to_owned()),
                "{expected} in {names:?}"
            );
        }
        assert!(
            !names.contains(&"approver:carol".to_owned()),
            "carol has approved"
        );
    }

    #[test]
    fn access_is_indexed_while_active_and_a_revoke_while_it_is_open() {
        let mut approved = pending();
        approved.state = State::Approved { auto: false };
        let manual = Via::Manual {
            assignees: ["erin".to_owned()].into(),
            after_failure: None,
        };
        let provisioning = grant::apply(
            &approved,
            GrantAction::Start {
                via: manual.clone(),
            },
            at(0),
            timing(),
        )
        .expect("starts")
        .request;
        let names_now = names(&provisioning);
        assert!(names_now.contains(&"worker:erin".to_owned()));
        assert!(names_now.contains(&"#task:grant".to_owned()));
        let active = grant::apply(
            &provisioning,
            GrantAction::Complete {
                kind: crate::workflow::grant::TaskKind::Grant,
                by: "erin".into(),
            },
            at(0),
            timing(),
        )
        .expect("completes")
        .request;
        let names_now = names(&active);
        assert!(
            names_now.contains(&"active:aws-prod".to_owned()),
            "{names_now:?}"
        );
        assert!(names_now.contains(&"#grant:active".to_owned()));
        assert!(
            !names_now.iter().any(|n| n.starts_with("worker:")),
            "no open task"
        );
        let revoking = grant::apply(
            &active,
            GrantAction::Expire { via: manual },
            at(5),
            timing(),
        )
        .expect("expires")
        .request;
        let names_now = names(&revoking);
        for expected in [
            "revoking:aws-prod",
            REVOKE_OPEN,
            "worker:erin",
            "#task:revoke",
            "#grant:deprovisioning",
        ] {
            assert!(
                names_now.contains(&expected.to_owned()),
                "{expected} in {names_now:?}"
            );
        }
        assert!(!names_now.contains(&"active:aws-prod".to_owned()));
    }
}
