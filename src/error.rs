//! The one error type every layer returns to its caller, with a stable code.
//! Transports map [`ErrorCode`] once (gRPC in `api::grpc::status`, HTTP via
//! [`ErrorCode::http_status`]).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Stable, machine-readable error codes. Clients match on these strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    InvalidArgument,
    /// No valid API token: missing, malformed, unknown or revoked.
    Unauthenticated,
    NotFound,
    AlreadyExists,
    PermissionDenied,
    FailedPrecondition,
    Unimplemented,
    /// The source is not decodable media, or breaks a media limit.
    InvalidMedia,
    /// A limit (size, duration, pixels, count) was exceeded.
    LimitExceeded,
    /// Too many requests: try again after the error's `retry_after`.
    RateLimited,
    /// A request body in a format the endpoint does not take.
    UnsupportedMediaType,
    /// The origin could not be read.
    OriginUnavailable,
    /// A destination could not be written.
    DestinationFailed,
    /// A GStreamer element the job needs is not installed.
    MissingPlugin,
    /// External work did not finish in time.
    Timeout,
    Canceled,
    /// The job's worker stopped (crashed, or lost its lease) on every attempt.
    WorkerLost,
    Unavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::RateLimited => "RATE_LIMITED",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::PermissionDenied => "PERMISSION_DENIED",
            Self::FailedPrecondition => "FAILED_PRECONDITION",
            Self::Unimplemented => "UNIMPLEMENTED",
            Self::InvalidMedia => "INVALID_MEDIA",
            Self::LimitExceeded => "LIMIT_EXCEEDED",
            Self::OriginUnavailable => "ORIGIN_UNAVAILABLE",
            Self::DestinationFailed => "DESTINATION_FAILED",
            Self::MissingPlugin => "MISSING_PLUGIN",
            Self::Timeout => "TIMEOUT",
            Self::Canceled => "CANCELED",
            Self::WorkerLost => "WORKER_LOST",
            Self::Unavailable => "UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }

    /// True when the caller (the request or its media) is at fault.
    pub fn is_client_error(self) -> bool {
        matches!(
            self,
            Self::InvalidArgument
                | Self::Unauthenticated
                | Self::RateLimited
                | Self::UnsupportedMediaType
                | Self::NotFound
                | Self::AlreadyExists
                | Self::PermissionDenied
                | Self::FailedPrecondition
                | Self::InvalidMedia
                | Self::LimitExceeded
        )
    }

    /// Whether trying the same work again may succeed, when nothing more is known.
    pub fn default_retryable(self) -> bool {
        matches!(
            self,
            Self::OriginUnavailable | Self::DestinationFailed | Self::Timeout | Self::Unavailable
        )
    }

    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidArgument | Self::InvalidMedia => 400,
            Self::Unauthenticated => 401,
            Self::RateLimited => 429,
            Self::UnsupportedMediaType => 415,
            Self::PermissionDenied => 403,
            Self::NotFound => 404,
            Self::AlreadyExists => 409,
            Self::FailedPrecondition => 412,
            Self::LimitExceeded => 413,
            Self::Canceled => 499,
            Self::Unimplemented => 501,
            Self::OriginUnavailable | Self::DestinationFailed => 502,
            Self::Unavailable | Self::MissingPlugin => 503,
            Self::Timeout => 504,
            Self::Internal | Self::WorkerLost => 500,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One bad field of a request: `field` is a path like `order.outputs[1].filename`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// An error with a stable code, a human message, and whether retrying may help.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub retryable: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldViolation>,
    /// For [`ErrorCode::RateLimited`]: when trying again can succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<std::time::Duration>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retryable: code.default_retryable(),
            fields: Vec::new(),
            retry_after: None,
        }
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, message)
    }

    /// Too many requests; the caller may try again after `wait`.
    pub fn rate_limited(message: impl Into<String>, wait: std::time::Duration) -> Self {
        Self {
            retry_after: Some(wait),
            retryable: true,
            ..Self::new(ErrorCode::RateLimited, message)
        }
    }

    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// A validation failure naming every bad field.
    pub fn invalid_fields(fields: Vec<FieldViolation>) -> Self {
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        let message = format!("invalid request: {}", names.join(", "));
        Self {
            fields,
            ..Self::new(ErrorCode::InvalidArgument, message)
        }
    }

    pub fn invalid_argument(field: &str, description: impl Into<String>) -> Self {
        Self::invalid_fields(vec![FieldViolation::new(field, description)])
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, what)
    }

    /// `Retry-After` in whole seconds, rounded up so that a client waiting that long
    /// succeeds.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        self.retry_after
            .map(|wait| wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    pub fn unimplemented(what: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unimplemented, what)
    }

    pub fn failed_precondition(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::FailedPrecondition, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
