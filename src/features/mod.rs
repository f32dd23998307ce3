//! Features and what each needs from Slack: the Web API methods it calls (hence its
//! bot scopes) and the events it subscribes to. The manifest, the README's scope
//! table and the start-up scope check all read [`ALL`], so a scope is asked for only
//! while a feature that needs it is turned on (least privilege), and a scope an admin
//! has not approved yet switches off the features that need it, never the bot.
//!
//! Owns the registry and the pure questions on it (scopes of a set of features, which
//! features a missing scope stops). Runtime state (which feature waits for which
//! scope) is [`availability`]. Does not call Slack.

pub mod availability;
pub mod readme;

use std::collections::{BTreeMap, BTreeSet};

use crate::slack::web::methods::{self, ApiMethod};

pub use availability::{Availability, Change, Status};

/// A feature c1bot can have on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeatureId {
    /// Requests, approvals, provisioning tasks, `/c1`, App Home: always on.
    Core,
    DmRequests,
    AccessReviews,
    CampaignChannels,
    ActivityChannel,
    UserGroups,
}

/// One feature: its names and what it needs from Slack.
#[derive(Debug)]
pub struct Feature {
    pub id: FeatureId,
    /// The key under `[features]` that turns it off (`None`: cannot be turned off here).
    pub key: Option<&'static str>,
    /// As people read it: "Campaign channels".
    pub name: &'static str,
    /// Methods it calls (each method's `scopes` are needed).
    pub methods: &'static [&'static ApiMethod],
    /// Scopes it needs beyond its methods' (e.g. `commands`), with the reason.
    pub scopes: &'static [(&'static str, &'static str)],
    /// Bot events it subscribes to.
    pub events: &'static [&'static str],
    /// What a method is for, in this feature (for the README's table).
    pub purpose: &'static str,
}

/// Every feature, core first.
pub const ALL: &[Feature] = &[
    Feature {
        id: FeatureId::Core,
        key: None,
        name: "Requests and approvals",
        methods: &[
            methods::CHAT_POST_MESSAGE,
            methods::CHAT_UPDATE,
            methods::CHAT_POST_EPHEMERAL,
            methods::USERS_INFO,
            methods::VIEWS_OPEN,
            methods::VIEWS_UPDATE,
            methods::VIEWS_PUSH,
            methods::VIEWS_PUBLISH,
            methods::AUTH_TEST,
        ],
        scopes: &[("commands", "the slash command")],
        events: &["app_home_opened"],
        purpose: "approval cards, tasks and DMs, edits in place, ephemeral answers, the acting person's profile (which policies decide on), modals and App Home",
    },
    Feature {
        id: FeatureId::DmRequests,
        key: Some("dm_requests"),
        name: "Requests by DM",
        methods: &[methods::CONVERSATIONS_HISTORY, methods::CONVERSATIONS_OPEN],
        scopes: &[("im:history", "the `message.im` event")],
        events: &["message.im"],
        purpose: "reading what people write to c1bot in its Messages tab (`message.im`); after a crash, finding a DM post c1bot may already have made (`conversations.open`, `conversations.history`) instead of posting it twice",
    },
    Feature {
        id: FeatureId::AccessReviews,
        key: Some("access_reviews"),
        name: "Access reviews",
        methods: &[],
        scopes: &[],
        events: &[],
        purpose: "`/c1 campaign`, reviewers' pages and the owners' card (core scopes only)",
    },
    Feature {
        id: FeatureId::CampaignChannels,
        key: Some("campaign_channels"),
        name: "Campaign channels",
        methods: &[
            methods::CONVERSATIONS_CREATE,
            methods::CONVERSATIONS_JOIN,
            methods::CONVERSATIONS_INVITE,
            methods::CONVERSATIONS_SET_PURPOSE,
            methods::CONVERSATIONS_LIST,
        ],
        scopes: &[],
        events: &[],
        purpose: "an access review's own channel: creating it or finding and joining an existing one, its description, inviting owners and reviewers (public and private channels)",
    },
    Feature {
        id: FeatureId::ActivityChannel,
        key: None,
        name: "Activity channel",
        methods: &[],
        scopes: &[],
        events: &[],
        purpose: "one line per request in `[activity] channel` (core scopes only; invite c1bot to the channel)",
    },
    Feature {
        id: FeatureId::UserGroups,
        key: Some("user_groups"),
        name: "User groups as approvers, assignees and reviewers",
        methods: &[methods::USERGROUPS_USERS_LIST, methods::USERGROUPS_LIST],
        scopes: &[],
        events: &[],
        purpose: "the members of a user group the catalog names as approvers or assignees, and the groups offered as reviewers",
    },
];

/// Scopes c1bot cannot start without.
pub const CORE_SCOPES: &[&str] = &["commands", "chat:write", "users:read"];

/// The registry entry of `id` ([`ALL`] lists the features in [`FeatureId`]'s order,
/// which a test checks).
pub fn feature(id: FeatureId) -> &'static Feature {
    &ALL[id as usize]
}

impl Feature {
    /// The bot scopes this feature needs, sorted.
    pub fn needed_scopes(&self) -> BTreeSet<&'static str> {
        let mut scopes: BTreeSet<&'static str> = self.scopes.iter().map(|(s, _)| *s).collect();
        for method in self.methods {
            scopes.extend(method.scopes.iter().copied());
        }
        scopes
    }

    /// Scopes this feature needs that `granted` lacks, sorted.
    pub fn missing_from(&self, granted: &[String]) -> Vec<&'static str> {
        self.needed_scopes()
            .into_iter()
            .filter(|s| !granted.iter().any(|g| g == s))
            .collect()
    }
}

/// Which features are turned on: always core, plus what the config says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enabled(BTreeSet<FeatureId>);

impl Enabled {
    /// Every feature on.
    pub fn all() -> Enabled {
        Enabled(ALL.iter().map(|f| f.id).collect())
    }

    /// Core plus `on`.
    pub fn with(on: impl IntoIterator<Item = FeatureId>) -> Enabled {
        let mut set: BTreeSet<FeatureId> = on.into_iter().collect();
        set.insert(FeatureId::Core);
        // A campaign channel belongs to an access review.
        if !set.contains(&FeatureId::AccessReviews) {
            set.remove(&FeatureId::CampaignChannels);
        }
        Enabled(set)
    }

    pub fn contains(&self, id: FeatureId) -> bool {
        self.0.contains(&id)
    }

    pub fn features(&self) -> impl Iterator<Item = &'static Feature> + '_ {
        ALL.iter().filter(|f| self.0.contains(&f.id))
    }

    /// Each scope the turned-on features need, with the features that need it.
    pub fn scopes(&self) -> BTreeMap<&'static str, Vec<FeatureId>> {
        let mut scopes: BTreeMap<&'static str, Vec<FeatureId>> = BTreeMap::new();
        for feature in self.features() {
            for scope in feature.needed_scopes() {
                scopes.entry(scope).or_default().push(feature.id);
            }
        }
        scopes
    }

    /// The bot events the turned-on features subscribe to, in registry order.
    pub fn events(&self) -> Vec<&'static str> {
        self.features()
            .flat_map(|f| f.events.iter().copied())
            .collect()
    }
}

/// The features that `scope` (missing) stops: those turned on that need it.
pub fn stopped_by(enabled: &Enabled, scope: &str) -> Vec<FeatureId> {
    enabled
        .features()
        .filter(|f| f.needed_scopes().contains(scope))
        .map(|f| f.id)
        .collect()
}

#[cfg(test)]
mod tests;
