//! Where an archive lives. The verifier and writer see an archive as a flat
//! set of `/`-separated relative paths with bytes behind them, which is what
//! every object store offers; [`LocalDir`] is the local-disk default (the
//! object_store backends — S3, GCS, Azure — plug in behind the same trait).

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::QueryError;

/// A set of files addressed by relative `/`-separated paths.
pub trait ArchiveStore: Send + Sync {
    /// Every file path, sorted.
    fn list(&self) -> Result<Vec<String>, QueryError>;
    /// A file's bytes.
    fn read(&self, path: &str) -> Result<Bytes, QueryError>;
    /// Writes a file atomically (readers never see half a file).
    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), QueryError>;
    /// Deletes a file.
    fn delete(&self, path: &str) -> Result<(), QueryError>;
    /// A human-readable location, for messages.
    fn describe(&self) -> String;
}

/// An archive in a local directory.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// The archive rooted at `root` (which need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> LocalDir {
        LocalDir { root: root.into() }
    }

    fn full(&self, path: &str) -> Result<PathBuf, QueryError> {
        if path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(QueryError::Store(format!("invalid archive path `{path}`")));
        }
        Ok(self.root.join(path))
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(root, &path, out)?;
        } else {
            let rel = path.strip_prefix(root).expect("under root");
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let rel = rel.join("/");
            // Temporary files of an interrupted atomic write are not part of the archive.
            if !rel
                .rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with(".tmp-"))
            {
                out.push(rel);
            }
        }
    }
    Ok(())
}

impl ArchiveStore for LocalDir {
    fn list(&self) -> Result<Vec<String>, QueryError> {
        let mut out = Vec::new();
        match walk(&self.root, &self.root, &mut out) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(QueryError::Store(format!(
                    "cannot list {}: {e}",
                    self.root.display()
                )));
            }
        }
        out.sort();
        Ok(out)
    }

    fn read(&self, path: &str) -> Result<Bytes, QueryError> {
        let full = self.full(path)?;
        std::fs::read(&full)
            .map(Bytes::from)
            .map_err(|e| QueryError::Store(format!("cannot read {}: {e}", full.display())))
    }

    fn write(&self, path: &str, bytes: &[u8]) -> Result<(), QueryError> {
        let full = self.full(path)?;
        let dir = full.parent().expect("relative path has a parent");
        let err =
            |e: std::io::Error| QueryError::Store(format!("cannot write {}: {e}", full.display()));
        std::fs::create_dir_all(dir).map_err(err)?;
        let tmp = dir.join(format!(
            ".tmp-{}",
            full.file_name().expect("file name").to_string_lossy()
        ));
        std::fs::write(&tmp, bytes).map_err(err)?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(err)?;
        std::fs::rename(&tmp, &full).map_err(err)?;
        // The rename is durable once the directory is synced.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(err)
    }

    fn delete(&self, path: &str) -> Result<(), QueryError> {
        let full = self.full(path)?;
        std::fs::remove_file(&full)
            .map_err(|e| QueryError::Store(format!("cannot delete {}: {e}", full.display())))
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}
