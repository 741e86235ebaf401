//! A job's storyboards: planned with the thumbnails, written after the transcode, and
//! delivered (sprite sheet and WebVTT file) to every destination like outputs, each
//! finished with a `StoryboardFinished` event. Free, like thumbnails: billing counts
//! outputs only.

use super::lease::Lease;
use crate::domain::{EventKind, Job, MediaInfo, OutputState};
use crate::error::{Error, ErrorCode};
use crate::media::storyboard::{self, StoryboardPlan};
use crate::storage::{Transfer, destination};
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Plans every storyboard of `job` from the probed source into `dir`; a source without
/// video fails here, before any transcoding.
pub fn plan(job: &Job, info: &MediaInfo, dir: &Path) -> Result<Vec<StoryboardPlan>, Error> {
    Ok(storyboard::plan_storyboards(
        &job.order.storyboards,
        info,
        dir,
    )?)
}

/// Writes every storyboard from the local source, each tile within `per_tile` of the
/// last, and records each one's layout on its result. Shutdown stops the job between
/// and during storyboards.
pub async fn extract(
    job: &mut Job,
    source: &Path,
    plans: &[StoryboardPlan],
    per_tile: Duration,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let stopped = || Error::new(ErrorCode::Canceled, "stopped while making storyboards");
    for (result, plan) in job.storyboards.iter_mut().zip(plans) {
        result.state = OutputState::Running;
        let work = storyboard::extract(source.to_owned(), plan.clone(), per_tile, cancel.clone());
        let layout = tokio::select! {
            done = work => done.map_err(|e| match e {
                crate::media::MediaError::Canceled => stopped(),
                other => other.into(),
            })?,
            _ = cancel.cancelled() => return Err(stopped()),
        };
        result.tiles = layout.tiles;
        result.columns = layout.columns;
        result.rows = layout.rows();
        result.tile_width = layout.tile_width;
        result.tile_height = layout.tile_height;
        result.interval_seconds = layout.interval_seconds;
    }
    Ok(())
}

/// Marks every storyboard not yet delivered as failed (the job is ending).
pub fn fail_unfinished(job: &mut Job) {
    for board in &mut job.storyboards {
        if board.state != OutputState::Succeeded {
            board.state = OutputState::Failed;
        }
    }
}

/// Every storyboard's two files go to every destination (`prefix + filename`); each
/// storyboard is finished once all have both. They are small: no progress slice.
pub async fn deliver(
    lease: &Lease<'_>,
    job: &mut Job,
    plans: &[StoryboardPlan],
    delivered: &mut super::deliver::Delivered,
) -> Result<(), Error> {
    let destinations = job.order.destinations.clone();
    let storage = &lease.deps.storage;
    let quiet = Transfer::default();
    for (i, plan) in plans.iter().enumerate() {
        let vtt_name = job.storyboards[i].filename.clone();
        let (mut urls, mut sprite_urls) = (Vec::new(), Vec::new());
        for dest in &destinations {
            let sprite = &plan.sprite_filename;
            let sprite_url =
                destination::deliver(storage, &plan.sprite_path, sprite, dest, &quiet).await?;
            delivered.record(&sprite_url);
            sprite_urls.push(sprite_url);
            let url =
                destination::deliver(storage, &plan.vtt_path, &vtt_name, dest, &quiet).await?;
            delivered.record(&url);
            urls.push(url);
        }
        let board = &mut job.storyboards[i];
        board.urls = urls;
        board.sprite_urls = sprite_urls;
        board.state = OutputState::Succeeded;
        let finished = board.clone();
        lease
            .record(job, EventKind::StoryboardFinished(Box::new(finished)))
            .await?;
    }
    Ok(())
}
