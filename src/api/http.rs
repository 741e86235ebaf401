//! The HTTP side: health (open) and the caller's own identity (`GET /v1/me`, for checking
//! a token with curl). The REST dialects and metrics come with their issues.

use crate::auth::Rejection;
use crate::domain::Caller;
use crate::error::{Error, ErrorCode};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Serialize;

/// Paths that answer without a token.
const OPEN_PATHS: &[&str] = &["/healthz"];

pub fn router() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/v1/me", get(me))
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

/// `{"error": {"code", "message", "fields": [{"field", "description"}]}}`.
#[derive(Serialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize)]
struct ErrorDetail {
    code: &'static str,
    message: String,
    fields: Vec<FieldDetail>,
}

#[derive(Serialize)]
struct FieldDetail {
    field: String,
    description: String,
}

/// The HTTP answer for an error: its status, the JSON body, and the headers its code
/// calls for (`WWW-Authenticate` on 401, `Retry-After` on 429).
pub fn error_response(error: Error) -> Response {
    let status = axum::http::StatusCode::from_u16(error.code.http_status())
        .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    let retry_after = error.retry_after_seconds();
    let code = error.code;
    let body = ErrorBody {
        error: ErrorDetail {
            code: error.code.as_str(),
            message: error.message,
            fields: error
                .fields
                .into_iter()
                .map(|f| FieldDetail {
                    field: f.field,
                    description: f.description,
                })
                .collect(),
        },
    };
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    if code == ErrorCode::Unauthenticated {
        headers.insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
    }
    if let Some(seconds) = retry_after {
        headers.insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
    }
    response
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
