//! `c1bot policy eval --input FILE`: one decision from a JSON input file, printed for a
//! person. The lead's `main.rs` prints the returned text.

use std::fs;
use std::path::Path;

use anyhow::Context;

use super::{Policies, PolicyInput};

/// Loads the policies in `dir`, decides on the [`PolicyInput`] in the JSON file `input`
/// and returns the decision and its reasons as text.
pub fn eval_input_file(dir: &Path, input: &Path) -> anyhow::Result<String> {
    let policies = Policies::load(dir).context("loading the policies")?;
    let text = fs::read_to_string(input)
        .with_context(|| format!("reading the input file {}", input.display()))?;
    let input: PolicyInput = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a policy input (see policies/README.md for a full sample)",
            input.display()
        )
    })?;
    let decision = policies.decide(&input);
    Ok(format!(
        "{} policy module(s) loaded from {}\n{decision}",
        policies.module_count(),
        dir.display()
    ))
}
