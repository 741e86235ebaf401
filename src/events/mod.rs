//! Live fan-out of job events inside one process. Events are persisted before they are
//! published here, so the database stays the source of truth and watchers can always
//! fill a gap from it.
//!
//! Events of jobs run by another process (API and worker roles apart) reach this hub
//! through one database reader per watched job, not one per watcher: a job with 10,000
//! watchers costs one query per wake-up. On PostgreSQL the reader wakes when another
//! process notifies that the job has a new event ([`EventHub::nudge`]); the poll after a
//! quiet interval stays as the fallback (and is all SQLite has).

mod journal;

pub use journal::Journal;

use crate::domain::{JobEvent, JobId};
use crate::persistence::JobRepository;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

/// Capacity per job; a watcher further behind than this re-reads from the database.
const CHANNEL_CAPACITY: usize = 256;
/// Events read per poll.
const POLL_PAGE: u64 = 500;

struct Channel {
    sender: broadcast::Sender<JobEvent>,
    /// Highest sequence sent: each event goes out once, in order.
    last_sequence: u64,
    last_sent: Instant,
    /// Wakes the job's reader before its poll interval.
    wake: Arc<Notify>,
}

pub struct EventHub {
    channels: Mutex<HashMap<JobId, Channel>>,
    repo: Arc<dyn JobRepository>,
    /// How long a watched job may stay quiet before its poller reads the database.
    poll: Duration,
    /// Readers end with the process.
    shutdown: CancellationToken,
}

impl EventHub {
    pub fn new(
        repo: Arc<dyn JobRepository>,
        poll: Duration,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(Self {
            channels: Mutex::default(),
            repo,
            poll,
            shutdown,
        })
    }

    /// Another process stored an event of `job_id`: its reader (if it is watched here)
    /// reads it now.
    pub fn nudge(&self, job_id: JobId) {
        let channels = self.channels.lock().expect("event hub lock");
        if let Some(channel) = channels.get(&job_id) {
            channel.wake.notify_one();
        }
    }

    /// Wakes every reader (notifications may have been missed).
    pub fn nudge_all(&self) {
        let channels = self.channels.lock().expect("event hub lock");
        for channel in channels.values() {
            channel.wake.notify_one();
        }
    }

    pub fn subscribe(self: &Arc<Self>, job_id: JobId) -> broadcast::Receiver<JobEvent> {
        let mut channels = self.channels.lock().expect("event hub lock");
        if let Some(channel) = channels.get(&job_id) {
            return channel.sender.subscribe();
        }
        let (sender, receiver) = broadcast::channel(CHANNEL_CAPACITY);
        let wake = Arc::new(Notify::new());
        channels.insert(
            job_id,
            Channel {
                sender,
                last_sequence: 0,
                last_sent: Instant::now(),
                wake: wake.clone(),
            },
        );
        tokio::spawn(self.clone().poll_job(job_id, wake));
        receiver
    }

    /// Sends to current watchers, once per sequence. After a terminal event the channel
    /// is dropped: later watchers replay the end from the database.
    pub fn publish(&self, event: &JobEvent) {
        let mut channels = self.channels.lock().expect("event hub lock");
        let Some(channel) = channels.get_mut(&event.job_id) else {
            return;
        };
        if event.sequence <= channel.last_sequence {
            return;
        }
        channel.last_sequence = event.sequence;
        channel.last_sent = Instant::now();
        let _ = channel.sender.send(event.clone());
        if event.is_terminal() || channel.sender.receiver_count() == 0 {
            channels.remove(&event.job_id);
        }
    }

    /// Drops the job's channel once nobody listens, so finished watchers leave nothing.
    pub fn release_if_unused(&self, job_id: JobId) {
        let mut channels = self.channels.lock().expect("event hub lock");
        if channels
            .get(&job_id)
            .is_some_and(|channel| channel.sender.receiver_count() == 0)
        {
            channels.remove(&job_id);
        }
    }

    /// Jobs with a live channel (for tests and metrics).
    pub fn channel_count(&self) -> usize {
        self.channels.lock().expect("event hub lock").len()
    }

    /// While the job has watchers, reads events nobody published here (another process
    /// wrote them) whenever it has been quiet for a poll interval.
    async fn poll_job(self: Arc<Self>, job_id: JobId, wake: Arc<Notify>) {
        loop {
            let nudged = tokio::select! {
                _ = tokio::time::sleep(self.poll) => false,
                _ = wake.notified() => true,
                _ = self.shutdown.cancelled() => return,
            };
            let after = {
                let mut channels = self.channels.lock().expect("event hub lock");
                match channels.get(&job_id) {
                    None => return,
                    Some(channel) if channel.sender.receiver_count() == 0 => {
                        channels.remove(&job_id);
                        return;
                    }
                    Some(channel) if !nudged && channel.last_sent.elapsed() < self.poll => {
                        continue;
                    }
                    Some(channel) => channel.last_sequence,
                }
            };
            match self.repo.events_after(job_id, after, POLL_PAGE).await {
                Ok(events) => events.iter().for_each(|e| self.publish(e)),
                Err(e) => tracing::warn!(%job_id, error = %e, "polling job events failed"),
            }
        }
    }
}
