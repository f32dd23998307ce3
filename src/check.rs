//! `c1bot check`: validates everything c1bot reads at start-up (config, catalog,
//! policies, templates) without connecting to Slack, and reports every problem
//! with its file and line. A broken file is found before a deploy, not during one.

use std::path::{Path, PathBuf};

use crate::config::{Config, Mode};
use crate::policy::Policies;
use crate::templates::Templates;

/// Every problem found; empty means c1bot would start with these files.
pub fn run(config_path: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut problems = Vec::new();
    let (policies_dir, blocks_dir) = match Config::load(config_path, env, Mode::Offline) {
        Ok(config) => (config.policies_dir, config.blocks_dir),
        Err(error) => {
            // Keep checking the rest with the folders the file names (or the
            // defaults), so one run reports every problem.
            problems.extend(error.to_string().lines().map(str::to_owned));
            folders_named_in(config_path.unwrap_or(Path::new(crate::config::DEFAULT_CONFIG_FILE)))
        }
    };
    if let Err(error) = Policies::load(&policies_dir) {
        problems.push(error.to_string());
    }
    if let Err(error) = Templates::load(&blocks_dir) {
        problems.extend(error.problems());
    }
    problems
}

/// `policies_dir` and `blocks_dir` as written in the file, read leniently.
fn folders_named_in(config: &Path) -> (PathBuf, PathBuf) {
    let table = std::fs::read_to_string(config)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .unwrap_or_default();
    let folder = |key: &str, default: &str| {
        PathBuf::from(table.get(key).and_then(|v| v.as_str()).unwrap_or(default))
    };
    (
        folder("policies_dir", "policies"),
        folder("blocks_dir", "blocks"),
    )
}
