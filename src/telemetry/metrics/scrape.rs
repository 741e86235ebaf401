//! `/metrics` at scrape time: the gauges of shared state are read now (the queue from
//! the database within a deadline; running jobs and the pool from memory), then the
//! whole registry is encoded.

use super::Metrics;
use crate::domain::order::Priority;
use crate::error::Error;
use crate::persistence::{JobRepository, QueueStats};
use crate::queue::RunningJobs;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// How long a scrape waits for the queue query. Prometheus's default scrape timeout is
/// 10 s; a database that cannot count its queue in 2 s has the queue gauges left out
/// (and `transcoder_queue_read_failures_total` counts it) rather than failing the scrape.
const QUEUE_READ_DEADLINE: Duration = Duration::from_secs(2);

/// Everything `/metrics` reads. Cheap to clone.
#[derive(Clone)]
pub struct MetricsSource {
    metrics: Arc<Metrics>,
    jobs: Arc<dyn JobRepository>,
    running: Arc<RunningJobs>,
    /// One scrape at a time, so one scrape's reset is never encoded by another.
    scraping: Arc<Mutex<()>>,
}

impl MetricsSource {
    pub fn new(
        metrics: Arc<Metrics>,
        jobs: Arc<dyn JobRepository>,
        running: Arc<RunningJobs>,
    ) -> Self {
        Self {
            metrics,
            jobs,
            running,
            scraping: Arc::default(),
        }
    }

    /// The exposition, with the scrape-time gauges read now.
    pub async fn render(&self) -> Result<String, Error> {
        let _one_at_a_time = self.scraping.lock().await;
        let m = &self.metrics;
        match tokio::time::timeout(QUEUE_READ_DEADLINE, self.jobs.queue_stats()).await {
            Ok(Ok(stats)) => set_queue(m, &stats, Utc::now()),
            failed => {
                match failed {
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "reading the queue for metrics failed")
                    }
                    _ => {
                        tracing::warn!(deadline = ?QUEUE_READ_DEADLINE, "reading the queue for metrics timed out")
                    }
                }
                m.queue_read_failures.inc();
                m.queue_depth.reset();
                m.queue_oldest_age.reset();
            }
        }
        m.jobs_running.set(self.running.count() as i64);
        let pool = self.jobs.pool_stats();
        let in_use = pool.size.saturating_sub(pool.idle);
        let connections = &m.db_pool_connections;
        connections
            .with_label_values(&["idle"])
            .set(pool.idle.into());
        connections
            .with_label_values(&["in_use"])
            .set(in_use.into());
        m.db_pool_max.set(pool.max.into());
        m.encode()
    }
}

/// Every priority a job can have is exported (0 when none is queued), so the series
/// stay continuous; a priority outside the range (none today) is exported too.
fn set_queue(m: &Metrics, stats: &QueueStats, now: DateTime<Utc>) {
    m.queue_depth.reset();
    for priority in Priority::MIN..=Priority::MAX {
        m.queue_depth
            .with_label_values(&[priority.to_string()])
            .set(0);
    }
    for queued in &stats.by_priority {
        m.queue_depth
            .with_label_values(&[queued.priority.to_string()])
            .set(queued.jobs.min(i64::MAX as u64) as i64);
    }
    let age = stats.oldest_created_at().map_or(0.0, |oldest| {
        (now - oldest).num_milliseconds().max(0) as f64 / 1000.0
    });
    m.queue_oldest_age.with_label_values::<&str>(&[]).set(age);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persistence::QueuedAtPriority;

    #[test]
    fn queue_gauges_cover_every_priority_and_the_oldest_job() {
        let metrics = Metrics::new();
        let now = Utc::now();
        let stats = QueueStats {
            by_priority: vec![
                QueuedAtPriority {
                    priority: 5,
                    jobs: 3,
                    oldest_created_at: Some(now - chrono::Duration::seconds(90)),
                },
                QueuedAtPriority {
                    priority: 8,
                    jobs: 1,
                    oldest_created_at: Some(now - chrono::Duration::seconds(30)),
                },
            ],
        };
        set_queue(&metrics, &stats, now);
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("transcoder_queue_depth{priority=\"5\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("transcoder_queue_depth{priority=\"8\"} 1\n"));
        assert!(text.contains("transcoder_queue_depth{priority=\"10\"} 0\n"));
        assert!(text.contains("transcoder_queue_oldest_age_seconds 90\n"));
        set_queue(&metrics, &QueueStats::default(), now);
        let text = metrics.encode().unwrap();
        assert!(text.contains("transcoder_queue_depth{priority=\"5\"} 0\n"));
        assert!(text.contains("transcoder_queue_oldest_age_seconds 0\n"));
    }
}
