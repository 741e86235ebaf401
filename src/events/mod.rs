//! Live fan-out of job events inside one process. Events are persisted before they are
//! published here, so the database stays the source of truth and watchers can always
//! fill a gap from it.

use crate::domain::{JobEvent, JobId};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Capacity per job; a watcher further behind than this re-reads from the database.
const CHANNEL_CAPACITY: usize = 256;

#[derive(Default)]
pub struct EventHub {
    channels: Mutex<HashMap<JobId, broadcast::Sender<JobEvent>>>,
}

impl EventHub {
    pub fn subscribe(&self, job_id: JobId) -> broadcast::Receiver<JobEvent> {
        let mut channels = self.channels.lock().expect("event hub lock");
        channels
            .entry(job_id)
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe()
    }

    /// Sends to current watchers. After a terminal event the channel is dropped: later
    /// watchers replay the end from the database.
    pub fn publish(&self, event: &JobEvent) {
        let mut channels = self.channels.lock().expect("event hub lock");
        if let Some(sender) = channels.get(&event.job_id) {
            let _ = sender.send(event.clone());
            if event.is_terminal() || sender.receiver_count() == 0 {
                channels.remove(&event.job_id);
            }
        }
    }

    /// Drops the job's channel once nobody listens, so finished watchers leave nothing.
    pub fn release_if_unused(&self, job_id: JobId) {
        let mut channels = self.channels.lock().expect("event hub lock");
        if channels
            .get(&job_id)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            channels.remove(&job_id);
        }
    }

    /// Jobs with a live channel (for tests and metrics).
    pub fn channel_count(&self) -> usize {
        self.channels.lock().expect("event hub lock").len()
    }
}
