//! Command-line interface.

mod admin;
mod bench;
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
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (gRPC + HTTP + workers, depending on --role).
    Serve(ServeArgs),
    /// Start the service on its defaults, transcode a generated clip, show progress.
    Demo(demo::DemoArgs),
    /// Manage companies (the tenants): create, list, update, rotate-application-id, delete.
    Company(admin::CompanyArgs),
    /// Manage a company's API tokens: create, list, revoke.
    Token(admin::TokenArgs),
    /// Measure throughput, latency and fan-out against the targets; write docs/benchmarks.md.
    Bench(bench::BenchArgs),
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
}

impl Cli {
    pub fn default_log_filter(&self) -> &'static str {
        match self.command {
            Command::Demo(_) => "warn",
            // 10,000 watchers connecting at once queue on the connection pool; sqlx
            // warns about every slow acquire, which would bury the tables.
            Command::Bench(_) => "warn,sqlx::pool=error",
            Command::Serve(_) => "info",
            Command::Company(_) | Command::Token(_) => "warn",
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Company(args) => admin::company(args).await,
        Command::Token(args) => admin::token(args).await,
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
    let app = RunningApp::start(settings).await?;
    if let Some(addr) = app.grpc_addr {
        tracing::info!(%addr, "gRPC listening");
    }
    tracing::info!(addr = %app.http_addr, "HTTP listening");
    shutdown_signal().await;
    tracing::info!("shutting down");
    app.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
