//! Every message and modal c1bot sends, as Block Kit JSON files in `blocks/`,
//! loaded and checked once at start-up and rendered with values substituted safely.
//!
//! Owns the template files' format (see `placeholder`), escaping (user text can
//! never ping `@channel`, mention someone or forge a link: `Vars`), and Block Kit's
//! size limits (`limits`: over-long text is truncated with "…", long lists end in
//! "… and N more"). It does not decide what to say or to whom; the workflow picks a
//! template and the values. I/O only in [`Templates::load`].
//!
//! Architecture invariant: values are substituted into the parsed JSON tree, never
//! into JSON text, so no value can change the structure of a message.

mod limits;
mod placeholder;
mod render;
mod vars;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

pub use limits::{enforce, max_blocks, violations, ELLIPSIS, MESSAGE_BLOCKS, VIEW_BLOCKS};
pub use placeholder::{Kind, ListSlot, Placeholders};
pub use vars::{slack_date, Choice, Vars};

/// The templates c1bot cannot run without; [`Templates::load`] refuses a folder
/// missing any of them.
pub const REQUIRED: [&str; 33] = [
    "usage",
    "request_modal",
    "request_submitted",
    "request_for_you",
    "approval_request",
    "request_decided",
    "deny_reason_modal",
    "requester_decision",
    "provisioning_task",
    "deprovisioning_task",
    "task_closed",
    "access_notice",
    "access_active",
    "access_expiring",
    "reason_modal",
    "extend_modal",
    "activity_line",
    "dm_step",
    "dm_confirm",
    "dm_closed",
    "campaign_modal",
    "campaign_card",
    "campaign_review",
    "campaign_channel_modal",
    "campaign_reassign_modal",
    "campaign_status",
    "campaign_reminder",
    "campaign_channel_reminder",
    "campaign_groups_item",
    "status",
    "home",
    "home_campaign_item",
    "home_review_item",
];

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

/// Why the templates could not be loaded. Names the file, and the JSON path or line.
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
    #[error("{file}:{line}:{column}: invalid JSON: {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{file}: list slot '{slot}' names item template '{item}', which is not a loaded array of blocks")]
    UnknownItemTemplate {
        file: String,
        slot: String,
        item: String,
    },
    #[error("{}: missing template(s): {}", .dir.display(), .names.join(", "))]
    Missing { dir: PathBuf, names: Vec<String> },
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
    /// Loads every `*.json` in `dir` (name = file stem) and checks that the
    /// [`REQUIRED`] ones are there.
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
        let templates = Templates::build(sources)?;
        let missing: Vec<String> = REQUIRED
            .iter()
            .filter(|name| templates.get(name).is_none())
            .map(|name| format!("{name}.json"))
            .collect();
        if !missing.is_empty() {
            return Err(TemplateError::Missing {
                dir: dir.to_path_buf(),
                names: missing,
            });
        }
        Ok(templates)
    }

    /// Templates from (name, JSON text) pairs, for tests; [`REQUIRED`] is not checked.
    pub fn from_sources<N: Into<String>, T: Into<String>>(
        sources: impl IntoIterator<Item = (N, T)>,
    ) -> Result<Templates, TemplateError> {
        Templates::build(
            sources
                .into_iter()
                .map(|(name, text)| {
                    let name = name.into();
                    let file = format!("{name}.json");
                    (name, file, text.into())
                })
                .collect(),
        )
    }

    fn build(sources: Vec<(String, String, String)>) -> Result<Templates, TemplateError> {
        let mut templates = BTreeMap::new();
        let mut files = BTreeMap::new();
        for (name, file, text) in sources {
            let json: Value = serde_json::from_str(&text).map_err(|e| TemplateError::Json {
                file: file.clone(),
                line: e.line(),
                column: e.column(),
                message: json_message(&e),
            })?;
            let invalid = |message: String| TemplateError::Invalid {
                file: file.clone(),
                message,
            };
            let kind = placeholder::kind_of(&json).map_err(invalid)?;
            let placeholders = placeholder::analyse(&json, kind).map_err(invalid)?;
            files.insert(name.clone(), file);
            templates.insert(
                name,
                Template {
                    kind,
                    placeholders,
                    json,
                },
            );
        }
        for (name, template) in &templates {
            for list in &template.placeholders.lists {
                let is_blocks = templates
                    .get(&list.item_template)
                    .is_some_and(|item| item.kind == Kind::Blocks);
                if !is_blocks {
                    return Err(TemplateError::UnknownItemTemplate {
                        file: files.get(name).cloned().unwrap_or_else(|| name.clone()),
                        slot: list.slot.clone(),
                        item: list.item_template.clone(),
                    });
                }
            }
        }
        Ok(Templates {
            inner: Arc::new(templates),
        })
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
