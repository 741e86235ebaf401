//! What can go wrong in a client command, how it is shown, and the exit code it gives.

use super::wire::FieldViolation;
use serde::Serialize;
use tonic::Code;
use tonic_types::StatusExt;
use transcoder::proto as pb;

/// Shown under each client command's `--help`; [`ClientError::exit_code`] is the truth.
pub const EXIT_CODES: &str = "\
Exit codes:
  0   success
  1   local failure (writing the output)
  2   usage error (bad flags or values, no token)
  3   the server could not be reached (connect failed, UNAVAILABLE)
  4   not authenticated or not allowed (UNAUTHENTICATED, PERMISSION_DENIED)
  5   the request was refused (INVALID_ARGUMENT, with every bad field named;
      FAILED_PRECONDITION, ALREADY_EXISTS, OUT_OF_RANGE)
  6   not found (NOT_FOUND)
  7   rate limited or over a limit (RESOURCE_EXHAUSTED)
  8   the server failed (INTERNAL, DEADLINE_EXCEEDED, any other status)
  10  the watched job ended FAILED
  11  the watched job ended CANCELED";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("no API token: pass --token or set TRANSCODER_TOKEN")]
    NoToken,
    #[error("the API token holds characters a header cannot carry")]
    BadToken,
    #[error("bad {flag} '{value}': {why}")]
    BadValue {
        flag: &'static str,
        value: String,
        why: String,
    },
    #[error("cannot reach the server at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("{}: {}", code_name(.0.code()), .0.message())]
    Status(Box<tonic::Status>),
    #[error("job {job_id} ended {state}{}", .error.as_ref().map(|e| format!(": {}: {}", e.code, e.message)).unwrap_or_default())]
    JobEnded {
        job_id: String,
        /// As `--json` names it: `failed`, `canceled`.
        state: String,
        error: Option<Box<pb::JobError>>,
    },
    #[error("the watch of job {0} ended before the job did")]
    WatchCut(String),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl From<tonic::Status> for ClientError {
    fn from(status: tonic::Status) -> Self {
        Self::Status(Box::new(status))
    }
}

impl ClientError {
    /// A stable name for scripts (the gRPC code's name for a server's refusal).
    pub fn code(&self) -> String {
        match self {
            Self::NoToken => "NO_TOKEN".into(),
            Self::BadToken => "BAD_TOKEN".into(),
            Self::BadValue { .. } => "BAD_VALUE".into(),
            Self::Connect { .. } => "UNREACHABLE".into(),
            Self::Status(status) => code_name(status.code()),
            Self::JobEnded { state, .. } => format!("JOB_{}", state.to_ascii_uppercase()),
            Self::WatchCut(_) => "WATCH_CUT".into(),
            Self::Output(_) => "OUTPUT".into(),
        }
    }

    /// The process exit code, as [`EXIT_CODES`] lists them.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Output(_) => 1,
            Self::NoToken | Self::BadToken | Self::BadValue { .. } => 2,
            Self::Connect { .. } | Self::WatchCut(_) => 3,
            Self::Status(status) => match status.code() {
                Code::Unavailable => 3,
                Code::Unauthenticated | Code::PermissionDenied => 4,
                Code::InvalidArgument
                | Code::FailedPrecondition
                | Code::AlreadyExists
                | Code::OutOfRange => 5,
                Code::NotFound => 6,
                Code::ResourceExhausted => 7,
                _ => 8,
            },
            Self::JobEnded { state, .. } if state == "canceled" => 11,
            Self::JobEnded { .. } => 10,
        }
    }

    /// Every bad field the server named (`google.rpc.BadRequest`, or a failed job's).
    fn fields(&self) -> Vec<FieldViolation> {
        match self {
            Self::Status(status) => status
                .get_error_details()
                .bad_request()
                .map(|b| {
                    b.field_violations
                        .iter()
                        .map(|v| FieldViolation::of(&v.field, &v.description))
                        .collect()
                })
                .unwrap_or_default(),
            Self::JobEnded { error: Some(e), .. } => e
                .field_violations
                .iter()
                .map(|v| FieldViolation::of(&v.field, &v.description))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// When the server asked to be retried later (`google.rpc.RetryInfo`).
    fn retry_after_seconds(&self) -> Option<f64> {
        let Self::Status(status) = self else {
            return None;
        };
        let delay = status.get_error_details().retry_info()?.retry_delay?;
        Some(delay.as_secs_f64())
    }

    /// The error on stderr, each bad field on its own line; with `json`, also the error
    /// as one JSON document on stdout.
    pub fn report(&self, json: bool) {
        let fields = self.fields();
        let retry_after_seconds = self.retry_after_seconds();
        eprintln!("error: {self}");
        for f in &fields {
            eprintln!("  {}: {}", f.field, f.description);
        }
        if let Some(seconds) = retry_after_seconds {
            eprintln!("  retry after {seconds:.0} s");
        }
        if json {
            let body = ErrorBody {
                error: ErrorDoc {
                    code: self.code(),
                    message: self.to_string(),
                    exit_code: self.exit_code(),
                    fields,
                    retry_after_seconds,
                },
            };
            if let Ok(text) = serde_json::to_string(&body) {
                println!("{text}");
            }
        }
    }
}

#[derive(Serialize)]
struct ErrorBody {
    error: ErrorDoc,
}

#[derive(Serialize)]
struct ErrorDoc {
    code: String,
    message: String,
    exit_code: i32,
    fields: Vec<FieldViolation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after_seconds: Option<f64>,
}

/// `InvalidArgument` -> `INVALID_ARGUMENT`, as gRPC names its codes.
fn code_name(code: Code) -> String {
    let camel = format!("{code:?}");
    let mut name = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}
