//! The service as a child process (`transcoder serve`), for sections 1 and 2: its CPU
//! time and peak RSS (wait4) then compare directly with ffmpeg's and gst-launch's.

use super::inproc::{self, COMPANY, Client};
use super::measure::{process_cpu, wait_with_usage};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use transcoder::proto as pb;
use transcoder::proto::job_event::Kind;

pub struct ServiceChild {
    pid: i32,
    log: PathBuf,
    pub client: Client,
}

/// What the service process used over its whole life.
pub struct Lifetime {
    pub cpu: Duration,
    pub peak_rss_kib: u64,
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
    pub async fn start(data_dir: &Path, workers: usize) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let token = {
            let settings = transcoder::config::Settings {
                data_dir: data_dir.to_owned(),
                ..Default::default()
            };
            let admin = transcoder::admin::Admin::open(&settings.database_url()).await?;
            inproc::bench_company_token(&admin).await?
        };
        let log = data_dir.join("serve.log");
        let addr = format!("127.0.0.1:{}", free_port()?);
        let child = Command::new(std::env::current_exe()?)
            .args(["serve", "--grpc-addr", &addr, "--http-addr", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--workers", &workers.to_string()])
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("starting `transcoder serve`")?;
        let pid = child.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match transcoder::client::connect(&format!("http://{addr}"), &token).await {
                Ok(client) => return Ok(Self { pid, log, client }),
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => anyhow::bail!("the service did not answer: {e}\n{}", log_tail(&log)),
            }
        }
    }

    pub fn cpu_so_far(&self) -> anyhow::Result<Duration> {
        process_cpu(self.pid)
    }

    /// SIGTERM, then reap: the process's total CPU time and peak RSS.
    pub fn stop(self) -> anyhow::Result<Lifetime> {
        // SAFETY: signalling the child we started.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        let (code, cpu, peak_rss_kib) = wait_with_usage(self.pid)?;
        anyhow::ensure!(
            code == 0,
            "the service exited with {code}\n{}",
            log_tail(&self.log)
        );
        Ok(Lifetime { cpu, peak_rss_kib })
    }
}

/// Submits `order`, follows the job to its end, and returns it (it must succeed).
pub async fn run_to_end(mut client: Client, order: pb::Order) -> anyhow::Result<pb::Job> {
    let (job, mut events) = inproc::submit_and_watch(&mut client, order).await?;
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
    /// Starts `transcoder serve --role <role>` with `extra` flags and waits for the one
    /// JSON line it prints once listening.
    pub async fn start(
        role: &str,
        extra: &[&str],
        database_url: &str,
        data_dir: &Path,
        log: PathBuf,
    ) -> anyhow::Result<Self> {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(std::env::current_exe()?)
            .args(["serve", "--role", role])
            .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
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
