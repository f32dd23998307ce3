//! Publishing the audit chain's head outside the store (an anchor), so that a cut or
//! rewritten tail is caught later by `c1bot audit verify --head SEQ:HASH`.
//!
//! Owns when a head is published (at start-up and every `[audit] anchor_every`, only
//! when it moved since the last publication, the anchor post's own delivery entries
//! aside), and where: always a log line with the fixed target [`TARGET`] for the
//! operator's log shipper, and, when there is one, a line in the anchor channel
//! (`[audit] anchor_channel`, else `[activity] channel`) committed through the
//! outbox so it survives a restart. The last publication is kept in `meta` beside
//! it. Must not check the chain (the store does) or post outside the outbox.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use tokio::task::JoinHandle;

use crate::config::{ActivityConfig, AuditConfig, Config};
use crate::store::{AuditAnchor, Change, OutboxMessage, Record, Store, Table};
use crate::supervise::{Heartbeat, Supervisor};

/// The tracing target of the anchor line: route it to a log store that whoever can
/// write c1bot's disk cannot rewrite.
pub const TARGET: &str = "c1bot::audit_anchor";

/// The anchor post's subject, and so that of its `notification.*` audit entries.
pub const SUBJECT: &str = "audit-anchor";

/// Where the last publication is kept (`meta`).
const LAST_KEY: &str = "audit-anchor/last";

/// The head last published, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Published {
    seq: u64,
    hash: String,
    at: DateTime<Utc>,
}

impl Record for Published {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }
}

/// The channel the head is posted to, if any.
pub fn channel<'a>(audit: &'a AuditConfig, activity: &'a ActivityConfig) -> Option<&'a str> {
    audit
        .anchor_channel
        .as_deref()
        .or(activity.channel.as_deref())
}

/// How long the loop may go without a pass before `/readyz` calls it stuck.
pub fn stale_after(every: Duration) -> Duration {
    every.saturating_mul(2) + Duration::from_secs(60)
}

/// Whether the head is published, given the last publication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    /// Same head, or only the last anchor post's own delivery was audited since.
    Unchanged,
    Moved,
    /// The head is behind the last one published, or the same seq with another hash:
    /// entries were removed or rewritten.
    WentBack,
}

fn due(last: Option<&AuditAnchor>, head: &AuditAnchor, only_own_since: bool) -> Due {
    match last {
        None => Due::Moved,
        Some(last) if head.seq < last.seq => Due::WentBack,
        Some(last) if head.seq == last.seq && head.hash != last.hash => Due::WentBack,
        Some(last) if head.seq == last.seq => Due::Unchanged,
        Some(_) if only_own_since => Due::Unchanged,
        Some(_) => Due::Moved,
    }
}

/// The anchor post: the head and the command that checks the log against it.
fn post(channel: &str, head: &AuditAnchor) -> OutboxMessage {
    let text = format!(
        ":lock: Audit anchor `{head}`: entry {} of c1bot's audit log. Keep this line; `c1bot audit verify --head {head}` checks the log still holds it.",
        head.seq
    );
    OutboxMessage {
        method: "chat.postMessage".into(),
        args: json!({ "channel": channel, "text": text }),
        // Names the post, so that its delivery's audit entries carry SUBJECT.
        record_ref: Some(format!("{SUBJECT}/latest")),
        update_ref: None,
        if_refused: None,
    }
}

/// One pass: publishes the head if it moved; returns it when published.
pub async fn publish_once(
    store: &Store,
    channel: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<AuditAnchor>> {
    let Some(head) = store.audit_head().await.context("reading the audit head")? else {
        return Ok(None);
    };
    let stored = store
        .get::<Published>(Table::Meta, LAST_KEY)
        .await
        .context("reading the last published audit head")?;
    let last = stored.as_ref().map(|p| AuditAnchor {
        seq: p.data.seq,
        hash: p.data.hash.clone(),
    });
    let only_own_since = match &last {
        Some(last) if head.seq > last.seq => only_own_after(store, last.seq).await?,
        _ => false,
    };
    match due(last.as_ref(), &head, only_own_since) {
        Due::Unchanged => return Ok(None),
        Due::Moved => {
            tracing::info!(target: TARGET, seq = head.seq, hash = %head.hash, anchor = %head, "audit head");
        }
        Due::WentBack => {
            let last = last.map(|l| l.to_string()).unwrap_or_default();
            tracing::error!(target: TARGET, seq = head.seq, hash = %head.hash, anchor = %head, last = %last, "audit head went back since it was last published: entries were removed or rewritten; check with c1bot audit verify --head {last}");
        }
    }
    let published = Published {
        seq: head.seq,
        hash: head.hash.clone(),
        at: now,
    };
    let mut change = Change::new()
        .at(now)
        .expect(Table::Meta, LAST_KEY, stored.map(|s| s.rev))
        .put(Table::Meta, LAST_KEY, &published);
    if let Some(channel) = channel {
        change = change.outbox(post(channel, &head));
    }
    store
        .commit(change)
        .await
        .context("recording the published audit head")?;
    Ok(Some(head))
}

/// Whether every entry after `seq` is the delivery record of an anchor post (a
/// handful at most: more than [`OWN_AFTER_LIMIT`] means something else happened).
async fn only_own_after(store: &Store, seq: u64) -> anyhow::Result<bool> {
    let entries = store
        .audit_after(seq, OWN_AFTER_LIMIT + 1)
        .await
        .context("reading the audit log")?;
    Ok(entries.len() <= OWN_AFTER_LIMIT
        && entries
            .iter()
            .all(|entry| entry.get("subject").and_then(|s| s.as_str()) == Some(SUBJECT)))
}

/// More entries after the last anchor than this are never all the anchor's own.
const OWN_AFTER_LIMIT: usize = 16;

/// Starts the publisher under `supervisor` (loop `audit-anchor`), until `shutdown`.
pub fn spawn(
    supervisor: &Supervisor,
    store: Store,
    config: &Config,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let channel = channel(&config.audit, &config.activity).map(str::to_owned);
    let every = config.audit.anchor_every;
    let stop = shutdown.clone();
    supervisor.spawn("audit-anchor", stale_after(every), shutdown, move |beat| {
        run(store.clone(), channel.clone(), every, beat, stop.clone())
    })
}

/// The supervised loop: a pass at start-up, then every `every`, until `shutdown`.
pub async fn run(
    store: Store,
    channel: Option<String>,
    every: Duration,
    beat: Heartbeat,
    shutdown: CancellationToken,
) {
    loop {
        if let Err(error) = publish_once(&store, channel.as_deref(), Utc::now()).await {
            tracing::warn!(error = %format!("{error:#}"), "could not publish the audit head; trying again at the next pass");
        }
        beat.beat();
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
#[path = "audit_anchor_tests.rs"]
mod tests;
