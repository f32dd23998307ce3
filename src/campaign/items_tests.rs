use super::*;

fn grant(request_id: &str, beneficiary: &str, resource: &str, entitlement: &str) -> ActiveGrant {
    ActiveGrant {
        request_id: request_id.into(),
        beneficiary: beneficiary.into(),
        resource: resource.into(),
        entitlement: entitlement.into(),
    }
}

fn member(beneficiary: &str, resource: &str, entitlement: &str) -> StandingMember {
    StandingMember {
        beneficiary: beneficiary.into(),
        resource: resource.into(),
        entitlement: entitlement.into(),
    }
}

fn people(ids: &[&str]) -> Vec<UserId> {
    ids.iter().map(|p| p.to_string()).collect()
}

/// aws-prod (space prod, owned by frank then carol), orders-db (prod, carol),
/// dev-sandbox (dev, nobody).
fn sources() -> Sources {
    Sources {
        grants: vec![
            grant("REQ-2", "alice", "orders-db", "readonly"),
            grant("REQ-1", "alice", "aws-prod", "readonly"),
            grant("REQ-3", "frank", "aws-prod", "admin"),
            grant("REQ-4", "bob", "dev-sandbox", "readonly"),
        ],
        standing: vec![member("erin", "aws-prod", "readonly")],
        space_of: [
            ("aws-prod", "prod"),
            ("orders-db", "prod"),
            ("dev-sandbox", "dev"),
        ]
        .into_iter()
        .map(|(r, s)| (r.to_owned(), s.to_owned()))
        .collect(),
        owners_of: [
            ("aws-prod", people(&["frank", "carol"])),
            ("orders-db", people(&["carol"])),
        ]
        .into_iter()
        .map(|(r, o)| (r.to_owned(), o))
        .collect(),
    }
}

fn scope_spaces(spaces: &[&str]) -> Scope {
    Scope {
        spaces: people(spaces),
        ..Scope::default()
    }
}

/// (id, beneficiary, resource, entitlement, reviewer) of each item.
fn summary(items: &[Item]) -> Vec<(u32, String, String, String, Option<String>)> {
    items
        .iter()
        .map(|i| {
            (
                i.id,
                i.beneficiary.clone(),
                i.resource.clone(),
                i.entitlement.clone(),
                i.reviewer.clone(),
            )
        })
        .collect()
}

fn row(
    id: u32,
    who: &str,
    resource: &str,
    entitlement: &str,
    reviewer: Option<&str>,
) -> (u32, String, String, String, Option<String>) {
    (
        id,
        who.into(),
        resource.into(),
        entitlement.into(),
        reviewer.map(str::to_owned),
    )
}

#[test]
fn a_space_scope_takes_grants_and_standing_members_of_its_resources_sorted_and_numbered() {
    let items = collect(
        &scope_spaces(&["prod"]),
        &Reviewers::ResourceOwners,
        &sources(),
    );
    assert_eq!(
        summary(&items),
        [
            row(1, "frank", "aws-prod", "admin", Some("carol")),
            row(2, "alice", "aws-prod", "readonly", Some("frank")),
            row(3, "erin", "aws-prod", "readonly", Some("frank")),
            row(4, "alice", "orders-db", "readonly", Some("carol")),
        ]
    );
    assert_eq!(
        items[1].source,
        Source::Grant {
            request_id: "REQ-1".into()
        }
    );
    assert_eq!(items[2].source, Source::Standing);
    assert!(items.iter().all(|i| i.decision.is_none()));
}

#[test]
fn the_space_must_match_exactly_not_through_an_ancestor() {
    let items = collect(
        &scope_spaces(&["root"]),
        &Reviewers::ResourceOwners,
        &sources(),
    );
    assert!(items.is_empty());
}

#[test]
fn a_resource_or_an_entitlement_scope_takes_only_those() {
    let by_resource = Scope {
        resources: people(&["orders-db"]),
        ..Scope::default()
    };
    let items = collect(&by_resource, &Reviewers::ResourceOwners, &sources());
    assert_eq!(
        summary(&items),
        [row(1, "alice", "orders-db", "readonly", Some("carol"))]
    );

    let by_entitlement = Scope {
        entitlements: vec![("aws-prod".into(), "readonly".into())],
        ..Scope::default()
    };
    let items = collect(&by_entitlement, &Reviewers::ResourceOwners, &sources());
    let who: Vec<&str> = items.iter().map(|i| i.beneficiary.as_str()).collect();
    assert_eq!(who, ["alice", "erin"]);
}

#[test]
fn matching_any_part_of_the_scope_is_enough_and_counts_once() {
    let scope = Scope {
        spaces: people(&["dev"]),
        resources: people(&["dev-sandbox"]),
        entitlements: vec![("orders-db".into(), "readonly".into())],
    };
    let items = collect(&scope, &Reviewers::ResourceOwners, &sources());
    assert_eq!(
        summary(&items),
        [
            row(1, "bob", "dev-sandbox", "readonly", None),
            row(2, "alice", "orders-db", "readonly", Some("carol")),
        ]
    );
}

#[test]
fn a_resource_without_owners_leaves_its_item_unassigned_and_reported() {
    let items = collect(
        &scope_spaces(&["dev", "prod"]),
        &Reviewers::ResourceOwners,
        &sources(),
    );
    // aws-prod's three items sort first; dev-sandbox is the fourth.
    assert_eq!(unassigned(&items), [4]);
    assert_eq!(items[3].resource, "dev-sandbox");
}

#[test]
fn an_owner_is_not_given_their_own_access_while_another_owner_exists() {
    // frank owns aws-prod first, so his own admin grant goes to carol.
    let items = collect(
        &Scope {
            entitlements: vec![("aws-prod".into(), "admin".into())],
            ..Scope::default()
        },
        &Reviewers::ResourceOwners,
        &sources(),
    );
    assert_eq!(items[0].reviewer.as_deref(), Some("carol"));
    assert!(!items[0].is_self_review());
}

#[test]
fn the_only_owner_reviews_their_own_access_flagged_as_self_review() {
    let mut src = sources();
    src.grants
        .push(grant("REQ-9", "carol", "orders-db", "admin"));
    let items = collect(
        &Scope {
            entitlements: vec![("orders-db".into(), "admin".into())],
            ..Scope::default()
        },
        &Reviewers::ResourceOwners,
        &src,
    );
    assert_eq!(items[0].reviewer.as_deref(), Some("carol"));
    assert!(items[0].is_self_review());
}

#[test]
fn named_reviewers_take_turns_skipping_the_beneficiary() {
    let items = collect(
        &scope_spaces(&["prod", "dev"]),
        &Reviewers::InTurn(people(&["alice", "bob", "grace"])),
        &sources(),
    );
    // Sorted: frank aws admin, alice aws ro, erin aws ro, bob sandbox, alice orders.
    assert_eq!(
        summary(&items),
        [
            row(1, "frank", "aws-prod", "admin", Some("alice")),
            row(2, "alice", "aws-prod", "readonly", Some("bob")),
            row(3, "erin", "aws-prod", "readonly", Some("grace")),
            row(4, "bob", "dev-sandbox", "readonly", Some("alice")),
            row(5, "alice", "orders-db", "readonly", Some("bob")),
        ]
    );
    assert!(items.iter().all(|i| !i.is_self_review()));
}

#[test]
fn a_sole_named_reviewer_is_assigned_their_own_access_as_self_review() {
    let items = collect(
        &Scope {
            resources: people(&["orders-db"]),
            ..Scope::default()
        },
        &Reviewers::InTurn(people(&["alice"])),
        &sources(),
    );
    assert_eq!(items[0].reviewer.as_deref(), Some("alice"));
    assert!(items[0].is_self_review());
}

#[test]
fn no_named_reviewers_leave_every_item_unassigned() {
    let items = collect(
        &scope_spaces(&["prod"]),
        &Reviewers::InTurn(Vec::new()),
        &sources(),
    );
    assert_eq!(unassigned(&items), [1, 2, 3, 4]);
}

#[test]
fn input_order_and_repeats_do_not_change_the_result() {
    let mut shuffled = sources();
    shuffled.grants.reverse();
    shuffled
        .grants
        .push(grant("REQ-1", "alice", "aws-prod", "readonly"));
    shuffled
        .standing
        .push(member("erin", "aws-prod", "readonly"));
    let reviewers = Reviewers::InTurn(people(&["bob", "grace"]));
    assert_eq!(
        collect(&scope_spaces(&["prod"]), &reviewers, &shuffled),
        collect(&scope_spaces(&["prod"]), &reviewers, &sources())
    );
    assert_eq!(
        collect(&scope_spaces(&["prod"]), &reviewers, &shuffled).len(),
        4
    );
}

#[test]
fn a_grant_and_a_standing_membership_for_the_same_access_are_two_items() {
    let mut src = sources();
    src.standing.push(member("alice", "orders-db", "readonly"));
    let items = collect(
        &Scope {
            resources: people(&["orders-db"]),
            ..Scope::default()
        },
        &Reviewers::ResourceOwners,
        &src,
    );
    let kinds: Vec<&Source> = items.iter().map(|i| &i.source).collect();
    assert_eq!(
        kinds,
        [
            &Source::Grant {
                request_id: "REQ-2".into()
            },
            &Source::Standing
        ]
    );
}

#[test]
fn groups_resolve_to_their_members_once_each_in_order() {
    let members: BTreeMap<String, Vec<UserId>> = [
        ("S0SECOPS01".to_owned(), people(&["grace", "bob"])),
        ("S0LEADS001".to_owned(), people(&["bob", "frank"])),
    ]
    .into_iter()
    .collect();
    let rule = ReviewerRule::Groups(people(&["S0SECOPS01", "S0UNKNOWN1", "S0LEADS001"]));
    assert_eq!(
        Reviewers::resolve(&rule, &members),
        Reviewers::InTurn(people(&["grace", "bob", "frank"]))
    );
    assert_eq!(
        Reviewers::resolve(
            &ReviewerRule::Users(people(&["bob", "bob", "ann"])),
            &members
        ),
        Reviewers::InTurn(people(&["bob", "ann"]))
    );
    assert_eq!(
        Reviewers::resolve(&ReviewerRule::ResourceOwners, &members),
        Reviewers::ResourceOwners
    );
}
