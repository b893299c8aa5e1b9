//! ML Metadata's schema (version 10) over SQL: what the SQLite and MySQL stores share.
//!
//! Both stores lay a repository's metadata out exactly as Google's ML Metadata (MLMD) schema
//! version 10: its 15 tables with every column, one `MLMDEnv` row holding 10, and MLMD's nine
//! built-in `mlmd.*` simple types, so that the `ml-metadata` Python library reads every pipeline,
//! run, execution, parameter and artifact zenml recorded. This module holds everything about that
//! layout that does not depend on the database: the records as rows, read and written through a
//! small connection trait ([`Conn`]) each backend implements. A backend brings its connection,
//! its transactions, its DDL and its few dialect differences ([`Dialect`]).
//!
//! # Mapping
//!
//! | zenml | ML Metadata |
//! |---|---|
//! | step type | `ExecutionType`: `name` = the source path, `version` = the version as text, `description` = the doc comment. Each parameter is a declared property (`TypeProperty`): `bool` → BOOLEAN, the integer types → INT, `f32`/`f64` → DOUBLE, `String` and enums → STRING. The base type (`ParentType`) follows the kind: trainer → `mlmd.Train`, evaluator → `mlmd.Evaluate`, split and preprocesser → `mlmd.Transform`, datasource → `mlmd.Process`; a general step has none (it may do anything). |
//! | step run | `Execution` (`name` NULL), state RUNNING, then COMPLETE, FAILED or CACHED. Its parameter values are its properties (`is_custom_property = 0`); a `null` is not written (see below); the rest are custom properties (next table). |
//! | artifact | `Artifact` with its `uri`, state LIVE, of an `ArtifactType` per artifact type name (`ParentType` = its base type, if any), with the declared properties `hash` (STRING, 32 hex digits of xxh3-128), `size` (INT, bytes) and `materializer` (STRING, `"<id>@<version>"`), and the custom property `etag` (STRING) while one is known. |
//! | input, output | `Event` INPUT (3) / OUTPUT (4) with the input or output name as its path (one key step). One artifact read under two names is one event whose path holds both names, in name order (an event is unique per artifact, execution and type). |
//! | pipeline | `Context` of type `zenml.pipeline`, `name` = the pipeline's name, properties `config` (STRING, the YAML config it was first recorded with) and `run_count` (INT). |
//! | run | `Context` of type `zenml.pipeline_run`, `name` = `"<pipeline>#<n>"`, child of its pipeline's context (`ParentContext`), properties `config` (the YAML config it ran with), `status` (`running`, `completed`, `failed`, `interrupted`), `run_number` (INT), `started_ms` and `finished_ms` (INT). |
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
//! it. Floats are kept bit for bit, including NaN, the infinities and `-0.0`, and strings that
//! ML Metadata would misread are escaped (see the `value` module).
//!
//! # zenml's own tables
//!
//! Extra tables are invisible to ML Metadata: `zenml_schema(version)` records the version of
//! zenml's layout (so that a later zenml can migrate a store, and an older one refuses a newer
//! store), `zenml_step_type(type_id, kind)` the kind of each step type,
//! `zenml_cache(cache_key, execution_id)` the reusable execution of each cache key (an index that
//! makes a cache lookup one primary-key read however many cached re-runs share the key), and
//! `zenml_run_owner(run_id, owner, heartbeat_ms)` the process running each run that is still
//! running.

mod error;
mod read;
pub(crate) mod value;
mod write;

pub(crate) use error::{Error, Result, damaged, incompatible, not_found};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use zenml_core::step::StepKind;
use zenml_core::store::{Id, PropertyType, StepTypeSpec};

/// The ML Metadata schema version this layout follows.
pub(crate) const MLMD_SCHEMA_VERSION: i64 = 10;

/// The version of zenml's use of the database (its own tables, property names, indexes),
/// recorded in `zenml_schema`. Raise it with every change, and migrate older stores on open.
///
/// - 1: ML Metadata's tables, `zenml_schema`, `zenml_step_type`, `zenml_cache`.
/// - 2: `zenml_run_owner`.
pub(crate) const ZENML_SCHEMA_VERSION: i64 = 2;

/// The oldest version a backend reads as it is (reads do not use what later versions added).
pub(crate) const OLDEST_READABLE_VERSION: i64 = 1;

/// How many rows one statement writes at most (SQLite allows 500 terms in a compound `SELECT`,
/// and each row binds a handful of values).
pub(crate) const ROWS_PER_STATEMENT: usize = 100;

/// `Type.type_kind`.
pub(crate) const EXECUTION_TYPE: i64 = 0;
pub(crate) const ARTIFACT_TYPE: i64 = 1;

/// `Event.type`.
pub(crate) const EVENT_INPUT: i64 = 3;
pub(crate) const EVENT_OUTPUT: i64 = 4;

/// `Artifact.state`: LIVE.
pub(crate) const ARTIFACT_LIVE: i64 = 2;

/// The id of ML Metadata's built-in simple type of that name (every backend seeds them with
/// these ids).
pub(crate) fn simple_type_id(name: &str) -> Option<Id> {
    Some(match name {
        "mlmd.Dataset" => 1,
        "mlmd.Model" => 2,
        "mlmd.Metrics" => 3,
        "mlmd.Statistics" => 4,
        "mlmd.Train" => 5,
        "mlmd.Transform" => 6,
        "mlmd.Process" => 7,
        "mlmd.Evaluate" => 8,
        "mlmd.Deploy" => 9,
        _ => return None,
    })
}

/// What one query tells about a database: zenml's schema version, ML Metadata's, and the ids of
/// zenml's context types.
pub(crate) type Probe = (Option<i64>, Option<i64>, Option<Id>, Option<Id>);

/// The query that reads a [`Probe`] (one row of four columns).
pub(crate) const PROBE_SQL: &str = "SELECT (SELECT max(version) FROM zenml_schema), \
     (SELECT max(schema_version) FROM MLMDEnv), \
     (SELECT id FROM Type WHERE name = 'zenml.pipeline' AND type_kind = 2), \
     (SELECT id FROM Type WHERE name = 'zenml.pipeline_run' AND type_kind = 2)";

/// The ids of the two context types, read when the store is opened.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ContextTypes {
    pub(crate) pipeline: Id,
    pub(crate) run: Id,
}

/// The SQL a backend speaks, where the two differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Mysql,
}

impl Dialect {
    /// `INSERT OR REPLACE` (SQLite) / `REPLACE` (MySQL): an insert that replaces the row with the
    /// same key.
    pub(crate) fn replace_into(self) -> &'static str {
        match self {
            Dialect::Sqlite => "INSERT OR REPLACE INTO",
            Dialect::Mysql => "REPLACE INTO",
        }
    }

    /// `INSERT OR IGNORE` (SQLite) / `INSERT IGNORE` (MySQL): an insert skipped when the key is
    /// taken.
    pub(crate) fn insert_ignore(self) -> &'static str {
        match self {
            Dialect::Sqlite => "INSERT OR IGNORE INTO",
            Dialect::Mysql => "INSERT IGNORE INTO",
        }
    }

    /// The larger of two values: `max(a, b)` (SQLite) / `GREATEST(a, b)` (MySQL).
    pub(crate) fn greatest(self) -> &'static str {
        match self {
            Dialect::Sqlite => "max",
            Dialect::Mysql => "GREATEST",
        }
    }
}

/// One value of a statement's parameter or a row's column.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Cell {
    /// The integer in the cell (`None` for NULL); anything else is unreadable.
    pub(crate) fn int(&self) -> Result<Option<i64>> {
        match self {
            Cell::Null => Ok(None),
            Cell::Int(i) => Ok(Some(*i)),
            other => Err(Error::Corrupt(format!(
                "{other:?} where an integer was expected"
            ))),
        }
    }

    /// The integer in the cell, which must not be NULL.
    pub(crate) fn req_int(&self) -> Result<i64> {
        self.int()?
            .ok_or_else(|| Error::Corrupt("NULL where an integer was expected".to_owned()))
    }

    /// The text in the cell (`None` for NULL).
    pub(crate) fn text(&self) -> Result<Option<String>> {
        match self {
            Cell::Null => Ok(None),
            Cell::Text(s) => Ok(Some(s.clone())),
            Cell::Blob(b) => String::from_utf8(b.clone()).map(Some).map_err(|_| {
                Error::Corrupt("bytes that are not UTF-8 where text was expected".into())
            }),
            other => Err(Error::Corrupt(format!("{other:?} where text was expected"))),
        }
    }

    /// The text in the cell, which must not be NULL.
    pub(crate) fn req_text(&self) -> Result<String> {
        self.text()?
            .ok_or_else(|| Error::Corrupt("NULL where text was expected".to_owned()))
    }
}

impl From<i64> for Cell {
    fn from(i: i64) -> Self {
        Cell::Int(i)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl<T: Into<Cell>> From<Option<T>> for Cell {
    fn from(v: Option<T>) -> Self {
        v.map_or(Cell::Null, Into::into)
    }
}

/// The parameters of a statement: `cells![a, b, c]`.
macro_rules! cells {
    ($($x:expr),* $(,)?) => { [$($crate::mlmd::Cell::from($x)),*] };
}
pub(crate) use cells;

/// A row of a query's result.
pub(crate) type Row = Vec<Cell>;

/// A database connection inside one transaction, as the layout uses it. Statements use `?`
/// placeholders; a backend caches prepared statements by their text.
pub(crate) trait Conn {
    /// The SQL it speaks.
    fn dialect(&self) -> Dialect;

    /// Runs a statement; returns how many rows it changed.
    fn exec(&mut self, sql: &str, params: &[Cell]) -> Result<u64>;

    /// Runs a query; returns its rows.
    fn query(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Row>>;

    /// The id of the row the last insert made.
    fn last_id(&mut self) -> Result<Id>;

    /// The first row of a query, if any.
    fn query_first(&mut self, sql: &str, params: &[Cell]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// What a store remembers between calls: records that never change once written (or, for a step
/// type's parameters, only grow). Cleared whenever a write fails, since a rolled-back write may
/// have added to it.
#[derive(Debug, Default)]
pub(crate) struct Cache {
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
    pub(crate) fn clear(&mut self) {
        *self = Cache::default();
    }

    /// The id of `spec`'s step type if it is recorded exactly as `spec` describes it.
    pub(crate) fn step_type_unchanged(&self, spec: &StepTypeSpec) -> Option<Id> {
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
pub(crate) struct StepTypeDecl {
    source: String,
    version: u32,
    /// `None` for an execution type zenml did not create.
    kind: Option<StepKind>,
    doc: Option<String>,
    params: BTreeMap<String, PropertyType>,
}

/// One transaction of a store, with its caches.
pub(crate) struct Tx<'a> {
    conn: &'a mut dyn Conn,
    types: ContextTypes,
    cache: &'a mut Cache,
    /// The time of the transaction, in milliseconds since the Unix epoch.
    now: i64,
    dialect: Dialect,
}

impl<'a> Tx<'a> {
    /// A transaction on `conn`, at the current time: start it once the backend holds its locks,
    /// so that the order of timestamps follows the order of writes.
    pub(crate) fn new(conn: &'a mut dyn Conn, types: ContextTypes, cache: &'a mut Cache) -> Self {
        let dialect = conn.dialect();
        Tx {
            conn,
            types,
            cache,
            now: now_ms(),
            dialect,
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Implements [`MetadataStore`](zenml_core::store::MetadataStore) and
/// [`MetadataQuery`](zenml_core::store::MetadataQuery) for a store type with these inherent
/// methods: `fn write<T>(&self, op, f: impl FnOnce(&mut Tx) -> Result<T>) -> Result<T,
/// MetadataError>` (one write transaction), `fn read<T>(…)` (one read transaction),
/// `fn read_one<T>(…)` (a read that makes exactly one statement, which is consistent on its own:
/// a backend may spare it the transaction), `fn known_step_type(&self, &StepTypeSpec) ->
/// Option<Id>` (a step type recorded as described, from the cache) and
/// `fn describe_store(&self) -> String`.
macro_rules! impl_metadata_store {
    ($store:ty) => {
        impl zenml_core::store::MetadataStore for $store {
            fn describe(&self) -> String {
                <$store>::describe_store(self)
            }

            fn register_step_type(
                &self,
                spec: &zenml_core::store::StepTypeSpec,
            ) -> std::result::Result<zenml_core::store::Id, zenml_core::store::MetadataError> {
                if let Some(id) = self.known_step_type(spec) {
                    return Ok(id);
                }
                // A step type recorded as described is only read: no write lock, no write.
                if let Some(id) =
                    self.read_one("register_step_type", |tx| tx.registered_step_type(spec))?
                {
                    return Ok(id);
                }
                self.write("register_step_type", |tx| tx.register_step_type(spec))
            }

            fn register_pipeline(
                &self,
                name: &str,
                config: &str,
            ) -> std::result::Result<
                zenml_core::store::PipelineRecord,
                zenml_core::store::MetadataError,
            > {
                // A recorded pipeline is only read: no write lock for the common case.
                if let Some(record) =
                    zenml_core::store::MetadataQuery::pipeline_by_name(self, name)?
                {
                    return Ok(record);
                }
                self.write("register_pipeline", |tx| {
                    let id = tx.register_pipeline(name, config)?;
                    tx.pipeline_record(id)
                })
            }

            fn begin_run(
                &self,
                pipeline_id: zenml_core::store::Id,
                config: &str,
                owner: &str,
            ) -> std::result::Result<zenml_core::store::RunRecord, zenml_core::store::MetadataError>
            {
                self.write("begin_run", |tx| {
                    let id = tx.begin_run(pipeline_id, config, owner)?;
                    tx.run_record(id)
                })
            }

            fn finish_run(
                &self,
                run_id: zenml_core::store::Id,
                status: zenml_core::store::RunStatus,
            ) -> std::result::Result<zenml_core::store::RunRecord, zenml_core::store::MetadataError>
            {
                self.write("finish_run", |tx| {
                    tx.finish_run(run_id, status)?;
                    tx.run_record(run_id)
                })
            }

            fn heartbeat(
                &self,
                run_id: zenml_core::store::Id,
            ) -> std::result::Result<(), zenml_core::store::MetadataError> {
                self.write("heartbeat", |tx| tx.heartbeat(run_id))
            }

            fn running_runs(
                &self,
            ) -> std::result::Result<
                Vec<zenml_core::store::RunningRun>,
                zenml_core::store::MetadataError,
            > {
                self.read("running_runs", |tx| tx.running_runs())
            }

            fn interrupt_run(
                &self,
                run_id: zenml_core::store::Id,
                heartbeat_ms: i64,
                reason: &str,
            ) -> std::result::Result<Option<u64>, zenml_core::store::MetadataError> {
                self.write("interrupt_run", |tx| {
                    tx.interrupt_run(run_id, heartbeat_ms, reason)
                })
            }

            fn begin_execution(
                &self,
                execution: &zenml_core::store::NewExecution,
            ) -> std::result::Result<zenml_core::store::Id, zenml_core::store::MetadataError> {
                self.write("begin_execution", |tx| tx.begin_execution(execution))
            }

            fn complete_execution(
                &self,
                execution_id: zenml_core::store::Id,
                outputs: &[(String, zenml_core::store::NewArtifact)],
                metrics: &[(String, f64)],
                duration_ms: i64,
            ) -> std::result::Result<
                Vec<zenml_core::store::ArtifactRecord>,
                zenml_core::store::MetadataError,
            > {
                self.write("complete_execution", |tx| {
                    tx.complete_execution(execution_id, outputs, metrics, duration_ms)
                })
            }

            fn fail_execution(
                &self,
                execution_id: zenml_core::store::Id,
                error: &str,
                metrics: &[(String, f64)],
                duration_ms: i64,
            ) -> std::result::Result<(), zenml_core::store::MetadataError> {
                self.write("fail_execution", |tx| {
                    tx.fail_execution(execution_id, error, metrics, duration_ms)
                })
            }

            fn record_cached_execution(
                &self,
                execution: &zenml_core::store::NewExecution,
                hit: &zenml_core::store::CacheHit,
            ) -> std::result::Result<zenml_core::store::Id, zenml_core::store::MetadataError> {
                self.write("record_cached_execution", |tx| {
                    let ids = tx.record_cached_executions(&[(execution, hit)])?;
                    ids.first().copied().ok_or_else(|| {
                        crate::mlmd::Error::Corrupt("no execution was recorded".to_owned())
                    })
                })
            }

            fn record_cached_executions(
                &self,
                executions: &[(zenml_core::store::NewExecution, zenml_core::store::CacheHit)],
            ) -> std::result::Result<Vec<zenml_core::store::Id>, zenml_core::store::MetadataError>
            {
                if executions.is_empty() {
                    return Ok(Vec::new());
                }
                self.write("record_cached_executions", |tx| {
                    let items: Vec<_> = executions.iter().map(|(e, h)| (e, h)).collect();
                    tx.record_cached_executions(&items)
                })
            }

            fn find_cached(
                &self,
                cache_key: zenml_core::hash::Hash128,
            ) -> std::result::Result<
                Option<zenml_core::store::CacheHit>,
                zenml_core::store::MetadataError,
            > {
                self.read_one("find_cached", |tx| tx.find_cached(cache_key))
            }

            fn invalidate_cache(
                &self,
                cache_key: Option<zenml_core::hash::Hash128>,
            ) -> std::result::Result<u64, zenml_core::store::MetadataError> {
                self.write("invalidate_cache", |tx| tx.invalidate_cache(cache_key))
            }

            fn set_artifact_etag(
                &self,
                artifact_id: zenml_core::store::Id,
                etag: Option<&str>,
            ) -> std::result::Result<(), zenml_core::store::MetadataError> {
                self.write("set_artifact_etag", |tx| {
                    tx.set_artifact_etag(artifact_id, etag)
                })
            }
        }

        impl zenml_core::store::MetadataQuery for $store {
            fn step_types(
                &self,
                source: Option<&str>,
            ) -> std::result::Result<
                Vec<zenml_core::store::StepTypeRecord>,
                zenml_core::store::MetadataError,
            > {
                self.read("step_types", |tx| tx.step_types(source))
            }

            fn pipelines(
                &self,
            ) -> std::result::Result<
                Vec<zenml_core::store::PipelineRecord>,
                zenml_core::store::MetadataError,
            > {
                self.read("pipelines", |tx| {
                    tx.pipeline_ids()?
                        .into_iter()
                        .map(|id| tx.pipeline_record(id))
                        .collect()
                })
            }

            fn pipeline_by_name(
                &self,
                name: &str,
            ) -> std::result::Result<
                Option<zenml_core::store::PipelineRecord>,
                zenml_core::store::MetadataError,
            > {
                self.read("pipeline_by_name", |tx| {
                    tx.pipeline_id_by_name(name)?
                        .map(|id| tx.pipeline_record(id))
                        .transpose()
                })
            }

            fn runs(
                &self,
                pipeline_id: Option<zenml_core::store::Id>,
            ) -> std::result::Result<
                Vec<zenml_core::store::RunRecord>,
                zenml_core::store::MetadataError,
            > {
                self.read("runs", |tx| {
                    tx.run_ids(pipeline_id)?
                        .into_iter()
                        .map(|id| tx.run_record(id))
                        .collect()
                })
            }

            fn run(
                &self,
                run_id: zenml_core::store::Id,
            ) -> std::result::Result<zenml_core::store::RunRecord, zenml_core::store::MetadataError>
            {
                self.read("run", |tx| tx.run_record(run_id))
            }

            fn run_by_name(
                &self,
                name: &str,
            ) -> std::result::Result<
                Option<zenml_core::store::RunRecord>,
                zenml_core::store::MetadataError,
            > {
                self.read("run_by_name", |tx| {
                    tx.run_id_by_name(name)?
                        .map(|id| tx.run_record(id))
                        .transpose()
                })
            }

            fn executions(
                &self,
                run_id: zenml_core::store::Id,
            ) -> std::result::Result<
                Vec<zenml_core::store::ExecutionRecord>,
                zenml_core::store::MetadataError,
            > {
                self.read("executions", |tx| {
                    tx.execution_ids_of_run(run_id)?
                        .into_iter()
                        .map(|id| tx.execution_record(id))
                        .collect()
                })
            }

            fn execution(
                &self,
                execution_id: zenml_core::store::Id,
            ) -> std::result::Result<
                zenml_core::store::ExecutionRecord,
                zenml_core::store::MetadataError,
            > {
                self.read("execution", |tx| tx.execution_record(execution_id))
            }

            fn executions_of_step(
                &self,
                source: &str,
                limit: usize,
            ) -> std::result::Result<
                Vec<zenml_core::store::ExecutionRecord>,
                zenml_core::store::MetadataError,
            > {
                self.read("executions_of_step", |tx| {
                    tx.execution_ids_of_step(source, limit)?
                        .into_iter()
                        .map(|id| tx.execution_record(id))
                        .collect()
                })
            }

            fn artifact(
                &self,
                artifact_id: zenml_core::store::Id,
            ) -> std::result::Result<
                zenml_core::store::ArtifactRecord,
                zenml_core::store::MetadataError,
            > {
                self.read("artifact", |tx| tx.artifact_record(artifact_id))
            }

            fn artifacts(
                &self,
                after: zenml_core::store::Id,
                limit: usize,
            ) -> std::result::Result<
                Vec<zenml_core::store::ArtifactRecord>,
                zenml_core::store::MetadataError,
            > {
                self.read("artifacts", |tx| tx.artifacts_after(after, limit))
            }

            fn artifact_producer(
                &self,
                artifact_id: zenml_core::store::Id,
            ) -> std::result::Result<
                Option<zenml_core::store::ExecutionRecord>,
                zenml_core::store::MetadataError,
            > {
                self.read("artifact_producer", |tx| {
                    tx.artifact_producer(artifact_id)?
                        .map(|id| tx.execution_record(id))
                        .transpose()
                })
            }

            fn artifact_consumers(
                &self,
                artifact_id: zenml_core::store::Id,
            ) -> std::result::Result<
                Vec<zenml_core::store::ExecutionRecord>,
                zenml_core::store::MetadataError,
            > {
                self.read("artifact_consumers", |tx| {
                    tx.artifact_consumers(artifact_id)?
                        .into_iter()
                        .map(|id| tx.execution_record(id))
                        .collect()
                })
            }
        }
    };
}
pub(crate) use impl_metadata_store;
