//! The catalog as written in TOML: [`RawCatalog`] and friends, read either from a
//! separate file (top-level `[[spaces]]`, `[[resources]]`) or from the config
//! file's `[catalog]` table (the config module deserializes it there).
//!
//! Owns the shape (`deny_unknown_fields` on every table, so a misspelt key is an
//! error naming it), the file reading, and turning byte spans into `file:line`.
//! It checks no values; `validate` does.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// The catalog document as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawCatalog {
    pub(super) spaces: Vec<RawSpace>,
    pub(super) resources: Vec<RawResource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpace {
    pub id: Spanned<String>,
    pub name: String,
    #[serde(default)]
    pub parent: Option<Spanned<String>>,
    #[serde(default)]
    pub inherit: bool,
    #[serde(default)]
    pub labels: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawResource {
    pub id: Spanned<String>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub space: Spanned<String>,
    #[serde(default)]
    pub owners: Vec<Spanned<String>>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub entitlements: Vec<RawEntitlement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntitlement {
    pub id: Spanned<String>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub default_duration: Option<Spanned<String>>,
    pub max_duration: Spanned<String>,
    #[serde(default)]
    pub permanent_allowed: bool,
    /// The longest emergency (break-glass) access, where policy allows it.
    #[serde(default)]
    pub break_glass_max_duration: Option<Spanned<String>>,
    #[serde(default)]
    pub members: Vec<Spanned<String>>,
    #[serde(default)]
    pub steps: Vec<Spanned<RawStep>>,
    #[serde(default)]
    pub provisioner: Option<Spanned<RawProvisioner>>,
    /// Extra fields of the request form (`[[resources.entitlements.fields]]`).
    #[serde(default)]
    pub fields: Vec<Spanned<RawField>>,
}

/// One extra field of a request form (see `fields`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawField {
    pub id: String,
    pub label: String,
    /// `"text"`, `"choice"` or `"date"`.
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub hint: String,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub max_length: Option<i64>,
    #[serde(default)]
    pub options: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub approvers: Option<Spanned<RawApprovers>>,
    #[serde(default)]
    pub require: Option<Spanned<RawRequire>>,
    #[serde(default)]
    pub notify_channel: Option<Spanned<String>>,
    /// Who is asked too when the step is still undecided after `escalate_after`.
    #[serde(default)]
    pub escalate_to: Option<Spanned<RawApprovers>>,
    #[serde(default)]
    pub escalate_after: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawApprovers {
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub resource_owners: bool,
}

/// `"any"`, `"all"` or `{ at_least = N }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RawRequire {
    Word(String),
    AtLeast(RawAtLeast),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAtLeast {
    pub at_least: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvisioner {
    pub kind: String,
    #[serde(default)]
    pub assignees: RawAssignees,
    // webhook
    pub url: Option<String>,
    pub secret_env: Option<String>,
    // command
    pub program: Option<String>,
    pub args: Option<Vec<String>>,
    // webhook and command
    pub timeout: Option<String>,
    pub retries: Option<i64>,
    pub retry_backoff: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawAssignees {
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

/// `catalog.toml:12`, or the file alone when the line is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

/// The text spans point into, and the name errors show for it.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub name: &'a str,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn at(&self, span: Option<Range<usize>>) -> Location {
        Location {
            file: self.name.to_owned(),
            line: span.map(|span| line_of(self.text, span.start)),
        }
    }
}

/// Why the catalog could not be read. Validation problems are all listed, not just the first.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read catalog file {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{at}: invalid catalog: {message}")]
    Syntax { at: Location, message: String },
    #[error("{}", list_problems(.0))]
    Invalid(Vec<Problem>),
}

/// One thing wrong with one item of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: Location,
    /// `resource 'aws-prod' entitlement 'admin' step 2`.
    pub item: String,
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}: {}",
            self.at, self.item, self.field, self.message
        )
    }
}

fn list_problems(problems: &[Problem]) -> String {
    let listed: Vec<String> = problems.iter().map(Problem::to_string).collect();
    match listed.len() {
        1 => format!("invalid catalog: {}", listed.join("")),
        n => format!("invalid catalog, {n} problems: {}", listed.join("; ")),
    }
}

/// Parses a separate catalog file's text.
pub(super) fn parse_text(source: Source<'_>) -> Result<RawCatalog, CatalogError> {
    toml::from_str(source.text).map_err(|e| CatalogError::Syntax {
        at: source.at(e.span()),
        message: e.message().split_whitespace().collect::<Vec<_>>().join(" "),
    })
}

pub(super) fn read(path: &Path) -> Result<String, CatalogError> {
    std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}
