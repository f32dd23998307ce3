//! Finding policy files on disk and turning regorus's compile errors into
//! [`PolicyLoadError`]s that name the file and line. Does not evaluate anything.

use std::fs;
use std::path::{Path, PathBuf};

/// Why the policies could not be loaded. Start-up stops on any of these.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: no policy files (*.rego) found", dir.display())]
    NoPolicies { dir: PathBuf },
    /// A parse or compile error, located as precisely as regorus tells us.
    #[error("{file}{}: {message}", line.map(|line| format!(":{line}")).unwrap_or_default())]
    Invalid {
        file: String,
        line: Option<u32>,
        message: String,
    },
}

/// One policy source: `path` is what regorus and load errors show
/// (`policies/access.rego`), `name` what decisions show (`access.rego`).
#[derive(Debug, Clone)]
pub(crate) struct PolicySource {
    pub path: String,
    pub name: String,
    pub text: String,
}

impl PolicySource {
    pub(crate) fn is_test(&self) -> bool {
        self.name.ends_with("_test.rego")
    }
}

/// Every `*.rego` under `dir` (recursively, hidden entries skipped), sorted by path
/// so that module order, and so the order of reasons, is stable.
pub(crate) fn read_sources(dir: &Path) -> Result<Vec<PolicySource>, PolicyLoadError> {
    let mut paths = Vec::new();
    collect_rego_paths(dir, &mut paths)?;
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).map_err(|source| PolicyLoadError::Read {
                path: path.clone(),
                source,
            })?;
            let name = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            Ok(PolicySource {
                path: path.to_string_lossy().into_owned(),
                name,
                text,
            })
        })
        .collect()
}

fn collect_rego_paths(dir: &Path, paths: &mut Vec<PathBuf>) -> Result<(), PolicyLoadError> {
    let read_error = |source| PolicyLoadError::Read {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(read_error)? {
        let path = entry.map_err(read_error)?.path();
        let hidden = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            collect_rego_paths(&path, paths)?;
        } else if path
            .extension()
            .is_some_and(|extension| extension == "rego")
        {
            paths.push(path);
        }
    }
    Ok(())
}

/// Where and what a regorus error says. Its errors look like
/// `"\n--> policies/access.rego:12:5\n   |\n12 | …\n   | ^\nerror: message"`;
/// errors without a location (limits, internal errors) come back whole, on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocatedError {
    pub file: Option<String>,
    pub line: Option<u32>,
    pub message: String,
}

pub(crate) fn locate(error: &anyhow::Error) -> LocatedError {
    let text = format!("{error:#}");
    let location = text
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("--> "))
        .and_then(split_location);
    let message = text
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("error: "))
        .map(str::to_owned)
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "));
    match location {
        Some((file, line)) => LocatedError {
            file: Some(file),
            line: Some(line),
            message,
        },
        None => LocatedError {
            file: None,
            line: None,
            message,
        },
    }
}

/// `"dir/a.rego:12:5"` -> `("dir/a.rego", 12)`; the file may itself contain colons.
fn split_location(location: &str) -> Option<(String, u32)> {
    let (rest, _column) = location.rsplit_once(':')?;
    let (file, line) = rest.rsplit_once(':')?;
    Some((file.to_owned(), line.parse().ok()?))
}

impl LocatedError {
    /// The load error, blaming `fallback_file` when regorus gave no location.
    pub(crate) fn into_load_error(self, fallback_file: &str) -> PolicyLoadError {
        PolicyLoadError::Invalid {
            file: self.file.unwrap_or_else(|| fallback_file.to_owned()),
            line: self.line,
            message: self.message,
        }
    }

    /// A one-line summary for a user-facing reason: `line 12: divide by zero`.
    pub(crate) fn summary(&self) -> String {
        match self.line {
            Some(line) => format!("line {line}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regorus_error_is_located_by_file_and_line() {
        let error = anyhow::anyhow!(
            "\n--> policies/access.rego:12:5\n   |\n12 | allow {{\n   |     ^\nerror: `if` keyword is required before rule body"
        );
        let located = locate(&error);
        assert_eq!(located.file.as_deref(), Some("policies/access.rego"));
        assert_eq!(located.line, Some(12));
        assert_eq!(located.message, "`if` keyword is required before rule body");
        assert_eq!(
            located.into_load_error("ignored").to_string(),
            "policies/access.rego:12: `if` keyword is required before rule body"
        );
    }

    #[test]
    fn an_error_without_location_blames_the_fallback_file() {
        let error = anyhow::anyhow!("execution exceeded time limit\n(limit=5ms)");
        let located = locate(&error);
        assert_eq!(located.line, None);
        assert_eq!(
            located.summary(),
            "execution exceeded time limit (limit=5ms)"
        );
        assert_eq!(
            located.into_load_error("a.rego").to_string(),
            "a.rego: execution exceeded time limit (limit=5ms)"
        );
    }
}
