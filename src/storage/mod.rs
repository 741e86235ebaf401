//! Where bytes come from and go to: origins, destinations, and per-job work dirs.

pub mod destination;
mod http_origin;
pub mod origin;
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

/// A progress reporter for a transfer; reports are coalesced, the latest wins.
#[derive(Clone, Default)]
pub struct Transfer(Option<Arc<watch::Sender<TransferState>>>);

impl Transfer {
    pub fn channel() -> (Self, watch::Receiver<TransferState>) {
        let (tx, rx) = watch::channel((0, None));
        (Self(Some(Arc::new(tx))), rx)
    }

    pub fn report(&self, done: u64, total: Option<u64>) {
        if let Some(tx) = &self.0 {
            tx.send_replace((done, total));
        }
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

/// A job's scratch directory, removed when dropped.
pub struct WorkDir(PathBuf);

impl WorkDir {
    pub fn create(base: &Path, name: &str) -> std::io::Result<Self> {
        let path = base.join(name);
        if path.exists() {
            // Left by an earlier attempt that crashed: start clean.
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
