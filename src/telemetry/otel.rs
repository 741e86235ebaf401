//! The OpenTelemetry tracer: spans leave by OTLP over gRPC (tonic), configured only by
//! the standard variables, which the SDK and the exporter read themselves:
//!
//! | variable | effect |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | where spans go; unset = nothing exported |
//! | `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` | the resource (default service name `transcoder`) |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | sampling (default `parentbased_always_on`) |
//! | `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_EXPORT_TIMEOUT`, ... | the batch processor |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_HEADERS` | each export's deadline and headers |
//! | `OTEL_SDK_DISABLED=true` | no export even with an endpoint |
//!
//! Export never runs on the async runtime: the SDK's batch processor has its own thread,
//! and a span's end only queues it (dropped when the queue is full). The gRPC channel's
//! connection task is the only part on the runtime.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Key, Value};
use opentelemetry_otlp::{ExporterBuildError, SpanExporter};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

/// The service name when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES`
/// gives one.
pub const DEFAULT_SERVICE_NAME: &str = "transcoder";

/// Whether an OTLP traces endpoint is configured (and the SDK not disabled).
pub fn endpoint_configured() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || set("OTEL_EXPORTER_OTLP_ENDPOINT"))
}

/// A tracer provider with the process's resource and sampler; with `export`, a batch
/// OTLP/gRPC exporter (must be called inside a tokio runtime).
pub fn tracer_provider(export: bool) -> Result<SdkTracerProvider, ExporterBuildError> {
    let mut builder = SdkTracerProvider::builder().with_resource(resource());
    if export {
        let exporter = SpanExporter::builder().with_tonic().build()?;
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(builder.build())
}

/// The resource the SDK detects from the environment, named `transcoder` unless the
/// environment names it.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let named = detected
        .get(&Key::from_static_str("service.name"))
        .is_some_and(|name| !is_unknown_service(&name));
    if named {
        detected
    } else {
        Resource::builder()
            .with_service_name(DEFAULT_SERVICE_NAME)
            .build()
    }
}

fn is_unknown_service(name: &Value) -> bool {
    name.as_str().starts_with("unknown_service")
}

/// The `tracing` layer that turns spans into OpenTelemetry spans of `provider`'s tracer.
pub fn layer<S>(provider: &SdkTracerProvider) -> OpenTelemetryLayer<S, SdkTracer>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("transcoder"))
        // Thread ids and source locations cost attributes on every span; the span names
        // and the job's own attributes say where the time went.
        .with_threads(false)
        .with_location(false)
}

/// Which spans become OpenTelemetry spans: the service's own, at INFO and above, whatever
/// `RUST_LOG` says about logs. The HTTP/2 and gRPC crates the exporter itself uses stay
/// out, so exporting never traces itself.
pub fn span_filter() -> Targets {
    Targets::new().with_target("transcoder", tracing::Level::INFO)
}
