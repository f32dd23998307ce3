//! Slack tokens as validated secrets: [`AppToken`] (`xapp-`) and [`BotToken`] (`xoxb-`).
//!
//! Owns the token format checks and their error messages. A token's value never
//! appears in `Debug`, `Display` or any error; only [`AppToken::expose`] /
//! [`BotToken::expose`] hand it out, for the one place that puts it on the wire.

use std::fmt;
use std::str::FromStr;

/// Environment variable holding the app-level token.
pub const SLACK_APP_TOKEN: &str = "SLACK_APP_TOKEN";
/// Environment variable holding the bot token.
pub const SLACK_BOT_TOKEN: &str = "SLACK_BOT_TOKEN";

/// Real tokens are 50+ characters; anything under this is a truncated paste.
const MIN_TOKEN_LEN: usize = 20;

/// The app-level token (`xapp-…`), used only to open Socket Mode connections
/// (`apps.connections.open`, scope `connections:write`).
#[derive(Clone, PartialEq, Eq)]
pub struct AppToken(String);

/// The bot token (`xoxb-…`), used for every other Web API call.
#[derive(Clone, PartialEq, Eq)]
pub struct BotToken(String);

/// Which of the two tokens c1bot expected; decides the variable named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    App,
    Bot,
}

/// What a value's prefix says it is, when it is some other Slack token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundToken {
    App,
    Bot,
    User,
}

/// Why a token was refused. Each message is one line, names the variable and says
/// what a valid value looks like; none contains the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("{} is not set: set it to {}", .0.var(), .0.description())]
    Missing(TokenKind),
    #[error("{} is set but empty: set it to {}", .0.var(), .0.description())]
    Empty(TokenKind),
    #[error("{}", swapped_message(*expected, *found))]
    Swapped {
        expected: TokenKind,
        found: FoundToken,
    },
    #[error(
        "{} is wrapped in quotes: remove them (docker --env-file and systemd EnvironmentFile keep quotes literally); it should be {}",
        .0.var(), .0.description()
    )]
    Quoted(TokenKind),
    #[error("{} does not start with {}: set it to {}", .0.var(), .0.prefix(), .0.description())]
    WrongPrefix(TokenKind),
    #[error(
        "{} contains {what} at character {position}: a Slack token has only letters, digits and '-'; copy it again as {}",
        .kind.var(), .kind.description()
    )]
    BadCharacter {
        kind: TokenKind,
        position: usize,
        what: &'static str,
    },
    #[error(
        "{} is too short ({len} characters) to be a Slack token: it looks truncated; copy the whole value of {}",
        .kind.var(), .kind.description()
    )]
    TooShort { kind: TokenKind, len: usize },
}

impl TokenKind {
    /// The environment variable that holds this token.
    pub fn var(self) -> &'static str {
        match self {
            TokenKind::App => SLACK_APP_TOKEN,
            TokenKind::Bot => SLACK_BOT_TOKEN,
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::App => "xapp-",
            TokenKind::Bot => "xoxb-",
        }
    }

    fn description(self) -> &'static str {
        match self {
            TokenKind::App => "the app-level token (starts with xapp-, from Basic Information → App-Level Tokens, scope connections:write)",
            TokenKind::Bot => "the bot token (starts with xoxb-, from OAuth & Permissions → Bot User OAuth Token)",
        }
    }

    fn short_name(self) -> &'static str {
        match self {
            TokenKind::App => "app-level token",
            TokenKind::Bot => "bot token",
        }
    }
}

fn swapped_message(expected: TokenKind, found: FoundToken) -> String {
    let (var, wanted, prefix) = (expected.var(), expected.short_name(), expected.prefix());
    match found {
        FoundToken::App => format!(
            "{var} holds an app-level token (xapp-…): it needs the {wanted}, which starts with {prefix}; the xapp- token belongs in {SLACK_APP_TOKEN}"
        ),
        FoundToken::Bot => format!(
            "{var} holds a bot token (xoxb-…): it needs the {wanted}, which starts with {prefix}; the xoxb- token belongs in {SLACK_BOT_TOKEN}"
        ),
        FoundToken::User => format!(
            "{var} holds a user token (xoxp-…): it needs the {wanted}, which starts with {prefix}; c1bot does not use user tokens, which act as a person"
        ),
    }
}

/// Shared checks for both token types; returns the cleaned value.
fn parse_token(raw: &str, kind: TokenKind) -> Result<String, TokenError> {
    // Surrounding whitespace is trimmed silently: it can never be part of a token, and
    // a trailing newline is what `echo token > file`, mounted secrets and copy-paste
    // from a terminal produce. Refusing it would only make the operator do by hand what
    // is safe to do here. Quotes are different: they may hide a mistake elsewhere
    // (an env-file loader that does not unquote), so they are reported.
    let value = raw.trim();
    if value.is_empty() {
        return Err(TokenError::Empty(kind));
    }
    if value.starts_with(['"', '\'']) || value.ends_with(['"', '\'']) {
        return Err(TokenError::Quoted(kind));
    }
    let found = [
        ("xapp-", FoundToken::App),
        ("xoxb-", FoundToken::Bot),
        ("xoxp-", FoundToken::User),
    ]
    .into_iter()
    .find(|(prefix, _)| value.starts_with(prefix))
    .map(|(_, found)| found);
    match (kind, found) {
        (TokenKind::App, Some(FoundToken::App)) | (TokenKind::Bot, Some(FoundToken::Bot)) => {}
        (expected, Some(found)) => return Err(TokenError::Swapped { expected, found }),
        (_, None) => return Err(TokenError::WrongPrefix(kind)),
    }
    if let Some((index, c)) = value
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        let what = if c.is_whitespace() || c.is_control() {
            "whitespace or a control character"
        } else if matches!(c, '"' | '\'') {
            "a quote"
        } else {
            "a character that is not a letter, digit or '-'"
        };
        return Err(TokenError::BadCharacter {
            kind,
            position: index + 1,
            what,
        });
    }
    let len = value.chars().count();
    if len < MIN_TOKEN_LEN {
        return Err(TokenError::TooShort { kind, len });
    }
    Ok(value.to_owned())
}

macro_rules! token_impls {
    ($ty:ident, $kind:expr) => {
        impl $ty {
            /// Validate a raw value (surrounding whitespace is trimmed).
            pub fn parse(raw: &str) -> Result<Self, TokenError> {
                parse_token(raw, $kind).map($ty)
            }

            /// The secret itself: call only where it goes into an `Authorization` header.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = TokenError;

            fn from_str(raw: &str) -> Result<Self, TokenError> {
                Self::parse(raw)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}…(redacted)", $kind.prefix())
            }
        }
    };
}

token_impls!(AppToken, TokenKind::App);
token_impls!(BotToken, TokenKind::Bot);

#[cfg(test)]
mod tests {
    use super::*;

    // Realistic shapes, not real credentials.
    const FAKE_APP: &str =
        "xapp-1-A0FAKEFAKE1-1234567890123-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978";
    const FAKE_BOT: &str = "xoxb-1234567890123-1234567890123-FakeFakeFakeFakeFake0000";
    const FAKE_USER: &str = "xoxp-1234567890123-1234567890123-1234567890123-fakefakefake0000";

    #[test]
    fn valid_tokens_parse_and_expose_their_value() {
        assert_eq!(
            AppToken::parse(FAKE_APP).map(|t| t.expose().to_owned()),
            Ok(FAKE_APP.to_owned())
        );
        assert_eq!(
            BotToken::parse(FAKE_BOT).map(|t| t.expose().to_owned()),
            Ok(FAKE_BOT.to_owned())
        );
    }

    #[test]
    fn debug_and_display_show_only_the_prefix() {
        let app = AppToken::parse(FAKE_APP).expect("valid");
        let bot = BotToken::parse(FAKE_BOT).expect("valid");
        assert_eq!(format!("{app:?}"), "xapp-…(redacted)");
        assert_eq!(format!("{bot}"), "xoxb-…(redacted)");
        assert!(!format!("{app:?}{app}{bot:?}{bot}").contains("FAKE"));
    }

    #[test]
    fn a_trailing_newline_is_trimmed_silently() {
        let app = AppToken::parse(&format!("  {FAKE_APP}\n")).expect("trimmed");
        assert_eq!(app.expose(), FAKE_APP);
    }

    #[test]
    fn a_missing_token_names_the_variable_and_where_to_find_it() {
        assert_eq!(
            TokenError::Missing(TokenKind::App).to_string(),
            "SLACK_APP_TOKEN is not set: set it to the app-level token (starts with xapp-, from Basic Information → App-Level Tokens, scope connections:write)"
        );
        assert!(TokenError::Missing(TokenKind::Bot)
            .to_string()
            .starts_with("SLACK_BOT_TOKEN is not set: "));
    }

    #[test]
    fn an_empty_token_is_reported_as_empty() {
        assert_eq!(
            BotToken::parse(" \n"),
            Err(TokenError::Empty(TokenKind::Bot))
        );
    }

    #[test]
    fn a_swapped_app_token_is_named_in_the_error() {
        let err = AppToken::parse(FAKE_BOT).expect_err("a bot token is not an app token");
        assert_eq!(
            err.to_string(),
            "SLACK_APP_TOKEN holds a bot token (xoxb-…): it needs the app-level token, which starts with xapp-; the xoxb- token belongs in SLACK_BOT_TOKEN"
        );
    }

    #[test]
    fn a_swapped_bot_token_is_named_in_the_error() {
        let err = BotToken::parse(FAKE_APP).expect_err("an app token is not a bot token");
        assert_eq!(
            err.to_string(),
            "SLACK_BOT_TOKEN holds an app-level token (xapp-…): it needs the bot token, which starts with xoxb-; the xapp- token belongs in SLACK_APP_TOKEN"
        );
    }

    #[test]
    fn a_user_token_is_refused_in_either_variable() {
        for err in [
            AppToken::parse(FAKE_USER)
                .map(drop)
                .expect_err("user token"),
            BotToken::parse(FAKE_USER)
                .map(drop)
                .expect_err("user token"),
        ] {
            assert!(
                err.to_string().contains("holds a user token (xoxp-…)"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_quoted_token_says_to_remove_the_quotes() {
        let err = BotToken::parse(&format!("\"{FAKE_BOT}\"")).expect_err("quoted");
        assert_eq!(err, TokenError::Quoted(TokenKind::Bot));
        assert!(err
            .to_string()
            .starts_with("SLACK_BOT_TOKEN is wrapped in quotes: remove them"));
    }

    #[test]
    fn a_token_with_a_wrong_prefix_says_which_prefix_is_expected() {
        let err =
            AppToken::parse("xoxa-2-1234567890123-fakefakefakefake").expect_err("legacy prefix");
        assert_eq!(err, TokenError::WrongPrefix(TokenKind::App));
        assert!(err
            .to_string()
            .starts_with("SLACK_APP_TOKEN does not start with xapp-"));
    }

    #[test]
    fn a_token_with_an_inner_space_or_odd_character_is_refused_with_its_position() {
        let spaced = format!("{} {}", &FAKE_BOT[..10], &FAKE_BOT[10..]);
        assert_eq!(
            BotToken::parse(&spaced),
            Err(TokenError::BadCharacter {
                kind: TokenKind::Bot,
                position: 11,
                what: "whitespace or a control character"
            })
        );
        let dotted = format!("{}.{}", &FAKE_BOT[..10], &FAKE_BOT[10..]);
        assert!(matches!(
            BotToken::parse(&dotted),
            Err(TokenError::BadCharacter { position: 11, .. })
        ));
    }

    #[test]
    fn a_truncated_token_is_too_short() {
        assert_eq!(
            AppToken::parse("xapp-1-A0FAKE"),
            Err(TokenError::TooShort {
                kind: TokenKind::App,
                len: 13
            })
        );
    }

    #[test]
    fn no_token_error_contains_the_token_value() {
        let secret = "SeCrEtSeCrEtSeCrEt";
        let inputs = [
            format!("xoxb-{secret}"),
            format!("xoxp-{secret}"),
            format!("'xapp-{secret}'"),
            format!("xapp-{secret} extra"),
            format!("nope-{secret}"),
        ];
        for input in &inputs {
            for err in [
                AppToken::parse(input).map(drop),
                BotToken::parse(input).map(drop),
            ] {
                if let Err(err) = err {
                    assert!(!err.to_string().contains(secret), "{err}");
                    assert!(!format!("{err:?}").contains(secret), "{err:?}");
                }
            }
        }
    }

    #[test]
    fn every_token_error_is_one_line() {
        let errors = [
            TokenError::Missing(TokenKind::App),
            TokenError::Empty(TokenKind::Bot),
            TokenError::Quoted(TokenKind::App),
            TokenError::WrongPrefix(TokenKind::Bot),
            TokenError::TooShort {
                kind: TokenKind::App,
                len: 3,
            },
            TokenError::Swapped {
                expected: TokenKind::Bot,
                found: FoundToken::User,
            },
        ];
        for err in errors {
            assert!(!err.to_string().contains('\n'), "{err}");
        }
    }
}
