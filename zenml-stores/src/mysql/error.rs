//! Errors of the MySQL store, and how they become [`MetadataError`]s: each says which server,
//! port and database failed, and what it probably means.

use zenml_core::store::MetadataError;

use crate::mlmd::Error;

/// The backend name in errors.
pub(crate) const STORE: &str = "mysql";

/// MySQL's error codes that the store acts on.
pub(crate) mod code {
    /// `ER_ACCESS_DENIED_ERROR`: a wrong user name or password.
    pub(crate) const ACCESS_DENIED: u16 = 1045;
    /// `ER_DBACCESS_DENIED_ERROR`: the user may not use the database.
    pub(crate) const DB_ACCESS_DENIED: u16 = 1044;
    /// `ER_BAD_DB_ERROR`: no such database.
    pub(crate) const UNKNOWN_DATABASE: u16 = 1049;
    /// `ER_DUP_ENTRY`: a unique key taken, by another transaction that got there first.
    pub(crate) const DUPLICATE_KEY: u16 = 1062;
    /// `ER_LOCK_WAIT_TIMEOUT`.
    pub(crate) const LOCK_WAIT_TIMEOUT: u16 = 1205;
    /// `ER_LOCK_DEADLOCK`: this transaction was chosen to give way.
    pub(crate) const DEADLOCK: u16 = 1213;
    /// `ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION` and `ER_OPTION_PREVENTS_STATEMENT`
    /// (`--read-only`).
    pub(crate) const READ_ONLY: [u16; 2] = [1792, 1290];
}

/// A failure of the MySQL store, with what it was doing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum MysqlError {
    /// The server could not be reached, or refused the connection.
    #[error("cannot connect to {location}: {why}")]
    Connect {
        /// The store (`mysql://user@host:port/database`).
        location: String,
        /// What went wrong, for people.
        why: String,
    },
    /// A database call failed.
    #[error("{location}: {op}: {source}{hint}")]
    Sql {
        /// The store.
        location: String,
        /// The operation (`"begin_execution"`).
        op: &'static str,
        /// The failure.
        #[source]
        source: mysql::Error,
        /// What the failure probably means, when it is known (`""` otherwise).
        hint: &'static str,
    },
}

/// The MySQL error code of `e`, if it is an error the server reported.
pub(crate) fn server_code(e: &Error) -> Option<u16> {
    match e {
        Error::Mysql(mysql::Error::MySqlError(m)) => Some(m.code),
        _ => None,
    }
}

/// Is `e` a failure of the connection (the server went away, a network error)?
pub(crate) fn connection_lost(e: &Error) -> bool {
    matches!(e, Error::Mysql(e) if e.is_connectivity_error())
}

/// Is `e` a failure that trying the transaction again may resolve: a deadlock, a lock wait that
/// timed out, or a unique key another transaction took first?
pub(crate) fn retryable(e: &Error) -> bool {
    matches!(
        server_code(e),
        Some(code::DEADLOCK | code::LOCK_WAIT_TIMEOUT | code::DUPLICATE_KEY)
    )
}

/// What a connection failure means, for people, without secrets.
pub(crate) fn connect_error(e: &mysql::Error, user: &str, database: &str) -> String {
    match e {
        mysql::Error::MySqlError(m) if m.code == code::ACCESS_DENIED => format!(
            "access denied for user `{user}` (a wrong user name or password; the password is \
             not shown)"
        ),
        mysql::Error::MySqlError(m) if m.code == code::DB_ACCESS_DENIED => {
            format!("user `{user}` may not use database `{database}`")
        }
        mysql::Error::MySqlError(m) if m.code == code::UNKNOWN_DATABASE => format!(
            "there is no database `{database}` on the server (create it, or name another with \
             --database)"
        ),
        mysql::Error::DriverError(mysql::DriverError::CouldNotConnect(Some((_, why, _)))) => {
            format!("the server cannot be reached: {why}")
        }
        mysql::Error::DriverError(mysql::DriverError::ConnectTimeout) => {
            "the server did not answer in time".to_owned()
        }
        mysql::Error::IoError(io) => format!("the server cannot be reached: {io}"),
        other => other.to_string(),
    }
}

/// The public error, naming the operation that failed; `committing` says that the connection
/// was lost while the transaction committed (so it may or may not have been recorded).
pub(crate) fn into_metadata(
    e: Error,
    op: &'static str,
    location: &str,
    committing: bool,
) -> MetadataError {
    if let Some(c) = server_code(&e)
        && code::READ_ONLY.contains(&c)
    {
        return MetadataError::ReadOnly {
            store: location.to_owned(),
            detail: format!("the server refuses writes, so `{op}` cannot write to it"),
        };
    }
    match e {
        Error::Mysql(source) => {
            let hint = if source.is_connectivity_error() && committing {
                " (the connection to the server was lost while the transaction committed: it may \
                 or may not have been recorded)"
            } else if source.is_connectivity_error() {
                " (the connection to the server was lost, again after connecting anew: nothing \
                 of this operation was recorded)"
            } else {
                match &source {
                    mysql::Error::MySqlError(m) if m.code == code::DEADLOCK => {
                        " (other writers held the locks it needed, however often it tried)"
                    }
                    mysql::Error::MySqlError(m) if m.code == code::LOCK_WAIT_TIMEOUT => {
                        " (another writer held a lock for longer than the server waits)"
                    }

                    _ => "",
                }
            };
            MetadataError::backend(
                STORE,
                MysqlError::Sql {
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
