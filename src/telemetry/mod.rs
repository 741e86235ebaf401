//! What an operator sees of the process: logs (text or JSON lines), OpenTelemetry
//! traces (OTLP over gRPC), and the spans the servers and workers open.
//!
//! [`init`] installs one `tracing` subscriber for the process:
//! * a log layer on stderr, filtered by `RUST_LOG` (or the command's default), as text or
//!   as JSON lines that carry `trace_id` and `span_id` inside a span;
//! * when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set, or the logs are
//!   JSON, an OpenTelemetry layer for the crate's own spans (see [`otel`]). Without an
//!   endpoint nothing is exported, but spans still get the ids JSON logs show.
//!
//! The returned [`Telemetry`] flushes the exporter on shutdown, within a deadline.

pub mod jobs;
pub mod logs;
pub mod metrics;
pub mod otel;
pub mod propagation;
pub mod request_span;

pub use logs::LogFormat;
pub use request_span::RequestSpanLayer;

use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How long [`Telemetry::shutdown`] waits for the last spans to leave.
pub const FLUSH_DEADLINE: Duration = Duration::from_secs(5);

/// Why telemetry could not start. Each has a stable code.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("building the OTLP span exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("installing the tracing subscriber: {0}")]
    Subscriber(#[from] tracing_subscriber::util::TryInitError),
}

impl TelemetryError {
    pub fn code(&self) -> &'static str {
        match self {
            TelemetryError::Exporter(_) => "TELEMETRY_EXPORTER",
            TelemetryError::Subscriber(_) => "TELEMETRY_SUBSCRIBER",
        }
    }
}

/// The process's telemetry; call [`Telemetry::shutdown`] before exiting so the last
/// spans are exported.
#[must_use = "shut it down on exit, or the last spans are lost"]
pub struct Telemetry {
    /// Present when spans get OpenTelemetry ids (exported or only logged).
    provider: Option<SdkTracerProvider>,
    exporting: bool,
}

impl Telemetry {
    /// Whether spans are exported (an OTLP endpoint is configured).
    pub fn exporting(&self) -> bool {
        self.exporting
    }

    /// Flushes and stops the exporter, waiting at most [`FLUSH_DEADLINE`]. The SDK's
    /// shutdown blocks (it waits for the batch thread), so it runs on the blocking pool.
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        let flush =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(FLUSH_DEADLINE));
        match tokio::time::timeout(FLUSH_DEADLINE + Duration::from_secs(1), flush).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "flushing traces failed"),
            Ok(Err(e)) => tracing::warn!(error = %e, "flushing traces failed"),
            Err(_) => tracing::warn!("flushing traces timed out"),
        }
    }
}

/// Installs the process's subscriber. `default_filter` applies when `RUST_LOG` is unset
/// or invalid. Must run inside a tokio runtime when an OTLP endpoint is set (the gRPC
/// channel spawns its connection task there).
pub fn init(format: LogFormat, default_filter: &str) -> Result<Telemetry, TelemetryError> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let exporting = otel::endpoint_configured();
    // Without an exporter and with text logs, spans need no OpenTelemetry ids at all:
    // the subscriber stays what it always was.
    let provider = (exporting || format == LogFormat::Json)
        .then(|| otel::tracer_provider(exporting))
        .transpose()?;
    let traces = provider
        .as_ref()
        .map(|provider| otel::layer(provider).with_filter(otel::span_filter()));
    tracing_subscriber::registry()
        .with(logs::layer(format).with_filter(filter))
        .with(traces)
        .try_init()?;
    Ok(Telemetry {
        provider,
        exporting,
    })
}
