//! Combines what each policy module said into one [`Decision`]: default deny, any
//! `deny` or any evaluation failure wins, otherwise one `allow` is needed. Pure: it
//! sees typed module verdicts, never regorus values.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use super::duration::format_duration;
use super::input::Space;
use super::spaces::extend_to_inheriting_children;

/// The reason given when nothing denied but no policy allowed either.
pub const NO_POLICY_ALLOWS: &str = "no policy allows this";

/// The answer to one [`PolicyInput`](super::PolicyInput).
///
/// A decision that is not allowed grants nothing: `auto_approve` is false,
/// `max_duration` is `None` and both space sets are empty. It always carries at least
/// one reason, which can be shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub allowed: bool,
    /// Deny messages and evaluation failures, in module order, without duplicates.
    pub reasons: Vec<String>,
    pub auto_approve: bool,
    /// A module explicitly lets the requester decide their own request
    /// (`allow_self_approval`); c1bot refuses self-approval otherwise.
    pub self_approval: bool,
    /// A module asks for step-up verification (`require_step_up`): an approval
    /// commits only with a valid one-time code (see `crate::app::decisions::step_up`).
    pub require_step_up: bool,
    /// The smallest `max_duration` any module set.
    pub max_duration: Option<Duration>,
    /// A module lets this entitlement be taken in an emergency (`break_glass`):
    /// granted at once, everyone told, reviewed afterwards.
    pub break_glass: bool,
    /// Request-form fields (catalog `fields` ids) any module requires
    /// (`require_fields`): the request cannot be submitted without them.
    pub required_fields: BTreeSet<String>,
    /// Spaces the user may request in, extended to inheriting children.
    pub space_read: BTreeSet<String>,
    /// Spaces the user may approve in, extended to inheriting children.
    pub space_write: BTreeSet<String>,
}

impl Decision {
    /// A denial for reasons found before any policy ran (e.g. a bad input).
    pub(crate) fn denied(reason: String) -> Self {
        Self {
            allowed: false,
            reasons: vec![reason],
            ..Self::default()
        }
    }
}

/// What one module's rules evaluated to; `None` / empty means the rule is undefined.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ModuleVerdict {
    pub deny: Vec<String>,
    pub allow: Option<bool>,
    pub auto_approve: Option<bool>,
    pub allow_self_approval: Option<bool>,
    pub require_step_up: Option<bool>,
    pub max_duration: Option<Duration>,
    pub require_fields: BTreeSet<String>,
    pub break_glass: Option<bool>,
    pub space_read: BTreeSet<String>,
    pub space_write: BTreeSet<String>,
}

/// One module's outcome, named by its file(s) for the reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModuleOutcome {
    Evaluated {
        module: String,
        verdict: ModuleVerdict,
    },
    Failed {
        module: String,
        error: String,
    },
}

/// Folds the module outcomes into one decision; `spaces` drives inheritance.
pub(crate) fn combine(outcomes: &[ModuleOutcome], spaces: &[Space]) -> Decision {
    let mut reasons: Vec<String> = Vec::new();
    let mut any_allow = false;
    let mut any_auto_approve = false;
    let mut any_self_approval = false;
    let mut any_step_up = false;
    let mut any_break_glass = false;
    let mut max_duration: Option<Duration> = None;
    let mut space_read = BTreeSet::new();
    let mut space_write = BTreeSet::new();
    let mut required_fields = BTreeSet::new();

    for outcome in outcomes {
        match outcome {
            ModuleOutcome::Failed { module, error } => {
                push_unique(
                    &mut reasons,
                    format!("policy {module} could not be evaluated: {error}"),
                );
            }
            ModuleOutcome::Evaluated { verdict, .. } => {
                for message in &verdict.deny {
                    push_unique(&mut reasons, message.clone());
                }
                any_allow |= verdict.allow == Some(true);
                any_auto_approve |= verdict.auto_approve == Some(true);
                any_self_approval |= verdict.allow_self_approval == Some(true);
                any_step_up |= verdict.require_step_up == Some(true);
                any_break_glass |= verdict.break_glass == Some(true);
                if let Some(limit) = verdict.max_duration {
                    max_duration = Some(max_duration.map_or(limit, |current| current.min(limit)));
                }
                required_fields.extend(verdict.require_fields.iter().cloned());
                space_read.extend(verdict.space_read.iter().cloned());
                space_write.extend(verdict.space_write.iter().cloned());
            }
        }
    }

    if !reasons.is_empty() {
        return Decision {
            allowed: false,
            reasons,
            ..Decision::default()
        };
    }
    if !any_allow {
        return Decision::denied(NO_POLICY_ALLOWS.to_owned());
    }
    Decision {
        allowed: true,
        reasons,
        auto_approve: any_auto_approve,
        self_approval: any_self_approval,
        require_step_up: any_step_up,
        break_glass: any_break_glass,
        max_duration,
        required_fields,
        space_read: extend_to_inheriting_children(&space_read, spaces),
        space_write: extend_to_inheriting_children(&space_write, spaces),
    }
}

fn push_unique(reasons: &mut Vec<String>, reason: String) {
    if !reasons.contains(&reason) {
        reasons.push(reason);
    }
}

/// Human-readable, for `c1bot policy eval`.
impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.allowed {
            writeln!(f, "decision: DENY")?;
            writeln!(f, "reasons:")?;
            for reason in &self.reasons {
                writeln!(f, "  - {reason}")?;
            }
            return Ok(());
        }
        writeln!(f, "decision: ALLOW")?;
        writeln!(f, "auto_approve: {}", self.auto_approve)?;
        if self.require_step_up {
            writeln!(f, "require_step_up: true")?;
        }
        if self.break_glass {
            writeln!(f, "break_glass: true")?;
        }
        let max_duration = self
            .max_duration
            .map_or_else(|| "not limited by policy".to_owned(), format_duration);
        writeln!(f, "max_duration: {max_duration}")?;
        if !self.required_fields.is_empty() {
            writeln!(f, "require_fields: {}", list(&self.required_fields))?;
        }
        writeln!(f, "space_read: {}", list(&self.space_read))?;
        writeln!(f, "space_write: {}", list(&self.space_write))
    }
}

fn list(ids: &BTreeSet<String>) -> String {
    if ids.is_empty() {
        return "(none)".to_owned();
    }
    ids.iter().cloned().collect::<Vec<_>>().join(", ")
}
