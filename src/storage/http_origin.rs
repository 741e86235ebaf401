//! http(s) origins, streamed to disk through the egress guard, never held in memory.

use super::Transfer;
use super::s3::too_large;
use crate::egress::{EgressClient, EgressError};
use crate::error::{Error, ErrorCode};
use std::path::Path;
use tokio::io::AsyncWriteExt;

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
    max_bytes: u64,
    progress: &Transfer,
) -> Result<(), Error> {
    let url = url::Url::parse(origin).map_err(|e| unavailable(origin, e, false))?;
    let request = client
        .get(&url)
        .map_err(|refused| request_error(origin, refused.into()))?;
    let mut response = request
        .send()
        .await
        .map_err(|e| request_error(origin, EgressError::from_reqwest(e)))?;
    let status = response.status();
    if !status.is_success() {
        // Throttling and server trouble may pass; anything else is the origin's answer.
        let retryable = status.as_u16() == 429 || status.is_server_error();
        return Err(unavailable(origin, format!("answered {status}"), retryable));
    }
    let declared = response.content_length();
    if let Some(size) = declared.filter(|n| *n > max_bytes) {
        return Err(too_large(origin, size, max_bytes));
    }
    let mut file = tokio::fs::File::create(dest)
        .await
        .map_err(|e| Error::internal(format!("creating {}: {e}", dest.display())))?;
    let mut written = 0u64;
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => return Err(request_error(origin, EgressError::from_reqwest(e))),
        };
        written += chunk.len() as u64;
        if written > max_bytes {
            return Err(too_large(origin, written, max_bytes));
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| Error::internal(format!("writing the source: {e}")))?;
        progress.report(written, declared);
    }
    if let Some(size) = declared.filter(|n| *n != written) {
        return Err(unavailable(
            origin,
            format!("sent {written} bytes but declared {size}"),
            true,
        ));
    }
    file.flush()
        .await
        .map_err(|e| Error::internal(format!("writing the source: {e}")))?;
    Ok(())
}
