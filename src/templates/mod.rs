//! Every message and modal c1bot sends, as Block Kit JSON files in `blocks/`,
//! loaded and checked once at start-up and rendered with values substituted safely.
//!
//! Owns the template files' format (see `placeholder`), escaping (user text can
//! never ping `@channel`, mention someone or forge a link: `Vars`), and Block Kit's
//! size limits (`limits`: over-long text is truncated with "…", long lists end in
//! "… and N more"), and what each template may use: [`specs`] declares the values,
//! slots and controls the code gives each one, checked at load (`check`) with the
//! file and line of every problem. It does not decide what to say or to whom; the
//! workflow picks a template and the values. I/O only in [`Templates::load`].
//!
//! Architecture invariant: values are substituted into the parsed JSON tree, never
//! into JSON text, so no value can change the structure of a message.

mod check;
mod limits;
mod lines;
mod placeholder;
mod render;
pub mod specs;
mod vars;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

pub use limits::{enforce, max_blocks, violations, ELLIPSIS, MESSAGE_BLOCKS, VIEW_BLOCKS};
pub use placeholder::{Kind, ListSlot, Placeholders};
pub use vars::{slack_date, Choice, Mrkdwn, Vars};

/// All loaded templates; a cheap `Clone`.
#[derive(Debug, Clone)]
pub struct Templates {
    inner: Arc<BTreeMap<String, Template>>,
}

/// One loaded template.
#[derive(Debug)]
pub struct Template {
    pub kind: Kind,
    pub placeholders: Placeholders,
    json: Value,
}

/// Why the templates could not be loaded. Names the file, and the line.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read the templates folder {}: {source}", .dir.display())]
    ReadDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read template {}: {source}", .path.display())]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Every problem found, one `file:line: …` each.
    #[error("{}", .0.join("\n"))]
    Problems(Vec<String>),
}

impl TemplateError {
    /// One line per problem.
    pub fn problems(&self) -> Vec<String> {
        match self {
            TemplateError::Problems(problems) => problems.clone(),
            other => vec![other.to_string()],
        }
    }
}

/// Why one render failed; a bug in the caller, not in user input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("unknown template '{0}'")]
    UnknownTemplate(String),
    #[error("template '{template}': no value for '{name}'")]
    MissingVar { template: String, name: String },
    #[error("template '{template}': '{name}' must be {expected}")]
    WrongVar {
        template: String,
        name: String,
        expected: &'static str,
    },
    #[error(
        "template '{template}': options '{name}' is empty; a select needs at least one option"
    )]
    NoOptions { template: String, name: String },
}

impl Templates {
    /// Loads every `*.json` in `dir` (name = file stem) and checks each against what
    /// the code gives it ([`specs::SPECS`], every one of which must be there).
    pub fn load(dir: &Path) -> Result<Templates, TemplateError> {
        let read_dir = |source| TemplateError::ReadDir {
            dir: dir.to_path_buf(),
            source,
        };
        let mut sources = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(read_dir)? {
            let path = entry.map_err(read_dir)?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            let text =
                std::fs::read_to_string(&path).map_err(|source| TemplateError::ReadFile {
                    path: path.clone(),
                    source,
                })?;
            sources.push((name, path.display().to_string(), text));
        }
        sources.sort();
        let mut problems: Vec<String> = specs::SPECS
            .iter()
            .filter(|spec| !sources.iter().any(|(name, _, _)| name == spec.name))
            .map(|spec| {
                let file = dir.join(format!("{}.json", spec.name));
                format!("{}: missing: c1bot sends this template", file.display())
            })
            .collect();
        match Templates::build(sources, true) {
            Ok(templates) if problems.is_empty() => Ok(templates),
            Ok(_) => Err(TemplateError::Problems(problems)),
            Err(more) => {
                problems.extend(more);
                Err(TemplateError::Problems(problems))
            }
        }
    }

    /// Templates from (name, JSON text) pairs, for tests: not checked against
    /// [`specs::SPECS`].
    pub fn from_sources<N: Into<String>, T: Into<String>>(
        sources: impl IntoIterator<Item = (N, T)>,
    ) -> Result<Templates, TemplateError> {
        let sources = sources
            .into_iter()
            .map(|(name, text)| {
                let name = name.into();
                let file = format!("{name}.json");
                (name, file, text.into())
            })
            .collect();
        Templates::build(sources, false).map_err(TemplateError::Problems)
    }

    /// Parses and checks every source; with `against_specs`, each one c1bot knows is
    /// checked against its spec too. Every problem is returned, not only the first.
    fn build(
        sources: Vec<(String, String, String)>,
        against_specs: bool,
    ) -> Result<Templates, Vec<String>> {
        let mut templates = BTreeMap::new();
        let mut problems = Vec::new();
        let mut texts = BTreeMap::new();
        for (name, file, text) in sources {
            match parse(&file, &text) {
                Ok(template) => {
                    if let Some(spec) = specs::of(&name).filter(|_| against_specs) {
                        problems.extend(check::against_spec(spec, &template, &file, &text));
                    }
                    texts.insert(name.clone(), (file, text));
                    templates.insert(name, template);
                }
                Err(problem) => problems.push(problem),
            }
        }
        for (name, template) in &templates {
            for list in &template.placeholders.lists {
                let is_blocks = templates
                    .get(&list.item_template)
                    .is_some_and(|item| item.kind == Kind::Blocks);
                if !is_blocks {
                    let (file, text) = texts
                        .get(name)
                        .map_or((name.as_str(), ""), |(f, t)| (f.as_str(), t.as_str()));
                    let slot = format!("{{{{blocks:{}:", list.slot);
                    let line = lines::line_of_text(text, &slot).unwrap_or(1);
                    problems.push(format!(
                        "{file}:{line}: list slot '{}' names item template '{}', which is not a loaded array of blocks",
                        list.slot, list.item_template
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(Templates {
                inner: Arc::new(templates),
            })
        } else {
            Err(problems)
        }
    }

    /// Renders `name` with `vars`: valid Block Kit JSON within Slack's limits.
    pub fn render(&self, name: &str, vars: &Vars) -> Result<Value, RenderError> {
        render::render(self, name, vars)
    }

    pub fn get(&self, name: &str) -> Option<&Template> {
        self.inner.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.inner.keys().map(String::as_str)
    }
}

/// One file: its JSON, kind and placeholders, or the problem as `file:line: …`.
fn parse(file: &str, text: &str) -> Result<Template, String> {
    let json: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "{file}:{}:{}: invalid JSON: {}",
            e.line(),
            e.column(),
            json_message(&e)
        )
    })?;
    let invalid = |message: String| {
        // The message starts with the JSON path it is about, where there is one.
        let path = message.split_once(": ").map_or("", |(path, _)| path);
        let path = if path == "(root)" { "" } else { path };
        match lines::line_of_path(text, path).filter(|_| !path.contains(' ')) {
            Some(line) => format!("{file}:{line}: {message}"),
            None => format!("{file}: {message}"),
        }
    };
    let kind = placeholder::kind_of(&json).map_err(|e| format!("{file}:1: {e}"))?;
    let placeholders = placeholder::analyse(&json, kind).map_err(invalid)?;
    Ok(Template {
        kind,
        placeholders,
        json,
    })
}

/// serde_json's message without its " at line L column C", which the error already shows.
fn json_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message,
    }
}

#[cfg(test)]
mod tests;
