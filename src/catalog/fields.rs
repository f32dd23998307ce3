//! Request forms: the extra fields an entitlement asks for (a ticket number, free
//! text, a choice, a date), checked when written in the catalog and when a person
//! fills them in. Pure.
//!
//! The modal shows them after the justification; policy reads their values as
//! `input.request.fields` and may make any of them required (`require_fields`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::NaiveDate;

use super::load::RawField;
use super::model::Id;

/// At most this many extra fields per entitlement, so the modal stays short.
pub const MAX_FIELDS: usize = 10;
/// The longest text a field accepts when the catalog sets no `max_length`.
const DEFAULT_MAX_LENGTH: usize = 200;
/// Slack's limit for a plain-text input.
const MAX_LENGTH_LIMIT: usize = 3000;
/// Slack shows at most 100 options, each at most 75 characters.
const MAX_CHOICES: usize = 100;
const MAX_CHOICE_LEN: usize = 75;
/// Slack's limit for an input's label.
const MAX_LABEL_LEN: usize = 2000;

/// One extra field of an entitlement's request form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    pub id: Id,
    pub label: String,
    /// Shown under the input; empty for none.
    pub hint: String,
    /// Required whatever policy says (policy may require more).
    pub required: bool,
    pub kind: FieldKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// One line of text, matching `pattern` when set.
    Text {
        pattern: Option<Pattern>,
        max_length: usize,
    },
    /// One of the listed values.
    Choice { options: Vec<String> },
    /// A calendar date, `YYYY-MM-DD` (Slack's date picker).
    Date,
}

impl FieldKind {
    /// As written in the catalog (`kind = "text"`), and as policy and the provisioner
    /// document name it.
    pub fn name(&self) -> &'static str {
        match self {
            FieldKind::Text { .. } => "text",
            FieldKind::Choice { .. } => "choice",
            FieldKind::Date => "date",
        }
    }
}

/// A field's regular expression, kept with its text (what the catalog wrote and
/// what an error shows).
#[derive(Debug, Clone)]
pub struct Pattern {
    text: String,
    regex: regex::Regex,
}

impl Pattern {
    pub fn parse(text: &str) -> Result<Pattern, String> {
        let regex = regex::RegexBuilder::new(text)
            // Bounded compile size: a catalog cannot make the bot build a huge automaton.
            .size_limit(1 << 20)
            .build()
            .map_err(|e| format!("'{text}' is not a regular expression: {e}"))?;
        Ok(Pattern {
            text: text.to_owned(),
            regex,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.text == other.text
    }
}

impl Eq for Pattern {}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FormField {
    /// The field as the catalog wrote it, or the problems with it as (key, message).
    pub(super) fn from_raw(raw: &RawField) -> Result<FormField, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let id = Id::parse(&raw.id)
            .map_err(|m| problems.push(("id", m)))
            .ok();
        let label = raw.label.trim().to_owned();
        if label.is_empty() || label.chars().count() > MAX_LABEL_LEN {
            problems.push((
                "label",
                format!("give the field a label of 1 to {MAX_LABEL_LEN} characters"),
            ));
        }
        let kind = match raw.kind.as_str() {
            "text" => text_kind(raw, &mut problems),
            "choice" => choice_kind(raw, &mut problems),
            "date" => Some(FieldKind::Date),
            other => {
                problems.push((
                    "kind",
                    format!("'{other}' is not a field kind: use \"text\", \"choice\" or \"date\""),
                ));
                None
            }
        };
        if !matches!(raw.kind.as_str(), "text")
            && (raw.pattern.is_some() || raw.max_length.is_some())
        {
            problems.push((
                "pattern",
                "`pattern` and `max_length` are for text fields".into(),
            ));
        }
        if raw.kind != "choice" && !raw.options.is_empty() {
            problems.push(("options", "`options` are for choice fields".into()));
        }
        match (id, kind, problems.is_empty()) {
            (Some(id), Some(kind), true) => Ok(FormField {
                id,
                label,
                hint: raw.hint.trim().to_owned(),
                required: raw.required,
                kind,
            }),
            _ => Err(problems),
        }
    }

    /// The Slack block id of this field's input in the request modal.
    pub fn block_id(&self) -> String {
        format!("{BLOCK_PREFIX}{}", self.id)
    }

    /// Checks what a person entered (`None` or blank: nothing). `Ok(None)` means the
    /// field is optional and left empty; the error is one sentence for the field.
    pub fn check(&self, entered: Option<&str>, required: bool) -> Result<Option<String>, String> {
        let value = entered.map(str::trim).filter(|v| !v.is_empty());
        let Some(value) = value else {
            return if required || self.required {
                Err(format!("{} is required for this access.", self.label))
            } else {
                Ok(None)
            };
        };
        match &self.kind {
            FieldKind::Text {
                pattern,
                max_length,
            } => {
                if value.chars().count() > *max_length {
                    return Err(format!(
                        "Keep {} under {max_length} characters.",
                        self.label
                    ));
                }
                if let Some(pattern) = pattern.as_ref().filter(|p| !p.matches(value)) {
                    return Err(format!("{} must match {pattern}.", self.label));
                }
            }
            FieldKind::Choice { options } => {
                if !options.iter().any(|o| o == value) {
                    return Err(format!(
                        "Choose one of the listed values for {}.",
                        self.label
                    ));
                }
            }
            FieldKind::Date => {
                if NaiveDate::parse_from_str(value, "%Y-%m-%d").is_err() {
                    return Err(format!("{} must be a date (YYYY-MM-DD).", self.label));
                }
            }
        }
        Ok(Some(value.to_owned()))
    }
}

/// Block ids of extra fields start with this; the built-in inputs never do.
pub const BLOCK_PREFIX: &str = "field_";

/// Checks every field of a form: the values kept (by field id) or one error per
/// field, keyed by its block id. `required` are the field ids policy requires;
/// values for fields the entitlement does not have are ignored.
pub fn check_all(
    fields: &[FormField],
    entered: &BTreeMap<String, String>,
    required: &BTreeSet<String>,
) -> Result<BTreeMap<String, String>, BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for field in fields {
        let raw = entered.get(field.id.as_str()).map(String::as_str);
        match field.check(raw, required.contains(field.id.as_str())) {
            Ok(Some(value)) => {
                values.insert(field.id.to_string(), value);
            }
            Ok(None) => {}
            Err(message) => {
                errors.insert(field.block_id(), message);
            }
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// The entered values that are well formed for their field (what policy may see
/// before the form is complete), by field id.
pub fn well_formed(
    fields: &[FormField],
    entered: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    fields
        .iter()
        .filter_map(|field| {
            let raw = entered.get(field.id.as_str()).map(String::as_str);
            let value = field.check(raw, false).ok()??;
            Some((field.id.to_string(), value))
        })
        .collect()
}

fn text_kind(raw: &RawField, problems: &mut Vec<(&'static str, String)>) -> Option<FieldKind> {
    let pattern = match raw.pattern.as_deref().map(Pattern::parse).transpose() {
        Ok(pattern) => pattern,
        Err(message) => {
            problems.push(("pattern", message));
            None
        }
    };
    let max_length = match raw.max_length {
        None => DEFAULT_MAX_LENGTH,
        Some(n) if (1..=MAX_LENGTH_LIMIT as i64).contains(&n) => n as usize,
        Some(n) => {
            problems.push((
                "max_length",
                format!("{n} is not between 1 and {MAX_LENGTH_LIMIT}"),
            ));
            return None;
        }
    };
    Some(FieldKind::Text {
        pattern,
        max_length,
    })
}

fn choice_kind(raw: &RawField, problems: &mut Vec<(&'static str, String)>) -> Option<FieldKind> {
    let options: Vec<String> = raw.options.iter().map(|o| o.trim().to_owned()).collect();
    let distinct: BTreeSet<&String> = options.iter().collect();
    let fits = options
        .iter()
        .all(|o| !o.is_empty() && o.chars().count() <= MAX_CHOICE_LEN);
    if options.is_empty() || options.len() > MAX_CHOICES || distinct.len() != options.len() || !fits
    {
        problems.push((
            "options",
            format!(
                "list 1 to {MAX_CHOICES} different options of 1 to {MAX_CHOICE_LEN} characters"
            ),
        ));
        return None;
    }
    Some(FieldKind::Choice { options })
}

#[cfg(test)]
#[path = "fields_tests.rs"]
mod tests;
