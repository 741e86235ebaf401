//! A job's persisted events, read at once (the dashboard's timeline). WatchJob is the
//! streaming form; this is the page-at-a-time read behind it.

use super::Service;
use crate::domain::{Caller, JobEvent};
use crate::error::Result;

/// The most events one read returns.
pub const MAX_HISTORY_EVENTS: u64 = 1000;

impl Service {
    /// The caller's job's events with `sequence > after`, oldest first, at most `limit`
    /// (capped at [`MAX_HISTORY_EVENTS`]). Another company's job is NOT_FOUND.
    pub async fn job_events(
        &self,
        caller: &Caller,
        job_id: &str,
        after: u64,
        limit: u64,
    ) -> Result<Vec<JobEvent>> {
        let job = self.get_job(caller, job_id).await?;
        self.inner
            .repo
            .events_after(job.id, after, limit.min(MAX_HISTORY_EVENTS))
            .await
    }
}
