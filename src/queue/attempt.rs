//! One claimed job from start to its outcome: runs the phases under the lease, then
//! decides how the attempt ends.
//!
//! | how it went                         | what is written                                  |
//! |-------------------------------------|--------------------------------------------------|
//! | the lease was lost                  | nothing (another worker owns the job)            |
//! | every phase succeeded               | SUCCEEDED, billed                                |
//! | CancelJob                           | CANCELED, deliveries withdrawn, not billed       |
//! | drain grace over (handover)         | QUEUED at once; the attempt does not count       |
//! | retryable failure, attempts left    | QUEUED after a backoff                           |
//! | any other failure                   | FAILED with the error's code                     |

use super::WorkerDeps;
use super::deliver::Delivered;
use super::lease::Lease;
use super::phases::{self, Attempt};
use super::running::{JobStop, StopReason};
use crate::domain::{Billing, EventKind, Job, JobState, OutputState};
use crate::error::{Error, ErrorCode};
use crate::notify;
use crate::persistence::Claimed;
use crate::storage::WorkDir;
use crate::telemetry::jobs;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

/// Runs a claimed job to the end of this attempt. `owner` is the claim's fencing token.
/// Everything it does is inside the attempt's span (`telemetry::jobs`), a child of the
/// submitter's span.
pub async fn run(deps: &WorkerDeps, claimed: Claimed, owner: &str, stop: JobStop) {
    let span = jobs::attempt_span(&claimed.job);
    run_in_span(deps, claimed, owner, stop)
        .instrument(span)
        .await
}

async fn run_in_span(deps: &WorkerDeps, claimed: Claimed, owner: &str, stop: JobStop) {
    let lease = Lease::new(deps, owner, stop, claimed.job.id);
    let _heartbeat = lease.heartbeat(&claimed.job);
    let mut job = claimed.job;
    let max_attempts = deps.settings.workers.max_attempts;
    let result = if claimed.cancel_requested {
        let canceled = Error::new(ErrorCode::Canceled, "canceled by request");
        finish(&lease, &mut job, JobState::Canceled, Some(canceled)).await
    } else if job.attempts > max_attempts {
        let lost = Error::new(
            ErrorCode::WorkerLost,
            format!(
                "the job's worker stopped (crashed or lost its lease) on each of {max_attempts} attempts"
            ),
        );
        finish(&lease, &mut job, JobState::Failed, Some(lost)).await
    } else {
        attempt(&lease, job).await
    };
    if let Err(e) = result
        && !lease.is_lost()
    {
        // The lease will expire and another worker will pick the job up again.
        tracing::error!(error = %e, "could not record the job's outcome");
    }
}

/// Runs the phases in a work dir of their own, then ends the attempt by how it went.
async fn attempt(lease: &Lease<'_>, job: Job) -> Result<(), Error> {
    let deps = lease.deps;
    let work = WorkDir::create(&deps.settings.data_dir.join("work"), &job.id.to_string())
        .await
        .map_err(|e| Error::internal(format!("creating the work dir: {e}")))?;
    let mut at = Attempt {
        lease,
        job,
        work: work.path().to_owned(),
        started: Instant::now(),
        delivered: Delivered::default(),
        deadline: None,
        source: None,
        info: None,
        produced: None,
    };
    let outcome = phases::run_all(&mut at).await;
    // The work dir may hold gigabytes: removed off the runtime, however it went.
    if let Err(e) = work.remove().await {
        tracing::warn!(error = %e, "removing the work dir failed");
    }
    let (mut job, mut delivered) = (at.job, at.delivered);
    let stop = lease.stop.reason();
    if stop == Some(StopReason::LeaseLost) {
        // Another worker runs the job and writes the same names: leave them.
        return Ok(());
    }
    let error = match outcome {
        Ok(()) => return finish(lease, &mut job, JobState::Succeeded, None).await,
        Err(error) => error,
    };
    // What a failed attempt delivered is withdrawn (a retry delivers it again), so
    // nothing half-done is presented as done.
    delivered.withdraw(&deps.storage, &mut job).await;
    match stop {
        Some(StopReason::Canceled) => {
            let canceled = Error::new(ErrorCode::Canceled, "canceled by request");
            finish(lease, &mut job, JobState::Canceled, Some(canceled)).await
        }
        Some(StopReason::Handover) => {
            tracing::info!("handed back to the queue by a draining worker");
            requeue(lease, &mut job, None, None, true).await
        }
        _ if error.retryable && job.attempts < deps.settings.workers.max_attempts => {
            let wait = backoff(deps, job.attempts);
            tracing::warn!(%error, attempt = job.attempts, ?wait, "retryable failure; requeued");
            requeue(lease, &mut job, Some(error), Some(wait), false).await
        }
        _ => {
            tracing::info!(%error, "job failed");
            // The cause keeps its code and its `retryable` (whose fault it was).
            let error = if error.retryable {
                let attempts = job.attempts;
                Error {
                    message: format!("{} (gave up after {attempts} attempts)", error.message),
                    ..error
                }
            } else {
                error
            };
            finish(lease, &mut job, JobState::Failed, Some(error)).await
        }
    }
}

/// `base x 2^(failures - 1)`, at most the configured maximum.
fn backoff(deps: &WorkerDeps, failures: u32) -> Duration {
    let workers = &deps.settings.workers;
    let exponent = failures.saturating_sub(1).min(30) as i32;
    let secs = workers.retry_backoff_base_seconds * 2f64.powi(exponent);
    Duration::from_secs_f64(secs.min(workers.retry_backoff_max_seconds).max(0.0))
}

/// Ends a job whose task panicked: FAILED with an internal error, lease released.
pub async fn fail_after_crash(deps: &WorkerDeps, claimed: Claimed, owner: &str, cause: &str) {
    let lease = Lease::new(deps, owner, JobStop::default(), claimed.job.id);
    let mut job = claimed.job;
    let error = Error::internal(format!("the worker crashed running this job: {cause}"));
    if let Err(e) = finish(&lease, &mut job, JobState::Failed, Some(error)).await {
        tracing::error!(error = %e, "could not record the crash");
    }
}

/// The job's end in one write: its terminal state and event, its bill (only a
/// succeeded job is billed, by what was written) and its notification rows.
async fn finish(
    lease: &Lease<'_>,
    job: &mut Job,
    state: JobState,
    error: Option<Error>,
) -> Result<(), Error> {
    let deps = lease.deps;
    jobs::record_outcome(&tracing::Span::current(), state, error.as_ref());
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
    job.billing = (state == JobState::Succeeded)
        .then(|| Billing::for_outputs(&job.outputs, &deps.settings.billing.tariff()));
    let usage = job
        .billing
        .as_ref()
        .map(|bill| bill.usage_lines(job.id, &job.company_id, finished_at))
        .unwrap_or_default();
    let deliveries = notify::deliveries_for(job, &deps.settings.s3);
    let event = EventKind::JobFinished {
        state,
        error: error.clone(),
    };
    lease.finish(job, event, &deliveries, &usage).await?;
    deps.metrics.job_finished(state, error.as_ref());
    tracing::info!(job_id = %job.id, state = state.as_str(), "job finished");
    if !deliveries.is_empty() {
        deps.notifications_due.notify_one();
    }
    Ok(())
}

/// Back to the queue, with the attempt's progress reset.
async fn requeue(
    lease: &Lease<'_>,
    job: &mut Job,
    error: Option<Error>,
    after: Option<Duration>,
    handover: bool,
) -> Result<(), Error> {
    jobs::record_outcome(&tracing::Span::current(), JobState::Queued, error.as_ref());
    job.state = JobState::Queued;
    job.phase = None;
    job.progress_percent = 0.0;
    for output in &mut job.outputs {
        output.percent = 0.0;
    }
    job.error = error;
    if handover {
        // The attempt is handed back, not failed: the next claim counts it again.
        job.attempts = job.attempts.saturating_sub(1);
    }
    let event = EventKind::StateChanged {
        state: JobState::Queued,
        phase: None,
        attempt: job.attempts,
    };
    lease.requeue(job, event, after, handover).await
}
