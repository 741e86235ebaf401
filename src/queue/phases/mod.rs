//! One attempt at a job, as a list of phases run in order by a small driver.
//!
//! Each phase is a unit ([`Step`]) with its own progress slice (its [`Phase`]'s range of
//! the job percent), its own error mapping, and a place in [`STEPS`]. The driver owns
//! what every phase shares: entering the phase (its state event, through the lease), the
//! job's stop token, and the job's deadline once the probe has sized it. A new phase
//! (packaging, say) is a new file and one line in `STEPS`; the driver does not grow.

mod download;
mod notify;
mod probe;
mod traced;
mod transcode;
mod upload;

use super::deadline;
use super::deliver::Delivered;
use super::lease::Lease;
use super::written::WrittenOutput;
use crate::domain::{EventKind, Job, JobState, MediaInfo, Phase};
use crate::error::Error;
use crate::media::thumbnail::ThumbnailPlan;
use crate::telemetry::jobs;
use async_trait::async_trait;
use std::path::PathBuf;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// What one attempt knows so far; each phase reads what earlier ones left.
pub struct Attempt<'a> {
    pub lease: &'a Lease<'a>,
    pub job: Job,
    /// The attempt's own work dir (removed when the attempt ends).
    pub work: PathBuf,
    pub started: Instant,
    /// Everything already delivered, withdrawn if the attempt fails.
    pub delivered: Delivered,
    /// Set by the probe: the job must be done by then.
    pub deadline: Option<Instant>,
    pub source: Option<PathBuf>,
    pub info: Option<MediaInfo>,
    pub produced: Option<Produced>,
}

/// What the transcoding phase wrote, for the upload phase.
pub struct Produced {
    pub results: Vec<WrittenOutput>,
    pub thumbnails: Vec<ThumbnailPlan>,
    pub storyboards: Vec<crate::media::storyboard::StoryboardPlan>,
}

impl Attempt<'_> {
    pub fn source(&self) -> Result<&std::path::Path, Error> {
        self.source
            .as_deref()
            .ok_or_else(|| Error::internal("no source before the download phase"))
    }

    pub fn info(&self) -> Result<&MediaInfo, Error> {
        self.info
            .as_ref()
            .ok_or_else(|| Error::internal("no media info before the probe phase"))
    }
}

#[async_trait]
pub trait Step: Send + Sync {
    /// The phase it reports, and whose slice of the job percent it fills.
    fn phase(&self) -> Phase;

    /// Whether the job needs this phase at all.
    fn applies(&self, _job: &Job) -> bool {
        true
    }

    /// Does the work. `cancel` fires when the job is stopped or its deadline passes.
    async fn run(&self, at: &mut Attempt<'_>, cancel: &CancellationToken) -> Result<(), Error>;

    /// Turns what went wrong into the job's error.
    fn map_error(&self, error: Error) -> Error {
        error
    }
}

/// The phases, in order.
pub const STEPS: &[&dyn Step] = &[
    &download::Download,
    &probe::Probe,
    &transcode::Transcode,
    &upload::Upload,
    &notify::Notify,
];

/// Runs every phase the job needs, in order; the first failure ends the attempt.
pub async fn run_all(at: &mut Attempt<'_>) -> Result<(), Error> {
    at.job.started_at.get_or_insert_with(chrono::Utc::now);
    at.job.error = None;
    let stop = at.lease.stop.token().clone();
    for step in STEPS {
        if !step.applies(&at.job) {
            continue;
        }
        if stop.is_cancelled() {
            return Err(stopped());
        }
        let phase = step.phase();
        let span = jobs::phase_span(phase);
        jobs::set_attributes(&span, traced::before(phase, at));
        let started = Instant::now();
        let ran = async {
            enter(at, phase).await?;
            let (deadline, passed) = (at.deadline, deadline_error(at));
            let current = &mut *at;
            deadline::within(
                deadline,
                &stop,
                || passed,
                |token| async move { step.run(current, &token).await },
            )
            .await
            .map_err(|e| step.map_error(e))
        }
        .instrument(span.clone())
        .await;
        let metrics = &at.lease.deps.metrics;
        metrics.phase_finished(phase, started.elapsed(), ran.is_ok());
        match ran {
            Ok(()) => {
                jobs::set_attributes(&span, traced::after(phase, at, started.elapsed()).await)
            }
            Err(error) => {
                jobs::record_phase_error(&span, &error);
                return Err(error);
            }
        }
    }
    Ok(())
}

/// The error of a job past its deadline (known once the probe has the duration).
fn deadline_error(at: &Attempt<'_>) -> Error {
    let limits = &at.lease.deps.settings.limits;
    let duration = at.info.as_ref().map_or(0.0, |info| info.duration_seconds);
    let budget = super::limits::job_budget(duration, limits);
    super::limits::deadline_passed(budget, duration, limits)
}

fn stopped() -> Error {
    Error::new(crate::error::ErrorCode::Canceled, "the job was stopped")
}

/// Records the state event of entering `phase`.
async fn enter(at: &mut Attempt<'_>, phase: Phase) -> Result<(), Error> {
    let job = &mut at.job;
    job.state = JobState::Running;
    job.phase = Some(phase);
    job.progress_percent = job.progress_percent.max(phase.overall_percent(0.0));
    let event = EventKind::StateChanged {
        state: JobState::Running,
        phase: Some(phase),
        attempt: job.attempts,
    };
    at.lease.record(job, event).await
}
