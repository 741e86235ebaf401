//! The jobs this process runs, each with the one token that stops it and why. Whoever
//! stops a job (a cancel from any replica, the drain, a lost lease, the heartbeat) goes
//! through here; the attempt's driver reads the reason to decide how the job ends.

use crate::domain::JobId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use tokio_util::sync::CancellationToken;

/// Why a running job was stopped. The first reason given wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// CancelJob: the job ends CANCELED.
    Canceled,
    /// The process is draining and the grace period is over: the job goes back to the
    /// queue, and the attempt does not count.
    Handover,
    /// Another worker holds the job now: write nothing more.
    LeaseLost,
}

/// Stops one job. Cloned into everything that may stop it or must notice.
#[derive(Clone, Default)]
pub struct JobStop {
    token: CancellationToken,
    reason: Arc<OnceLock<StopReason>>,
}

impl JobStop {
    pub fn stop(&self, reason: StopReason) {
        let _ = self.reason.set(reason);
        self.token.cancel();
    }

    pub fn reason(&self) -> Option<StopReason> {
        self.reason.get().copied()
    }

    pub fn token(&self) -> &CancellationToken {
        &self.token
    }
}

/// The registry of running jobs.
#[derive(Default)]
pub struct RunningJobs {
    jobs: Mutex<HashMap<JobId, JobStop>>,
}

impl RunningJobs {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Registers a job for as long as the returned guard lives.
    pub fn register(self: &Arc<Self>, id: JobId) -> (JobStop, Registered) {
        let stop = JobStop::default();
        self.jobs
            .lock()
            .expect("running jobs lock")
            .insert(id, stop.clone());
        let registered = Registered {
            jobs: self.clone(),
            id,
        };
        (stop, registered)
    }

    /// Stops the job if this process runs it; false otherwise.
    pub fn stop(&self, id: JobId, reason: StopReason) -> bool {
        let jobs = self.jobs.lock().expect("running jobs lock");
        match jobs.get(&id) {
            Some(stop) => {
                stop.stop(reason);
                true
            }
            None => false,
        }
    }

    /// Stops every running job (the end of a drain).
    pub fn stop_all(&self, reason: StopReason) {
        for stop in self.jobs.lock().expect("running jobs lock").values() {
            stop.stop(reason);
        }
    }

    pub fn count(&self) -> usize {
        self.jobs.lock().expect("running jobs lock").len()
    }
}

/// Removes the job from the registry when the attempt ends.
pub struct Registered {
    jobs: Arc<RunningJobs>,
    id: JobId,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.jobs.lock_remove(self.id);
    }
}

impl RunningJobs {
    fn lock_remove(&self, id: JobId) {
        self.jobs.lock().expect("running jobs lock").remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins_and_the_guard_unregisters() {
        let running = RunningJobs::new();
        let id = JobId::new();
        let (stop, registered) = running.register(id);
        assert!(running.stop(id, StopReason::Canceled));
        running.stop_all(StopReason::Handover);
        assert!(stop.token().is_cancelled());
        assert_eq!(stop.reason(), Some(StopReason::Canceled));
        drop(registered);
        assert_eq!(running.count(), 0);
        assert!(!running.stop(id, StopReason::Canceled));
    }
}
