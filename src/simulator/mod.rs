//! An in-process Slack for tests and `c1bot demo`: the Web API over real HTTP
//! (axum) and Socket Mode over a real websocket (tokio-tungstenite), both on
//! 127.0.0.1 port 0, plus [`Person`] handles that act as workspace members.
//!
//! Map of this module:
//! - [`workspace`]: the fixture (team, users, groups, channels); pure data.
//! - `state`: the live world (messages, views, triggers) and the records tests
//!   read (calls, acks, person errors). One `std::sync::Mutex`, never held across
//!   an `.await`.
//! - `socket`: the websocket server: tickets, `hello`, acks, pings, disconnects.
//! - `delivery`: envelopes out (spread across sockets, events_api retries).
//! - `web`: the Web API, one small handler per method, grouped by family.
//! - `person` / `modal`: a person's actions (slash, click, fill, submit).
//! - [`dates`]: Slack's `<!date^…>` tokens as a reader in their own zone sees them.
//! - [`faults`]: injected rate limits, errors, latency, refused handshakes.
//!
//! Architecture invariant: every wire format the simulator speaks is built in
//! `delivery`/`payloads` (socket side) or `web` (HTTP side), nowhere else.

pub mod dates;
pub mod faults;
pub mod message;
pub mod workspace;

mod delivery;
mod modal;
mod payloads;
mod person;
mod socket;
mod state;
mod web;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use delivery::{Ack, AckRecord, Delivery, EnvelopeHandle};
pub use faults::Faults;
pub use message::Message;
pub use person::{ActionOutcome, CommandOutcome, Person, SubmitOutcome};
pub use socket::ConnectionInfo;
pub use state::{ApiCall, PersonError, TokenKind};
pub use workspace::{Channel, User, UserGroup, Workspace};

/// Timings and switches; `Default` gives Slack-like values.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// An un-acked slash command / interaction is a failure the person sees.
    pub ack_timeout: Duration,
    /// Delays before each events_api redelivery (`retry_attempt` 1..=3); at most 3 are used.
    pub event_retry_delays: Vec<Duration>,
    /// Stress option: every envelope is also sent a second time on another
    /// connection (same envelope_id, `retry_attempt` 1).
    pub redeliver_everything: bool,
    /// The server pings each socket this often (`None`: never).
    pub server_ping_interval: Option<Duration>,
    /// How long a `trigger_id` stays usable (once).
    pub trigger_ttl: Duration,
    /// Returned in `x-oauth-scopes` on bot-token responses.
    pub granted_scopes: Vec<String>,
    /// The slash command's `should_escape` (c1bot's manifest sets it): `@alice` and
    /// `#general` in the typed text reach the app as `<@U…|alice>` and `<#C…|general>`.
    pub escape_slash_text: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            ack_timeout: Duration::from_secs(3),
            event_retry_delays: vec![
                Duration::from_secs(4),
                Duration::from_secs(60),
                Duration::from_secs(300),
            ],
            redeliver_everything: false,
            server_ping_interval: Some(Duration::from_secs(10)),
            trigger_ttl: Duration::from_secs(3),
            granted_scopes: [
                "chat:write",
                "commands",
                "im:write",
                "users:read",
                "users:read.email",
                "usergroups:read",
                "channels:manage",
                "channels:join",
                "channels:read",
                "groups:read",
                "groups:write",
                "im:history",
                "app_mentions:read",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            escape_slash_text: true,
        }
    }
}

impl SimOptions {
    /// Short timings for tests: 1 s ack timeout, 100 ms retries, 1 s trigger TTL.
    pub fn fast() -> SimOptions {
        SimOptions {
            ack_timeout: Duration::from_secs(1),
            event_retry_delays: vec![Duration::from_millis(100); 3],
            trigger_ttl: Duration::from_secs(1),
            ..SimOptions::default()
        }
    }
}

/// The running simulator. Cheap to clone; every clone drives the same Slack.
#[derive(Clone)]
pub struct Simulator {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub options: SimOptions,
    pub app_token: String,
    pub bot_token: String,
    pub api_port: u16,
    pub ws_port: u16,
    pub world: Mutex<state::World>,
    pub sockets: Mutex<socket::Sockets>,
    pub faults: Faults,
    /// Bumped after every change a test may wait for (acks, calls, sockets).
    pub changed: watch::Sender<u64>,
    pub shutdown: CancellationToken,
}

impl Inner {
    /// The world lock. A poisoned lock means a simulator bug already panicked.
    pub fn world(&self) -> MutexGuard<'_, state::World> {
        self.world.lock().expect("simulator world lock poisoned")
    }

    pub fn sockets(&self) -> MutexGuard<'_, socket::Sockets> {
        self.sockets.lock().expect("simulator socket lock poisoned")
    }

    /// Wakes every waiter (`wait_until`); call after a change.
    pub fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Polls `check` after every change until it returns `Some`, or `within` passes.
    pub async fn wait_until<T>(
        &self,
        within: Duration,
        mut check: impl FnMut(&Inner) -> Option<T>,
    ) -> Option<T> {
        let mut rx = self.changed.subscribe();
        let deadline = Instant::now() + within;
        loop {
            if let Some(found) = check(self) {
                return Some(found);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return check(self),
            }
        }
    }
}

impl Simulator {
    /// Binds the Web API and the socket server on 127.0.0.1 port 0 and starts serving.
    pub async fn start(workspace: Workspace, options: SimOptions) -> anyhow::Result<Simulator> {
        let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let ws_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let inner = Arc::new(Inner {
            app_token: format!("xapp-1-{}-1000000000001-{}", workspace.app_id, suffix),
            bot_token: format!("xoxb-1000000000001-1000000000002-{}", &suffix[..24]),
            api_port: api_listener.local_addr()?.port(),
            ws_port: ws_listener.local_addr()?.port(),
            world: Mutex::new(state::World::new(workspace, options.granted_scopes.clone())),
            sockets: Mutex::new(socket::Sockets::default()),
            faults: Faults::default(),
            changed: watch::channel(0).0,
            shutdown: CancellationToken::new(),
            options,
        });
        web::serve(inner.clone(), api_listener);
        socket::serve(inner.clone(), ws_listener);
        Ok(Simulator { inner })
    }

    /// Takes `scope` from the bot token, as an admin removing it would: calls that
    /// need it answer `missing_scope` from now on.
    pub fn remove_scope(&self, scope: &str) {
        self.inner.world().scopes.retain(|s| s != scope);
    }

    /// Gives the bot token `scope` (an admin approved it).
    pub fn grant_scope(&self, scope: &str) {
        let mut w = self.inner.world();
        if !w.scopes.iter().any(|s| s == scope) {
            w.scopes.push(scope.to_owned());
        }
    }

    /// Adds `n` public channels `<prefix>-0000`… that only their creator is in, after
    /// every channel there is (`conversations.list` lists them last): a workspace
    /// with thousands of channels. Returns their names.
    pub fn add_channels(&self, prefix: &str, n: usize) -> Vec<String> {
        let mut w = self.inner.world();
        (0..n)
            .map(|i| {
                let id = w.next_id("C");
                let name = format!("{prefix}-{i:04}");
                let channel = workspace::Channel::new(&id, &name, false, &["U0FRANK001"]);
                w.ws.channels.push(channel);
                name
            })
            .collect()
    }

    /// `http://127.0.0.1:PORT/api/` (with the trailing slash).
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/api/", self.inner.api_port)
    }

    pub fn app_token(&self) -> String {
        self.inner.app_token.clone()
    }

    pub fn bot_token(&self) -> String {
        self.inner.bot_token.clone()
    }

    pub fn options(&self) -> &SimOptions {
        &self.inner.options
    }

    /// A snapshot of the live workspace (new channels and memberships included).
    pub fn workspace(&self) -> Workspace {
        self.inner.world().ws.clone()
    }

    /// Closes every socket and stops both servers.
    pub async fn shutdown(&self) {
        self.drop_all_connections_abruptly().await;
        self.inner.shutdown.cancel();
    }

    // ---- records a test reads ----

    /// Every Web API call so far, oldest first.
    pub fn calls(&self) -> Vec<ApiCall> {
        self.inner.world().calls.clone()
    }

    pub fn calls_to(&self, method: &str) -> Vec<ApiCall> {
        let world = self.inner.world();
        world
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// Every ack frame received, oldest first.
    pub fn acks_received(&self) -> Vec<AckRecord> {
        self.inner.world().acks.clone()
    }

    /// What people would have seen go wrong (un-acked commands, bad modal acks, ...).
    pub fn person_errors(&self) -> Vec<PersonError> {
        self.inner.world().person_errors.clone()
    }

    pub fn faults(&self) -> Faults {
        self.inner.faults.clone()
    }

    /// Messages currently in a channel (by id or name), oldest first.
    pub fn messages_in(&self, channel: &str) -> Vec<Message> {
        let world = self.inner.world();
        let id = world.resolve_channel(channel).map(|c| c.id.clone());
        id.and_then(|id| world.messages.get(&id).cloned())
            .unwrap_or_default()
    }

    /// Messages the app posted to `user`'s DM before this simulator started (one per
    /// text, in order), as a fixture for a store seeded without Slack; returns the
    /// DM's id and each message's ts.
    pub fn posted_before(&self, user: &str, texts: &[String]) -> (String, Vec<String>) {
        let mut world = self.inner.world();
        let dm = world.ensure_dm(user);
        let bot = world.ws.bot_user_id.clone();
        let mut stamps = Vec::with_capacity(texts.len());
        for text in texts {
            let ts = world.next_ts();
            let message = Message {
                channel: dm.clone(),
                ts: ts.clone(),
                text: text.clone(),
                blocks: serde_json::Value::Null,
                user: bot.clone(),
                thread_ts: None,
                edited: false,
                metadata: None,
            };
            world.messages.entry(dm.clone()).or_default().push(message);
            stamps.push(ts);
        }
        (dm, stamps)
    }

    /// A handle acting as this workspace member.
    ///
    /// # Panics
    /// On an unknown user: this is a test helper and a typo should fail loudly.
    pub fn person(&self, name_or_id: &str) -> Person {
        let id = self
            .inner
            .world()
            .ws
            .user(name_or_id)
            .map(|u| u.id.clone())
            .unwrap_or_else(|| panic!("simulator: no user {name_or_id:?} in the workspace"));
        Person::new(self.inner.clone(), id)
    }

    /// Waits until `check` holds on this simulator, re-checking after every change.
    pub async fn wait_for(
        &self,
        within: Duration,
        mut check: impl FnMut(&Simulator) -> bool,
    ) -> anyhow::Result<()> {
        let me = self.clone();
        self.inner
            .wait_until(within, |_| check(&me).then_some(()))
            .await
            .ok_or_else(|| anyhow::anyhow!("condition not met within {within:?}"))
    }

    /// `event` wrapped in an `event_callback` (event_id, authorizations, ...), for
    /// building raw envelopes with [`Simulator::push_raw_envelope`].
    pub fn event_callback(&self, event: Value) -> Value {
        payloads::event_callback(&self.inner, event)
    }
}
