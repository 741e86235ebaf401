//! S3 and S3-compatible object stores: streaming downloads, and uploads that switch to
//! multipart above a part size, with bounded concurrency. Throttling and 5xx answers are
//! retried with backoff by the SDK's standard retry strategy; a failed multipart upload
//! is aborted so no partial object or orphaned parts remain.

use super::Transfer;
use super::pace::Pace;
use super::source_file::SourceFile;
use crate::config::{Limits, S3Settings};
use crate::error::{Error, ErrorCode};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ObjectCannedAcl, StorageClass};
use futures::{StreamExt, TryStreamExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// How an uploaded object is stored. Empty `acl` / `storage_class` leave the bucket's
/// defaults; the order's validation allows only values S3 knows.
#[derive(Debug, Clone, Default)]
pub struct ObjectOptions {
    pub content_type: String,
    pub acl: String,
    pub storage_class: String,
}

impl ObjectOptions {
    fn acl(&self) -> Option<ObjectCannedAcl> {
        (!self.acl.is_empty()).then(|| ObjectCannedAcl::from(self.acl.as_str()))
    }
    fn storage_class(&self) -> Option<StorageClass> {
        (!self.storage_class.is_empty()).then(|| StorageClass::from(self.storage_class.as_str()))
    }
}

#[derive(Clone)]
pub struct S3Store {
    client: Client,
    part_size: u64,
    concurrency: usize,
}

fn sdk_error(e: impl std::error::Error) -> String {
    DisplayErrorContext(e).to_string()
}

/// Why an upload or a delete failed. The messages are the store's own words, with the
/// part or file they concern.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("reading {}: {source}", path.display())]
    Stat {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("opening {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Seeking or reading a part of the local file.
    #[error("{0}")]
    Read(#[source] std::io::Error),
    /// The local file could not be opened as a request body.
    #[error("{0}")]
    Body(String),
    /// The store or the connection refused a request (the SDK's error with its causes).
    #[error("{0}")]
    Request(String),
    #[error("part {number}: {detail}")]
    Part { number: i32, detail: String },
    #[error("the store returned no upload id")]
    NoUploadId,
    #[error("stopped before the upload finished")]
    Stopped,
}

impl S3Error {
    /// A stable code for the error kind.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Stat { .. } | Self::Open { .. } | Self::Read(_) | Self::Body(_) => {
                "S3_FILE_UNREADABLE"
            }
            Self::Request(_) | Self::Part { .. } => "S3_REQUEST_FAILED",
            Self::NoUploadId => "S3_NO_UPLOAD_ID",
            Self::Stopped => "S3_UPLOAD_STOPPED",
        }
    }

    fn request(e: impl std::error::Error) -> Self {
        Self::Request(sdk_error(e))
    }
}

impl S3Store {
    /// Config first, then the standard AWS environment and provider chain.
    pub async fn from_settings(settings: &S3Settings) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = &settings.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        // Always name the region: left unset, aws-config asks the instance metadata
        // service (169.254.169.254) for it at start-up, from every machine.
        let region = settings
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "us-east-1".to_owned());
        loader = loader.region(Region::new(region));
        if let (Some(key), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            loader = loader.credentials_provider(Credentials::new(
                key.clone(),
                secret.clone(),
                None,
                None,
                "transcoder-config",
            ));
        }
        let shared = loader.load().await;
        let config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(settings.force_path_style)
            // Non-AWS stores often reject the newer default checksums.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .retry_config(RetryConfig::standard().with_max_attempts(settings.max_attempts.max(1)))
            .timeout_config(timeouts(settings));
        Self {
            client: Client::from_conf(config.build()),
            part_size: settings.part_size_bytes.max(5 * 1024 * 1024),
            concurrency: settings.upload_concurrency.max(1),
        }
    }

    /// Streams `s3://bucket/key` into `dest`, refusing objects above
    /// `limits.max_source_bytes`, at the pace `limits` ask of origins.
    pub async fn download(
        &self,
        origin: &str,
        bucket: &str,
        key: &str,
        dest: &Path,
        limits: &Limits,
        progress: &Transfer,
    ) -> Result<(), Error> {
        let mut pace = Pace::start(origin, limits);
        let unavailable = |msg: String, retryable: bool| {
            Error::new(
                ErrorCode::OriginUnavailable,
                format!("origin {origin}: {msg}"),
            )
            .retryable(retryable)
        };
        let request = self.client.get_object().bucket(bucket).key(key).send();
        let response = pace.wait(request).await?.map_err(|e| {
            let missing = e.as_service_error().is_some_and(|se| se.is_no_such_key());
            if missing {
                unavailable("no such object".into(), false)
            } else {
                unavailable(sdk_error(e), true)
            }
        })?;
        let declared = response.content_length().map(|n| n.max(0) as u64);
        let max_bytes = limits.max_source_bytes;
        let mut file =
            SourceFile::create(dest, origin, max_bytes, declared, progress, pace).await?;
        let mut body = response.body;
        while let Some(chunk) = file.wait(body.next()).await? {
            file.write(&chunk.map_err(|e| unavailable(sdk_error(e), true))?)
                .await?;
        }
        file.finish().await
    }

    /// Uploads `file` to `bucket`/`key` (the key is deterministic, so a retried job
    /// overwrites). Returns the object's `s3://` URL.
    pub async fn upload(
        &self,
        file: &Path,
        bucket: &str,
        key: &str,
        options: &ObjectOptions,
        progress: &Transfer,
    ) -> Result<String, S3Error> {
        let size = tokio::fs::metadata(file)
            .await
            .map_err(|source| S3Error::Stat {
                path: file.to_owned(),
                source,
            })?
            .len();
        if size <= self.part_size {
            let body = ByteStream::from_path(file)
                .await
                .map_err(|e| S3Error::Body(sdk_error(e)))?;
            self.client
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type(&options.content_type)
                .set_acl(options.acl())
                .set_storage_class(options.storage_class())
                .body(body)
                .send()
                .await
                .map_err(S3Error::request)?;
            progress.report(size, Some(size));
        } else {
            self.upload_multipart(file, size, bucket, key, options, progress)
                .await?;
        }
        Ok(format!("s3://{bucket}/{key}"))
    }

    /// Deletes `bucket`/`key`; an object already gone is not an error.
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(S3Error::request)
    }

    async fn upload_multipart(
        &self,
        file: &Path,
        size: u64,
        bucket: &str,
        key: &str,
        options: &ObjectOptions,
        progress: &Transfer,
    ) -> Result<(), S3Error> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(&options.content_type)
            .set_acl(options.acl())
            .set_storage_class(options.storage_class())
            .send()
            .await
            .map_err(S3Error::request)?;
        let upload_id = created.upload_id().ok_or(S3Error::NoUploadId)?.to_owned();
        let parts = tokio::select! {
            parts = self.upload_parts(file, size, bucket, key, &upload_id, progress) => parts,
            _ = progress.stopped() => Err(S3Error::Stopped),
        };
        match parts {
            Ok(parts) => {
                self.client
                    .complete_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(S3Error::request)?;
                Ok(())
            }
            Err(e) => {
                // Leave nothing behind: no object was created, and the parts go too.
                if let Err(abort) = self
                    .client
                    .abort_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(&upload_id)
                    .send()
                    .await
                {
                    tracing::warn!(error = %sdk_error(abort), "aborting a multipart upload failed");
                }
                Err(e)
            }
        }
    }

    async fn upload_parts(
        &self,
        file: &Path,
        size: u64,
        bucket: &str,
        key: &str,
        upload_id: &str,
        progress: &Transfer,
    ) -> Result<Vec<CompletedPart>, S3Error> {
        let count = size.div_ceil(self.part_size);
        let sent = std::sync::atomic::AtomicU64::new(0);
        let mut parts: Vec<CompletedPart> = futures::stream::iter(0..count)
            .map(|index| {
                let sent = &sent;
                async move {
                    let offset = index * self.part_size;
                    let len = self.part_size.min(size - offset);
                    let bytes = read_part(file, offset, len).await?;
                    let number = index as i32 + 1;
                    let answer = self
                        .client
                        .upload_part()
                        .bucket(bucket)
                        .key(key)
                        .upload_id(upload_id)
                        .part_number(number)
                        .body(ByteStream::from(bytes))
                        .send()
                        .await
                        .map_err(|e| S3Error::Part {
                            number,
                            detail: sdk_error(e),
                        })?;
                    let done = sent.fetch_add(len, std::sync::atomic::Ordering::Relaxed) + len;
                    progress.report(done, Some(size));
                    Ok::<_, S3Error>(
                        CompletedPart::builder()
                            .part_number(number)
                            .set_e_tag(answer.e_tag().map(str::to_owned))
                            .build(),
                    )
                }
            })
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await?;
        parts.sort_by_key(|p| p.part_number());
        Ok(parts)
    }
}

/// Connect, read and whole-operation timeouts for every request, so a store that
/// hangs fails the transfer (retried as a destination or origin failure) instead of
/// holding the job.
fn timeouts(settings: &S3Settings) -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(settings.connect_timeout_seconds.max(1)))
        .read_timeout(Duration::from_secs(settings.read_timeout_seconds.max(1)))
        .operation_timeout(Duration::from_secs(
            settings.operation_timeout_seconds.max(1),
        ))
        .build()
}

async fn read_part(file: &Path, offset: u64, len: u64) -> Result<Vec<u8>, S3Error> {
    let mut f = tokio::fs::File::open(file)
        .await
        .map_err(|source| S3Error::Open {
            path: file.to_owned(),
            source,
        })?;
    f.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(S3Error::Read)?;
    let mut buf = vec![0u8; len as usize];
    f.read_exact(&mut buf).await.map_err(S3Error::Read)?;
    Ok(buf)
}
