//! Fetches the source into the attempt's work dir (0-5 %).

use super::{Attempt, Step};
use crate::domain::Phase;
use crate::error::Error;
use crate::queue::tracked::tracked;
use crate::storage::origin;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

pub struct Download;

#[async_trait]
impl Step for Download {
    fn phase(&self) -> Phase {
        Phase::Downloading
    }

    async fn run(&self, at: &mut Attempt<'_>, _cancel: &CancellationToken) -> Result<(), Error> {
        let deps = at.lease.deps;
        let (storage, limits) = (&deps.storage, &deps.settings.limits);
        let (origin, location) = (
            at.job.order.origin.clone(),
            at.job.order.origin_location.clone(),
        );
        let work = at.work.clone();
        let source = tracked(
            at.lease,
            &mut at.job,
            Phase::Downloading,
            "",
            (0.0, 1.0),
            |transfer| async move {
                origin::fetch(storage, &origin, &location, &work, limits, &transfer).await
            },
        )
        .await?;
        // What was taken in: the downloaded file, or the local origin read in place.
        if let Ok(meta) = tokio::fs::metadata(&source).await {
            deps.metrics.source_bytes(meta.len());
        }
        at.source = Some(source);
        Ok(())
    }
}
