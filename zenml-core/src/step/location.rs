//! Where a datasource reads from, for the common cases that fingerprint themselves.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::hash::{Hash128, Hasher};

/// Where a datasource's data lives, when it is one of the common cases: a file or a folder.
///
/// A datasource that names its location ([`DatasourceStep::location`]) fingerprints itself: the
/// fingerprint enters its cache key, so the step is reused exactly while the data is unchanged,
/// with no [`DatasourceStep::fingerprint`] to write.
///
/// [`DatasourceStep::location`]: super::DatasourceStep::location
/// [`DatasourceStep::fingerprint`]: super::DatasourceStep::fingerprint
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataLocation {
    /// A file: its bytes are hashed.
    File(PathBuf),
    /// A folder: the relative path, size and bytes of every file under it, recursively, are
    /// hashed in path order (so adding, removing, renaming or editing a file changes it).
    Folder(PathBuf),
}

/// A location whose data cannot be fingerprinted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocationError {
    /// A file or folder cannot be read.
    #[error("cannot fingerprint `{}`: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A folder was named, and the path is something else.
    #[error("cannot fingerprint `{}`: it is not a folder", .0.display())]
    NotAFolder(PathBuf),
}

impl DataLocation {
    /// The file at `path`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        DataLocation::File(path.into())
    }

    /// The folder at `path`, and everything under it.
    pub fn folder(path: impl Into<PathBuf>) -> Self {
        DataLocation::Folder(path.into())
    }

    /// The fingerprint of the data there now.
    pub fn fingerprint(&self) -> Result<Hash128, LocationError> {
        let mut hasher = Hasher::new();
        match self {
            DataLocation::File(path) => {
                hasher.field(b"file");
                hash_file(path, &mut hasher)?;
            }
            DataLocation::Folder(path) => {
                if !path.is_dir() {
                    return Err(LocationError::NotAFolder(path.clone()));
                }
                hasher.field(b"folder");
                hash_folder(path, Path::new(""), &mut hasher)?;
            }
        }
        Ok(hasher.finish())
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> LocationError + '_ {
    move |source| LocationError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Feeds the file's bytes, streamed.
fn hash_file(path: &Path, hasher: &mut Hasher) -> Result<(), LocationError> {
    let mut file = std::fs::File::open(path).map_err(io_error(path))?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_error(path))?;
        if n == 0 {
            return Ok(());
        }
        hasher.update(&buf[..n]);
    }
}

/// Feeds every file under `root.join(relative)`: its relative path, its size, then its bytes.
fn hash_folder(root: &Path, relative: &Path, hasher: &mut Hasher) -> Result<(), LocationError> {
    let dir = root.join(relative);
    let mut entries = std::fs::read_dir(&dir)
        .and_then(|entries| {
            entries
                .map(|e| e.map(|e| e.file_name()))
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(io_error(&dir))?;
    entries.sort();
    for name in entries {
        let relative = relative.join(&name);
        let path = root.join(&relative);
        let meta = std::fs::metadata(&path).map_err(io_error(&path))?;
        if meta.is_dir() {
            hash_folder(root, &relative, hasher)?;
        } else {
            hasher.field(relative.as_os_str().as_encoded_bytes());
            hasher.update(&meta.len().to_le_bytes());
            hash_file(&path, hasher)?;
        }
    }
    Ok(())
}
