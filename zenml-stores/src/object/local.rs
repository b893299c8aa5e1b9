//! Writing a new object into a local folder: straight into a staged file, then a hard link.
//!
//! A local folder needs none of a bucket's machinery: the bytes go to a file of their own under
//! `.staging/` with plain `write` calls on the caller's thread (no part buffers, no copy into
//! them, no runtime), and publishing links that file at its key only if the key is free, which is
//! atomic and copies no byte.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use object_store::path::Path;
use zenml_core::store::{ArtifactStoreError, ArtifactWriter, ObjectInfo};

use super::{STAGING_PREFIX, Shared, writer::unique_name};

/// An object being written into a local folder's staging area.
pub(crate) struct LocalWriter {
    shared: Arc<Shared>,
    /// The folder of the store.
    root: PathBuf,
    /// The staged file, once the first byte (or the publish) creates it.
    staged: Option<(File, PathBuf)>,
    /// A write failed; the object can no longer be published.
    failed: bool,
}

impl std::fmt::Debug for LocalWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalWriter")
            .field("staged", &self.staged.as_ref().map(|(_, p)| p))
            .finish_non_exhaustive()
    }
}

impl LocalWriter {
    pub(crate) fn new(shared: Arc<Shared>, root: PathBuf) -> Self {
        LocalWriter {
            shared,
            root,
            staged: None,
            failed: false,
        }
    }

    /// The staged file, created on first use.
    fn file(&mut self) -> io::Result<&mut File> {
        if self.staged.is_none() {
            let dir = self
                .root
                .join(self.shared.prefix.as_ref())
                .join(STAGING_PREFIX);
            std::fs::create_dir_all(&dir)?;
            let path = dir.join(unique_name());
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)?;
            self.staged = Some((file, path));
        }
        match &mut self.staged {
            Some((file, _)) => Ok(file),
            None => Err(io::Error::other("no staged file")),
        }
    }

    /// Removes the staged file, if any (best effort).
    fn discard(&mut self) {
        if let Some((file, path)) = self.staged.take() {
            drop(file);
            let _ = std::fs::remove_file(path);
        }
    }

    fn publish_staged(&mut self, dest: &Path) -> io::Result<()> {
        let fsync = self.shared.fsync;
        let file = self.file()?;
        if fsync {
            file.sync_all()?;
        }
        let Some((_, staged)) = &self.staged else {
            return Err(io::Error::other("no staged file"));
        };
        let to = self.root.join(dest.as_ref());
        let linked = match std::fs::hard_link(staged, &to) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::hard_link(staged, &to)
            }
            other => other,
        };
        match linked {
            // Taken: the object there is kept (content addressing makes it equal); anything else
            // standing there is reported by `head_published`.
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        if fsync && let Some(parent) = to.parent() {
            File::open(parent)?.sync_all()?;
        }
        Ok(())
    }
}

impl Write for LocalWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other(
                "an earlier write to this artifact store object failed",
            ));
        }
        let written = self.file().and_then(|f| f.write(data));
        if written.is_err() {
            self.failed = true;
        }
        written
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(
                "an earlier write to this artifact store object failed",
            ));
        }
        let written = self.file().and_then(|f| f.write_all(data));
        if written.is_err() {
            self.failed = true;
        }
        written
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ArtifactWriter for LocalWriter {
    fn publish(mut self: Box<Self>, key: &str) -> Result<ObjectInfo, ArtifactStoreError> {
        let dest = self.shared.location(key)?;
        if self.failed {
            return Err(self
                .shared
                .backend("an earlier write to this object failed; it cannot be published"));
        }
        let published = self.publish_staged(&dest);
        self.discard();
        published.map_err(|e| {
            self.shared
                .backend(format!("cannot publish the object at `{key}`: {e}"))
        })?;
        self.shared.head_published(&dest, key)
    }

    fn abort(mut self: Box<Self>) -> Result<(), ArtifactStoreError> {
        self.discard();
        Ok(())
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        self.discard();
    }
}
