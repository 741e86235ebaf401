//! The one mapping from domain errors to gRPC statuses.

use crate::error::{Error, ErrorCode};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub fn grpc_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::InvalidArgument | ErrorCode::InvalidMedia | ErrorCode::UnsupportedMediaType => {
            Code::InvalidArgument
        }
        ErrorCode::Unauthenticated => Code::Unauthenticated,
        ErrorCode::RateLimited => Code::ResourceExhausted,
        ErrorCode::NotFound => Code::NotFound,
        ErrorCode::AlreadyExists => Code::AlreadyExists,
        ErrorCode::PermissionDenied => Code::PermissionDenied,
        ErrorCode::FailedPrecondition => Code::FailedPrecondition,
        ErrorCode::Unimplemented => Code::Unimplemented,
        ErrorCode::LimitExceeded => Code::ResourceExhausted,
        ErrorCode::OriginUnavailable
        | ErrorCode::DestinationFailed
        | ErrorCode::Unavailable
        | ErrorCode::MissingPlugin => Code::Unavailable,
        ErrorCode::Timeout => Code::DeadlineExceeded,
        ErrorCode::Canceled => Code::Cancelled,
        ErrorCode::Internal => Code::Internal,
        ErrorCode::WorkerLost => Code::Aborted,
    }
}

/// Validation errors carry `google.rpc.BadRequest` details naming every bad field; rate
/// limits carry `google.rpc.RetryInfo` and a `retry-after` header (whole seconds).
pub fn to_status(err: Error) -> Status {
    let code = grpc_code(err.code);
    let retry_after = err.retry_after_seconds();
    let unauthenticated = err.code == ErrorCode::Unauthenticated;
    let mut status = if err.fields.is_empty() && err.retry_after.is_none() {
        Status::new(code, err.message)
    } else {
        let mut details = ErrorDetails::new();
        for field in &err.fields {
            details.add_bad_request_violation(field.field.clone(), field.description.clone());
        }
        if let Some(wait) = err.retry_after {
            details.set_retry_info(Some(wait));
        }
        Status::with_error_details(code, err.message, details)
    };
    if let Some(seconds) = retry_after {
        status.metadata_mut().insert("retry-after", seconds.into());
    }
    if unauthenticated {
        status.metadata_mut().insert(
            "www-authenticate",
            tonic::metadata::MetadataValue::from_static("Bearer"),
        );
    }
    status
}
