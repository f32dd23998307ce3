//! [`RawCatalog`] -> validated spaces and resources, collecting every problem.
//!
//! Checks: ids are slugs and unique; exactly one root; parents exist; no cycles;
//! resources name existing spaces; Slack ids have the right shape; durations parse
//! and default <= max; steps have approvers and a satisfiable quorum; provisioners
//! have assignees. Each problem names the item, the field and where it was written.
//! Pure: no I/O.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;

use super::duration::{AccessDuration, MaxDuration};
use super::fields::{FormField, MAX_FIELDS};
use super::load::{
    RawAssignees, RawCatalog, RawEntitlement, RawProvisioner, RawRequire, RawResource, RawSpace,
    RawStep, Source,
};
use super::model::{
    ApprovalStep, Approvers, Assignees, Automatic, CommandSpec, Entitlement, Escalation, Id,
    Provisioner, Requirement, Resource, SlackId, SlackIdKind, Space, WebhookSpec,
};
use super::Problem;

/// Valid spaces and resources, in the order written.
pub(super) type Validated = (Vec<Space>, Vec<Resource>);

pub(super) fn validate(raw: &RawCatalog, source: Source<'_>) -> Result<Validated, Vec<Problem>> {
    let mut check = Checker {
        source,
        problems: Vec::new(),
    };
    let spaces = check.spaces(&raw.spaces);
    let space_ids: HashSet<&str> = raw.spaces.iter().map(|s| s.id.get_ref().as_str()).collect();
    let mut seen = HashMap::new();
    let resources: Vec<Resource> = raw
        .resources
        .iter()
        .filter_map(|r| {
            check.unique(&mut seen, &r.id, format!("resource '{}'", r.id.get_ref()));
            check.resource(r, &space_ids)
        })
        .collect();
    if check.problems.is_empty() {
        Ok((spaces, resources))
    } else {
        Err(check.problems)
    }
}

struct Checker<'a> {
    source: Source<'a>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(
        &mut self,
        span: Option<Range<usize>>,
        item: &str,
        field: &str,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            at: self.source.at(span),
            item: item.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        });
    }

    fn id(&mut self, id: &Spanned<String>, item: &str) -> Option<Id> {
        Id::parse(id.get_ref())
            .map_err(|message| self.problem(Some(id.span()), item, "id", message))
            .ok()
    }

    fn unique(&mut self, seen: &mut HashMap<String, usize>, id: &Spanned<String>, item: String) {
        let line = self.source.at(Some(id.span())).line.unwrap_or(0);
        if let Some(first) = seen.insert(id.get_ref().clone(), line) {
            self.problem(
                Some(id.span()),
                &item,
                "id",
                format!("duplicate id: already used on line {first}"),
            );
        }
    }

    fn slack_ids(
        &mut self,
        ids: &[String],
        kind: SlackIdKind,
        span: Option<Range<usize>>,
        item: &str,
        field: &str,
    ) -> Vec<SlackId> {
        ids.iter()
            .filter_map(|id| {
                SlackId::parse(id, kind)
                    .map_err(|message| self.problem(span.clone(), item, field, message))
                    .ok()
            })
            .collect()
    }

    /// Slack user ids written one per array element, so each bad one is reported at its own line.
    fn users(&mut self, ids: &[Spanned<String>], item: &str, field: &str) -> Vec<SlackId> {
        ids.iter()
            .filter_map(|id| {
                SlackId::parse(id.get_ref(), SlackIdKind::User)
                    .map_err(|m| self.problem(Some(id.span()), item, field, m))
                    .ok()
            })
            .collect()
    }

    fn spaces(&mut self, raw: &[RawSpace]) -> Vec<Space> {
        let mut seen = HashMap::new();
        let mut spaces = Vec::new();
        for space in raw {
            let item = format!("space '{}'", space.id.get_ref());
            self.unique(&mut seen, &space.id, item.clone());
            let id = self.id(&space.id, &item);
            let parent = space.parent.as_ref().and_then(|p| {
                if !raw.iter().any(|s| s.id.get_ref() == p.get_ref()) {
                    self.problem(
                        Some(p.span()),
                        &item,
                        "parent",
                        format!("no space has id '{}'", p.get_ref()),
                    );
                }
                Id::parse(p.get_ref()).ok()
            });
            if let Some(id) = id {
                spaces.push(Space {
                    id,
                    name: space.name.clone(),
                    parent,
                    inherit: space.inherit,
                    labels: space.labels.clone(),
                });
            }
        }
        self.roots(raw);
        self.cycles(raw);
        spaces
    }

    fn roots(&mut self, raw: &[RawSpace]) {
        let roots: Vec<&RawSpace> = raw.iter().filter(|s| s.parent.is_none()).collect();
        match roots.as_slice() {
            [] if raw.is_empty() => {}
            [] => self.problem(
                None,
                "spaces",
                "parent",
                "no root space: exactly one space must have no parent",
            ),
            [_] => {}
            [first, rest @ ..] => {
                for extra in rest {
                    self.problem(
                        Some(extra.id.span()),
                        &format!("space '{}'", extra.id.get_ref()),
                        "parent",
                        format!(
                            "a second root space ('{}' is already the root): give it a parent",
                            first.id.get_ref()
                        ),
                    );
                }
            }
        }
    }

    /// A cycle is reported once, at its smallest id, with its members in order.
    fn cycles(&mut self, raw: &[RawSpace]) {
        let parent_of: BTreeMap<&str, &str> = raw
            .iter()
            .filter_map(|s| {
                Some((
                    s.id.get_ref().as_str(),
                    s.parent.as_ref()?.get_ref().as_str(),
                ))
            })
            .collect();
        for space in raw {
            let start = space.id.get_ref().as_str();
            let mut path = vec![start];
            let mut at = start;
            while let Some(&parent) = parent_of.get(at) {
                if parent == start {
                    if path.iter().all(|id| *id >= start) {
                        path.push(start);
                        self.problem(
                            space.parent.as_ref().map(Spanned::span),
                            &format!("space '{start}'"),
                            "parent",
                            format!("spaces form a cycle: {}", path.join(" → ")),
                        );
                    }
                    break;
                }
                if path.contains(&parent) || path.len() > raw.len() {
                    break; // a cycle above `start`, reported from inside it
                }
                path.push(parent);
                at = parent;
            }
        }
    }

    fn resource(&mut self, raw: &RawResource, spaces: &HashSet<&str>) -> Option<Resource> {
        let item = format!("resource '{}'", raw.id.get_ref());
        let id = self.id(&raw.id, &item);
        if !spaces.contains(raw.space.get_ref().as_str()) {
            self.problem(
                Some(raw.space.span()),
                &item,
                "space",
                format!("no space has id '{}'", raw.space.get_ref()),
            );
        }
        let owners = self.users(&raw.owners, &item, "owners");
        let mut seen = HashMap::new();
        let entitlements: Vec<Entitlement> = raw
            .entitlements
            .iter()
            .filter_map(|e| {
                let ent_item = format!("{item} entitlement '{}'", e.id.get_ref());
                self.unique(&mut seen, &e.id, ent_item.clone());
                self.entitlement(e, &ent_item, &owners)
            })
            .collect();
        Some(Resource {
            id: id?,
            name: raw.name.clone(),
            description: raw.description.clone(),
            space: Id::parse(raw.space.get_ref()).ok()?,
            owners,
            labels: raw.labels.clone(),
            entitlements,
        })
    }

    fn entitlement(
        &mut self,
        raw: &RawEntitlement,
        item: &str,
        owners: &[SlackId],
    ) -> Option<Entitlement> {
        let id = self.id(&raw.id, item);
        let members = self.users(&raw.members, item, "members");
        let max = self.max_duration(raw, item);
        let default = match &raw.default_duration {
            Some(text) => AccessDuration::parse(text.get_ref())
                .map_err(|e| {
                    self.problem(Some(text.span()), item, "default_duration", e.to_string())
                })
                .ok(),
            // One hour, or less when the maximum is shorter.
            None => AccessDuration::from_secs(3600).map(|hour| match max {
                Some(MaxDuration::Limited(max)) => hour.min(max),
                _ => hour,
            }),
        };
        if let (Some(default), Some(MaxDuration::Limited(max))) = (default, max) {
            if default > max {
                let span = raw.default_duration.as_ref().map(Spanned::span);
                self.problem(
                    span,
                    item,
                    "default_duration",
                    format!("{default} is longer than max_duration ({max})"),
                );
            }
        }
        let steps: Vec<ApprovalStep> = raw
            .steps
            .iter()
            .enumerate()
            .filter_map(|(n, step)| {
                let step_item = format!("{item} step {}", n + 1);
                self.step(step.get_ref(), n + 1, &step_item, owners, Some(step.span()))
            })
            .collect();
        let provisioner = self.provisioner(raw.provisioner.as_ref(), item, raw.id.span());
        let fields = self.form_fields(raw, item);
        let break_glass_max = self.break_glass_max(raw, item, max);
        Some(Entitlement {
            id: id?,
            name: raw.name.clone(),
            description: raw.description.clone(),
            default_duration: default?,
            max_duration: max?,
            permanent_allowed: raw.permanent_allowed,
            members,
            steps,
            provisioner: provisioner?,
            fields,
            break_glass_max: break_glass_max?,
        })
    }

    /// `break_glass_max_duration`: one hour when unset (or the maximum, if shorter),
    /// never above `max_duration`.
    fn break_glass_max(
        &mut self,
        raw: &RawEntitlement,
        item: &str,
        max: Option<MaxDuration>,
    ) -> Option<AccessDuration> {
        let key = "break_glass_max_duration";
        let Some(text) = &raw.break_glass_max_duration else {
            return AccessDuration::from_secs(3600).map(|hour| match max {
                Some(MaxDuration::Limited(max)) => hour.min(max),
                _ => hour,
            });
        };
        let parsed = AccessDuration::parse(text.get_ref())
            .map_err(|e| self.problem(Some(text.span()), item, key, e.to_string()))
            .ok()?;
        if let Some(MaxDuration::Limited(max)) = max {
            if parsed > max {
                let message = format!("{parsed} is longer than max_duration ({max})");
                self.problem(Some(text.span()), item, key, message);
                return None;
            }
        }
        Some(parsed)
    }

    /// The request form's extra fields; each problem is reported at its field.
    fn form_fields(&mut self, raw: &RawEntitlement, item: &str) -> Vec<FormField> {
        if raw.fields.len() > MAX_FIELDS {
            let span = raw.fields.get(MAX_FIELDS).map(Spanned::span);
            self.problem(span, item, "fields", format!("at most {MAX_FIELDS} fields"));
        }
        let mut seen = HashSet::new();
        let mut fields = Vec::new();
        for spanned in &raw.fields {
            let field_item = format!("{item} field '{}'", spanned.get_ref().id);
            match FormField::from_raw(spanned.get_ref()) {
                Ok(field) if !seen.insert(field.id.clone()) => {
                    self.problem(
                        Some(spanned.span()),
                        &field_item,
                        "id",
                        "another field has this id",
                    );
                }
                Ok(field) => fields.push(field),
                Err(problems) => {
                    for (key, message) in problems {
                        self.problem(Some(spanned.span()), &field_item, key, message);
                    }
                }
            }
        }
        fields
    }

    fn max_duration(&mut self, raw: &RawEntitlement, item: &str) -> Option<MaxDuration> {
        let text = &raw.max_duration;
        if text.get_ref() == "permanent" {
            if !raw.permanent_allowed {
                self.problem(
                    Some(text.span()),
                    item,
                    "max_duration",
                    "\"permanent\" needs permanent_allowed = true",
                );
                return None;
            }
            return Some(MaxDuration::Permanent);
        }
        AccessDuration::parse(text.get_ref())
            .map(MaxDuration::Limited)
            .map_err(|e| {
                let hint = if raw.permanent_allowed {
                    " (or \"permanent\")"
                } else {
                    ""
                };
                self.problem(
                    Some(text.span()),
                    item,
                    "max_duration",
                    format!("{e}{hint}"),
                )
            })
            .ok()
    }

    fn step(
        &mut self,
        raw: &RawStep,
        number: usize,
        item: &str,
        owners: &[SlackId],
        fallback: Option<Range<usize>>,
    ) -> Option<ApprovalStep> {
        let span = raw
            .approvers
            .as_ref()
            .map(Spanned::span)
            .or(fallback.clone());
        let approvers = match &raw.approvers {
            Some(a) => Approvers {
                users: self.slack_ids(
                    &a.get_ref().users,
                    SlackIdKind::User,
                    span.clone(),
                    item,
                    "approvers.users",
                ),
                groups: self.slack_ids(
                    &a.get_ref().groups,
                    SlackIdKind::UserGroup,
                    span.clone(),
                    item,
                    "approvers.groups",
                ),
                resource_owners: a.get_ref().resource_owners,
            },
            None => Approvers::default(),
        };
        let owners_count = if approvers.resource_owners {
            owners.len()
        } else {
            0
        };
        if approvers.users.is_empty() && approvers.groups.is_empty() && owners_count == 0 {
            let why = if approvers.resource_owners {
                "has no approvers: resource_owners = true but the resource has no owners"
            } else {
                "has no approvers: name users, groups, or set resource_owners = true"
            };
            self.problem(span.clone(), item, "approvers", why);
        }
        let require = self.require(raw, &approvers, owners, item, span.clone().or(fallback));
        let notify_channel = raw.notify_channel.as_ref().and_then(|c| {
            SlackId::parse(c.get_ref(), SlackIdKind::Channel)
                .map_err(|m| self.problem(Some(c.span()), item, "notify_channel", m))
                .ok()
        });
        let escalation = self.escalation(raw, item, span.clone());
        Some(ApprovalStep {
            name: raw.name.clone().unwrap_or_else(|| format!("Step {number}")),
            approvers,
            require: require?,
            notify_channel,
            escalation,
        })
    }

    /// `escalate_to` and `escalate_after` come together, and name someone.
    fn escalation(
        &mut self,
        raw: &RawStep,
        item: &str,
        span: Option<Range<usize>>,
    ) -> Option<Escalation> {
        match (&raw.escalate_to, &raw.escalate_after) {
            (None, None) => None,
            (Some(to), None) => {
                self.problem(
                    Some(to.span()),
                    item,
                    "escalate_after",
                    "is needed with escalate_to: say how long the step may wait, e.g. \"2h\"",
                );
                None
            }
            (None, Some(after)) => {
                self.problem(
                    Some(after.span()),
                    item,
                    "escalate_to",
                    "is needed with escalate_after: name the users or groups to ask next",
                );
                None
            }
            (Some(to), Some(after)) => {
                let when = AccessDuration::parse(after.get_ref())
                    .map_err(|e| {
                        self.problem(Some(after.span()), item, "escalate_after", e.to_string())
                    })
                    .ok();
                let raw_to = to.get_ref();
                let approvers = Approvers {
                    users: self.slack_ids(
                        &raw_to.users,
                        SlackIdKind::User,
                        Some(to.span()),
                        item,
                        "escalate_to.users",
                    ),
                    groups: self.slack_ids(
                        &raw_to.groups,
                        SlackIdKind::UserGroup,
                        Some(to.span()),
                        item,
                        "escalate_to.groups",
                    ),
                    resource_owners: raw_to.resource_owners,
                };
                if approvers.users.is_empty()
                    && approvers.groups.is_empty()
                    && !approvers.resource_owners
                {
                    self.problem(
                        span.or(Some(to.span())),
                        item,
                        "escalate_to",
                        "names nobody: list users, groups, or set resource_owners = true",
                    );
                    return None;
                }
                Some(Escalation {
                    after: when?,
                    to: approvers,
                })
            }
        }
    }

    fn require(
        &mut self,
        raw: &RawStep,
        approvers: &Approvers,
        owners: &[SlackId],
        item: &str,
        fallback: Option<Range<usize>>,
    ) -> Option<Requirement> {
        let Some(require) = &raw.require else {
            return Some(Requirement::Any);
        };
        let span = Some(require.span()).or(fallback);
        match require.get_ref() {
            RawRequire::Word(word) if word == "any" => Some(Requirement::Any),
            RawRequire::Word(word) if word == "all" => Some(Requirement::All),
            RawRequire::Word(word) => {
                self.problem(
                    span,
                    item,
                    "require",
                    format!(
                        "'{word}' is not a requirement: use \"any\", \"all\" or {{ at_least = N }}"
                    ),
                );
                None
            }
            RawRequire::AtLeast(n) => {
                let Some(n) = u32::try_from(n.at_least).ok().filter(|n| *n > 0) else {
                    self.problem(
                        span,
                        item,
                        "require.at_least",
                        format!("must be 1 or more, got {}", n.at_least),
                    );
                    return None;
                };
                // Groups are only known at run time; without them the count is exact.
                if approvers.groups.is_empty() {
                    let mut named: HashSet<&SlackId> = approvers.users.iter().collect();
                    if approvers.resource_owners {
                        named.extend(owners);
                    }
                    if named.len() < n as usize {
                        self.problem(
                            span,
                            item,
                            "require.at_least",
                            format!(
                                "needs {n} approvals but only {} approver(s) are named",
                                named.len()
                            ),
                        );
                        return None;
                    }
                }
                Some(Requirement::AtLeast(n))
            }
        }
    }

    fn provisioner(
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
    fn automatic(
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
    fn short_duration(
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
        let parsed = super::duration::parse_millis(text)
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
