//! The simulated Slack workspace as plain data: team, app identity, users, user
//! groups and channels, plus the `demo()` fixture and a small builder for tests.
//!
//! This module owns only the *fixture*; the live, mutable copy (messages, new
//! channels, memberships) lives in `state.rs`. No I/O here.

use std::collections::BTreeSet;

/// Team, app and bot identity plus the people and conversations in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Workspace {
    pub team_id: String,
    pub team_name: String,
    pub domain: String,
    pub app_id: String,
    pub bot_user_id: String,
    pub bot_id: String,
    pub bot_name: String,
    pub users: Vec<User>,
    pub groups: Vec<UserGroup>,
    pub channels: Vec<Channel>,
}

/// A workspace member. `name` is the handle (`alice`), `real_name` the display name.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub real_name: String,
    pub email: String,
    pub tz: String,
    pub tz_label: String,
    pub tz_offset: i64,
    pub is_admin: bool,
    pub is_owner: bool,
    pub is_primary_owner: bool,
    pub is_restricted: bool,
    pub is_ultra_restricted: bool,
    pub deleted: bool,
}

/// A user group (`@secops`), addressed by id `S…` and `handle`.
#[derive(Debug, Clone, PartialEq)]
pub struct UserGroup {
    pub id: String,
    pub handle: String,
    pub name: String,
    pub users: Vec<String>,
}

/// A public or private channel, or a DM (`is_im`, with `im_user`).
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub id: String,
    pub name: String,
    pub is_private: bool,
    pub is_im: bool,
    pub im_user: Option<String>,
    pub is_archived: bool,
    pub members: BTreeSet<String>,
    pub created: i64,
    pub creator: String,
    pub topic: String,
    pub purpose: String,
}

/// Unix seconds used as `created` for fixture channels.
const FIXTURE_CREATED: i64 = 1_700_000_000;

impl User {
    /// A plain member with Slack-like defaults; adjust the public fields after.
    pub fn new(id: &str, name: &str, real_name: &str, tz: &str) -> User {
        let (tz_label, tz_offset) = tz_info(tz);
        User {
            id: id.to_string(),
            name: name.to_string(),
            real_name: real_name.to_string(),
            email: format!("{name}@acme.example"),
            tz: tz.to_string(),
            tz_label: tz_label.to_string(),
            tz_offset,
            is_admin: false,
            is_owner: false,
            is_primary_owner: false,
            is_restricted: false,
            is_ultra_restricted: false,
            deleted: false,
        }
    }
}

impl Channel {
    /// A channel created with the fixture timestamp; `creator` is empty.
    pub fn new(id: &str, name: &str, is_private: bool, members: &[&str]) -> Channel {
        Channel {
            id: id.to_string(),
            name: name.to_string(),
            is_private,
            is_im: false,
            im_user: None,
            is_archived: false,
            members: members.iter().map(|m| m.to_string()).collect(),
            created: FIXTURE_CREATED,
            creator: String::new(),
            topic: String::new(),
            purpose: String::new(),
        }
    }
}

impl Workspace {
    /// The standard fixture: team Acme with alice, bob, carol, dave (guest), erin
    /// (deactivated), frank (primary owner), grace (single-channel guest), mallory;
    /// groups `secops` and `dba`; channels #general, #security and #incidents.
    pub fn demo() -> Workspace {
        let mut alice = User::new("U0ALICE001", "alice", "Alice Ng", "Europe/Berlin");
        alice.is_admin = false;
        let mut bob = User::new("U0BOB00001", "bob", "Bob Stone", "America/New_York");
        bob.is_admin = true;
        let carol = User::new("U0CAROL001", "carol", "Carol Sato", "Asia/Tokyo");
        let mut dave = User::new("U0DAVE0001", "dave", "Dave Guest", "Europe/London");
        dave.is_restricted = true;
        let mut erin = User::new("U0ERIN0001", "erin", "Erin Gone", "Europe/Paris");
        erin.deleted = true;
        let mut frank = User::new("U0FRANK001", "frank", "Frank Boss", "America/Los_Angeles");
        frank.is_admin = true;
        frank.is_owner = true;
        frank.is_primary_owner = true;
        let mut grace = User::new("U0GRACE001", "grace", "Grace Single", "Europe/Madrid");
        grace.is_restricted = true;
        grace.is_ultra_restricted = true;
        let mallory = User::new("U0MALLORY1", "mallory", "Mallory Mole", "UTC");
        let users = vec![alice, bob, carol, dave, erin, frank, grace, mallory];

        let bot = "U0C1BOT001";
        let mut everyone: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
        everyone.push(bot);
        let channels = vec![
            Channel::new("C0GENERAL1", "general", false, &everyone),
            Channel::new(
                "C0SECURITY",
                "security",
                false,
                &["U0BOB00001", "U0CAROL001", "U0FRANK001"],
            ),
            Channel::new(
                "G0INCIDENT",
                "incidents",
                true,
                &["U0BOB00001", "U0FRANK001"],
            ),
        ];
        let groups = vec![
            UserGroup {
                id: "S0SECOPS01".into(),
                handle: "secops".into(),
                name: "Security Ops".into(),
                users: vec!["U0BOB00001".into(), "U0CAROL001".into()],
            },
            UserGroup {
                id: "S0DBADMIN1".into(),
                handle: "dba".into(),
                name: "Database Admins".into(),
                users: vec!["U0CAROL001".into(), "U0FRANK001".into()],
            },
        ];
        Workspace {
            team_id: "T0C1TEAM01".into(),
            team_name: "Acme".into(),
            domain: "acme".into(),
            app_id: "A0C1BOT001".into(),
            bot_user_id: bot.into(),
            bot_id: "B0C1BOT001".into(),
            bot_name: "c1bot".into(),
            users,
            groups,
            channels,
        }
    }

    /// `n` extra plain members `user0001…` (ids `U0LARGE…`), all in #general.
    pub fn large(n: usize) -> Workspace {
        let mut ws = Workspace::demo();
        for i in 0..n {
            let user = User::new(
                &format!("U0L{i:07}"),
                &format!("user{i:04}"),
                &format!("User {i}"),
                "UTC",
            );
            ws = ws.with_user(user);
        }
        ws
    }

    /// Adds a user and makes them a member of #general (as Slack does for members).
    pub fn with_user(mut self, user: User) -> Workspace {
        if let Some(general) = self.channels.iter_mut().find(|c| c.name == "general") {
            general.members.insert(user.id.clone());
        }
        self.users.push(user);
        self
    }

    pub fn with_group(mut self, group: UserGroup) -> Workspace {
        self.groups.push(group);
        self
    }

    pub fn with_channel(mut self, channel: Channel) -> Workspace {
        self.channels.push(channel);
        self
    }

    /// A user by id, handle or real name.
    pub fn user(&self, name_or_id: &str) -> Option<&User> {
        let key = name_or_id.trim_start_matches('@');
        self.users
            .iter()
            .find(|u| u.id == key || u.name == key || u.real_name == key)
    }

    /// A channel by id or name (with or without `#`).
    pub fn channel(&self, name_or_id: &str) -> Option<&Channel> {
        let key = name_or_id.trim_start_matches('#');
        self.channels.iter().find(|c| c.id == key || c.name == key)
    }

    pub fn group(&self, id_or_handle: &str) -> Option<&UserGroup> {
        let key = id_or_handle.trim_start_matches('@');
        self.groups.iter().find(|g| g.id == key || g.handle == key)
    }
}

/// The DM channel id between the bot and `user_id`: stable, `D` + the user id's tail.
pub fn dm_channel_id(user_id: &str) -> String {
    format!("D{}", user_id.get(1..).unwrap_or(user_id))
}

fn tz_info(tz: &str) -> (&'static str, i64) {
    match tz {
        "Europe/Berlin" | "Europe/Paris" | "Europe/Madrid" => ("Central European Time", 3600),
        "Europe/London" => ("Greenwich Mean Time", 0),
        "America/New_York" => ("Eastern Standard Time", -18000),
        "America/Los_Angeles" => ("Pacific Standard Time", -28800),
        "Asia/Tokyo" => ("Japan Standard Time", 32400),
        _ => ("Coordinated Universal Time", 0),
    }
}
