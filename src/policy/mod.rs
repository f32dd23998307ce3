//! Rego access policies: every decision point (see, request, approve, how long,
//! auto-approve) asks [`Policies::decide`].
//!
//! Owns loading `policies/*.rego` once at start-up, evaluating them with regorus, and
//! combining their answers. Architecture invariant: this is the only module that
//! imports regorus. It must not look anything up: the caller builds the
//! [`PolicyInput`] from what it already holds, and acts on the [`Decision`].
//!
//! Semantics (Spacelift's Slack login policies, adapted; the input is documented with a
//! full sample in `policies/README.md`):
//! - each `*.rego` file that is not `*_test.rego` is a module with its own package;
//!   c1bot reads its rules `deny` (set of messages), `allow`, `auto_approve`,
//!   `max_duration` (`"8h"`, `"1h30m"` or seconds), `space_read` and `space_write`
//!   (sets, or objects keyed by space id), `allow_self_approval` and
//!   `require_step_up` (booleans). Every rule is optional.
//! - Default deny. Any non-empty `deny`, or any module that fails to evaluate (including
//!   a rule of the wrong type, an unparsable `max_duration` and running past the time
//!   budget), denies; otherwise one `allow` that is true allows.
//! - When allowed: `auto_approve` if any module says so, `max_duration` is the smallest
//!   one set, and the space grants are unioned and extended to inheriting children.
//!
//! Evaluation clones one prepared engine per decision: the parse and analysis cost is
//! paid once in [`Policies::load`], and `Policies` is a cheap `Clone` to share.

mod cli;
mod decision;
mod duration;
mod evaluate;
mod input;
mod load;
mod rules;
#[cfg(test)]
mod shipped_tests;
mod spaces;
pub mod testing;
#[cfg(test)]
mod tests;

use std::num::NonZeroU32;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};

pub use cli::eval_input_file;
pub use decision::{Decision, NO_POLICY_ALLOWS};
pub use duration::format_duration;
pub use input::{
    fill_ancestors, AccessRequest, Action, Entitlement, NamedId, PolicyInput, RequestInfo,
    Resource, SlackContext, SlackUser, Space,
};
pub use load::PolicyLoadError;

use decision::{combine, ModuleOutcome};
use evaluate::{
    collector_source, uses_collector, PolicyModule, RulePlan, COLLECTOR_FILE, COLLECTOR_PACKAGE,
};
use load::{locate, read_sources, PolicySource};
use rules::RuleKind;

/// How long all modules together may take for one decision before it is denied.
/// Decisions normally take microseconds; this only stops a runaway policy from
/// holding up a Slack acknowledgement.
pub const DEFAULT_TIME_BUDGET: Duration = Duration::from_millis(100);

/// Interpreter work units between clock reads: frequent enough to stop within a
/// fraction of a millisecond of the budget, rare enough to cost nothing measurable.
const TIMER_CHECK_INTERVAL: NonZeroU32 = match NonZeroU32::new(64) {
    Some(interval) => interval,
    None => NonZeroU32::MIN,
};

/// The loaded, compiled policies. Cheap to clone; immutable. To reload, `load` again
/// and swap the value.
#[derive(Clone)]
pub struct Policies {
    inner: Arc<Prepared>,
}

impl std::fmt::Debug for Policies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let modules: Vec<&str> = self
            .inner
            .modules
            .iter()
            .map(|module| module.name.as_str())
            .collect();
        f.debug_struct("Policies")
            .field("modules", &modules)
            .field("time_budget", &self.inner.time_budget)
            .finish()
    }
}

struct Prepared {
    /// Parsed, analysed and warmed once; cloned per decision.
    engine: Engine,
    modules: Vec<PolicyModule>,
    time_budget: Duration,
}

impl Policies {
    /// Reads and compiles every `*.rego` under `dir` except `*_test.rego`.
    /// The error names the file and line of the first problem.
    pub fn load(dir: &Path) -> Result<Policies, PolicyLoadError> {
        let sources: Vec<PolicySource> = read_sources(dir)?
            .into_iter()
            .filter(|source| !source.is_test())
            .collect();
        if sources.is_empty() {
            return Err(PolicyLoadError::NoPolicies {
                dir: dir.to_path_buf(),
            });
        }
        Self::prepare(sources)
    }

    /// Compiles `(file name, Rego text)` pairs, as [`Policies::load`] does with files.
    pub fn from_sources(files: Vec<(String, String)>) -> Result<Policies, PolicyLoadError> {
        let sources = files
            .into_iter()
            .map(|(name, text)| PolicySource {
                path: name.clone(),
                name,
                text,
            })
            .filter(|source| !source.is_test())
            .collect();
        Self::prepare(sources)
    }

    /// The same policies with another time budget per decision.
    pub fn with_time_budget(&self, time_budget: Duration) -> Policies {
        let prepared = &self.inner;
        Policies {
            inner: Arc::new(Prepared {
                engine: prepared.engine.clone(),
                modules: prepared.modules.clone(),
                time_budget,
            }),
        }
    }

    /// How many policy modules (packages) are loaded.
    pub fn module_count(&self) -> usize {
        self.inner.modules.len()
    }

    /// Asks every module about `input`. Never panics: any failure denies, with a reason.
    pub fn decide(&self, input: &PolicyInput) -> Decision {
        let input_value = match serde_json::to_value(input) {
            Ok(json) => Value::from(json),
            Err(error) => {
                tracing::error!(%error, "policy input could not be encoded");
                return Decision::denied("the policy input could not be encoded".to_owned());
            }
        };
        // regorus is a large interpreter; a bug there must cost one denial, not the task
        // that asked. The engine is a fresh clone, so nothing is left half-updated.
        let outcomes = catch_unwind(AssertUnwindSafe(|| {
            self.evaluate(input_value, input.action)
        }));
        match outcomes {
            Ok(outcomes) => combine(&outcomes, &input.spaces),
            Err(_) => {
                tracing::error!("policy evaluation panicked");
                Decision::denied("policy evaluation failed unexpectedly".to_owned())
            }
        }
    }

    fn evaluate(&self, input: Value, action: Action) -> Vec<ModuleOutcome> {
        let prepared = &self.inner;
        let mut engine = prepared.engine.clone();
        engine.set_input(input);
        evaluate::evaluate(&mut engine, &prepared.modules, prepared.time_budget, action)
    }

    fn prepare(sources: Vec<PolicySource>) -> Result<Policies, PolicyLoadError> {
        let mut engine = Engine::new();
        engine.set_rego_v0(false);
        // (package, sources declaring it) in first-seen order.
        let mut packages: Vec<(String, Vec<&PolicySource>)> = Vec::new();
        for source in &sources {
            let package = engine
                .add_policy(source.path.clone(), source.text.clone())
                .map_err(|error| locate(&error).into_load_error(&source.path))?;
            check_package_name(&package, source)?;
            match packages.iter_mut().find(|(known, _)| *known == package) {
                Some((_, members)) => members.push(source),
                None => packages.push((package, vec![source])),
            }
        }
        let mut modules = Vec::with_capacity(packages.len());
        for (package, members) in &packages {
            modules.push(declared_rules(&engine, package, members)?);
        }
        if uses_collector(modules.len()) {
            engine
                .add_policy(COLLECTOR_FILE.to_owned(), collector_source(&modules))
                .map_err(|error| locate(&error).into_load_error(COLLECTOR_FILE))?;
        }
        warm(&mut engine, &sources)?;
        for module in &mut modules {
            for rule in &mut module.rules {
                rule.via_query = probe(&engine, &rule.path)?;
            }
        }
        Ok(Policies {
            inner: Arc::new(Prepared {
                engine,
                modules,
                time_budget: DEFAULT_TIME_BUDGET,
            }),
        })
    }
}

/// `data.c1.access` is fine; quoted components (`data["c1-x"]`) would need a different
/// rule path syntax, so they are refused at load rather than failing every decision.
fn check_package_name(package: &str, source: &PolicySource) -> Result<(), PolicyLoadError> {
    let is_identifier = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
            && chars.all(|rest| rest.is_ascii_alphanumeric() || rest == '_')
    };
    let valid = package
        .strip_prefix("data.")
        .is_some_and(|name| name.split('.').all(is_identifier));
    if package.starts_with(&format!("data.{COLLECTOR_PACKAGE}")) {
        return Err(PolicyLoadError::Invalid {
            file: source.path.clone(),
            line: None,
            message: format!("package {package}: the name is reserved for c1bot"),
        });
    }
    if valid {
        return Ok(());
    }
    Err(PolicyLoadError::Invalid {
        file: source.path.clone(),
        line: None,
        message: format!("package {package}: use a dotted name of identifiers, such as c1.access"),
    })
}

fn declared_rules(
    engine: &Engine,
    package: &str,
    members: &[&PolicySource],
) -> Result<PolicyModule, PolicyLoadError> {
    let mut rules = Vec::new();
    for kind in RuleKind::ALL {
        let mut declared = false;
        for source in members {
            declared |= engine
                .has_declared_rule_rooted_at(&source.path, kind.name())
                .map_err(|error| locate(&error).into_load_error(&source.path))?;
        }
        if declared {
            rules.push(RulePlan {
                kind,
                path: format!("{package}.{}", kind.name()),
                via_query: false,
            });
        }
    }
    let name = members
        .iter()
        .map(|source| source.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(PolicyModule { name, rules })
}

/// Evaluates `path` once on an empty input, and answers whether it needs a query.
///
/// - `eval_rule` refuses rules with a key in the head as "not a valid rule path". That
///   check is static (it compares the path with the declared rule heads before
///   evaluating anything), so one answer holds for every later decision.
/// - regorus finds unknown functions only when it reaches the call: a typo, or a
///   builtin of a regorus feature c1bot does not build (`base64.*`, `http.send`). Such
///   an error here stops start-up rather than denying every decision; calls the empty
///   input does not reach are left to `c1bot policy test`.
fn probe(engine: &Engine, path: &str) -> Result<bool, PolicyLoadError> {
    let mut probe = engine.clone();
    // A runaway rule must not hang start-up.
    probe.set_execution_timer_config(ExecutionTimerConfig {
        limit: DEFAULT_TIME_BUDGET,
        check_interval: TIMER_CHECK_INTERVAL,
    });
    match probe.eval_rule(path.to_owned()) {
        Err(error) if error.to_string() == "not a valid rule path" => Ok(true),
        Err(error) if format!("{error:#}").contains("could not find function") => {
            Err(locate(&error).into_load_error(path))
        }
        _ => Ok(false),
    }
}

/// Runs regorus's analysis (unsafe variables, unknown functions, recursion) now, so such
/// errors stop start-up with a location instead of denying every decision, and so
/// clones start prepared.
fn warm(engine: &mut Engine, sources: &[PolicySource]) -> Result<(), PolicyLoadError> {
    engine.set_input(Value::new_object());
    let fallback = sources
        .first()
        .map(|source| source.path.as_str())
        .unwrap_or("policies");
    engine
        .eval_query("true".to_owned(), false)
        .map(|_| ())
        .map_err(|error| locate(&error).into_load_error(fallback))
}
