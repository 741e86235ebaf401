//! WatchJob: replay persisted events after a sequence, then tail live ones, then end
//! after the terminal event.

use super::Service;
use crate::domain::{JobEvent, JobId};
use crate::error::Result;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

/// Events in sequence order; an `Err` item ends the stream.
pub type EventStream = ReceiverStream<Result<JobEvent>>;

/// Events read from the database per query while catching up.
const REPLAY_PAGE: u64 = 500;
/// The hub polls the database for watched jobs; a watcher re-reads it itself only after
/// a gap, a lag, or this long without a live event (a safety net, not the normal path).
const SAFETY_REREAD: std::time::Duration = std::time::Duration::from_secs(15);

impl Service {
    pub async fn watch_job(
        &self,
        company_id: &str,
        job_id: &str,
        after_sequence: u64,
    ) -> Result<EventStream> {
        let job = self.get_job(company_id, job_id).await?;
        // Subscribe before the first read so nothing published in between is missed.
        let live = self.inner.hub.subscribe(job.id);
        let (tx, rx) = mpsc::channel(64);
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let outcome = pump(&inner, job.id, after_sequence, Some(live), &tx).await;
            inner.hub.release_if_unused(job.id);
            if let Err(e) = outcome {
                let _ = tx.send(Err(e)).await;
            }
        });
        Ok(ReceiverStream::new(rx))
    }
}

enum Sent {
    More,
    Done,
}

/// Sends `event` if it is the next one; `None` when the watcher is gone.
async fn forward(
    event: JobEvent,
    last: &mut u64,
    tx: &mpsc::Sender<Result<JobEvent>>,
) -> Option<Sent> {
    let terminal = event.is_terminal();
    *last = event.sequence;
    tx.send(Ok(event)).await.ok()?;
    Some(if terminal { Sent::Done } else { Sent::More })
}

async fn pump(
    inner: &Arc<super::Inner>,
    job_id: JobId,
    after: u64,
    mut live: Option<broadcast::Receiver<JobEvent>>,
    tx: &mpsc::Sender<Result<JobEvent>>,
) -> Result<()> {
    let mut last = after;
    loop {
        // Catch up from the database.
        loop {
            let page = inner.repo.events_after(job_id, last, REPLAY_PAGE).await?;
            let full = page.len() as u64 == REPLAY_PAGE;
            for event in page {
                match forward(event, &mut last, tx).await {
                    None | Some(Sent::Done) => return Ok(()),
                    Some(Sent::More) => {}
                }
            }
            if !full {
                break;
            }
        }
        // Tail live events until a gap, a lag, or a quiet spell sends us back to the database.
        loop {
            let Some(receiver) = live.as_mut() else {
                // No live channel left: poll the database.
                tokio::select! {
                    _ = tokio::time::sleep(inner.watch_poll) => {}
                    _ = tx.closed() => return Ok(()),
                }
                break;
            };
            let received = tokio::select! {
                received = tokio::time::timeout(SAFETY_REREAD, receiver.recv()) => received,
                _ = tx.closed() => return Ok(()),
            };
            match received {
                Ok(Ok(event)) if event.sequence <= last => continue,
                Ok(Ok(event)) if event.sequence == last + 1 => {
                    match forward(event, &mut last, tx).await {
                        None | Some(Sent::Done) => return Ok(()),
                        Some(Sent::More) => {}
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
