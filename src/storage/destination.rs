//! Delivering finished files to destinations.

use super::{FileRoots, Storage, Transfer};
use crate::domain::order::{Destination, Location};
use crate::error::{Error, ErrorCode};
use std::path::{Path, PathBuf};

fn failed(dest: &Destination, cause: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorCode::DestinationFailed,
        format!("destination {}: {cause}", dest.uri),
    )
    .retryable(true)
}

/// The object key for `filename` under an `s3://bucket/prefix` destination: the prefix is
/// a folder, with or without its trailing `/`.
pub fn object_key(prefix: &str, filename: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        filename.to_owned()
    } else {
        format!("{prefix}/{filename}")
    }
}

pub fn content_type(filename: &str) -> String {
    mime_guess::from_path(filename)
        .first_or_octet_stream()
        .essence_str()
        .to_owned()
}

/// Copies `file` into the destination as `filename` and returns its URL.
#[tracing::instrument(skip_all, fields(destination = %dest.uri, filename))]
pub async fn deliver(
    storage: &Storage,
    file: &Path,
    filename: &str,
    dest: &Destination,
    progress: &Transfer,
) -> Result<String, Error> {
    match &dest.location {
        Location::File { path } => {
            let final_path = deliver_local(file, path, filename, &storage.roots)
                .await
                .map_err(|e| failed(dest, e))?;
            progress.report(1, Some(1));
            url::Url::from_file_path(&final_path)
                .map(String::from)
                .map_err(|_| failed(dest, "not an absolute path"))
        }
        Location::S3 { bucket, key } => storage
            .s3
            .upload(
                file,
                bucket,
                &object_key(key, filename),
                &super::s3::ObjectOptions {
                    content_type: content_type(filename),
                    acl: dest.acl.clone(),
                    storage_class: dest.storage_class.clone(),
                },
                progress,
            )
            .await
            .map_err(|e| failed(dest, e)),
        Location::Http { .. } => Err(failed(dest, "http destinations are not supported")),
    }
}

/// Local destinations are written atomically: a temp file, fsync, then rename, so a
/// reader never sees a half-written output under its final name.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_append_the_filename_to_a_prefix() {
        assert_eq!(object_key("videos/", "a.mp4"), "videos/a.mp4");
        assert_eq!(object_key("", "a.mp4"), "a.mp4");
        assert_eq!(object_key("no/slash", "a.mp4"), "no/slash/a.mp4");
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("a.mp4"), "video/mp4");
        assert_eq!(content_type("a.jpg"), "image/jpeg");
    }
}
