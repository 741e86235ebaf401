//! WatchJob: replay persisted events after a sequence, then tail live ones, then end
//! after the terminal event.
//!
//! The stream is polled by the transport's own task for the watcher: no task and no
//! channel of its own between the hub and the wire. (A relay task per watcher cost an
//! extra wake-up and a channel hop per event per watcher, which is what 10,000 watchers
//! of one job multiply.)

use super::{Inner, Service};
use crate::domain::{Caller, JobEvent, JobId};
use crate::error::Result;
use futures::Stream;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Events in sequence order; an `Err` item ends the stream.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<JobEvent>> + Send>>;

/// Events read from the database per query while catching up.
const REPLAY_PAGE: u64 = 500;
/// The hub polls the database for watched jobs; a watcher re-reads it itself only after
/// a gap, a lag, or this long without a live event (a safety net, not the normal path).
const SAFETY_REREAD: std::time::Duration = std::time::Duration::from_secs(15);

impl Service {
    pub async fn watch_job(
        &self,
        caller: &Caller,
        job_id: &str,
        after_sequence: u64,
    ) -> Result<EventStream> {
        let job = self.get_job(caller, job_id).await?;
        // Subscribe before the first read so nothing published in between is missed.
        let live = self.inner.hub.subscribe(job.id);
        Ok(Box::pin(events(
            self.inner.clone(),
            job.id,
            after_sequence,
            live,
        )))
    }
}

/// Gives the job's hub channel up when the watcher's stream ends or is dropped.
struct Release {
    inner: Arc<Inner>,
    job_id: JobId,
}

impl Drop for Release {
    fn drop(&mut self) {
        self.inner.hub.release_if_unused(self.job_id);
    }
}

fn events(
    inner: Arc<Inner>,
    job_id: JobId,
    after: u64,
    live: broadcast::Receiver<JobEvent>,
) -> impl Stream<Item = Result<JobEvent>> + Send {
    async_stream::stream! {
        // Declared before the receiver, so dropped after it: the hub then sees no
        // receiver left.
        let _release = Release { inner: inner.clone(), job_id };
        let _open = inner.metrics.watch_stream_opened();
        let mut live = Some(live);
        let mut last = after;
        loop {
            if inner.shutdown.is_cancelled() {
                yield Err(draining(last));
                return;
            }
            // Catch up from the database.
            loop {
                let page = match inner.repo.events_after(job_id, last, REPLAY_PAGE).await {
                    Ok(page) => page,
                    Err(e) => {
                        yield Err(e);
                        return;
                    }
                };
                let full = page.len() as u64 == REPLAY_PAGE;
                for event in page {
                    last = event.sequence;
                    let terminal = event.is_terminal();
                    yield Ok(event);
                    if terminal {
                        return;
                    }
                }
                if !full {
                    break;
                }
            }
            // Tail live events until a gap, a lag, or a quiet spell sends us back to the
            // database.
            loop {
                let Some(receiver) = live.as_mut() else {
                    // No live channel left: poll the database.
                    tokio::select! {
                        _ = tokio::time::sleep(inner.watch_poll) => {}
                        _ = inner.shutdown.cancelled() => {}
                    }
                    break;
                };
                let next = tokio::select! {
                    next = tokio::time::timeout(SAFETY_REREAD, receiver.recv()) => next,
                    _ = inner.shutdown.cancelled() => break,
                };
                match next {
                    Ok(Ok(event)) if event.sequence <= last => continue,
                    Ok(Ok(event)) if event.sequence == last + 1 => {
                        last = event.sequence;
                        let terminal = event.is_terminal();
                        yield Ok(event);
                        if terminal {
                            return;
                        }
                    }
                    Ok(Ok(_gap)) => break,
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => break,
                    Ok(Err(broadcast::error::RecvError::Closed)) => {
                        // The terminal event was published and the channel dropped: the
                        // database has the rest.
                        live = None;
                        break;
                    }
                    Err(_quiet) => break,
                }
            }
        }
    }
}

/// The status a watcher gets when the server drains: where to resume, on another replica
/// or after the restart.
fn draining(last: u64) -> crate::error::Error {
    crate::error::Error::unavailable(format!(
        "the server is shutting down; watch again with after_sequence = {last}"
    ))
}
