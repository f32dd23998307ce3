//! Validated non-secret config values: [`ApiUrl`], [`SlashCommandName`], [`LogFormat`].
//!
//! Each has `parse(&str) -> Result<Self, _>` and no other constructor, so holding one
//! means it is valid. Errors here do not say where the value came from; the loader
//! adds that (variable name, or file, line and key).

use std::fmt;
use std::str::FromStr;

use url::Url;

/// Slack's Web API base, always ending in `/`.
pub const DEFAULT_API_URL: &str = "https://slack.com/api/";
/// Slack's limit on a slash command's name, counting the leading `/`.
const MAX_COMMAND_LEN: usize = 32;

/// Base URL of the Slack Web API (or the simulator's), normalised to end with `/`
/// so that [`ApiUrl::method_url`] is a plain concatenation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUrl(Url);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiUrlError {
    #[error("is not a URL ({0}): use e.g. https://slack.com/api/")]
    NotAUrl(url::ParseError),
    #[error("has scheme '{0}': it must be an http or https URL such as https://slack.com/api/")]
    WrongScheme(String),
    #[error("has no host: use e.g. https://slack.com/api/")]
    NoHost,
    #[error(
        "contains a user name or password: remove it, the Web API is authorised by SLACK_BOT_TOKEN"
    )]
    HasCredentials,
    #[error("has a query or fragment: give only the base, e.g. https://slack.com/api/")]
    HasQueryOrFragment,
}

impl ApiUrl {
    pub fn parse(raw: &str) -> Result<Self, ApiUrlError> {
        let mut url = Url::parse(raw.trim()).map_err(ApiUrlError::NotAUrl)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ApiUrlError::WrongScheme(url.scheme().to_owned()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ApiUrlError::NoHost);
        }
        // Checked before anything prints the URL, so a password never reaches a log.
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ApiUrlError::HasCredentials);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ApiUrlError::HasQueryOrFragment);
        }
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(ApiUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// `base + method`, e.g. `https://slack.com/api/chat.postMessage`.
    pub fn method_url(&self, method: &str) -> String {
        format!("{}{}", self.0.as_str(), method.trim_start_matches('/'))
    }
}

impl Default for ApiUrl {
    fn default() -> Self {
        // A constant, not outside input; `the_default_api_url_parses` pins it.
        ApiUrl(Url::parse(DEFAULT_API_URL).expect("DEFAULT_API_URL is a valid URL"))
    }
}

impl fmt::Display for ApiUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiUrl {
    type Err = ApiUrlError;

    fn from_str(raw: &str) -> Result<Self, ApiUrlError> {
        Self::parse(raw)
    }
}

/// A slash command's name as registered in the app manifest, e.g. `/c1`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SlashCommandName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlashCommandError {
    #[error("must start with '/', e.g. /c1")]
    NoSlash,
    #[error("needs a name after the '/', e.g. /c1")]
    Empty,
    #[error("is {0} characters long: Slack allows at most 32, counting the '/'")]
    TooLong(usize),
    #[error("must be lowercase (Slack matches commands in lowercase)")]
    NotLowercase,
    #[error("may contain only lowercase letters, digits, '-' and '_' after the '/'")]
    BadCharacter,
}

impl SlashCommandName {
    pub fn parse(raw: &str) -> Result<Self, SlashCommandError> {
        let Some(name) = raw.strip_prefix('/') else {
            return Err(SlashCommandError::NoSlash);
        };
        if name.is_empty() {
            return Err(SlashCommandError::Empty);
        }
        let len = raw.chars().count();
        if len > MAX_COMMAND_LEN {
            return Err(SlashCommandError::TooLong(len));
        }
        if name.chars().any(char::is_uppercase) {
            return Err(SlashCommandError::NotLowercase);
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(SlashCommandError::BadCharacter);
        }
        Ok(SlashCommandName(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SlashCommandName {
    fn default() -> Self {
        SlashCommandName("/c1".to_owned())
    }
}

impl fmt::Display for SlashCommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for SlashCommandName {
    type Err = SlashCommandError;

    fn from_str(raw: &str) -> Result<Self, SlashCommandError> {
        Self::parse(raw)
    }
}

/// How tracing output is written: human-readable lines or one JSON object per line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 'text' or 'json'")]
pub struct LogFormatError;

impl LogFormat {
    /// `text` or `json`, ignoring ASCII case and surrounding whitespace.
    pub fn parse(raw: &str) -> Result<Self, LogFormatError> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("text") {
            Ok(LogFormat::Text)
        } else if raw.eq_ignore_ascii_case("json") {
            Ok(LogFormat::Json)
        } else {
            Err(LogFormatError)
        }
    }
}

impl FromStr for LogFormat {
    type Err = LogFormatError;

    fn from_str(raw: &str) -> Result<Self, LogFormatError> {
        Self::parse(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_api_url_parses() {
        assert_eq!(ApiUrl::parse(DEFAULT_API_URL), Ok(ApiUrl::default()));
        assert_eq!(ApiUrl::default().as_str(), "https://slack.com/api/");
    }

    #[test]
    fn an_api_url_without_a_trailing_slash_gets_one() {
        let url = ApiUrl::parse("https://slack.com/api").expect("valid");
        assert_eq!(url.as_str(), "https://slack.com/api/");
        assert_eq!(
            url.method_url("chat.postMessage"),
            "https://slack.com/api/chat.postMessage"
        );
    }

    #[test]
    fn a_simulator_api_url_is_kept_as_is() {
        let url = ApiUrl::parse("http://127.0.0.1:40123/api/").expect("valid");
        assert_eq!(url.as_str(), "http://127.0.0.1:40123/api/");
        assert_eq!(
            url.method_url("/apps.connections.open"),
            "http://127.0.0.1:40123/api/apps.connections.open"
        );
    }

    #[test]
    fn a_bare_host_api_url_normalises_to_a_root_slash() {
        assert_eq!(
            ApiUrl::parse("http://localhost:8080").map(|u| u.to_string()),
            Ok("http://localhost:8080/".to_owned())
        );
    }

    #[test]
    fn an_api_url_must_be_http_or_https() {
        assert_eq!(
            ApiUrl::parse("ftp://slack.com/api/"),
            Err(ApiUrlError::WrongScheme("ftp".to_owned()))
        );
        assert!(matches!(
            ApiUrl::parse("slack.com/api"),
            Err(ApiUrlError::NotAUrl(_))
        ));
        assert!(matches!(ApiUrl::parse(""), Err(ApiUrlError::NotAUrl(_))));
    }

    #[test]
    fn an_api_url_with_credentials_or_a_query_is_refused() {
        assert_eq!(
            ApiUrl::parse("https://u:p@slack.com/api/"),
            Err(ApiUrlError::HasCredentials)
        );
        assert_eq!(
            ApiUrl::parse("https://slack.com/api/?x=1"),
            Err(ApiUrlError::HasQueryOrFragment)
        );
        assert!(!ApiUrlError::HasCredentials.to_string().contains("u:p"));
    }

    #[test]
    fn a_slash_command_must_start_with_a_slash_be_lowercase_and_short() {
        assert_eq!(
            SlashCommandName::parse("/c1").map(|c| c.to_string()),
            Ok("/c1".to_owned())
        );
        assert_eq!(
            SlashCommandName::parse("/access-request_2").map(|c| c.as_str().len()),
            Ok(17)
        );
        assert_eq!(
            SlashCommandName::parse("c1"),
            Err(SlashCommandError::NoSlash)
        );
        assert_eq!(SlashCommandName::parse("/"), Err(SlashCommandError::Empty));
        assert_eq!(
            SlashCommandName::parse("/C1"),
            Err(SlashCommandError::NotLowercase)
        );
        assert_eq!(
            SlashCommandName::parse("/c 1"),
            Err(SlashCommandError::BadCharacter)
        );
        assert_eq!(
            SlashCommandName::parse(&format!("/{}", "a".repeat(31))).map(drop),
            Ok(())
        );
        assert_eq!(
            SlashCommandName::parse(&format!("/{}", "a".repeat(32))),
            Err(SlashCommandError::TooLong(33))
        );
    }

    #[test]
    fn log_format_is_text_or_json_in_any_case() {
        assert_eq!(LogFormat::parse("text"), Ok(LogFormat::Text));
        assert_eq!(LogFormat::parse(" JSON "), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse("yaml"), Err(LogFormatError));
        assert_eq!(LogFormat::default(), LogFormat::Text);
    }
}
