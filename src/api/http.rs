//! The HTTP side: liveness and readiness (open), the caller's own identity (`GET /v1/me`,
//! for checking a token with curl), and the REST dialects (`api::rest`).

use super::rest::{self, RestState, errors::error_response};
use crate::auth::Rejection;
use crate::domain::Caller;
use crate::error::Error;
use crate::readiness::{Readiness, ReadinessProbe};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use http::StatusCode;
use serde::Serialize;

/// Paths that answer without a token. `POST /job` (the preset dialect) authenticates in
/// its handler: by the body's `application_id`, or a Bearer token.
const OPEN_PATHS: &[&str] = &[
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/job",
    "/job/",
];

pub fn router(state: RestState, readiness: ReadinessProbe) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(move || ready(readiness.clone())))
        .route("/v1/me", get(me))
        .merge(rest::router(state))
}

/// `GET /readyz`: 200 `ready`, or 503 saying why not, for load balancers and
/// orchestrators (a Kubernetes readiness probe) to route traffic by. `/healthz` stays the
/// liveness answer: a replica waiting for its migrations is alive, not broken.
async fn ready(readiness: ReadinessProbe) -> Response {
    match readiness.current() {
        Readiness::Ready => "ready\n".into_response(),
        Readiness::NotReady { reason } => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "not_ready", "reason": reason})),
        )
            .into_response(),
    }
}

/// `GET /v1/me`: who the token belongs to.
#[derive(Serialize)]
struct MeBody {
    company_id: String,
    token_id: Option<String>,
    entitlements: Vec<&'static str>,
}

async fn me(Extension(caller): Extension<Caller>) -> Json<MeBody> {
    let mut entitlements = Vec::new();
    if caller.entitlements.priority_transcoding {
        entitlements.push(crate::domain::Entitlements::PRIORITY_TRANSCODING);
    }
    Json(MeBody {
        company_id: caller.company.as_str().to_owned(),
        token_id: caller.token_id,
        entitlements,
    })
}

/// HTTP's answer to a request without a valid token.
#[derive(Clone)]
pub struct HttpRejection;

impl Rejection for HttpRejection {
    type Body = Body;

    fn is_open(&self, path: &str) -> bool {
        // The dashboard authenticates by its own session cookie (src/web/session.rs).
        OPEN_PATHS.contains(&path) || crate::web::is_dashboard_path(path)
    }

    fn reject(&self, error: Error) -> http::Response<Body> {
        error_response(error)
    }
}

/// `GET /metrics`: the Prometheus text exposition (open, like the health endpoints; serve
/// it on a network only the scraper reaches).
pub fn metrics_router(source: crate::telemetry::metrics::MetricsSource) -> Router {
    Router::new().route(
        "/metrics",
        get(move || async move {
            match source.render().await {
                Ok(text) => (
                    [(
                        http::header::CONTENT_TYPE,
                        crate::telemetry::metrics::CONTENT_TYPE,
                    )],
                    text,
                )
                    .into_response(),
                Err(error) => error_response(error),
            }
        }),
    )
}
