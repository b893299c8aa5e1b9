//! The errors of the shared layout: a database failure (of whichever backend), unreadable data,
//! or a [`MetadataError`] decided by the layout's logic (not found, conflict).

use zenml_core::store::{Conflict, Incompatibility, MetadataError};

/// The error type of the stores' internals. Each backend turns it into a [`MetadataError`],
/// with what it knows of its own database's failures.
#[derive(Debug)]
pub(crate) enum Error {
    #[cfg(feature = "sqlite")]
    Sqlite(rusqlite::Error),
    #[cfg(feature = "mysql")]
    Mysql(mysql::Error),
    /// A stored value zenml cannot read.
    Corrupt(String),
    /// Decided by the store's logic.
    Store(MetadataError),
}

#[cfg(feature = "sqlite")]
impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sqlite(e)
    }
}

#[cfg(feature = "mysql")]
impl From<mysql::Error> for Error {
    fn from(e: mysql::Error) -> Self {
        Error::Mysql(e)
    }
}

impl From<MetadataError> for Error {
    fn from(e: MetadataError) -> Self {
        Error::Store(e)
    }
}

impl From<Conflict> for Error {
    fn from(c: Conflict) -> Self {
        Error::Store(c.into())
    }
}

impl Error {
    /// The public error of what the layout decided or found unreadable; a database failure of
    /// `store` (a backend's own are turned into errors by the backend, with what it knows of
    /// them).
    pub(crate) fn into_metadata(self, store: &'static str, op: &'static str) -> MetadataError {
        match self {
            Error::Store(e) => e,
            Error::Corrupt(what) => MetadataError::backend(store, Unreadable { op, what }),
            #[cfg(feature = "sqlite")]
            Error::Sqlite(e) => MetadataError::backend(store, e),
            #[cfg(feature = "mysql")]
            Error::Mysql(e) => MetadataError::backend(store, e),
        }
    }
}

/// A stored value zenml cannot read.
#[derive(Debug, thiserror::Error)]
#[error("{op}: unreadable record: {what}")]
pub(crate) struct Unreadable {
    /// The operation.
    op: &'static str,
    /// What is wrong.
    what: String,
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// The store at `location` is not one this version can use.
pub(crate) fn incompatible(location: &str, reason: Incompatibility) -> Error {
    Error::Store(MetadataError::Incompatible {
        store: location.to_owned(),
        reason,
    })
}

/// The store at `location` is damaged.
pub(crate) fn damaged(location: &str, detail: &str) -> Error {
    Error::Store(MetadataError::Damaged {
        store: location.to_owned(),
        detail: detail.to_owned(),
    })
}

pub(crate) fn not_found(what: &'static str, key: impl ToString) -> Error {
    Error::Store(MetadataError::NotFound {
        what,
        key: key.to_string(),
    })
}
