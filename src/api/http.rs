//! The HTTP side: health (open), the caller's own identity (`GET /v1/me`, for checking a
//! token with curl), and the REST dialects (`api::rest`).

use super::rest::{self, RestState, errors::error_response};
use crate::auth::Rejection;
use crate::domain::Caller;
use crate::error::Error;
use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Serialize;

/// Paths that answer without a token. `POST /job` (the preset dialect) authenticates in
/// its handler: by the body's `application_id`, or a Bearer token.
const OPEN_PATHS: &[&str] = &["/healthz", "/openapi.json", "/job", "/job/"];

pub fn router(state: RestState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/v1/me", get(me))
        .merge(rest::router(state))
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
        OPEN_PATHS.contains(&path)
    }

    fn reject(&self, error: Error) -> http::Response<Body> {
        error_response(error)
    }
}
