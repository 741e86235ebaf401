//! Section 4: WatchJob fan-out. N watchers follow one job through a `transcoder serve
//! --role api` process while a separate `--role worker` process runs it, both on one
//! fresh PostgreSQL database: every event the worker persists reaches the API process by
//! LISTEN/NOTIFY, is read back once, and goes out to every watcher.

use crate::BenchContext;
use crate::measure::{memory_kib, raise_fd_limit, reset_peak_rss};
use crate::report::{Check, Goal, SectionResult, Table, num, percentile};
use crate::rpc::{self, Client};
use crate::service_child::{Db, ServeProcess, bench_token, place_source};
use chrono::{DateTime, Utc};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use tonic::transport::Channel;
use transcoder::proto::job_event::Kind;
use transcoder::test_support::pg::PgDatabase;

/// Streams per HTTP/2 connection: many watchers share a connection, as behind a proxy
/// (the server sets no per-connection stream limit; hyper's own default would be 200).
const STREAMS_PER_CONNECTION: usize = 100;
/// The longest the watchers may take to connect, and the job to run.
const PHASE_TIMEOUT: Duration = Duration::from_secs(300);
const PRESET: &str = "System preset: Generic 360p";

struct Run {
    /// Every live delivery, sorted.
    latencies: Vec<f64>,
    /// Deliveries of progress events (sorted): the steady stream while transcoding.
    progress: Vec<f64>,
    /// Deliveries of every other event (sorted): state changes, outputs, the terminal
    /// event, which come in bursts at phase changes and at the end.
    other: Vec<f64>,
    /// Events the job had once the worker started.
    events: usize,
    delivered: usize,
    connect_seconds: f64,
    rss_before_mib: f64,
    rss_peak_mib: f64,
}

/// One watcher's live deliveries in order: (was a progress event, latency in ms).
type Deliveries = Vec<(bool, f64)>;

pub async fn run(ctx: &BenchContext) -> anyhow::Result<SectionResult> {
    raise_fd_limit();
    let counts: &[usize] = if ctx.quick { &[20] } else { &[1_000, 10_000] };
    let (source, interval_ms) = if ctx.quick {
        (ctx.tiny_clip().await?, 50)
    } else {
        (ctx.long_clip(30).await?, 250)
    };
    let mut table = Table::new(
        "WatchJob fan-out (API and worker processes, PostgreSQL)",
        &[
            "watchers",
            "connect s",
            "events",
            "delivered",
            "p50 ms",
            "p99 ms",
            "max ms",
            "p99 progress ms",
            "p99 other ms",
            "API RSS before MiB",
            "API peak RSS MiB",
        ],
    );
    table.note(format!(
        "One job of `{}` to `{PRESET}` (progress every {interval_ms} ms), watched from \
         submission by every watcher through `serve --role api`; once all are connected, a \
         `serve --role worker --workers 1` process starts and runs it. Latency = receipt by \
         the watcher minus the event's `time`, stamped by the worker before it persists the \
         event (one machine, one clock): it includes the NOTIFY to the API process and its \
         read-back. Progress: the progress events; other: state changes, outputs and the \
         terminal event, which arrive in bursts. RSS is the API process's. The watchers run \
         in the bench process and share the cores with both services.",
        source.file_name().unwrap_or_default().to_string_lossy()
    ));
    let mut result = SectionResult::default();
    for &watchers in counts {
        let run = fan_out(ctx, &source, watchers, interval_ms).await?;
        let expected = watchers * run.events;
        table.row(vec![
            watchers.to_string(),
            num(run.connect_seconds),
            run.events.to_string(),
            format!("{}/{expected}", run.delivered),
            num(percentile(&run.latencies, 50.0)),
            num(percentile(&run.latencies, 99.0)),
            num(run.latencies.last().copied().unwrap_or(f64::NAN)),
            num(percentile(&run.progress, 99.0)),
            num(percentile(&run.other, 99.0)),
            num(run.rss_before_mib),
            num(run.rss_peak_mib),
        ]);
        if watchers == *counts.last().unwrap_or(&0) {
            result.checks.extend([
                Check::new(
                    format!("WatchJob p99 delivery, {watchers} watchers"),
                    percentile(&run.latencies, 99.0),
                    "ms",
                    Goal::AtMost(100.0),
                ),
                Check::new(
                    format!("WatchJob p99 delivery, {watchers} watchers, progress events"),
                    percentile(&run.progress, 99.0),
                    "ms",
                    Goal::AtMost(100.0),
                ),
                Check::new(
                    format!("API process peak RSS, {watchers} watchers"),
                    run.rss_peak_mib,
                    "MiB",
                    Goal::AtMost(1024.0),
                ),
                Check::new(
                    format!("Events delivered, {watchers} watchers"),
                    run.delivered as f64 / expected.max(1) as f64 * 100.0,
                    "%",
                    Goal::AtLeast(100.0),
                ),
            ]);
        }
    }
    result.tables.push(table);
    Ok(result)
}

async fn fan_out(
    ctx: &BenchContext,
    source: &Path,
    watchers: usize,
    interval_ms: u64,
) -> anyhow::Result<Run> {
    let dir = ctx.fresh_scratch(&format!("fanout-{watchers}"))?;
    let source = place_source(source, &dir)?;
    let database = PgDatabase::create("transcoder_bench").await?;
    let url = database.url().to_owned();
    let token = bench_token(&ctx.transcoder, &dir, Db::Postgres(&url)).await?;
    let api_log = dir.join("api.log");
    let api = ServeProcess::start(&ctx.transcoder, "api", &[], &[], &url, &dir, api_log).await?;
    let api_url = format!(
        "http://{}",
        api.grpc_addr
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("the API process has no gRPC address"))?
    );
    let mut client = transcoder::client::connect(&api_url, &token).await?;
    let job = client
        .submit_job(rpc::submit_request(rpc::order(&source, &[PRESET])))
        .await?
        .into_inner();

    reset_peak_rss(api.pid);
    let rss_before_mib = memory_kib(api.pid, "VmRSS") as f64 / 1024.0;
    let connect_started = Instant::now();
    let mut channels = Vec::new();
    for _ in 0..watchers.div_ceil(STREAMS_PER_CONNECTION) {
        let channel = Channel::from_shared(api_url.clone())?.connect().await?;
        channels.push(transcoder::client::with_token(channel, &token)?);
    }
    let connected = Arc::new(AtomicUsize::new(0));
    let all_connected = Arc::new(Notify::new());
    // Events stamped before this instant were replays, not live deliveries.
    let (measure_from_tx, measure_from) = watch::channel(None::<DateTime<Utc>>);
    let mut tasks = Vec::with_capacity(watchers);
    for i in 0..watchers {
        let client = channels[i / STREAMS_PER_CONNECTION].clone();
        let (connected, all_connected) = (connected.clone(), all_connected.clone());
        let (measure_from, job_id) = (measure_from.clone(), job.id.clone());
        tasks.push(tokio::spawn(async move {
            let mut deliveries = Deliveries::new();
            follow(
                client,
                &job_id,
                measure_from,
                |first| {
                    if first && connected.fetch_add(1, Ordering::SeqCst) + 1 == watchers {
                        all_connected.notify_one();
                    }
                },
                &mut deliveries,
            )
            .await?;
            Ok::<_, anyhow::Error>(deliveries)
        }));
    }
    tokio::time::timeout(PHASE_TIMEOUT, all_connected.notified())
        .await
        .map_err(|_| anyhow::anyhow!("watchers did not all connect within 300 s"))?;
    let connect_seconds = connect_started.elapsed().as_secs_f64();
    let from = Utc::now();
    measure_from_tx.send_replace(Some(from));

    let interval = interval_ms.to_string();
    let worker_env = [
        (
            "TRANSCODER__LIMITS__PROGRESS_INTERVAL_MS",
            interval.as_str(),
        ),
        ("TRANSCODER__WORKERS__PROGRESS_MIN_INTERVAL_MS", "0"),
    ];
    let worker_args = ["--workers", "1"];
    let worker_log = dir.join("worker.log");
    let worker = ServeProcess::start(
        &ctx.transcoder,
        "worker",
        &worker_args,
        &worker_env,
        &url,
        &dir,
        worker_log,
    )
    .await?;

    let (mut latencies, mut progress, mut other) = (Vec::new(), Vec::new(), Vec::new());
    for task in tasks {
        for (is_progress, latency) in tokio::time::timeout(PHASE_TIMEOUT, task).await??? {
            latencies.push(latency);
            (if is_progress {
                &mut progress
            } else {
                &mut other
            })
            .push(latency);
        }
    }
    let delivered = latencies.len();
    for sample in [&mut latencies, &mut progress, &mut other] {
        sample.sort_by(f64::total_cmp);
    }
    let rss_peak_mib = memory_kib(api.pid, "VmHWM") as f64 / 1024.0;
    drop(channels);
    // The whole log once more, replayed: how many events each watcher should have had.
    let mut all = Deliveries::new();
    let (_, replay) = watch::channel(Some(from));
    follow(client, &job.id, replay, |_| {}, &mut all).await?;
    for process in [worker, api] {
        process
            .signal_and_wait(libc::SIGTERM, Duration::from_secs(60))
            .await?;
    }
    database.remove().await?;
    Ok(Run {
        latencies,
        progress,
        other,
        events: all.len(),
        delivered,
        connect_seconds,
        rss_before_mib,
        rss_peak_mib,
    })
}

/// Follows `job_id` to its terminal event, calling `on_message` for each message (with
/// whether it is the first); records the events stamped at or after `measure_from`
/// into `deliveries`. Fails if the job does not succeed.
async fn follow(
    mut client: Client,
    job_id: &str,
    measure_from: watch::Receiver<Option<DateTime<Utc>>>,
    on_message: impl Fn(bool),
    deliveries: &mut Deliveries,
) -> anyhow::Result<()> {
    let mut stream = rpc::watch(&mut client, job_id).await?;
    let mut first = true;
    while let Some(event) = stream.message().await? {
        let received = Utc::now();
        on_message(first);
        first = false;
        let sent = rpc::timestamp(event.time.as_ref());
        if measure_from.borrow().is_some_and(|from| sent >= from) {
            let latency = (received - sent).num_microseconds().unwrap_or(0) as f64 / 1000.0;
            deliveries.push((matches!(event.kind, Some(Kind::Progress(_))), latency));
        }
        if let Some(Kind::JobFinished(f)) = &event.kind {
            anyhow::ensure!(
                f.state == transcoder::proto::JobState::Succeeded as i32,
                "the fan-out job {job_id} ended {:?}: {:?}",
                transcoder::proto::JobState::try_from(f.state),
                f.error
            );
        }
    }
    Ok(())
}
