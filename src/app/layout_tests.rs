//! `app`'s layout, checked: every top-level module of `app` is in one layer
//! (`shared`, a feature, or the runtime that wires them), `shared` imports nothing
//! above it, no feature imports the runtime, and no import cycle joins two features.
//!
//! Reads `src/app`'s sources (test code left out) and follows `crate::app::…` paths
//! and `super::` chains that climb out of a feature.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What every feature stands on.
const SHARED: &str = "shared";
/// Features, each a folder with its handlers, rendering and tests.
const FEATURES: &[&str] = &[
    "campaigns",
    "decisions",
    "dm",
    "grants",
    "requests",
    "status",
];
/// Wiring and loops that route to features: they may import anything.
const RUNTIME: &[&str] = &[
    "admin",
    "audit_anchor",
    "connect",
    "gauges",
    "handler",
    "journal",
    "leader",
    "retention",
    "running",
    "scopes",
    "start",
    "timers",
    "upkeep",
];

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Top-level module → the top-level modules of `app` its non-test code names.
fn imports(app: &Path) -> Graph {
    let mut graph = Graph::new();
    for file in rust_files(app) {
        let relative = file.strip_prefix(app).expect("under src/app");
        let parts: Vec<String> = relative
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        let name = parts.last().cloned().unwrap_or_default();
        if parts.len() == 1 && name == "mod.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        let top = parts[0].trim_end_matches(".rs").to_owned();
        // `super::` climbs one module; this many reach `app` itself.
        let depth = if name == "mod.rs" {
            parts.len() - 1
        } else {
            parts.len()
        };
        let source = std::fs::read_to_string(&file).expect("readable source");
        let code = without_tests(&without_comments(&source));
        let to_app = "super::".repeat(depth);
        let named = graph.entry(top.clone()).or_default();
        for prefix in ["crate::app::", to_app.as_str()] {
            for target in names_after(&code, prefix) {
                if target != top {
                    named.insert(target);
                }
            }
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)
        .expect("readable directory")
        .flatten()
    {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

fn without_comments(source: &str) -> String {
    source
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The code before an inline `#[cfg(test)] mod … {`.
fn without_tests(code: &str) -> String {
    let mut rest = code;
    let mut kept = 0;
    while let Some(at) = rest.find("#[cfg(test)]") {
        let after = rest[at + "#[cfg(test)]".len()..].trim_start();
        if after.starts_with("mod ") && after.split(';').next().is_some_and(|m| m.contains('{')) {
            return code[..kept + at].to_owned();
        }
        kept += at + 1;
        rest = &rest[at + 1..];
    }
    code.to_owned()
}

/// The module names right after each `prefix` (`prefix{a, b::c}` gives `a`, `b`).
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or_default();
            for item in group.split(',') {
                let name = ident(item.trim());
                if !name.is_empty() && name != "self" {
                    names.insert(name);
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// A cycle among `nodes` in `graph` (edges to other nodes ignored), as a path that
/// ends where it starts.
fn cycle(graph: &Graph, nodes: &[&str]) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        nodes: &[&str],
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if nodes.contains(&next.as_str()) {
                if let Some(found) = visit(next, graph, nodes, path, done) {
                    return Some(found);
                }
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    nodes
        .iter()
        .find_map(|node| visit(node, graph, nodes, &mut Vec::new(), &mut done))
}

fn app_graph() -> Graph {
    imports(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/app"))
}

#[test]
fn every_module_of_app_is_in_one_layer() {
    let graph = app_graph();
    let unplaced: Vec<&String> = graph
        .keys()
        .filter(|m| {
            *m != SHARED && !FEATURES.contains(&m.as_str()) && !RUNTIME.contains(&m.as_str())
        })
        .collect();
    assert!(
        unplaced.is_empty(),
        "place these in app/layout_tests.rs (shared, a feature or the runtime): {unplaced:?}"
    );
}

#[test]
fn shared_imports_nothing_above_it_and_features_never_import_the_runtime() {
    let graph = app_graph();
    let shared = &graph[SHARED];
    assert!(shared.is_empty(), "app::shared imports {shared:?}");
    for feature in FEATURES {
        let runtime: Vec<&String> = graph[*feature]
            .iter()
            .filter(|m| RUNTIME.contains(&m.as_str()))
            .collect();
        assert!(
            runtime.is_empty(),
            "feature {feature} imports the runtime: {runtime:?}"
        );
    }
}

#[test]
fn no_import_cycle_joins_two_features() {
    let graph = app_graph();
    assert_eq!(
        cycle(&graph, FEATURES),
        None,
        "an import cycle between features"
    );
}

#[test]
fn a_cycle_is_found_and_named_and_a_chain_is_not_one() {
    let mut graph = Graph::new();
    let edge = |graph: &mut Graph, from: &str, to: &str| {
        graph.entry(from.into()).or_default().insert(to.into());
    };
    edge(&mut graph, "requests", "grants");
    edge(&mut graph, "dm", "requests");
    edge(&mut graph, "grants", "shared");
    assert_eq!(cycle(&graph, FEATURES), None);
    edge(&mut graph, "grants", "dm");
    assert_eq!(
        cycle(&graph, FEATURES),
        Some(vec![
            "dm".into(),
            "requests".into(),
            "grants".into(),
            "dm".into()
        ])
    );
}

#[test]
fn imports_are_read_from_paths_groups_and_super_chains_but_not_comments_or_tests() {
    let code = without_tests(&without_comments(
        "use crate::app::grants::Ask;\nuse crate::app::{status, shared::services};\n\
         // crate::app::dm in a comment\nfn f() { super::super::requests::x(); }\n\
         #[cfg(test)]\nmod tests {\n    use crate::app::campaigns;\n}\n",
    ));
    assert_eq!(
        names_after(&code, "crate::app::"),
        BTreeSet::from(["grants".into(), "shared".into(), "status".into()])
    );
    assert_eq!(
        names_after(&code, "super::super::"),
        BTreeSet::from(["requests".into()])
    );
}
