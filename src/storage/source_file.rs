//! The local copy of a remote source, written chunk by chunk under the size limit.

use super::Transfer;
use super::pace::Pace;
use crate::error::{Error, ErrorCode};
use std::path::Path;
use tokio::io::AsyncWriteExt;

pub struct SourceFile<'a> {
    file: tokio::fs::File,
    origin: &'a str,
    max_bytes: u64,
    declared: Option<u64>,
    written: u64,
    progress: &'a Transfer,
    pace: Pace,
}

pub fn too_large(origin: &str, size: u64, max: u64) -> Error {
    Error::new(
        ErrorCode::LimitExceeded,
        format!("origin {origin} has {size} bytes or more, over limits.max_source_bytes = {max}"),
    )
}

fn write_failed(e: std::io::Error) -> Error {
    Error::internal(format!("writing the source: {e}"))
}

impl<'a> SourceFile<'a> {
    /// Refuses at once when the declared size is over the limit, before any byte is read.
    /// `pace` has timed the download so far; the body must keep it.
    pub async fn create(
        dest: &Path,
        origin: &'a str,
        max_bytes: u64,
        declared: Option<u64>,
        progress: &'a Transfer,
        mut pace: Pace,
    ) -> Result<Self, Error> {
        if let Some(size) = declared.filter(|n| *n > max_bytes) {
            return Err(too_large(origin, size, max_bytes));
        }
        let file = tokio::fs::File::create(dest)
            .await
            .map_err(|e| Error::internal(format!("creating {}: {e}", dest.display())))?;
        pace.body_started();
        Ok(Self {
            file,
            origin,
            max_bytes,
            declared,
            written: 0,
            progress,
            pace,
        })
    }

    /// Awaits the next chunk (or anything) at the pace the download must keep.
    pub async fn wait<T>(
        &mut self,
        next: impl std::future::Future<Output = T>,
    ) -> Result<T, Error> {
        self.pace.wait(next).await
    }

    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), Error> {
        self.written += chunk.len() as u64;
        if self.written > self.max_bytes {
            return Err(too_large(self.origin, self.written, self.max_bytes));
        }
        self.file.write_all(chunk).await.map_err(write_failed)?;
        self.progress.report(self.written, self.declared);
        self.pace.received(chunk.len() as u64)
    }

    /// Flushes, and checks the origin sent what it declared.
    pub async fn finish(mut self) -> Result<(), Error> {
        if let Some(size) = self.declared.filter(|n| *n != self.written) {
            return Err(Error::new(
                ErrorCode::OriginUnavailable,
                format!(
                    "origin {}: sent {} bytes but declared {size}",
                    self.origin, self.written
                ),
            )
            .retryable(true));
        }
        self.file.flush().await.map_err(write_failed)
    }
}
