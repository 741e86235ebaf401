//! Where bytes come from and go to: origins, destinations, and per-job work dirs.

pub mod destination;
mod http_origin;
pub mod origin;
mod pace;
pub mod s3;
pub mod s3_url;
mod source_file;

use crate::egress::EgressClient;
use s3::S3Store;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::watch;

/// Everything origins and destinations need to reach bytes.
#[derive(Clone)]
pub struct Storage {
    pub roots: FileRoots,
    pub http: EgressClient,
    pub s3: S3Store,
}

/// Bytes moved so far, and the total when known.
pub type TransferState = (u64, Option<u64>);

/// A progress reporter for a transfer; reports are coalesced, the latest wins. It also
/// carries the job's stop token, for transfers that must clean up when stopped (an S3
/// multipart upload aborts itself rather than leave its parts behind).
#[derive(Clone, Default)]
pub struct Transfer {
    progress: Option<Arc<watch::Sender<TransferState>>>,
    stop: tokio_util::sync::CancellationToken,
}

impl Transfer {
    pub fn channel() -> (Self, watch::Receiver<TransferState>) {
        let (tx, rx) = watch::channel((0, None));
        let transfer = Self {
            progress: Some(Arc::new(tx)),
            stop: Default::default(),
        };
        (transfer, rx)
    }

    /// The same reporter, stopped when `stop` fires.
    pub fn stopped_by(mut self, stop: tokio_util::sync::CancellationToken) -> Self {
        self.stop = stop;
        self
    }

    pub fn report(&self, done: u64, total: Option<u64>) {
        if let Some(tx) = &self.progress {
            tx.send_replace((done, total));
        }
    }

    /// Resolves when the transfer should stop.
    pub async fn stopped(&self) {
        self.stop.cancelled().await
    }
}

/// The directories `file://` origins and destinations may use, canonicalised once at
/// start-up so that symlinks cannot lead outside them.
#[derive(Debug, Clone)]
pub struct FileRoots(Vec<PathBuf>);

impl FileRoots {
    pub fn new(dirs: impl IntoIterator<Item = PathBuf>) -> std::io::Result<Self> {
        let mut roots = Vec::new();
        for dir in dirs {
            std::fs::create_dir_all(&dir)?;
            roots.push(dir.canonicalize()?);
        }
        Ok(Self(roots))
    }

    pub fn as_slice(&self) -> &[PathBuf] {
        &self.0
    }

    /// True when `path`, with every symlink resolved, lies under a root.
    pub fn contains_resolved(&self, resolved: &Path) -> bool {
        self.0.iter().any(|root| resolved.starts_with(root))
    }
}

/// A job's scratch directory. [`WorkDir::remove`] deletes it on the blocking pool; one
/// dropped without it (a panic) is deleted there too, without waiting.
pub struct WorkDir(Option<PathBuf>);

fn joined(e: tokio::task::JoinError) -> std::io::Error {
    std::io::Error::other(e)
}

impl WorkDir {
    /// Creates `base/name` on the blocking pool, emptied first if an earlier attempt
    /// that crashed left it behind (it may hold gigabytes).
    pub async fn create(base: &Path, name: &str) -> std::io::Result<Self> {
        let path = base.join(name);
        let made = path.clone();
        tokio::task::spawn_blocking(move || {
            if made.exists() {
                std::fs::remove_dir_all(&made)?;
            }
            std::fs::create_dir_all(&made)
        })
        .await
        .map_err(joined)??;
        Ok(Self(Some(path)))
    }

    pub fn path(&self) -> &Path {
        self.0
            .as_deref()
            .expect("a work dir has a path until it is removed")
    }

    /// Deletes the directory and everything in it, and waits until it is gone.
    pub async fn remove(mut self) -> std::io::Result<()> {
        let Some(path) = self.0.take() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || std::fs::remove_dir_all(path))
            .await
            .map_err(joined)?
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let Some(path) = self.0.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn_blocking(move || std::fs::remove_dir_all(path));
            }
            Err(_) => {
                let _ = std::fs::remove_dir_all(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_work_dir_starts_clean_and_is_removed_whole() {
        let base = tempfile::tempdir().unwrap();
        let stale = base.path().join("job").join("left-over");
        std::fs::create_dir_all(&stale).unwrap();
        let work = WorkDir::create(base.path(), "job").await.unwrap();
        assert!(!stale.exists(), "an earlier attempt's files are gone");
        std::fs::create_dir_all(work.path().join("outputs/v")).unwrap();
        std::fs::write(work.path().join("outputs/v/a.ts"), b"data").unwrap();
        let path = work.path().to_owned();
        work.remove().await.unwrap();
        assert!(!path.exists());
    }
}
