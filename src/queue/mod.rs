//! The worker pool: claims queued jobs (highest priority, then oldest) on a lease,
//! heartbeats it, and runs them through the executor.

mod deadline;
mod deliver;
mod executor;
mod lease;
mod limits;
mod progress;
mod storyboards;
mod written;

use crate::config::Settings;
use crate::events::EventHub;
use crate::persistence::{JobRepository, NotificationRepository};
use crate::storage::Storage;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What workers need to run jobs.
pub struct WorkerDeps {
    pub repo: Arc<dyn JobRepository>,
    pub hub: Arc<EventHub>,
    pub settings: Arc<Settings>,
    pub storage: Storage,
    pub work_available: Arc<Notify>,
    pub notifications: Arc<dyn NotificationRepository>,
    /// Wakes the notification dispatcher.
    pub notifications_due: Arc<Notify>,
}

/// Pauses and resumes claiming. Running jobs are not affected.
#[derive(Clone)]
pub struct WorkerControl {
    paused: watch::Sender<bool>,
}

impl WorkerControl {
    pub fn new(paused: bool) -> Self {
        Self {
            paused: watch::channel(paused).0,
        }
    }
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }
}

/// Starts `concurrency` workers; they stop when `shutdown` fires, handing running jobs
/// back to the queue.
pub fn spawn_workers(
    deps: Arc<WorkerDeps>,
    concurrency: usize,
    control: &WorkerControl,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let process = uuid::Uuid::now_v7().simple().to_string();
    (0..concurrency)
        .map(|i| {
            let owner = format!("worker-{}-{i}", &process[..12]);
            tokio::spawn(worker_loop(
                owner,
                deps.clone(),
                control.paused.subscribe(),
                shutdown.clone(),
            ))
        })
        .collect()
}

async fn worker_loop(
    owner: String,
    deps: Arc<WorkerDeps>,
    mut paused: watch::Receiver<bool>,
    shutdown: CancellationToken,
) {
    let poll = Duration::from_millis(deps.settings.workers.poll_interval_ms);
    let lease = chrono::Duration::seconds(deps.settings.workers.lease_seconds as i64);
    loop {
        while *paused.borrow_and_update() {
            tokio::select! {
                _ = paused.changed() => {}
                _ = shutdown.cancelled() => return,
            }
        }
        if shutdown.is_cancelled() {
            return;
        }
        match deps
            .repo
            .claim_next(&owner, chrono::Utc::now() + lease)
            .await
        {
            Ok(Some(job)) => {
                run_guarded(&deps, job, &owner, &shutdown).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "claiming a job failed"),
        }
        tokio::select! {
            _ = deps.work_available.notified() => {}
            _ = tokio::time::sleep(poll) => {}
            _ = paused.changed() => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Runs the job in its own task so that a panic ends the job FAILED instead of
/// killing this worker and leaving the job stuck.
async fn run_guarded(
    deps: &Arc<WorkerDeps>,
    job: crate::domain::Job,
    owner: &str,
    shutdown: &CancellationToken,
) {
    let snapshot = job.clone();
    let task = tokio::spawn({
        let (deps, owner, shutdown) = (deps.clone(), owner.to_owned(), shutdown.clone());
        async move { executor::execute(&deps, job, &owner, &shutdown).await }
    });
    if let Err(e) = task.await {
        let cause = match e.try_into_panic() {
            Ok(payload) => payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into()),
            Err(e) => e.to_string(),
        };
        tracing::error!(job_id = %snapshot.id, %cause, "job task panicked");
        executor::fail_after_crash(deps, snapshot, owner, &cause).await;
    }
}
