//! The worker pool: claims queued jobs (highest priority, then oldest) on a lease,
//! heartbeats it, and runs them through their phases.
//!
//! Workers wake when a job is queued (in this process, or in another through the
//! database's notifications) and otherwise poll, which also finds expired leases and
//! backoffs that ended. On shutdown they stop claiming; running jobs get the drain grace
//! period, then are handed back to the queue.

mod attempt;
mod deadline;
mod deliver;
mod lease;
mod limits;
mod phases;
mod progress;
mod pulse;
mod running;
mod storyboards;
mod tracked;
mod written;

pub use pulse::{Wedged, WorkerPulse};
pub use running::{RunningJobs, StopReason};

use crate::config::Settings;
use crate::events::Journal;
use crate::persistence::{Claimed, NotificationRepository};
use crate::storage::Storage;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// What workers need to run jobs.
pub struct WorkerDeps {
    /// Every job write (and its event) goes through here.
    pub journal: Journal,
    pub settings: Arc<Settings>,
    pub storage: Storage,
    /// Wakes idle workers: a job was queued.
    pub work_available: Arc<Notify>,
    /// The jobs this process runs, to stop them (cancel, drain).
    pub running: Arc<RunningJobs>,
    pub notifications: Arc<dyn NotificationRepository>,
    /// Wakes the notification dispatcher.
    pub notifications_due: Arc<Notify>,
    pub metrics: Arc<crate::telemetry::metrics::Metrics>,
}

/// Pauses and resumes claiming. Running jobs are not affected.
#[derive(Clone)]
pub struct WorkerControl {
    paused: watch::Sender<bool>,
    /// The workers' beats, for readiness (a wedged worker makes the process not ready).
    pulse: WorkerPulse,
}

impl WorkerControl {
    pub fn new(paused: bool) -> Self {
        Self {
            paused: watch::channel(paused).0,
            pulse: WorkerPulse::default(),
        }
    }
    pub fn pulse(&self) -> WorkerPulse {
        self.pulse.clone()
    }
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }
}

/// Starts `concurrency` workers. They stop claiming when `shutdown` fires and return
/// when their running job has ended (finished, or handed back to the queue once the
/// drain's grace period is over: see [`RunningJobs::stop_all`]).
pub fn spawn_workers(
    deps: Arc<WorkerDeps>,
    concurrency: usize,
    control: &WorkerControl,
    shutdown: CancellationToken,
) -> Vec<JoinHandle<()>> {
    let process = uuid::Uuid::now_v7().simple().to_string();
    control.pulse.set_limit(
        Duration::from_millis(deps.settings.workers.poll_interval_ms),
        Duration::from_secs(deps.settings.workers.wedged_after_seconds),
    );
    (0..concurrency)
        .map(|i| {
            let name = format!("worker-{}-{i}", &process[20..]);
            let beat = control.pulse.register(&name);
            tokio::spawn(worker_loop(
                name,
                deps.clone(),
                control.paused.subscribe(),
                beat,
                shutdown.clone(),
            ))
        })
        .collect()
}

async fn worker_loop(
    name: String,
    deps: Arc<WorkerDeps>,
    mut paused: watch::Receiver<bool>,
    beat: Arc<pulse::Beat>,
    shutdown: CancellationToken,
) {
    // Every return is a shutdown; a loop that ends any other way (a panic) stops
    // beating while idle, and readiness calls it wedged.
    let _stopped = pulse::StopOnReturn(beat.clone());
    let poll = Duration::from_millis(deps.settings.workers.poll_interval_ms);
    let lease = Duration::from_secs(deps.settings.workers.lease_seconds);
    loop {
        while *paused.borrow_and_update() {
            beat.paused();
            tokio::select! {
                _ = paused.changed() => {}
                _ = shutdown.cancelled() => return,
            }
        }
        beat.idle();
        // Armed before the claim, so a wake-up that arrives while claiming is not lost.
        let woken = deps.work_available.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        if shutdown.is_cancelled() {
            return;
        }
        // Every claim has its own owner string: the fencing token its writes carry.
        let owner = format!("{name}/{}", uuid::Uuid::now_v7().simple());
        match deps.journal.repo().claim_next(&owner, lease).await {
            Ok(Some(claimed)) => {
                tracing::info!(job_id = %claimed.job.id, worker = %name, "claimed a job");
                beat.busy();
                run_guarded(&deps, claimed, &owner).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "claiming a job failed"),
        }
        tokio::select! {
            _ = woken => {}
            _ = tokio::time::sleep(poll) => {}
            _ = paused.changed() => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Runs the job in its own task so that a panic ends the job FAILED instead of
/// killing this worker and leaving the job stuck.
async fn run_guarded(deps: &Arc<WorkerDeps>, claimed: Claimed, owner: &str) {
    let snapshot = claimed.clone();
    let (stop, registered) = deps.running.register(claimed.job.id);
    let task = tokio::spawn({
        let (deps, owner) = (deps.clone(), owner.to_owned());
        async move { attempt::run(&deps, claimed, &owner, stop).await }
    });
    let outcome = task.await;
    drop(registered);
    if let Err(e) = outcome {
        let cause = match e.try_into_panic() {
            Ok(payload) => payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into()),
            Err(e) => e.to_string(),
        };
        tracing::error!(job_id = %snapshot.job.id, %cause, "job task panicked");
        attempt::fail_after_crash(deps, snapshot, owner, &cause).await;
    }
}
