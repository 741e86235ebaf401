//! The one mapping from domain errors to gRPC statuses.

use crate::error::{Error, ErrorCode};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub fn grpc_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::InvalidArgument | ErrorCode::InvalidMedia => Code::InvalidArgument,
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
    }
}

/// Validation errors carry `google.rpc.BadRequest` details naming every bad field.
pub fn to_status(err: Error) -> Status {
    let code = grpc_code(err.code);
    if err.fields.is_empty() {
        return Status::new(code, err.message);
    }
    let mut details = ErrorDetails::new();
    for field in &err.fields {
        details.add_bad_request_violation(field.field.clone(), field.description.clone());
    }
    Status::with_error_details(code, err.message, details)
}
