//! Command-line interface.

mod admin;
mod client;
mod demo;

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use transcoder::app::RunningApp;
use transcoder::config::{Role, Settings};

#[derive(Parser)]
#[command(
    name = "transcoder",
    version,
    about = "Self-hosted video transcoding service"
)]
pub struct Cli {
    /// Log lines as `text`, or as `json` (one object a line, with `trace_id` and
    /// `span_id` inside a span). RUST_LOG filters either.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "TRANSCODER_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: transcoder::telemetry::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (gRPC + HTTP + workers, depending on --role).
    Serve(ServeArgs),
    /// Apply pending database migrations, then exit (under a lock: safe to run beside
    /// other migrators and starting replicas).
    Migrate(MigrateArgs),
    /// Start the service on its defaults, transcode a generated clip, show progress.
    Demo(demo::DemoArgs),
    /// Manage companies (the tenants): create, list, update, rotate-application-id, delete.
    Company(admin::CompanyArgs),
    /// Manage a company's API tokens: create, list, revoke.
    Token(admin::TokenArgs),
    #[command(flatten)]
    Client(client::ClientCommand),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TOML config file (layered over defaults, under env and flags).
    #[arg(long, env = "TRANSCODER_CONFIG")]
    config: Option<PathBuf>,
    #[arg(long)]
    grpc_addr: Option<SocketAddr>,
    #[arg(long)]
    http_addr: Option<SocketAddr>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long, value_enum)]
    role: Option<Role>,
    /// Concurrent jobs in this process (0 = from the core count).
    #[arg(long)]
    workers: Option<usize>,
    /// PEM certificate chain: serve gRPC and HTTP over TLS (with --tls-key; reloaded
    /// when the file changes). Setting: server.tls.cert.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert. Setting: server.tls.key.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// PEM CA certificates: require client certificates they sign (mutual TLS).
    /// Setting: server.tls.client_ca.
    #[arg(long)]
    tls_client_ca: Option<PathBuf>,
}

#[derive(clap::Args)]
struct MigrateArgs {
    /// TOML config file (as for `serve`).
    #[arg(long, env = "TRANSCODER_CONFIG")]
    config: Option<PathBuf>,
    /// The data dir whose SQLite database to migrate (ignored when DATABASE_URL is set).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl Cli {
    pub fn default_log_filter(&self) -> &'static str {
        match self.command {
            Command::Demo(_) => "warn",
            Command::Serve(_) => "info",
            // Which migrations ran, from sea-orm-migration's own log lines.
            Command::Migrate(_) => "info,sqlx=warn",
            Command::Company(_) | Command::Token(_) => "warn",
            Command::Client(_) => "warn",
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(args) => migrate(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Company(args) => admin::company(args).await,
        Command::Token(args) => admin::token(args).await,
        Command::Client(command) => client::run(command).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut settings = Settings::load(args.config.as_deref())?;
    if let Some(addr) = args.grpc_addr {
        settings.server.grpc_addr = addr;
    }
    if let Some(addr) = args.http_addr {
        settings.server.http_addr = addr;
    }
    if let Some(dir) = args.data_dir {
        settings.data_dir = dir;
    }
    if let Some(role) = args.role {
        settings.server.role = role;
    }
    if let Some(n) = args.workers {
        settings.workers.concurrency = n;
    }
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        settings.server.tls.cert = Some(cert);
        settings.server.tls.key = Some(key);
    }
    if let Some(ca) = args.tls_client_ca {
        settings.server.tls.client_ca = Some(ca);
    }
    let signalled = shutdown_signal()?;
    let app = RunningApp::start(settings).await?;
    if let Some(addr) = app.grpc_addr {
        tracing::info!(%addr, "gRPC listening");
    }
    tracing::info!(addr = %app.http_addr, "HTTP listening");
    // One line on stdout for whoever started the process on port 0 (tests, scripts).
    println!(
        "{}",
        serde_json::json!({
            "grpc_addr": app.grpc_addr.map(|a| a.to_string()),
            "http_addr": app.http_addr.to_string(),
            "pid": std::process::id(),
        })
    );
    signalled.await;
    tracing::info!("shutting down");
    app.shutdown().await;
    Ok(())
}

/// `transcoder migrate`: the schema step of a deploy, for replicas started with
/// `database.migrate_on_start = false`.
async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let mut settings = Settings::load(args.config.as_deref())?;
    let uses_sqlite = settings.database.url.as_deref().is_none_or(str::is_empty);
    if let Some(dir) = args.data_dir {
        settings.data_dir = dir;
    } else if uses_sqlite && settings.data_dir == Settings::default().data_dir {
        // Never create a new, empty database in whatever directory we were started in.
        anyhow::bail!(
            "say which database to migrate: --data-dir (its SQLite database), \
             DATABASE_URL, or a config file"
        );
    }
    if uses_sqlite {
        std::fs::create_dir_all(&settings.data_dir)?;
    }
    let url = settings.database_url();
    let db = transcoder::persistence::connect(&url, 1, false).await?;
    let applied = transcoder::persistence::migrate::apply_pending(&db, &url).await;
    db.close().await?;
    let applied = applied?;
    let noun = if applied == 1 {
        "migration"
    } else {
        "migrations"
    };
    println!("applied {applied} {noun}");
    Ok(())
}

/// Installs the SIGTERM and SIGINT handlers at once (so a signal that arrives while the
/// app starts is not the default one, which kills the process mid-claim) and resolves
/// when either arrives.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}
