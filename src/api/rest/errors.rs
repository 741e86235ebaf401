//! How the REST dialects say what went wrong.
//!
//! The order dialect (and every route but `POST /job`): `{"error": {"code", "message",
//! "fields": [{"field", "description"}]}}` with the status of the error's code, plus
//! `WWW-Authenticate: Bearer` on 401 and `Retry-After` on 429. The preset dialect:
//! `{"results": {"error": "..."}}` with a 4xx/5xx status.

use crate::error::{Error, ErrorCode};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. INVALID_ARGUMENT, UNAUTHENTICATED.
    pub code: String,
    pub message: String,
    pub fields: Vec<FieldDetail>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldDetail {
    /// The field in the dialect's own names, e.g. `jobs[0].profile_id`.
    pub field: String,
    pub description: String,
}

fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Headers every dialect's error carries: how to authenticate, when to retry.
fn add_headers(response: &mut Response, error: &Error) {
    let headers = response.headers_mut();
    if error.code == ErrorCode::Unauthenticated {
        headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Some(seconds) = error.retry_after_seconds() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
}

/// An error in the order dialect's shape. Handlers return `Result<_, RestError>`.
pub struct RestError(pub Error);

impl From<Error> for RestError {
    fn from(error: Error) -> Self {
        Self(error)
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        error_response(self.0)
    }
}

pub fn error_response(error: Error) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: error.code.as_str().to_owned(),
            message: error.message.clone(),
            fields: error
                .fields
                .iter()
                .map(|f| FieldDetail {
                    field: f.field.clone(),
                    description: f.description.clone(),
                })
                .collect(),
        },
    };
    let mut response = (status_of(error.code), Json(body)).into_response();
    add_headers(&mut response, &error);
    response
}

#[derive(Serialize, ToSchema)]
pub struct PresetErrorBody {
    pub results: PresetErrorResults,
}

#[derive(Serialize, ToSchema)]
pub struct PresetErrorResults {
    /// What went wrong, naming the fields (`src: is required; ...`).
    pub error: String,
}

/// An error in the preset dialect's shape.
pub struct PresetError(pub Error);

impl From<Error> for PresetError {
    fn from(error: Error) -> Self {
        Self(error)
    }
}

impl IntoResponse for PresetError {
    fn into_response(self) -> Response {
        let error = self.0;
        let text = if error.fields.is_empty() {
            error.message.clone()
        } else {
            error
                .fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.description))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let body = PresetErrorBody {
            results: PresetErrorResults { error: text },
        };
        let mut response = (status_of(error.code), Json(body)).into_response();
        add_headers(&mut response, &error);
        response
    }
}

/// Renames the fields of a domain error into a dialect's names; `rename` returns the
/// new name of a field (or the field itself).
pub fn renamed(mut error: Error, rename: impl Fn(&str) -> String) -> Error {
    for field in &mut error.fields {
        field.field = rename(&field.field);
    }
    if error.code == ErrorCode::InvalidArgument && !error.fields.is_empty() {
        let names: Vec<&str> = error.fields.iter().map(|f| f.field.as_str()).collect();
        error.message = format!("invalid request: {}", names.join(", "));
    }
    error
}
