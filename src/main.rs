//! The `c1bot` command: parse arguments, set up logging, load the config once, run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use c1bot::config::{Config, LogFormat, Mode};

#[derive(Parser)]
#[command(
    name = "c1bot",
    version,
    about = "Just-in-time access requests, decided in Slack (Socket Mode)"
)]
struct Cli {
    /// Config file (TOML). The default is optional; a named file must exist.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Connect to Slack over Socket Mode and serve (needs SLACK_APP_TOKEN and SLACK_BOT_TOKEN).
    Run,
    /// Without Slack tokens: start the built-in Slack simulator and walk through c1bot as its users see it.
    /// With tokens: the same as `run`.
    Demo,
    /// Print the Slack app manifest (JSON) for "Create an app from a manifest".
    Manifest,
    /// Validate the config, catalog, policies and templates offline; exit 1 on any problem.
    Check,
    /// Write a consistent copy of the data directory to PATH (a new directory), while
    /// c1bot runs (through its admin socket) or while it is stopped.
    Backup { path: PathBuf },
    /// Ask a running c1bot's `/readyz` (at `[health] listen` / C1BOT_HEALTH_LISTEN); exit 0 when ready.
    Healthcheck,
    /// Work with the Rego policies in `policies_dir`.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Read the hash-chained audit log in the data directory, while c1bot runs
    /// (through its admin socket) or while it is stopped.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Step-up verification for approvals: allow a person to enrol (audited), while
    /// c1bot runs (through its admin socket) or while it is stopped.
    StepUp {
        #[command(subcommand)]
        command: StepUpCommand,
    },
    /// Copy a sled data directory (c1bot stopped) into an empty PostgreSQL database:
    /// every request, grant, timer, outbox message, journal row and audit entry.
    MigrateStore {
        /// The sled data directory to read.
        #[arg(long, value_name = "DATA_DIR")]
        from: PathBuf,
        /// The PostgreSQL database to fill (postgres://…); C1BOT_DATABASE_URL if not given.
        #[arg(long, value_name = "URL", env = "C1BOT_DATABASE_URL")]
        to: String,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Run every OPA-style `test_*` rule in the policy folder.
    Test,
    /// Print the decision and its reasons for one input document (JSON).
    Eval {
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
    },
}

#[derive(Subcommand)]
enum StepUpCommand {
    /// Let USER (a Slack user id, U…) enrol an authenticator app, once; needed again
    /// to enrol again (a new phone). Their next approval that needs step-up opens
    /// the enrolment.
    Allow {
        #[arg(value_name = "USER")]
        user: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Write every audit entry as JSON lines to stdout.
    Export,
    /// Recompute the hash chain and report the first entry that does not match.
    Verify {
        /// A head kept outside the data directory (an audit anchor c1bot published):
        /// the log must still hold entry SEQ with this HASH, which catches newest
        /// entries cut together with the stored head.
        #[arg(long, value_name = "SEQ:HASH")]
        head: Option<c1bot::store::AuditAnchor>,
    },
    /// Remove the entries through SEQ from the store, once FILE (a `c1bot audit
    /// export` kept elsewhere) is checked to hold them unbroken with entry SEQ's HASH.
    Prune {
        #[arg(long, value_name = "SEQ:HASH")]
        through: c1bot::store::AuditAnchor,
        #[arg(long, value_name = "FILE")]
        export: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Check) = &cli.command {
        let env = |name: &str| std::env::var(name).ok();
        let problems = c1bot::check::run(cli.config.as_deref(), &env);
        if problems.is_empty() {
            println!("ok: config, catalog, policies and templates are valid");
            return ExitCode::SUCCESS;
        }
        for problem in &problems {
            println!("{problem}");
        }
        println!("{} problem(s) found", problems.len());
        return ExitCode::FAILURE;
    }
    if let Some(Command::MigrateStore { from, to }) = &cli.command {
        return migrate_store(from, to);
    }
    let mode = match &cli.command {
        Some(Command::Demo) => Mode::Demo,
        Some(
            Command::Manifest
            | Command::Check
            | Command::Healthcheck
            | Command::Backup { .. }
            | Command::Policy { .. }
            | Command::Audit { .. }
            | Command::StepUp { .. }
            | Command::MigrateStore { .. },
        ) => Mode::Offline,
        Some(Command::Run) | None => Mode::Run,
    };
    let config = match Config::from_process_env(cli.config.as_deref(), mode) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("c1bot: {error}");
            return ExitCode::from(2);
        }
    };
    match &cli.command {
        Some(Command::Manifest) => {
            let manifest =
                c1bot::manifest::manifest(config.slack.command.as_str(), &config.features);
            println!(
                "{}",
                serde_json::to_string_pretty(&manifest).unwrap_or_default()
            );
            return ExitCode::SUCCESS;
        }
        Some(Command::Policy { command }) => return policy_command(&config, command),
        Some(Command::Healthcheck) => return healthcheck(&config),
        Some(Command::Backup { path }) => return backup(&config, path),
        Some(Command::Audit { command }) => return audit_command(&config, command),
        Some(Command::StepUp { command }) => return step_up_command(&config, command),
        _ => {}
    }
    init_logging(config.log.format, mode);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("c1bot: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        let demo_with_simulator = mode == Mode::Demo && config.slack.app_token.is_none();
        if demo_with_simulator {
            c1bot::demo::run(&mut std::io::stdout()).await
        } else {
            serve(config).await
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("c1bot: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn backup(config: &Config, path: &std::path::Path) -> ExitCode {
    let done = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| runtime.block_on(c1bot::app::admin::backup(&config.data_dir, path)));
    match done {
        Ok(entries) => {
            println!("backup written to {} ({entries} entries)", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("c1bot: backup failed: {error}");
            ExitCode::FAILURE
        }
    }
}

fn healthcheck(config: &Config) -> ExitCode {
    let Some(addr) = config.health.listen else {
        eprintln!("c1bot: the health listener is off: set [health] listen or C1BOT_HEALTH_LISTEN");
        return ExitCode::FAILURE;
    };
    let probe = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| runtime.block_on(c1bot::health::probe(addr)));
    match probe {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("c1bot: not ready: {error}");
            ExitCode::FAILURE
        }
    }
}

fn policy_command(config: &Config, command: &PolicyCommand) -> ExitCode {
    match command {
        PolicyCommand::Test => match c1bot::policy::testing::run_tests(&config.policies_dir) {
            Ok(report) => {
                print!("{report}");
                if report.failed() == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(error) => {
                eprintln!("c1bot: {error}");
                ExitCode::FAILURE
            }
        },
        PolicyCommand::Eval { input } => {
            match c1bot::policy::eval_input_file(&config.policies_dir, input) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("c1bot: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn step_up_command(config: &Config, command: &StepUpCommand) -> ExitCode {
    let StepUpCommand::Allow { user } = command;
    let by = c1bot::app::decisions::step_up::allow::admin_name();
    let allowed = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| {
            runtime.block_on(async {
                match &config.store.url {
                    // PostgreSQL: a transaction beside the serving instance's.
                    Some(url) => {
                        let store = c1bot::store::Store::connect(url)
                            .await
                            .map_err(|e| e.to_string())?;
                        let now = chrono::Utc::now();
                        c1bot::app::decisions::step_up::allow::allow(&store, user, &by, now).await
                    }
                    None => c1bot::app::admin::step_up_allow(&config.data_dir, user, &by).await,
                }
            })
        });
    match allowed {
        Ok(said) => {
            println!("{said}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("c1bot: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The audit log as JSON lines: from the PostgreSQL database the config names, or
/// from the sled data directory (through a running instance's admin socket).
async fn audit_export(config: &Config) -> Result<Vec<u8>, String> {
    let Some(url) = &config.store.url else {
        return c1bot::app::admin::audit_export(&config.data_dir).await;
    };
    let store = c1bot::store::Store::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    store
        .export_audit(&mut out)
        .await
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// The audit chain verified, wherever the config keeps it (see [`audit_export`]).
async fn audit_verify(
    config: &Config,
    head: Option<&c1bot::store::AuditAnchor>,
) -> Result<c1bot::app::admin::Verified, String> {
    let Some(url) = &config.store.url else {
        return c1bot::app::admin::audit_verify(&config.data_dir, head).await;
    };
    let store = c1bot::store::Store::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let verified = store
        .verify_audit_against(head)
        .await
        .map_err(|e| e.to_string())?;
    Ok(c1bot::app::admin::Verified {
        count: verified.count,
        problem: verified
            .problem
            .map(|p| format!("entry {}: {}", p.seq, p.reason)),
    })
}

fn audit_command(config: &Config, command: &AuditCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("c1bot: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Through the running instance's admin socket when there is one (sled allows one
    // process per data directory), else straight from the directory.
    match command {
        AuditCommand::Export => match runtime.block_on(audit_export(config)) {
            Ok(lines) => {
                use std::io::Write;
                if let Err(error) = std::io::stdout().lock().write_all(&lines) {
                    eprintln!("c1bot: writing the export: {error}");
                    return ExitCode::FAILURE;
                }
                let count = lines.iter().filter(|b| **b == b'\n').count();
                eprintln!("c1bot: exported {count} audit entries");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("c1bot: {error}");
                ExitCode::FAILURE
            }
        },
        AuditCommand::Verify { head } => {
            match runtime.block_on(audit_verify(config, head.as_ref())) {
                Ok(verified) => match verified.problem {
                    None => {
                        let against = match head {
                            Some(head) => format!("; it holds the anchor {head}"),
                            None => " (against the head stored beside it; --head SEQ:HASH checks against a published anchor)".to_owned(),
                        };
                        println!(
                            "audit log intact: {} entries, hash chain verified{against}",
                            verified.count
                        );
                        ExitCode::SUCCESS
                    }
                    Some(problem) => {
                        println!(
                            "audit log TAMPERED: {problem} ({} entries read)",
                            verified.count
                        );
                        ExitCode::FAILURE
                    }
                },
                Err(error) => {
                    eprintln!("c1bot: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        AuditCommand::Prune { .. } if config.store.url.is_some() => {
            eprintln!("c1bot: audit prune works on a sled data directory; on PostgreSQL it is not available yet");
            ExitCode::FAILURE
        }
        AuditCommand::Prune { through, export } => {
            let prune = c1bot::app::admin::audit_prune(&config.data_dir, through, export);
            match runtime.block_on(prune) {
                Ok(removed) => {
                    println!("audit log pruned through entry {through}: {removed} entries removed from the store; {} keeps them", export.display());
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("c1bot: {error}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// `c1bot migrate-store`: sled → PostgreSQL, then a check of the copy.
fn migrate_store(from: &std::path::Path, to: &str) -> ExitCode {
    let url = match c1bot::config::DatabaseUrl::parse(to) {
        Ok(url) => url,
        Err(problem) => {
            eprintln!("c1bot: --to {problem}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("c1bot: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let sled = c1bot::store::SledStore::open(from)?;
        let pg = c1bot::store::PgStore::connect(&url).await?;
        let copied = c1bot::store::migrate::sled_to_postgres(&sled, &pg).await?;
        let verified = pg.verify_audit().await?;
        Ok::<_, c1bot::store::StoreError>((copied, verified))
    });
    match outcome {
        Ok((copied, verified)) if verified.is_ok() && verified.count == copied.audit => {
            println!(
                "migrated {} to {url}: {} records, {} outbox messages, {} timers, {} journal rows ({} keys, {} given up), {} counters, {} audit entries (chain verified)",
                from.display(),
                copied.records,
                copied.outbox,
                copied.timers,
                copied.journal,
                copied.journal_keys,
                copied.journal_failed,
                copied.counters,
                copied.audit,
            );
            ExitCode::SUCCESS
        }
        Ok((_, verified)) => {
            eprintln!("c1bot: the copied audit log does not verify: {verified:?}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("c1bot: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    if config.store.url.is_some() {
        // A shared PostgreSQL store: serve only while holding the lease.
        let shutdown = CancellationToken::new();
        tokio::spawn(on_signal(shutdown.clone()));
        return c1bot::app::leader::run(&config, shutdown).await;
    }
    let running = c1bot::app::start(&config).await?;
    let shutdown = running.shutdown_token();
    tokio::spawn(on_signal(shutdown));
    tokio::spawn(on_hangup(running.reloader.clone()));
    running.wait().await
}

/// Reloads policies and templates on every SIGHUP.
async fn on_hangup(reloader: c1bot::app::Reloader) {
    let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        tracing::warn!("cannot listen for SIGHUP; reload by restarting");
        return;
    };
    while hangups.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading policies and templates");
        let _ = reloader.reload();
    }
}

/// Cancels `shutdown` on SIGTERM or SIGINT.
async fn on_signal(shutdown: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
    }
    shutdown.cancel();
}

fn init_logging(format: LogFormat, mode: Mode) {
    // The demo prints a conversation on stdout; its logs stay quiet unless asked for.
    let default = if mode == Mode::Demo { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
