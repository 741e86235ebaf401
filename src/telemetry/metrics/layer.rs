//! A tower layer counting requests and timing them, for the gRPC server (by service,
//! method and `grpc-status`) and the HTTP router (by method, matched route and status).
//!
//! A request is recorded once, when its response body ends or is dropped: a unary call's
//! time is its whole handling, a stream's is its whole life. gRPC puts the status of a
//! successful call (and of a stream that fails midway) in the trailers, so the body is
//! watched for them; a trailers-only error carries it in the headers.
//!
//! Label values are bounded whatever clients send: gRPC paths outside the served
//! services' descriptors become `unknown`, HTTP paths no route matched become
//! `unmatched`, and unusual HTTP methods `other`.

use super::Metrics;
use axum::extract::MatchedPath;
use futures::future::BoxFuture;
use http::{HeaderMap, Method, Request, Response};
use http_body::{Body, Frame, SizeHint};
use prost::Message;
use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tower::{Layer, Service};

#[derive(Clone)]
enum Protocol {
    /// With the `/package.Service/Method` paths the server serves.
    Grpc(Arc<HashSet<String>>),
    Http,
}

#[derive(Clone)]
pub struct RequestMetricsLayer {
    metrics: Arc<Metrics>,
    protocol: Protocol,
}

impl RequestMetricsLayer {
    /// For a tonic server serving the services described by `descriptor_sets` (encoded
    /// `FileDescriptorSet`s, as given to reflection).
    pub fn grpc(metrics: Arc<Metrics>, descriptor_sets: &[&[u8]]) -> Self {
        let mut methods = HashSet::new();
        for set in descriptor_sets {
            match prost_types::FileDescriptorSet::decode(*set) {
                Ok(set) => methods.extend(set.file.iter().flat_map(method_paths)),
                Err(e) => tracing::warn!(error = %e, "a descriptor set does not decode"),
            }
        }
        Self {
            metrics,
            protocol: Protocol::Grpc(Arc::new(methods)),
        }
    }

    /// For an axum router (add it with `Router::layer`, so the matched route is known).
    pub fn http(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            protocol: Protocol::Http,
        }
    }
}

fn method_paths(file: &prost_types::FileDescriptorProto) -> Vec<String> {
    let package = file.package();
    file.service
        .iter()
        .flat_map(|service| {
            service
                .method
                .iter()
                .map(move |method| format!("/{package}.{}/{}", service.name(), method.name()))
        })
        .collect()
}

impl<S> Layer<S> for RequestMetricsLayer {
    type Service = RequestMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestMetricsService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RequestMetricsService<S> {
    inner: S,
    layer: RequestMetricsLayer,
}

impl<S, B, ResBody> Service<Request<B>> for RequestMetricsService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = Response<MetricsBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut record = Record {
            metrics: self.layer.metrics.clone(),
            grpc: matches!(self.layer.protocol, Protocol::Grpc(_)),
            labels: request_labels(&self.layer.protocol, &request),
            code: None,
            started: Instant::now(),
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            let (parts, body) = response.into_parts();
            record.code = if record.grpc {
                grpc_status(&parts.headers)
            } else {
                Some(parts.status.as_u16().to_string())
            };
            Ok(Response::from_parts(
                parts,
                MetricsBody {
                    inner: body,
                    record: Some(record),
                },
            ))
        })
    }
}

/// (service, method) for gRPC, (method, route) for HTTP.
fn request_labels<B>(protocol: &Protocol, request: &Request<B>) -> [String; 2] {
    match protocol {
        Protocol::Grpc(known) => {
            let path = request.uri().path();
            match path.strip_prefix('/').and_then(|p| p.split_once('/')) {
                Some((service, method)) if known.contains(path) => {
                    [service.to_owned(), method.to_owned()]
                }
                _ => ["unknown".to_owned(), "unknown".to_owned()],
            }
        }
        Protocol::Http => {
            let method = match *request.method() {
                Method::GET
                | Method::HEAD
                | Method::POST
                | Method::PUT
                | Method::PATCH
                | Method::DELETE
                | Method::OPTIONS => request.method().as_str(),
                _ => "other",
            };
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", |matched| matched.as_str());
            [method.to_owned(), route.to_owned()]
        }
    }
}

/// One request, recorded when its response ends.
struct Record {
    metrics: Arc<Metrics>,
    grpc: bool,
    labels: [String; 2],
    /// The gRPC status name or the HTTP status, once known.
    code: Option<String>,
    started: Instant,
}

impl Record {
    /// `ended`: the body ran to its end (else it was dropped before: the client left).
    fn finish(self, ended: bool) {
        let elapsed = self.started.elapsed();
        let [first, second] = [self.labels[0].as_str(), self.labels[1].as_str()];
        if self.grpc {
            // A stream that ends without a status was cut off.
            let fallback = if ended { "UNKNOWN" } else { "CANCELLED" };
            let code = self.code.as_deref().unwrap_or(fallback);
            self.metrics.grpc_request([first, second, code], elapsed);
        } else {
            let code = self.code.as_deref().unwrap_or("0");
            self.metrics.http_request([first, second, code], elapsed);
        }
    }
}

/// The response body, passed through; records the request when it ends or is dropped.
pub struct MetricsBody<B> {
    inner: B,
    record: Option<Record>,
}

impl<B: Body + Unpin> Body for MetricsBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(trailers), Some(record)) = (frame.trailers_ref(), &mut this.record)
                    && record.grpc
                    && let Some(code) = grpc_status(trailers)
                {
                    record.code = Some(code);
                }
            }
            Poll::Ready(None) => {
                if let Some(record) = this.record.take() {
                    record.finish(true);
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for MetricsBody<B> {
    fn drop(&mut self) {
        // A body the server knows is complete (`is_end_stream`, or a gRPC body after its
        // trailers) is dropped without being polled to its end: its status is known by
        // then. Only a gRPC body without one was cut off.
        if let Some(record) = self.record.take() {
            record.finish(false);
        }
    }
}

/// The `grpc-status` header or trailer, by its canonical name.
fn grpc_status(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("grpc-status")?.to_str().ok()?;
    let name = value
        .parse::<usize>()
        .ok()
        .and_then(|code| GRPC_CODES.get(code).copied())
        .unwrap_or("UNKNOWN");
    Some(name.to_owned())
}

/// gRPC status codes by number (grpc/doc/statuscodes.md).
const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_statuses_are_named() {
        let mut headers = HeaderMap::new();
        assert_eq!(grpc_status(&headers), None);
        headers.insert("grpc-status", "0".parse().unwrap());
        assert_eq!(grpc_status(&headers).as_deref(), Some("OK"));
        headers.insert("grpc-status", "16".parse().unwrap());
        assert_eq!(grpc_status(&headers).as_deref(), Some("UNAUTHENTICATED"));
        headers.insert("grpc-status", "99".parse().unwrap());
        assert_eq!(grpc_status(&headers).as_deref(), Some("UNKNOWN"));
    }

    #[test]
    fn only_served_grpc_methods_become_labels() {
        let layer = RequestMetricsLayer::grpc(
            Arc::new(Metrics::new()),
            &[crate::proto::FILE_DESCRIPTOR_SET],
        );
        let labels = |path: &str| {
            let request = Request::builder().uri(path).body(()).unwrap();
            request_labels(&layer.protocol, &request)
        };
        assert_eq!(
            labels("/transcoder.v1.TranscoderService/SubmitJob"),
            ["transcoder.v1.TranscoderService", "SubmitJob"]
        );
        assert_eq!(
            labels("/transcoder.v1.TranscoderService/NoSuchCall"),
            ["unknown", "unknown"]
        );
        assert_eq!(labels("/junk"), ["unknown", "unknown"]);
    }

    #[test]
    fn unmatched_http_paths_and_odd_methods_are_folded() {
        let request = Request::builder()
            .method("BREW")
            .uri("/acme/jobs/123")
            .body(())
            .unwrap();
        assert_eq!(
            request_labels(&Protocol::Http, &request),
            ["other", "unmatched"]
        );
    }
}
