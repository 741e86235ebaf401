//! Worker pulse: how readiness tells a wedged worker from an idle one.
//!
//! Every worker loop "beats" each time it goes round: before it claims, and at least
//! once per poll interval while it waits for work. A worker running a job is busy and
//! not judged here (the job has its own watchdogs: stall timeout, job deadline, lease);
//! a paused worker is not judged either. An idle worker whose last beat is older than
//! [`WorkerPulse::stale_after`] is wedged: stuck in a claim that never returns, a task
//! that blocks the runtime, or a loop that ended without shutdown (a panic). Readiness
//! then says which workers and since when.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A worker is wedged after this many poll intervals without a beat...
pub const STALE_AFTER_POLLS: u32 = 10;
/// ...and never sooner than this (a claim may wait this long on a busy pool).
pub const STALE_FLOOR: Duration = Duration::from_secs(30);

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const PAUSED: u8 = 2;
const STOPPED: u8 = 3;

/// The beats of this process's workers; cheap to clone.
#[derive(Clone)]
pub struct WorkerPulse {
    inner: Arc<Inner>,
}

struct Inner {
    origin: Instant,
    stale_after: Mutex<Duration>,
    beats: Mutex<Vec<Arc<Beat>>>,
}

/// One worker's side of the pulse.
pub struct Beat {
    name: String,
    origin: Instant,
    /// Milliseconds since `origin` at the last beat.
    last_ms: AtomicU64,
    state: AtomicU8,
}

/// A worker that has not beaten for too long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wedged {
    pub worker: String,
    pub silent_for: Duration,
}

impl Default for WorkerPulse {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                origin: Instant::now(),
                stale_after: Mutex::new(STALE_FLOOR),
                beats: Mutex::new(Vec::new()),
            }),
        }
    }
}

impl WorkerPulse {
    /// Sets the silence after which an idle worker counts as wedged: `configured` if not
    /// zero (`workers.wedged_after_seconds`), else [`STALE_AFTER_POLLS`] poll intervals,
    /// at least [`STALE_FLOOR`].
    pub fn set_limit(&self, poll: Duration, configured: Duration) {
        let limit = if configured.is_zero() {
            (poll * STALE_AFTER_POLLS).max(STALE_FLOOR)
        } else {
            configured
        };
        *self.inner.stale_after.lock().unwrap() = limit;
    }

    pub fn stale_after(&self) -> Duration {
        *self.inner.stale_after.lock().unwrap()
    }

    /// Registers a worker; its beat starts now, idle.
    pub fn register(&self, name: &str) -> Arc<Beat> {
        let beat = Arc::new(Beat {
            name: name.to_owned(),
            origin: self.inner.origin,
            last_ms: AtomicU64::new(0),
            state: AtomicU8::new(IDLE),
        });
        beat.idle();
        self.inner.beats.lock().unwrap().push(beat.clone());
        beat
    }

    /// The idle workers silent for longer than [`Self::stale_after`] at `now`.
    pub fn wedged_at(&self, now: Instant) -> Vec<Wedged> {
        let limit = self.stale_after();
        let now_ms = now.saturating_duration_since(self.inner.origin).as_millis() as u64;
        self.inner
            .beats
            .lock()
            .unwrap()
            .iter()
            .filter(|beat| beat.state.load(Ordering::Acquire) == IDLE)
            .filter_map(|beat| {
                let silent_for = Duration::from_millis(
                    now_ms.saturating_sub(beat.last_ms.load(Ordering::Acquire)),
                );
                (silent_for > limit).then(|| Wedged {
                    worker: beat.name.clone(),
                    silent_for,
                })
            })
            .collect()
    }

    pub fn wedged(&self) -> Vec<Wedged> {
        self.wedged_at(Instant::now())
    }
}

impl Beat {
    fn mark(&self, state: u8) {
        let ms = self.origin.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Release);
        self.state.store(state, Ordering::Release);
    }

    /// Going round the loop: about to claim, or done waiting.
    pub fn idle(&self) {
        self.mark(IDLE);
    }

    /// Running a claimed job.
    pub fn busy(&self) {
        self.mark(BUSY);
    }

    /// Claiming is paused: waiting on the operator, not wedged.
    pub fn paused(&self) {
        self.mark(PAUSED);
    }

    /// The loop ended on shutdown.
    pub fn stopped(&self) {
        self.mark(STOPPED);
    }
}

/// Marks the worker stopped when its loop returns; not when it unwinds from a panic, so
/// that a dead worker shows as wedged.
pub struct StopOnReturn(pub Arc<Beat>);

impl Drop for StopOnReturn {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.0.stopped();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_worker_silent_past_the_limit_is_wedged_a_busy_or_paused_one_is_not() {
        let pulse = WorkerPulse::default();
        pulse.set_limit(Duration::from_secs(5), Duration::ZERO);
        assert_eq!(pulse.stale_after(), Duration::from_secs(50));
        pulse.set_limit(Duration::from_secs(1), Duration::from_secs(3));
        assert_eq!(pulse.stale_after(), Duration::from_secs(3), "as configured");
        pulse.set_limit(Duration::from_millis(200), Duration::ZERO);
        assert_eq!(pulse.stale_after(), STALE_FLOOR, "never below the floor");

        let idle = pulse.register("w-0");
        let busy = pulse.register("w-1");
        let paused = pulse.register("w-2");
        let stopped = pulse.register("w-3");
        busy.busy();
        paused.paused();
        stopped.stopped();
        let now = Instant::now();
        assert!(pulse.wedged_at(now).is_empty(), "all just beat");

        let later = now + STALE_FLOOR + Duration::from_secs(5);
        let wedged = pulse.wedged_at(later);
        assert_eq!(wedged.len(), 1, "{wedged:?}");
        assert_eq!(wedged[0].worker, "w-0");
        assert!(wedged[0].silent_for > STALE_FLOOR, "{wedged:?}");

        // Going idle again is a beat: the busy worker is judged from its new beat on.
        busy.idle();
        let wedged = pulse.wedged_at(Instant::now() + Duration::from_secs(1));
        assert!(wedged.is_empty(), "{wedged:?}");
        idle.idle();
        assert!(pulse.wedged().is_empty());
    }
}
