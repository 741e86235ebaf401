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

/// Why a URI names no usable location. The messages follow the field name
/// ("order.origin is required").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error("is required")]
    Required,
    #[error("is not a valid URI: {0}")]
    InvalidUri(#[source] url::ParseError),
    #[error("file URIs must not name a host")]
    FileHost,
    #[error("is not a valid file path")]
    FilePath,
    #[error("must not contain '..'")]
    ParentDir,
    #[error("must name a host")]
    NoHost,
    #[error("must name a bucket: s3://bucket/key")]
    NoBucket,
    #[error("scheme '{0}' is not supported (use file, http, https or s3)")]
    Scheme(String),
}

impl LocationError {
    /// A stable code for the error kind.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Required => "LOCATION_REQUIRED",
            Self::InvalidUri(_) => "LOCATION_INVALID_URI",
            Self::FileHost | Self::FilePath | Self::ParentDir => "LOCATION_INVALID_FILE_PATH",
            Self::NoHost => "LOCATION_NO_HOST",
            Self::NoBucket => "LOCATION_NO_BUCKET",
            Self::Scheme(_) => "LOCATION_SCHEME_UNSUPPORTED",
        }
    }
}

impl Location {
    /// Parses `file:///abs/path`, `http(s)://...` or `s3://bucket/key`.
    pub fn parse(raw: &str) -> Result<Self, LocationError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(LocationError::Required);
        }
        let url = Url::parse(raw).map_err(LocationError::InvalidUri)?;
        match url.scheme() {
            "file" => {
                if url
                    .host_str()
                    .is_some_and(|h| !h.is_empty() && h != "localhost")
                {
                    return Err(LocationError::FileHost);
                }
                let path = url.to_file_path().map_err(|()| LocationError::FilePath)?;
                if path.components().any(|c| c == Component::ParentDir) {
                    return Err(LocationError::ParentDir);
                }
                Ok(Location::File { path })
            }
            "http" | "https" => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(LocationError::NoHost);
                }
                Ok(Location::Http { url: url.into() })
            }
            "s3" => {
                let bucket = url.host_str().unwrap_or_default().to_owned();
                if bucket.is_empty() {
                    return Err(LocationError::NoBucket);
                }
                let key = url.path().trim_start_matches('/').to_owned();
                Ok(Location::S3 { bucket, key })
            }
            other => Err(LocationError::Scheme(other.to_owned())),
        }
    }
}

/// True when `path` is lexically inside one of `roots` (which must be absolute).
pub fn is_under_roots(path: &Path, roots: &[PathBuf]) -> bool {
    path.is_absolute()
        && !path.components().any(|c| c == Component::ParentDir)
        && roots.iter().any(|root| path.starts_with(root))
}
