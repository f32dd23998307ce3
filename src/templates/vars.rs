//! [`Vars`]: the values a template is rendered with.
//!
//! The API makes the safe thing the easy thing: [`Vars::text`] takes any string
//! and is escaped wherever Slack would read mrkdwn; the only way to put a mention
//! or a date token into a message is [`Vars::mention`] / [`Vars::date`], which
//! build the token themselves from a checked id or a number. The one way to pass
//! mrkdwn c1bot composed itself (a sentence mixing mentions, dates and escaped user
//! text) is a [`Mrkdwn`], whose constructor says so at every call site.

use std::collections::BTreeMap;

use crate::app::shared::mrkdwn::escape;

/// Named values for one render.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, Var>,
}

/// One option of a select, filled into an `{{options:slot}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub text: String,
    pub value: String,
    /// Becomes the select's `initial_option`.
    pub selected: bool,
}

/// mrkdwn c1bot composed: mentions from stored ids, dates from numbers, and every
/// piece of outside text passed through [`escape`]. Shown as mrkdwn where Slack reads
/// mrkdwn, and as Slack would show it ([`crate::app::shared::mrkdwn::to_plain`]) elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mrkdwn(String);

impl Mrkdwn {
    /// `text` must already be safe: outside text in it escaped, tokens built by c1bot.
    pub fn built(text: impl Into<String>) -> Mrkdwn {
        Mrkdwn(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone)]
pub(super) enum Var {
    /// Outside text: escaped in mrkdwn, literal in plain_text.
    Text(String),
    /// A token c1bot built: `mrkdwn` is shown where Slack reads mrkdwn, `plain` elsewhere.
    Token {
        mrkdwn: String,
        plain: String,
    },
    List(Vec<Vars>),
    Options(Vec<Choice>),
}

impl Vars {
    pub fn new() -> Vars {
        Vars::default()
    }

    /// Any text, including user input; escaped in mrkdwn so it cannot ping or link.
    pub fn text(mut self, name: &str, value: impl Into<String>) -> Vars {
        let value = crate::app::shared::mrkdwn::neutralise(&value.into());
        self.values.insert(name.to_owned(), Var::Text(value));
        self
    }

    /// A mention built from a Slack id: `U…`/`W…` -> `<@U…>`, `S…` -> `<!subteam^S…>`,
    /// `C…`/`G…` -> `<#C…>`. Anything that is not a well-formed id is shown as escaped
    /// text, never as a token.
    pub fn mention(mut self, name: &str, slack_id: &str) -> Vars {
        self.values.insert(name.to_owned(), mention(slack_id));
        self
    }

    /// The person access is for, and who asked when that is someone else:
    /// `<@frank> (asked by <@bob>)`; a single mention when they are the same person.
    pub fn person_asked_by(mut self, name: &str, beneficiary: &str, requester: &str) -> Vars {
        if beneficiary == requester {
            return self.mention(name, beneficiary);
        }
        let part = |id: &str| match mention(id) {
            Var::Token { mrkdwn, plain } => (mrkdwn, plain),
            Var::Text(text) => (escape(&text), text),
            Var::List(_) | Var::Options(_) => Default::default(),
        };
        let ((for_m, for_p), (by_m, by_p)) = (part(beneficiary), part(requester));
        let token = Var::Token {
            mrkdwn: format!("{for_m} (asked by {by_m})"),
            plain: format!("{for_p} (asked by {by_p})"),
        };
        self.values.insert(name.to_owned(), token);
        self
    }

    /// Several mentions, joined with ", "; "nobody" when empty.
    pub fn mentions<S: AsRef<str>>(mut self, name: &str, slack_ids: &[S]) -> Vars {
        let parts: Vec<Var> = slack_ids.iter().map(|id| mention(id.as_ref())).collect();
        let joined = if parts.is_empty() {
            Var::Text("nobody".to_owned())
        } else {
            let (mut mrkdwn, mut plain) = (Vec::new(), Vec::new());
            for part in parts {
                match part {
                    Var::Token {
                        mrkdwn: m,
                        plain: p,
                    } => {
                        mrkdwn.push(m);
                        plain.push(p);
                    }
                    Var::Text(t) => {
                        mrkdwn.push(escape(&t));
                        plain.push(t);
                    }
                    Var::List(_) | Var::Options(_) => {}
                }
            }
            Var::Token {
                mrkdwn: mrkdwn.join(", "),
                plain: plain.join(", "),
            }
        };
        self.values.insert(name.to_owned(), joined);
        self
    }

    /// A time every reader sees in their own time zone: `<!date^TS^{date_short_pretty} at {time}|fallback>`,
    /// with a UTC fallback for clients that cannot format it.
    pub fn date(mut self, name: &str, unix_secs: i64) -> Vars {
        let token = Var::Token {
            mrkdwn: slack_date(unix_secs),
            plain: utc_fallback(unix_secs),
        };
        self.values.insert(name.to_owned(), token);
        self
    }

    /// mrkdwn c1bot composed (see [`Mrkdwn`]).
    pub fn mrkdwn(mut self, name: &str, text: Mrkdwn) -> Vars {
        let plain = crate::app::shared::mrkdwn::to_plain(&text.0, &|_| None);
        self.values.insert(
            name.to_owned(),
            Var::Token {
                mrkdwn: text.0,
                plain,
            },
        );
        self
    }

    /// Items for `{{blocks:name:item_template}}`, each rendered with the item template.
    pub fn list(mut self, name: &str, items: Vec<Vars>) -> Vars {
        self.values.insert(name.to_owned(), Var::List(items));
        self
    }

    /// Options for `{{options:name}}`.
    pub fn options(mut self, name: &str, choices: Vec<Choice>) -> Vars {
        self.values.insert(name.to_owned(), Var::Options(choices));
        self
    }

    pub(super) fn get(&self, name: &str) -> Option<&Var> {
        self.values.get(name)
    }
}

fn mention(id: &str) -> Var {
    let well_formed = (3..=32).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let token = match id.chars().next() {
        Some('U' | 'W') if well_formed => format!("<@{id}>"),
        Some('S') if well_formed => format!("<!subteam^{id}>"),
        Some('C' | 'G') if well_formed => format!("<#{id}>"),
        _ => return Var::Text(id.to_owned()),
    };
    Var::Token {
        mrkdwn: token,
        plain: id.to_owned(),
    }
}

/// `<!date^…>`: a date Slack shows in each reader's own time zone, with a UTC
/// fallback for clients that cannot.
pub fn slack_date(unix_secs: i64) -> String {
    format!(
        "<!date^{unix_secs}^{{date_short_pretty}} at {{time}}|{}>",
        utc_fallback(unix_secs)
    )
}

fn utc_fallback(unix_secs: i64) -> String {
    chrono::DateTime::from_timestamp(unix_secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "an unknown time".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(vars: &Vars, name: &str) -> (String, String) {
        match vars.get(name) {
            Some(Var::Token { mrkdwn, plain }) => (mrkdwn.clone(), plain.clone()),
            Some(Var::Text(t)) => (escape(t), t.clone()),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn mentions_are_built_only_from_well_formed_ids() {
        let vars = Vars::new()
            .mention("user", "U0BOB00001")
            .mention("group", "S0SECOPS01")
            .mention("channel", "C0SECURITY")
            .mention("forged", "U1> <!channel")
            .mentions("many", &["U0BOB00001", "U0CAROL001"])
            .mentions::<&str>("none", &[]);
        assert_eq!(shown(&vars, "user").0, "<@U0BOB00001>");
        assert_eq!(shown(&vars, "group").0, "<!subteam^S0SECOPS01>");
        assert_eq!(shown(&vars, "channel").0, "<#C0SECURITY>");
        assert_eq!(shown(&vars, "forged").0, "U1&gt; &lt;!channel");
        assert_eq!(shown(&vars, "many").0, "<@U0BOB00001>, <@U0CAROL001>");
        assert_eq!(shown(&vars, "none").0, "nobody");
    }

    #[test]
    fn dates_carry_a_utc_fallback() {
        let vars = Vars::new().date("at", 1_763_630_043);
        assert_eq!(
            shown(&vars, "at"),
            (
                "<!date^1763630043^{date_short_pretty} at {time}|2025-11-20 09:14 UTC>".to_owned(),
                "2025-11-20 09:14 UTC".to_owned()
            )
        );
    }
}
