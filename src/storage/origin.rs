//! Fetching the source to a local file the media engine can read. The pipeline never
//! opens URLs itself: remote sources are always downloaded first, so nothing inside a
//! file (a playlist, a reference) can make it reach the network or other local files.

use super::{Storage, Transfer, http_origin};
use crate::config::Limits;
use crate::domain::order::Location;
use crate::error::{Error, ErrorCode};
use std::path::{Path, PathBuf};

/// Resolves the origin to a local path: `file://` sources are read in place, remote ones
/// are downloaded into `work_dir`.
#[tracing::instrument(skip_all, fields(origin = %origin))]
pub async fn fetch(
    storage: &Storage,
    origin: &str,
    location: &Location,
    work_dir: &Path,
    limits: &Limits,
    progress: &Transfer,
) -> Result<PathBuf, Error> {
    let downloaded = work_dir.join("source");
    match location {
        Location::File { path } => local(storage, origin, path, limits.max_source_bytes).await,
        Location::Http { .. } => {
            http_origin::download(&storage.http, origin, &downloaded, limits, progress).await?;
            Ok(downloaded)
        }
        Location::S3 { bucket, key } => {
            storage
                .s3
                .download(origin, bucket, key, &downloaded, limits, progress)
                .await?;
            Ok(downloaded)
        }
    }
}

async fn local(
    storage: &Storage,
    origin: &str,
    path: &Path,
    max_bytes: u64,
) -> Result<PathBuf, Error> {
    let resolved = tokio::fs::canonicalize(path).await.map_err(|e| {
        Error::new(
            ErrorCode::OriginUnavailable,
            format!("origin {origin} cannot be read: {e}"),
        )
        .retryable(false)
    })?;
    if !storage.roots.contains_resolved(&resolved) {
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
        return Err(super::source_file::too_large(origin, meta.len(), max_bytes));
    }
    Ok(resolved)
}
