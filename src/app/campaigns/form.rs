//! Reading the `/c1 campaign` modal's answers into a [`Draft`], or one sentence per
//! field to fix. Pure: the catalog is only read to drop choices it does not know
//! (a stale or forged option value), nothing is called.

use std::collections::BTreeMap;

use crate::campaign::{ReviewerRule, Scope};
use crate::catalog::Catalog;
use crate::slack::view_input::ViewInput;

/// The due-date choices of the modal, in days.
pub(super) const DUE_DAYS: [u32; 4] = [3, 7, 14, 30];
/// Separates resource and entitlement ids in an entitlement option's value (ids are
/// lowercase letters, digits, `-` and `_`).
pub(super) const PAIR: char = ':';
/// The reviewer-groups select sits in a list item without a block id of its own.
const GROUPS_ACTION: &str = "reviewer_groups_select";

/// What the modal asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Draft {
    pub name: String,
    pub scope: Scope,
    pub reviewers: ReviewerRule,
    /// Other owners (the creator owns it anyway).
    pub owners: Vec<String>,
    pub due_days: u32,
}

/// Field errors by block id, as `response_action: errors` wants them.
pub(super) type FieldErrors = BTreeMap<&'static str, String>;

/// Reads the submitted campaign modal.
pub(super) fn read(catalog: &Catalog, input: &ViewInput) -> Result<Draft, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = input.words("name").unwrap_or_default();
    if name.is_empty() {
        errors.insert("name", "Give the review a name.".to_owned());
    }
    let chosen = |block: &str| input.many(block);
    let scope = Scope {
        resources: chosen("resources")
            .into_iter()
            .filter(|id| catalog.resource(id).is_some())
            .collect(),
        spaces: chosen("spaces")
            .into_iter()
            .filter(|id| catalog.space(id).is_some())
            .collect(),
        entitlements: chosen("entitlements")
            .into_iter()
            .filter_map(|pair| {
                let (resource, entitlement) = pair.split_once(PAIR)?;
                let known = catalog
                    .resource(resource)?
                    .entitlements
                    .iter()
                    .any(|e| e.id.as_str() == entitlement);
                known.then(|| (resource.to_owned(), entitlement.to_owned()))
            })
            .collect(),
    };
    if scope.resources.is_empty() && scope.spaces.is_empty() && scope.entitlements.is_empty() {
        errors.insert(
            "resources",
            "Choose at least one resource, space or entitlement to review.".to_owned(),
        );
    }
    let people = input.many("reviewers");
    let groups = groups(input);
    let reviewers = match (people.is_empty(), groups.is_empty()) {
        (true, true) => ReviewerRule::ResourceOwners,
        (false, true) => ReviewerRule::Users(people),
        (true, false) => ReviewerRule::Groups(groups),
        (false, false) => {
            errors.insert(
                "reviewers",
                "Choose reviewers or reviewer groups, not both.".to_owned(),
            );
            ReviewerRule::ResourceOwners
        }
    };
    let due_days = input
        .text("due")
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|d| DUE_DAYS.contains(d));
    if due_days.is_none() {
        errors.insert("due", "Choose when the reviews are due.".to_owned());
    }
    match (errors.is_empty(), due_days) {
        (true, Some(due_days)) => Ok(Draft {
            name,
            scope,
            reviewers,
            owners: input.many("owners"),
            due_days,
        }),
        _ => Err(errors),
    }
}

/// User group ids (`S…`) chosen in the reviewer-groups select, wherever Slack put it.
fn groups(input: &ViewInput) -> Vec<String> {
    input
        .many_of_element(GROUPS_ACTION)
        .into_iter()
        .filter(|id| id.starts_with('S') && id.chars().all(|c| c.is_ascii_alphanumeric()))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    fn catalog() -> Catalog {
        Catalog::load_file(std::path::Path::new("catalog.example.toml")).expect("example catalog")
    }

    /// A submission: the name, due in 7 days, plus `extra` blocks.
    fn state(extra: Value) -> ViewInput {
        let mut values = json!({
            "name": { "name_input": { "type": "plain_text_input", "value": " Q4 " } },
            "due": { "due_select": { "type": "static_select", "selected_option": { "value": "7" } } },
        });
        if let (Some(values), Some(extra)) = (values.as_object_mut(), extra.as_object()) {
            values.extend(extra.clone());
        }
        ViewInput::decode(&json!({ "state": { "values": values } }))
    }

    fn options(action: &str, values: &[&str]) -> Value {
        let picked: Vec<Value> = values.iter().map(|v| json!({ "value": v })).collect();
        json!({ action: { "type": "multi_static_select", "selected_options": picked } })
    }

    fn some_resource(catalog: &Catalog) -> (String, String, String) {
        let r = catalog.resources().first().expect("a resource");
        let e = r.entitlements.first().expect("an entitlement");
        (
            r.id.as_str().to_owned(),
            e.id.as_str().to_owned(),
            r.space.as_str().to_owned(),
        )
    }

    #[test]
    fn spaces_resources_and_entitlements_make_one_scope_and_unknown_ones_are_dropped() {
        let catalog = catalog();
        let (resource, entitlement, space) = some_resource(&catalog);
        let pair = format!("{resource}:{entitlement}");
        let draft = read(
            &catalog,
            &state(json!({
                "resources": options("resources_select", &[&resource, "no-such-resource"]),
                "spaces": options("spaces_select", &[&space, "nowhere"]),
                "entitlements": options("entitlements_select", &[&pair, "x:y", "garbage"]),
            })),
        )
        .expect("a draft");
        assert_eq!(draft.name, "Q4");
        assert_eq!(draft.scope.resources, std::slice::from_ref(&resource));
        assert_eq!(draft.scope.spaces, [space]);
        assert_eq!(draft.scope.entitlements, [(resource, entitlement)]);
        assert_eq!(draft.reviewers, ReviewerRule::ResourceOwners);
        assert_eq!(draft.due_days, 7);
    }

    #[test]
    fn nothing_in_scope_is_answered_on_the_resources_field() {
        let errors = read(
            &catalog(),
            &state(json!({ "resources": options("resources_select", &["no-such-resource"]) })),
        )
        .expect_err("refused");
        assert_eq!(
            errors["resources"],
            "Choose at least one resource, space or entitlement to review."
        );
    }

    #[test]
    fn reviewer_groups_are_read_from_their_block_whatever_its_id() {
        let catalog = catalog();
        let (resource, _, _) = some_resource(&catalog);
        let draft = read(
            &catalog,
            &state(json!({
                "resources": options("resources_select", &[&resource]),
                "Xy7": options(GROUPS_ACTION, &["S0SECOPS01", "<!everyone>"]),
            })),
        )
        .expect("a draft");
        assert_eq!(
            draft.reviewers,
            ReviewerRule::Groups(vec!["S0SECOPS01".into()])
        );
    }

    #[test]
    fn people_and_groups_together_are_refused() {
        let catalog = catalog();
        let (resource, _, _) = some_resource(&catalog);
        let errors = read(
            &catalog,
            &state(json!({
                "resources": options("resources_select", &[&resource]),
                "reviewers": { "reviewers_select": { "type": "multi_users_select", "selected_users": ["U0BOB00001"] } },
                "Xy7": options(GROUPS_ACTION, &["S0SECOPS01"]),
            })),
        )
        .expect_err("refused");
        assert_eq!(
            errors["reviewers"],
            "Choose reviewers or reviewer groups, not both."
        );
    }
}
