//! The SQLite metadata store in the ML Metadata schema (version 10).
//!
//! [`SqliteMetadataStore`] keeps a repository's metadata in one SQLite file laid out exactly as
//! Google's ML Metadata (MLMD) schema version 10: its 15 tables with every column, one `MLMDEnv`
//! row holding 10, and MLMD's nine built-in `mlmd.*` simple types. The `ml-metadata` Python
//! library opens the file (read-only too) and reads every pipeline, run, execution, parameter
//! and artifact zenml recorded.
//!
//! How zenml's records map onto ML Metadata's tables is described in the `mlmd` module, which
//! this store shares with the MySQL store; floats are kept bit for bit, NaN and `-0.0` included.
//!
//! # Concurrency
//!
//! The file is in WAL mode with `synchronous = NORMAL`; every write is one short
//! `BEGIN IMMEDIATE` transaction and a connection waits up to 30 s for a lock (the busy
//! timeout), so writers in several threads and processes queue instead of failing with
//! "database is locked", and readers (ML Metadata included) are never blocked. Opening an
//! existing store costs one query; a database that is not a zenml store, or one written by a
//! newer zenml, is refused with [`MetadataError::Incompatible`] and left untouched.

mod error;
mod file;
mod schema;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use zenml_core::store::{
    Conflict, Id, Incompatibility, MetadataBackend, MetadataConfig, MetadataError, MetadataQuery,
    MissingStore, OpenMode, StepTypeSpec,
};

use crate::mlmd::{self, Cache, Cell, Conn, ContextTypes, Dialect, Error, Result, Row, Tx};

/// How long a connection waits for another writer's lock before it fails.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The metadata store in a SQLite file, in ML Metadata's schema (see the [module docs](self)).
///
/// One connection, behind a mutex: the store is safe to share between threads, and several
/// stores (in one process or many) can use one file at once.
pub struct SqliteMetadataStore {
    location: String,
    path: Option<PathBuf>,
    /// The database file as opened: every transaction first checks that the path still names
    /// it, so that a store deleted or replaced while in use is noticed instead of written into
    /// a file nobody will read again.
    file: Option<file::FileId>,
    read_only: bool,
    state: Mutex<State>,
}

struct State {
    conn: Connection,
    types: ContextTypes,
    cache: Cache,
    /// Inside [`SqliteMetadataStore::bulk`]: calls are savepoints of its transaction.
    bulk: bool,
}

/// A rusqlite connection as the shared layout uses it: statements are prepared once and cached
/// by their text.
struct SqliteConn<'a>(&'a Connection);

impl rusqlite::ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Cell::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Cell::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Cell::Real(x) => ToSqlOutput::Borrowed(ValueRef::Real(*x)),
            Cell::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Cell::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

fn cell(value: ValueRef<'_>) -> Cell {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(x) => Cell::Real(x),
        ValueRef::Text(t) => match std::str::from_utf8(t) {
            Ok(s) => Cell::Text(s.to_owned()),
            Err(_) => Cell::Blob(t.to_vec()),
        },
        ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
    }
}

impl Conn for SqliteConn<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn exec(&mut self, sql: &str, params: &[Cell]) -> Result<u64> {
        let changed = self
            .0
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(u64::try_from(changed).unwrap_or(u64::MAX))
    }

    fn query(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Row>> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(
                (0..width)
                    .map(|i| row.get_ref(i).map(cell))
                    .collect::<rusqlite::Result<Row>>()?,
            );
        }
        Ok(out)
    }

    fn last_id(&mut self) -> Result<Id> {
        Ok(self.0.last_insert_rowid())
    }
}

impl SqliteMetadataStore {
    /// Opens the store in the SQLite file at `path`, creating the file and the schema if there
    /// is none (or the file is empty). The folder must exist.
    ///
    /// A database that is not a zenml store (another application's, or an ML Metadata store
    /// zenml did not create), or one written by a newer zenml, is refused with
    /// [`MetadataError::Incompatible`] and not modified.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, MetadataError> {
        SqliteMetadataStore::open_with(path, OpenMode::Create)
    }

    /// Opens the store in the SQLite file at `path` as `mode` says: [`OpenMode::Create`] as
    /// [`open`](SqliteMetadataStore::open); [`OpenMode::Existing`] refuses a missing or empty
    /// file with [`MetadataError::Missing`] and creates nothing; [`OpenMode::ReadOnly`] also
    /// writes nothing, not even the files SQLite keeps beside a database it writes, so a store
    /// on a read-only file system, or one this process may only read, can still be read.
    pub fn open_with(path: impl AsRef<Path>, mode: OpenMode) -> Result<Self, MetadataError> {
        let path = path.as_ref();
        let location = format!("sqlite:{}", path.display());
        if mode != OpenMode::Create {
            match std::fs::metadata(path) {
                Ok(meta) if meta.len() == 0 => {
                    return Err(MetadataError::Missing {
                        store: location,
                        problem: MissingStore::Empty,
                    });
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(MetadataError::Missing {
                        store: location,
                        problem: MissingStore::NoDatabase,
                    });
                }
                Err(e) => {
                    return Err(MetadataError::backend(
                        error::STORE,
                        format!("cannot open {location}: {e}"),
                    ));
                }
            }
        }
        let flags = match mode {
            OpenMode::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
            OpenMode::Existing => OpenFlags::SQLITE_OPEN_READ_WRITE,
            _ => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let (conn, types) = match connect(path, flags, &location, mode) {
            Ok(opened) => opened,
            Err(e) if mode == OpenMode::ReadOnly => {
                // SQLite keeps a shared-memory file beside a WAL database, which it cannot make
                // in a folder this process may not write, or on a full disk. With no unfinished
                // writes (no WAL), the file alone is the whole store: read it as an unchanging
                // file.
                match read_as_immutable(path, &location) {
                    Some(opened) => opened,
                    None => return Err(error::into_open_error(e, &location, Some(path))),
                }
            }
            Err(e) if error::cannot_open(&e) && mode != OpenMode::ReadOnly => {
                if let Some(why) = file::folder_unwritable(path) {
                    return Err(MetadataError::ReadOnly {
                        store: location,
                        detail: format!(
                            "{why}; commands that only read (`zenml run list`, `zenml run show`, \
                             …) still work, running a pipeline needs a store it can write"
                        ),
                    });
                }
                return Err(error::into_open_error(e, &location, Some(path)));
            }
            Err(e) => return Err(error::into_open_error(e, &location, Some(path))),
        };
        SqliteMetadataStore::assemble(conn, types, location, Some(path.to_owned()), mode)
    }

    /// Opens an existing store read-only, as [`open_with`](SqliteMetadataStore::open_with)
    /// with [`OpenMode::ReadOnly`].
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, MetadataError> {
        SqliteMetadataStore::open_with(path, OpenMode::ReadOnly)
    }

    /// A new store in a private in-memory database, gone when the store is dropped (for tests).
    pub fn open_in_memory() -> Result<Self, MetadataError> {
        let location = "sqlite::memory:".to_owned();
        let opened = Connection::open_in_memory()
            .map_err(Error::from)
            .and_then(|mut conn| {
                let types = setup(&mut conn, &location, OpenMode::Create)?;
                Ok((conn, types))
            });
        let (conn, types) = opened.map_err(|e| error::into_open_error(e, &location, None))?;
        SqliteMetadataStore::assemble(conn, types, location, None, OpenMode::Create)
    }

    fn assemble(
        conn: Connection,
        types: ContextTypes,
        location: String,
        path: Option<PathBuf>,
        mode: OpenMode,
    ) -> Result<Self, MetadataError> {
        // Taken once the schema exists: a new database is an empty file until then.
        let file = match &path {
            Some(p) => file::FileId::of(p)
                .map_err(|e| MetadataError::backend(error::STORE, format!("{location}: {e}")))?,
            None => None,
        };
        Ok(SqliteMetadataStore {
            location,
            path,
            file,
            read_only: mode == OpenMode::ReadOnly,
            state: Mutex::new(State {
                conn,
                types,
                cache: Cache::default(),
                bulk: false,
            }),
        })
    }

    /// The database file (`None` for an in-memory store).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock was held dropped its transaction, which rolled back.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn describe_store(&self) -> String {
        self.location.clone()
    }

    /// The id of `spec`'s step type, if this store knows it is recorded as described.
    fn known_step_type(&self, spec: &StepTypeSpec) -> Option<Id> {
        self.lock().cache.step_type_unchanged(spec)
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction and commits it.
    fn write<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T, MetadataError> {
        self.transaction(op, TransactionBehavior::Immediate, f)
    }

    /// Runs `f` in one read transaction, so that it sees one state of the database.
    fn read<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T, MetadataError> {
        self.transaction(op, TransactionBehavior::Deferred, f)
    }

    /// Runs `f`, a read of one statement, as [`read`](Self::read) does.
    fn read_one<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T, MetadataError> {
        self.read(op, f)
    }

    /// Checks that the database is still the file this store opened.
    fn check_file(&self) -> Result<(), MetadataError> {
        let (Some(path), Some(opened)) = (&self.path, &self.file) else {
            return Ok(());
        };
        let problem = match file::FileId::of(path) {
            Ok(Some(now)) if now.same_file(opened) && !now.is_empty() => return Ok(()),
            Ok(Some(now)) if now.same_file(opened) => MissingStore::Empty,
            Ok(Some(_)) => MissingStore::Replaced,
            Ok(None) => MissingStore::Removed,
            Err(e) => {
                return Err(MetadataError::backend(
                    error::STORE,
                    format!("{}: {e}", self.location),
                ));
            }
        };
        Err(MetadataError::Missing {
            store: self.location.clone(),
            problem,
        })
    }

    fn transaction<T>(
        &self,
        op: &'static str,
        behavior: TransactionBehavior,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T, MetadataError> {
        if self.read_only && !matches!(behavior, TransactionBehavior::Deferred) {
            return Err(MetadataError::ReadOnly {
                store: self.location.clone(),
                detail: format!("it was opened to be read only, so `{op}` cannot write to it"),
            });
        }
        self.check_file()?;
        let mut guard = self.lock();
        let State {
            conn,
            types,
            cache,
            bulk,
        } = &mut *guard;
        let types = *types;
        let result = (|| {
            if *bulk {
                // Inside a bulk load: a savepoint, so that a failed call undoes only itself.
                let savepoint = conn.savepoint()?;
                let value = f(&mut Tx::new(&mut SqliteConn(&savepoint), types, cache))?;
                savepoint.commit()?;
                return Ok(value);
            }
            let tx = conn.transaction_with_behavior(behavior)?;
            // The time is taken once the lock is held (in `Tx::new`), so that the order of
            // timestamps follows the order of writes.
            let value = f(&mut Tx::new(&mut SqliteConn(&tx), types, cache))?;
            tx.commit()?;
            Ok(value)
        })();
        if result.is_err() && !matches!(behavior, TransactionBehavior::Deferred) {
            cache.clear();
        }
        result.map_err(|e: Error| error::into_metadata(e, op, &self.location))
    }

    /// Not public API: runs `f` with every call on this store inside one transaction, for
    /// loading many records at once (benchmarks, imports). Other connections wait until it ends.
    /// A call that fails inside undoes only itself; an error returned by `f` (or a panic) undoes
    /// everything. Calls from other threads on this store during `f` join the transaction.
    #[doc(hidden)]
    pub fn bulk<T>(
        &self,
        f: impl FnOnce(&Self) -> Result<T, MetadataError>,
    ) -> Result<T, MetadataError> {
        /// Rolls the bulk transaction back unless it was committed.
        struct Abort<'a>(&'a SqliteMetadataStore, bool);
        impl Drop for Abort<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    let mut state = self.0.lock();
                    state.bulk = false;
                    // Nothing more to do if the rollback fails: the connection then has no
                    // transaction left open.
                    let _ = state.conn.execute_batch("ROLLBACK");
                    state.cache.clear();
                }
            }
        }
        let sql = |e: rusqlite::Error| error::into_metadata(e.into(), "bulk", &self.location);
        {
            let mut state = self.lock();
            if state.bulk {
                return Err(Conflict::NestedBulk.into());
            }
            state.conn.execute_batch("BEGIN IMMEDIATE").map_err(sql)?;
            state.bulk = true;
        }
        let mut abort = Abort(self, false);
        let value = f(self)?;
        let mut state = self.lock();
        state.conn.execute_batch("COMMIT").map_err(sql)?;
        state.bulk = false;
        abort.1 = true;
        Ok(value)
    }
}

/// Opens the database at `path` and checks (or makes) the store in it.
fn connect(
    path: &Path,
    flags: OpenFlags,
    location: &str,
    mode: OpenMode,
) -> Result<(Connection, ContextTypes)> {
    let mut conn = Connection::open_with_flags(path, flags)?;
    let types = setup(&mut conn, location, mode)?;
    Ok((conn, types))
}

/// Sets a connection up and checks (or makes) the store in it.
fn setup(conn: &mut Connection, location: &str, mode: OpenMode) -> Result<ContextTypes> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(128);
    // Plans that do not depend on bound values. Without this, SQLite marks a statement whose
    // plan might change with a bound value for re-preparing, and the statement cache clears the
    // bindings of every statement it takes back, which expires such a statement: every cached
    // statement would be compiled again on each use.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    let types = schema::open(conn, location, mode)?;
    if mode != OpenMode::ReadOnly {
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoint the WAL into the database every 10,000 pages (40 MB) rather than every
        // 1,000: a checkpoint syncs the disk, and each write transaction touches a dozen or more
        // pages. Closing the last connection still checkpoints everything and removes the WAL,
        // so the database file alone holds every record once no process uses it.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
    }
    Ok(types)
}

/// Opens the database at `path` as a file nobody changes, when that is safe: it has no WAL
/// holding writes not yet in the file.
fn read_as_immutable(path: &Path, location: &str) -> Option<(Connection, ContextTypes)> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
        return None;
    }
    let absolute = std::path::absolute(path).ok()?;
    let mut uri = String::from("file:");
    for c in absolute.to_str()?.chars() {
        match c {
            '%' | '?' | '#' => uri.push_str(&format!("%{:02X}", u32::from(c))),
            c => uri.push(c),
        }
    }
    uri.push_str("?immutable=1");
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    connect(Path::new(&uri), flags, location, OpenMode::ReadOnly).ok()
}

impl fmt::Debug for SqliteMetadataStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteMetadataStore")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

fn open_backend(
    config: &MetadataConfig,
    base: &Path,
    mode: OpenMode,
) -> Result<Arc<dyn MetadataQuery>, MetadataError> {
    match config {
        MetadataConfig::Sqlite { path } => {
            let path = if path.is_relative() {
                base.join(path)
            } else {
                path.clone()
            };
            Ok(Arc::new(SqliteMetadataStore::open_with(path, mode)?))
        }
        other => Err(MetadataError::Incompatible {
            store: other.backend().to_owned(),
            reason: Incompatibility::WrongBackend {
                backend: "sqlite",
                config: other.backend(),
            },
        }),
    }
}

inventory::submit! {
    MetadataBackend {
        name: "sqlite",
        feature: "sqlite",
        open: open_backend,
    }
}

mlmd::impl_metadata_store!(SqliteMetadataStore);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_send_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<SqliteMetadataStore>();
    }
}
