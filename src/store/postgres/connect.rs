//! From a [`DatabaseUrl`] to a connection pool: TLS or not, and bounded waits.
//!
//! TLS: with `sslmode` in the URL, as it says (`disable`, `prefer`, `require`; libpq's
//! `verify-ca`/`verify-full` read as `require`). Without it, a server reached over a
//! Unix socket or a loopback address goes without TLS and any other needs it. When TLS
//! is used the server's certificate is always verified (rustls, against the system's
//! roots plus `sslrootcert=PATH` if given), hostname included.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::config::{Host, SslMode};

use crate::config::DatabaseUrl;
use crate::store::StoreError;

/// Connections kept per process: commits, reads and the outbox sender share them.
const POOL_SIZE: usize = 16;
/// How long opening one connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The server ends a session idle inside a transaction for this long (well under the
/// lease, see `app::leader`).
const IDLE_IN_TRANSACTION: &str = "-c idle_in_transaction_session_timeout=2000";
/// How long a caller waits for a free connection.
const WAIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The pool for `url`. Connects lazily: the first use reports an unreachable server.
pub(super) fn pool(url: &DatabaseUrl) -> Result<Pool, StoreError> {
    let database = url.to_string();
    let refuse = |detail: String| StoreError::Connect {
        database: database.clone(),
        detail,
    };
    let mut config = tokio_postgres::Config::from_str(url.expose())
        .map_err(|e| refuse(format!("the URL does not parse: {e}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("c1bot");
    }
    // A process paused or cut off inside a transaction holds its row locks, the lease
    // row's FOR SHARE included, which a taker's UPDATE would wait for forever: the
    // server ends such a session, rolling its transaction back, after this long.
    // c1bot's transactions never wait for anything but the database between statements.
    let options = match config.get_options() {
        Some(given) => format!("{given} {IDLE_IN_TRANSACTION}"),
        None => IDLE_IN_TRANSACTION.to_owned(),
    };
    config.options(&options);
    let mode = ssl_mode(
        url.sslmode_given(),
        config.get_ssl_mode(),
        config.get_hosts(),
    );
    config.ssl_mode(mode);
    let manager_config = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match config.get_ssl_mode() {
        SslMode::Disable => Manager::from_config(config, tokio_postgres::NoTls, manager_config),
        _ => {
            let tls = tls_connector(url.root_cert()).map_err(refuse)?;
            Manager::from_config(config, tls, manager_config)
        }
    };
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(WAIT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT + Duration::from_secs(1)))
        .recycle_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|e| refuse(format!("cannot build the connection pool: {e}")))
}

/// The URL's `sslmode` when it gives one; else none for a local server, required for
/// any other.
pub(crate) fn ssl_mode(given: bool, in_url: SslMode, hosts: &[Host]) -> SslMode {
    match (given, is_local(hosts)) {
        (true, _) => in_url,
        (false, true) => SslMode::Disable,
        (false, false) => SslMode::Require,
    }
}

/// Every host is a Unix socket or a loopback name or address.
pub(crate) fn is_local(hosts: &[Host]) -> bool {
    !hosts.is_empty()
        && hosts.iter().all(|host| match host {
            Host::Unix(_) => true,
            Host::Tcp(name) => {
                name == "localhost"
                    || name
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        })
}

/// rustls with the system's roots, and `root_cert`'s certificates when given.
fn tls_connector(
    root_cert: Option<&std::path::Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = root_cert {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "sslrootcert {} holds no certificate",
                path.display()
            ));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
        }
    }
    if roots.is_empty() {
        return Err(
            "TLS is needed but no trusted certificate was found: install the system's CA certificates or give sslrootcert=PATH".into(),
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// A pool error as the store's error, naming the database (never its password).
pub(super) fn pool_error(database: &str, error: PoolError) -> StoreError {
    let detail = match error {
        PoolError::Backend(e) => StoreError::postgres("connecting", e).to_string(),
        PoolError::Timeout(kind) => format!("timed out ({kind:?}) waiting for a connection"),
        other => other.to_string(),
    };
    StoreError::Connect {
        database: database.to_owned(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_sockets_and_loopback_are_local_and_anything_else_is_not() {
        let tcp = |h: &str| Host::Tcp(h.to_owned());
        assert!(is_local(&[Host::Unix("/run/postgresql".into())]));
        assert!(is_local(&[tcp("localhost"), tcp("127.0.0.1"), tcp("::1")]));
        assert!(!is_local(&[tcp("db.internal")]));
        assert!(!is_local(&[tcp("127.0.0.1"), tcp("10.0.0.5")]));
        assert!(!is_local(&[]));
    }

    #[test]
    fn tls_is_required_for_a_remote_server_unless_the_url_says_otherwise() {
        let remote = [Host::Tcp("db.internal".to_owned())];
        let local = [Host::Unix("/run/postgresql".into())];
        assert_eq!(ssl_mode(false, SslMode::Prefer, &remote), SslMode::Require);
        assert_eq!(ssl_mode(false, SslMode::Prefer, &local), SslMode::Disable);
        assert_eq!(ssl_mode(true, SslMode::Disable, &remote), SslMode::Disable);
        assert_eq!(ssl_mode(true, SslMode::Require, &local), SslMode::Require);
    }

    #[test]
    fn a_pool_for_a_remote_server_is_built_without_connecting() {
        let url = DatabaseUrl::parse("postgres://c1bot:pw@db.invalid/c1bot").expect("valid");
        let pool = pool(&url).expect("a pool, with the TLS connector");
        assert_eq!(pool.status().max_size, POOL_SIZE);
    }
}
