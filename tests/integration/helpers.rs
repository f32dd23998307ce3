//! `spawn_app()`: a simulator plus a c1bot connected to it, each test its own.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use c1bot::app::{self, Running};
use c1bot::config::{Config, Mode};
use c1bot::simulator::{SimOptions, Simulator, Workspace};

pub struct TestApp {
    pub sim: Simulator,
    pub config: Config,
    pub bot: Option<Running>,
    _data: tempfile::TempDir,
}

/// Simulator timings shortened for tests; everything else as Slack does it.
pub fn fast_sim_options() -> SimOptions {
    SimOptions {
        event_retry_delays: vec![Duration::from_millis(300); 3],
        ..SimOptions::default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(fast_sim_options()).await
}

pub async fn spawn_app_with(options: SimOptions) -> TestApp {
    let app = spawn_stopped(options).await;
    start(app).await
}

/// A simulator and a config for a bot that is not started yet.
pub async fn spawn_stopped(options: SimOptions) -> TestApp {
    let sim = Simulator::start(Workspace::demo(), options)
        .await
        .expect("simulator starts");
    let data = tempfile::tempdir().expect("temp dir");
    let env: HashMap<&str, String> = HashMap::from([
        ("SLACK_APP_TOKEN", sim.app_token()),
        ("SLACK_BOT_TOKEN", sim.bot_token()),
        ("SLACK_API_URL", sim.api_url()),
        ("C1BOT_DATA_DIR", data.path().display().to_string()),
    ]);
    let mut config = Config::load(None, &|key| env.get(key).cloned(), Mode::Run).expect("config");
    config.catalog =
        c1bot::catalog::Catalog::load_file(std::path::Path::new("catalog.example.toml"))
            .expect("example catalog");
    // Reconnects in tests need not wait as long as in production.
    config.socket.reconnect_backoff_initial = Duration::from_millis(50);
    config.socket.reconnect_backoff_max = Duration::from_millis(400);
    TestApp {
        sim,
        config,
        bot: None,
        _data: data,
    }
}

pub async fn start(mut app: TestApp) -> TestApp {
    // In-process restarts: the previous bot's last tasks may hold the data
    // directory's lock for a moment after `stop` returns.
    let mut attempts = 0;
    let bot = loop {
        match app::start(&app.config).await {
            Ok(bot) => break bot,
            Err(error) if format!("{error}").contains("only one instance") && attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("bot starts: {error:#}"),
        }
    };
    app.sim
        .wait_for_connections(app.config.slack.connections, Duration::from_secs(10))
        .await
        .expect("bot connects");
    app.bot = Some(bot);
    app
}

/// Stops the bot and starts it again on the same data directory and simulator.
pub async fn restart(mut app: TestApp) -> TestApp {
    stop_bot(&mut app).await;
    start(app).await
}

/// Stops the bot, keeping the simulator and the data directory (to look at or change
/// before [`start`]).
pub async fn stop_bot(app: &mut TestApp) {
    app.bot
        .take()
        .expect("running")
        .stop()
        .await
        .expect("stops");
}

impl TestApp {
    pub async fn stop(mut self) {
        if let Some(bot) = self.bot.take() {
            bot.stop().await.expect("bot stops cleanly");
        }
        self.sim.shutdown().await;
    }
}

/// Polls `check` every 10 ms until it holds, for at most `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
