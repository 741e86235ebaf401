//! Runs one claimed job through its phases: fetch, probe, transcode, deliver.

use super::WorkerDeps;
use super::deliver::{self, Delivered};
use super::lease::Lease;
use super::written::{self, WrittenOutput, probe_blocking};
use super::{deadline, limits, progress};
use crate::domain::{
    Billing, EventKind, Job, JobState, MediaInfo, OutputState, Phase, ProgressTick,
};
use crate::error::{Error, ErrorCode};
use crate::media::plan::{JobPlan, plan_outputs};
use crate::media::runner::{ProgressSample, RunLimits};
use crate::media::thumbnail::{self, ThumbnailPlan};
use crate::media::{exiftool, pipeline, runner};
use crate::notify;
use crate::storage::{Transfer, WorkDir, origin};
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Runs `job` to a terminal state, or hands it back to the queue on shutdown or a
/// retryable failure.
#[tracing::instrument(skip_all, fields(job_id = %job.id))]
pub async fn execute(deps: &WorkerDeps, mut job: Job, owner: &str, shutdown: &CancellationToken) {
    let lease = Lease::new(deps, owner);
    let cancel = shutdown.child_token();
    let _heartbeat = lease.heartbeat(&job, cancel.clone());
    let max_attempts = deps.settings.workers.max_attempts;

    let mut delivered = Delivered::default();
    let outcome = if job.attempts > max_attempts {
        Err(Error::new(
            ErrorCode::Internal,
            format!("gave up after {max_attempts} attempts"),
        ))
    } else {
        run_phases(&lease, &mut job, &cancel, &mut delivered).await
    };
    // What a failed attempt delivered is withdrawn (a retry delivers it again). A lost
    // lease means another worker runs the job and writes the same names: leave them.
    if outcome.is_err() && !lease.is_lost() {
        delivered.withdraw(&deps.storage, &mut job).await;
    }

    let result = match outcome {
        _ if lease.is_lost() => return,
        Ok(()) => finish(&lease, &mut job, JobState::Succeeded, None).await,
        Err(_) if shutdown.is_cancelled() => requeue(&lease, &mut job, None).await,
        Err(e) if e.retryable && job.attempts < max_attempts => {
            tracing::warn!(error = %e, attempt = job.attempts, "retryable failure; requeued");
            requeue(&lease, &mut job, Some(e)).await
        }
        Err(e) => {
            tracing::info!(error = %e, "job failed");
            finish(&lease, &mut job, JobState::Failed, Some(e)).await
        }
    };
    if let Err(e) = result {
        // The lease will expire and another worker will pick the job up again.
        tracing::error!(error = %e, "could not record the job's outcome");
    }
}

/// Ends a job whose task panicked: FAILED with an internal error, lease released.
pub async fn fail_after_crash(deps: &WorkerDeps, mut job: Job, owner: &str, cause: &str) {
    let lease = Lease::new(deps, owner);
    let error = Error::internal(format!("the worker crashed running this job: {cause}"));
    if let Err(e) = finish(&lease, &mut job, JobState::Failed, Some(error)).await {
        tracing::error!(error = %e, "could not record the crash");
    }
}

async fn finish(
    lease: &Lease<'_>,
    job: &mut Job,
    state: JobState,
    error: Option<Error>,
) -> Result<(), Error> {
    job.state = state;
    job.error = error.clone();
    let finished_at = chrono::Utc::now();
    job.finished_at = Some(finished_at);
    if state == JobState::Succeeded {
        job.progress_percent = 100.0;
    }
    for output in &mut job.outputs {
        if output.state != OutputState::Succeeded {
            output.state = OutputState::Failed;
        }
    }
    for thumb in &mut job.thumbnails {
        if thumb.state != OutputState::Succeeded {
            thumb.state = OutputState::Failed;
        }
    }
    super::storyboards::fail_unfinished(job);
    // Only a succeeded job is billed, by what was written; a re-run starts unbilled.
    job.billing = (state == JobState::Succeeded)
        .then(|| Billing::for_outputs(&job.outputs, &lease.deps.settings.billing.tariff()));
    let usage = job
        .billing
        .as_ref()
        .map(|bill| bill.usage_lines(job.id, &job.company_id, finished_at))
        .unwrap_or_default();
    // One write with the terminal event, so a watcher that sees the end can also see
    // the deliveries and the bill on the job; delivering is the dispatcher's work.
    let deliveries = notify::deliveries_for(job, &lease.deps.settings.s3);
    lease
        .finish(
            job,
            EventKind::JobFinished { state, error },
            &deliveries,
            &usage,
        )
        .await?;
    if !deliveries.is_empty() {
        lease.deps.notifications_due.notify_one();
    }
    Ok(())
}

async fn requeue(lease: &Lease<'_>, job: &mut Job, error: Option<Error>) -> Result<(), Error> {
    job.state = JobState::Queued;
    job.phase = None;
    job.progress_percent = 0.0;
    for output in &mut job.outputs {
        output.percent = 0.0;
    }
    job.error = error;
    let event = EventKind::StateChanged {
        state: JobState::Queued,
        phase: None,
        attempt: job.attempts,
    };
    lease.record(job, event, true).await
}

async fn enter_phase(lease: &Lease<'_>, job: &mut Job, phase: Phase) -> Result<(), Error> {
    job.state = JobState::Running;
    job.phase = Some(phase);
    job.progress_percent = job.progress_percent.max(phase.overall_percent(0.0));
    let event = EventKind::StateChanged {
        state: JobState::Running,
        phase: Some(phase),
        attempt: job.attempts,
    };
    lease.record(job, event, false).await
}

/// One attempt: the work dir lives as long as it and is removed off the runtime however
/// it ends (it may hold gigabytes).
async fn run_phases(
    lease: &Lease<'_>,
    job: &mut Job,
    cancel: &CancellationToken,
    delivered: &mut Delivered,
) -> Result<(), Error> {
    let started = Instant::now();
    job.started_at.get_or_insert_with(chrono::Utc::now);
    job.error = None;

    enter_phase(lease, job, Phase::Downloading).await?;
    let work_base = lease.deps.settings.data_dir.join("work");
    let work = WorkDir::create(&work_base, &job.id.to_string())
        .await
        .map_err(|e| Error::internal(format!("creating the work dir: {e}")))?;
    let result = fetch_and_produce(lease, job, work.path(), started, cancel, delivered).await;
    if let Err(e) = work.remove().await {
        tracing::warn!(error = %e, "removing the work dir failed");
    }
    result
}

/// Fetches and probes the source, checks its limits before anything is decoded, then
/// produces and delivers within the job's deadline (counted from `started`, sized by the
/// source's duration).
async fn fetch_and_produce(
    lease: &Lease<'_>,
    job: &mut Job,
    work_path: &Path,
    started: Instant,
    cancel: &CancellationToken,
    delivered: &mut Delivered,
) -> Result<(), Error> {
    let settings = &lease.deps.settings;
    let storage = &lease.deps.storage;
    let limits = &settings.limits;
    let (origin, location) = (job.order.origin.clone(), job.order.origin_location.clone());
    let source = tracked(
        lease,
        job,
        Phase::Downloading,
        "",
        (0.0, 1.0),
        |transfer| async move {
            origin::fetch(storage, &origin, &location, work_path, limits, &transfer).await
        },
    )
    .await?;

    enter_phase(lease, job, Phase::Probing).await?;
    let info = probe_blocking(&source, limits.probe_timeout_seconds).await?;
    limits::check_source(&info, limits)?;
    job.source = Some(info.clone());

    let budget = limits::job_budget(info.duration_seconds, limits);
    let passed = || limits::deadline_passed(budget, info.duration_seconds, limits);
    let (source, info) = (&source, &info);
    deadline::within(started.checked_add(budget), cancel, passed, |token| {
        async move { produce(lease, job, work_path, source, info, &token, delivered).await }
    })
    .await
}

async fn produce(
    lease: &Lease<'_>,
    job: &mut Job,
    work_path: &Path,
    source: &Path,
    info: &MediaInfo,
    cancel: &CancellationToken,
    delivered: &mut Delivered,
) -> Result<(), Error> {
    let settings = &lease.deps.settings;
    enter_phase(lease, job, Phase::Transcoding).await?;
    let outputs_dir = work_path.join("outputs");
    tokio::fs::create_dir_all(&outputs_dir)
        .await
        .map_err(|e| Error::internal(format!("creating the work dir: {e}")))?;
    let plan = plan_outputs(
        &job.order.outputs,
        info,
        &outputs_dir,
        settings.encoder_threads(),
    )?;
    // Planned before transcoding, so a source without video fails before the work.
    let thumbnails = thumbnail::plan_thumbnails(&job.order.thumbnails, info, &outputs_dir)?;
    let storyboards = super::storyboards::plan(job, info, &outputs_dir)?;
    for output in &mut job.outputs {
        output.state = OutputState::Running;
    }
    transcode(lease, job, source, &plan, info, cancel).await?;
    let filenames: Vec<String> = job
        .order
        .outputs
        .iter()
        .map(|o| o.filename.clone())
        .collect();
    let results =
        written::collect(&plan, &filenames, settings.limits.probe_timeout_seconds).await?;
    describe_for_postback(job, &results).await?;
    let timeout = Duration::from_secs(settings.limits.probe_timeout_seconds);
    extract_thumbnails(job, source, &thumbnails, timeout, cancel).await?;
    let per_tile = Duration::from_secs(settings.limits.stall_timeout_seconds);
    super::storyboards::extract(job, source, &storyboards, per_tile, cancel).await?;

    enter_phase(lease, job, Phase::Uploading).await?;
    deliver::outputs(lease, job, results, delivered).await?;
    deliver::thumbnails(lease, job, &thumbnails, delivered).await?;
    super::storyboards::deliver(lease, job, &storyboards, delivered).await?;
    if !job.order.notifications.is_empty() {
        enter_phase(lease, job, Phase::Notifying).await?;
    }
    Ok(())
}

/// Runs a transfer while turning its progress into ticks over `span` of `phase`.
pub(super) async fn tracked<T, Fut>(
    lease: &Lease<'_>,
    job: &mut Job,
    phase: Phase,
    label: &str,
    span: (f64, f64),
    work: impl FnOnce(Transfer) -> Fut,
) -> Result<T, Error>
where
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let (transfer, mut reports) = Transfer::channel();
    let running = work(transfer);
    let report = async {
        while reports.changed().await.is_ok() {
            let (done, total) = *reports.borrow_and_update();
            let Some(total) = total.filter(|t| *t > 0) else {
                continue;
            };
            let fraction = span.0 + (span.1 - span.0) * (done as f64 / total as f64);
            let percent = phase.overall_percent(fraction);
            if percent >= job.progress_percent + 0.5 {
                job.progress_percent = percent;
                let tick = ProgressTick {
                    phase,
                    percent,
                    output_label: label.to_owned(),
                    fps: 0.0,
                    speed: 0.0,
                    eta_seconds: 0.0,
                    outputs: Vec::new(),
                };
                lease.record(job, EventKind::Progress(tick), false).await?;
            }
        }
        Ok::<(), Error>(())
    };
    let (result, reported) = tokio::join!(running, report);
    reported?;
    result
}

async fn transcode(
    lease: &Lease<'_>,
    job: &mut Job,
    source: &Path,
    plan: &JobPlan,
    info: &MediaInfo,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let limits = &lease.deps.settings.limits;
    let built = pipeline::build(source, &plan.renditions)?;
    let duration = Duration::from_secs_f64(info.duration_seconds.max(0.0));
    let run_limits = RunLimits {
        progress_interval: Duration::from_millis(limits.progress_interval_ms),
        stall_timeout: Duration::from_secs(limits.stall_timeout_seconds),
        expected_duration: duration,
    };
    let (samples_tx, mut samples) = tokio::sync::watch::channel(None::<ProgressSample>);
    let run = runner::run(built, run_limits, cancel.clone(), move |sample| {
        let _ = samples_tx.send(Some(sample));
    });
    let owners: Vec<usize> = plan.renditions.iter().map(|r| r.output).collect();
    let labels: Vec<String> = job.order.outputs.iter().map(|o| o.label.clone()).collect();
    let report = async {
        while samples.changed().await.is_ok() {
            let Some(sample) = samples.borrow_and_update().clone() else {
                continue;
            };
            let tick = progress::transcoding_tick(&sample, &owners, &labels, duration);
            // Ticks only move forward; a tick that adds nothing is not worth an event.
            if tick.percent >= job.progress_percent + 0.5 {
                job.progress_percent = tick.percent;
                for (output, label) in job.outputs.iter_mut().zip(&labels) {
                    if let Some(own) = tick.outputs.iter().find(|o| o.label == *label) {
                        output.percent = own.percent;
                    }
                }
                lease.record(job, EventKind::Progress(tick), false).await?;
            }
        }
        Ok::<(), Error>(())
    };
    let (ran, reported) = tokio::join!(run, report);
    ran?;
    reported
}

/// Writes every thumbnail from the local source, one small pipeline each. Shutdown
/// stops the job between and during extractions (a pipeline already running ends at its
/// own deadline; the job does not wait for it).
async fn extract_thumbnails(
    job: &mut Job,
    source: &Path,
    plans: &[ThumbnailPlan],
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let stopped = || Error::new(ErrorCode::Canceled, "stopped while making thumbnails");
    for (result, plan) in job.thumbnails.iter_mut().zip(plans) {
        result.state = OutputState::Running;
        tokio::select! {
            done = thumbnail::extract(source.to_owned(), plan.clone(), timeout) => {
                let frame = done?;
                (result.time_seconds, result.past_end) = (frame.time_seconds, frame.past_end);
            }
            _ = cancel.cancelled() => return Err(stopped()),
        }
        (result.width, result.height) = (plan.width, plan.height);
    }
    Ok(())
}

/// When the order asks for a postback, reads each written file's metadata with exiftool
/// (the postback's `meta`) before it is uploaded. A missing exiftool fails the job with
/// MISSING_PLUGIN: the client asked for metadata the server cannot give.
async fn describe_for_postback(job: &mut Job, results: &[WrittenOutput]) -> Result<(), Error> {
    if !job.order.notifications.iter().any(|n| n.is_postback()) {
        return Ok(());
    }
    for written in results {
        // A ladder is described by its master playlist's top rung's first file.
        if let Some((path, _)) = written.files.first() {
            job.outputs[written.index].file_metadata = exiftool::read_metadata(path).await?;
        }
    }
    Ok(())
}
