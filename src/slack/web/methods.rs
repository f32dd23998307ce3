//! The registry of every Web API method c1bot calls: HTTP verb, token, rate tier and
//! the bot scopes it needs.
//!
//! This is the single source for pacing and for the scopes c1bot asks for (the app
//! manifest and the start-up scope check read [`ALL`]); a method not listed here
//! cannot be called.

/// How arguments travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Query string. slack-morphism and Slack's own SDKs read with GET.
    Get,
    /// JSON body with the token in the `Authorization` header.
    Post,
}

/// Which token the method takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// `xapp-…`, only for `apps.connections.open`.
    App,
    /// `xoxb-…`, everything else.
    Bot,
}

/// Slack's rate-limit classes (per method, per workspace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateClass {
    Tier1,
    Tier2,
    Tier3,
    Tier4,
    /// `chat.postMessage`: about one message per second per channel.
    PerChannel,
    /// `auth.test`: about 600 a minute.
    AuthTest,
    /// `views.open` / `views.push` (Tier 4 at Slack): not paced by c1bot, because
    /// their `trigger_id` expires 3 s after the click; queueing one behind a pacer
    /// can only turn it into `expired_trigger_id`. A 429 is still honoured.
    TriggerBound,
}

#[derive(Debug, PartialEq, Eq)]
pub struct ApiMethod {
    pub name: &'static str,
    pub verb: Verb,
    pub token: TokenKind,
    pub rate: RateClass,
    /// Bot scopes the method needs (any one of them, where Slack accepts several).
    /// The manifest asks for every one.
    pub scopes: &'static [&'static str],
    /// Scopes that let the method reach more (e.g. `conversations.history` in
    /// channels) but that c1bot does not ask for: an operator may grant them, and
    /// c1bot uses them only when the token holds them. Never in the manifest.
    pub optional_scopes: &'static [&'static str],
}

macro_rules! methods {
    ($($ident:ident = $name:literal, $verb:ident, $token:ident, $rate:ident, [$($scope:literal),*] $(optional [$($optional:literal),*])?;)*) => {
        $(pub const $ident: &ApiMethod = &ApiMethod {
            name: $name,
            verb: Verb::$verb,
            token: TokenKind::$token,
            rate: RateClass::$rate,
            scopes: &[$($scope),*],
            optional_scopes: &[$($($optional),*)?],
        };)*
        /// Every method c1bot may call.
        pub const ALL: &[&ApiMethod] = &[$($ident),*];
    };
}

methods! {
    APPS_CONNECTIONS_OPEN = "apps.connections.open", Post, App, Tier1, [];
    AUTH_TEST = "auth.test", Get, Bot, AuthTest, [];
    CHAT_POST_MESSAGE = "chat.postMessage", Post, Bot, PerChannel, ["chat:write"];
    CHAT_UPDATE = "chat.update", Post, Bot, Tier3, ["chat:write"];
    CHAT_POST_EPHEMERAL = "chat.postEphemeral", Post, Bot, Tier4, ["chat:write"];
    VIEWS_OPEN = "views.open", Post, Bot, TriggerBound, [];
    VIEWS_UPDATE = "views.update", Post, Bot, Tier4, [];
    VIEWS_PUSH = "views.push", Post, Bot, TriggerBound, [];
    VIEWS_PUBLISH = "views.publish", Post, Bot, Tier4, [];
    CONVERSATIONS_OPEN = "conversations.open", Post, Bot, Tier3, ["im:write"];
    CONVERSATIONS_CREATE = "conversations.create", Post, Bot, Tier2, ["channels:manage"];
    CONVERSATIONS_JOIN = "conversations.join", Post, Bot, Tier3, ["channels:join"];
    CONVERSATIONS_INVITE = "conversations.invite", Post, Bot, Tier3, ["channels:manage", "groups:write"];
    CONVERSATIONS_SET_PURPOSE = "conversations.setPurpose", Post, Bot, Tier2, ["channels:manage"];
    CONVERSATIONS_LIST = "conversations.list", Get, Bot, Tier2, ["channels:read", "groups:read"];
    // Exactly-once posts: after a crash, the outbox sender looks for a post in the
    // conversation's history (DMs with im:history; channels only where granted).
    CONVERSATIONS_HISTORY = "conversations.history", Get, Bot, Tier3, ["im:history"] optional ["channels:history", "groups:history"];
    USERS_INFO = "users.info", Get, Bot, Tier4, ["users:read"];
    USERGROUPS_USERS_LIST = "usergroups.users.list", Get, Bot, Tier2, ["usergroups:read"];
    USERGROUPS_LIST = "usergroups.list", Get, Bot, Tier2, ["usergroups:read"];
}

/// Looks a method up by its Slack name.
pub fn by_name(name: &str) -> Option<&'static ApiMethod> {
    ALL.iter().copied().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_apps_connections_open_takes_the_app_token() {
        let app_methods: Vec<&str> = ALL
            .iter()
            .filter(|m| m.token == TokenKind::App)
            .map(|m| m.name)
            .collect();
        assert_eq!(app_methods, ["apps.connections.open"]);
    }

    #[test]
    fn method_names_are_unique() {
        let mut names: Vec<&str> = ALL.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn channel_history_scopes_are_optional_and_dm_history_required() {
        assert_eq!(CONVERSATIONS_HISTORY.scopes, ["im:history"]);
        assert_eq!(
            CONVERSATIONS_HISTORY.optional_scopes,
            ["channels:history", "groups:history"]
        );
        assert!(CHAT_POST_MESSAGE.optional_scopes.is_empty());
    }

    #[test]
    fn methods_are_found_by_their_slack_name() {
        assert_eq!(by_name("chat.update"), Some(CHAT_UPDATE));
        assert_eq!(by_name("chat.nothing"), None);
    }
}
