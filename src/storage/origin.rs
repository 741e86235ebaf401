//! Fetching the source to a local file the media engine can read.

use super::FileRoots;
use crate::domain::order::Location;
use crate::error::{Error, ErrorCode};
use std::path::PathBuf;

/// Resolves the origin to a local path. `file://` sources are read in place.
#[tracing::instrument(skip_all, fields(origin = %origin))]
pub async fn fetch(
    origin: &str,
    location: &Location,
    roots: &FileRoots,
    max_bytes: u64,
) -> Result<PathBuf, Error> {
    match location {
        Location::File { path } => {
            let resolved = tokio::fs::canonicalize(path).await.map_err(|e| {
                Error::new(
                    ErrorCode::OriginUnavailable,
                    format!("origin {origin} cannot be read: {e}"),
                )
                .retryable(false)
            })?;
            if !roots.contains_resolved(&resolved) {
                return Err(Error::new(
                    ErrorCode::PermissionDenied,
                    format!("origin {origin} resolves outside the allowed directories"),
                ));
            }
            let meta = tokio::fs::metadata(&resolved).await.map_err(|e| {
                Error::new(
                    ErrorCode::OriginUnavailable,
                    format!("origin {origin}: {e}"),
                )
            })?;
            if !meta.is_file() {
                return Err(Error::new(
                    ErrorCode::OriginUnavailable,
                    format!("origin {origin} is not a regular file"),
                )
                .retryable(false));
            }
            if meta.len() > max_bytes {
                return Err(Error::new(
                    ErrorCode::LimitExceeded,
                    format!(
                        "origin {origin} is {} bytes; the limit is {max_bytes}",
                        meta.len()
                    ),
                ));
            }
            Ok(resolved)
        }
        Location::Http { .. } | Location::S3 { .. } => Err(Error::unimplemented(format!(
            "origin {origin}: only file:// origins are enabled on this server"
        ))),
    }
}
