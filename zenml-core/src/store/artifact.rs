//! The artifact store: where artifacts' bytes live, content-addressed and write-once.
//!
//! The store itself knows nothing of hashes: [`crate::artifact::io::ContentStore`] hashes the
//! bytes as they stream into an [`ArtifactWriter`], then publishes them under a key derived from
//! the hash. A backend provides atomic publication (a staged file renamed into place, a single
//! put or a completed multipart upload), so a reader never sees half an artifact.

use std::fmt;
use std::io::{Read, Write};
use std::time::Duration;

/// A failure of the artifact store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactStoreError {
    /// No object under that key.
    #[error("{store}: no artifact at `{key}`")]
    NotFound {
        /// The store, described.
        store: String,
        /// The key.
        key: String,
    },
    /// The backend failed.
    #[error("{store}: {source}")]
    Backend {
        /// The store, described.
        store: String,
        /// The failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A key the store cannot use: empty, absolute, with `.`/`..` or empty segments, or inside the
    /// store's own reserved area.
    #[error("{store}: invalid artifact key `{key}`: {reason}")]
    InvalidKey {
        /// The store, described.
        store: String,
        /// The key.
        key: String,
        /// Why it is refused.
        reason: String,
    },
    /// A URL or configuration the store cannot use.
    #[error("{0}")]
    Config(String),
    /// Something that is not an object stands at the key (a folder, in a local store).
    #[error("{store}: {found} stands at `{key}`, where an object should be")]
    NotAnObject {
        /// The store, described.
        store: String,
        /// The key.
        key: String,
        /// What stands there (`"a folder"`).
        found: String,
    },
}

/// What the store knows of one stored object without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its size in bytes.
    pub size: u64,
    /// A tag that changes whenever the object is rewritten (an ETag, or inode and modification
    /// time for a local file), if the backend has one.
    pub etag: Option<String>,
}

/// Where artifacts' bytes are kept.
///
/// Keys are relative, `/`-separated paths chosen by the runtime; a backend maps them under its
/// root (a folder, a bucket and prefix) and refuses any other key with
/// [`ArtifactStoreError::InvalidKey`]. Objects are never modified once published. The
/// conformance suite (`store::conformance::artifact`, feature `conformance`) checks a backend.
pub trait ArtifactStore: fmt::Debug + Send + Sync + 'static {
    /// A short description for people (`file:///repo/.zenml/artifacts`), without secrets.
    fn describe(&self) -> String;

    /// The full URI of the object at `key`, as recorded in the metadata store.
    fn uri(&self, key: &str) -> String;

    /// Starts writing a new object. Nothing is visible under any key until
    /// [`ArtifactWriter::publish`].
    fn create(&self) -> Result<Box<dyn ArtifactWriter>, ArtifactStoreError>;

    /// Streams the object at `key`.
    fn open(&self, key: &str) -> Result<Box<dyn Read + Send>, ArtifactStoreError>;

    /// What the store knows of the object at `key`, or `None` if there is none.
    fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ArtifactStoreError>;

    /// Where the object at `key` would be as a file on this machine, if the store keeps its
    /// objects as local files (a local folder), so that a reader of a large file artifact can
    /// copy it inside the kernel instead of streaming it; `None` otherwise (the default). The
    /// object need not exist: the path is only where it would be.
    fn local_path(&self, key: &str) -> Result<Option<std::path::PathBuf>, ArtifactStoreError> {
        let _ = key;
        Ok(None)
    }

    /// Removes the object at `key` (no error if there is none). Used only to drop an object
    /// whose bytes no longer match its content address.
    fn delete(&self, key: &str) -> Result<(), ArtifactStoreError>;

    /// Checks that the store can be reached and read with the credentials it was given (for a
    /// bucket: lists its root), so that a configuration is refused before it is saved. A missing
    /// bucket, refused credentials or an endpoint that does not answer is an
    /// [`ArtifactStoreError::Config`] of one line. The default, for stores that opening already
    /// checked (a local folder, memory), checks nothing more.
    fn probe(&self) -> Result<(), ArtifactStoreError> {
        Ok(())
    }

    /// Moves what stands at `key` and is not an object ([`ArtifactStoreError::NotAnObject`]: a
    /// folder, in a local store) out of the way, into a place of the store's own where it is
    /// kept; returns that place. `None` when nothing needed moving (the default, for stores
    /// where only objects can exist).
    fn move_aside(&self, key: &str) -> Result<Option<String>, ArtifactStoreError> {
        let _ = key;
        Ok(None)
    }

    /// Removes what writers left in the staging area longer ago than `older_than` (a process
    /// that died while writing leaves its staged bytes behind; a live writer keeps touching
    /// its own). Returns how many entries were removed. The default, for stores without a
    /// staging area of their own, removes nothing.
    fn remove_stale_staging(&self, older_than: Duration) -> Result<u64, ArtifactStoreError> {
        let _ = older_than;
        Ok(0)
    }
}

/// An object being written. Dropping it without publishing discards the bytes.
pub trait ArtifactWriter: Write + Send {
    /// Makes the bytes written so far visible at `key`, atomically. If an object already exists
    /// at `key` it is kept and the new bytes are discarded (content addressing makes them equal).
    /// Returns what the store knows of the object now at `key`.
    fn publish(self: Box<Self>, key: &str) -> Result<ObjectInfo, ArtifactStoreError>;

    /// Discards the bytes written so far.
    fn abort(self: Box<Self>) -> Result<(), ArtifactStoreError>;
}
