//! One run of a command provisioner: the document on stdin, exit 0 means done; what
//! it writes to stderr is kept (capped) for the audit log.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::document::{Document, Operation};
use super::{shown, Attempt};
use crate::catalog::CommandSpec;

/// Longest stderr kept for the audit log.
const STDERR_CAP: usize = 2048;

pub(super) async fn run(
    spec: &CommandSpec,
    document: &Document,
    body: &[u8],
    timeout: Duration,
) -> Attempt {
    let operation = match document.operation {
        Operation::Grant => "grant",
        Operation::Revoke => "revoke",
    };
    // The environment is cleared so c1bot's Slack tokens never reach the program.
    let mut command = tokio::process::Command::new(&spec.program);
    command
        .args(&spec.args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("C1BOT_OPERATION", operation)
        .env("C1BOT_REQUEST_ID", &document.request_id)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            return Attempt {
                ok: false,
                detail: format!("could not start {}: {error}", spec.program),
            }
        }
    };
    let stdin = child.stdin.take();
    let stderr = child.stderr.take();
    let finished = tokio::time::timeout(timeout, async {
        if let Some(mut stdin) = stdin {
            // A program that exits without reading stdin is not an error here.
            let _ = stdin.write_all(body).await;
            drop(stdin);
        }
        let mut captured = Vec::new();
        if let Some(stderr) = stderr {
            let _ = stderr
                .take(STDERR_CAP as u64)
                .read_to_end(&mut captured)
                .await;
        }
        let status = child.wait().await;
        (status, captured)
    })
    .await;
    match finished {
        Ok((Ok(status), stderr)) => {
            let stderr = String::from_utf8_lossy(&stderr).trim().to_owned();
            let ok = status.success();
            let mut detail = match status.code() {
                Some(code) => format!("exit status {code}"),
                None => "killed by a signal".to_owned(),
            };
            if !stderr.is_empty() {
                detail.push_str(": ");
                detail.push_str(&stderr);
            }
            Attempt { ok, detail }
        }
        Ok((Err(error), _)) => Attempt {
            ok: false,
            detail: format!("could not wait for {}: {error}", spec.program),
        },
        // Dropping the future dropped the child: kill_on_drop ends it.
        Err(_) => Attempt {
            ok: false,
            detail: format!("timed out after {}", shown(timeout)),
        },
    }
}
