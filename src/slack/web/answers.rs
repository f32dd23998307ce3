//! The Web API answers c1bot reads, as small serde structs read with
//! [`WebApi::call_as`](super::WebApi::call_as): each names only the fields c1bot
//! uses; optional ones default, and an answer without a required one is a
//! `WebApiError::Decode` naming its method. Pure.

use serde::Deserialize;

/// `auth.test`: whose token it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AuthTest {
    #[serde(default)]
    pub team_id: String,
    #[serde(default)]
    pub team: String,
    #[serde(default)]
    pub user_id: String,
}

/// Something Slack names by its id (a view, a channel).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Id {
    pub id: String,
}

/// `views.open`: the view Slack opened.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ViewOpened {
    pub view: Id,
}

/// `conversations.create`: the channel Slack created.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChannelCreated {
    pub channel: Id,
}

/// One page of `conversations.list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ConversationsPage {
    #[serde(default)]
    pub channels: Vec<Conversation>,
    #[serde(default)]
    pub response_metadata: Paging,
}

/// A channel in `conversations.list`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Conversation {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub is_archived: bool,
    #[serde(default)]
    pub is_member: bool,
}

/// Where the next page starts (empty: this was the last).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Paging {
    #[serde(default)]
    pub next_cursor: String,
}

/// `usergroups.users.list`: a group's members.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GroupMembers {
    #[serde(default)]
    pub users: Vec<String>,
}

/// `usergroups.list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Usergroups {
    #[serde(default)]
    pub usergroups: Vec<Usergroup>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Usergroup {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub handle: String,
    #[serde(default)]
    pub name: String,
}

/// `users.info`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UserInfo {
    pub user: User,
}

/// A Slack user, as far as c1bot reads one (policy sees these fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct User {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub real_name: String,
    #[serde(default)]
    pub tz: String,
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub is_owner: bool,
    #[serde(default)]
    pub is_primary_owner: bool,
    #[serde(default)]
    pub is_restricted: bool,
    #[serde(default)]
    pub is_ultra_restricted: bool,
    /// Slack marks people from other organisations in shared channels this way.
    #[serde(default)]
    pub is_stranger: bool,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub has_2fa: bool,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub profile: Profile,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub real_name: String,
    pub email: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_user_reads_its_flags_and_profile_and_missing_ones_default() {
        let info: UserInfo = serde_json::from_value(json!({"ok": true, "user": {
            "id": "U1", "name": "alice", "tz": "Europe/Berlin", "is_restricted": true,
            "profile": {"display_name": "Alice", "email": "alice@example.com"},
            "unknown_field": 1
        }}))
        .expect("decodes");
        assert_eq!(info.user.id, "U1");
        assert!(info.user.is_restricted && !info.user.deleted);
        assert_eq!(
            info.user.profile.email.as_deref(),
            Some("alice@example.com")
        );
    }

    #[test]
    fn a_page_of_channels_and_its_cursor() {
        let page: ConversationsPage = serde_json::from_value(json!({"ok": true,
            "channels": [{"id": "C1", "name": "ops", "is_member": true}],
            "response_metadata": {"next_cursor": "abc"}}))
        .expect("decodes");
        assert_eq!(page.channels[0].name, "ops");
        assert!(page.channels[0].is_member && !page.channels[0].is_archived);
        assert_eq!(page.response_metadata.next_cursor, "abc");
        let last: ConversationsPage =
            serde_json::from_value(json!({"ok": true, "channels": []})).expect("decodes");
        assert!(last.response_metadata.next_cursor.is_empty());
    }

    #[test]
    fn an_answer_without_what_c1bot_asked_for_does_not_decode() {
        assert!(serde_json::from_value::<ViewOpened>(json!({"ok": true})).is_err());
        assert!(
            serde_json::from_value::<ChannelCreated>(json!({"ok": true, "channel": {}})).is_err()
        );
        assert!(serde_json::from_value::<UserInfo>(json!({"ok": true})).is_err());
    }
}
