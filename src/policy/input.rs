//! The document a policy sees as `input`: plain structs the caller fills in.
//!
//! Owns the shape of `input` (documented with a full sample in `policies/README.md`).
//! It must not look anything up: the caller (catalog, store, Slack user cache)
//! builds a [`PolicyInput`] from what it already holds, so building stays pure.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Everything one policy decision is about.
///
/// `resource`, `entitlement` and `access_request` are omitted from the JSON (not
/// `null`) when absent, so a policy can write `not input.resource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyInput {
    pub action: Action,
    pub request: RequestInfo,
    pub slack: SlackContext,
    /// The spaces the decision may touch, each with its ancestry, so policies and
    /// the inheritance of `space_read` / `space_write` can walk the tree.
    #[serde(default)]
    pub spaces: Vec<Space>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Resource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlement: Option<Entitlement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_request: Option<AccessRequest>,
}

/// The decision point asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Open the request modal or submit a request for oneself.
    Request,
    /// Approve (or deny) someone's pending request.
    Approve,
    /// See a resource or entitlement in the catalog.
    View,
    /// Start or change an access review campaign.
    ManageCampaign,
    /// Request access for someone else.
    RequestOnBehalf,
    /// End someone's active access early. c1bot lets the person with the access, the
    /// requester and the request's approvers do it; it asks policy about anyone else.
    Revoke,
    /// Certify or revoke one's own access in an access review (resource = the item's).
    ReviewOwnAccess,
    /// Be assigned items to review in an access review (asked when a campaign starts
    /// and on reassignment, with no resource).
    Review,
}

/// When the decision is asked, as Spacelift's `input.request`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestInfo {
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// The request form's extra fields by id (catalog `fields`): what is being
    /// submitted, or what the request being decided carries; `{}` when none.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Scheduled access: when the access asked for starts, nanoseconds since the Unix
    /// epoch. Absent for access from approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at_ns: Option<u64>,
}

impl RequestInfo {
    /// The request info for `now`. A clock before 1970 becomes 0 rather than an error:
    /// a policy that reads time then sees an obviously wrong value, not a crash.
    pub fn at(now: SystemTime) -> Self {
        let timestamp_ns = now
            .duration_since(UNIX_EPOCH)
            .map(|since| u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self {
            timestamp_ns,
            fields: BTreeMap::new(),
            starts_at_ns: None,
        }
    }
}

/// Where the command came from and who sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackContext {
    /// The slash command, e.g. `/c1`; empty for button clicks.
    pub command: String,
    pub channel: NamedId,
    pub team: NamedId,
    pub user: SlackUser,
}

/// An id with its human name (channel, team).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedId {
    pub id: String,
    pub name: String,
}

/// The acting user, as `users.info` reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackUser {
    pub id: String,
    pub display_name: String,
    pub real_name: String,
    pub is_admin: bool,
    pub is_owner: bool,
    pub is_primary_owner: bool,
    /// Multi-channel guest.
    pub is_restricted: bool,
    /// Single-channel guest.
    pub is_ultra_restricted: bool,
    /// From another workspace (Slack Connect).
    pub is_stranger: bool,
    /// Deactivated.
    pub deleted: bool,
    pub has_2fa: bool,
    pub tz: String,
}

/// A node of the space tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Space {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub labels: Vec<String>,
    /// `None` for the root.
    pub parent: Option<String>,
    /// Whether grants on the parent reach this space.
    pub inherit: bool,
    /// From the root down to the parent.
    #[serde(default)]
    pub ancestors: Vec<String>,
}

/// Sets every space's `ancestors` from the `parent` links, root first, so the two
/// cannot disagree. A parent missing from `spaces` is kept as the oldest ancestor
/// known; a cycle in bad data ends the chain.
pub fn fill_ancestors(spaces: &mut [Space]) {
    let parents: HashMap<String, Option<String>> = spaces
        .iter()
        .map(|space| (space.id.clone(), space.parent.clone()))
        .collect();
    for space in spaces.iter_mut() {
        let mut chain: Vec<String> = Vec::new();
        let mut next = space.parent.clone();
        while let Some(parent) = next {
            if parent == space.id || chain.contains(&parent) {
                break;
            }
            next = parents.get(&parent).cloned().flatten();
            chain.push(parent);
        }
        chain.reverse();
        space.ancestors = chain;
    }
}

/// The resource the decision is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub id: String,
    pub name: String,
    /// The id of the space it lives in.
    pub space: String,
    /// Slack user ids.
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub labels: Vec<String>,
}

/// The entitlement (role) on the resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    pub id: String,
    pub name: String,
    pub max_duration_s: u64,
    pub default_duration_s: u64,
    pub permanent_allowed: bool,
}

/// The request being decided on (absent while it is still being filled in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    /// Short id such as `REQ-1042`.
    pub id: String,
    /// Who asked.
    pub requester: String,
    /// Who gets the access (differs from `requester` for requests on behalf).
    pub beneficiary: String,
    /// `None` for permanent access.
    pub duration_s: Option<u64>,
    pub justification: String,
    /// The workflow's state name, e.g. `pending`.
    pub state: String,
    /// Index of the current approval step.
    pub step: u32,
    /// Users who already approved the current step.
    #[serde(default)]
    pub approvals: Vec<String>,
    /// Approvers the catalog names for the current step (groups resolved).
    #[serde(default)]
    pub approvers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The first ```json block of policies/README.md: the documented sample.
    fn documented_sample() -> serde_json::Value {
        let readme = include_str!("../../policies/README.md");
        let start = readme.find("```json").map(|at| at + "```json".len());
        let block = start.and_then(|start| {
            let end = readme[start..].find("```")?;
            Some(&readme[start..start + end])
        });
        let block = block.expect("policies/README.md has a ```json sample");
        serde_json::from_str(block).expect("the README sample is valid JSON")
    }

    #[test]
    fn the_documented_sample_is_exactly_what_a_policy_input_serializes_to() {
        let sample = documented_sample();
        let input: PolicyInput =
            serde_json::from_value(sample.clone()).expect("the sample is a PolicyInput");
        let serialized = serde_json::to_value(&input).expect("serializes");
        assert_eq!(serialized, sample);
    }

    #[test]
    fn absent_optional_parts_are_omitted_not_null() {
        let mut input: PolicyInput =
            serde_json::from_value(documented_sample()).expect("the sample is a PolicyInput");
        input.resource = None;
        input.entitlement = None;
        input.access_request = None;
        let serialized = serde_json::to_value(&input).expect("serializes");
        let object = serialized.as_object().expect("an object");
        for key in ["resource", "entitlement", "access_request"] {
            assert!(!object.contains_key(key), "{key} should be omitted");
        }
        assert!(object.contains_key("spaces"));
    }

    #[test]
    fn actions_serialize_in_snake_case() {
        let names: Vec<String> = [
            Action::Request,
            Action::Approve,
            Action::View,
            Action::ManageCampaign,
            Action::RequestOnBehalf,
            Action::Revoke,
            Action::ReviewOwnAccess,
        ]
        .iter()
        .map(|action| serde_json::to_string(action).expect("serializes"))
        .collect();
        assert_eq!(
            names,
            [
                "\"request\"",
                "\"approve\"",
                "\"view\"",
                "\"manage_campaign\"",
                "\"request_on_behalf\"",
                "\"revoke\"",
                "\"review_own_access\""
            ]
        );
    }

    #[test]
    fn ancestors_are_filled_from_parent_links_root_first() {
        let node = |id: &str, parent: Option<&str>| Space {
            id: id.to_owned(),
            name: id.to_owned(),
            labels: vec![],
            parent: parent.map(str::to_owned),
            inherit: true,
            ancestors: vec!["stale".to_owned()],
        };
        let mut spaces = vec![
            node("prod-eu", Some("prod")),
            node("prod", Some("root")),
            node("root", None),
            node("orphan", Some("gone")),
            node("a", Some("b")),
            node("b", Some("a")),
        ];
        fill_ancestors(&mut spaces);
        let ancestors: Vec<Vec<&str>> = spaces
            .iter()
            .map(|space| space.ancestors.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            ancestors,
            [
                vec!["root", "prod"],
                vec!["root"],
                vec![],
                vec!["gone"],
                vec!["b"],
                vec!["a"],
            ]
        );
    }

    #[test]
    fn request_time_is_nanoseconds_since_the_epoch() {
        let now = UNIX_EPOCH + Duration::from_millis(1_763_630_043_000);
        assert_eq!(RequestInfo::at(now).timestamp_ns, 1_763_630_043_000_000_000);
        let before_epoch = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(RequestInfo::at(before_epoch).timestamp_ns, 0);
    }
}
