//! The config file: TOML text -> [`RawFile`], plus the line of every key.
//!
//! Owns the file's shape (`deny_unknown_fields` on every table) and turns toml's
//! errors into one-line [`ConfigError`]s naming file, line and dotted key. It does
//! not validate values; `config` does that, using [`ParsedFile::origin`] to point
//! at the offending line. Tokens are refused here, before anything else is read.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use serde::Deserialize;
use toml::de::{DeTable, DeValue};

use super::{ConfigError, FilePos, Origin, SLACK_APP_TOKEN, SLACK_BOT_TOKEN};
use crate::catalog::{Catalog, RawCatalog, Source};

/// The file as written: every key optional, no value checked yet.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawFile {
    pub data_dir: Option<PathBuf>,
    pub slack: RawSlack,
    pub socket: RawSocket,
    pub log: RawLog,
    pub policies_dir: Option<PathBuf>,
    pub blocks_dir: Option<PathBuf>,
    pub requests: RawRequests,
    pub grants: RawGrants,
    pub activity: RawActivity,
    pub break_glass: RawBreakGlass,
    pub audit: RawAudit,
    pub features: RawFeatures,
    pub retention: RawRetention,
    pub health: RawHealth,
    pub store: RawStore,
    /// A separate catalog file, relative to this file's directory.
    pub catalog_file: Option<PathBuf>,
    /// The catalog written inline; validated in [`ParsedFile::parse`].
    pub catalog: Option<RawCatalog>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawSlack {
    pub api_url: Option<String>,
    // Signed so that `-1` gets the same "must be between" message as `0`.
    pub connections: Option<i64>,
    pub command: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawSocket {
    pub ping_interval_secs: Option<i64>,
    pub reconnect_backoff_initial_ms: Option<i64>,
    pub reconnect_backoff_max_secs: Option<i64>,
    pub hello_timeout_secs: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawRequests {
    pub decide_within: Option<String>,
    pub remind_every: Option<String>,
    pub conversation_expires_after: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawGrants {
    pub remind_before_expiry: Option<String>,
    pub revoke_overdue_after: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawActivity {
    pub channel: Option<String>,
    pub include_reason: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawBreakGlass {
    pub channel: Option<String>,
    pub review_remind_every: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawAudit {
    pub anchor_channel: Option<String>,
    pub anchor_every: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawFeatures {
    pub dm_requests: Option<bool>,
    pub access_reviews: Option<bool>,
    pub campaign_channels: Option<bool>,
    pub user_groups: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawRetention {
    pub closed_after: Option<String>,
    pub archive: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawHealth {
    pub listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawStore {
    pub url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct RawLog {
    pub format: Option<String>,
}

/// A parsed file, or the defaults when there is none.
#[derive(Debug, Default)]
pub(super) struct ParsedFile {
    pub raw: RawFile,
    /// Shown in errors: the path as given, or `c1bot.toml`.
    name: String,
    /// Dotted key -> 1-based line.
    lines: BTreeMap<String, usize>,
    /// The inline `[catalog]`, validated; empty when there is none.
    pub catalog: Catalog,
}

/// One key of the document, found by walking it with spans.
struct KeyAt {
    path: String,
    key_span: Range<usize>,
    value_span: Range<usize>,
}

impl ParsedFile {
    pub(super) fn parse(name: &str, text: &str) -> Result<ParsedFile, ConfigError> {
        let at = |span: Option<Range<usize>>| FilePos {
            file: name.to_owned(),
            line: span.map(|s| line_of(text, s.start)),
        };
        let document = DeTable::parse(text).map_err(|e| ConfigError::Syntax {
            at: at(e.span()),
            message: one_line(e.message()),
        })?;
        let mut keys = Vec::new();
        collect_keys(document.get_ref(), "", &mut keys);

        if let Some((key, var)) = keys
            .iter()
            .find_map(|k| token_var(&k.path).map(|var| (k, var)))
        {
            return Err(ConfigError::TokenInFile {
                at: at(Some(key.key_span.clone())),
                key: key.path.clone(),
                var,
            });
        }

        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let span = e.span();
            let key = span.as_ref().and_then(|span| {
                keys.iter()
                    .find(|k| k.key_span == *span || k.value_span == *span)
                    .map(|k| k.path.clone())
            });
            let at = at(span);
            let message = e.message();
            match (message.strip_prefix("unknown field `"), key) {
                (Some(_), Some(key)) => ConfigError::UnknownKey {
                    at,
                    key,
                    expected: expected_keys(message),
                },
                (_, key) => ConfigError::FileValue {
                    at,
                    key: key.unwrap_or_else(|| "(document)".to_owned()),
                    message: plain_types(&one_line(message)),
                },
            }
        })?;

        let catalog = match &raw.catalog {
            Some(inline) => Catalog::from_raw(inline, Source { name, text })?,
            None => Catalog::default(),
        };
        let lines = keys
            .into_iter()
            .map(|k| (k.path, line_of(text, k.key_span.start)))
            .collect();
        Ok(ParsedFile {
            raw,
            name: name.to_owned(),
            lines,
            catalog,
        })
    }

    /// Where `key` (dotted) was set, for a value error.
    pub(super) fn origin(&self, key: &str) -> Origin {
        Origin::File {
            at: FilePos {
                file: self.name.clone(),
                line: self.lines.get(key).copied(),
            },
            key: key.to_owned(),
        }
    }
}

fn collect_keys(table: &DeTable<'_>, prefix: &str, out: &mut Vec<KeyAt>) {
    for (key, value) in table.iter() {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        match value.get_ref() {
            DeValue::Table(inner) => collect_keys(inner, &path, out),
            DeValue::Array(items) => {
                for item in items.iter() {
                    if let DeValue::Table(inner) = item.get_ref() {
                        collect_keys(inner, &path, out);
                    }
                }
            }
            _ => {}
        }
        out.push(KeyAt {
            path,
            key_span: key.span(),
            value_span: value.span(),
        });
    }
}

/// Any key that looks like a token names the variable it belongs in.
fn token_var(path: &str) -> Option<&'static str> {
    let leaf = path.rsplit('.').next().unwrap_or(path).to_ascii_lowercase();
    if !leaf.contains("token") {
        return None;
    }
    Some(if leaf.contains("app") {
        SLACK_APP_TOKEN
    } else if leaf.contains("bot") {
        SLACK_BOT_TOKEN
    } else {
        "SLACK_APP_TOKEN and SLACK_BOT_TOKEN"
    })
}

/// serde says "unknown field `x`, expected one of `a`, `b`"; we say "expected one of: a, b".
fn expected_keys(message: &str) -> String {
    let Some((_, expected)) = message.split_once(", expected ") else {
        return if message.contains("there are no fields") {
            "this table takes no keys".to_owned()
        } else {
            one_line(message)
        };
    };
    let expected = one_line(&expected.replace('`', ""));
    match expected.strip_prefix("one of ") {
        Some(list) => format!("expected one of: {list}"),
        None => format!("expected {expected}"),
    }
}

/// serde names Rust types ("expected i64", "expected struct RawSlack"); say what TOML wants.
fn plain_types(message: &str) -> String {
    let message = message.replace("expected i64", "expected a whole number");
    match message.find("expected struct ") {
        Some(at) => format!("{}expected a table", &message[..at]),
        None => message,
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ParsedFile, String> {
        ParsedFile::parse("c1bot.toml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn an_unknown_key_error_names_the_key_the_file_and_the_line() {
        let text = "data_dir = \"/tmp/x\"\n[slack]\nconnections = 2\nconections = 3\n";
        assert_eq!(
            parse(text).map(drop),
            Err("c1bot.toml:4: unknown key 'slack.conections' (expected one of: api_url, connections, command)".to_owned())
        );
    }

    #[test]
    fn an_unknown_table_is_named_at_the_top_level() {
        let err = parse("[slakc]\nconnections = 2\n")
            .map(drop)
            .expect_err("unknown table");
        assert!(
            err.starts_with(
                "c1bot.toml:1: unknown key 'slakc' (expected one of: data_dir, slack, socket, log"
            ),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_dotted_key_is_named_in_full() {
        let err = parse("log.fromat = \"json\"\n")
            .map(drop)
            .expect_err("unknown key");
        assert_eq!(
            err,
            "c1bot.toml:1: unknown key 'log.fromat' (expected format)"
        );
    }

    #[test]
    fn a_token_in_the_file_says_to_use_the_environment() {
        let err = parse("[slack]\napp_token = \"xapp-1-A0FAKEFAKE1-1234567890123-abcdef\"\n")
            .map(drop)
            .expect_err("token key");
        assert_eq!(
            err,
            "c1bot.toml:2: 'slack.app_token' is not accepted in the config file: tokens are secrets and are read only from the environment; remove it and set SLACK_APP_TOKEN"
        );
        let err = parse("[slack]\nbot_token = \"xoxb-fake\"\n")
            .map(drop)
            .expect_err("token key");
        assert!(err.ends_with("set SLACK_BOT_TOKEN"), "{err}");
        assert!(!err.contains("xoxb-fake"));
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_key_and_line() {
        let err = parse("[socket]\n\nping_interval_secs = \"ten\"\n")
            .map(drop)
            .expect_err("type");
        assert_eq!(err, "c1bot.toml:3: socket.ping_interval_secs: invalid type: string \"ten\", expected a whole number");
        let err = parse("slack = 3\n").map(drop).expect_err("type");
        assert_eq!(
            err,
            "c1bot.toml:1: slack: invalid type: integer `3`, expected a table"
        );
    }

    #[test]
    fn a_syntax_error_is_one_line_with_its_line_number() {
        let err = parse("[slack]\nconnections = = 2\n")
            .map(drop)
            .expect_err("syntax");
        assert!(err.starts_with("c1bot.toml:2: invalid TOML: "), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn the_lines_of_known_keys_are_remembered() {
        let file = parse("\n[slack]\ncommand = \"/x\"\n").expect("valid");
        assert_eq!(
            file.origin("slack.command").to_string(),
            "c1bot.toml:3: slack.command"
        );
        assert_eq!(file.raw.slack.command.as_deref(), Some("/x"));
    }
}
