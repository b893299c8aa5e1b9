//! Which file a database is, so that a store notices when its file was removed, replaced or
//! emptied while it was in use; and whether the file system holding it is full.

use std::io;
use std::path::Path;

/// A file's identity on its file system, and whether it is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
    empty: bool,
}

impl FileId {
    /// The identity of the file at `path`, or `None` if there is none.
    pub(crate) fn of(path: &Path) -> io::Result<Option<FileId>> {
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        #[cfg(unix)]
        let (dev, ino) = {
            use std::os::unix::fs::MetadataExt;
            (meta.dev(), meta.ino())
        };
        // Without inodes, a file is known by its creation time.
        #[cfg(not(unix))]
        let (dev, ino) = (
            0,
            meta.created()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        );
        Ok(Some(FileId {
            dev,
            ino,
            empty: meta.len() == 0,
        }))
    }

    /// Is `other` the same file (whatever its size)?
    pub(crate) fn same_file(&self, other: &FileId) -> bool {
        self.dev == other.dev && self.ino == other.ino
    }

    /// Is the file empty?
    pub(crate) fn is_empty(&self) -> bool {
        self.empty
    }
}

/// Is the file system holding `path` (a file or a folder) out of space? `false` when unknown.
pub(crate) fn file_system_full(path: &Path) -> bool {
    #[cfg(unix)]
    {
        let dir = if path.is_dir() {
            path
        } else {
            match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            }
        };
        match rustix::fs::statvfs(dir) {
            // Less than a SQLite page or two left for this process to write.
            Ok(s) => s.f_bavail.saturating_mul(s.f_frsize) < 16 * 1024,
            Err(_) => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// Why this process cannot write in the folder holding `path`, if it cannot: a read-only file
/// system, or no permission. `None` when it can, or when that cannot be told.
pub(crate) fn folder_unwritable(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        match rustix::fs::access(dir, rustix::fs::Access::WRITE_OK) {
            Ok(()) => None,
            Err(rustix::io::Errno::ROFS) => Some(format!(
                "its folder {} is on a read-only file system",
                dir.display()
            )),
            Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => Some(format!(
                "this process may not write in its folder {}",
                dir.display()
            )),
            Err(_) => None,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}
