//! Where files live: parsing origin and destination URIs, and the allowed-roots check.

use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};
use url::Url;

/// Where a file lives: a local path or a remote object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "lowercase")]
pub enum Location {
    File { path: PathBuf },
    Http { url: String },
    S3 { bucket: String, key: String },
}

impl Location {
    /// Parses `file:///abs/path`, `http(s)://...` or `s3://bucket/key`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("is required".into());
        }
        let url = Url::parse(raw).map_err(|e| format!("is not a valid URI: {e}"))?;
        match url.scheme() {
            "file" => {
                if url
                    .host_str()
                    .is_some_and(|h| !h.is_empty() && h != "localhost")
                {
                    return Err("file URIs must not name a host".into());
                }
                let path = url
                    .to_file_path()
                    .map_err(|_| "is not a valid file path".to_string())?;
                if path.components().any(|c| c == Component::ParentDir) {
                    return Err("must not contain '..'".into());
                }
                Ok(Location::File { path })
            }
            "http" | "https" => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err("must name a host".into());
                }
                Ok(Location::Http { url: url.into() })
            }
            "s3" => {
                let bucket = url.host_str().unwrap_or_default().to_owned();
                if bucket.is_empty() {
                    return Err("must name a bucket: s3://bucket/key".into());
                }
                let key = url.path().trim_start_matches('/').to_owned();
                Ok(Location::S3 { bucket, key })
            }
            other => Err(format!(
                "scheme '{other}' is not supported (use file, http, https or s3)"
            )),
        }
    }
}

/// True when `path` is lexically inside one of `roots` (which must be absolute).
pub fn is_under_roots(path: &Path, roots: &[PathBuf]) -> bool {
    path.is_absolute()
        && !path.components().any(|c| c == Component::ParentDir)
        && roots.iter().any(|root| path.starts_with(root))
}
