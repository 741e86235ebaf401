//! The service as child processes of the bench: `transcoder serve` from the binary named
//! by `--transcoder`, and that binary's own `company` and `token` commands for the
//! bench's credentials. A child's CPU time and peak RSS (wait4, /proc) then compare
//! directly with ffmpeg's and gst-launch's.

use crate::measure::{process_cpu, wait_with_usage};
use crate::rpc::{self, COMPANY, Client};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use transcoder::proto as pb;
use transcoder::proto::job_event::Kind;

/// The longest a `transcoder company|token` command may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// The service's database: SQLite under its data dir, or a PostgreSQL URL.
#[derive(Debug, Clone, Copy)]
pub enum Db<'a> {
    Sqlite,
    Postgres(&'a str),
}

impl Db<'_> {
    fn apply(self, command: &mut tokio::process::Command) {
        match self {
            Db::Sqlite => command.env_remove("DATABASE_URL"),
            Db::Postgres(url) => command.env("DATABASE_URL", url),
        };
    }
}

/// Creates the bench's company (priority allowed, no rate limit) with `transcoder
/// company create`, and returns a new API token from `transcoder token create`.
pub async fn bench_token(binary: &Path, data_dir: &Path, db: Db<'_>) -> anyhow::Result<String> {
    std::fs::create_dir_all(data_dir)?;
    let company = [
        "company",
        "create",
        COMPANY,
        "--name",
        "Benchmarks",
        "--priority-transcoding",
        "--rate-limit",
        "0",
    ];
    run_cli(binary, data_dir, db, &company).await?;
    let token = run_cli(binary, data_dir, db, &["token", "create", COMPANY]).await?;
    Ok(token.trim().to_owned())
}

/// Runs one operator command of the binary; its stdout.
async fn run_cli(
    binary: &Path,
    data_dir: &Path,
    db: Db<'_>,
    args: &[&str],
) -> anyhow::Result<String> {
    let mut command = tokio::process::Command::new(binary);
    command
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    db.apply(&mut command);
    let line = format!("{} {}", binary.display(), args.join(" "));
    let output = tokio::time::timeout(CLI_TIMEOUT, command.output())
        .await
        .map_err(|_| anyhow::anyhow!("`{line}` took over {} s", CLI_TIMEOUT.as_secs()))?
        .with_context(|| format!("running `{line}`"))?;
    anyhow::ensure!(
        output.status.success(),
        "`{line}` failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// A `transcoder serve` child; killed (SIGKILL) if dropped without [`ServiceChild::stop`].
pub struct ServiceChild {
    pid: i32,
    /// Set once reaped.
    reaped: bool,
    log: PathBuf,
    url: String,
    token: String,
    pub client: Client,
}

/// What the service process used over its whole life.
pub struct Lifetime {
    pub cpu: Duration,
    pub peak_rss_kib: u64,
}

/// How to run a [`ServiceChild`].
pub struct ServiceOptions<'a> {
    /// Concurrent jobs (`--workers`).
    pub workers: usize,
    /// Start with claiming paused: jobs stay queued (the control-plane section).
    pub paused: bool,
    pub db: Db<'a>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

impl ServiceChild {
    /// Starts `transcoder serve` on SQLite in `data_dir` with `workers` concurrent jobs.
    pub async fn start(binary: &Path, data_dir: &Path, workers: usize) -> anyhow::Result<Self> {
        let options = ServiceOptions {
            workers,
            paused: false,
            db: Db::Sqlite,
        };
        Self::start_with(binary, data_dir, options).await
    }

    pub async fn start_with(
        binary: &Path,
        data_dir: &Path,
        options: ServiceOptions<'_>,
    ) -> anyhow::Result<Self> {
        let token = bench_token(binary, data_dir, options.db).await?;
        let log = data_dir.join("serve.log");
        let addr = format!("127.0.0.1:{}", free_port()?);
        let mut command = Command::new(binary);
        command
            .args(["serve", "--grpc-addr", &addr, "--http-addr", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--workers", &options.workers.to_string()])
            .env("TRANSCODER__WORKERS__PAUSED", options.paused.to_string())
            .env("RUST_LOG", "warn,sqlx::pool=error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?);
        match options.db {
            Db::Sqlite => command.env_remove("DATABASE_URL"),
            Db::Postgres(url) => command.env("DATABASE_URL", url),
        };
        let child = command
            .spawn()
            .with_context(|| format!("starting `{} serve`", binary.display()))?;
        let pid = child.id() as i32;
        let url = format!("http://{addr}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match transcoder::client::connect(&url, &token).await {
                Ok(client) => {
                    return Ok(Self {
                        pid,
                        reaped: false,
                        log,
                        url,
                        token,
                        client,
                    });
                }
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => anyhow::bail!("the service did not answer: {e}\n{}", log_tail(&log)),
            }
        }
    }

    /// `count` separate HTTP/2 connections (each carries many concurrent calls).
    pub async fn channels(&self, count: usize) -> anyhow::Result<Vec<Client>> {
        let mut clients = Vec::with_capacity(count);
        for _ in 0..count {
            let channel = Channel::from_shared(self.url.clone())?.connect().await?;
            clients.push(transcoder::client::with_token(channel, &self.token)?);
        }
        Ok(clients)
    }

    pub fn cpu_so_far(&self) -> anyhow::Result<Duration> {
        process_cpu(self.pid)
    }

    /// SIGTERM, then reap: the process's total CPU time and peak RSS.
    pub fn stop(mut self) -> anyhow::Result<Lifetime> {
        // SAFETY: signalling the child we started and have not reaped.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        let waited = wait_with_usage(self.pid);
        self.reaped = true;
        let (code, cpu, peak_rss_kib) = waited?;
        anyhow::ensure!(
            code == 0,
            "the service exited with {code}\n{}",
            log_tail(&self.log)
        );
        Ok(Lifetime { cpu, peak_rss_kib })
    }
}

impl Drop for ServiceChild {
    /// A section that failed half-way leaves no service running behind it.
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: killing and reaping the child we started and have not reaped.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            let _ = wait_with_usage(self.pid);
        }
    }
}

/// Submits `order`, follows the job to its end, and returns it (it must succeed).
pub async fn run_to_end(mut client: Client, order: pb::Order) -> anyhow::Result<pb::Job> {
    let (job, mut events) = rpc::submit_and_watch(&mut client, order).await?;
    while let Some(event) = events.message().await? {
        if let Some(Kind::JobFinished(f)) = event.kind {
            anyhow::ensure!(
                f.state == pb::JobState::Succeeded as i32,
                "job {} ended {:?}: {:?}",
                job.id,
                pb::JobState::try_from(f.state),
                f.error
            );
        }
    }
    Ok(client
        .get_job(pb::GetJobRequest {
            company_id: COMPANY.into(),
            job_id: job.id,
        })
        .await?
        .into_inner())
}

/// Puts `source` inside the service's data dir (where `file://` origins are allowed).
pub fn place_source(source: &Path, data_dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(data_dir)?;
    let placed = data_dir.join(source.file_name().context("source has a name")?);
    if std::fs::hard_link(source, &placed).is_err() {
        std::fs::copy(source, &placed)?;
    }
    Ok(placed.canonicalize()?)
}

/// `transcoder serve` in one role against a shared PostgreSQL database, for the scale-out
/// section: several of these are one deployment, each a separate process.
pub struct ServeProcess {
    child: tokio::process::Child,
    pub pid: i32,
    /// The gRPC address, when the role runs the API.
    pub grpc_addr: Option<String>,
    /// Its stderr (RUST_LOG=info): which jobs it claimed, and why it failed.
    pub log: PathBuf,
    /// Held open: the process may write to stdout again.
    _stdout: tokio::process::ChildStdout,
}

impl ServeProcess {
    /// Starts `transcoder serve --role <role>` with `extra` flags and `env`, and waits for
    /// the one JSON line it prints once listening.
    pub async fn start(
        binary: &Path,
        role: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        database_url: &str,
        data_dir: &Path,
        log: PathBuf,
    ) -> anyhow::Result<Self> {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(binary)
            .args(["serve", "--role", role])
            .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .envs(env.iter().copied())
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting `transcoder serve --role {role}`"))?;
        let pid = child.id().context("the child has a pid")? as i32;
        let stdout = child.stdout.take().context("piped stdout")?;
        let mut reader = tokio::io::BufReader::new(stdout);
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(60), reader.read_line(&mut line))
            .await
            .map_err(|_| anyhow::anyhow!("`serve --role {role}` printed nothing in 60 s"))?;
        if read? == 0 {
            anyhow::bail!(
                "`serve --role {role}` exited before listening\n{}",
                log_tail(&log)
            );
        }
        let ready: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("`serve` printed {line:?}, not its JSON line"))?;
        let grpc_addr = ready["grpc_addr"].as_str().map(str::to_owned);
        Ok(Self {
            child,
            pid,
            grpc_addr,
            log,
            _stdout: reader.into_inner(),
        })
    }

    /// Whether this process's log says it claimed `job_id`.
    pub fn claimed(&self, job_id: &str) -> bool {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("claimed a job") && l.contains(job_id))
    }

    /// How many jobs this process's log says it claimed.
    pub fn claims(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("claimed a job"))
            .count()
    }

    /// Sends `signal` (SIGKILL: a crash; SIGTERM: a drain) and reaps the process.
    pub async fn signal_and_wait(
        mut self,
        signal: i32,
        timeout: Duration,
    ) -> anyhow::Result<std::process::ExitStatus> {
        // SAFETY: signalling the child we started and have not reaped.
        unsafe { libc::kill(self.pid, signal) };
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "pid {} did not exit {} s after signal {signal}\n{}",
                    self.pid,
                    timeout.as_secs(),
                    log_tail(&self.log)
                )
            })?
            .context("reaping the child")
    }

    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}
