//! Prometheus metrics: one registry per [`RunningApp`](crate::app::RunningApp) (tests run
//! several apps in one process, so nothing goes to a global default registry), handed
//! around as `Arc<Metrics>` and served as text (format 0.0.4) on `GET /metrics`.
//!
//! Counters and histograms are recorded where things happen (submit, attempt end, phase
//! driver, encode, transfers, the notification dispatcher, the request layer). Gauges of
//! shared state (queue depth and age, running jobs, database pool) are read at scrape
//! time ([`MetricsSource`]).

mod layer;
mod scrape;

pub use layer::{RequestMetricsLayer, RequestMetricsService};
pub use scrape::MetricsSource;

use crate::domain::{JobState, Phase};
use crate::error::Error;
use prometheus::core::Collector;
use prometheus::{
    GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use std::time::Duration;

/// The exposition's content type (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Seconds, from a few milliseconds to an hour (phases, requests, streams).
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    1800.0, 3600.0,
];
/// Media seconds per wall second: below 1 is slower than real time.
const REALTIME_FACTOR_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];
const FPS_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 200.0, 400.0, 800.0, 1600.0,
];

/// Every metric of one app, registered in its own registry.
pub struct Metrics {
    registry: Registry,
    jobs_submitted: IntCounter,
    jobs_finished: IntCounterVec,
    phase_duration: HistogramVec,
    realtime_factor: Histogram,
    encoder_fps: Histogram,
    bytes_in: IntCounter,
    bytes_out: IntCounter,
    grpc_requests: IntCounterVec,
    grpc_duration: HistogramVec,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    notification_deliveries: IntCounterVec,
    watch_streams: IntGauge,
    // Set at scrape time (see `scrape`).
    queue_depth: IntGaugeVec,
    /// Without labels: a vector only so a failed read can leave it out.
    queue_oldest_age: GaugeVec,
    queue_read_failures: IntCounter,
    jobs_running: IntGauge,
    db_pool_connections: IntGaugeVec,
    db_pool_max: IntGauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let r = &registry;
        Self {
            jobs_submitted: counter(
                r,
                "transcoder_jobs_submitted_total",
                "Jobs queued by SubmitJob (an idempotent replay is not counted).",
            ),
            jobs_finished: counter_vec(
                r,
                "transcoder_jobs_finished_total",
                "Jobs that reached a terminal state, by state and error code (\"none\" on success).",
                &["state", "error_code"],
            ),
            phase_duration: histogram_vec(
                r,
                "transcoder_phase_duration_seconds",
                "Wall time of one job phase in one attempt, by phase and outcome (ok or error).",
                &["phase", "outcome"],
                SECONDS_BUCKETS,
            ),
            realtime_factor: histogram(
                r,
                "transcoder_transcode_realtime_factor",
                "Media seconds encoded per wall second, per job (above 1 is faster than real time).",
                REALTIME_FACTOR_BUCKETS,
            ),
            encoder_fps: histogram(
                r,
                "transcoder_encoder_fps",
                "Frames per second the slowest encoder of a job averaged over its encode.",
                FPS_BUCKETS,
            ),
            bytes_in: counter(
                r,
                "transcoder_bytes_in_total",
                "Bytes of source media taken in (downloaded, or read in place).",
            ),
            bytes_out: counter(
                r,
                "transcoder_bytes_out_total",
                "Bytes delivered to destinations (each destination counts).",
            ),
            grpc_requests: counter_vec(
                r,
                "transcoder_grpc_requests_total",
                "gRPC calls handled, by service, method and status code.",
                &["service", "method", "code"],
            ),
            grpc_duration: histogram_vec(
                r,
                "transcoder_grpc_request_duration_seconds",
                "gRPC call duration until its response ended (a stream's whole life), by service, method and status code.",
                &["service", "method", "code"],
                SECONDS_BUCKETS,
            ),
            http_requests: counter_vec(
                r,
                "transcoder_http_requests_total",
                "HTTP requests handled, by method, route and status.",
                &["method", "route", "status"],
            ),
            http_duration: histogram_vec(
                r,
                "transcoder_http_request_duration_seconds",
                "HTTP request duration until its response body ended, by method, route and status.",
                &["method", "route", "status"],
                SECONDS_BUCKETS,
            ),
            notification_deliveries: counter_vec(
                r,
                "transcoder_notification_deliveries_total",
                "Notification delivery attempts (webhook, postback, email), by channel and outcome (delivered, retrying, failed, skipped).",
                &["channel", "outcome"],
            ),
            watch_streams: gauge(
                r,
                "transcoder_watch_streams_open",
                "WatchJob streams open on this process.",
            ),
            queue_depth: gauge_vec(
                r,
                "transcoder_queue_depth",
                "Queued jobs in the database, by priority (the same on every replica: aggregate with max, not sum).",
                &["priority"],
            ),
            queue_oldest_age: float_gauge_vec(
                r,
                "transcoder_queue_oldest_age_seconds",
                "Age of the oldest queued job, from its submission (0 when the queue is empty).",
                &[],
            ),
            queue_read_failures: counter(
                r,
                "transcoder_queue_read_failures_total",
                "Scrapes whose queue query failed or passed its deadline (the queue gauges are then left out).",
            ),
            jobs_running: gauge(
                r,
                "transcoder_jobs_running",
                "Jobs this process is running now.",
            ),
            db_pool_connections: gauge_vec(
                r,
                "transcoder_db_pool_connections",
                "Database pool connections of this process, by state (idle or in_use).",
                &["state"],
            ),
            db_pool_max: gauge(
                r,
                "transcoder_db_pool_max_connections",
                "The database pool's connection cap.",
            ),
            registry,
        }
    }

    /// The registry's text exposition. Scrape-time gauges are refreshed by
    /// [`MetricsSource::render`] first.
    pub fn encode(&self) -> Result<String, Error> {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .map_err(|e| Error::internal(format!("encoding metrics: {e}")))
    }

    pub fn job_submitted(&self) {
        self.jobs_submitted.inc();
    }

    /// A job reached `state` (terminal), with its error if it has one.
    pub fn job_finished(&self, state: JobState, error: Option<&Error>) {
        let code = error.map_or("none", |e| e.code.as_str());
        self.jobs_finished
            .with_label_values(&[state.as_str(), code])
            .inc();
    }

    pub fn phase_finished(&self, phase: Phase, elapsed: Duration, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.phase_duration
            .with_label_values(&[phase_label(phase), outcome])
            .observe(elapsed.as_secs_f64());
    }

    /// An encode that finished: `media` seconds of source in `wall` time, and the
    /// slowest encoder's average frame rate when known.
    pub fn encoded(&self, media: Duration, wall: Duration, fps: Option<f64>) {
        if wall > Duration::ZERO && media > Duration::ZERO {
            self.realtime_factor
                .observe(media.as_secs_f64() / wall.as_secs_f64());
        }
        if let Some(fps) = fps.filter(|f| f.is_finite() && *f > 0.0) {
            self.encoder_fps.observe(fps);
        }
    }

    pub fn source_bytes(&self, bytes: u64) {
        self.bytes_in.inc_by(bytes);
    }

    pub fn delivered_bytes(&self, bytes: u64) {
        self.bytes_out.inc_by(bytes);
    }

    /// One delivery attempt of a notification. `channel`: webhook, postback or email;
    /// `outcome`: delivered, retrying, failed or skipped.
    pub fn notification_attempt(&self, channel: &str, outcome: &str) {
        self.notification_deliveries
            .with_label_values(&[channel, outcome])
            .inc();
    }

    /// Counts a WatchJob stream as open for as long as the guard lives.
    pub fn watch_stream_opened(&self) -> OpenStream {
        self.watch_streams.inc();
        OpenStream(self.watch_streams.clone())
    }

    pub(crate) fn grpc_request(&self, labels: [&str; 3], elapsed: Duration) {
        self.grpc_requests.with_label_values(&labels).inc();
        self.grpc_duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    pub(crate) fn http_request(&self, labels: [&str; 3], elapsed: Duration) {
        self.http_requests.with_label_values(&labels).inc();
        self.http_duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }
}

/// Decrements the open WatchJob streams gauge when dropped.
pub struct OpenStream(IntGauge);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::Downloading => "download",
        Phase::Probing => "probe",
        Phase::Transcoding => "transcode",
        Phase::Uploading => "upload",
        Phase::Notifying => "notify",
    }
}

// Names and label sets are constants, each registered once in a fresh registry: a
// failure here is a programming error, caught by any test that starts an app.
fn register<T: Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are valid and unique");
    metric
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    register(r, IntCounter::new(name, help).expect("valid counter"))
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(
        r,
        IntCounterVec::new(Opts::new(name, help), labels).expect("valid counter"),
    )
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    register(r, IntGauge::new(name, help).expect("valid gauge"))
}

fn float_gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    register(
        r,
        GaugeVec::new(Opts::new(name, help), labels).expect("valid gauge"),
    )
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(
        r,
        IntGaugeVec::new(Opts::new(name, help), labels).expect("valid gauge"),
    )
}

fn histogram(r: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    register(r, Histogram::with_opts(opts).expect("valid histogram"))
}

fn histogram_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    register(r, HistogramVec::new(opts, labels).expect("valid histogram"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn recorded_values_appear_in_the_exposition() {
        let metrics = Metrics::new();
        metrics.job_submitted();
        metrics.job_finished(JobState::Succeeded, None);
        let failed = Error::new(ErrorCode::InvalidArgument, "bad");
        metrics.job_finished(JobState::Failed, Some(&failed));
        metrics.phase_finished(Phase::Transcoding, Duration::from_millis(1500), true);
        metrics.encoded(Duration::from_secs(10), Duration::from_secs(5), Some(60.0));
        let text = metrics.encode().unwrap();
        assert!(
            text.contains("transcoder_jobs_submitted_total 1\n"),
            "{text}"
        );
        assert!(text.contains(
            "transcoder_jobs_finished_total{error_code=\"none\",state=\"SUCCEEDED\"} 1\n"
        ));
        assert!(text.contains(
            "transcoder_jobs_finished_total{error_code=\"INVALID_ARGUMENT\",state=\"FAILED\"} 1\n"
        ));
        assert!(text.contains(
            "transcoder_phase_duration_seconds_bucket{outcome=\"ok\",phase=\"transcode\",le=\"2.5\"} 1\n"
        ));
        assert!(text.contains(
            "transcoder_phase_duration_seconds_bucket{outcome=\"ok\",phase=\"transcode\",le=\"1\"} 0\n"
        ));
        assert!(
            text.contains("transcoder_transcode_realtime_factor_sum 2\n"),
            "{text}"
        );
    }

    #[test]
    fn the_open_streams_gauge_follows_its_guards() {
        let metrics = Metrics::new();
        let first = metrics.watch_stream_opened();
        let second = metrics.watch_stream_opened();
        assert_eq!(metrics.watch_streams.get(), 2);
        drop(first);
        assert_eq!(metrics.watch_streams.get(), 1);
        drop(second);
        assert_eq!(metrics.watch_streams.get(), 0);
    }

    #[test]
    fn each_app_has_its_own_registry() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.job_submitted();
        assert_eq!(a.jobs_submitted.get(), 1);
        assert_eq!(b.jobs_submitted.get(), 0);
    }
}
