//! Extends `space_read` / `space_write` grants down the space tree: a space whose
//! `inherit` is true is granted whenever its parent is, transitively. Pure.

use std::collections::{BTreeSet, HashMap};

use super::input::Space;

/// The granted ids plus every space that inherits from a granted one.
///
/// Walks up from each space through `parent` while `inherit` holds. Ids granted but
/// missing from `spaces` stay granted; a parent missing from `spaces` ends the walk;
/// a cycle in bad input ends after as many steps as there are spaces.
pub(crate) fn extend_to_inheriting_children(
    granted: &BTreeSet<String>,
    spaces: &[Space],
) -> BTreeSet<String> {
    if granted.is_empty() {
        return BTreeSet::new();
    }
    let by_id: HashMap<&str, &Space> = spaces
        .iter()
        .map(|space| (space.id.as_str(), space))
        .collect();
    let mut effective = granted.clone();
    for space in spaces {
        if reaches_a_grant(space, granted, &by_id, spaces.len()) {
            effective.insert(space.id.clone());
        }
    }
    effective
}

fn reaches_a_grant(
    space: &Space,
    granted: &BTreeSet<String>,
    by_id: &HashMap<&str, &Space>,
    max_steps: usize,
) -> bool {
    let mut current = space;
    for _ in 0..=max_steps {
        if granted.contains(&current.id) {
            return true;
        }
        if !current.inherit {
            return false;
        }
        let parent = current.parent.as_deref().and_then(|id| by_id.get(id));
        match parent {
            Some(parent) => current = parent,
            None => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(id: &str, parent: Option<&str>, inherit: bool) -> Space {
        Space {
            id: id.to_owned(),
            name: id.to_owned(),
            labels: vec![],
            parent: parent.map(str::to_owned),
            inherit,
            ancestors: vec![],
        }
    }

    fn ids(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|id| (*id).to_owned()).collect()
    }

    /// root -> prod (inherits) -> prod-eu (inherits); root -> sandbox (does not inherit);
    /// prod -> prod-secret (does not inherit) -> secret-child (inherits).
    fn tree() -> Vec<Space> {
        vec![
            space("root", None, false),
            space("prod", Some("root"), true),
            space("prod-eu", Some("prod"), true),
            space("sandbox", Some("root"), false),
            space("prod-secret", Some("prod"), false),
            space("secret-child", Some("prod-secret"), true),
        ]
    }

    #[test]
    fn grants_flow_down_through_two_levels_of_inheriting_spaces() {
        let effective = extend_to_inheriting_children(&ids(&["root"]), &tree());
        assert_eq!(effective, ids(&["root", "prod", "prod-eu"]));
    }

    #[test]
    fn a_space_that_does_not_inherit_stops_the_flow_for_its_subtree() {
        let effective = extend_to_inheriting_children(&ids(&["prod"]), &tree());
        assert_eq!(effective, ids(&["prod", "prod-eu"]));
        let effective = extend_to_inheriting_children(&ids(&["prod-secret"]), &tree());
        assert_eq!(effective, ids(&["prod-secret", "secret-child"]));
    }

    #[test]
    fn grants_never_flow_upwards() {
        let effective = extend_to_inheriting_children(&ids(&["prod-eu"]), &tree());
        assert_eq!(effective, ids(&["prod-eu"]));
    }

    #[test]
    fn unknown_granted_ids_are_kept_and_cycles_end() {
        let cyclic = vec![space("a", Some("b"), true), space("b", Some("a"), true)];
        let effective = extend_to_inheriting_children(&ids(&["elsewhere"]), &cyclic);
        assert_eq!(effective, ids(&["elsewhere"]));
    }
}
