//! A worker's hold on one job: every write goes through it, and stops counting the
//! moment the lease is lost.

use super::WorkerDeps;
use crate::domain::notification::Notification;
use crate::domain::{EventKind, Job, JobEvent, UsageLine};
use crate::error::{Error, ErrorCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct Lease<'a> {
    pub deps: &'a WorkerDeps,
    pub owner: &'a str,
    lost: Arc<AtomicBool>,
}

impl<'a> Lease<'a> {
    pub fn new(deps: &'a WorkerDeps, owner: &'a str) -> Self {
        Self {
            deps,
            owner,
            lost: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Persists the job with `event` (then broadcasts it). With `release` the lease ends.
    pub async fn record(
        &self,
        job: &mut Job,
        event: EventKind,
        release: bool,
    ) -> Result<(), Error> {
        job.updated_at = chrono::Utc::now();
        let saved = self
            .deps
            .repo
            .save_with_event(job, self.owner, event, release)
            .await?;
        self.published(saved)
    }

    /// Ends the job: its terminal state, `event`, its notification `deliveries` and its
    /// billed `usage` in one write that releases the lease (then broadcasts the event).
    pub async fn finish(
        &self,
        job: &mut Job,
        event: EventKind,
        deliveries: &[Notification],
        usage: &[UsageLine],
    ) -> Result<(), Error> {
        job.updated_at = chrono::Utc::now();
        let saved = self
            .deps
            .repo
            .finish(job, self.owner, event, deliveries, usage)
            .await?;
        self.published(saved)
    }

    /// Broadcasts a stored event; None means the write found the lease gone.
    fn published(&self, saved: Option<JobEvent>) -> Result<(), Error> {
        match saved {
            Some(event) => {
                self.deps.hub.publish(&event);
                Ok(())
            }
            None => {
                self.lost.store(true, Ordering::SeqCst);
                Err(Error::new(ErrorCode::Canceled, "the job's lease was lost"))
            }
        }
    }

    /// Renews the lease until dropped; cancels `cancel` if the lease is lost.
    pub fn heartbeat(&self, job: &Job, cancel: CancellationToken) -> HeartbeatGuard {
        let repo = self.deps.repo.clone();
        let owner = self.owner.to_owned();
        let job_id = job.id;
        let every = Duration::from_secs(self.deps.settings.workers.heartbeat_seconds.max(1));
        let lease = chrono::Duration::seconds(self.deps.settings.workers.lease_seconds as i64);
        let lost = self.lost.clone();
        HeartbeatGuard(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                match repo
                    .renew_lease(job_id, &owner, chrono::Utc::now() + lease)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(%job_id, "lease lost; stopping the job");
                        lost.store(true, Ordering::SeqCst);
                        cancel.cancel();
                        return;
                    }
                    // A blip: the lease has slack; try again next beat.
                    Err(e) => tracing::warn!(%job_id, error = %e, "lease renewal failed"),
                }
            }
        }))
    }
}

pub struct HeartbeatGuard(JoinHandle<()>);

impl Drop for HeartbeatGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}
