//! Decodes once and encodes every output (6-92 %), then, from the local source, the
//! thumbnails and storyboards; reads each written file's metadata when a postback needs
//! it. Leaves what it wrote for the upload phase.

use super::{Attempt, Produced, Step};
use crate::domain::{Job, OutputState, Phase};
use crate::error::{Error, ErrorCode};
use crate::media::plan::{JobPlan, plan_outputs};
use crate::media::runner::{ProgressSample, RunLimits};
use crate::media::thumbnail::{self, ThumbnailPlan};
use crate::media::{exiftool, pipeline, runner};
use crate::queue::lease::Lease;
use crate::queue::written::{self, WrittenOutput};
use crate::queue::{progress, storyboards};
use async_trait::async_trait;
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub struct Transcode;

#[async_trait]
impl Step for Transcode {
    fn phase(&self) -> Phase {
        Phase::Transcoding
    }

    async fn run(&self, at: &mut Attempt<'_>, cancel: &CancellationToken) -> Result<(), Error> {
        let settings = &at.lease.deps.settings;
        let (source, info) = (at.source()?.to_owned(), at.info()?.clone());
        let outputs_dir = at.work.join("outputs");
        tokio::fs::create_dir_all(&outputs_dir)
            .await
            .map_err(|e| Error::internal(format!("creating the work dir: {e}")))?;
        let job = &mut at.job;
        let plan = plan_outputs(
            &job.order.outputs,
            &info,
            &outputs_dir,
            settings.encoder_threads(),
        )?;
        // Planned before transcoding, so a source without video fails before the work.
        let thumbnails = thumbnail::plan_thumbnails(&job.order.thumbnails, &info, &outputs_dir)?;
        let boards = storyboards::plan(job, &info, &outputs_dir)?;
        for output in &mut job.outputs {
            output.state = OutputState::Running;
        }
        let duration = Duration::from_secs_f64(info.duration_seconds.max(0.0));
        encode(at.lease, job, &source, &plan, duration, cancel).await?;
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
        extract_thumbnails(job, &source, &thumbnails, timeout, cancel).await?;
        let per_tile = Duration::from_secs(settings.limits.stall_timeout_seconds);
        storyboards::extract(job, &source, &boards, per_tile, cancel).await?;
        at.produced = Some(Produced {
            results,
            thumbnails,
            storyboards: boards,
        });
        Ok(())
    }
}

/// Runs the pipeline, turning its samples into progress ticks (the job's percent, and
/// each output's own).
async fn encode(
    lease: &Lease<'_>,
    job: &mut Job,
    source: &Path,
    plan: &JobPlan,
    duration: Duration,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let limits = &lease.deps.settings.limits;
    let built = pipeline::build(source, &plan.renditions)?;
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
                lease.progress(job, tick).await?;
            }
        }
        Ok::<(), Error>(())
    };
    let started = std::time::Instant::now();
    let (ran, reported) = tokio::join!(run, report);
    ran?;
    let fps = samples
        .borrow()
        .as_ref()
        .map(|s| s.units as f64 / s.elapsed.as_secs_f64());
    lease.deps.metrics.encoded(duration, started.elapsed(), fps);
    reported
}

/// Writes every thumbnail from the local source, one small pipeline each. A stop ends
/// the job between and during extractions (a pipeline already running ends at its own
/// deadline; the job does not wait for it).
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
