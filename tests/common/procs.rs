//! The real multi-process harness: `transcoder serve` as separate OS processes against
//! one PostgreSQL database, so tests can kill -9, stop, continue and terminate replicas
//! the way an orchestrator (or a crash) would.
#![allow(dead_code)]

use super::{COMPANY, Client, PgDatabase, media_dir};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;
use transcoder::admin::{Admin, NewCompany};

/// `--role` of a serve process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    All,
    Api,
    Worker,
}

impl Role {
    fn flag(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Api => "api",
            Role::Worker => "worker",
        }
    }
}

/// The line `serve` prints on stdout once it listens.
#[derive(serde::Deserialize)]
struct Listening {
    grpc_addr: Option<String>,
    http_addr: String,
    pid: u32,
}

/// One `transcoder serve` child. Its stderr goes to a file (kept after it dies, for
/// failure messages and for finding which worker ran which job). Killed on drop.
pub struct ServeProcess {
    pub name: String,
    pub pid: i32,
    pub grpc_addr: Option<SocketAddr>,
    pub http_addr: SocketAddr,
    pub log_path: PathBuf,
    child: Child,
}

impl ServeProcess {
    /// Starts `serve` and waits (at most 60 s) for its JSON line.
    pub async fn start(
        name: &str,
        role: Role,
        workers: usize,
        data_dir: &Path,
        env: &[(String, String)],
    ) -> Self {
        std::fs::create_dir_all(data_dir).unwrap();
        let log_path = data_dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_transcoder"));
        command
            .arg("serve")
            .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--role", role.flag()])
            .args(["--workers", &workers.to_string()])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let mut child = command.spawn().expect("transcoder serve starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
        let line = match first {
            Ok(Ok(Some(line))) => line,
            other => {
                let _ = child.start_kill();
                panic!(
                    "{name} did not print its addresses ({other:?}); its log:\n{}",
                    tail(&log_path)
                );
            }
        };
        // Keep reading stdout so a later print never meets a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let listening: Listening = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{name} printed {line:?}, not its addresses: {e}"));
        assert_eq!(
            Some(listening.pid),
            child.id(),
            "the line names its own pid"
        );
        Self {
            name: name.into(),
            pid: listening.pid as i32,
            grpc_addr: listening.grpc_addr.map(|a| a.parse().unwrap()),
            http_addr: listening.http_addr.parse().unwrap(),
            log_path,
            child,
        }
    }

    fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        let rc = unsafe { libc::kill(self.pid, signal) };
        assert_eq!(rc, 0, "signal {signal} to {} ({})", self.name, self.pid);
    }

    /// SIGKILL, then waits until the process is gone; returns when it was killed.
    pub async fn kill9(&mut self) -> Instant {
        let at = Instant::now();
        self.signal(libc::SIGKILL);
        self.wait_exit(Duration::from_secs(10)).await;
        at
    }

    pub fn sigstop(&self) {
        self.signal(libc::SIGSTOP);
    }

    pub fn sigcont(&self) {
        self.signal(libc::SIGCONT);
    }

    pub fn sigterm(&self) {
        self.signal(libc::SIGTERM);
    }

    /// Waits for the process to exit; panics (with its log) after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!(
                "{} still runs after {timeout:?}; its log:\n{}",
                self.name,
                tail(&self.log_path)
            ),
        }
    }

    /// Whether the process has exited (without waiting).
    pub fn has_exited(&mut self) -> bool {
        self.child.try_wait().unwrap().is_some()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    pub fn log_contains(&self, needle: &str) -> bool {
        self.log().contains(needle)
    }

    /// The first log line holding every one of `needles`, if any.
    pub fn log_line_with(&self, needles: &[&str]) -> Option<String> {
        self.log()
            .lines()
            .find(|line| needles.iter().all(|n| line.contains(n)))
            .map(str::to_owned)
    }

    /// Waits (reading the log file every 50 ms) for a line holding all `needles`.
    pub async fn wait_for_log(&self, needles: &[&str], timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self.log_line_with(needles) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "{} never logged a line with {needles:?} in {timeout:?}; its log:\n{}",
                self.name,
                tail(&self.log_path)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// User + system CPU time the process has used so far, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // utime and stime are fields 14 and 15 of stat(5); `rest` starts at field 3.
        field(11) + field(12)
    }

    pub fn grpc_url(&self) -> String {
        format!(
            "http://{}",
            self.grpc_addr.expect("this process serves gRPC")
        )
    }
}

/// The last 60 lines of a log file.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// One PostgreSQL database, one company with a token, and a root directory under which
/// each process gets its own data dir and every process may read the generated media
/// and write outputs (`out/`).
pub struct Cluster {
    pub db_url: String,
    pub token: String,
    pub root: tempfile::TempDir,
    /// Environment every process gets (besides its own overrides).
    pub env: Vec<(String, String)>,
    pg: PgDatabase,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
    }
}

impl Cluster {
    /// `env` overrides the defaults below (short polls and ticks, egress to 127.0.0.1).
    pub async fn new(env: &[(&str, &str)]) -> Self {
        let (pg, db_url) = super::pg_database().await;
        // Runs the migrations before any replica starts.
        let admin = Admin::open(&db_url)
            .await
            .expect("admin opens the database");
        admin
            .create_company(NewCompany {
                slug: COMPANY.into(),
                ..NewCompany::default()
            })
            .await
            .expect("company created");
        let token = admin
            .create_token(COMPANY, Some("scale-out tests"))
            .await
            .expect("token created")
            .1;
        let root = tempfile::tempdir().unwrap();
        let root_path = root.path().canonicalize().unwrap();
        std::fs::create_dir_all(root_path.join("out")).unwrap();
        let config = root_path.join("transcoder.toml");
        // Lists are easier to give in TOML than in the environment.
        std::fs::write(
            &config,
            format!(
                "[storage]\nallowed_roots = [{:?}, {:?}]\n",
                media_dir().display().to_string(),
                root_path.join("out").display().to_string()
            ),
        )
        .unwrap();
        let mut all: Vec<(String, String)> = [
            ("RUST_LOG", "info"),
            ("NO_COLOR", "1"),
            ("TRANSCODER__WORKERS__POLL_INTERVAL_MS", "200"),
            ("TRANSCODER__LIMITS__PROGRESS_INTERVAL_MS", "100"),
            ("TRANSCODER__EGRESS__ALLOW", "127.0.0.1"),
            ("TRANSCODER__DATABASE__MAX_CONNECTIONS", "6"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        all.push(("DATABASE_URL".into(), db_url.clone()));
        all.push(("TRANSCODER_CONFIG".into(), config.display().to_string()));
        for (k, v) in env {
            all.retain(|(key, _)| key != k);
            all.push(((*k).to_owned(), (*v).to_owned()));
        }
        Self {
            db_url,
            token,
            root,
            env: all,
            pg,
        }
    }

    /// Starts a process named `name` with its own data dir and `extra` env on top.
    pub async fn spawn(
        &self,
        name: &str,
        role: Role,
        workers: usize,
        extra: &[(&str, &str)],
    ) -> ServeProcess {
        let mut env = self.env.clone();
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
        let data_dir = self.root.path().join("procs").join(name);
        ServeProcess::start(name, role, workers, &data_dir, &env).await
    }

    pub async fn spawn_api(&self) -> ServeProcess {
        self.spawn("api", Role::Api, 0, &[]).await
    }

    pub async fn spawn_worker(&self, name: &str) -> ServeProcess {
        self.spawn(name, Role::Worker, 1, &[]).await
    }

    /// A gRPC client of `process` as [`COMPANY`].
    pub async fn client(&self, process: &ServeProcess) -> Client {
        transcoder::client::connect(&process.grpc_url(), &self.token)
            .await
            .expect("gRPC connects")
    }

    /// Every process log's tail, for a failing test's output.
    pub fn dump_logs(&self) {
        let Ok(dirs) = std::fs::read_dir(self.root.path().join("procs")) else {
            return;
        };
        for dir in dirs.flatten() {
            for file in std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if file.path().extension().is_some_and(|e| e == "log") {
                    eprintln!(
                        "----- {} -----\n{}",
                        file.path().display(),
                        tail(&file.path())
                    );
                }
            }
        }
    }

    /// A fresh directory under the allowed `out/` root, for one job's outputs.
    pub fn out_dir(&self, name: &str) -> PathBuf {
        let dir = self
            .root
            .path()
            .canonicalize()
            .unwrap()
            .join("out")
            .join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

/// One job's events, as a client following it through replicas sees them: a WatchJob
/// stream that reconnects after the last sequence if the stream breaks. Every event is
/// kept with the moment it arrived, for timing what happens around a kill.
pub struct JobWatch {
    pub job_id: String,
    /// Every event taken from the stream so far, with its arrival time.
    pub seen: Vec<(pb::JobEvent, Instant)>,
    /// Events with the moment the stream delivered them (not when a test took them).
    rx: tokio::sync::mpsc::UnboundedReceiver<(pb::JobEvent, Instant)>,
    /// Reconnections after a broken stream.
    pub reconnects: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

use super::Kind;
use transcoder::proto as pb;

impl JobWatch {
    pub fn start(client: Client, job_id: &str) -> Self {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let reconnects = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = reconnects.clone();
        let id = job_id.to_owned();
        tokio::spawn(async move {
            let mut after = 0;
            for _ in 0..50 {
                let stream = client
                    .clone()
                    .watch_job(pb::WatchJobRequest {
                        company_id: COMPANY.into(),
                        job_id: id.clone(),
                        after_sequence: after,
                    })
                    .await;
                if let Ok(response) = stream {
                    let mut stream = response.into_inner();
                    while let Ok(Some(event)) = stream.message().await {
                        after = event.sequence;
                        let terminal = matches!(event.kind, Some(Kind::JobFinished(_)));
                        if tx.send((event, Instant::now())).is_err() || terminal {
                            return;
                        }
                    }
                }
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Self {
            job_id: job_id.into(),
            seen: Vec::new(),
            rx,
            reconnects,
        }
    }

    /// Takes events until one matches `wanted`; returns it with its arrival time.
    pub async fn until(
        &mut self,
        what: &str,
        timeout: Duration,
        wanted: impl Fn(&pb::JobEvent) -> bool,
    ) -> (pb::JobEvent, Instant) {
        let deadline = Instant::now() + timeout;
        loop {
            let next = tokio::time::timeout_at(deadline, self.rx.recv()).await;
            match next {
                Ok(Some((event, at))) => {
                    self.seen.push((event.clone(), at));
                    if wanted(&event) {
                        return (event, at);
                    }
                }
                Ok(None) => panic!(
                    "job {}: the stream ended before {what}; events: {:#?}",
                    self.job_id,
                    self.events()
                ),
                Err(_) => panic!(
                    "job {}: no {what} within {timeout:?}; events: {:#?}",
                    self.job_id,
                    self.events()
                ),
            }
        }
    }

    /// Takes events up to the terminal one; returns its state.
    pub async fn until_finished(&mut self, timeout: Duration) -> pb::JobState {
        if let Some(state) = self.finished() {
            return state;
        }
        let (event, _) = self.until("JobFinished", timeout, is_finished).await;
        match event.kind {
            Some(Kind::JobFinished(f)) => f.state(),
            _ => unreachable!(),
        }
    }

    /// The terminal state, if it has been seen.
    pub fn finished(&self) -> Option<pb::JobState> {
        self.seen.iter().find_map(|(e, _)| match &e.kind {
            Some(Kind::JobFinished(f)) => Some(f.state()),
            _ => None,
        })
    }

    pub fn events(&self) -> Vec<pb::JobEvent> {
        self.seen.iter().map(|(e, _)| e.clone()).collect()
    }

    /// The attempt numbers of the StateChanged RUNNING events seen, in order.
    pub fn running_attempts(&self) -> Vec<u32> {
        running_attempts(&self.events())
    }
}

pub fn is_finished(event: &pb::JobEvent) -> bool {
    matches!(event.kind, Some(Kind::JobFinished(_)))
}

/// A progress tick or a phase change in `phase`.
pub fn in_phase(event: &pb::JobEvent, phase: pb::JobPhase) -> bool {
    match &event.kind {
        Some(Kind::Progress(p)) => p.phase == phase as i32,
        Some(Kind::StateChanged(s)) => {
            s.state == pb::JobState::Running as i32 && s.phase == phase as i32
        }
        _ => false,
    }
}

/// A StateChanged to `state` (any attempt).
pub fn is_state(event: &pb::JobEvent, state: pb::JobState) -> bool {
    matches!(&event.kind, Some(Kind::StateChanged(s)) if s.state == state as i32)
}

/// The attempt number of each run, in order. Every phase a run enters is a
/// StateChanged RUNNING of its own, so a run starts where a RUNNING follows no state
/// change, a QUEUED one (a retry or a hand-over), or a RUNNING of another attempt (a
/// reclaim after a dead worker, which wrote nothing more).
pub fn running_attempts(events: &[pb::JobEvent]) -> Vec<u32> {
    let mut runs = Vec::new();
    let mut previous: Option<&pb::StateChanged> = None;
    for event in events {
        let Some(Kind::StateChanged(change)) = &event.kind else {
            continue;
        };
        let running = change.state == pb::JobState::Running as i32;
        let continues = previous.is_some_and(|p| {
            p.state == pb::JobState::Running as i32 && p.attempt == change.attempt
        });
        if running && !continues {
            runs.push(change.attempt);
        }
        previous = Some(change);
    }
    runs
}

/// Sequences 1..N without a gap, and the last event (only it) terminal.
pub fn assert_gapless(events: &[pb::JobEvent]) {
    assert!(!events.is_empty());
    for (i, event) in events.iter().enumerate() {
        assert_eq!(
            event.sequence,
            i as u64 + 1,
            "sequence has a gap at {i}: {events:#?}"
        );
    }
    let terminal = events.iter().position(is_finished);
    assert_eq!(
        terminal,
        Some(events.len() - 1),
        "the last event, and only it, is terminal"
    );
}

/// Which of `workers` runs `job_id`: the one whose log names the job (the worker logs
/// the job id when it claims it); failing that within `timeout`, the one burning CPU.
pub async fn holder_of<'a>(
    workers: &'a [&'a ServeProcess],
    job_id: &str,
    timeout: Duration,
) -> &'a ServeProcess {
    let deadline = Instant::now() + timeout;
    loop {
        let naming: Vec<_> = workers.iter().filter(|w| w.log_contains(job_id)).collect();
        if naming.len() == 1 {
            return naming[0];
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // No log names it (yet): sample CPU time over one second; only the holder encodes.
    let before: Vec<u64> = workers.iter().map(|w| w.cpu_ticks()).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used: Vec<u64> = workers
        .iter()
        .zip(before)
        .map(|(w, b)| w.cpu_ticks().saturating_sub(b))
        .collect();
    let (busiest, &most) = used.iter().enumerate().max_by_key(|(_, u)| **u).unwrap();
    eprintln!(
        "no worker log names job {job_id}; CPU ticks in 1 s: {used:?}, taking {}",
        workers[busiest].name
    );
    let others_max = used
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != busiest)
        .map(|(_, u)| *u)
        .max()
        .unwrap_or(0);
    assert!(
        most > 2 * others_max + 5,
        "cannot tell which worker runs job {job_id}: CPU ticks {used:?}"
    );
    workers[busiest]
}
