//! `c1bot demo` without Slack tokens: starts the built-in simulator, connects a real
//! c1bot to it over HTTP and websockets on 127.0.0.1, and walks through what its users
//! see, printing the conversation.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use anyhow::Context;

use crate::catalog::{Catalog, Source};
use crate::config::{Config, Mode};
use crate::simulator::Person;
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
    let mut config =
        Config::load(None, &|key| env.get(key).cloned(), Mode::Run).context("demo config")?;
    // The example catalog ships inside the binary, so the demo runs from any directory.
    config.catalog = Catalog::from_toml(Source {
        name: "catalog.example.toml",
        text: include_str!("../catalog.example.toml"),
    })
    .context("the built-in example catalog")?;

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
        for line in as_seen(&outcome.response_text).lines() {
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

    request_walkthrough(out, &sim).await?;

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

/// alice asks for ReadOnly on AWS production; bob approves; carol grants it; alice
/// is done early; carol removes it.
async fn request_walkthrough(out: &mut impl Write, sim: &Simulator) -> anyhow::Result<()> {
    let wait = Duration::from_secs(10);
    let (alice, bob, carol) = (sim.person("alice"), sim.person("bob"), sim.person("carol"));
    writeln!(out, "[#general] alice: /c1 request aws")?;
    let outcome = alice.slash("/c1", "request aws", "general").await;
    if !outcome.acked {
        anyhow::bail!("c1bot did not acknowledge `/c1 request`");
    }
    alice
        .wait_for_modal(wait)
        .await
        .context("the request modal did not open")?;
    writeln!(
        out,
        "  a \"Request access\" form opens for alice; she fills it in:"
    )?;
    alice.fill("Resource", "AWS production").await?;
    if !wait_for(|| {
        alice
            .modal()
            .is_some_and(|m| m.to_string().contains("\"ReadOnly\""))
    })
    .await
    {
        anyhow::bail!("the entitlements of AWS production did not appear");
    }
    for (label, value) in [
        ("Entitlement", "ReadOnly"),
        ("Duration", "4 h"),
        ("Justification", "Investigating incident 4711 <!channel>"),
    ] {
        alice.fill(label, value).await?;
        writeln!(out, "    {label}: {value}")?;
    }
    let submitted = alice.submit().await?;
    writeln!(out, "  alice submits: {submitted:?}\n")?;
    show(out, "c1bot → alice (DM)", &alice, "REQ-", wait).await?;
    show(out, "c1bot → bob (DM)", &bob, "Investigating", wait).await?;
    writeln!(out, "bob clicks Approve")?;
    bob.click("Approve").await?;
    show(out, "c1bot → alice (DM)", &alice, "Approved", wait).await?;
    show(
        out,
        "c1bot → carol (DM, provisioning task)",
        &carol,
        "Grant",
        wait,
    )
    .await?;
    writeln!(
        out,
        "  (user text such as <!channel> reaches Slack escaped; it pings nobody)\n"
    )?;
    writeln!(
        out,
        "carol grants the access by hand and clicks Mark complete"
    )?;
    carol.click("Mark complete").await?;
    show(
        out,
        "c1bot → alice (DM)",
        &alice,
        "Your access is active",
        wait,
    )
    .await?;
    writeln!(out, "alice finishes early and clicks I'm done")?;
    alice.click("I'm done").await?;
    show(
        out,
        "c1bot → carol (DM, deprovisioning task)",
        &carol,
        "Revoke",
        wait,
    )
    .await?;
    writeln!(out, "carol removes the access and clicks Mark complete")?;
    carol.click("Mark complete").await?;
    show(out, "c1bot → alice (DM)", &alice, "Access removed", wait).await?;
    Ok(())
}

async fn show(
    out: &mut impl Write,
    who: &str,
    person: &Person,
    containing: &str,
    wait: Duration,
) -> anyhow::Result<()> {
    let wanted = containing.to_owned();
    let message = person
        .wait_for_message(wait, move |m| m.visible_text().contains(&wanted))
        .await
        .with_context(|| format!("{who}: no message containing {containing:?}"))?;
    writeln!(out, "{who}:")?;
    for line in as_seen(&message.visible_text()).lines() {
        writeln!(out, "    {line}")?;
    }
    let buttons = message.buttons();
    if !buttons.is_empty() {
        writeln!(out, "    [{}]", buttons.join("] ["))?;
    }
    writeln!(out)?;
    Ok(())
}

/// `text` (mrkdwn) as a person reads it in Slack: `@bob` for a mention of the demo
/// workspace's bob, dates as their UTC fallback, `<` for `&lt;`.
fn as_seen(text: &str) -> String {
    let users = Workspace::demo().users;
    let name = |id: &str| users.iter().find(|u| u.id == id).map(|u| u.name.clone());
    crate::app::shared::mrkdwn::to_plain(text, &name)
}

#[cfg(test)]
mod tests {
    use super::as_seen;

    #[test]
    fn the_demo_prints_mentions_and_dates_as_slack_shows_them() {
        assert_eq!(
            as_seen("*Approved* by <@U0BOB00001> on <!date^1763630100^{date_short_pretty}|2025-11-20 09:15 UTC> &lt;ok&gt;"),
            "*Approved* by @bob on 2025-11-20 09:15 UTC <ok>"
        );
    }
}
