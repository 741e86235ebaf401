//! Delivering a job's outputs and thumbnails to every destination, and withdrawing them
//! again when the job fails after some were delivered: a failed job leaves nothing at
//! its destinations that looks finished.

use super::lease::Lease;
use super::tracked::tracked;
use super::written::WrittenOutput;
use crate::domain::{EventKind, Job, OutputState, Phase};
use crate::error::Error;
use crate::media::thumbnail::ThumbnailPlan;
use crate::storage::{Storage, destination};

/// The URLs of every file this attempt delivered, in order.
#[derive(Debug, Default)]
pub struct Delivered(Vec<String>);

impl Delivered {
    pub fn record(&mut self, url: &str) {
        self.0.push(url.to_owned());
    }

    /// Removes every delivered file (those that cannot be removed are logged), and marks
    /// every result that had been finished as failed, without URLs.
    pub async fn withdraw(&mut self, storage: &Storage, job: &mut Job) {
        for url in self.0.drain(..) {
            if let Err(e) = destination::withdraw(storage, &url).await {
                tracing::warn!(error = %e, "a delivered file of a failed job stays");
            }
        }
        for output in &mut job.outputs {
            if output.state == OutputState::Succeeded {
                output.state = OutputState::Failed;
                output.urls.clear();
                for rendition in &mut output.renditions {
                    rendition.urls.clear();
                }
            }
        }
        for thumb in &mut job.thumbnails {
            if thumb.state == OutputState::Succeeded {
                thumb.state = OutputState::Failed;
                thumb.urls.clear();
            }
        }
        for board in &mut job.storyboards {
            if board.state == OutputState::Succeeded {
                board.state = OutputState::Failed;
                board.urls.clear();
                board.sprite_urls.clear();
            }
        }
    }
}

/// Every output goes to every destination (a ladder's whole tree); an output is finished
/// once all have it.
pub async fn outputs(
    lease: &Lease<'_>,
    job: &mut Job,
    results: Vec<WrittenOutput>,
    delivered: &mut Delivered,
) -> Result<(), Error> {
    let destinations = job.order.destinations.clone();
    let files: usize = results.iter().map(|w| w.files.len()).sum();
    let steps = (files * destinations.len()).max(1) as f64;
    let mut step = 0.0;
    for written in results {
        let label = job.outputs[written.index].label.clone();
        let mut urls = Vec::new();
        let mut renditions = written.renditions;
        for rendition in &mut renditions {
            rendition.0.urls.clear();
        }
        for dest in &destinations {
            for (path, key) in &written.files {
                let span = (step / steps, (step + 1.0) / steps);
                let storage = &lease.deps.storage;
                let url = tracked(
                    lease,
                    job,
                    Phase::Uploading,
                    &label,
                    span,
                    |transfer| async move {
                        destination::deliver(storage, path, key, dest, &transfer).await
                    },
                )
                .await?;
                delivered.record(&url);
                if *key == written.main_key {
                    urls.push(url.clone());
                }
                for (rendition, playlist_key) in &mut renditions {
                    if playlist_key == key {
                        rendition.urls.push(url.clone());
                    }
                }
                step += 1.0;
            }
        }
        let output = &mut job.outputs[written.index];
        output.urls = urls;
        output.media = Some(written.media);
        output.encoded = Some(written.encoded);
        output.renditions = renditions.into_iter().map(|(r, _)| r).collect();
        output.percent = 100.0;
        output.state = OutputState::Succeeded;
        let finished = output.clone();
        lease
            .record(job, EventKind::OutputFinished(Box::new(finished)))
            .await?;
    }
    Ok(())
}

/// Every thumbnail goes to every destination, like outputs (`prefix + filename`); each is
/// finished once all have it. Thumbnails are small: their uploads add no progress slice.
pub async fn thumbnails(
    lease: &Lease<'_>,
    job: &mut Job,
    plans: &[ThumbnailPlan],
    delivered: &mut Delivered,
) -> Result<(), Error> {
    let destinations = job.order.destinations.clone();
    for (i, plan) in plans.iter().enumerate() {
        let filename = job.thumbnails[i].filename.clone();
        let mut urls = Vec::new();
        for dest in &destinations {
            let storage = &lease.deps.storage;
            let (path, filename) = (&plan.path, &filename);
            let url = tracked(
                lease,
                job,
                Phase::Uploading,
                &plan.label,
                (1.0, 1.0),
                |transfer| async move {
                    destination::deliver(storage, path, filename, dest, &transfer).await
                },
            )
            .await?;
            delivered.record(&url);
            urls.push(url);
        }
        let thumb = &mut job.thumbnails[i];
        thumb.urls = urls;
        thumb.state = OutputState::Succeeded;
        let finished = thumb.clone();
        lease
            .record(job, EventKind::ThumbnailFinished(Box::new(finished)))
            .await?;
    }
    Ok(())
}
