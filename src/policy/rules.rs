//! The rules c1bot reads from each policy module, and how their regorus values become
//! a typed [`ModuleVerdict`]. A value of the wrong type is an evaluation error (and so
//! a denial), never silently ignored.

use std::collections::BTreeSet;

use regorus::Value;

use super::decision::ModuleVerdict;
use super::duration::parse_duration;

/// A rule c1bot reads. Every one is optional in a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleKind {
    Deny,
    Allow,
    AutoApprove,
    MaxDuration,
    SpaceRead,
    SpaceWrite,
    AllowSelfApproval,
    RequireFields,
    RequireStepUp,
    BreakGlass,
}

impl RuleKind {
    pub(crate) const ALL: [RuleKind; 10] = [
        RuleKind::Deny,
        RuleKind::Allow,
        RuleKind::AutoApprove,
        RuleKind::MaxDuration,
        RuleKind::SpaceRead,
        RuleKind::SpaceWrite,
        RuleKind::AllowSelfApproval,
        RuleKind::RequireFields,
        RuleKind::RequireStepUp,
        RuleKind::BreakGlass,
    ];

    /// Whether c1bot reads this rule when deciding `action`: step-up only when
    /// approving, a request form's required fields and break-glass only when
    /// requesting. The others are not evaluated there: in regorus 0.14 every rule
    /// asked costs a scan of the modules (BENCHMARKS.md, policy decisions).
    pub(crate) fn read_for(self, action: super::input::Action) -> bool {
        use super::input::Action;
        match self {
            RuleKind::RequireStepUp => action == Action::Approve,
            RuleKind::RequireFields | RuleKind::BreakGlass => action == Action::Request,
            _ => true,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            RuleKind::Deny => "deny",
            RuleKind::Allow => "allow",
            RuleKind::AutoApprove => "auto_approve",
            RuleKind::MaxDuration => "max_duration",
            RuleKind::SpaceRead => "space_read",
            RuleKind::SpaceWrite => "space_write",
            RuleKind::AllowSelfApproval => "allow_self_approval",
            RuleKind::RequireFields => "require_fields",
            RuleKind::RequireStepUp => "require_step_up",
            RuleKind::BreakGlass => "break_glass",
        }
    }
}

/// Records `value`, the result of rule `kind`, into `verdict`. `Undefined` leaves the
/// rule unset.
pub(crate) fn record(
    verdict: &mut ModuleVerdict,
    kind: RuleKind,
    value: &Value,
) -> Result<(), String> {
    if *value == Value::Undefined {
        return Ok(());
    }
    let rule = kind.name();
    match kind {
        RuleKind::Deny => {
            verdict.deny =
                strings(value).ok_or_else(|| wrong_type(rule, "a set of strings", value))?
        }
        RuleKind::Allow => {
            verdict.allow =
                Some(boolean(value).ok_or_else(|| wrong_type(rule, "a boolean", value))?)
        }
        RuleKind::AutoApprove => {
            verdict.auto_approve =
                Some(boolean(value).ok_or_else(|| wrong_type(rule, "a boolean", value))?)
        }
        RuleKind::BreakGlass => {
            verdict.break_glass =
                Some(boolean(value).ok_or_else(|| wrong_type(rule, "a boolean", value))?)
        }
        RuleKind::AllowSelfApproval => {
            verdict.allow_self_approval =
                Some(boolean(value).ok_or_else(|| wrong_type(rule, "a boolean", value))?)
        }
        RuleKind::RequireStepUp => {
            verdict.require_step_up =
                Some(boolean(value).ok_or_else(|| wrong_type(rule, "a boolean", value))?)
        }
        RuleKind::MaxDuration => verdict.max_duration = Some(max_duration(value)?),
        RuleKind::SpaceRead => {
            verdict.space_read =
                space_ids(value).ok_or_else(|| wrong_type(rule, "a set of space ids", value))?
        }
        RuleKind::RequireFields => {
            verdict.require_fields = strings(value)
                .ok_or_else(|| wrong_type(rule, "a set of field ids", value))?
                .into_iter()
                .collect()
        }
        RuleKind::SpaceWrite => {
            verdict.space_write =
                space_ids(value).ok_or_else(|| wrong_type(rule, "a set of space ids", value))?
        }
    }
    Ok(())
}

fn wrong_type(rule: &str, expected: &str, value: &Value) -> String {
    let shown = serde_json::to_string(value).unwrap_or_else(|_| "an unprintable value".to_owned());
    let shown: String = shown.chars().take(80).collect();
    format!("`{rule}` must be {expected}, not {shown}")
}

fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        _ => None,
    }
}

/// A set or array of strings.
fn strings(value: &Value) -> Option<Vec<String>> {
    let items: Vec<&Value> = match value {
        Value::Set(items) => items.iter().collect(),
        Value::Array(items) => items.iter().collect(),
        _ => return None,
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(text) => Some(text.to_string()),
            _ => None,
        })
        .collect()
}

/// A set (or array) of ids, or an object keyed by id whose value is not `false`
/// (`space_read[id] := true` style).
fn space_ids(value: &Value) -> Option<BTreeSet<String>> {
    if let Value::Object(entries) = value {
        return entries
            .iter()
            .filter(|(_, granted)| **granted != Value::Bool(false))
            .map(|(id, _)| match id {
                Value::String(id) => Some(id.to_string()),
                _ => None,
            })
            .collect();
    }
    Some(strings(value)?.into_iter().collect())
}

fn max_duration(value: &Value) -> Result<std::time::Duration, String> {
    match value {
        Value::String(text) => {
            parse_duration(text).map_err(|error| format!("`max_duration`: {error}"))
        }
        Value::Number(number) => number
            .as_u64()
            .map(std::time::Duration::from_secs)
            .ok_or_else(|| {
                wrong_type(
                    "max_duration",
                    "a whole, non-negative number of seconds",
                    value,
                )
            }),
        _ => Err(wrong_type(
            "max_duration",
            "a duration string or a number of seconds",
            value,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Value {
        Value::from_json_str(text).expect("valid JSON")
    }

    #[test]
    fn rule_values_of_the_expected_types_are_recorded() {
        let mut verdict = ModuleVerdict::default();
        record(&mut verdict, RuleKind::Deny, &json(r#"["no"]"#)).expect("deny");
        record(&mut verdict, RuleKind::Allow, &json("true")).expect("allow");
        record(&mut verdict, RuleKind::AutoApprove, &json("false")).expect("auto_approve");
        record(&mut verdict, RuleKind::MaxDuration, &json("5400")).expect("max_duration");
        record(
            &mut verdict,
            RuleKind::SpaceRead,
            &json(r#"{"a": true, "b": false}"#),
        )
        .expect("read");
        record(&mut verdict, RuleKind::SpaceWrite, &json(r#"["c"]"#)).expect("write");
        assert_eq!(verdict.deny, ["no"]);
        assert_eq!(verdict.allow, Some(true));
        assert_eq!(verdict.auto_approve, Some(false));
        assert_eq!(
            verdict.max_duration,
            Some(std::time::Duration::from_secs(5400))
        );
        assert_eq!(verdict.space_read, BTreeSet::from(["a".to_owned()]));
        assert_eq!(verdict.space_write, BTreeSet::from(["c".to_owned()]));
    }

    #[test]
    fn rule_values_of_the_wrong_type_are_errors() {
        let cases = [
            (
                RuleKind::Deny,
                "true",
                "`deny` must be a set of strings, not true",
            ),
            (
                RuleKind::Deny,
                "[1]",
                "`deny` must be a set of strings, not [1]",
            ),
            (
                RuleKind::Allow,
                r#""yes""#,
                "`allow` must be a boolean, not \"yes\"",
            ),
            (
                RuleKind::MaxDuration,
                "-5",
                "`max_duration` must be a whole, non-negative number of seconds, not -5",
            ),
            (
                RuleKind::MaxDuration,
                r#""8 hours""#,
                "`max_duration`: \"8 hours\" is not a duration like \"8h\", \"30m\", \"1h30m\" or \"1d\"",
            ),
            (
                RuleKind::SpaceRead,
                r#"["a", 2]"#,
                "`space_read` must be a set of space ids, not [\"a\",2]",
            ),
        ];
        for (kind, value, expected) in cases {
            let result = record(&mut ModuleVerdict::default(), kind, &json(value));
            assert_eq!(result, Err(expected.to_owned()), "{value}");
        }
    }
}
