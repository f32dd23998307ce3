//! The README's scope tables, generated from [`super::ALL`] so the documentation
//! cannot drift from what the code asks for (a test compares them with README.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Feature, ALL};
use crate::slack::web::methods::TokenKind;

/// Where the generated text sits in README.md.
pub const BEGIN: &str =
    "<!-- scope tables: generated from src/features (features::readme tests it) -->";
pub const END: &str = "<!-- end of scope tables -->";

fn feature_label(feature: &Feature) -> String {
    match feature.key {
        Some(key) => format!("{} (`{key}`)", feature.name),
        None if feature.id == super::FeatureId::Core => format!("{} (always on)", feature.name),
        None => feature.name.to_owned(),
    }
}

/// The two tables: by scope (who needs it, for which calls) and by feature.
pub fn tables() -> String {
    // scope -> (feature labels, uses)
    let mut by_scope: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for feature in ALL {
        for (scope, why) in feature.scopes {
            let row = by_scope.entry(scope).or_default();
            push_unique(&mut row.0, feature_label(feature));
            push_unique(&mut row.1, (*why).to_owned());
        }
        for method in feature.methods.iter().filter(|m| m.token == TokenKind::Bot) {
            for scope in method.scopes {
                let row = by_scope.entry(scope).or_default();
                push_unique(&mut row.0, feature_label(feature));
                push_unique(&mut row.1, format!("`{}`", method.name));
            }
        }
    }
    let mut out = String::new();
    out.push_str("| scope | needed by | for |\n|---|---|---|\n");
    for (scope, (features, uses)) in &by_scope {
        let _ = writeln!(
            out,
            "| `{scope}` | {} | {} |",
            features.join("; "),
            uses.join(", ")
        );
    }
    out.push_str("\n| feature | scopes | events | what the scopes are for |\n|---|---|---|---|\n");
    for feature in ALL {
        let scopes: Vec<String> = feature
            .needed_scopes()
            .into_iter()
            .map(|s| format!("`{s}`"))
            .collect();
        let events: Vec<String> = feature.events.iter().map(|e| format!("`{e}`")).collect();
        let or_none = |list: Vec<String>| {
            if list.is_empty() {
                "—".to_owned()
            } else {
                list.join(", ")
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            feature_label(feature),
            or_none(scopes),
            or_none(events),
            feature.purpose
        );
    }
    out
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// The generated text between the markers of `readme`, if both are there.
pub fn section(readme: &str) -> Option<&str> {
    let start = readme.find(BEGIN)? + BEGIN.len();
    let end = readme[start..].find(END)? + start;
    Some(readme[start..end].trim_matches('\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_scope_tables_are_the_generated_ones() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
            .expect("README.md");
        let expected = tables();
        assert_eq!(
            section(&readme).map(str::to_owned),
            Some(expected.trim_matches('\n').to_owned()),
            "README.md's scope tables differ from the registry; put this between the markers:\n{BEGIN}\n{expected}{END}"
        );
    }

    #[test]
    fn every_scope_row_names_a_feature_and_a_use() {
        let tables = tables();
        assert!(
            tables.contains("| `usergroups:read` | User groups"),
            "{tables}"
        );
        assert!(tables.contains("`usergroups.list`"), "{tables}");
        assert!(
            tables.contains(
                "| `commands` | Requests and approvals (always on) | the slash command |"
            ),
            "{tables}"
        );
        assert!(
            !tables.contains("channels:history"),
            "optional scopes are not asked for"
        );
    }
}
