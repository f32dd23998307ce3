//! The local admin socket (`<data_dir>/c1bot.sock`): how `c1bot backup` reaches the
//! running instance, which alone may open the data directory.
//!
//! A Unix socket in the data directory, mode 0600: whoever may ask for a backup
//! could read the data anyway. One request per connection:
//! - `backup <absolute path>` → `ok <entries>` | `error <reason>`;
//! - `audit-export` → the audit log as JSON lines, then the connection closes;
//! - `audit-verify [<seq>:<hash>]` → `ok <entries>` | `tampered <entries> <seq> <reason>`
//!   | `error <reason>`; with an anchor, the log must still hold that entry and hash;
//! - `audit-prune <seq>:<hash> <absolute export path>` → `ok <removed>` | `error <reason>`;
//! - `step-up-allow <user id> <admin>` → `ok <sentence>` | `error <reason>` (audited).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::store::{AuditAnchor, SledStore};

pub const SOCKET_NAME: &str = "c1bot.sock";

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// Listens until `shutdown`. The socket file is removed when the listener stops.
pub fn serve(store: SledStore, data_dir: &Path, shutdown: CancellationToken) -> anyhow::Result<()> {
    let path = socket_path(data_dir);
    // A stale socket from a crash; the store's lock already proved no c1bot is live here.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)
        .map_err(|e| anyhow::anyhow!("binding {}: {e}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => { tokio::spawn(answer(store.clone(), stream)); }
                    Err(error) => tracing::warn!(%error, "admin socket accept failed"),
                },
            }
        }
        let _ = std::fs::remove_file(&path);
    });
    Ok(())
}

async fn answer(store: SledStore, stream: UnixStream) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    if BufReader::new(read).read_line(&mut line).await.is_err() {
        return;
    }
    let reply = match line.trim().split_once(' ') {
        // Off the runtime, with the free space checked first; a failure (even a panic
        // inside sled) is an answer to the client, never the end of the bot.
        Some(("backup", dest)) if Path::new(dest).is_absolute() => {
            match store.backup_to(Path::new(dest)).await {
                Ok(entries) => format!("ok {entries}\n"),
                Err(error) => format!("error {error}\n"),
            }
        }
        None if line.trim() == "audit-export" => {
            let exported = tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                store.export_audit(&mut out).map(|_| out)
            })
            .await;
            match exported {
                Ok(Ok(lines)) => {
                    let _ = write.write_all(&lines).await;
                    return;
                }
                Ok(Err(error)) => format!("error {error}\n"),
                Err(error) => format!("error the export task failed: {error}\n"),
            }
        }
        request if request.map_or(line.trim(), |(word, _)| word) == "audit-verify" => {
            let anchor = match request.map(|(_, anchor)| anchor.parse::<AuditAnchor>()) {
                Some(Err(error)) => {
                    let _ = write.write_all(format!("error {error}\n").as_bytes()).await;
                    return;
                }
                parsed => parsed.and_then(Result::ok),
            };
            let verified =
                tokio::task::spawn_blocking(move || store.verify_audit_against(anchor.as_ref()));
            match verified.await {
                Ok(Ok(v)) => match v.problem {
                    None => format!("ok {}\n", v.count),
                    Some(p) => format!("tampered {} {} {}\n", v.count, p.seq, p.reason),
                },
                Ok(Err(error)) => format!("error {error}\n"),
                Err(error) => format!("error the verify task failed: {error}\n"),
            }
        }
        Some(("audit-prune", args)) => prune_answer(store, args).await,
        Some(("step-up-allow", args)) => match args.split_once(' ') {
            Some((user, by)) => {
                let store = crate::store::Store::from(store);
                match crate::app::decisions::step_up::allow::allow(&store, user, by, chrono::Utc::now()).await {
                    Ok(said) => format!("ok {said}\n"),
                    Err(error) => format!("error {error}\n"),
                }
            }
            None => "error expected: step-up-allow <user id> <admin>\n".to_owned(),
        },
        _ => {
            "error expected: backup <absolute path> | audit-export | audit-verify [<seq>:<hash>] | audit-prune <seq>:<hash> <absolute path> | step-up-allow <user id> <admin>\n"
                .to_owned()
        }
    };
    let _ = write.write_all(reply.as_bytes()).await;
}

/// `audit-prune <seq>:<hash> <path>`, off the runtime.
async fn prune_answer(store: SledStore, args: &str) -> String {
    let Some((point, path)) = args.split_once(' ') else {
        return "error expected: audit-prune <seq>:<hash> <absolute path>\n".to_owned();
    };
    let through = match point.parse::<AuditAnchor>() {
        Ok(through) => through,
        Err(error) => return format!("error {error}\n"),
    };
    let path = PathBuf::from(path);
    let pruned = tokio::task::spawn_blocking(move || {
        let export = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        store
            .prune_audit(&through, &export)
            .map_err(|e| e.to_string())
    });
    match pruned.await {
        Ok(Ok(removed)) => format!("ok {removed}\n"),
        Ok(Err(error)) => format!("error {error}\n"),
        Err(error) => format!("error the prune task failed: {error}\n"),
    }
}

/// Sends one request line to the running instance and reads its one-line reply.
async fn ask(mut stream: UnixStream, request: &str) -> Result<String, String> {
    stream
        .write_all(format!("{request}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut reply = String::new();
    BufReader::new(stream)
        .read_line(&mut reply)
        .await
        .map_err(|e| e.to_string())?;
    Ok(reply)
}

/// `ok <n>` → n; `error <reason>` → the reason.
fn ok_number(reply: &str) -> Result<u64, String> {
    match reply.trim().split_once(' ') {
        Some(("ok", n)) => n.parse().map_err(|_| format!("unexpected reply {reply:?}")),
        Some(("error", reason)) => Err(reason.to_owned()),
        _ => Err(format!("unexpected reply {reply:?}")),
    }
}

/// `c1bot audit prune --through SEQ:HASH --export FILE`: through the running
/// instance if there is one, else directly. Returns how many entries were removed.
pub async fn audit_prune(
    data_dir: &Path,
    through: &AuditAnchor,
    export: &Path,
) -> Result<u64, String> {
    let export = std::path::absolute(export).map_err(|e| format!("{}: {e}", export.display()))?;
    match UnixStream::connect(socket_path(data_dir)).await {
        Ok(stream) => {
            let request = format!("audit-prune {through} {}", export.display());
            ok_number(&ask(stream, &request).await?)
        }
        Err(_) => {
            let store = SledStore::open(data_dir).map_err(|e| e.to_string())?;
            let bytes = std::fs::read(&export).map_err(|e| format!("{}: {e}", export.display()))?;
            store
                .prune_audit(through, &bytes)
                .map_err(|e| e.to_string())
        }
    }
}

/// `c1bot step-up allow USER`: through the running instance if there is one, else
/// directly. Returns the sentence for the admin.
pub async fn step_up_allow(data_dir: &Path, user: &str, by: &str) -> Result<String, String> {
    let user = crate::app::decisions::step_up::allow::parse_user(user)?;
    match UnixStream::connect(socket_path(data_dir)).await {
        Ok(stream) => {
            let reply = ask(stream, &format!("step-up-allow {user} {by}")).await?;
            match reply.trim_end().split_once(' ') {
                Some(("ok", said)) => Ok(said.to_owned()),
                Some(("error", reason)) => Err(reason.to_owned()),
                _ => Err(format!("unexpected reply {reply:?}")),
            }
        }
        Err(_) => {
            let store = crate::store::Store::open(data_dir).map_err(|e| e.to_string())?;
            crate::app::decisions::step_up::allow::allow(&store, &user, by, chrono::Utc::now())
                .await
        }
    }
}

/// `c1bot backup PATH`: through the running instance if there is one, else directly.
pub async fn backup(data_dir: &Path, dest: &Path) -> Result<u64, String> {
    let dest = std::path::absolute(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    match UnixStream::connect(socket_path(data_dir)).await {
        Ok(stream) => ok_number(&ask(stream, &format!("backup {}", dest.display())).await?),
        // Nobody listening: c1bot is not running, so the directory can be opened here.
        Err(_) => {
            let store = SledStore::open(data_dir).map_err(|e| e.to_string())?;
            store.backup_to(&dest).await.map_err(|e| e.to_string())
        }
    }
}

/// `c1bot audit export`: through the running instance if there is one, else directly.
/// Returns the JSON lines.
pub async fn audit_export(data_dir: &Path) -> Result<Vec<u8>, String> {
    match UnixStream::connect(socket_path(data_dir)).await {
        Ok(mut stream) => {
            stream
                .write_all(b"audit-export\n")
                .await
                .map_err(|e| e.to_string())?;
            let mut lines = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut lines)
                .await
                .map_err(|e| e.to_string())?;
            match lines.strip_prefix(b"error ") {
                Some(reason) => Err(String::from_utf8_lossy(reason).trim().to_owned()),
                None => Ok(lines),
            }
        }
        Err(_) => {
            let store = SledStore::open(data_dir).map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            store.export_audit(&mut out).map_err(|e| e.to_string())?;
            Ok(out)
        }
    }
}

/// What `c1bot audit verify` found: entries read and the first break, if any.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    pub count: u64,
    pub problem: Option<String>,
}

/// `c1bot audit verify [--head SEQ:HASH]`: through the running instance if there is
/// one, else directly.
pub async fn audit_verify(
    data_dir: &Path,
    anchor: Option<&AuditAnchor>,
) -> Result<Verified, String> {
    match UnixStream::connect(socket_path(data_dir)).await {
        Ok(stream) => {
            let request = match anchor {
                Some(anchor) => format!("audit-verify {anchor}"),
                None => "audit-verify".to_owned(),
            };
            let reply = ask(stream, &request).await?;
            let mut words = reply.trim().splitn(4, ' ');
            match (words.next(), words.next(), words.next(), words.next()) {
                (Some("ok"), Some(count), None, None) => Ok(Verified {
                    count: count
                        .parse()
                        .map_err(|_| format!("unexpected reply {reply:?}"))?,
                    problem: None,
                }),
                (Some("tampered"), Some(count), Some(seq), reason) => Ok(Verified {
                    count: count
                        .parse()
                        .map_err(|_| format!("unexpected reply {reply:?}"))?,
                    problem: Some(format!("entry {seq}: {}", reason.unwrap_or_default())),
                }),
                _ => Err(reply
                    .trim()
                    .strip_prefix("error ")
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("unexpected reply {reply:?}"))),
            }
        }
        Err(_) => {
            let store = SledStore::open(data_dir).map_err(|e| e.to_string())?;
            let v = store
                .verify_audit_against(anchor)
                .map_err(|e| e.to_string())?;
            Ok(Verified {
                count: v.count,
                problem: v.problem.map(|p| format!("entry {}: {}", p.seq, p.reason)),
            })
        }
    }
}
