//! Section 6: scale-out. One API process and two worker processes (`transcoder serve
//! --role ...`) share one PostgreSQL database and one data dir, as a deployment would.
//! Everything crossing between them goes through PostgreSQL: claims (SKIP LOCKED),
//! wake-ups (`transcoder_work`), events for the API's watchers (`transcoder_events`),
//! and a dead worker's lease running out. All processes share this machine's clock, so a
//! worker's event time compares directly with the bench's wall clock.

use crate::BenchContext;
use crate::report::{Check, Goal, SectionResult, Table, num, percentile};
use crate::rpc::{self, Client};
use crate::service_child::{Db, ServeProcess, bench_token, place_source};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use std::path::Path;
use std::time::Duration;
use transcoder::proto as pb;
use transcoder::proto::job_event::Kind;
use transcoder::test_support::pg::PgDatabase;

/// Longest wait for any one event; a stalled stream fails the section instead of hanging.
const EVENT_TIMEOUT: Duration = Duration::from_secs(120);
const TINY_PRESET: &str = "System preset: Audio only AAC 128k";
const BUSY_PRESET: &str = "System preset: Generic 720p";

/// The three processes of the deployment under test.
struct Deployment {
    api: ServeProcess,
    workers: Vec<ServeProcess>,
}

/// The 1-minute load average: these latencies are at the mercy of whatever else the
/// machine runs, so the report says how busy it was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Milliseconds from `from` to `to` (negative if `to` is earlier).
fn millis(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1000.0
}

async fn next_event(
    events: &mut tonic::Streaming<pb::JobEvent>,
) -> anyhow::Result<Option<pb::JobEvent>> {
    tokio::time::timeout(EVENT_TIMEOUT, events.message())
        .await
        .map_err(|_| anyhow::anyhow!("no job event for {} s", EVENT_TIMEOUT.as_secs()))?
        .map_err(Into::into)
}

fn is_running(event: &pb::JobEvent) -> Option<u32> {
    match &event.kind {
        Some(Kind::StateChanged(s)) if s.state == pb::JobState::Running as i32 => Some(s.attempt),
        _ => None,
    }
}

fn ensure_succeeded(job_id: &str, event: &pb::JobEvent) -> anyhow::Result<()> {
    if let Some(Kind::JobFinished(f)) = &event.kind {
        anyhow::ensure!(
            f.state == pb::JobState::Succeeded as i32,
            "bench job {job_id} ended {:?}: {:?}",
            pb::JobState::try_from(f.state),
            f.error
        );
    }
    Ok(())
}

/// A job submitted with its WatchJob stream open.
struct Watched {
    job: pb::Job,
    /// The bench's wall clock just before SubmitJob was sent.
    submitted: DateTime<Utc>,
    /// Just after WatchJob answered: later events were delivered live.
    watch_opened: DateTime<Utc>,
    events: tonic::Streaming<pb::JobEvent>,
}

async fn submit_and_watch(client: &mut Client, order: pb::Order) -> anyhow::Result<Watched> {
    let submitted = Utc::now();
    let (job, events) = rpc::submit_and_watch(client, order).await?;
    Ok(Watched {
        job,
        submitted,
        watch_opened: Utc::now(),
        events,
    })
}

/// What the enqueue-to-start runs measured.
#[derive(Default)]
struct Latencies {
    start_ms: Vec<f64>,
    /// The two parts of `start_ms`: SubmitJob sent to the job's `created_at` (the API
    /// process), and `created_at` to RUNNING (the database and a worker process).
    accept_ms: Vec<f64>,
    pick_up_ms: Vec<f64>,
    watch_ms: Vec<f64>,
    /// Events already written when the watch opened (replayed from the database): not
    /// a measure of cross-process delivery, so left out of `watch_ms`.
    replayed: usize,
    /// A bare one-row INSERT's commit on the same database, one per job just before it:
    /// what PostgreSQL's commit (its WAL fsync) costs at the same moments.
    commit_ms: Vec<f64>,
    /// One line per job (id, submitted, created_at, RUNNING), to line up with the
    /// processes' logs when a figure needs explaining.
    per_job_csv: String,
}

/// Tiny jobs one at a time, each once the previous has finished, so a worker is idle.
async fn enqueue_to_start(
    client: &mut Client,
    probe: &DatabaseConnection,
    order: &pb::Order,
    jobs: usize,
) -> anyhow::Result<Latencies> {
    let mut measured = Latencies::default();
    for _ in 0..jobs {
        let before = Utc::now();
        probe
            .execute_unprepared("INSERT INTO bench_commit_probe DEFAULT VALUES")
            .await?;
        measured.commit_ms.push(millis(before, Utc::now()));
        // Let the worker that ran the last job finish its bookkeeping and go idle.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let Watched {
            job,
            submitted,
            watch_opened,
            mut events,
        } = submit_and_watch(client, order.clone()).await?;
        let job_id = job.id;
        let created = rpc::timestamp(job.created_at.as_ref());
        let mut started = None;
        while let Some(event) = next_event(&mut events).await? {
            let received = Utc::now();
            let written = rpc::timestamp(event.time.as_ref());
            if written >= watch_opened {
                measured.watch_ms.push(millis(written, received));
            } else {
                measured.replayed += 1;
            }
            if started.is_none() && is_running(&event).is_some() {
                started = Some(written);
            }
            ensure_succeeded(&job_id, &event)?;
        }
        let started = started.ok_or_else(|| anyhow::anyhow!("job {job_id} never ran"))?;
        measured.start_ms.push(millis(submitted, started));
        measured.accept_ms.push(millis(submitted, created));
        measured.pick_up_ms.push(millis(created, started));
        measured.per_job_csv += &format!(
            "{job_id},{},{},{}\n",
            submitted.to_rfc3339(),
            created.to_rfc3339(),
            started.to_rfc3339()
        );
    }
    for values in [
        &mut measured.start_ms,
        &mut measured.accept_ms,
        &mut measured.pick_up_ms,
        &mut measured.watch_ms,
        &mut measured.commit_ms,
    ] {
        values.sort_by(f64::total_cmp);
    }
    Ok(measured)
}

/// What the dead-worker case measured.
struct Reclaim {
    killed_pid: i32,
    killed_status: String,
    /// Kill to the RUNNING event (worker's clock) of the next attempt.
    back_running_s: f64,
    first_attempt: u32,
    next_attempt: u32,
    /// Kill to the job's successful end.
    finished_s: f64,
}

/// Submits a long job, kills -9 the worker running it once it is transcoding, and times
/// how long until another worker runs it again; the job must then succeed.
async fn reclaim(
    client: &mut Client,
    order: pb::Order,
    deployment: &mut Deployment,
) -> anyhow::Result<Reclaim> {
    let Watched {
        job, mut events, ..
    } = submit_and_watch(client, order).await?;
    let job_id = job.id;
    let mut first_attempt = None;
    loop {
        let event = next_event(&mut events)
            .await?
            .ok_or_else(|| anyhow::anyhow!("job {job_id} ended before it transcoded"))?;
        ensure_succeeded(&job_id, &event)?;
        if let Some(attempt) = is_running(&event) {
            first_attempt.get_or_insert(attempt);
        }
        if let Some(Kind::JobFinished(_)) = event.kind {
            anyhow::bail!("job {job_id} finished before the worker could be killed");
        }
        if let Some(Kind::Progress(p)) = &event.kind
            && p.phase == pb::JobPhase::Transcoding as i32
        {
            break;
        }
    }
    let first_attempt =
        first_attempt.ok_or_else(|| anyhow::anyhow!("job {job_id} transcodes, not RUNNING"))?;
    // The claim is logged before the job's first event, which we have seen.
    let running_on = deployment
        .workers
        .iter()
        .position(|w| w.claimed(&job_id))
        .ok_or_else(|| anyhow::anyhow!("no worker's log says it claimed {job_id}"))?;
    let victim = deployment.workers.remove(running_on);
    let killed_pid = victim.pid;
    let killed_at = Utc::now();
    let status = victim
        .signal_and_wait(libc::SIGKILL, Duration::from_secs(10))
        .await?;
    let mut back_running = None;
    let mut finished = None;
    while let Some(event) = next_event(&mut events).await? {
        let written = rpc::timestamp(event.time.as_ref());
        match is_running(&event) {
            Some(attempt) if attempt > first_attempt && back_running.is_none() => {
                back_running = Some((written, attempt));
            }
            _ => {}
        }
        ensure_succeeded(&job_id, &event)?;
        if let Some(Kind::JobFinished(_)) = event.kind {
            finished = Some(written);
        }
    }
    let (back_running, next_attempt) =
        back_running.ok_or_else(|| anyhow::anyhow!("job {job_id} ended without running again"))?;
    let finished = finished.ok_or_else(|| anyhow::anyhow!("job {job_id}: stream ended early"))?;
    anyhow::ensure!(
        deployment.workers.iter().any(|w| w.claimed(&job_id)),
        "the surviving worker's log does not show it claimed {job_id}"
    );
    Ok(Reclaim {
        killed_pid,
        killed_status: status.to_string(),
        back_running_s: millis(killed_at, back_running) / 1000.0,
        first_attempt,
        next_attempt,
        finished_s: millis(killed_at, finished) / 1000.0,
    })
}

async fn start_deployment(
    binary: &Path,
    database_url: &str,
    data_dir: &Path,
) -> anyhow::Result<Deployment> {
    // The API first (the token's commands have applied the schema already).
    let api_log = data_dir.join("api.log");
    let api = ServeProcess::start(binary, "api", &[], &[], database_url, data_dir, api_log).await?;
    let mut workers = Vec::new();
    for name in ["worker-a", "worker-b"] {
        let log = data_dir.join(format!("{name}.log"));
        let worker = ServeProcess::start(
            binary,
            "worker",
            &["--workers", "1"],
            &[],
            database_url,
            data_dir,
            log,
        )
        .await?;
        workers.push(worker);
    }
    Ok(Deployment { api, workers })
}

/// Everything the section measured.
struct Measured {
    /// The first job: every process's first request, connection and query.
    warm_up: Latencies,
    latencies: Latencies,
    reclaimed: Reclaim,
    /// Jobs each worker claimed, from their logs.
    claims: String,
    /// How each process exited on SIGTERM.
    exits: String,
}

pub async fn run(ctx: &BenchContext) -> anyhow::Result<SectionResult> {
    let jobs = if ctx.quick { 5 } else { 100 };
    let long_seconds = if ctx.quick { 10 } else { 30 };
    let data_dir = ctx.fresh_scratch("scale-out")?;
    let tiny = place_source(&ctx.tiny_clip().await?, &data_dir)?;
    let long = place_source(&ctx.long_clip(long_seconds).await?, &data_dir)?;

    let load_before = load_average();
    let database = PgDatabase::create("transcoder_bench").await?;
    let outcome = measure(
        &ctx.transcoder,
        database.url(),
        &data_dir,
        (&tiny, &long),
        jobs,
    )
    .await;
    database.remove().await?;
    let measured = outcome?;
    let load = format!(
        "1-minute load average before / after: {load_before} / {} on {} cores",
        load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let latencies = &measured.latencies;
    let mut latency_table = Table::new(
        "Scale-out latency (1 API + 2 worker processes, PostgreSQL)",
        &["figure", "samples", "p50 ms", "p99 ms", "max ms"],
    );
    latency_table.note(format!(
        "`transcoder serve --role api` and two `serve --role worker --workers 1`, each its \
         own process, on one fresh PostgreSQL database, default lease settings. Enqueue-to-\
         start = the worker's RUNNING event time minus the bench's wall clock just before \
         SubmitJob ({jobs} jobs of a 1 s clip to '{TINY_PRESET}', one at a time, 50 ms \
         apart, so both workers are idle), after one warm-up job shown on its own. Watch = \
         when the API's WatchJob stream delivered an event minus the time the worker \
         stamped on it; {} events already written when the watch opened (replayed from the \
         database) are left out. Baseline = a one-row INSERT committed on the same \
         database by the bench just before each job: PostgreSQL's own commit (WAL fsync) \
         cost at those moments, which SubmitJob and the worker's claim each pay. Jobs claimed per worker: {}. {load}. Per-job times: \
         start-latency.csv beside the processes' logs in {}.",
        latencies.replayed,
        measured.claims,
        data_dir.display()
    ));
    for (figure, values) in [
        ("Enqueue-to-start", &latencies.start_ms),
        ("- of which SubmitJob -> created_at", &latencies.accept_ms),
        ("- of which created_at -> RUNNING", &latencies.pick_up_ms),
        ("Cross-process watch", &latencies.watch_ms),
        ("Baseline: bare INSERT commit", &latencies.commit_ms),
        ("Warm-up job: enqueue-to-start", &measured.warm_up.start_ms),
        ("Warm-up job: watch", &measured.warm_up.watch_ms),
    ] {
        latency_table.row(vec![
            figure.into(),
            values.len().to_string(),
            num(percentile(values, 50.0)),
            num(percentile(values, 99.0)),
            num(*values.last().unwrap_or(&f64::NAN)),
        ]);
    }
    let start_p99 = percentile(&latencies.start_ms, 99.0);
    let watch_p99 = percentile(&latencies.watch_ms, 99.0);
    let reclaimed = &measured.reclaimed;
    Ok(SectionResult {
        tables: vec![latency_table, reclaim_table(&measured, long_seconds)],
        checks: vec![
            Check::new(
                "Scale-out enqueue-to-start p99",
                start_p99,
                "ms",
                Goal::AtMost(50.0),
            ),
            Check::new(
                "Cross-process WatchJob event p99",
                watch_p99,
                "ms",
                Goal::AtMost(100.0),
            ),
            Check::new(
                "Dead worker's job running again",
                reclaimed.back_running_s,
                "s",
                Goal::AtMost(15.0),
            ),
        ],
    })
}

fn reclaim_table(measured: &Measured, long_seconds: u32) -> Table {
    let reclaimed = &measured.reclaimed;
    let mut table = Table::new(
        "Dead worker: kill -9 to the job running again",
        &["step", "result"],
    );
    table.note(format!(
        "A {long_seconds} s 1280x720 clip to '{BUSY_PRESET}'. Once it reports transcoding \
         progress, the worker whose log shows the claim is killed with SIGKILL; its lease \
         (10 s past the last 2 s heartbeat) runs out and an idle worker's 1 s poll claims \
         the job again. Times are from the kill to the worker's stamp on the event."
    ));
    table.row(vec![
        "killed worker".into(),
        format!("pid {} ({})", reclaimed.killed_pid, reclaimed.killed_status),
    ]);
    table.row(vec![
        "kill -> RUNNING again".into(),
        format!(
            "{} s (attempt {} -> {})",
            num(reclaimed.back_running_s),
            reclaimed.first_attempt,
            reclaimed.next_attempt
        ),
    ]);
    table.row(vec![
        "kill -> SUCCEEDED".into(),
        format!("{} s", num(reclaimed.finished_s)),
    ]);
    table.row(vec!["SIGTERM (drain) exits".into(), measured.exits.clone()]);
    table
}

/// Runs the deployment through the three measurements, then drains it; every process
/// is stopped (or killed, on an error) before this returns.
async fn measure(
    binary: &Path,
    database_url: &str,
    data_dir: &Path,
    (tiny, long): (&Path, &Path),
    jobs: usize,
) -> anyhow::Result<Measured> {
    let token = bench_token(binary, data_dir, Db::Postgres(database_url)).await?;
    let mut deployment = start_deployment(binary, database_url, data_dir).await?;
    let url = format!(
        "http://{}",
        deployment
            .api
            .grpc_addr
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("the API process has no gRPC address"))?
    );
    let mut client = transcoder::client::connect(&url, &token).await?;
    let probe = sea_orm::Database::connect(database_url).await?;
    probe
        .execute_unprepared(
            "CREATE TABLE bench_commit_probe (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ \
             NOT NULL DEFAULT now())",
        )
        .await?;
    let tiny_order = rpc::order(tiny, &[TINY_PRESET]);
    let warm_up = enqueue_to_start(&mut client, &probe, &tiny_order, 1)
        .await
        .map_err(|e| with_logs(e, &deployment))?;
    let latencies = enqueue_to_start(&mut client, &probe, &tiny_order, jobs)
        .await
        .map_err(|e| with_logs(e, &deployment))?;
    std::fs::write(
        data_dir.join("start-latency.csv"),
        format!(
            "# job,submitted,created_at,running (first line: the warm-up job)\n{}{}",
            warm_up.per_job_csv, latencies.per_job_csv
        ),
    )?;
    let claims = deployment
        .workers
        .iter()
        .map(|w| w.claims().to_string())
        .collect::<Vec<_>>()
        .join(" / ");
    let busy = rpc::order(long, &[BUSY_PRESET]);
    let reclaimed = reclaim(&mut client, busy, &mut deployment)
        .await
        .map_err(|e| with_logs(e, &deployment))?;
    drop(client);
    probe.close().await?;
    let mut exits = Vec::new();
    let Deployment { api, workers } = deployment;
    for (name, process) in
        std::iter::once(("api", api)).chain(workers.into_iter().map(|w| ("worker", w)))
    {
        let log = process.log.clone();
        let status = process
            .signal_and_wait(libc::SIGTERM, Duration::from_secs(60))
            .await?;
        anyhow::ensure!(
            status.success(),
            "the {name} process exited with {status}; its log: {}",
            log.display()
        );
        exits.push(format!("{name}: {status}"));
    }
    Ok(Measured {
        warm_up,
        latencies,
        reclaimed,
        claims,
        exits: exits.join(", "),
    })
}

/// An error with the tails of the processes' logs, to see why.
fn with_logs(error: anyhow::Error, deployment: &Deployment) -> anyhow::Error {
    let mut context = format!("api log:\n{}", deployment.api.log_tail());
    for w in &deployment.workers {
        context += &format!("\nworker {} log:\n{}", w.pid, w.log_tail());
    }
    error.context(context)
}
