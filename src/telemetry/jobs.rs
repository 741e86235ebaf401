//! The spans of a job's run: `job.attempt` for one claim of it, and a child per phase
//! (`download`, `probe`, `transcode`, `upload`, `notify`). The attempt's parent is the
//! span that submitted the job (its `traceparent` stored with the job), so one trace
//! runs from the client's SubmitJob through every worker that ran the job, on whichever
//! replica and however much later.

use super::propagation;
use crate::domain::{Job, JobState, Phase};
use crate::error::Error;
use opentelemetry::{KeyValue, Value};
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The span of one attempt at `job`, child of the submitter's span when the job carries
/// its trace context.
pub fn attempt_span(job: &Job) -> tracing::Span {
    let span = tracing::info_span!(
        "job.attempt",
        job.id = %job.id,
        job.company = job.company_id.as_str(),
        // Signed: tracing-opentelemetry turns unsigned fields into strings.
        job.outputs = job.outputs.len() as i64,
        job.attempt = i64::from(job.attempts),
        job.state = Empty,
        error.code = Empty,
        otel.status_code = Empty,
    );
    if let Some(parent) = job
        .trace_context
        .as_deref()
        .and_then(propagation::from_traceparent)
    {
        propagation::set_parent(&span, parent);
    }
    span
}

/// Records how the attempt ended on its span: the state it left the job in and, if it
/// failed, the error's code.
pub fn record_outcome(span: &tracing::Span, state: JobState, error: Option<&Error>) {
    span.record("job.state", state.as_str());
    if let Some(error) = error {
        span.record("error.code", error.code.as_str());
        // A canceled job is what its client asked for, not a fault.
        if state != JobState::Canceled {
            span.record("otel.status_code", "ERROR");
        }
    }
}

/// The span of one phase of an attempt (a child of the current span, the attempt's).
pub fn phase_span(phase: Phase) -> tracing::Span {
    // A span's name is fixed at its call site: one site per phase.
    macro_rules! phase_span {
        ($name:literal) => {
            tracing::info_span!($name, error.code = Empty, otel.status_code = Empty)
        };
    }
    match phase {
        Phase::Downloading => phase_span!("download"),
        Phase::Probing => phase_span!("probe"),
        Phase::Transcoding => phase_span!("transcode"),
        Phase::Uploading => phase_span!("upload"),
        Phase::Notifying => phase_span!("notify"),
    }
}

/// Sets what is known about a phase's work on its span (trace attributes only: bytes,
/// media seconds, realtime factor...).
pub fn set_attributes(span: &tracing::Span, attributes: impl IntoIterator<Item = KeyValue>) {
    for KeyValue { key, value, .. } in attributes {
        span.set_attribute(key, value);
    }
}

/// Records a phase's failure on its span.
pub fn record_phase_error(span: &tracing::Span, error: &Error) {
    span.record("error.code", error.code.as_str());
    if error.code != crate::error::ErrorCode::Canceled {
        span.record("otel.status_code", "ERROR");
    }
}

/// An attribute from a float, for the callers' convenience.
pub fn float(key: &'static str, value: f64) -> KeyValue {
    KeyValue::new(key, Value::F64(value))
}
