//! `c1bot policy test`: runs OPA-style `test_*` rules, which regorus has no runner for.
//!
//! Loads every `*.rego` in the folder (policies and `*_test.rego` together) into one
//! engine, finds the `test_*` rule heads in the sources, and evaluates each one on a
//! fresh clone; a test passes only if it evaluates to `true`. Does not decide anything.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};

use super::load::{locate, read_sources, PolicySource};
use super::{PolicyLoadError, TIMER_CHECK_INTERVAL};

/// Each test gets more time than a decision: tests may build large inputs.
const TEST_TIME_LIMIT: Duration = Duration::from_secs(1);

/// The results of one run, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestReport {
    pub results: Vec<TestResult>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    /// The file declaring the test, relative to the policy folder.
    pub file: String,
    /// The rule's full path, e.g. `data.c1.access_test.test_guest_is_denied`.
    pub name: String,
    pub outcome: TestOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    Passed,
    /// Evaluated to something other than `true`, including undefined (a failed body).
    Failed,
    /// Could not be evaluated; the message says why.
    Error(String),
}

impl TestReport {
    pub fn passed(&self) -> usize {
        self.count(|outcome| *outcome == TestOutcome::Passed)
    }

    /// Failed or errored tests.
    pub fn failed(&self) -> usize {
        self.count(|outcome| *outcome != TestOutcome::Passed)
    }

    fn count(&self, matches: impl Fn(&TestOutcome) -> bool) -> usize {
        self.results
            .iter()
            .filter(|result| matches(&result.outcome))
            .count()
    }
}

/// Like `opa test`: one line per test, then the totals.
impl fmt::Display for TestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.results.is_empty() {
            return writeln!(f, "no test_ rules found");
        }
        for result in &self.results {
            match &result.outcome {
                TestOutcome::Passed => writeln!(f, "PASS  {}: {}", result.file, result.name)?,
                TestOutcome::Failed => writeln!(f, "FAIL  {}: {}", result.file, result.name)?,
                TestOutcome::Error(error) => {
                    writeln!(f, "ERROR {}: {}: {error}", result.file, result.name)?
                }
            }
        }
        let total = self.results.len();
        writeln!(f, "{}", "-".repeat(40))?;
        writeln!(f, "PASS: {}/{total}", self.passed())?;
        if self.failed() > 0 {
            writeln!(f, "FAIL: {}/{total}", self.failed())?;
        }
        Ok(())
    }
}

/// Runs every `test_*` rule under `dir`. A policy that does not compile is an error;
/// a test that fails or errors is reported in the [`TestReport`].
pub fn run_tests(dir: &Path) -> Result<TestReport, PolicyLoadError> {
    let sources = read_sources(dir)?;
    if sources.is_empty() {
        return Err(PolicyLoadError::NoPolicies {
            dir: dir.to_path_buf(),
        });
    }
    let mut engine = Engine::new();
    engine.set_rego_v0(false);
    let mut tests = Vec::new();
    for source in &sources {
        let package = engine
            .add_policy(source.path.clone(), source.text.clone())
            .map_err(|error| locate(&error).into_load_error(&source.path))?;
        tests.extend(declared_tests(&engine, source, &package)?);
    }
    engine.set_input(Value::new_object());
    engine
        .eval_query("true".to_owned(), false)
        .map_err(|error| locate(&error).into_load_error(&sources[0].path))?;
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: TEST_TIME_LIMIT,
        check_interval: TIMER_CHECK_INTERVAL,
    });

    let results = tests
        .into_iter()
        .map(|(file, name)| {
            let outcome = match engine.clone().eval_rule(name.clone()) {
                Ok(Value::Bool(true)) => TestOutcome::Passed,
                Ok(_) => TestOutcome::Failed,
                Err(error) => TestOutcome::Error(locate(&error).summary()),
            };
            TestResult {
                file,
                name,
                outcome,
            }
        })
        .collect();
    Ok(TestReport { results })
}

/// `(file, rule path)` of each distinct `test_*` rule `source` declares. Candidate
/// heads come from the text; regorus confirms each, so a `test_x = 1` line inside a
/// rule body is not mistaken for a test.
fn declared_tests(
    engine: &Engine,
    source: &PolicySource,
    package: &str,
) -> Result<Vec<(String, String)>, PolicyLoadError> {
    let mut tests: Vec<(String, String)> = Vec::new();
    for name in source.text.lines().filter_map(test_rule_head) {
        let path = format!("{package}.{name}");
        if tests.iter().any(|(_, known)| *known == path) {
            continue; // a test may be defined by several bodies
        }
        let declared = engine
            .has_declared_rule_rooted_at(&source.path, name)
            .map_err(|error| locate(&error).into_load_error(&source.path))?;
        if declared {
            tests.push((source.name.clone(), path));
        }
    }
    Ok(tests)
}

/// The rule name if `line` starts a `test_*` rule: `test_x if {`, `test_x := …`,
/// `test_x = …` or `test_x {`.
fn test_rule_head(line: &str) -> Option<&str> {
    let line = line.trim_start();
    if !line.starts_with("test_") {
        return None;
    }
    let end = line
        .find(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
        .unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let is_if = rest.strip_prefix("if").is_some_and(|after| {
        after
            .chars()
            .next()
            .is_none_or(|next| !(next.is_ascii_alphanumeric() || next == '_'))
    });
    let is_assignment =
        rest.starts_with(":=") || (rest.starts_with('=') && !rest.starts_with("=="));
    (is_if || is_assignment || rest.starts_with('{')).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_rule_heads_are_recognised_in_their_usual_forms() {
        let heads = [
            ("test_guest_is_denied if {", Some("test_guest_is_denied")),
            ("  test_x := true", Some("test_x")),
            ("test_y = true", Some("test_y")),
            ("test_z {", Some("test_z")),
            ("test_w if count(x) > 1", Some("test_w")),
            ("test_v == 1", None),
            ("test_u iffy", None),
            ("# test_t if {", None),
            ("not_a_test if {", None),
        ];
        for (line, expected) in heads {
            assert_eq!(test_rule_head(line), expected, "{line}");
        }
    }
}
