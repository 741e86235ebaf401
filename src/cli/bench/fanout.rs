//! Section 4: WatchJob fan-out. N watchers follow one running job; this bench plays
//! the worker, appending events through the same repository + hub path a worker's
//! lease uses, so every event is persisted before it is broadcast.

use super::BenchContext;
use super::inproc::{self, AppOptions, Backend, BenchApp, COMPANY};
use super::measure::{raise_fd_limit, reset_peak_rss, self_memory_kib};
use super::report::{Check, Goal, SectionResult, Table, num, percentile};
use chrono::Utc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, watch};
use transcoder::domain::{EventKind, Job, JobState, Phase, ProgressTick};
use transcoder::persistence::LeaseChange;
use transcoder::proto as pb;

/// Streams per HTTP/2 connection: many watchers share a connection, as behind a proxy
/// (the server sets no per-connection stream limit; hyper's own default would be 200).
const STREAMS_PER_CONNECTION: usize = 100;

struct Run {
    /// Every live delivery, sorted.
    latencies: Vec<f64>,
    /// Deliveries of the progress events that went out alone (sorted).
    spaced: Vec<f64>,
    /// Deliveries of the final pair: the last progress event and, right after it, the
    /// terminal event that also closes every stream (sorted).
    final_pair: Vec<f64>,
    delivered: usize,
    expected: usize,
    connect_seconds: f64,
    rss_before_mib: f64,
    rss_peak_mib: f64,
}

pub async fn run(ctx: &BenchContext) -> anyhow::Result<SectionResult> {
    raise_fd_limit();
    let counts: &[usize] = if ctx.quick { &[20] } else { &[1_000, 10_000] };
    let (events, interval) = if ctx.quick {
        (5, Duration::from_millis(50))
    } else {
        (40, Duration::from_millis(250))
    };
    let mut table = Table::new(
        "WatchJob fan-out (SQLite)",
        &[
            "watchers",
            "connect s",
            "delivered",
            "p50 ms",
            "p99 ms",
            "max ms",
            "p99 spaced ms",
            "p99 final pair ms",
            "RSS before MiB",
            "peak RSS MiB",
        ],
    );
    table.note(format!(
        "{events} progress events {} ms apart, then at once the terminal event, as a job \
         ends. Latency = receipt by the watcher minus the event's `time` (stamped before it \
         is persisted). p99 spaced: the first {} progress events, each delivered alone; p99 \
         final pair: the last progress event and the terminal event right after it, which \
         also ends every stream. RSS is this whole process: server plus every watcher's \
         client stream (an upper bound on the server's own). The watchers run in this \
         process and share its cores with the server.",
        interval.as_millis(),
        events - 1
    ));
    let mut result = SectionResult::default();
    for &watchers in counts {
        let run = fan_out(ctx, watchers, events, interval).await?;
        table.row(vec![
            watchers.to_string(),
            num(run.connect_seconds),
            format!("{}/{}", run.delivered, run.expected),
            num(percentile(&run.latencies, 50.0)),
            num(percentile(&run.latencies, 99.0)),
            num(run.latencies.last().copied().unwrap_or(f64::NAN)),
            num(percentile(&run.spaced, 99.0)),
            num(percentile(&run.final_pair, 99.0)),
            num(run.rss_before_mib),
            num(run.rss_peak_mib),
        ]);
        if watchers == *counts.last().unwrap() {
            result.checks.push(Check::new(
                format!("WatchJob p99 delivery, {watchers} watchers"),
                percentile(&run.latencies, 99.0),
                "ms",
                Goal::AtMost(100.0),
            ));
            result.checks.push(Check::new(
                format!("WatchJob p99 delivery, {watchers} watchers, spaced events"),
                percentile(&run.spaced, 99.0),
                "ms",
                Goal::AtMost(100.0),
            ));
            result.checks.push(Check::new(
                format!("Process peak RSS, {watchers} watchers"),
                run.rss_peak_mib,
                "MiB",
                Goal::AtMost(1024.0),
            ));
            result.checks.push(Check::new(
                format!("Events delivered, {watchers} watchers"),
                run.delivered as f64 / run.expected as f64 * 100.0,
                "%",
                Goal::AtLeast(100.0),
            ));
        }
    }
    result.tables.push(table);
    Ok(result)
}

async fn fan_out(
    ctx: &BenchContext,
    watchers: usize,
    events: usize,
    interval: Duration,
) -> anyhow::Result<Run> {
    let app = BenchApp::start(AppOptions {
        backend: Backend::Sqlite,
        workers: 1,
        paused: true,
        media_dir: ctx.media_dir.clone(),
    })
    .await?;
    let source = ctx.tiny_clip().await?;
    let mut client = app.channels(1).await?.remove(0);
    let submitted = client
        .submit_job(inproc::submit_request(inproc::order(
            &source,
            &["System preset: Generic 360p"],
        )))
        .await?
        .into_inner();
    let owner = "bench-fanout-driver";
    let mut job: Job = app
        .app
        .repo
        .claim_next(owner, std::time::Duration::from_secs(3600))
        .await?
        .ok_or_else(|| anyhow::anyhow!("the queued job could not be claimed"))?
        .job;
    anyhow::ensure!(job.id.to_string() == submitted.id, "claimed another job");
    job.state = JobState::Running;
    job.phase = Some(Phase::Transcoding);
    job.started_at = Some(Utc::now());
    let running = EventKind::StateChanged {
        state: JobState::Running,
        phase: Some(Phase::Transcoding),
        attempt: job.attempts,
    };
    record(&app, &mut job, owner, running).await?;

    reset_peak_rss();
    let rss_before_mib = self_memory_kib("VmRSS") as f64 / 1024.0;
    let connect_started = std::time::Instant::now();
    let channels = app
        .channels(watchers.div_ceil(STREAMS_PER_CONNECTION))
        .await?;
    let connected = Arc::new(AtomicUsize::new(0));
    let all_connected = Arc::new(Notify::new());
    // Events stamped before this instant were replays, not live deliveries.
    let (measure_from_tx, measure_from) = watch::channel(None::<chrono::DateTime<Utc>>);
    let mut tasks = Vec::with_capacity(watchers);
    for i in 0..watchers {
        let mut client = channels[i / STREAMS_PER_CONNECTION].clone();
        let (connected, all_connected, measure_from) = (
            connected.clone(),
            all_connected.clone(),
            measure_from.clone(),
        );
        let job_id = job.id.to_string();
        tasks.push(tokio::spawn(async move {
            let mut stream = client
                .watch_job(pb::WatchJobRequest {
                    company_id: COMPANY.into(),
                    job_id,
                    after_sequence: 0,
                })
                .await?
                .into_inner();
            let (mut latencies, mut live) = (Vec::new(), 0usize);
            let mut first = true;
            while let Some(event) = stream.message().await? {
                let received = Utc::now();
                if first {
                    first = false;
                    if connected.fetch_add(1, Ordering::SeqCst) + 1 == watchers {
                        all_connected.notify_one();
                    }
                }
                let sent = inproc::timestamp(event.time.as_ref());
                if measure_from.borrow().is_some_and(|from| sent >= from) {
                    live += 1;
                    latencies
                        .push((received - sent).num_microseconds().unwrap_or(0) as f64 / 1000.0);
                }
            }
            Ok::<_, anyhow::Error>((latencies, live))
        }));
    }
    tokio::time::timeout(Duration::from_secs(300), all_connected.notified())
        .await
        .map_err(|_| anyhow::anyhow!("watchers did not all connect within 300 s"))?;
    let connect_seconds = connect_started.elapsed().as_secs_f64();
    measure_from_tx.send_replace(Some(Utc::now()));

    for i in 1..=events {
        tokio::time::sleep(interval).await;
        job.progress_percent = Phase::Transcoding.overall_percent(i as f64 / events as f64);
        let tick = ProgressTick {
            phase: Phase::Transcoding,
            percent: job.progress_percent,
            output_label: String::new(),
            fps: 30.0,
            speed: 1.0,
            eta_seconds: (events - i) as f64 * interval.as_secs_f64(),
            outputs: Vec::new(),
        };
        record(&app, &mut job, owner, EventKind::Progress(tick)).await?;
    }
    job.state = JobState::Succeeded;
    job.finished_at = Some(Utc::now());
    record(
        &app,
        &mut job,
        owner,
        EventKind::JobFinished {
            state: JobState::Succeeded,
            error: None,
        },
    )
    .await?;

    let (mut latencies, mut spaced, mut final_pair, mut delivered) =
        (Vec::new(), Vec::new(), Vec::new(), 0);
    for task in tasks {
        let (l, live) = tokio::time::timeout(Duration::from_secs(120), task).await???;
        // A watcher's latencies are in event order: progress 1..=events, then terminal.
        let pair_from = l.len().min(events - 1);
        spaced.extend_from_slice(&l[..pair_from]);
        final_pair.extend_from_slice(&l[pair_from..]);
        latencies.extend(l);
        delivered += live;
    }
    for sample in [&mut latencies, &mut spaced, &mut final_pair] {
        sample.sort_by(f64::total_cmp);
    }
    let rss_peak_mib = self_memory_kib("VmHWM") as f64 / 1024.0;
    drop(channels);
    app.stop().await?;
    Ok(Run {
        latencies,
        spaced,
        final_pair,
        delivered,
        expected: watchers * (events + 1),
        connect_seconds,
        rss_before_mib,
        rss_peak_mib,
    })
}

/// Persists `event` with the job, then broadcasts it: what a worker's lease does.
async fn record(
    app: &BenchApp,
    job: &mut Job,
    owner: &str,
    event: EventKind,
) -> anyhow::Result<()> {
    job.updated_at = Utc::now();
    let lease = match event {
        EventKind::JobFinished { .. } => LeaseChange::Release,
        _ => LeaseChange::Keep,
    };
    let stored = app
        .app
        .repo
        .save_with_event(job, owner, event, lease)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the bench lost the job's lease"))?;
    app.app.hub.publish(&stored);
    Ok(())
}
