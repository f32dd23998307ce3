//! Who people are: Slack's `users.info`, cached briefly, and user-group members.
//!
//! Policies decide on the person's account (admin, guest, deactivated, 2FA, time
//! zone), so every decision reads a fresh-enough copy. A cache entry lives
//! [`TTL`]; a deactivation is therefore seen within that time. A lookup that fails
//! is an error, never a guessed profile: an unknown person gets no access.
//!
//! User-group members (approvers and assignees named as groups) are cached for
//! [`GROUP_TTL`] and refreshed in the background ([`Directory::refresh_groups`]),
//! so a submission or a timer rarely waits on `usergroups.users.list` (Tier 2).
//! When Slack cannot answer, members read within [`GROUP_STALE_LIMIT`] are used
//! rather than failing the person.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::policy::SlackUser;
use crate::slack::web::answers::{GroupMembers, User, UserInfo};
use crate::slack::web::{methods, WebApi, WebApiError};

/// How long a profile is trusted.
pub const TTL: Duration = Duration::from_secs(60);
/// How long a group's members are used without asking Slack again.
pub const GROUP_TTL: Duration = Duration::from_secs(300);
/// How old cached members may be when Slack cannot be asked.
pub const GROUP_STALE_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// A person as c1bot knows them: the profile policies read (`input.slack.user`),
/// and the email that provisioners need but policies do not see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub profile: SlackUser,
    pub email: Option<String>,
    /// An app's bot user: never given access, asked or addressed as a person.
    pub is_bot: bool,
}

impl Person {
    /// Reads Slack's user object. Missing flags read as false, except that an
    /// object with no id is refused.
    pub fn from_user(user: &User) -> Option<Person> {
        if user.id.is_empty() {
            return None;
        }
        let first = |a: &str, b: &str| if a.is_empty() { b } else { a }.to_owned();
        Some(Person {
            profile: SlackUser {
                display_name: first(&user.profile.display_name, &user.name),
                real_name: first(&user.real_name, &user.profile.real_name),
                is_admin: user.is_admin,
                is_owner: user.is_owner,
                is_primary_owner: user.is_primary_owner,
                is_restricted: user.is_restricted,
                is_ultra_restricted: user.is_ultra_restricted,
                is_stranger: user.is_stranger,
                deleted: user.deleted,
                has_2fa: user.has_2fa,
                tz: user.tz.clone(),
                id: user.id.clone(),
            },
            email: user.profile.email.clone(),
            is_bot: user.is_bot,
        })
    }

    /// [`Person::from_user`] of a `users.info` user object, for tests and fixtures.
    #[cfg(test)]
    pub fn from_slack(user: &serde_json::Value) -> Option<Person> {
        serde_json::from_value::<User>(user.clone())
            .ok()
            .and_then(|user| Person::from_user(&user))
    }
}

#[derive(Clone)]
pub struct Directory {
    web: WebApi,
    people: Arc<Mutex<HashMap<String, (Instant, Person)>>>,
    groups: Arc<Mutex<HashMap<String, CachedGroup>>>,
}

/// A group's members and when they were read.
type CachedGroup = (Instant, Vec<String>);

impl Directory {
    pub fn new(web: WebApi) -> Self {
        Self {
            web,
            people: Arc::default(),
            groups: Arc::default(),
        }
    }

    /// The person's profile, from the cache if fresh, else from Slack.
    pub async fn person(&self, user_id: &str) -> Result<Person, WebApiError> {
        if let Some(person) = self.cached(user_id) {
            return Ok(person);
        }
        let answer: UserInfo = self
            .web
            .call_as(methods::USERS_INFO, json!({ "user": user_id }))
            .await?;
        let person = Person::from_user(&answer.user).ok_or_else(|| WebApiError::Decode {
            method: methods::USERS_INFO.name,
            detail: "users.info returned no user".into(),
        })?;
        let mut people = self.people.lock().unwrap_or_else(|p| p.into_inner());
        people.insert(user_id.to_owned(), (Instant::now(), person.clone()));
        Ok(person)
    }

    /// A fresh cached profile, without asking Slack.
    pub fn cached(&self, user_id: &str) -> Option<Person> {
        let people = self.people.lock().unwrap_or_else(|p| p.into_inner());
        people
            .get(user_id)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, person)| person.clone())
    }

    /// Members of a user group: from the cache when read within [`GROUP_TTL`], else
    /// from Slack; when Slack fails, members read within [`GROUP_STALE_LIMIT`].
    pub async fn group_members(&self, group_id: &str) -> Result<Vec<String>, WebApiError> {
        if let Some(members) = self.cached_group(group_id, GROUP_TTL) {
            return Ok(members);
        }
        match self.fetch_group(group_id).await {
            Ok(members) => Ok(members),
            Err(error) => match self.cached_group(group_id, GROUP_STALE_LIMIT) {
                Some(members) => {
                    tracing::warn!(%error, group = group_id, "Slack could not list a user group; using the members read earlier");
                    Ok(members)
                }
                None => Err(error),
            },
        }
    }

    /// Members of a group read within `max_age`, without asking Slack.
    pub fn cached_group(&self, group_id: &str, max_age: Duration) -> Option<Vec<String>> {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        groups
            .get(group_id)
            .filter(|(at, _)| at.elapsed() < max_age)
            .map(|(_, members)| members.clone())
    }

    /// Reads again every cached group older than half its TTL; returns how many
    /// failed. Called by a background loop so people seldom wait on Slack.
    pub async fn refresh_groups(&self) -> usize {
        let stale: Vec<String> = {
            let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
            groups
                .iter()
                .filter(|(_, (at, _))| at.elapsed() >= GROUP_TTL / 2)
                .map(|(id, _)| id.clone())
                .collect()
        };
        let mut failed = 0;
        for group in stale {
            if let Err(error) = self.fetch_group(&group).await {
                tracing::warn!(%error, group, "could not refresh a user group's members");
                failed += 1;
            }
        }
        failed
    }

    async fn fetch_group(&self, group_id: &str) -> Result<Vec<String>, WebApiError> {
        let answer: GroupMembers = self
            .web
            .call_as(
                methods::USERGROUPS_USERS_LIST,
                json!({ "usergroup": group_id }),
            )
            .await?;
        let members = answer.users;
        let mut groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        groups.insert(group_id.to_owned(), (Instant::now(), members.clone()));
        Ok(members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slack_user_object_becomes_the_policy_view_of_a_person() {
        let person = Person::from_slack(&json!({
            "id": "U0DAVE0001", "name": "dave", "real_name": "Dave Guest", "tz": "Europe/Paris",
            "is_restricted": true, "deleted": false, "profile": {"display_name": "", "email": "dave@acme.example"}
        }))
        .expect("has an id");
        assert_eq!(person.profile.display_name, "dave");
        assert!(person.profile.is_restricted && !person.profile.is_admin);
        assert_eq!(person.email.as_deref(), Some("dave@acme.example"));
    }

    #[test]
    fn a_user_object_without_an_id_is_refused() {
        assert_eq!(Person::from_slack(&json!({"name": "ghost"})), None);
    }
}
