//! `c1bot demo` without Slack tokens: starts the built-in simulator, connects a real
//! c1bot to it over HTTP and websockets on 127.0.0.1, and walks through what its users
//! see, printing the conversation.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use anyhow::Context;

use crate::config::{Config, Mode};
use crate::simulator::{SimOptions, Simulator, Workspace};

/// Runs the scripted walk-through, writing the conversation to `out`.
pub async fn run(out: &mut impl Write) -> anyhow::Result<()> {
    let sim = Simulator::start(Workspace::demo(), SimOptions::default())
        .await
        .context("starting the Slack simulator")?;
    let data = std::env::temp_dir().join(format!("c1bot-demo-{}", std::process::id()));
    let env: HashMap<&str, String> = HashMap::from([
        ("SLACK_APP_TOKEN", sim.app_token()),
        ("SLACK_BOT_TOKEN", sim.bot_token()),
        ("SLACK_API_URL", sim.api_url()),
        ("C1BOT_DATA_DIR", data.display().to_string()),
    ]);
    let config =
        Config::load(None, &|key| env.get(key).cloned(), Mode::Run).context("demo config")?;

    writeln!(
        out,
        "c1bot demo: a simulated Slack workspace (Acme) on {}",
        sim.api_url()
    )?;
    let bot = crate::app::start(&config).await?;
    sim.wait_for_connections(config.slack.connections, Duration::from_secs(10))
        .await
        .context("c1bot did not connect to the simulator")?;
    writeln!(
        out,
        "c1bot connected over Socket Mode with {} connections.\n",
        sim.open_connections()
    )?;

    let alice = sim.person("alice");
    for text in ["", "help", "grant me root"] {
        writeln!(out, "[#general] alice: /c1 {text}")?;
        let outcome = alice.slash("/c1", text, "general").await;
        if !outcome.acked {
            anyhow::bail!("c1bot did not acknowledge `/c1 {text}` in time");
        }
        let latency = sim
            .acks_received()
            .last()
            .map(|ack| format!("{:.1} ms", ack.latency.as_secs_f64() * 1000.0))
            .unwrap_or_default();
        writeln!(
            out,
            "  (acked in {latency}) only visible to alice, c1bot says:"
        )?;
        for line in outcome.response_text.lines() {
            writeln!(out, "    {line}")?;
        }
        writeln!(out)?;
    }

    writeln!(out, "alice opens c1bot's App Home tab")?;
    let home = alice.open_app_home().await;
    home.ack(Duration::from_secs(3))
        .await
        .context("app_home_opened was not acked")?;
    let published = wait_for(|| alice.home().is_some()).await;
    if published {
        writeln!(out, "  alice sees the Home tab published by c1bot\n")?;
    }

    writeln!(
        out,
        "Slack asks c1bot to refresh one connection (refresh_requested)"
    )?;
    let before = sim.connections_opened_total();
    sim.send_disconnect_with("refresh_requested", Duration::from_millis(500))
        .await?;
    if !wait_for(|| sim.connections_opened_total() > before).await {
        anyhow::bail!("c1bot did not open a replacement connection");
    }
    writeln!(
        out,
        "  c1bot opened a replacement first: {} connections open while the old link drains",
        sim.open_connections()
    )?;
    if wait_for(|| sim.open_connections() == config.slack.connections).await {
        writeln!(
            out,
            "  the old link closed: {} connections open\n",
            sim.open_connections()
        )?;
    }
    let outcome = alice.slash("/c1", "help", "general").await;
    writeln!(
        out,
        "[#general] alice: /c1 help  -> acked: {}",
        outcome.acked
    )?;

    bot.stop().await?;
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(&data);
    writeln!(
        out,
        "\ndemo finished: people saw {} errors",
        sim.person_errors().len()
    )?;
    Ok(())
}

async fn wait_for(mut check: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
