//! `[store]`: which backend holds c1bot's data. sled in `data_dir` unless a PostgreSQL
//! URL is given (`[store] url`, or [`C1BOT_DATABASE_URL`], which wins).
//!
//! Owns the URL's validation and its redaction: a [`DatabaseUrl`] may hold a password,
//! so its `Debug` and `Display` show the user, host, port and database only, and no
//! error message repeats the URL as written. The connection itself is
//! `crate::store::PgStore`'s.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use super::file::ParsedFile;
use super::{invalid, ConfigError, Origin};

/// Environment variable holding the PostgreSQL URL; wins over `[store] url`.
pub const C1BOT_DATABASE_URL: &str = "C1BOT_DATABASE_URL";

/// Where c1bot keeps its data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreConfig {
    /// `None`: sled in `data_dir` (the default).
    pub url: Option<DatabaseUrl>,
}

/// A validated `postgres://` URL. Never printed as written (it may hold a password).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    /// What the driver parses: the URL as written, less the options c1bot handles
    /// itself (`sslrootcert`) and with libpq's `verify-ca`/`verify-full` as `require`.
    for_driver: String,
    /// `sslmode` was given (else c1bot decides: none for a local server, TLS otherwise).
    sslmode_given: bool,
    /// `sslrootcert=PATH`: PEM certificates to trust besides the system's.
    root_cert: Option<PathBuf>,
    /// `postgres://user@host:port/database`, for logs and errors.
    shown: String,
}

const EXAMPLE: &str = "postgres://c1bot:PASSWORD@db.internal:5432/c1bot";

impl DatabaseUrl {
    /// Checks `text` without connecting. The error never contains the password.
    pub fn parse(text: &str) -> Result<DatabaseUrl, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err(format!("is empty: write it like {EXAMPLE}"));
        }
        let url = url::Url::parse(text)
            .ok()
            .filter(|u| matches!(u.scheme(), "postgres" | "postgresql"))
            .ok_or_else(|| format!("is not a postgres:// URL: write it like {EXAMPLE}"))?;
        let password = url
            .password()
            .map(|p| {
                url::form_urlencoded::parse(format!("p={p}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            })
            .filter(|p| !p.is_empty());
        let scrub = |message: String| match &password {
            Some(p) => message.replace(p.as_str(), "***"),
            None => message,
        };
        let mut driver = url.clone();
        let mut sslmode_given = false;
        let mut root_cert = None;
        let mut kept = Vec::new();
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "sslrootcert" => root_cert = Some(PathBuf::from(value.as_ref())),
                "sslmode" => {
                    sslmode_given = true;
                    let mode = match value.as_ref() {
                        "verify-ca" | "verify-full" => "require",
                        "disable" | "prefer" | "require" => value.as_ref(),
                        other => {
                            return Err(scrub(format!(
                                "sslmode={other} is not supported: use disable, prefer, require or verify-full (c1bot always verifies the server's certificate when it uses TLS)"
                            )))
                        }
                    };
                    kept.push((key.into_owned(), mode.to_owned()));
                }
                _ => kept.push((key.into_owned(), value.into_owned())),
            }
        }
        if kept.is_empty() {
            driver.set_query(None);
        } else {
            driver.query_pairs_mut().clear().extend_pairs(kept);
        }
        let config = tokio_postgres::Config::from_str(driver.as_str()).map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|c| format!(": {c}"))
                .unwrap_or_default();
            scrub(format!(
                "is not a valid PostgreSQL URL ({e}{cause}): write it like {EXAMPLE}"
            ))
        })?;
        Ok(DatabaseUrl {
            for_driver: driver.to_string(),
            sslmode_given,
            root_cert,
            shown: shown(&config),
        })
    }

    /// The URL for the driver. Contains the password: never log it.
    pub fn expose(&self) -> &str {
        &self.for_driver
    }

    pub fn sslmode_given(&self) -> bool {
        self.sslmode_given
    }

    pub fn root_cert(&self) -> Option<&std::path::Path> {
        self.root_cert.as_deref()
    }
}

/// `postgres://user@host:port/database` (Unix sockets as `?host=/dir`), no password.
fn shown(config: &tokio_postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or("");
    let port = config.get_ports().first().copied();
    let mut tcp = Vec::new();
    let mut unix = Vec::new();
    for host in config.get_hosts() {
        match host {
            tokio_postgres::config::Host::Tcp(name) => tcp.push(name.clone()),
            tokio_postgres::config::Host::Unix(path) => unix.push(path.display().to_string()),
        }
    }
    let at = if user.is_empty() {
        String::new()
    } else {
        format!("{user}@")
    };
    let port = match (port, tcp.is_empty()) {
        (Some(port), false) => format!(":{port}"),
        _ => String::new(),
    };
    let socket = match unix.first() {
        Some(dir) => format!("?host={dir}"),
        None => String::new(),
    };
    format!("postgres://{at}{}{port}/{db}{socket}", tcp.join(","))
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({}, password redacted)", self.shown)
    }
}

pub(super) fn store_config(
    file: &ParsedFile,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<StoreConfig, ConfigError> {
    let (text, origin) = match (var(C1BOT_DATABASE_URL), &file.raw.store.url) {
        (Some(text), _) => (text, Origin::Env(C1BOT_DATABASE_URL)),
        (None, Some(text)) if text.trim().is_empty() => {
            return Err(invalid(
                file.origin("store.url"),
                "is empty: leave it out to keep the data in data_dir (sled), or write a postgres:// URL",
            ))
        }
        (None, Some(text)) => (text.clone(), file.origin("store.url")),
        (None, None) => return Ok(StoreConfig::default()),
    };
    let url = DatabaseUrl::parse(&text).map_err(|problem| invalid(origin, problem))?;
    Ok(StoreConfig { url: Some(url) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env_url: Option<&str>) -> Result<StoreConfig, String> {
        let var = |name: &str| {
            (name == C1BOT_DATABASE_URL)
                .then(|| env_url.map(str::to_owned))
                .flatten()
        };
        ParsedFile::parse("c1bot.toml", text)
            .and_then(|file| store_config(&file, &var))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn without_a_url_the_store_is_sled() {
        assert_eq!(load("", None), Ok(StoreConfig::default()));
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let config = load(
            "[store]\nurl = \"postgres://file@filehost/filedb\"\n",
            Some("postgres://env@envhost:6543/envdb"),
        )
        .expect("valid");
        let url = config.url.expect("a url");
        assert_eq!(url.to_string(), "postgres://env@envhost:6543/envdb");
    }

    #[test]
    fn the_password_never_prints() {
        let url =
            DatabaseUrl::parse("postgres://c1bot:s3cr%2Ft@db.internal:5432/c1bot?sslmode=require")
                .expect("valid");
        assert_eq!(url.to_string(), "postgres://c1bot@db.internal:5432/c1bot");
        let debug = format!("{url:?}");
        assert!(!debug.contains("s3cr"), "{debug}");
        assert!(url.expose().contains("s3cr%2Ft"), "the driver gets it");
        let err = DatabaseUrl::parse("postgres://c1bot:hunter2@db/c1bot?nonsense=1")
            .expect_err("unknown option");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("nonsense"), "{err}");
    }

    #[test]
    fn a_bad_url_names_where_it_came_from_and_how_to_write_it() {
        let err = load("\n[store]\nurl = \"mysql://x@y/z\"\n", None).expect_err("not postgres");
        assert!(
            err.starts_with(
                "c1bot.toml:3: store.url is not a postgres:// URL: write it like postgres://"
            ),
            "{err}"
        );
        let err = load("", Some("db.internal:5432")).expect_err("not a URL");
        assert!(
            err.starts_with("C1BOT_DATABASE_URL is not a postgres:// URL"),
            "{err}"
        );
        let err = load("[store]\nurl = \"\"\n", None).expect_err("empty");
        assert!(err.contains("store.url is empty"), "{err}");
        let err = load("[store]\nuri = \"postgres://x@y/z\"\n", None).expect_err("unknown key");
        assert_eq!(err, "c1bot.toml:2: unknown key 'store.uri' (expected url)");
    }

    #[test]
    fn sslmode_is_remembered_and_libpq_verify_modes_mean_require() {
        let url =
            DatabaseUrl::parse("postgres://c@db/x?sslmode=verify-full&sslrootcert=/etc/ca.pem")
                .expect("valid");
        assert!(url.sslmode_given());
        assert_eq!(url.root_cert(), Some(std::path::Path::new("/etc/ca.pem")));
        assert!(url.expose().contains("sslmode=require"), "{}", url.expose());
        assert!(!url.expose().contains("sslrootcert"));
        let url = DatabaseUrl::parse("postgres://c@db/x").expect("valid");
        assert!(!url.sslmode_given());
        assert!(DatabaseUrl::parse("postgres://c@db/x?sslmode=allow").is_err());
    }

    #[test]
    fn a_unix_socket_url_shows_its_directory() {
        let url =
            DatabaseUrl::parse("postgresql://c1bot@%2Frun%2Fpostgresql/c1bot").expect("valid");
        assert_eq!(
            url.to_string(),
            "postgres://c1bot@/c1bot?host=/run/postgresql"
        );
    }
}
