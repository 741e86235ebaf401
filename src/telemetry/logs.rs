//! Log lines on stderr: human text (the default) or one JSON object per line.
//!
//! A JSON line written inside a span carries `trace_id` and `span_id`: the ids of the
//! innermost entered OpenTelemetry span, in the same lowercase hex the exporter sends,
//! so a log line leads to its trace and back. Lines outside any span have neither.

use opentelemetry::trace::TraceContextExt;
use std::fmt::Write as _;
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::fmt::format::{Format, Json, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line, with `trace_id` and `span_id` inside spans.
    Json,
}

/// The log layer for `format`, writing to stderr.
pub fn layer<S>(format: LogFormat) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .fmt_fields(JsonFields::new())
            .event_format(JsonWithTraceIds::default())
            .boxed(),
    }
}

/// tracing-subscriber's JSON line, plus the current OpenTelemetry span's ids.
pub struct JsonWithTraceIds {
    inner: Format<Json>,
}

impl Default for JsonWithTraceIds {
    fn default() -> Self {
        Self {
            inner: tracing_subscriber::fmt::format().json(),
        }
    }
}

impl<S, N> FormatEvent<S, N> for JsonWithTraceIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::with_capacity(256);
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match current_ids() {
            Some(ids) => writer.write_str(&with_ids(&line, &ids)),
            None => writer.write_str(&line),
        }
    }
}

/// `trace_id` and `span_id` of the OpenTelemetry span entered on this thread, if any.
/// (The OpenTelemetry layer attaches a span's context while the span is entered; reading
/// it here needs no subscriber call, which a formatter must not make.)
fn current_ids() -> Option<(String, String)> {
    let cx = opentelemetry::Context::current();
    let span = cx.span();
    let ids = span.span_context();
    ids.is_valid()
        .then(|| (ids.trace_id().to_string(), ids.span_id().to_string()))
}

/// `line` (one JSON object and a newline) with the two ids added as its last fields.
fn with_ids(line: &str, (trace_id, span_id): &(String, String)) -> String {
    let body = line.trim_end();
    let Some(open) = body.strip_suffix('}') else {
        return line.to_owned();
    };
    let mut out = String::with_capacity(line.len() + 80);
    out.push_str(open);
    // An empty object has no field to follow.
    if !open.ends_with('{') {
        out.push(',');
    }
    let _ = writeln!(
        out,
        "\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"}}"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::with_ids;

    fn ids() -> (String, String) {
        (
            "0af7651916cd43dd8448eb211c80319c".into(),
            "b7ad6b7169203331".into(),
        )
    }

    #[test]
    fn the_ids_become_the_last_fields_of_the_object() {
        let line = "{\"level\":\"INFO\",\"fields\":{\"message\":\"hi\"}}\n";
        let out = with_ids(line, &ids());
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["trace_id"], "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(parsed["span_id"], "b7ad6b7169203331");
        assert_eq!(parsed["fields"]["message"], "hi");
        assert!(out.ends_with("}\n"));
    }

    #[test]
    fn an_empty_object_gets_no_leading_comma() {
        let out = with_ids("{}\n", &ids());
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed.as_object().unwrap().len(), 2);
    }

    #[test]
    fn a_line_that_is_not_an_object_is_left_alone() {
        assert_eq!(with_ids("not json\n", &ids()), "not json\n");
    }
}
