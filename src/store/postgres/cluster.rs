//! A throwaway PostgreSQL server for tests and benchmarks: `initdb` in a fresh
//! temporary directory, `pg_ctl start` listening only on a Unix socket in it, and a
//! fresh database per caller.
//!
//! One server per process ([`shared`]), started on first use. A watchdog shell (a
//! child of the server's user) stops the server and removes its directory once this
//! process is gone, however it ends, so nothing outlives a test run. When run as root
//! the server runs as the `postgres` user (PostgreSQL refuses root).
//!
//! `C1BOT_TEST_POSTGRES=required` turns "PostgreSQL is not installed" into a failure;
//! otherwise callers skip with one printed line ([`skip_note`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// Environment variable: `required` makes an unavailable PostgreSQL a test failure.
pub const C1BOT_TEST_POSTGRES: &str = "C1BOT_TEST_POSTGRES";

/// A running throwaway server.
#[derive(Debug)]
pub struct TestCluster {
    dir: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
    next_db: AtomicU32,
}

/// The process's server, started on first call; `Err` says why there is none.
pub fn shared() -> Result<&'static TestCluster, String> {
    static CLUSTER: OnceLock<Result<TestCluster, String>> = OnceLock::new();
    CLUSTER
        .get_or_init(TestCluster::start)
        .as_ref()
        .map_err(Clone::clone)
}

/// The server for a test, or `None` (after printing why) when PostgreSQL is not
/// available and not required. Panics when `C1BOT_TEST_POSTGRES=required`.
pub fn for_test() -> Option<&'static TestCluster> {
    match shared() {
        Ok(cluster) => Some(cluster),
        Err(why) if required() => {
            panic!("{C1BOT_TEST_POSTGRES}=required but no PostgreSQL server: {why}")
        }
        Err(why) => {
            eprintln!("{}", skip_note(&why));
            None
        }
    }
}

/// Whether `C1BOT_TEST_POSTGRES=required`.
pub fn required() -> bool {
    std::env::var(C1BOT_TEST_POSTGRES).is_ok_and(|v| v == "required")
}

/// The one loud line a skipped PostgreSQL test prints.
pub fn skip_note(why: &str) -> String {
    format!(
        "SKIPPING PostgreSQL tests ({why}): install PostgreSQL (Debian: apt-get install postgresql) \
         or set {C1BOT_TEST_POSTGRES}=required to make this a failure"
    )
}

impl TestCluster {
    fn start() -> Result<TestCluster, String> {
        Self::start_with(false)
    }

    /// A server of its own (not [`shared`]); `durable`: fsync on, as in production
    /// (benchmarks), else off (tests). Stopped when this process exits.
    pub fn start_with(durable: bool) -> Result<TestCluster, String> {
        let bin = find_bindir().ok_or("no initdb found (PATH, /usr/lib/postgresql/*/bin)")?;
        let run_as = is_root().then(|| "postgres".to_owned());
        let dir = std::env::temp_dir().join(format!(
            "c1bot-pg-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .arg(user)
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!("chown {user} {} failed", dir.display()));
            }
        }
        let cluster = TestCluster {
            dir,
            bin,
            run_as,
            next_db: AtomicU32::new(1),
        };
        cluster.init_and_start(durable)?;
        Ok(cluster)
    }

    fn init_and_start(&self, durable: bool) -> Result<(), String> {
        let data = self.dir.join("data");
        self.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth=trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let options = format!(
            "-k {} -c listen_addresses='' -c max_connections=300 -c fsync={} \
             -c synchronous_commit=on -c shared_buffers=32MB",
            self.dir.display(),
            if durable { "on" } else { "off" },
        );
        let log = self.dir.join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "start".as_ref(),
            ],
        )?;
        self.watchdog(&data)
    }

    /// Stops the server and removes its directory when this process has exited.
    fn watchdog(&self, data: &Path) -> Result<(), String> {
        let as_user = match &self.run_as {
            Some(user) => format!("runuser -u {user} -- "),
            None => String::new(),
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {as_user}'{pg_ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = data.display(),
            dir = self.dir.display(),
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting the clean-up watchdog: {e}"))?;
        Ok(())
    }

    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
        let path = self.bin.join(tool);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        let output = command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running {}: {e}", path.display()))?;
        if output.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        Err(format!(
            "{tool} failed: {}{}\n{log}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        // The socket directory as the URL's (percent-encoded) host: the only host, so
        // nothing else on this machine is ever tried.
        let host: String =
            url::form_urlencoded::byte_serialize(self.dir.to_string_lossy().as_bytes()).collect();
        format!("postgres://postgres@{host}/{name}")
    }

    /// Creates a fresh, empty database; returns its URL.
    pub async fn database(&self) -> Result<String, String> {
        let name = format!(
            "c1bot_test_{}_{}",
            std::process::id(),
            self.next_db.fetch_add(1, Ordering::Relaxed)
        );
        let admin = tokio_postgres::Config::new()
            .host_path(&self.dir)
            .user("postgres")
            .dbname("postgres")
            .to_owned();
        let (client, connection) = admin
            .connect(tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("connecting to the test server: {e}"))?;
        let running = tokio::spawn(connection);
        let created = client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| format!("creating database {name}: {e}"));
        drop(client);
        let _ = running.await;
        created.map(|()| self.url(&name))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The directory holding `initdb` and `pg_ctl`: the newest under
/// `/usr/lib/postgresql/*/bin` (Debian), else the one on PATH.
fn find_bindir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .find(|p| p.join("initdb").exists() && p.join("pg_ctl").exists())
    })
}
