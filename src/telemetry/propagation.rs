//! W3C trace context (`traceparent`, `tracestate`) in and out: from HTTP headers and gRPC
//! metadata (the same thing on the wire), and to and from the text stored with a job.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::collections::HashMap;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const TRACEPARENT: &str = "traceparent";

/// Reads propagation fields from request headers.
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// The remote parent a request names in its `traceparent` header, if a valid one.
pub fn from_headers(headers: &http::HeaderMap) -> Option<opentelemetry::Context> {
    let cx = TraceContextPropagator::new().extract(&Headers(headers));
    cx.span().span_context().is_valid().then_some(cx)
}

/// The remote parent a stored `traceparent` names, if a valid one.
pub fn from_traceparent(traceparent: &str) -> Option<opentelemetry::Context> {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    cx.span().span_context().is_valid().then_some(cx)
}

/// The current span's context as a W3C `traceparent`, to store with work another
/// process will do later. None outside a traced span (no OpenTelemetry layer, or the
/// span is filtered out).
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Makes `parent` the parent of `span`, which must not have been entered yet. Without
/// the OpenTelemetry layer this does nothing.
pub fn set_parent(span: &tracing::Span, parent: opentelemetry::Context) {
    // Errs when there is no OpenTelemetry layer or the span is disabled: then there is
    // no trace to join.
    let _ = span.set_parent(parent);
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceId};

    const PARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn a_traceparent_header_names_the_remote_parent() {
        let mut headers = http::HeaderMap::new();
        headers.insert("traceparent", PARENT.parse().unwrap());
        let cx = from_headers(&headers).expect("a valid parent");
        let span = cx.span();
        let ids = span.span_context();
        assert_eq!(
            ids.trace_id(),
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap()
        );
        assert_eq!(ids.span_id(), SpanId::from_hex("b7ad6b7169203331").unwrap());
        assert!(ids.is_remote() && ids.is_sampled());
    }

    #[test]
    fn a_missing_or_malformed_traceparent_names_no_parent() {
        assert!(from_headers(&http::HeaderMap::new()).is_none());
        assert!(from_traceparent("00-zz-b7ad6b7169203331-01").is_none());
        assert!(
            from_traceparent("00-00000000000000000000000000000000-b7ad6b7169203331-01").is_none()
        );
    }

    #[test]
    fn a_stored_traceparent_reads_back() {
        let cx = from_traceparent(PARENT).expect("a valid parent");
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
    }

    #[test]
    fn outside_a_traced_span_there_is_nothing_to_store() {
        assert_eq!(current_traceparent(), None);
    }
}
