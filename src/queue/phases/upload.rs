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
        let (lease, job, delivered) = (at.lease, &mut at.job, &mut at.delivered);
        deliver::outputs(lease, job, produced.results, delivered).await?;
        deliver::thumbnails(lease, job, &produced.thumbnails, delivered).await?;
        storyboards::deliver(lease, job, &produced.storyboards, delivered).await
    }
}
