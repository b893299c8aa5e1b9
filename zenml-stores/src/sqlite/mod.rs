//! The SQLite metadata store in the ML Metadata schema (version 10).
//!
//! [`SqliteMetadataStore`] keeps a repository's metadata in one SQLite file laid out exactly as
//! Google's ML Metadata (MLMD) schema version 10: its 15 tables with every column, one `MLMDEnv`
//! row holding 10, and MLMD's nine built-in `mlmd.*` simple types. The `ml-metadata` Python
//! library opens the file (read-only too) and reads every pipeline, run, execution, parameter
//! and artifact zenml recorded.
//!
//! # Mapping
//!
//! | zenml | ML Metadata |
//! |---|---|
//! | step type | `ExecutionType`: `name` = the source path, `version` = the version as text, `description` = the doc comment. Each parameter is a declared property (`TypeProperty`): `bool` → BOOLEAN, the integer types → INT, `f32`/`f64` → DOUBLE, `String` and enums → STRING. The base type (`ParentType`) follows the kind: trainer → `mlmd.Train`, evaluator → `mlmd.Evaluate`, split and preprocesser → `mlmd.Transform`, datasource → `mlmd.Process`; a general step has none (it may do anything). |
//! | step run | `Execution` (`name` NULL), state RUNNING, then COMPLETE, FAILED or CACHED. Its parameter values are its properties (`is_custom_property = 0`); a `null` is not written (see below); the rest are custom properties (next table). |
//! | artifact | `Artifact` with its `uri`, state LIVE, of an `ArtifactType` per artifact type name (`ParentType` = its base type, if any), with the declared properties `hash` (STRING, 32 hex digits of xxh3-128), `size` (INT, bytes) and `materializer` (STRING, `"<id>@<version>"`), and the custom property `etag` (STRING) while one is known. |
//! | input, output | `Event` INPUT (3) / OUTPUT (4) with the input or output name as its path (one key step). One artifact read under two names is one event whose path holds both names, in name order (an event is unique per artifact, execution and type). |
//! | pipeline | `Context` of type `zenml.pipeline`, `name` = the pipeline's name, properties `config` (STRING, the YAML config it last ran with) and `run_count` (INT). |
//! | run | `Context` of type `zenml.pipeline_run`, `name` = `"<pipeline>#<n>"`, child of its pipeline's context (`ParentContext`), properties `config` (the YAML config it ran with), `status` (`running`, `completed`, `failed`), `run_number` (INT), `started_ms` and `finished_ms` (INT). |
//! | membership | each execution is associated (`Association`) with its run's and its pipeline's context; each artifact is attributed (`Attribution`) to the contexts of the executions that produced or reused it. |
//!
//! The custom properties of an execution:
//!
//! | name | value | when |
//! |---|---|---|
//! | `step_name` | string | always: the step's name in its pipeline |
//! | `kind` | string | always: `datasource`, `split`, `preprocesser`, `trainer`, `evaluator`, `general` |
//! | `code_fingerprint` | string | always: 32 hex digits |
//! | `cache_key` | string | a cacheable step: 32 hex digits |
//! | `duration_ms` | int | once finished (0 when cached) |
//! | `error` | string | FAILED: the error |
//! | `cached_from` | int | CACHED: the id of the execution whose outputs were reused |
//! | `cache_invalidated` | bool | a COMPLETE execution no longer reusable (`zenml cache clear`) |
//! | `metric.<name>` | double | each metric the step recorded |
//!
//! Timestamps (`create_time_since_epoch`, `last_update_time_since_epoch`, events) are
//! milliseconds since the Unix epoch; both are set on insert and `last_update` moves on every
//! change.
//!
//! # Values
//!
//! A property row holds exactly one value (ML Metadata cannot read a row without one), so a
//! `null` parameter is simply left out and reads back as `null` because the step type declares
//! it. Floats are kept bit for bit, including NaN and `-0.0` (see the `value` module). ML
//! Metadata itself reads doubles at 15 significant digits; zenml reads them exactly.
//!
//! # zenml's own tables
//!
//! Extra tables are invisible to ML Metadata: `zenml_schema(version)` records the version of
//! zenml's layout (so that a later zenml can migrate a store, and an older one refuses a newer
//! store), `zenml_step_type(type_id, kind)` the kind of each step type, and
//! `zenml_cache(cache_key, execution_id)` the reusable execution of each cache key, an index that
//! makes a cache lookup one primary-key read however many cached re-runs share the key.
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
mod read;
mod schema;
mod value;
mod write;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use zenml_core::hash::Hash128;
use zenml_core::step::StepKind;
use zenml_core::store::{
    ArtifactRecord, CacheHit, Conflict, ExecutionRecord, Id, Incompatibility, MetadataBackend,
    MetadataConfig, MetadataError, MetadataQuery, MetadataStore, MissingStore, NewArtifact,
    NewExecution, OpenMode, PipelineRecord, PropertyType, RunRecord, RunStatus, RunningRun,
    StepTypeRecord, StepTypeSpec,
};

use error::{Error, Result};
use schema::ContextTypes;

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

/// What the store remembers between calls: records that never change once written (or, for a
/// step type's parameters, only grow). Cleared whenever a write fails, since a rolled-back write
/// may have added to it.
#[derive(Debug, Default)]
struct Cache {
    /// Step type ids by (source, version).
    step_type_ids: HashMap<(String, u32), Id>,
    /// Step types by id.
    step_types: HashMap<Id, Arc<StepTypeDecl>>,
    /// Artifact type ids by name.
    artifact_types: HashMap<String, Id>,
    /// Pipeline names by context id.
    pipeline_names: HashMap<Id, Arc<str>>,
    /// The pipeline of each run.
    run_pipelines: HashMap<Id, Id>,
}

impl Cache {
    fn clear(&mut self) {
        *self = Cache::default();
    }

    /// The id of `spec`'s step type if it is recorded exactly as `spec` describes it.
    fn step_type_unchanged(&self, spec: &StepTypeSpec) -> Option<Id> {
        let id = *self
            .step_type_ids
            .get(&(spec.source.clone(), spec.version))?;
        let decl = self.step_types.get(&id)?;
        let unchanged = decl.kind == Some(spec.kind)
            && decl.doc.as_deref().unwrap_or("") == spec.doc
            && spec
                .params
                .iter()
                .all(|(n, t)| decl.params.get(n) == Some(&PropertyType::of(*t)));
        unchanged.then_some(id)
    }
}

/// A step type as recorded.
#[derive(Debug)]
struct StepTypeDecl {
    source: String,
    version: u32,
    /// `None` for an execution type zenml did not create.
    kind: Option<StepKind>,
    doc: Option<String>,
    params: BTreeMap<String, PropertyType>,
}

/// One transaction of the store, with its caches.
struct Tx<'a> {
    conn: &'a Connection,
    types: ContextTypes,
    cache: &'a mut Cache,
    /// The time of the transaction, in milliseconds since the Unix epoch.
    now: i64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
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
                    None => return Err(e.into_open_error(&location, Some(path))),
                }
            }
            Err(e) if e.cannot_open() && mode != OpenMode::ReadOnly => {
                if let Some(why) = file::folder_unwritable(path) {
                    return Err(MetadataError::ReadOnly {
                        store: location,
                        detail: format!(
                            "{why}; commands that only read (`zenml run list`, `zenml run show`, \
                             …) still work, running a pipeline needs a store it can write"
                        ),
                    });
                }
                return Err(e.into_open_error(&location, Some(path)));
            }
            Err(e) => return Err(e.into_open_error(&location, Some(path))),
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
            .map_err(Error::Sql)
            .and_then(|mut conn| {
                let types = setup(&mut conn, &location, OpenMode::Create)?;
                Ok((conn, types))
            });
        let (conn, types) = opened.map_err(|e| e.into_open_error(&location, None))?;
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
                let now = now_ms();
                let value = f(&mut Tx {
                    conn: &savepoint,
                    types,
                    cache,
                    now,
                })?;
                savepoint.commit()?;
                return Ok(value);
            }
            let tx = conn.transaction_with_behavior(behavior)?;
            // The time is taken once the lock is held, so that the order of timestamps follows
            // the order of writes.
            let now = now_ms();
            let value = f(&mut Tx {
                conn: &tx,
                types,
                cache,
                now,
            })?;
            tx.commit()?;
            Ok(value)
        })();
        if result.is_err() && !matches!(behavior, TransactionBehavior::Deferred) {
            cache.clear();
        }
        result.map_err(|e: Error| e.into_metadata(op, &self.location))
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
        let sql = |e| Error::Sql(e).into_metadata("bulk", &self.location);
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

impl MetadataStore for SqliteMetadataStore {
    fn describe(&self) -> String {
        self.location.clone()
    }

    fn register_step_type(&self, spec: &StepTypeSpec) -> Result<Id, MetadataError> {
        if let Some(id) = self.lock().cache.step_type_unchanged(spec) {
            return Ok(id);
        }
        self.write("register_step_type", |tx| tx.register_step_type(spec))
    }

    fn register_pipeline(&self, name: &str, config: &str) -> Result<PipelineRecord, MetadataError> {
        // A recorded pipeline is only read: no write lock for the common case.
        if let Some(record) = self.pipeline_by_name(name)? {
            return Ok(record);
        }
        self.write("register_pipeline", |tx| {
            let id = tx.register_pipeline(name, config)?;
            tx.pipeline_record(id)
        })
    }

    fn begin_run(
        &self,
        pipeline_id: Id,
        config: &str,
        owner: &str,
    ) -> Result<RunRecord, MetadataError> {
        self.write("begin_run", |tx| {
            let id = tx.begin_run(pipeline_id, config, owner)?;
            tx.run_record(id)
        })
    }

    fn finish_run(&self, run_id: Id, status: RunStatus) -> Result<RunRecord, MetadataError> {
        self.write("finish_run", |tx| {
            tx.finish_run(run_id, status)?;
            tx.run_record(run_id)
        })
    }

    fn heartbeat(&self, run_id: Id) -> Result<(), MetadataError> {
        self.write("heartbeat", |tx| tx.heartbeat(run_id))
    }

    fn running_runs(&self) -> Result<Vec<RunningRun>, MetadataError> {
        self.read("running_runs", |tx| tx.running_runs())
    }

    fn interrupt_run(
        &self,
        run_id: Id,
        heartbeat_ms: i64,
        reason: &str,
    ) -> Result<Option<u64>, MetadataError> {
        self.write("interrupt_run", |tx| {
            tx.interrupt_run(run_id, heartbeat_ms, reason)
        })
    }

    fn begin_execution(&self, execution: &NewExecution) -> Result<Id, MetadataError> {
        self.write("begin_execution", |tx| {
            tx.new_execution(execution, zenml_core::store::ExecutionState::Running)
        })
    }

    fn complete_execution(
        &self,
        execution_id: Id,
        outputs: &[(String, NewArtifact)],
        metrics: &[(String, f64)],
        duration_ms: i64,
    ) -> Result<Vec<ArtifactRecord>, MetadataError> {
        self.write("complete_execution", |tx| {
            tx.complete_execution(execution_id, outputs, metrics, duration_ms)
        })
    }

    fn fail_execution(
        &self,
        execution_id: Id,
        error: &str,
        metrics: &[(String, f64)],
        duration_ms: i64,
    ) -> Result<(), MetadataError> {
        self.write("fail_execution", |tx| {
            tx.fail_execution(execution_id, error, metrics, duration_ms)
        })
    }

    fn record_cached_execution(
        &self,
        execution: &NewExecution,
        hit: &CacheHit,
    ) -> Result<Id, MetadataError> {
        self.write("record_cached_execution", |tx| {
            tx.record_cached_execution(execution, hit)
        })
    }

    fn record_cached_executions(
        &self,
        executions: &[(NewExecution, CacheHit)],
    ) -> Result<Vec<Id>, MetadataError> {
        if executions.is_empty() {
            return Ok(Vec::new());
        }
        self.write("record_cached_executions", |tx| {
            executions
                .iter()
                .map(|(execution, hit)| tx.record_cached_execution(execution, hit))
                .collect()
        })
    }

    fn find_cached(&self, cache_key: Hash128) -> Result<Option<CacheHit>, MetadataError> {
        self.read("find_cached", |tx| tx.find_cached(cache_key))
    }

    fn invalidate_cache(&self, cache_key: Option<Hash128>) -> Result<u64, MetadataError> {
        self.write("invalidate_cache", |tx| tx.invalidate_cache(cache_key))
    }

    fn set_artifact_etag(&self, artifact_id: Id, etag: Option<&str>) -> Result<(), MetadataError> {
        self.write("set_artifact_etag", |tx| {
            tx.set_artifact_etag(artifact_id, etag)
        })
    }
}

impl MetadataQuery for SqliteMetadataStore {
    fn step_types(&self, source: Option<&str>) -> Result<Vec<StepTypeRecord>, MetadataError> {
        self.read("step_types", |tx| tx.step_types(source))
    }

    fn pipelines(&self) -> Result<Vec<PipelineRecord>, MetadataError> {
        self.read("pipelines", |tx| {
            tx.pipeline_ids()?
                .into_iter()
                .map(|id| tx.pipeline_record(id))
                .collect()
        })
    }

    fn pipeline_by_name(&self, name: &str) -> Result<Option<PipelineRecord>, MetadataError> {
        self.read("pipeline_by_name", |tx| {
            tx.pipeline_id_by_name(name)?
                .map(|id| tx.pipeline_record(id))
                .transpose()
        })
    }

    fn runs(&self, pipeline_id: Option<Id>) -> Result<Vec<RunRecord>, MetadataError> {
        self.read("runs", |tx| {
            tx.run_ids(pipeline_id)?
                .into_iter()
                .map(|id| tx.run_record(id))
                .collect()
        })
    }

    fn run(&self, run_id: Id) -> Result<RunRecord, MetadataError> {
        self.read("run", |tx| tx.run_record(run_id))
    }

    fn run_by_name(&self, name: &str) -> Result<Option<RunRecord>, MetadataError> {
        self.read("run_by_name", |tx| {
            tx.run_id_by_name(name)?
                .map(|id| tx.run_record(id))
                .transpose()
        })
    }

    fn executions(&self, run_id: Id) -> Result<Vec<ExecutionRecord>, MetadataError> {
        self.read("executions", |tx| {
            tx.execution_ids_of_run(run_id)?
                .into_iter()
                .map(|id| tx.execution_record(id))
                .collect()
        })
    }

    fn execution(&self, execution_id: Id) -> Result<ExecutionRecord, MetadataError> {
        self.read("execution", |tx| tx.execution_record(execution_id))
    }

    fn executions_of_step(
        &self,
        source: &str,
        limit: usize,
    ) -> Result<Vec<ExecutionRecord>, MetadataError> {
        self.read("executions_of_step", |tx| {
            tx.execution_ids_of_step(source, limit)?
                .into_iter()
                .map(|id| tx.execution_record(id))
                .collect()
        })
    }

    fn artifact(&self, artifact_id: Id) -> Result<ArtifactRecord, MetadataError> {
        self.read("artifact", |tx| tx.artifact_record(artifact_id))
    }

    fn artifacts(&self, after: Id, limit: usize) -> Result<Vec<ArtifactRecord>, MetadataError> {
        self.read("artifacts", |tx| tx.artifacts_after(after, limit))
    }

    fn artifact_producer(&self, artifact_id: Id) -> Result<Option<ExecutionRecord>, MetadataError> {
        self.read("artifact_producer", |tx| {
            tx.artifact_producer(artifact_id)?
                .map(|id| tx.execution_record(id))
                .transpose()
        })
    }

    fn artifact_consumers(&self, artifact_id: Id) -> Result<Vec<ExecutionRecord>, MetadataError> {
        self.read("artifact_consumers", |tx| {
            tx.artifact_consumers(artifact_id)?
                .into_iter()
                .map(|id| tx.execution_record(id))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_send_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<SqliteMetadataStore>();
    }
}
