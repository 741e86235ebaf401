//! A worker's hold on one job: every write goes through it, checked against the claim's
//! fencing token (its unique owner string), and stops counting the moment the lease is
//! lost: the job is then stopped and nothing more is written.

use super::WorkerDeps;
use super::running::{JobStop, StopReason};
use crate::domain::notification::Notification;
use crate::domain::{EventKind, Job, JobEvent, JobId, ProgressTick, UsageLine};
use crate::error::{Error, ErrorCode};
use crate::persistence::{LeaseChange, LeaseStatus};
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub struct Lease<'a> {
    pub deps: &'a WorkerDeps,
    /// This claim's fencing token.
    pub owner: &'a str,
    pub stop: JobStop,
    job_id: JobId,
    /// When the last progress tick was written (ticks are capped per second).
    last_progress: Mutex<Option<Instant>>,
}

impl<'a> Lease<'a> {
    pub fn new(deps: &'a WorkerDeps, owner: &'a str, stop: JobStop, job_id: JobId) -> Self {
        Self {
            deps,
            owner,
            stop,
            job_id,
            last_progress: Mutex::new(None),
        }
    }

    pub fn is_lost(&self) -> bool {
        self.stop.reason() == Some(StopReason::LeaseLost)
    }

    /// Persists the job's fields with `event` (then publishes it); the lease is kept.
    pub async fn record(&self, job: &mut Job, event: EventKind) -> Result<(), Error> {
        self.save(job, event, LeaseChange::Keep).await
    }

    /// Gives the job back to the queue with `event`, claimable after `after`; with
    /// `handover` the attempt is not counted.
    pub async fn requeue(
        &self,
        job: &mut Job,
        event: EventKind,
        after: Option<Duration>,
        handover: bool,
    ) -> Result<(), Error> {
        self.save(job, event, LeaseChange::Requeue { after, handover })
            .await
    }

    async fn save(&self, job: &mut Job, event: EventKind, lease: LeaseChange) -> Result<(), Error> {
        job.updated_at = chrono::Utc::now();
        let saved = self
            .deps
            .journal
            .save(job, self.owner, event, lease)
            .await?;
        self.held(saved)
    }

    /// Writes a progress tick unless one was written less than the configured interval
    /// ago (then the tick is dropped: the next one carries newer figures). Only the
    /// progress columns are written, never the whole row.
    pub async fn progress(&self, job: &Job, tick: ProgressTick) -> Result<(), Error> {
        let every = Duration::from_millis(self.deps.settings.workers.progress_min_interval_ms);
        {
            let mut last = self.last_progress.lock().expect("progress clock");
            if last.is_some_and(|at| at.elapsed() < every) {
                return Ok(());
            }
            *last = Some(Instant::now());
        }
        let percents: Vec<f64> = job.outputs.iter().map(|o| o.percent).collect();
        let saved = self
            .deps
            .journal
            .progress(
                job.id,
                self.owner,
                job.progress_percent,
                &percents,
                EventKind::Progress(tick),
            )
            .await?;
        self.held(saved)
    }

    /// Ends the job: its terminal state, `event`, its notification `deliveries` and its
    /// billed `usage` in one write that releases the lease (then publishes the event).
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
            .journal
            .finish(job, self.owner, event, deliveries, usage)
            .await?;
        self.held(saved)
    }

    /// None means the write found the lease gone: stop the job, write nothing more.
    fn held(&self, saved: Option<JobEvent>) -> Result<(), Error> {
        match saved {
            Some(_) => Ok(()),
            None => {
                self.lost();
                Err(Error::new(ErrorCode::Canceled, "the job's lease was lost"))
            }
        }
    }

    fn lost(&self) {
        tracing::warn!(job_id = %self.job_id, "lease lost; stopping the job");
        self.stop.stop(StopReason::LeaseLost);
    }

    /// Renews the lease until dropped. A lost lease stops the job; a cancel request
    /// (seen here when no notification brought it) stops it as canceled.
    pub fn heartbeat(&self, job: &Job) -> HeartbeatGuard {
        let repo = self.deps.journal.repo().clone();
        let owner = self.owner.to_owned();
        let job_id = job.id;
        let every = Duration::from_secs(self.deps.settings.workers.heartbeat_seconds.max(1));
        let lease = Duration::from_secs(self.deps.settings.workers.lease_seconds);
        let stop = self.stop.clone();
        HeartbeatGuard(tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                // A renewal that hangs must not outlive the lease it renews.
                let renewed = tokio::time::timeout(every, repo.renew_lease(job_id, &owner, lease));
                match renewed.await {
                    Ok(Ok(LeaseStatus::Held)) => {}
                    Ok(Ok(LeaseStatus::CancelRequested)) => stop.stop(StopReason::Canceled),
                    Ok(Ok(LeaseStatus::Lost)) => {
                        tracing::warn!(%job_id, "lease lost; stopping the job");
                        stop.stop(StopReason::LeaseLost);
                        return;
                    }
                    // A blip: the lease has slack; try again next beat.
                    Ok(Err(e)) => tracing::warn!(%job_id, error = %e, "lease renewal failed"),
                    Err(_) => tracing::warn!(%job_id, "lease renewal timed out"),
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
