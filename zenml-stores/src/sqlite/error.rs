//! Errors of the SQLite store, and how they become [`MetadataError`]s.

use zenml_core::store::MetadataError;

/// The backend name in errors.
pub(crate) const STORE: &str = "sqlite";

/// A failure of the SQLite store, with what it was doing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum SqliteError {
    /// The database could not be opened (a missing folder, no permission, a locked file).
    #[error("cannot open {location}: {source}{}", busy_hint(.source))]
    Open {
        /// The database (`sqlite:/path/metadata.db`).
        location: String,
        /// The failure.
        #[source]
        source: rusqlite::Error,
    },
    /// A database call failed.
    #[error("{op}: {source}{}", busy_hint(.source))]
    Sql {
        /// The operation (`"begin_execution"`).
        op: &'static str,
        /// The failure.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored value zenml cannot read.
    #[error("{op}: unreadable record: {what}")]
    Corrupt {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        what: String,
    },
}

fn busy_hint(e: &rusqlite::Error) -> &'static str {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            " (another process held the database for longer than the busy timeout)"
        }
        _ => "",
    }
}

/// The error type of the store's internals: a database failure, unreadable data, or a
/// [`MetadataError`] decided by the store's logic (not found, conflict).
#[derive(Debug)]
pub(crate) enum Error {
    Sql(rusqlite::Error),
    Corrupt(String),
    Store(MetadataError),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sql(e)
    }
}

impl From<MetadataError> for Error {
    fn from(e: MetadataError) -> Self {
        Error::Store(e)
    }
}

impl Error {
    /// The public error of a failure while opening `location`.
    pub(crate) fn into_open_error(self, location: &str) -> MetadataError {
        match self {
            Error::Sql(source) => MetadataError::backend(
                STORE,
                SqliteError::Open {
                    location: location.to_owned(),
                    source,
                },
            ),
            e => e.into_metadata("open"),
        }
    }

    /// The public error, naming the operation that failed.
    pub(crate) fn into_metadata(self, op: &'static str) -> MetadataError {
        match self {
            Error::Sql(source) => MetadataError::backend(STORE, SqliteError::Sql { op, source }),
            Error::Corrupt(what) => {
                MetadataError::backend(STORE, SqliteError::Corrupt { op, what })
            }
            Error::Store(e) => e,
        }
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn not_found(what: &'static str, key: impl ToString) -> Error {
    Error::Store(MetadataError::NotFound {
        what,
        key: key.to_string(),
    })
}

pub(crate) fn conflict(message: String) -> Error {
    Error::Store(MetadataError::Conflict(message))
}
