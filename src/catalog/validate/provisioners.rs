//! Who grants and revokes an entitlement: assignees of manual tasks, and the
//! settings of a webhook or command provisioner.

use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::Checker;
use crate::catalog::load::{RawAssignees, RawProvisioner};
use crate::catalog::model::{
    Assignees, Automatic, CommandSpec, Provisioner, SlackIdKind, WebhookSpec,
};

impl Checker<'_> {
    pub(super) fn provisioner(
        &mut self,
        raw: Option<&Spanned<RawProvisioner>>,
        item: &str,
        fallback: Range<usize>,
    ) -> Option<Provisioner> {
        let Some(raw) = raw else {
            self.problem(
                Some(fallback),
                item,
                "provisioner",
                "missing: add [..entitlements.provisioner] with kind = \"manual\" and assignees",
            );
            return None;
        };
        let span = Some(raw.span());
        let provisioner = raw.get_ref();
        let kind = provisioner.kind.as_str();
        if !["manual", "webhook", "command"].contains(&kind) {
            self.problem(
                span,
                item,
                "provisioner.kind",
                format!("'{kind}' is not a provisioner kind (expected manual, webhook or command)"),
            );
            return None;
        }
        let RawAssignees { users, groups } = &provisioner.assignees;
        let assignees = Assignees {
            users: self.slack_ids(
                users,
                SlackIdKind::User,
                span.clone(),
                item,
                "provisioner.assignees.users",
            ),
            groups: self.slack_ids(
                groups,
                SlackIdKind::UserGroup,
                span.clone(),
                item,
                "provisioner.assignees.groups",
            ),
        };
        if users.is_empty() && groups.is_empty() {
            let message = if kind == "manual" {
                "is empty: name the users or groups who grant this access"
            } else {
                "is empty: name the users or groups who get a manual task when the automatic provisioner still fails after its retries"
            };
            self.problem(span, item, "provisioner.assignees", message);
            return None;
        }
        let automatic = self.automatic(provisioner, span, item)?;
        Some(Provisioner {
            assignees,
            automatic,
        })
    }

    /// The webhook or command settings of a provisioner; `Some(None)` for manual.
    pub(super) fn automatic(
        &mut self,
        raw: &RawProvisioner,
        span: Option<Range<usize>>,
        item: &str,
    ) -> Option<Option<Automatic>> {
        let foreign: &[(&str, bool)] = match raw.kind.as_str() {
            "manual" => &[
                ("url", raw.url.is_some()),
                ("secret_env", raw.secret_env.is_some()),
                ("program", raw.program.is_some()),
                ("args", raw.args.is_some()),
                ("timeout", raw.timeout.is_some()),
                ("retries", raw.retries.is_some()),
                ("retry_backoff", raw.retry_backoff.is_some()),
            ],
            "webhook" => &[
                ("program", raw.program.is_some()),
                ("args", raw.args.is_some()),
            ],
            _ => &[
                ("url", raw.url.is_some()),
                ("secret_env", raw.secret_env.is_some()),
            ],
        };
        let mut ok = true;
        for (key, present) in foreign {
            if *present {
                self.problem(
                    span.clone(),
                    item,
                    &format!("provisioner.{key}"),
                    format!("is not a setting of a {} provisioner", raw.kind),
                );
                ok = false;
            }
        }
        if raw.kind == "manual" {
            return ok.then_some(None);
        }
        let timeout = self.short_duration(
            raw.timeout.as_deref(),
            Duration::from_secs(10),
            span.clone(),
            item,
            "provisioner.timeout",
        );
        let retry_backoff = self.short_duration(
            raw.retry_backoff.as_deref(),
            Duration::from_secs(1),
            span.clone(),
            item,
            "provisioner.retry_backoff",
        );
        let retries = match raw.retries {
            None => Some(3),
            Some(n) if (0..=10).contains(&n) => u32::try_from(n).ok(),
            Some(n) => {
                self.problem(
                    span.clone(),
                    item,
                    "provisioner.retries",
                    format!("must be between 0 and 10 (retries after the first attempt), got {n}"),
                );
                None
            }
        };
        let automatic = if raw.kind == "webhook" {
            let url = match raw.url.as_deref().map(url::Url::parse) {
                Some(Ok(url)) if matches!(url.scheme(), "http" | "https") => Some(url.to_string()),
                Some(Ok(url)) => {
                    self.problem(
                        span.clone(),
                        item,
                        "provisioner.url",
                        format!("must be an http or https URL, not {}:", url.scheme()),
                    );
                    None
                }
                Some(Err(error)) => {
                    self.problem(
                        span.clone(),
                        item,
                        "provisioner.url",
                        format!("is not a URL: {error}"),
                    );
                    None
                }
                None => {
                    self.problem(
                        span.clone(),
                        item,
                        "provisioner.url",
                        "missing: the URL c1bot POSTs each grant and revoke to",
                    );
                    None
                }
            };
            let secret_env = match raw.secret_env.as_deref().map(str::trim) {
                Some(name)
                    if !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    Some(name.to_owned())
                }
                Some(name) => {
                    self.problem(
                        span.clone(),
                        item,
                        "provisioner.secret_env",
                        format!("'{name}' is not an environment variable name"),
                    );
                    None
                }
                None => {
                    self.problem(span.clone(), item, "provisioner.secret_env", "missing: the environment variable holding the HMAC key requests are signed with (the key itself never goes in the catalog)");
                    None
                }
            };
            let (url, secret_env, timeout, retries, retry_backoff) =
                (url?, secret_env?, timeout?, retries?, retry_backoff?);
            Automatic::Webhook(WebhookSpec {
                url,
                secret_env,
                timeout,
                retries,
                retry_backoff,
            })
        } else {
            let program = match raw.program.as_deref().map(str::trim) {
                Some(program) if !program.is_empty() => Some(program.to_owned()),
                _ => {
                    self.problem(
                        span.clone(),
                        item,
                        "provisioner.program",
                        "missing: the program c1bot runs with the grant or revoke on stdin",
                    );
                    None
                }
            };
            let (program, timeout, retries, retry_backoff) =
                (program?, timeout?, retries?, retry_backoff?);
            Automatic::Command(CommandSpec {
                program,
                args: raw.args.clone().unwrap_or_default(),
                timeout,
                retries,
                retry_backoff,
            })
        };
        ok.then_some(Some(automatic))
    }

    /// A provisioner's timeout or backoff: "250ms", "10s", "2m"; 1 ms to 10 min.
    pub(super) fn short_duration(
        &mut self,
        text: Option<&str>,
        default: Duration,
        span: Option<Range<usize>>,
        item: &str,
        field: &str,
    ) -> Option<Duration> {
        let Some(text) = text else {
            return Some(default);
        };
        let parsed = crate::catalog::parse_millis(text)
            .ok()
            .map(Duration::from_millis);
        match parsed {
            Some(d) if d >= Duration::from_millis(1) && d <= Duration::from_secs(600) => Some(d),
            _ => {
                self.problem(span, item, field, format!("'{text}' is not a duration from 1ms to 10m (write it like 500ms, 10s or 2m)"));
                None
            }
        }
    }
}
