//! Where bytes come from and go to: origins, destinations, and per-job work dirs.

pub mod destination;
pub mod origin;

use std::path::{Path, PathBuf};

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
