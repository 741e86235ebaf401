//! Delivering finished files to destinations.

use super::FileRoots;
use crate::domain::order::{Destination, Location};
use crate::error::{Error, ErrorCode};
use std::path::{Path, PathBuf};

fn failed(dest: &Destination, cause: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::DestinationFailed,
        format!("destination {}: {cause}", dest.uri),
    )
}

/// Copies `file` into the destination as `filename` and returns its URL. Local
/// destinations are written atomically: a temp file, fsync, then rename, so a reader
/// never sees a half-written output under its final name.
#[tracing::instrument(skip_all, fields(destination = %dest.uri, filename))]
pub async fn deliver(
    file: &Path,
    filename: &str,
    dest: &Destination,
    roots: &FileRoots,
) -> Result<String, Error> {
    match &dest.location {
        Location::File { path } => {
            let final_path = deliver_local(file, path, filename, roots)
                .await
                .map_err(|e| failed(dest, e))?;
            url::Url::from_file_path(&final_path)
                .map(String::from)
                .map_err(|_| failed(dest, "not an absolute path"))
        }
        _ => Err(Error::unimplemented(format!(
            "destination {}: only file:// destinations are enabled on this server",
            dest.uri
        ))),
    }
}

async fn deliver_local(
    file: &Path,
    dir: &Path,
    filename: &str,
    roots: &FileRoots,
) -> Result<PathBuf, String> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let dir = tokio::fs::canonicalize(dir)
        .await
        .map_err(|e| format!("resolving {}: {e}", dir.display()))?;
    if !roots.contains_resolved(&dir) {
        return Err("resolves outside the allowed directories".into());
    }
    let final_path = dir.join(filename);
    let temp_path = dir.join(format!(".{filename}.partial-{}", uuid::Uuid::now_v7()));
    let copy = async {
        tokio::fs::copy(file, &temp_path).await?;
        tokio::fs::File::open(&temp_path).await?.sync_all().await?;
        tokio::fs::rename(&temp_path, &final_path).await
    };
    if let Err(e) = copy.await {
        let _ = tokio::fs::remove_file(&temp_path).await;
        return Err(format!("writing {}: {e}", final_path.display()));
    }
    Ok(final_path)
}
