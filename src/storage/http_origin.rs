//! http(s) origins, streamed to disk through the egress guard, never held in memory.

use super::Transfer;
use super::pace::Pace;
use super::source_file::SourceFile;
use crate::config::Limits;
use crate::egress::{EgressClient, EgressError};
use crate::error::{Error, ErrorCode};
use std::path::Path;

fn unavailable(origin: &str, message: impl std::fmt::Display, retryable: bool) -> Error {
    Error::new(
        ErrorCode::OriginUnavailable,
        format!("origin {origin}: {message}"),
    )
    .retryable(retryable)
}

fn request_error(origin: &str, e: EgressError) -> Error {
    match e {
        EgressError::Refused(refused) => Error::new(
            ErrorCode::PermissionDenied,
            format!("origin {origin} refused: {refused}"),
        ),
        EgressError::Timeout(msg) => Error::new(
            ErrorCode::Timeout,
            format!("origin {origin} timed out: {msg}"),
        ),
        EgressError::Request(msg) => unavailable(origin, msg, true),
    }
}

pub async fn download(
    client: &EgressClient,
    origin: &str,
    dest: &Path,
    limits: &Limits,
    progress: &Transfer,
) -> Result<(), Error> {
    let mut pace = Pace::start(origin, limits);
    let url = url::Url::parse(origin).map_err(|e| unavailable(origin, e, false))?;
    let request = client
        .get(&url)
        .map_err(|refused| request_error(origin, refused.into()))?;
    let mut response = pace
        .wait(request.send())
        .await?
        .map_err(|e| request_error(origin, EgressError::from_reqwest(e)))?;
    let status = response.status();
    if !status.is_success() {
        // Throttling and server trouble may pass; anything else is the origin's answer.
        let retryable = status.as_u16() == 429 || status.is_server_error();
        return Err(unavailable(origin, format!("answered {status}"), retryable));
    }
    let declared = response.content_length();
    let max_bytes = limits.max_source_bytes;
    let mut file = SourceFile::create(dest, origin, max_bytes, declared, progress, pace).await?;
    loop {
        match file.wait(response.chunk()).await? {
            Ok(Some(chunk)) => file.write(&chunk).await?,
            Ok(None) => return file.finish().await,
            Err(e) => return Err(request_error(origin, EgressError::from_reqwest(e))),
        }
    }
}
