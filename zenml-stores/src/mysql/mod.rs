//! The MySQL (5.6 or later) and MariaDB metadata store in the ML Metadata schema (version 10):
//! one store a team shares, so that everyone sees every run and reuses every cached step.
//!
//! [`MysqlMetadataStore`] lays the data out as ML Metadata does on MySQL, in the tables and
//! encodings the SQLite store uses (the `mlmd` module describes them), with two differences that
//! ML Metadata's reader does not see:
//!
//! - ML Metadata's `int_value` columns are 32-bit `INT`s on MySQL, too narrow for a Rust `i64`
//!   (and for a time in milliseconds): zenml's are `BIGINT`s.
//! - Strings are kept as the bytes of their UTF-8, in binary columns (`VARBINARY`, `BLOB`):
//!   every client reads back the bytes that were written, whatever its character set (ML
//!   Metadata's clients connect as `latin1`), and names compare byte for byte, as on SQLite
//!   (`Pipeline A` and `pipeline a` are two pipelines).
//!
//! # Opening
//!
//! The schema is created on first use of an empty database ([`OpenMode::Create`]: `zenml config
//! metadata set mysql …` does this); opening a repository never creates one, so a database that
//! was emptied is reported instead of silently starting the history afresh. A schema version 10
//! database that ML Metadata itself created is used, and nothing in it is changed: zenml adds its
//! own tables and context types beside ML Metadata's, and widens the three `int_value` columns
//! to `BIGINT` (which keeps every value). Its strings are read and written as ML Metadata's own
//! clients do, as `latin1` bytes; its names compare as its columns' collation says (often
//! without regard to case). Any other ML Metadata schema version, a newer zenml schema, or another
//! application's tables are refused with a message naming what was found, and left untouched.
//!
//! # Concurrency
//!
//! Every write is one transaction at `READ COMMITTED`; the reads a write depends on to stay
//! unique (the run count, a step type, an artifact type, a run's owner) lock their rows
//! (`SELECT … FOR UPDATE`), and names that must be unique (pipelines, runs, step types) have
//! unique keys. A transaction that meets a deadlock, a lock wait that timed out, or a unique key
//! another process took first is rolled back and made again, a few times with a growing pause:
//! it changed nothing, and the second time it finds what the other process recorded. Reads are
//! consistent snapshots (`REPEATABLE READ`), so a lookup never sees half a run.
//!
//! One connection per store, behind a mutex. A connection that was lost (the server restarted,
//! the connection was killed) is replaced: a transaction it cut off before its commit was rolled
//! back by the server and is made again on a new connection; one cut off while committing may or
//! may not have been recorded, and fails with an error that says so. A server that cannot be
//! reached fails the operation with an error naming the server.
//!
//! # Use
//!
//! A repository names its store in `.zenml/config.yaml` (`zenml config metadata set mysql …`
//! writes it); code may also open one and give it to a repository or a runner:
//!
//! ```no_run
//! use std::sync::Arc;
//! use zenml_stores::mysql::{MysqlMetadataStore, MysqlOptions};
//!
//! let options = MysqlOptions::from_url("mysql://ml:secret@db.example.org:3306/zenml")?;
//! let store = Arc::new(MysqlMetadataStore::open(&options)?);
//! # let _ = store;
//! # Ok::<(), zenml_core::store::MetadataError>(())
//! ```

mod error;
mod schema;
#[cfg(feature = "conformance")]
mod scratch;

#[cfg(feature = "conformance")]
pub use scratch::ScratchDatabases;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use mysql::prelude::Queryable;
use zenml_core::store::{
    Id, Incompatibility, MetadataBackend, MetadataConfig, MetadataError, MetadataQuery, OpenMode,
    StepTypeSpec, redact_host,
};

use crate::mlmd::{self, Cache, Cell, Conn, ContextTypes, Dialect, Error, Result, Row, Tx};

/// How many times a transaction is made again after a deadlock or a lost race for a key.
const ATTEMPTS: u32 = 8;

/// How long connecting may take, and a single read or write on the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const IO_TIMEOUT: Duration = Duration::from_secs(120);

/// Where a MySQL store is: the server, the account and the database. The password is never
/// printed (not by `Debug` either).
#[derive(Clone, PartialEq, Eq)]
pub struct MysqlOptions {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User name.
    pub user: String,
    /// The password, if the account has one.
    pub password: Option<String>,
    /// Database name.
    pub database: String,
    /// Use TLS (needs the `mysql-tls` feature).
    pub tls: bool,
}

impl fmt::Debug for MysqlOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MysqlOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("tls", &self.tls)
            .finish()
    }
}

impl MysqlOptions {
    /// The options a `mysql://user[:password]@host[:port]/database` URL names (the password
    /// percent-encoded; `?require_ssl=true` asks for TLS). An error never shows the password.
    ///
    /// ```
    /// use zenml_stores::mysql::MysqlOptions;
    ///
    /// let options = MysqlOptions::from_url("mysql://ml:s3cr%40t@db.example.org/zenml")?;
    /// assert_eq!(options.password.as_deref(), Some("s3cr@t"));
    /// assert_eq!(options.describe(), "mysql://ml@db.example.org:3306/zenml");
    /// # Ok::<(), zenml_core::store::MetadataError>(())
    /// ```
    pub fn from_url(url: &str) -> Result<MysqlOptions, MetadataError> {
        let invalid = |why: String| {
            MetadataError::backend(
                error::STORE,
                format!(
                    "not a mysql://user[:password]@host[:port]/database URL (the URL is not \
                     shown: it may hold a password): {why}"
                ),
            )
        };
        let opts = mysql::Opts::from_url(url).map_err(|e| invalid(e.to_string()))?;
        let database = opts
            .get_db_name()
            .filter(|d| !d.is_empty())
            .ok_or_else(|| invalid("it names no database".to_owned()))?;
        let user = opts
            .get_user()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| invalid("it names no user".to_owned()))?;
        Ok(MysqlOptions {
            host: opts.get_ip_or_hostname().into_owned(),
            port: opts.get_tcp_port(),
            user: user.to_owned(),
            password: opts.get_pass().map(str::to_owned),
            database: database.to_owned(),
            tls: opts.get_ssl_opts().is_some(),
        })
    }

    /// The store, described for people (no password): `mysql://user@host:port/database`. A host
    /// that holds credentials (`user:password@host`) is shown redacted, in place of the user.
    pub fn describe(&self) -> String {
        if self.host.contains('@') {
            format!(
                "mysql://{}:{}/{}",
                redact_host(&self.host),
                self.port,
                self.database
            )
        } else {
            format!(
                "mysql://{}@{}:{}/{}",
                self.user, self.host, self.port, self.database
            )
        }
    }

    fn opts(&self) -> Result<mysql::Opts, MetadataError> {
        if self.host.contains('@') {
            // Never looked up: the name holds credentials, and the lookup would send them out.
            return Err(MetadataError::backend(
                error::STORE,
                format!(
                    "{}: the host holds `@`, so it may hold credentials: give the host alone, the \
                     user as `user` and the password in the environment variable `password_env` \
                     names",
                    self.describe()
                ),
            ));
        }
        let builder = mysql::OptsBuilder::new()
            .ip_or_hostname(Some(self.host.clone()))
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(self.password.clone())
            .db_name(Some(self.database.clone()))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(CONNECT_TIMEOUT))
            .read_timeout(Some(IO_TIMEOUT))
            .write_timeout(Some(IO_TIMEOUT))
            .stmt_cache_size(Some(256))
            .init(vec![
                // ML Metadata's convention: a string is its UTF-8 bytes, passed as `latin1` so
                // that no column converts them. (The columns of a store zenml creates are binary
                // and convert nothing in any case.)
                "SET NAMES latin1",
                // The same rules on every server, whatever its defaults: a value that does not
                // fit its column is an error, never silently cut to fit.
                "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
                // Writes lock what they read (`FOR UPDATE`) and take no gap locks; reads ask
                // for a consistent snapshot (`MysqlConn::begin`).
                "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
            ]);
        Ok(self.tls(builder)?.into())
    }

    #[cfg(feature = "mysql-tls")]
    fn tls(&self, builder: mysql::OptsBuilder) -> Result<mysql::OptsBuilder, MetadataError> {
        Ok(if self.tls {
            builder.ssl_opts(Some(mysql::SslOpts::default()))
        } else {
            builder
        })
    }

    #[cfg(not(feature = "mysql-tls"))]
    fn tls(&self, builder: mysql::OptsBuilder) -> Result<mysql::OptsBuilder, MetadataError> {
        if self.tls {
            return Err(MetadataError::backend(
                error::STORE,
                format!(
                    "{}: TLS was asked for, but this binary was built without the zenml feature \
                     `mysql-tls`",
                    self.describe()
                ),
            ));
        }
        Ok(builder)
    }
}

/// The metadata store in a MySQL or MariaDB database, in ML Metadata's schema (see the [module
/// docs](self)).
pub struct MysqlMetadataStore {
    location: String,
    opts: mysql::Opts,
    user: String,
    database: String,
    read_only: bool,
    state: Mutex<State>,
}

struct State {
    /// The connection; `None` after it was lost, until the next operation connects again.
    conn: Option<mysql::Conn>,
    types: ContextTypes,
    cache: Cache,
}

/// What a transaction does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Write,
    Read,
    /// A read of exactly one statement.
    ReadOne,
}

/// A connection inside a transaction, as the shared layout uses it: statements are prepared once
/// per connection and cached by their text. A transaction that was neither committed nor found
/// broken is rolled back when this is dropped (after an error, or a panic): the next transaction
/// on the connection would otherwise commit it.
struct MysqlConn<'a> {
    conn: &'a mut mysql::Conn,
    open: bool,
}

impl<'a> MysqlConn<'a> {
    /// Starts a transaction: a write (at the session's `READ COMMITTED`), or a read-only
    /// consistent snapshot (`REPEATABLE READ`), each in one round trip; none for a read of one
    /// statement.
    fn begin(conn: &'a mut mysql::Conn, access: Access) -> Result<Self> {
        let start = match access {
            Access::Write => "START TRANSACTION",
            Access::Read => {
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
                 START TRANSACTION READ ONLY, WITH CONSISTENT SNAPSHOT"
            }
            Access::ReadOne => return Ok(MysqlConn { conn, open: false }),
        };
        conn.query_drop(start)?;
        Ok(MysqlConn { conn, open: true })
    }

    fn commit(mut self) -> Result<()> {
        if std::mem::take(&mut self.open) {
            self.conn.query_drop("COMMIT")?;
        }
        Ok(())
    }
}

impl Drop for MysqlConn<'_> {
    fn drop(&mut self) {
        if self.open {
            // A connection that fails here is broken, and its transaction ends with it.
            let _ = self.conn.query_drop("ROLLBACK");
        }
    }
}

fn value(cell: &Cell) -> mysql::Value {
    match cell {
        Cell::Null => mysql::Value::NULL,
        Cell::Int(i) => mysql::Value::Int(*i),
        Cell::Real(x) => mysql::Value::Double(*x),
        Cell::Text(s) => mysql::Value::Bytes(s.as_bytes().to_vec()),
        Cell::Blob(b) => mysql::Value::Bytes(b.clone()),
    }
}

fn cell(value: mysql::Value) -> Result<Cell> {
    Ok(match value {
        mysql::Value::NULL => Cell::Null,
        mysql::Value::Int(i) => Cell::Int(i),
        mysql::Value::UInt(u) => Cell::Int(
            i64::try_from(u).map_err(|_| Error::Corrupt(format!("{u} does not fit in an i64")))?,
        ),
        mysql::Value::Float(x) => Cell::Real(f64::from(x)),
        mysql::Value::Double(x) => Cell::Real(x),
        mysql::Value::Bytes(b) => match String::from_utf8(b) {
            Ok(s) => Cell::Text(s),
            Err(e) => Cell::Blob(e.into_bytes()),
        },
        other => return Err(Error::Corrupt(format!("an unexpected value {other:?}"))),
    })
}

fn params(cells: &[Cell]) -> mysql::Params {
    if cells.is_empty() {
        mysql::Params::Empty
    } else {
        mysql::Params::Positional(cells.iter().map(value).collect())
    }
}

impl Conn for MysqlConn<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    fn exec(&mut self, sql: &str, cells: &[Cell]) -> Result<u64> {
        self.conn.exec_drop(sql, params(cells))?;
        Ok(self.conn.affected_rows())
    }

    fn query(&mut self, sql: &str, cells: &[Cell]) -> Result<Vec<Row>> {
        let rows: Vec<mysql::Row> = self.conn.exec(sql, params(cells))?;
        rows.into_iter()
            .map(|row| row.unwrap().into_iter().map(cell).collect())
            .collect()
    }

    fn last_id(&mut self) -> Result<Id> {
        let id = self.conn.last_insert_id();
        if id == 0 {
            return Err(Error::Corrupt(
                "the server gave no id for a new row".to_owned(),
            ));
        }
        i64::try_from(id).map_err(|_| Error::Corrupt(format!("id {id} does not fit in an i64")))
    }
}

impl MysqlMetadataStore {
    /// Opens the store in the database `options` names, creating the schema in an empty
    /// database.
    pub fn open(options: &MysqlOptions) -> Result<Self, MetadataError> {
        MysqlMetadataStore::open_with(options, OpenMode::Create)
    }

    /// Opens the store as `mode` says (see [`OpenMode`]): only [`OpenMode::Create`] creates the
    /// schema in an empty database; an empty database is otherwise
    /// [`MetadataError::Missing`](zenml_core::store::MetadataError::Missing).
    pub fn open_with(options: &MysqlOptions, mode: OpenMode) -> Result<Self, MetadataError> {
        let location = options.describe();
        let opts = options.opts()?;
        let mut conn = connect(&opts, &location, &options.user, &options.database)?;
        let types = schema::open(&mut conn, &location, mode)
            .map_err(|e| error::into_metadata(e, "open", &location, false))?;
        Ok(MysqlMetadataStore {
            location,
            opts,
            user: options.user.clone(),
            database: options.database.clone(),
            read_only: mode == OpenMode::ReadOnly,
            state: Mutex::new(State {
                conn: Some(conn),
                types,
                cache: Cache::default(),
            }),
        })
    }

    fn describe_store(&self) -> String {
        self.location.clone()
    }

    /// The id of `spec`'s step type, if this store knows it is recorded as described.
    fn known_step_type(&self, spec: &StepTypeSpec) -> Option<Id> {
        self.lock().cache.step_type_unchanged(spec)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held dropped its transaction, which rolled back.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in one write transaction and commits it, making it again after a deadlock or a
    /// lost race for a unique key.
    fn write<T>(
        &self,
        op: &'static str,
        f: impl FnMut(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T, MetadataError> {
        if self.read_only {
            return Err(MetadataError::ReadOnly {
                store: self.location.clone(),
                detail: format!("it was opened to be read only, so `{op}` cannot write to it"),
            });
        }
        self.transaction(op, Access::Write, f)
    }

    /// Runs `f` in one read transaction, a consistent snapshot of the database.
    fn read<T>(
        &self,
        op: &'static str,
        f: impl FnMut(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T, MetadataError> {
        self.transaction(op, Access::Read, f)
    }

    /// Runs `f`, a read of exactly one statement, without a transaction: one statement reads
    /// one consistent state on its own, and the round trips that begin and end a transaction
    /// are spared.
    fn read_one<T>(
        &self,
        op: &'static str,
        f: impl FnMut(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T, MetadataError> {
        self.transaction(op, Access::ReadOne, f)
    }

    fn transaction<T>(
        &self,
        op: &'static str,
        access: Access,
        mut f: impl FnMut(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T, MetadataError> {
        let mut guard = self.lock();
        let State { conn, types, cache } = &mut *guard;
        let types = *types;
        let mut pause = Duration::from_millis(2);
        for attempt in 1..=ATTEMPTS {
            let c = match conn {
                Some(c) => c,
                None => conn.insert(connect(
                    &self.opts,
                    &self.location,
                    &self.user,
                    &self.database,
                )?),
            };
            let mut committing = false;
            let result = (|| {
                let mut tx = MysqlConn::begin(c, access)?;
                let value = f(&mut Tx::new(&mut tx, types, cache))?;
                committing = true;
                tx.commit()?;
                Ok(value)
            })();
            let e = match result {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            if access == Access::Write {
                cache.clear();
            }
            let last = attempt == ATTEMPTS;
            if error::connection_lost(&e) {
                *conn = None;
                // Before its commit, a transaction on a lost connection was rolled back by the
                // server: it is made again on a new connection (which fails clearly if the
                // server is gone). A commit that was cut off may or may not have been recorded:
                // that is reported, never guessed.
                if !committing && !last {
                    continue;
                }
                return Err(error::into_metadata(e, op, &self.location, committing));
            }
            if error::retryable(&e) && !last {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
                continue;
            }
            return Err(error::into_metadata(e, op, &self.location, false));
        }
        unreachable!("the last attempt returns")
    }
}

/// Connects to the server, with an error that says which server and database failed and why.
fn connect(
    opts: &mysql::Opts,
    location: &str,
    user: &str,
    database: &str,
) -> Result<mysql::Conn, MetadataError> {
    mysql::Conn::new(opts.clone()).map_err(|e| {
        MetadataError::backend(
            error::STORE,
            error::MysqlError::Connect {
                location: location.to_owned(),
                why: error::connect_error(&e, user, database),
            },
        )
    })
}

impl fmt::Debug for MysqlMetadataStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MysqlMetadataStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

fn open_backend(
    config: &MetadataConfig,
    _base: &std::path::Path,
    mode: OpenMode,
) -> Result<Arc<dyn MetadataQuery>, MetadataError> {
    match config {
        MetadataConfig::Mysql {
            host,
            port,
            user,
            database,
            password,
            password_env,
            tls,
        } => {
            let password = match (password, password_env) {
                (Some(p), _) => Some(p.clone()),
                (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                    MetadataError::backend(
                        error::STORE,
                        format!(
                            "mysql://{user}@{host}:{port}/{database}: the environment variable \
                             `{var}` (password_env) holds no password: set it"
                        ),
                    )
                })?),
                (None, None) => None,
            };
            let options = MysqlOptions {
                host: host.clone(),
                port: *port,
                user: user.clone(),
                password,
                database: database.clone(),
                tls: *tls,
            };
            Ok(Arc::new(MysqlMetadataStore::open_with(&options, mode)?))
        }
        other => Err(MetadataError::Incompatible {
            store: other.backend().to_owned(),
            reason: Incompatibility::WrongBackend {
                backend: "mysql",
                config: other.backend(),
            },
        }),
    }
}

inventory::submit! {
    MetadataBackend {
        name: "mysql",
        feature: "mysql",
        open: open_backend,
    }
}

mlmd::impl_metadata_store!(MysqlMetadataStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_send_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<MysqlMetadataStore>();
    }

    #[test]
    fn no_password_is_shown() {
        let options = MysqlOptions {
            host: "db".into(),
            port: 3306,
            user: "ml".into(),
            password: Some("hunter2".into()),
            database: "zenml".into(),
            tls: false,
        };
        assert_eq!(options.describe(), "mysql://ml@db:3306/zenml");
        assert!(!format!("{options:?}").contains("hunter2"));
    }
}
