//! Reads the source's streams and checks its limits before anything is decoded; sizes
//! the job's deadline from its duration (5-6 %).

use super::{Attempt, Step};
use crate::domain::Phase;
use crate::error::Error;
use crate::queue::limits;
use crate::queue::written::probe_blocking;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

pub struct Probe;

#[async_trait]
impl Step for Probe {
    fn phase(&self) -> Phase {
        Phase::Probing
    }

    async fn run(&self, at: &mut Attempt<'_>, _cancel: &CancellationToken) -> Result<(), Error> {
        let limits = &at.lease.deps.settings.limits;
        let info = probe_blocking(at.source()?, limits.probe_timeout_seconds).await?;
        limits::check_source(&info, limits)?;
        let budget = limits::job_budget(info.duration_seconds, limits);
        at.deadline = at.started.checked_add(budget);
        at.job.source = Some(info.clone());
        at.info = Some(info);
        Ok(())
    }
}
