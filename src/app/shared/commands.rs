//! The `/c1` slash command: parsing its text into a [`Command`] and the usage answer.
//!
//! Pure. Each subcommand that lands gets a variant here and an arm in the handler;
//! anything else gets the usage message, never silence.

/// What a person asked for after the slash command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/c1`, `/c1 help`.
    Help,
    /// `/c1 request [resource entitlement duration reason…]`: submitted at once when
    /// complete, else the request modal, filled with what was understood.
    Request(String),
    /// `/c1 status`: my open requests and active access.
    Status,
    /// `/c1 campaign`: create an access review (for people policy allows).
    Campaign,
    /// `/c1 revoke REQ-1042 [reason…]`: end active access early.
    Revoke { request_id: String, reason: String },
    /// `/c1 break-glass [resource entitlement duration reason…]` (emergency access,
    /// confirmed in a modal) or `/c1 break-glass REQ-1042 [reason…]` (escalate an
    /// open request).
    BreakGlass(String),
    /// A subcommand c1bot does not know (kept, to name it in the answer).
    Unknown(String),
}

impl Command {
    pub fn parse(text: &str) -> Command {
        let mut words = text.split_whitespace();
        match words.next().map(str::to_lowercase).as_deref() {
            None | Some("help") | Some("-h") | Some("--help") => Command::Help,
            Some("request") => Command::Request(words.collect::<Vec<_>>().join(" ")),
            Some("status") => Command::Status,
            Some("break-glass") | Some("breakglass") | Some("emergency") => {
                Command::BreakGlass(words.collect::<Vec<_>>().join(" "))
            }
            Some("campaign") | Some("review") => Command::Campaign,
            Some("revoke") => {
                let request_id = words.next().unwrap_or_default().to_uppercase();
                let reason = words.collect::<Vec<_>>().join(" ");
                Command::Revoke { request_id, reason }
            }
            Some(_) => Command::Unknown(
                text.split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            ),
        }
    }
}

/// The ephemeral answer to `help`, a bare command, or an unknown subcommand.
pub fn usage(command_name: &str, unknown: Option<&str>) -> String {
    let mut text = String::new();
    if let Some(word) = unknown {
        text.push_str(&format!(
            "I don't know `{}`. ",
            crate::app::shared::mrkdwn::escape(&truncate(word, 40))
        ));
    }
    text.push_str(&format!(
        "*c1bot* asks the right people for just-in-time access, right here in Slack.\n\
         • `{command_name} request`: ask for access (opens a form)\n\
         • `{command_name} request aws-prod readonly 2h why…`: ask in one line\n\
         • `{command_name} status`: your open requests and active access\n\
         • `{command_name} revoke REQ-1042 [reason]`: end access early\n\
         • `{command_name} campaign`: start an access review (if policy lets you)\n\
         • `{command_name} help`: this message"
    ));
    text
}

fn truncate(word: &str, max: usize) -> String {
    if word.chars().count() <= max {
        word.to_owned()
    } else {
        word.chars().take(max).chain(['…']).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_command_and_help_both_ask_for_usage() {
        assert_eq!(Command::parse(""), Command::Help);
        assert_eq!(Command::parse("   "), Command::Help);
        assert_eq!(Command::parse("HELP"), Command::Help);
    }

    #[test]
    fn request_keeps_its_search_text() {
        assert_eq!(
            Command::parse("request  aws prod"),
            Command::Request("aws prod".into())
        );
        assert_eq!(Command::parse("REQUEST"), Command::Request(String::new()));
        assert_eq!(Command::parse("status"), Command::Status);
    }

    #[test]
    fn revoke_names_the_request_and_keeps_the_reason() {
        assert_eq!(
            Command::parse("revoke req-1042 done with the incident"),
            Command::Revoke {
                request_id: "REQ-1042".into(),
                reason: "done with the incident".into()
            }
        );
        assert_eq!(
            Command::parse("revoke"),
            Command::Revoke {
                request_id: String::new(),
                reason: String::new()
            }
        );
    }

    #[test]
    fn an_unknown_subcommand_is_named_back() {
        assert_eq!(
            Command::parse("frobnicate now"),
            Command::Unknown("frobnicate".into())
        );
        assert!(usage("/c1", Some("frobnicate")).starts_with("I don't know `frobnicate`."));
    }

    #[test]
    fn hostile_subcommand_text_is_escaped_and_cut() {
        let text = usage("/c1", Some("<!channel>"));
        assert!(text.contains("&lt;!channel&gt;"), "{text}");
        let long = "x".repeat(500);
        let plain = usage("/c1", None).len();
        assert!(usage("/c1", Some(&long)).len() < plain + 100);
    }
}
