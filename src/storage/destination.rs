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

/// Why writing a file into a local destination failed.
#[derive(Debug, thiserror::Error)]
pub enum LocalDeliveryError {
    #[error("creating {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("resolving {}: {source}", path.display())]
    Resolve {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("resolves outside the allowed directories")]
    OutsideRoots,
    #[error("writing {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LocalDeliveryError {
    /// A stable code for the error kind.
    pub fn code(&self) -> &'static str {
        match self {
            Self::CreateDir { .. } => "LOCAL_DIR_UNCREATABLE",
            Self::Resolve { .. } => "LOCAL_DIR_UNRESOLVABLE",
            Self::OutsideRoots => "LOCAL_OUTSIDE_ROOTS",
            Self::Write { .. } => "LOCAL_WRITE_FAILED",
        }
    }
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
    // Streaming files first: mime_guess reads ".ts" as TypeScript.
    let extension = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    let streaming = match extension.as_deref() {
        Some("ts") => Some("video/mp2t"),
        Some("m4s") => Some("video/iso.segment"),
        Some("m3u8") => Some("application/vnd.apple.mpegurl"),
        Some("mpd") => Some("application/dash+xml"),
        Some("vtt") => Some("text/vtt"),
        _ => None,
    };
    if let Some(mime) = streaming {
        return mime.to_owned();
    }
    mime_guess::from_path(filename)
        .first_or_octet_stream()
        .essence_str()
        .to_owned()
}

/// Copies `file` into the destination as `filename` and returns its URL. `filename` may
/// be a relative path ("video/720p/index.m3u8") for the files of a ladder's tree.
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

/// Withdraws a file this job delivered (its URL as [`deliver`] returned it), because the
/// job failed: nothing half-done stays presented as done. A file already gone is fine.
#[tracing::instrument(skip_all, fields(url))]
pub async fn withdraw(storage: &Storage, url: &str) -> Result<(), Error> {
    let failed = |cause: String| {
        Error::new(
            ErrorCode::DestinationFailed,
            format!("withdrawing {url}: {cause}"),
        )
    };
    // `deliver` writes S3 URLs unencoded (`s3://bucket/out dir/a.mp4`): split, not parse.
    if let Some((bucket, key)) = url.strip_prefix("s3://").and_then(|r| r.split_once('/')) {
        return storage
            .s3
            .delete(bucket, key)
            .await
            .map_err(|e| failed(e.to_string()));
    }
    match Location::parse(url).map_err(|e| failed(e.to_string()))? {
        Location::File { path } => {
            // Only what lies under the roots, the directory's symlinks resolved, is ours
            // to remove; the file itself is unlinked, never what it may point to.
            let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
                return Err(failed("names no file".into()));
            };
            let dir = match tokio::fs::canonicalize(dir).await {
                Ok(dir) => dir,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(failed(e.to_string())),
            };
            if !storage.roots.contains_resolved(&dir) {
                return Err(failed("resolves outside the allowed directories".into()));
            }
            match tokio::fs::remove_file(dir.join(name)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(failed(e.to_string())),
                _ => Ok(()),
            }
        }
        Location::S3 { .. } | Location::Http { .. } => {
            Err(failed("not a delivered file's URL".into()))
        }
    }
}

/// A temp file that is removed unless kept: a delivery stopped half-way (its job past
/// its deadline, say) leaves no partial file behind.
struct PartialFile(Option<PathBuf>);

impl PartialFile {
    fn kept(mut self) {
        self.0 = None;
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        let Some(path) = self.0.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || std::fs::remove_file(path));
            }
            Err(_) => {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Local destinations are written atomically: a temp file, fsync, then rename, so a
/// reader never sees a half-written output under its final name.
async fn deliver_local(
    file: &Path,
    dir: &Path,
    filename: &str,
    roots: &FileRoots,
) -> Result<PathBuf, LocalDeliveryError> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|source| LocalDeliveryError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
    let dir = tokio::fs::canonicalize(dir)
        .await
        .map_err(|source| LocalDeliveryError::Resolve {
            path: dir.to_owned(),
            source,
        })?;
    if !roots.contains_resolved(&dir) {
        return Err(LocalDeliveryError::OutsideRoots);
    }
    // A tree's files keep their relative place; the names are the planner's own.
    let (dir, filename) = match filename.rsplit_once('/') {
        Some((sub, name)) => {
            let sub_dir = dir.join(sub);
            tokio::fs::create_dir_all(&sub_dir)
                .await
                .map_err(|source| LocalDeliveryError::CreateDir {
                    path: sub_dir.clone(),
                    source,
                })?;
            (sub_dir, name)
        }
        None => (dir, filename),
    };
    let final_path = dir.join(filename);
    let temp_path = dir.join(format!(".{filename}.partial-{}", uuid::Uuid::now_v7()));
    let partial = PartialFile(Some(temp_path.clone()));
    let copy = async {
        tokio::fs::copy(file, &temp_path).await?;
        tokio::fs::File::open(&temp_path).await?.sync_all().await?;
        tokio::fs::rename(&temp_path, &final_path).await
    };
    // On failure the partial file is removed as it drops.
    copy.await.map_err(|source| LocalDeliveryError::Write {
        path: final_path.clone(),
        source,
    })?;
    partial.kept();
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
        assert_eq!(content_type("v/720p/segment_00001.ts"), "video/mp2t");
        assert_eq!(
            content_type("v/master.m3u8"),
            "application/vnd.apple.mpegurl"
        );
        assert_eq!(content_type("v/720p/segment_1.m4s"), "video/iso.segment");
        assert_eq!(content_type("a.webm"), "video/webm");
    }
}
