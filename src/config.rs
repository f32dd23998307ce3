//! c1bot's configuration: one typed [`Config`], read once at start-up from an optional
//! TOML file and the environment (which wins), then passed down.
//!
//! Owns every setting's name, default and validation, and the one-line
//! [`ConfigError`]s an operator acts on. Secrets ([`AppToken`], [`BotToken`]) come
//! only from the environment and never print. It must not read the environment or
//! the file anywhere but [`Config::load`] (so tests pass their own `env`), nor
//! start anything: callers decide what to do with the values.
//!
//! Submodules: `token` (the two secrets), `values` (URL, command name, log format),
//! `file` (TOML shape, unknown keys, line numbers), `audit` (`[audit]`), `retention`
//! (`[retention]`), `store` (`[store]`: sled or a PostgreSQL URL, itself a secret).

mod audit;
mod break_glass;
mod features;
mod file;
mod retention;
mod step_up;
mod store;
mod token;
mod values;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use audit::{AuditConfig, DEFAULT_ANCHOR_EVERY};
pub use break_glass::{BreakGlassConfig, DEFAULT_REVIEW_REMIND_EVERY};
pub use retention::{RetentionConfig, DEFAULT_CLOSED_AFTER};
pub use step_up::{StepUpKey, C1BOT_STEP_UP_KEY};
pub use store::{DatabaseUrl, StoreConfig, C1BOT_DATABASE_URL};
pub use token::{
    AppToken, BotToken, FoundToken, TokenError, TokenKind, SLACK_APP_TOKEN, SLACK_BOT_TOKEN,
};
pub use values::{
    ApiUrl, ApiUrlError, LogFormat, LogFormatError, SlashCommandError, SlashCommandName,
    DEFAULT_API_URL,
};

use crate::catalog::{Catalog, CatalogError};
use file::ParsedFile;

/// Config file read when `--config` is not given; its absence is fine.
pub const DEFAULT_CONFIG_FILE: &str = "c1bot.toml";
/// sled directory when neither the file nor `C1BOT_DATA_DIR` sets one.
pub const DEFAULT_DATA_DIR: &str = "./c1bot-data";
/// Environment variable overriding `slack.api_url`.
pub const SLACK_API_URL: &str = "SLACK_API_URL";
/// Environment variable overriding `data_dir`.
pub const C1BOT_DATA_DIR: &str = "C1BOT_DATA_DIR";
/// Environment variable overriding `log.format`.
pub const C1BOT_LOG_FORMAT: &str = "C1BOT_LOG_FORMAT";
/// Health listener address; wins over `[health] listen`.
pub const C1BOT_HEALTH_LISTEN: &str = "C1BOT_HEALTH_LISTEN";
/// Seconds added to the system clock: a forward clock jump on demand, for tests and
/// drills that check overdue expiries are processed. Unset in production.
pub const C1BOT_CLOCK_OFFSET_SECS: &str = "C1BOT_CLOCK_OFFSET_SECS";
/// Faults injected on purpose, for drills and tests of supervision (e.g.
/// `timer-loop-panic=1`: the timer loop panics on its first pass). Unset in production.
pub const C1BOT_FAULTS: &str = "C1BOT_FAULTS";

/// Faults to inject ([`C1BOT_FAULTS`]); none by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Passes of the timer loop that panic, from start-up.
    pub timer_loop_panics: u32,
    /// Seconds a journaled envelope waits after its ack before it is processed: a
    /// window in which to `kill -9` a process that acked and decided nothing yet.
    pub hold_after_ack_secs: u32,
    /// Rounds of preparing expiries ahead that fail, from start-up (the expiries
    /// then fire when due).
    pub prepare_ahead_failures: u32,
}

impl Faults {
    /// `name=count` pairs, comma-separated.
    pub fn parse(text: &str) -> Result<Faults, String> {
        let mut faults = Faults::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, count) = part.split_once('=').unwrap_or((part, "1"));
            let count: u32 = count
                .trim()
                .parse()
                .map_err(|_| format!("{part:?}: the count must be a whole number"))?;
            match name.trim() {
                "timer-loop-panic" => faults.timer_loop_panics = count,
                "hold-after-ack" => faults.hold_after_ack_secs = count,
                "prepare-ahead-fail" => faults.prepare_ahead_failures = count,
                other => {
                    return Err(format!(
                        "unknown fault {other:?} (known: timer-loop-panic, hold-after-ack, \
                         prepare-ahead-fail)"
                    ))
                }
            }
        }
        Ok(faults)
    }
}

const CONNECTIONS: std::ops::RangeInclusive<usize> = 1..=10;
const DEFAULT_CONNECTIONS: usize = 2;

#[derive(Debug, Clone)]
pub struct Config {
    /// sled directory; relative paths are relative to the working directory. Unused
    /// when `store.url` names a PostgreSQL database.
    pub data_dir: PathBuf,
    /// The backend: sled in `data_dir`, or PostgreSQL (`[store] url`, `C1BOT_DATABASE_URL`).
    pub store: StoreConfig,
    pub slack: SlackConfig,
    pub socket: SocketConfig,
    pub log: LogConfig,
    /// The file actually read, if any.
    pub source: Option<PathBuf>,
    /// The access catalog (`[catalog]` or `catalog_file`); empty when neither is set.
    pub catalog: Catalog,
    /// Rego policies (`*.rego`), default `policies`.
    pub policies_dir: PathBuf,
    /// Block Kit templates (`*.json`), default `blocks`.
    pub blocks_dir: PathBuf,
    pub requests: RequestsConfig,
    pub grants: GrantsConfig,
    pub health: HealthConfig,
    /// Added to the system clock (`C1BOT_CLOCK_OFFSET_SECS`); zero in production.
    pub clock_offset: Duration,
    /// Faults injected for drills (`C1BOT_FAULTS`); none in production.
    pub faults: Faults,
    /// The webhook provisioners' HMAC keys, read from the variables their
    /// `secret_env` names.
    pub provisioner_secrets: ProvisionerSecrets,
    pub activity: ActivityConfig,
    /// `[break_glass]`: the security channel and the review's reminders.
    pub break_glass: BreakGlassConfig,
    /// Publishing the audit chain's head (`[audit]`).
    pub audit: AuditConfig,
    /// The features turned on (`[features]`, and the activity channel when set).
    pub features: crate::features::Enabled,
    /// How long closed requests stay in the hot tables (`[retention]`).
    pub retention: RetentionConfig,
    /// Seals step-up secrets (`C1BOT_STEP_UP_KEY`); `None`: step-up cannot be used.
    pub step_up_key: Option<StepUpKey>,
}

/// The optional activity channel: one line per request, edited as it moves on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActivityConfig {
    /// A channel id (`C…`/`G…`); `None`: off (the default).
    pub channel: Option<String>,
    /// Whether the line shows the requester's reason (off: reasons can be sensitive).
    pub include_reason: bool,
}

/// Webhook HMAC keys by environment variable name. Never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProvisionerSecrets(std::collections::HashMap<String, String>);

impl ProvisionerSecrets {
    pub fn get(&self, variable: &str) -> Option<String> {
        self.0.get(variable).cloned()
    }

    pub fn insert(&mut self, variable: impl Into<String>, secret: impl Into<String>) {
        self.0.insert(variable.into(), secret.into());
    }
}

impl fmt::Debug for ProvisionerSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        write!(f, "ProvisionerSecrets({names:?}, values redacted)")
    }
}

/// Timing around active access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantsConfig {
    /// The person with access is offered Extend / I'm done this long before it ends.
    pub remind_before_expiry: Duration,
    /// A deprovisioning task still open after this long reminds its assignees, and
    /// after twice this long escalates to the resource's owners.
    pub revoke_overdue_after: Duration,
}

impl Default for GrantsConfig {
    fn default() -> Self {
        Self {
            remind_before_expiry: Duration::from_secs(15 * 60),
            revoke_overdue_after: Duration::from_secs(3600),
        }
    }
}

/// Timing of pending requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestsConfig {
    /// A pending request expires after this long without a decision.
    pub decide_within: Duration,
    /// Approvers who have not acted are reminded this often.
    pub remind_every: Duration,
    /// A request being asked for step by step in a DM is dropped after this long
    /// without an answer (the person is told).
    pub conversation_expires_after: Duration,
}

/// The optional health and metrics listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HealthConfig {
    /// `None`: off (the default).
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct SlackConfig {
    /// `Some` in [`Mode::Run`]; in [`Mode::Demo`] `None` means "use the built-in simulator".
    pub app_token: Option<AppToken>,
    pub bot_token: Option<BotToken>,
    pub api_url: ApiUrl,
    /// Socket Mode connections kept open, 1..=10.
    pub connections: usize,
    pub command: SlashCommandName,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketConfig {
    /// The client pings this often; a link with no frame for 3 intervals is dead.
    pub ping_interval: Duration,
    pub reconnect_backoff_initial: Duration,
    /// Cap on the reconnect backoff; never below `reconnect_backoff_initial`.
    pub reconnect_backoff_max: Duration,
    pub hello_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    pub format: LogFormat,
}

/// What the process is about to do, which decides whether tokens are needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Serve a real workspace: both tokens required.
    Run,
    /// `c1bot demo`: both tokens (a real workspace) or neither (the built-in simulator).
    Demo,
    /// `check`, `manifest`: tokens are not read at all.
    Offline,
}

/// Where a config file position is: `c1bot.toml:4`, or `c1bot.toml` without a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePos {
    pub file: String,
    pub line: Option<usize>,
}

/// Where a refused value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Env(&'static str),
    File { at: FilePos, key: String },
}

/// Why the configuration could not be loaded. `Display` is one line naming the
/// variable or file/line/key and what a valid value looks like; never a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {} (given with --config) does not exist: check the path, or leave out --config to use ./{DEFAULT_CONFIG_FILE} if present", .path.display())]
    FileNotFound { path: PathBuf },
    #[error("cannot read config file {}: {source}", .path.display())]
    ReadFile { path: PathBuf, source: io::Error },
    #[error("{at}: invalid TOML: {message}")]
    Syntax { at: FilePos, message: String },
    #[error("{at}: unknown key '{key}' ({expected})")]
    UnknownKey {
        at: FilePos,
        key: String,
        expected: String,
    },
    #[error("{at}: '{key}' is not accepted in the config file: tokens are secrets and are read only from the environment; remove it and set {var}")]
    TokenInFile {
        at: FilePos,
        key: String,
        var: &'static str,
    },
    #[error("{at}: {key}: {message}")]
    FileValue {
        at: FilePos,
        key: String,
        message: String,
    },
    #[error("{origin} {problem}")]
    Invalid { origin: Origin, problem: String },
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{item}: its webhook provisioner signs requests with the key in {variable}, which is not set: set {variable} to the HMAC key the receiver verifies with")]
    MissingSecret { variable: String, item: String },
    #[error("c1bot demo needs both Slack tokens or neither: {set} is set but {missing} is not; unset {set} to use the built-in simulator, or set {missing} to use a real workspace")]
    DemoNeedsBothTokens {
        set: &'static str,
        missing: &'static str,
    },
}

impl Config {
    /// Read `path` (or `./c1bot.toml` if present) and the environment, `env` winning.
    /// Empty environment values count as unset, as `docker run -e VAR=` produces them.
    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        mode: Mode,
    ) -> Result<Config, ConfigError> {
        let (file, source) = read_file(path)?;
        let var = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let raw = &file.raw;

        let data_dir = match (var(C1BOT_DATA_DIR), &raw.data_dir) {
            (Some(dir), _) => PathBuf::from(dir.trim()),
            (None, Some(dir)) if dir.as_os_str().is_empty() => {
                return Err(invalid(
                    file.origin("data_dir"),
                    "must not be empty; leave it out to use ./c1bot-data",
                ));
            }
            (None, Some(dir)) => dir.clone(),
            (None, None) => PathBuf::from(DEFAULT_DATA_DIR),
        };

        let api_url = match (var(SLACK_API_URL), &raw.slack.api_url) {
            (Some(url), _) => {
                ApiUrl::parse(&url).map_err(|e| invalid(Origin::Env(SLACK_API_URL), e))?
            }
            (None, Some(url)) => {
                ApiUrl::parse(url).map_err(|e| invalid(file.origin("slack.api_url"), e))?
            }
            (None, None) => ApiUrl::default(),
        };

        let connections = match raw.slack.connections {
            None => DEFAULT_CONNECTIONS,
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|n| CONNECTIONS.contains(n))
                .ok_or_else(|| {
                    invalid(
                        file.origin("slack.connections"),
                        format_args!(
                            "must be between 1 and 10 (Socket Mode connections kept open), got {n}"
                        ),
                    )
                })?,
        };

        let command = match &raw.slack.command {
            Some(name) => SlashCommandName::parse(name)
                .map_err(|e| invalid(file.origin("slack.command"), e))?,
            None => SlashCommandName::default(),
        };

        let format = match (var(C1BOT_LOG_FORMAT), &raw.log.format) {
            (Some(f), _) => {
                LogFormat::parse(&f).map_err(|e| invalid(Origin::Env(C1BOT_LOG_FORMAT), e))?
            }
            (None, Some(f)) => {
                LogFormat::parse(f).map_err(|e| invalid(file.origin("log.format"), e))?
            }
            (None, None) => LogFormat::default(),
        };

        let socket = socket_config(&file)?;
        let requests = requests_config(&file)?;
        let grants = grants_config(&file)?;
        let activity = activity_config(&file)?;
        let break_glass = break_glass::break_glass_config(&file)?;
        let audit = audit::audit_config(&file)?;
        let retention = retention::retention_config(&file)?;
        let store = store::store_config(&file, &var)?;
        let step_up_key = step_up::step_up_key(&var)?;
        let clock_offset = match var(C1BOT_CLOCK_OFFSET_SECS) {
            None => Duration::ZERO,
            Some(text) => text
                .trim()
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| {
                    invalid(
                        Origin::Env(C1BOT_CLOCK_OFFSET_SECS),
                        "must be a whole number of seconds to add to the clock",
                    )
                })?,
        };
        let faults = match var(C1BOT_FAULTS) {
            None => Faults::default(),
            Some(text) => {
                Faults::parse(&text).map_err(|e| invalid(Origin::Env(C1BOT_FAULTS), e))?
            }
        };
        let health = health_config(&file, &var)?;
        let catalog = catalog(&file, source.as_deref())?;
        let provisioner_secrets = provisioner_secrets(&catalog, &var, mode)?;
        let features = features::features_config(&file, &catalog, activity.channel.is_some())?;
        let (app_token, bot_token) = tokens(&var, env, mode)?;

        Ok(Config {
            data_dir,
            store,
            slack: SlackConfig {
                app_token,
                bot_token,
                api_url,
                connections,
                command,
            },
            socket,
            log: LogConfig { format },
            source,
            catalog,
            policies_dir: raw
                .policies_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("policies")),
            blocks_dir: raw
                .blocks_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("blocks")),
            requests,
            grants,
            clock_offset,
            faults,
            provisioner_secrets,
            activity,
            break_glass,
            audit,
            features,
            retention,
            health,
            step_up_key,
        })
    }

    /// [`Config::load`] with the process environment. A variable that is not valid
    /// UTF-8 is read lossily, so it fails validation instead of looking unset.
    pub fn from_process_env(path: Option<&Path>, mode: Mode) -> Result<Config, ConfigError> {
        Config::load(
            path,
            &|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()),
            mode,
        )
    }
}

impl fmt::Display for FilePos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file),
            None => f.write_str(&self.file),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env(var) => f.write_str(var),
            Origin::File { at, key } => write!(f, "{at}: {key}"),
        }
    }
}

fn invalid(origin: Origin, problem: impl fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        origin,
        problem: problem.to_string(),
    }
}

/// A named file must exist; the default one may be absent.
fn read_file(path: Option<&Path>) -> Result<(ParsedFile, Option<PathBuf>), ConfigError> {
    let (path, named) = match path {
        Some(path) => (path.to_path_buf(), true),
        None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound && !named => {
            return Ok((ParsedFile::default(), None))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ConfigError::FileNotFound { path })
        }
        Err(source) => return Err(ConfigError::ReadFile { path, source }),
    };
    let parsed = ParsedFile::parse(&path.display().to_string(), &text)?;
    Ok((parsed, Some(path)))
}

/// The inline catalog, or the file `catalog_file` names (relative to the config
/// file's directory), but not both.
fn catalog(file: &ParsedFile, config_path: Option<&Path>) -> Result<Catalog, ConfigError> {
    match (&file.raw.catalog_file, &file.raw.catalog) {
        (Some(_), Some(_)) => Err(invalid(
            file.origin("catalog_file"),
            "cannot be used together with an inline [catalog] table: keep one of them",
        )),
        (Some(path), None) => {
            let dir = config_path.and_then(Path::parent).unwrap_or(Path::new(""));
            Ok(Catalog::load_file(&dir.join(path))?)
        }
        (None, _) => Ok(file.catalog.clone()),
    }
}

fn requests_config(file: &ParsedFile) -> Result<RequestsConfig, ConfigError> {
    let raw = &file.raw.requests;
    let duration =
        |value: &Option<String>, key: &str, default: Duration| -> Result<Duration, ConfigError> {
            match value {
                None => Ok(default),
                Some(text) => crate::catalog::AccessDuration::parse(text)
                    .map(|d| d.as_duration())
                    .map_err(|e| {
                        invalid(
                            file.origin(key),
                            format_args!("{e} (write it like 30m, 4h or 1d)"),
                        )
                    }),
            }
        };
    Ok(RequestsConfig {
        decide_within: duration(
            &raw.decide_within,
            "requests.decide_within",
            Duration::from_secs(24 * 3600),
        )?,
        remind_every: duration(
            &raw.remind_every,
            "requests.remind_every",
            Duration::from_secs(4 * 3600),
        )?,
        conversation_expires_after: duration(
            &raw.conversation_expires_after,
            "requests.conversation_expires_after",
            Duration::from_secs(30 * 60),
        )?,
    })
}

/// Each webhook's HMAC key from the variable its `secret_env` names. Required to
/// run; `c1bot check` and the other offline modes do not need it.
fn provisioner_secrets(
    catalog: &Catalog,
    var: &dyn Fn(&str) -> Option<String>,
    mode: Mode,
) -> Result<ProvisionerSecrets, ConfigError> {
    let mut secrets = ProvisionerSecrets::default();
    for resource in catalog.resources() {
        for entitlement in &resource.entitlements {
            let Some(crate::catalog::Automatic::Webhook(webhook)) =
                &entitlement.provisioner.automatic
            else {
                continue;
            };
            match var(&webhook.secret_env) {
                Some(secret) => secrets.insert(webhook.secret_env.clone(), secret),
                None if mode == Mode::Offline => {}
                None => {
                    return Err(ConfigError::MissingSecret {
                        variable: webhook.secret_env.clone(),
                        item: format!(
                            "resource '{}' entitlement '{}'",
                            resource.id, entitlement.id
                        ),
                    })
                }
            }
        }
    }
    Ok(secrets)
}

fn grants_config(file: &ParsedFile) -> Result<GrantsConfig, ConfigError> {
    let raw = &file.raw.grants;
    let defaults = GrantsConfig::default();
    let duration = |value: &Option<String>, key: &str, default: Duration| match value {
        None => Ok(default),
        Some(text) => crate::catalog::AccessDuration::parse(text)
            .map(|d| d.as_duration())
            .map_err(|e| {
                invalid(
                    file.origin(key),
                    format_args!("{e} (write it like 15m, 1h or 1d)"),
                )
            }),
    };
    Ok(GrantsConfig {
        remind_before_expiry: duration(
            &raw.remind_before_expiry,
            "grants.remind_before_expiry",
            defaults.remind_before_expiry,
        )?,
        revoke_overdue_after: duration(
            &raw.revoke_overdue_after,
            "grants.revoke_overdue_after",
            defaults.revoke_overdue_after,
        )?,
    })
}

fn activity_config(file: &ParsedFile) -> Result<ActivityConfig, ConfigError> {
    let raw = &file.raw.activity;
    let channel = channel_id(file, "activity.channel", raw.channel.as_deref())?;
    Ok(ActivityConfig {
        channel,
        include_reason: raw.include_reason.unwrap_or(false),
    })
}

/// An optional channel id (`C…`/`G…`) set at `key`; empty means unset.
fn channel_id(
    file: &ParsedFile,
    key: &str,
    value: Option<&str>,
) -> Result<Option<String>, ConfigError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(id) => crate::catalog::SlackId::parse(id, crate::catalog::SlackIdKind::Channel)
            .map(|id| Some(id.as_str().to_owned()))
            .map_err(|e| invalid(file.origin(key), e)),
    }
}

fn health_config(
    file: &ParsedFile,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<HealthConfig, ConfigError> {
    let (text, origin) = match (var(C1BOT_HEALTH_LISTEN), &file.raw.health.listen) {
        (Some(text), _) => (text, Origin::Env(C1BOT_HEALTH_LISTEN)),
        (None, Some(text)) => (text.clone(), file.origin("health.listen")),
        (None, None) => return Ok(HealthConfig::default()),
    };
    text.trim()
        .parse()
        .map(|addr| HealthConfig { listen: Some(addr) })
        .map_err(|_| {
            invalid(
                origin,
                format_args!("{text:?} is not an address: write it like 127.0.0.1:9090"),
            )
        })
}

fn socket_config(file: &ParsedFile) -> Result<SocketConfig, ConfigError> {
    let raw = &file.raw.socket;
    let positive = |value: Option<i64>, key: &str, default: u64| -> Result<u64, ConfigError> {
        match value {
            None => Ok(default),
            Some(n) => u64::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                invalid(
                    file.origin(key),
                    format_args!("must be a positive whole number, got {n}"),
                )
            }),
        }
    };
    let socket = SocketConfig {
        ping_interval: Duration::from_secs(positive(
            raw.ping_interval_secs,
            "socket.ping_interval_secs",
            10,
        )?),
        reconnect_backoff_initial: Duration::from_millis(positive(
            raw.reconnect_backoff_initial_ms,
            "socket.reconnect_backoff_initial_ms",
            500,
        )?),
        reconnect_backoff_max: Duration::from_secs(positive(
            raw.reconnect_backoff_max_secs,
            "socket.reconnect_backoff_max_secs",
            30,
        )?),
        hello_timeout: Duration::from_secs(positive(
            raw.hello_timeout_secs,
            "socket.hello_timeout_secs",
            10,
        )?),
    };
    if socket.reconnect_backoff_max < socket.reconnect_backoff_initial {
        return Err(invalid(
            file.origin("socket.reconnect_backoff_max_secs"),
            format_args!(
                "({}s) is below socket.reconnect_backoff_initial_ms ({}ms): raise the cap or lower the initial backoff",
                socket.reconnect_backoff_max.as_secs(),
                socket.reconnect_backoff_initial.as_millis()
            ),
        ));
    }
    Ok(socket)
}

/// `var` treats empty values as unset; `env` is the raw lookup, so that in Run mode an
/// empty token says "empty" rather than "not set".
fn tokens(
    var: &dyn Fn(&str) -> Option<String>,
    env: &dyn Fn(&str) -> Option<String>,
    mode: Mode,
) -> Result<(Option<AppToken>, Option<BotToken>), ConfigError> {
    match mode {
        Mode::Offline => Ok((None, None)),
        Mode::Run => {
            let app = env(SLACK_APP_TOKEN).ok_or(TokenError::Missing(TokenKind::App))?;
            let app = AppToken::parse(&app)?;
            let bot = env(SLACK_BOT_TOKEN).ok_or(TokenError::Missing(TokenKind::Bot))?;
            let bot = BotToken::parse(&bot)?;
            Ok((Some(app), Some(bot)))
        }
        Mode::Demo => match (var(SLACK_APP_TOKEN), var(SLACK_BOT_TOKEN)) {
            (None, None) => Ok((None, None)),
            (Some(app), Some(bot)) => {
                Ok((Some(AppToken::parse(&app)?), Some(BotToken::parse(&bot)?)))
            }
            (Some(_), None) => Err(ConfigError::DemoNeedsBothTokens {
                set: SLACK_APP_TOKEN,
                missing: SLACK_BOT_TOKEN,
            }),
            (None, Some(_)) => Err(ConfigError::DemoNeedsBothTokens {
                set: SLACK_BOT_TOKEN,
                missing: SLACK_APP_TOKEN,
            }),
        },
    }
}

#[cfg(test)]
mod tests;
