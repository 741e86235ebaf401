//! A tower layer, in front of both servers, that opens a span for every request: one per
//! gRPC call (`transcoder.v1.TranscoderService/SubmitJob`) and one per HTTP request
//! (`POST /{company_id}/transcode`), child of the caller's span when the request carries
//! a W3C `traceparent` (gRPC metadata are HTTP/2 headers, so one extractor serves both).
//!
//! The span ends when the response head is sent. A gRPC status that only arrives in the
//! trailers (every success, and a stream that fails after its first message) is not seen
//! here: such calls are recorded with code 0.

use super::propagation;
use futures::future::BoxFuture;
use std::task::{Context, Poll};
use tower::{Layer, Service};
use tracing::Instrument;
use tracing::field::Empty;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Grpc,
    Http,
}

/// See the module docs. `RequestSpanLayer::grpc()` goes on the tonic server,
/// `RequestSpanLayer::http()` on the axum router (outside the auth layer, so refused
/// requests are traced too).
#[derive(Debug, Clone, Copy)]
pub struct RequestSpanLayer {
    protocol: Protocol,
}

impl RequestSpanLayer {
    pub fn grpc() -> Self {
        Self {
            protocol: Protocol::Grpc,
        }
    }

    pub fn http() -> Self {
        Self {
            protocol: Protocol::Http,
        }
    }
}

impl<S> Layer<S> for RequestSpanLayer {
    type Service = RequestSpan<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestSpan {
            inner,
            protocol: self.protocol,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RequestSpan<S> {
    inner: S,
    protocol: Protocol,
}

impl<S, B, R> Service<http::Request<B>> for RequestSpan<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let span = match self.protocol {
            Protocol::Grpc => grpc_span(&request),
            Protocol::Http => http_span(&request),
        };
        if let Some(parent) = propagation::from_headers(request.headers()) {
            propagation::set_parent(&span, parent);
        }
        let future = span.in_scope(|| self.inner.call(request));
        let protocol = self.protocol;
        let recorded = span.clone();
        Box::pin(
            async move {
                let result = future.await;
                if let Ok(response) = &result {
                    match protocol {
                        Protocol::Grpc => record_grpc_status(&recorded, response),
                        Protocol::Http => record_http_status(&recorded, response),
                    }
                }
                result
            }
            .instrument(span),
        )
    }
}

/// `/package.Service/Method` -> a span named `package.Service/Method`.
fn grpc_span<B>(request: &http::Request<B>) -> tracing::Span {
    let path = request.uri().path();
    let name = path.strip_prefix('/').unwrap_or(path);
    let (service, method) = name.split_once('/').unwrap_or((name, ""));
    tracing::info_span!(
        "rpc",
        otel.name = name,
        otel.kind = "server",
        otel.status_code = Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = Empty,
    )
}

/// A span named `METHOD /route/{param}` (the route template, never the raw path, whose
/// ids would make every name unique); `METHOD` alone when no route matched.
fn http_span<B>(request: &http::Request<B>) -> tracing::Span {
    let method = request.method().as_str();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str);
    let name = match route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    tracing::info_span!(
        "http",
        otel.name = name.as_str(),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = route,
        url.path = request.uri().path(),
        http.response.status_code = Empty,
    )
}

fn record_grpc_status<R>(span: &tracing::Span, response: &http::Response<R>) {
    // Errors come as a trailers-only response: the status is in the head.
    let code = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0);
    span.record("rpc.grpc.status_code", code);
    // The server's faults, per the RPC semantic conventions; a client's mistake
    // (INVALID_ARGUMENT, NOT_FOUND, ...) is not the server span's error.
    if matches!(code, 2 | 4 | 12 | 13 | 14 | 15) {
        span.record("otel.status_code", "ERROR");
    }
}

fn record_http_status<R>(span: &tracing::Span, response: &http::Response<R>) {
    let status = response.status();
    // Signed: tracing-opentelemetry turns unsigned fields into strings.
    span.record("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use tower::ServiceExt;

    #[tokio::test]
    async fn the_inner_service_answers_through_the_layer() {
        let inner = tower::service_fn(|request: http::Request<()>| async move {
            let status = if request.uri().path() == "/x.Y/Fail" {
                "13"
            } else {
                "0"
            };
            Ok::<_, Infallible>(
                http::Response::builder()
                    .header("grpc-status", status)
                    .body(())
                    .unwrap(),
            )
        });
        let service = RequestSpanLayer::grpc().layer(inner);
        let request = http::Request::builder()
            .uri("/x.Y/Fail")
            .header(
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            )
            .body(())
            .unwrap();
        let response = service.oneshot(request).await.unwrap();
        assert_eq!(response.headers()["grpc-status"], "13");
    }
}
