//! Errors of the SQLite store, and how they become [`MetadataError`]s.

use std::path::Path;

use rusqlite::ErrorCode;
use zenml_core::store::MetadataError;

use crate::mlmd::Error;

/// The backend name in errors.
pub(crate) const STORE: &str = "sqlite";

/// A failure of the SQLite store, with what it was doing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum SqliteError {
    /// The database could not be opened (a missing folder, no permission, a locked file).
    #[error("cannot open {location}: {source}{hint}")]
    Open {
        /// The database (`sqlite:/path/metadata.db`).
        location: String,
        /// The failure.
        #[source]
        source: rusqlite::Error,
        /// What the failure probably means, when it is known (`""` otherwise).
        hint: &'static str,
    },
    /// A database call failed.
    #[error("{location}: {op}: {source}{hint}")]
    Sql {
        /// The database.
        location: String,
        /// The operation (`"begin_execution"`).
        op: &'static str,
        /// The failure.
        #[source]
        source: rusqlite::Error,
        /// What the failure probably means, when it is known (`""` otherwise).
        hint: &'static str,
    },
}

/// What a failure probably means, for people: the database held by another process too long,
/// or a full disk (which SQLite often reports as a plain "disk I/O error").
fn hint(e: &rusqlite::Error, path: Option<&Path>) -> &'static str {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            " (another process held the database for longer than the busy timeout)"
        }
        Some(ErrorCode::DiskFull | ErrorCode::SystemIoFailure | ErrorCode::CannotOpen)
            if path.is_some_and(super::file::file_system_full) =>
        {
            " (the file system holding the database is full: free some space and try again; \
             nothing was lost)"
        }
        Some(ErrorCode::DiskFull) => " (the disk is full: free some space and try again)",
        _ => "",
    }
}

/// The typed error of a failure that means the database cannot be written or is damaged.
fn classified(e: &rusqlite::Error, location: &str, op: &str) -> Option<MetadataError> {
    match e.sqlite_error_code() {
        Some(ErrorCode::ReadOnly) => Some(MetadataError::ReadOnly {
            store: location.to_owned(),
            detail: format!(
                "`{op}` cannot write to it ({e}): its file, its folder or its file system may \
                 only be read by this process"
            ),
        }),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            Some(MetadataError::Damaged {
                store: location.to_owned(),
                detail: e.to_string(),
            })
        }
        _ => None,
    }
}

/// Is this SQLite failing to open the database file (or the files it keeps beside it)?
pub(crate) fn cannot_open(e: &Error) -> bool {
    matches!(
        e,
        Error::Sqlite(e) if matches!(
            e.sqlite_error_code(),
            Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly)
        )
    )
}

/// The public error of a failure while opening `location` (the file `path`).
pub(crate) fn into_open_error(e: Error, location: &str, path: Option<&Path>) -> MetadataError {
    match e {
        Error::Sqlite(source) => {
            if let Some(e) = classified(&source, location, "open") {
                return e;
            }
            let hint = hint(&source, path);
            MetadataError::backend(
                STORE,
                SqliteError::Open {
                    location: location.to_owned(),
                    source,
                    hint,
                },
            )
        }
        e => into_metadata(e, "open", location),
    }
}

/// The public error, naming the operation that failed.
pub(crate) fn into_metadata(e: Error, op: &'static str, location: &str) -> MetadataError {
    match e {
        Error::Sqlite(source) => {
            if let Some(e) = classified(&source, location, op) {
                return e;
            }
            let path = location.strip_prefix("sqlite:").map(Path::new);
            let hint = hint(&source, path);
            MetadataError::backend(
                STORE,
                SqliteError::Sql {
                    location: location.to_owned(),
                    op,
                    source,
                    hint,
                },
            )
        }
        other => other.into_metadata(STORE, op),
    }
}
