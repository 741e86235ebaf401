//! Cross-process wake-ups on PostgreSQL (LISTEN/NOTIFY). Writers notify inside their
//! transaction, so a notification arrives only once what it announces is committed:
//! * `transcoder_work`: a job became claimable (idle workers claim at once);
//! * `transcoder_events`: a job has a new event (payload: the job id), for WatchJob
//!   streams on other replicas;
//! * `transcoder_cancel`: CancelJob on a running job (payload: the job id), for the
//!   worker that runs it.
//!
//! Notifications are an accelerator, not the source of truth: they are lost while the
//! listening connection is down, so after every reconnect everything is nudged once, and
//! workers and event pollers keep their slower polls as the fallback.

use crate::domain::JobId;
use sea_orm::sqlx::postgres::PgListener;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const WORK_CHANNEL: &str = "transcoder_work";
pub const EVENTS_CHANNEL: &str = "transcoder_events";
pub const CANCEL_CHANNEL: &str = "transcoder_cancel";

/// What another process (or this one) announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Work,
    Events(JobId),
    Cancel(JobId),
    /// The listening connection was (re)established: anything may have been missed.
    Reconnected,
}

/// How long a (re)connect may take, and the pause between failed ones.
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Listens on every channel while `shutdown` has not fired, handing each notification
/// to `deliver`. None for databases other than PostgreSQL.
pub fn spawn_listener(
    database_url: &str,
    deliver: impl Fn(Signal) + Send + Sync + 'static,
    shutdown: CancellationToken,
) -> Option<JoinHandle<()>> {
    if !database_url.starts_with("postgres") {
        return None;
    }
    let url = database_url.to_owned();
    Some(tokio::spawn(async move {
        while !shutdown.is_cancelled() {
            tokio::select! {
                _ = listen(&url, &deliver) => {}
                _ = shutdown.cancelled() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY_PAUSE) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }))
}

/// One connection's life: connect, subscribe, deliver until it breaks.
async fn listen(url: &str, deliver: &(impl Fn(Signal) + Send + Sync)) {
    let connected = tokio::time::timeout(CONNECT_DEADLINE, async {
        let mut listener = PgListener::connect(url).await?;
        listener
            .listen_all([WORK_CHANNEL, EVENTS_CHANNEL, CANCEL_CHANNEL])
            .await?;
        Ok::<_, sea_orm::sqlx::Error>(listener)
    })
    .await;
    let mut listener = match connected {
        Ok(Ok(listener)) => listener,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "LISTEN connection failed; polling meanwhile");
            return;
        }
        Err(_) => {
            tracing::warn!("LISTEN connection timed out; polling meanwhile");
            return;
        }
    };
    deliver(Signal::Reconnected);
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                if let Some(signal) = parse(notification.channel(), notification.payload()) {
                    deliver(signal);
                }
            }
            // The connection dropped; a new one is made (and everything nudged).
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "LISTEN connection failed; reconnecting");
                return;
            }
        }
    }
}

fn parse(channel: &str, payload: &str) -> Option<Signal> {
    let job = || JobId::parse(payload).ok();
    match channel {
        WORK_CHANNEL => Some(Signal::Work),
        EVENTS_CHANNEL => job().map(Signal::Events),
        CANCEL_CHANNEL => job().map(Signal::Cancel),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_their_job() {
        let id = JobId::new();
        assert_eq!(parse(WORK_CHANNEL, ""), Some(Signal::Work));
        assert_eq!(
            parse(EVENTS_CHANNEL, &id.to_string()),
            Some(Signal::Events(id))
        );
        assert_eq!(
            parse(CANCEL_CHANNEL, &id.to_string()),
            Some(Signal::Cancel(id))
        );
        assert_eq!(parse(CANCEL_CHANNEL, "not-a-job"), None);
        assert_eq!(parse("other", ""), None);
    }
}
