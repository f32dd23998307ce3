//! Access requests written as text: the one-line slash command
//! (`/c1 request aws-prod readonly 2h incident 4711`) and a DM that reads as a
//! request (`please give me readonly on aws-prod for 30m: incident 4711`), both
//! reduced to one [`Parsed`] result that the caller either submits ([`Parsed::complete`])
//! or turns into questions ([`Parsed::problems`], or a guided conversation that
//! reuses [`match_resource`], [`match_entitlement`] and [`match_duration`]).
//!
//! Owns reading Slack's message text (mentions, `<!channel>`, links, `&amp;`), the
//! words people use for durations, and matching typed names against the catalog.
//! It never guesses: an exact id or name (case-insensitive) is found; anything else
//! is `Unknown` or `Ambiguous` with the closest candidates for the person to pick.
//!
//! Pure: no I/O, no clock, no policy. It does not decide who may request what (policy
//! does) nor build the request (the workflow does); it checks durations only against
//! the catalog's own maximum, so the workflow still applies a policy's tighter one.
//! Any text, however long or odd, yields a result; nothing here panics on input.

pub mod conversation;
mod duration;
mod matching;
mod message;
mod one_line;
pub mod start;
mod text;

#[cfg(test)]
mod tests;

pub use crate::catalog::RequestedDuration;
pub use duration::match_duration;
pub use matching::{match_entitlement, match_resource};
pub use message::parse_message;
pub use one_line::parse_one_line;

/// A resource's catalog id, as written in the catalog.
pub type ResourceId = String;
/// An entitlement's catalog id, unique within its resource.
pub type EntitlementId = String;

/// Slack text as the person saw it (`<@U…|bob>` reads `@bob`, `&amp;` reads `&`):
/// for free text that is kept and shown again, such as a revoke reason.
pub fn as_seen(raw: &str) -> String {
    text::plain(text::cap_input(raw))
}

/// The longest reason kept, in characters; a longer one is [`Part::Invalid`].
pub const MAX_REASON_CHARS: usize = 2_000;

/// What was understood of a request written as text, each part with its own problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub resource: Part<ResourceId>,
    /// Checked against the resource only once the resource is `Found`; before that
    /// an entitlement given as text is `Unknown`, with candidates where a candidate
    /// resource has an entitlement of exactly that id or name.
    pub entitlement: Part<EntitlementId>,
    /// Checked against the entitlement's maximum once the entitlement is `Found`.
    pub duration: Part<RequestedDuration>,
    /// Trimmed; `Missing` when empty, `Invalid` above [`MAX_REASON_CHARS`].
    pub reason: Part<String>,
    /// The Slack user id of a `for <@U…>` mention: the request is for them.
    pub on_behalf_of: Option<String>,
    /// `for @bob` typed as plain text, which names nobody Slack can identify. Kept
    /// so that the request is not silently made for the sender instead.
    pub unresolved_mention: Option<String>,
    /// Scheduled access: `from 09:00 tomorrow` (one-line only), in the requester's zone.
    pub starts: Option<start::StartPhrase>,
}

/// One part of a request, as understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part<T> {
    Found(T),
    Missing,
    /// Nothing matches exactly; `candidates` are the closest, best first, at most five.
    Unknown {
        text: String,
        candidates: Vec<Candidate>,
    },
    /// Several match equally well (a prefix shared by two ids, two equal names).
    Ambiguous {
        text: String,
        candidates: Vec<Candidate>,
    },
    /// Understood but not acceptable (a duration above the maximum, a reason too long).
    Invalid {
        text: String,
        why: String,
    },
}

impl<T> Part<T> {
    pub fn found(&self) -> Option<&T> {
        match self {
            Part::Found(value) => Some(value),
            _ => None,
        }
    }

    pub fn is_found(&self) -> bool {
        matches!(self, Part::Found(_))
    }
}

/// Something the person may have meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub resource: ResourceId,
    /// `None` when the candidate is a resource.
    pub entitlement: Option<EntitlementId>,
    /// "AWS production", or "AWS production · ReadOnly" for an entitlement.
    pub label: String,
}

impl Candidate {
    /// "AWS production (aws-prod)", "AWS production · ReadOnly (readonly)".
    fn describe(&self) -> String {
        let id = self.entitlement.as_deref().unwrap_or(&self.resource);
        format!("{} ({id})", self.label)
    }
}

/// Every part found: what the workflow needs to create the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complete {
    pub resource: ResourceId,
    pub entitlement: EntitlementId,
    pub duration: RequestedDuration,
    pub reason: String,
    pub on_behalf_of: Option<String>,
    pub starts: Option<start::StartPhrase>,
}

impl Parsed {
    /// Nothing understood yet: every part missing.
    pub fn empty() -> Parsed {
        Parsed {
            resource: Part::Missing,
            entitlement: Part::Missing,
            duration: Part::Missing,
            reason: Part::Missing,
            on_behalf_of: None,
            unresolved_mention: None,
            starts: None,
        }
    }

    /// The request, when every part was found and nobody was named only as text.
    pub fn complete(&self) -> Option<Complete> {
        if self.unresolved_mention.is_some() {
            return None;
        }
        Some(Complete {
            resource: self.resource.found()?.clone(),
            entitlement: self.entitlement.found()?.clone(),
            duration: *self.duration.found()?,
            reason: self.reason.found()?.clone(),
            on_behalf_of: self.on_behalf_of.clone(),
            starts: self.starts,
        })
    }

    /// One friendly sentence per problem, in the order the parts are asked for.
    /// Plain text that quotes what the person typed: escape it before putting it in
    /// mrkdwn (`app::mrkdwn::escape`).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(resource_problem(&self.resource));
        // Until the resource is known an entitlement cannot be judged; asking about
        // the resource first keeps it to one question.
        if self.resource.is_found() || self.entitlement == Part::Missing {
            out.extend(entitlement_problem(
                &self.entitlement,
                self.resource.found().map(String::as_str),
            ));
        }
        out.extend(duration_problem(&self.duration));
        out.extend(reason_problem(&self.reason));
        if let Some(name) = &self.unresolved_mention {
            out.push(format!(
                "I can't tell who '{}' is: pick them from Slack's @ list so the name becomes a mention.",
                quoted(name)
            ));
        }
        out
    }
}

fn resource_problem(part: &Part<ResourceId>) -> Option<String> {
    Some(match part {
        Part::Found(_) => return None,
        Part::Missing => "Which resource do you need access to?".to_owned(),
        Part::Unknown { text, candidates } => format!(
            "I don't know the resource '{}'.{}",
            quoted(text),
            did_you_mean(candidates)
        ),
        Part::Ambiguous { text, candidates } => format!(
            "'{}' could be more than one resource: {}. Which one?",
            quoted(text),
            either(candidates)
        ),
        Part::Invalid { text, why } => format!("The resource '{}' won't do: {why}.", quoted(text)),
    })
}

fn entitlement_problem(part: &Part<EntitlementId>, resource: Option<&str>) -> Option<String> {
    let on = resource.map(|r| format!(" on {r}")).unwrap_or_default();
    Some(match part {
        Part::Found(_) => return None,
        Part::Missing => format!("Which entitlement do you need{on}?"),
        Part::Unknown { text, candidates } => format!(
            "I don't know the entitlement '{}'{on}.{}",
            quoted(text),
            did_you_mean(candidates)
        ),
        Part::Ambiguous { text, candidates } => format!(
            "'{}' could be more than one entitlement{on}: {}. Which one?",
            quoted(text),
            either(candidates)
        ),
        Part::Invalid { text, why } => {
            format!("The entitlement '{}' won't do: {why}.", quoted(text))
        }
    })
}

fn duration_problem(part: &Part<RequestedDuration>) -> Option<String> {
    Some(match part {
        Part::Found(_) => return None,
        Part::Missing => "For how long? For example 30m, 2h, 1d or 2 hours.".to_owned(),
        Part::Invalid { text, why } => format!("The duration '{}' won't do: {why}.", quoted(text)),
        Part::Unknown { text, .. } | Part::Ambiguous { text, .. } => format!(
            "I don't understand the duration '{}': use for example 30m, 2h, 1d or 2 hours.",
            quoted(text)
        ),
    })
}

fn reason_problem(part: &Part<String>) -> Option<String> {
    Some(match part {
        Part::Found(_) => return None,
        Part::Missing => {
            "Why do you need it? Add a reason for the approvers, e.g. 'because incident 4711'."
                .to_owned()
        }
        Part::Invalid { why, .. } => format!("The reason won't do: {why}."),
        Part::Unknown { text, .. } | Part::Ambiguous { text, .. } => {
            format!("I don't understand the reason '{}'.", quoted(text))
        }
    })
}

fn did_you_mean(candidates: &[Candidate]) -> String {
    if candidates.is_empty() {
        String::new()
    } else {
        format!(" Did you mean {}?", either(candidates))
    }
}

/// "A (a)", "A (a) or B (b)", "A (a), B (b) or C (c)".
fn either(candidates: &[Candidate]) -> String {
    let described: Vec<String> = candidates.iter().map(Candidate::describe).collect();
    match described.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// What the person typed, short enough to quote back in one sentence.
fn quoted(text: &str) -> String {
    text::preview(text, 60)
}

/// The reason as a part: trimmed, without a leading `because`, `for reason`,
/// `reason:`, `:` or dash; `Missing` when nothing is left, `Invalid` when too long.
fn reason_part(text: &str) -> Part<String> {
    let mut rest = text.trim();
    for marker in ["because", "for reason", "reason"] {
        let (Some(head), Some(after)) = (rest.get(..marker.len()), rest.get(marker.len()..)) else {
            continue;
        };
        let whole_word = after.chars().next().is_none_or(|c| !c.is_alphanumeric());
        if head.eq_ignore_ascii_case(marker) && whole_word {
            rest = after.trim_start();
            break;
        }
    }
    // A lone `:` or dash introduces the reason; `:fire:` starts it.
    for dash in [":", "--", "-", "–", "—"] {
        if let Some(after) = rest.strip_prefix(dash) {
            if after.is_empty() || after.starts_with(char::is_whitespace) {
                rest = after.trim_start();
                break;
            }
        }
    }
    let rest = rest.trim();
    let length = rest.chars().count();
    if length == 0 {
        Part::Missing
    } else if length > MAX_REASON_CHARS {
        Part::Invalid {
            text: text::preview(rest, 60),
            why: format!(
                "it is {length} characters long; keep it to {MAX_REASON_CHARS} and link to the details"
            ),
        }
    } else {
        Part::Found(rest.to_owned())
    }
}
