//! A real `c1bot run` child process against the simulator, on its own data
//! directory: started, scraped and killed (`kill -9`) by the crash tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use c1bot::simulator::{SimOptions, Simulator, Workspace};
use tokio::process::{Child, Command};

use crate::helpers::eventually;

/// A c1bot process on a data directory; killed (SIGKILL) when dropped.
pub struct Bot {
    child: Child,
    metrics: String,
}

pub struct Setup {
    pub sim: Simulator,
    pub data: tempfile::TempDir,
    pub config: PathBuf,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub async fn setup() -> Setup {
    setup_with_catalog(None).await
}

/// Like [`setup`], with the example catalog's text replaced when `catalog` is given.
pub async fn setup_with_catalog(catalog: Option<String>) -> Setup {
    let sim = Simulator::start(Workspace::demo(), SimOptions::default())
        .await
        .expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = dir.path().join("c1bot.toml");
    let catalog_file = match catalog {
        Some(text) => {
            let path = dir.path().join("catalog.toml");
            std::fs::write(&path, text).expect("catalog written");
            path
        }
        None => root.join("catalog.example.toml"),
    };
    std::fs::write(
        &config,
        format!(
            "catalog_file = {:?}\npolicies_dir = {:?}\nblocks_dir = {:?}\n",
            catalog_file,
            root.join("policies"),
            root.join("blocks"),
        ),
    )
    .expect("config written");
    Setup {
        sim,
        data: tempfile::tempdir().expect("data dir"),
        config,
        _dir: dir,
    }
}

impl Setup {
    /// Starts c1bot, its clock `offset` ahead, and waits until it is connected.
    pub async fn start(&self, offset: Duration) -> Bot {
        self.start_with(offset, &[]).await
    }

    /// Like [`Setup::start`], with extra environment (e.g. `C1BOT_FAULTS`).
    pub async fn start_with(&self, offset: Duration, env: &[(&str, &str)]) -> Bot {
        let bot = self.spawn(offset, env);
        eventually(Duration::from_secs(20), "c1bot is ready", || async {
            bot.ready().await.0 == 200
        })
        .await;
        bot
    }

    /// Starts c1bot without waiting for it to be ready (only for its health
    /// listener to answer).
    pub async fn start_live(&self, offset: Duration, env: &[(&str, &str)]) -> Bot {
        let bot = self.spawn(offset, env);
        eventually(Duration::from_secs(20), "c1bot answers /readyz", || async {
            bot.ready().await.0 != 0
        })
        .await;
        bot
    }

    /// Like [`Setup::start_with`], running the binary at `bin` (an older release).
    pub async fn start_binary(&self, bin: &Path, offset: Duration, env: &[(&str, &str)]) -> Bot {
        let bot = self.spawn_binary(bin, offset, env);
        eventually(Duration::from_secs(20), "c1bot is ready", || async {
            bot.ready().await.0 == 200
        })
        .await;
        bot
    }

    fn spawn(&self, offset: Duration, env: &[(&str, &str)]) -> Bot {
        self.spawn_binary(Path::new(env!("CARGO_BIN_EXE_c1bot")), offset, env)
    }

    fn spawn_binary(&self, bin: &Path, offset: Duration, env: &[(&str, &str)]) -> Bot {
        let port = free_port();
        let child = Command::new(bin)
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            .env_clear()
            .env("SLACK_APP_TOKEN", self.sim.app_token())
            .env("SLACK_BOT_TOKEN", self.sim.bot_token())
            .env("SLACK_API_URL", self.sim.api_url())
            .env("C1BOT_DATA_DIR", self.data.path())
            .env("C1BOT_HEALTH_LISTEN", format!("127.0.0.1:{port}"))
            .env("C1BOT_CLOCK_OFFSET_SECS", offset.as_secs().to_string())
            .env("RUST_LOG", "warn")
            .env("CRASH_HOOK_SECRET", "crash-test-key")
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .spawn()
            .expect("c1bot starts");
        Bot {
            child,
            metrics: format!("http://127.0.0.1:{port}/metrics"),
        }
    }
}

impl Bot {
    /// `/readyz`: its status and body.
    pub async fn ready(&self) -> (u16, String) {
        match reqwest::get(self.metrics.replace("/metrics", "/readyz")).await {
            Ok(response) => (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            ),
            Err(error) => (0, error.to_string()),
        }
    }

    /// The whole `/metrics` page ("" when it does not answer).
    pub async fn scrape(&self) -> String {
        match reqwest::get(&self.metrics).await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn gauge(&self, series: &str) -> f64 {
        let Ok(response) = reqwest::get(&self.metrics).await else {
            return f64::NAN;
        };
        let text = response.text().await.unwrap_or_default();
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(f64::NAN)
    }

    /// Sends `signal` (e.g. `-HUP`) to the process.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("running");
        let sent = std::process::Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill {signal} {pid}");
    }

    pub async fn kill_9(mut self) {
        self.child.start_kill().expect("SIGKILL sent");
        self.child.wait().await.expect("reaped");
    }
}
