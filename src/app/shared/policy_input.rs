//! Building the policy `input` from what c1bot knows: the person (Slack profile), the
//! catalog, and the request. Pure.

use std::time::SystemTime;

use crate::app::shared::directory::Person;
use crate::catalog::{Catalog, Entitlement, Resource};
use crate::policy::{self, Action, NamedId, PolicyInput, RequestInfo, SlackContext};
use crate::workflow::request::{AccessDuration, AccessRequest};

/// Where the person is acting from.
#[derive(Debug, Clone)]
pub struct Origin {
    pub command: String,
    pub channel: NamedId,
    pub team: NamedId,
}

pub fn build(
    action: Action,
    person: &Person,
    origin: &Origin,
    catalog: &Catalog,
    target: Option<(&Resource, &Entitlement)>,
    request: Option<&AccessRequest>,
    now: SystemTime,
) -> PolicyInput {
    let mut spaces: Vec<policy::Space> = catalog
        .spaces_for_policy()
        .into_iter()
        .map(|s| policy::Space {
            id: s.id,
            name: s.name,
            labels: s.labels,
            parent: s.parent,
            inherit: s.inherit,
            ancestors: s.ancestors,
        })
        .collect();
    // One order for policies to rely on, whatever the catalog keeps: root first.
    policy::fill_ancestors(&mut spaces);
    PolicyInput {
        action,
        request: RequestInfo {
            fields: request.map(|r| r.fields.clone()).unwrap_or_default(),
            starts_at_ns: request.and_then(|r| starts_at_ns(r.starts_at)),
            ..RequestInfo::at(now)
        },
        slack: SlackContext {
            command: origin.command.clone(),
            channel: origin.channel.clone(),
            team: origin.team.clone(),
            user: person.profile.clone(),
        },
        spaces,
        resource: target.map(|(r, _)| resource(r)),
        entitlement: target.map(|(_, e)| entitlement(e)),
        access_request: request.map(access_request),
    }
}

/// A scheduled start as policy sees it (`input.request.starts_at_ns`).
pub fn starts_at_ns(start: Option<chrono::DateTime<chrono::Utc>>) -> Option<u64> {
    start
        .and_then(|s| s.timestamp_nanos_opt())
        .and_then(|ns| u64::try_from(ns).ok())
}

fn resource(r: &Resource) -> policy::Resource {
    policy::Resource {
        id: r.id.as_str().to_owned(),
        name: r.name.clone(),
        space: r.space.as_str().to_owned(),
        owners: r.owners.iter().map(|o| o.as_str().to_owned()).collect(),
        labels: r.labels.clone(),
    }
}

fn entitlement(e: &Entitlement) -> policy::Entitlement {
    policy::Entitlement {
        id: e.id.as_str().to_owned(),
        name: e.name.clone(),
        max_duration_s: e.max_duration.as_secs().unwrap_or(0),
        default_duration_s: e.default_duration.as_secs(),
        permanent_allowed: e.permanent_allowed,
    }
}

fn access_request(r: &AccessRequest) -> policy::AccessRequest {
    let (state, step) = match &r.state {
        crate::workflow::request::State::Pending { step } => ("pending".to_owned(), *step as u32),
        other => (other.label().to_owned(), 0),
    };
    policy::AccessRequest {
        id: r.id.clone(),
        requester: r.requester.clone(),
        beneficiary: r.beneficiary.clone(),
        duration_s: match r.duration {
            AccessDuration::For(d) => Some(d.as_secs()),
            AccessDuration::Permanent => None,
        },
        justification: r.justification.clone(),
        state,
        step,
        approvals: r
            .current_step()
            .map(|(_, s)| s.approvals.iter().cloned().collect())
            .unwrap_or_default(),
        approvers: r
            .current_step()
            .map(|(_, s)| s.approvers.iter().cloned().collect())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Source;

    fn catalog() -> Catalog {
        let text = std::fs::read_to_string("catalog.example.toml").expect("example catalog");
        Catalog::from_toml(Source {
            name: "catalog.example.toml",
            text: &text,
        })
        .expect("valid")
    }

    fn person() -> Person {
        Person::from_slack(&serde_json::json!({"id": "U0ALICE001", "name": "alice", "is_restricted": true, "tz": "Europe/Berlin"}))
            .expect("person")
    }

    fn origin() -> Origin {
        Origin {
            command: "/c1".into(),
            channel: NamedId {
                id: "C0GENERAL1".into(),
                name: "general".into(),
            },
            team: NamedId {
                id: "T0C1TEAM01".into(),
                name: "Acme".into(),
            },
        }
    }

    #[test]
    fn the_input_carries_the_person_the_spaces_and_the_target() {
        let catalog = catalog();
        let resource = catalog.resource("aws-prod").expect("aws-prod");
        let ent = &resource.entitlements[0];
        let input = build(
            Action::Request,
            &person(),
            &origin(),
            &catalog,
            Some((resource, ent)),
            None,
            SystemTime::UNIX_EPOCH,
        );
        let json = serde_json::to_value(&input).expect("serializable");
        assert_eq!(json["action"], "request");
        assert_eq!(json["slack"]["user"]["is_restricted"], true);
        assert_eq!(json["resource"]["space"], "prod");
        assert_eq!(
            json["spaces"].as_array().map(Vec::len),
            Some(catalog.spaces().len())
        );
        let prod = json["spaces"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["id"] == "prod"))
            .expect("prod space");
        assert_eq!(prod["ancestors"], serde_json::json!(["root"]));
        assert!(json.get("access_request").is_none());
        assert!(
            json["request"].get("starts_at_ns").is_none(),
            "no start, no field: {json}"
        );
    }

    #[test]
    fn a_scheduled_request_shows_policy_its_start() {
        use crate::workflow::request::{AccessDuration, State};
        let start = chrono::DateTime::from_timestamp(1_796_630_400, 0).expect("a time");
        let request = AccessRequest {
            id: "REQ-1".into(),
            requester: "U0ALICE001".into(),
            beneficiary: "U0ALICE001".into(),
            resource: "aws-prod".into(),
            entitlement: "readonly".into(),
            duration: AccessDuration::For(std::time::Duration::from_secs(3600)),
            justification: "j".into(),
            created_at: start,
            decide_by: start,
            steps: Vec::new(),
            state: State::Pending { step: 0 },
            decisions: Vec::new(),
            grant: None,
            extends: None,
            fields: Default::default(),
            starts_at: Some(start),
            emergency: None,
        };
        let catalog = catalog();
        let input = build(
            Action::Approve,
            &person(),
            &origin(),
            &catalog,
            None,
            Some(&request),
            SystemTime::UNIX_EPOCH,
        );
        let json = serde_json::to_value(&input).expect("serializable");
        assert_eq!(
            json["request"]["starts_at_ns"],
            serde_json::json!(1_796_630_400_000_000_000_u64)
        );
    }
}
