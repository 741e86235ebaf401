//! The pace a download must keep: a total deadline, and a minimum rate averaged over
//! each window, so that an origin trickling a few bytes a second (which no read timeout
//! notices) cannot hold a worker for hours. Both end the download with a retryable
//! TIMEOUT: the origin, not the file, is at fault.

use crate::config::Limits;
use crate::error::{Error, ErrorCode};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Pace {
    origin: String,
    deadline: Instant,
    total: Duration,
    min_rate: u64,
    window: Duration,
    /// Where the current window started: when, and how many bytes had arrived.
    mark: (Instant, u64),
    received: u64,
    /// The rate applies once the answer's body starts.
    in_body: bool,
}

impl Pace {
    /// Starts the clock for downloading `origin` under `limits`.
    pub fn start(origin: &str, limits: &Limits) -> Self {
        Self::new(
            origin,
            Duration::from_secs(limits.origin_deadline_seconds),
            limits.origin_min_bytes_per_second,
            Duration::from_secs(limits.origin_rate_window_seconds.max(1)),
        )
    }

    fn new(origin: &str, total: Duration, min_rate: u64, window: Duration) -> Self {
        let now = Instant::now();
        // A deadline too far to represent is none: a year is as good.
        let year = Duration::from_secs(365 * 86400);
        Self {
            origin: origin.to_owned(),
            deadline: now.checked_add(total).unwrap_or(now + year),
            total,
            min_rate,
            window,
            mark: (now, 0),
            received: 0,
            in_body: false,
        }
    }

    fn too_slow(&self, message: String) -> Error {
        Error::new(
            ErrorCode::Timeout,
            format!("origin {}: {message}", self.origin),
        )
        .retryable(true)
    }

    fn past_deadline(&self) -> Error {
        self.too_slow(format!(
            "the download did not finish within limits.origin_deadline_seconds = {}",
            self.total.as_secs()
        ))
    }

    /// Awaits `next` (an answer, the next chunk) within the deadline, checking the rate
    /// at the end of every window once the body has started.
    pub async fn wait<T>(&mut self, next: impl Future<Output = T>) -> Result<T, Error> {
        tokio::pin!(next);
        loop {
            let check_at = if self.in_body {
                (self.mark.0 + self.window).min(self.deadline)
            } else {
                self.deadline
            };
            tokio::select! {
                value = &mut next => return Ok(value),
                _ = tokio::time::sleep_until(check_at) => self.check(Instant::now())?,
            }
        }
    }

    /// The answer's headers arrived: from now on its body must keep the rate.
    pub fn body_started(&mut self) {
        self.in_body = true;
        self.mark = (Instant::now(), self.received);
    }

    /// Counts bytes that arrived, and checks the pace.
    pub fn received(&mut self, bytes: u64) -> Result<(), Error> {
        self.received += bytes;
        self.check(Instant::now())
    }

    fn check(&mut self, now: Instant) -> Result<(), Error> {
        if now >= self.deadline {
            return Err(self.past_deadline());
        }
        let elapsed = now.saturating_duration_since(self.mark.0);
        if !self.in_body || elapsed < self.window {
            return Ok(());
        }
        let moved = self.received - self.mark.1;
        let rate = moved as f64 / elapsed.as_secs_f64();
        if rate < self.min_rate as f64 {
            return Err(self.too_slow(format!(
                "sent {moved} bytes in {:.1} s ({rate:.0} bytes/s), below \
                 limits.origin_min_bytes_per_second = {}",
                elapsed.as_secs_f64(),
                self.min_rate
            )));
        }
        self.mark = (now, self.received);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "http://o/a.mp4";

    #[tokio::test]
    async fn a_trickle_is_cut_at_the_end_of_a_window() {
        let window = Duration::from_millis(300);
        let mut pace = Pace::new(ORIGIN, Duration::from_secs(60), 1000, window);
        pace.body_started();
        let started = Instant::now();
        let error = loop {
            let tick = pace
                .wait(tokio::time::sleep(Duration::from_millis(50)))
                .await;
            if let Err(e) = tick.and_then(|()| pace.received(2)) {
                break e;
            }
        };
        assert!(started.elapsed() < window * 3, "{:?}", started.elapsed());
        assert_eq!(error.code, ErrorCode::Timeout);
        assert!(error.retryable);
        assert!(
            error
                .message
                .contains("limits.origin_min_bytes_per_second = 1000"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn silence_after_the_headers_is_too_slow_and_the_deadline_is_total() {
        let window = Duration::from_millis(100);
        let mut pace = Pace::new(ORIGIN, Duration::from_secs(60), 1, window);
        pace.body_started();
        let silent = pace.wait(std::future::pending::<()>()).await.unwrap_err();
        assert!(silent.message.contains("sent 0 bytes"), "{silent}");

        let mut pace = Pace::new(ORIGIN, Duration::from_millis(200), 1, window);
        let waiting = pace.wait(std::future::pending::<()>()).await.unwrap_err();
        assert!(
            waiting.message.contains("limits.origin_deadline_seconds"),
            "{waiting}"
        );
    }

    #[tokio::test]
    async fn a_steady_download_keeps_the_pace() {
        let window = Duration::from_millis(100);
        let mut pace = Pace::new(ORIGIN, Duration::from_secs(60), 1000, window);
        pace.body_started();
        for _ in 0..20 {
            let chunk = pace.wait(async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                200
            });
            let bytes = chunk.await.unwrap();
            pace.received(bytes).unwrap();
        }
    }
}
