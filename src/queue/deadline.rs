//! The job's wall-clock deadline around its work after the probe. Past it, the work's
//! cancellation token fires first, so a running pipeline stops through its own path
//! (set to `Null` off the runtime); whatever has not returned within a short grace is
//! dropped.

use crate::error::Error;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long stopped work may take to return before it is dropped.
const GRACE: Duration = Duration::from_secs(5);

/// Runs `work` (given a child of `cancel`) until `deadline`; `None` means no deadline.
/// Past it, the result is `passed`, whatever the work returned while stopping.
pub async fn within<T, Fut>(
    deadline: Option<Instant>,
    cancel: &CancellationToken,
    passed: impl FnOnce() -> Error,
    work: impl FnOnce(CancellationToken) -> Fut,
) -> Result<T, Error>
where
    Fut: Future<Output = Result<T, Error>>,
{
    let token = cancel.child_token();
    let work = work(token.clone());
    let Some(deadline) = deadline else {
        return work.await;
    };
    tokio::pin!(work);
    tokio::select! {
        done = &mut work => return done,
        _ = tokio::time::sleep_until(deadline) => {}
    }
    token.cancel();
    let _ = tokio::time::timeout(GRACE, work).await;
    Err(passed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn late() -> Error {
        Error::new(ErrorCode::Timeout, "late").retryable(false)
    }

    #[tokio::test]
    async fn work_past_the_deadline_is_stopped_and_fails() {
        let cancel = CancellationToken::new();
        let deadline = Some(Instant::now() + Duration::from_millis(50));
        let saw_cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = saw_cancel.clone();
        let result: Result<(), Error> = within(deadline, &cancel, late, |token| async move {
            token.cancelled().await;
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        })
        .await;
        assert_eq!(result.unwrap_err().message, "late");
        assert!(saw_cancel.load(std::sync::atomic::Ordering::SeqCst));
        assert!(!cancel.is_cancelled(), "only the job's own token fires");
    }

    #[tokio::test]
    async fn work_in_time_keeps_its_result() {
        let cancel = CancellationToken::new();
        let deadline = Some(Instant::now() + Duration::from_secs(30));
        let result = within(deadline, &cancel, late, |_| async { Ok(7) }).await;
        assert_eq!(result.unwrap(), 7);
        let unbounded = within(None, &cancel, late, |_| async { Ok(8) }).await;
        assert_eq!(unbounded.unwrap(), 8);
    }
}
