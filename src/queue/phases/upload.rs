//! Delivers every output, thumbnail and storyboard to every destination (92-99 %).

use super::{Attempt, Step};
use crate::domain::Phase;
use crate::error::Error;
use crate::queue::{deliver, storyboards};
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

pub struct Upload;

#[async_trait]
impl Step for Upload {
    fn phase(&self) -> Phase {
        Phase::Uploading
    }

    async fn run(&self, at: &mut Attempt<'_>, _cancel: &CancellationToken) -> Result<(), Error> {
        let produced = at
            .produced
            .take()
            .ok_or_else(|| Error::internal("nothing to upload before the transcode phase"))?;
        let bytes = produced_bytes(&produced).await * at.job.order.destinations.len() as u64;
        let (lease, job, delivered) = (at.lease, &mut at.job, &mut at.delivered);
        deliver::outputs(lease, job, produced.results, delivered).await?;
        deliver::thumbnails(lease, job, &produced.thumbnails, delivered).await?;
        storyboards::deliver(lease, job, &produced.storyboards, delivered).await?;
        lease.deps.metrics.delivered_bytes(bytes);
        Ok(())
    }
}

/// The size of every file the upload delivers (to each destination).
async fn produced_bytes(produced: &super::Produced) -> u64 {
    let mut paths: Vec<&std::path::Path> = Vec::new();
    for written in &produced.results {
        paths.extend(written.files.iter().map(|(path, _)| path.as_path()));
    }
    paths.extend(produced.thumbnails.iter().map(|t| t.path.as_path()));
    for board in &produced.storyboards {
        paths.extend([board.sprite_path.as_path(), board.vtt_path.as_path()]);
    }
    let mut total = 0;
    for path in paths {
        total += tokio::fs::metadata(path).await.map_or(0, |m| m.len());
    }
    total
}
