//! Evaluating every module's rules on one prepared engine clone.
//!
//! Fast path, for a few modules: one `eval_rule` of a generated collector rule that gathers every module's
//! rules in a single evaluation, so helper rules shared by `allow`, `deny`, … run once
//! and regorus's per-call setup is paid once. If that evaluation fails, the slow path
//! evaluates module by module and rule by rule, so the failure is blamed on the right
//! module and the other modules' deny messages are still reported.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};

use super::decision::{ModuleOutcome, ModuleVerdict};
use super::input::Action;
use super::load::locate;
use super::rules::{self, RuleKind};
use super::TIMER_CHECK_INTERVAL;

/// The generated collector's package; user packages may not use it.
pub(crate) const COLLECTOR_PACKAGE: &str = "c1bot_internal_collector";
/// The name the collector is added under, shown if it ever fails to compile.
pub(crate) const COLLECTOR_FILE: &str = "(c1bot internal collector)";
/// The collector has one rule per kind of decision ([`decision_kind`]), each
/// gathering only the rules c1bot reads for it.
const DECISION_KINDS: [&str; 3] = ["request", "approve", "other"];

/// Which collector rule serves `action`.
fn decision_kind(action: Action) -> &'static str {
    match action {
        Action::Request => "request",
        Action::Approve => "approve",
        _ => "other",
    }
}

/// An action of each decision kind, to ask which rules it reads.
fn representative(kind: &str) -> Action {
    match kind {
        "request" => Action::Request,
        "approve" => Action::Approve,
        _ => Action::View,
    }
}

/// One package and the rules c1bot reads from it.
#[derive(Clone)]
pub(crate) struct PolicyModule {
    /// The file(s) declaring the package, for reasons and logs.
    pub name: String,
    /// Only the rules the package declares: asking regorus for an undeclared rule is
    /// an error, and skipping them saves the work.
    pub rules: Vec<RulePlan>,
}

/// How to read one rule on the slow path.
#[derive(Clone)]
pub(crate) struct RulePlan {
    pub kind: RuleKind,
    /// `data.<package>.<rule>`.
    pub path: String,
    /// `Engine::eval_rule` refuses rules written with a key in the head
    /// (`space_read["prod"] := true`); those need a query, which costs about ten times
    /// as much, so only they use one.
    pub via_query: bool,
}

/// The collector pays off only for a few modules. In regorus 0.14.1 every `data.…`
/// reference scans all loaded modules, so its cost grows with the square of the module
/// count. Measured (`benches/policy.rs`): 1 module, 77 µs with the collector against
/// 95 µs rule by rule; 50 modules, 3.9 ms against 1.8 ms. The crossover lies between;
/// 8 is an estimate, not a measurement.
const COLLECTOR_MAX_MODULES: usize = 8;

pub(crate) fn uses_collector(module_count: usize) -> bool {
    module_count <= COLLECTOR_MAX_MODULES
}

/// The collector module: for each kind of decision, `modules_<kind>` is an array
/// with one object per module holding the rules c1bot reads for that kind, each
/// wrapped in an array comprehension so that an undefined rule becomes `[]` instead
/// of making the whole array undefined.
pub(crate) fn collector_source(modules: &[PolicyModule]) -> String {
    let mut text = format!("package {COLLECTOR_PACKAGE}\n");
    for kind in DECISION_KINDS {
        let action = representative(kind);
        // Writing to a String cannot fail.
        let _ = write!(text, "\nmodules_{kind} := [\n");
        for module in modules {
            let fields: Vec<String> = module
                .rules
                .iter()
                .filter(|rule| rule.kind.read_for(action))
                .map(|rule| format!("\"{}\": [x | x := {}]", rule.kind.name(), rule.path))
                .collect();
            let _ = writeln!(text, "\t{{{}}},", fields.join(", "));
        }
        text.push_str("]\n");
    }
    text
}

/// Each module's outcome, in module order. A failure on the fast path gets the slow
/// path a fresh time budget, so a runaway module is named rather than whichever module
/// came after it; a decision can therefore take up to twice `time_budget`.
/// Only the rules c1bot reads for `action` are evaluated (see [`RuleKind::read_for`]).
pub(crate) fn evaluate(
    engine: &mut Engine,
    modules: &[PolicyModule],
    time_budget: Duration,
    action: Action,
) -> Vec<ModuleOutcome> {
    if !uses_collector(modules.len()) {
        return evaluate_each(engine, modules, time_budget, action);
    }
    match collect_all(engine, modules, time_budget, action) {
        Ok(outcomes) => outcomes,
        Err(error) => {
            tracing::debug!(error = %format!("{error:#}"), "policy fast path failed; evaluating module by module");
            evaluate_each(engine, modules, time_budget, action)
        }
    }
}

fn evaluate_each(
    engine: &mut Engine,
    modules: &[PolicyModule],
    time_budget: Duration,
    action: Action,
) -> Vec<ModuleOutcome> {
    let deadline = Instant::now() + time_budget;
    modules
        .iter()
        .map(|module| outcome(module, evaluate_module(engine, module, deadline, action)))
        .collect()
}

fn outcome(module: &PolicyModule, verdict: Result<ModuleVerdict, String>) -> ModuleOutcome {
    match verdict {
        Ok(verdict) => ModuleOutcome::Evaluated {
            module: module.name.clone(),
            verdict,
        },
        Err(error) => ModuleOutcome::Failed {
            module: module.name.clone(),
            error,
        },
    }
}

fn collect_all(
    engine: &mut Engine,
    modules: &[PolicyModule],
    time_budget: Duration,
    action: Action,
) -> anyhow::Result<Vec<ModuleOutcome>> {
    engine.set_execution_timer_config(ExecutionTimerConfig {
        limit: time_budget,
        check_interval: TIMER_CHECK_INTERVAL,
    });
    let rule = format!("data.{COLLECTOR_PACKAGE}.modules_{}", decision_kind(action));
    let collected = engine.eval_rule(rule)?;
    let Value::Array(per_module) = &collected else {
        anyhow::bail!("the collector produced {collected:?}");
    };
    anyhow::ensure!(
        per_module.len() == modules.len(),
        "the collector produced {} modules, not {}",
        per_module.len(),
        modules.len()
    );
    Ok(modules
        .iter()
        .zip(per_module.iter())
        .map(|(module, values)| outcome(module, verdict_from_collected(module, values, action)))
        .collect())
}

fn verdict_from_collected(
    module: &PolicyModule,
    values: &Value,
    action: Action,
) -> Result<ModuleVerdict, String> {
    let mut verdict = ModuleVerdict::default();
    for rule in module.rules.iter().filter(|r| r.kind.read_for(action)) {
        let wrapped = &values[rule.kind.name()];
        let value = match wrapped {
            Value::Array(items) => items.first().cloned().unwrap_or(Value::Undefined),
            _ => Value::Undefined,
        };
        record(&mut verdict, module, rule, &value)?;
    }
    Ok(verdict)
}

fn evaluate_module(
    engine: &mut Engine,
    module: &PolicyModule,
    deadline: Instant,
    action: Action,
) -> Result<ModuleVerdict, String> {
    let mut verdict = ModuleVerdict::default();
    for rule in module.rules.iter().filter(|r| r.kind.read_for(action)) {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            tracing::warn!(policy = %module.name, rule = rule.path, "policy time budget ran out");
            return Err("the time budget for one decision ran out".to_owned());
        }
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: remaining,
            check_interval: TIMER_CHECK_INTERVAL,
        });
        let value = if rule.via_query {
            eval_path(engine, &rule.path)
        } else {
            engine.eval_rule(rule.path.clone())
        };
        let value = value.map_err(|error| {
            tracing::warn!(policy = %module.name, rule = rule.path, error = %format!("{error:#}"), "policy evaluation failed");
            locate(&error).summary()
        })?;
        record(&mut verdict, module, rule, &value)?;
    }
    Ok(verdict)
}

fn record(
    verdict: &mut ModuleVerdict,
    module: &PolicyModule,
    rule: &RulePlan,
    value: &Value,
) -> Result<(), String> {
    rules::record(verdict, rule.kind, value).inspect_err(|error| {
        tracing::warn!(policy = %module.name, rule = rule.path, %error, "policy rule has the wrong type");
    })
}

/// The value at `path` by query, `Undefined` if no rule produced one.
fn eval_path(engine: &mut Engine, path: &str) -> anyhow::Result<Value> {
    let results = engine.eval_query(path.to_owned(), false)?;
    match results.result.as_slice() {
        [] => Ok(Value::Undefined),
        [only] => Ok(only
            .expressions
            .first()
            .map_or(Value::Undefined, |expression| expression.value.clone())),
        _ => anyhow::bail!("{path} has more than one value"),
    }
}
