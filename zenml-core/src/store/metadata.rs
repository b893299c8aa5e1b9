//! The metadata store: where every pipeline, run, execution and artifact is recorded.
//!
//! Backends lay their data out in ML Metadata's schema (see the `zenml-stores` crate); the trait
//! speaks in zenml's terms. Every method is one short transaction: a crash between two calls
//! leaves a consistent store (an execution left RUNNING is read as interrupted, never as
//! reusable).

use std::fmt;

use crate::hash::Hash128;
use crate::param::{ParamType, Params, ScalarType, Value};
use crate::step::StepKind;

/// Ids are the ML Metadata row ids.
pub type Id = i64;

/// The base types ML Metadata knows, for artifact types that are one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BaseType {
    /// `mlmd.Dataset`
    Dataset,
    /// `mlmd.Model`
    Model,
    /// `mlmd.Metrics`
    Metrics,
    /// `mlmd.Statistics`
    Statistics,
}

/// A failure of the metadata store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// The backend failed (a database error, an unreachable server).
    #[error("{store} metadata store: {source}")]
    Backend {
        /// The backend (`"sqlite"`, `"mysql"`, `"memory"`).
        store: &'static str,
        /// The failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No record with that id or name.
    #[error("no {what} `{key}` in the metadata store")]
    NotFound {
        /// What was looked for (`"run"`, `"artifact"`).
        what: &'static str,
        /// The id or name.
        key: String,
    },
    /// The store cannot be used by this build: a database of another version or another
    /// application, or a backend this binary does not link. Nothing was written to it.
    #[error("incompatible metadata store {store}: {reason}")]
    Incompatible {
        /// The store, described (`sqlite:/repo/.zenml/metadata.db`, or the backend's name).
        store: String,
        /// Why.
        reason: Incompatibility,
    },
    /// A write that contradicts what is recorded; nothing was written.
    #[error(transparent)]
    Conflict(#[from] Conflict),
    /// The store is not where its configuration says, or not any more: its database is missing
    /// or empty, or was removed or replaced while this process used it. Nothing was created, and
    /// nothing was written.
    #[error("metadata store {store} {problem}")]
    Missing {
        /// The store, described (`sqlite:/repo/.zenml/metadata.db`).
        store: String,
        /// What is wrong.
        problem: MissingStore,
    },
    /// A write to a store that can only be read: opened with
    /// [`OpenMode::ReadOnly`](super::OpenMode::ReadOnly), or in files or on a file system this
    /// process may not write.
    #[error("metadata store {store} is read-only: {detail}")]
    ReadOnly {
        /// The store, described.
        store: String,
        /// Why, and what was refused.
        detail: String,
    },
    /// The database is damaged: not a database at all, or with malformed contents.
    #[error("metadata store {store} is damaged: {detail}")]
    Damaged {
        /// The store, described.
        store: String,
        /// What is wrong.
        detail: String,
    },
}

/// Why a store [cannot be used](MetadataError::Incompatible) by this build.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Incompatibility {
    /// Written by a newer zenml: upgrade zenml to open it.
    #[error(
        "the store was written by a newer zenml (store schema {found}; this build knows up to \
         {supported}); upgrade zenml to open it"
    )]
    Newer {
        /// The store's schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// A zenml schema version this build does not know how to read.
    #[error("unknown store schema version {found} (this build reads {oldest} to {supported})")]
    UnknownVersion {
        /// The store's schema version.
        found: i64,
        /// The oldest this build reads.
        oldest: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// An ML Metadata schema of another version.
    #[error("ML Metadata schema version {found}, expected {expected}")]
    MlmdVersion {
        /// The database's ML Metadata schema version.
        found: i64,
        /// The one zenml writes.
        expected: i64,
    },
    /// An ML Metadata store that zenml did not create.
    #[error(
        "an ML Metadata store that zenml did not create; zenml only opens stores it created \
         (point the repository at a new database)"
    )]
    ForeignMlmd,
    /// A database of another application.
    #[error(
        "a database of another application (tables: {}); zenml will not write to it",
        tables.join(", ")
    )]
    Foreign {
        /// Its tables.
        tables: Vec<String>,
    },
    /// No backend of this name is linked into the binary.
    #[error(
        "no `{backend}` metadata store backend is linked into this binary (it has: {}); build it \
         with the zenml feature that provides `{backend}`",
        if linked.is_empty() { "none".to_owned() } else { linked.join(", ") }
    )]
    BackendNotLinked {
        /// The backend asked for.
        backend: String,
        /// The backends this binary has.
        linked: Vec<String>,
    },
    /// A backend was given a configuration of another backend.
    #[error("the {backend} backend cannot open a `{config}` metadata store")]
    WrongBackend {
        /// The backend.
        backend: &'static str,
        /// The kind of store the configuration names.
        config: &'static str,
    },
}

/// A write that [contradicts](MetadataError::Conflict) what is recorded.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Conflict {
    /// A step type is recorded with another kind, or one of its parameters with another type:
    /// such a change needs a new version of the step.
    #[error(
        "step type `{step_type}` version {version} records {what} as {recorded}, not {given}: \
         give the step a new version"
    )]
    StepTypeChanged {
        /// The step type's source path.
        step_type: String,
        /// Its version.
        version: u32,
        /// What changed (`"its kind"`, `"parameter `lr`"`).
        what: String,
        /// As recorded.
        recorded: String,
        /// As given.
        given: String,
    },
    /// A step type declares a parameter twice, with two types.
    #[error("step type `{step_type}` declares parameter `{param}` twice")]
    DuplicateParameter {
        /// The step type.
        step_type: String,
        /// The parameter.
        param: String,
    },
    /// A parameter value for a parameter the step type does not declare.
    #[error(
        "parameter `{param}` is not declared by step type `{step_type}`; register the step type \
         with it first"
    )]
    UndeclaredParameter {
        /// The step type.
        step_type: String,
        /// The parameter.
        param: String,
    },
    /// A parameter value of another kind than declared.
    #[error(
        "parameter `{param}` of step type `{step_type}` is declared as {declared}, but the value \
         is {value}"
    )]
    ParameterType {
        /// The step type.
        step_type: String,
        /// The parameter.
        param: String,
        /// Its declared type.
        declared: PropertyType,
        /// The value given, with its kind (`a string "x"`).
        value: String,
    },
    /// Two inputs or two outputs of one execution with one name.
    #[error("two {what}s are named `{name}`")]
    DuplicateName {
        /// `"input"` or `"output"`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// An execution that is not RUNNING cannot finish (again).
    #[error("execution {execution} is {state}, not running: it cannot finish again")]
    NotRunning {
        /// The execution.
        execution: Id,
        /// Its state.
        state: ExecutionState,
    },
    /// Only a COMPLETE execution's outputs can be reused.
    #[error("execution {execution} is {state}, not complete: its outputs cannot be reused")]
    NotReusable {
        /// The execution.
        execution: Id,
        /// Its state.
        state: ExecutionState,
    },
    /// An artifact too large to record.
    #[error("artifact {uri} is too large to record ({size} bytes)")]
    TooLarge {
        /// The artifact.
        uri: String,
        /// Its size.
        size: u64,
    },
    /// A bulk load inside another.
    #[error("bulk loads of one store do not nest")]
    NestedBulk,
}

/// Why a metadata store is [missing](MetadataError::Missing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MissingStore {
    /// There is no database where the configuration says (deleted, or moved).
    NoDatabase,
    /// The database is empty: its file was truncated or replaced by an empty one, or a server's
    /// database holds no tables.
    Empty,
    /// The database was removed while this process was using it.
    Removed,
    /// The database file was replaced by another file while this process was using it.
    Replaced,
}

impl fmt::Display for MissingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MissingStore::NoDatabase => "does not exist (its database was deleted or moved)",
            MissingStore::Empty => {
                "is empty (its database holds no store: it was emptied, or never made one)"
            }
            MissingStore::Removed => {
                "was removed while this process was using it; nothing more was written to it"
            }
            MissingStore::Replaced => {
                "was replaced by another file while this process was using it; nothing more was \
                 written to it"
            }
        })
    }
}

impl MetadataError {
    /// A backend failure.
    pub fn backend(
        store: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        MetadataError::Backend {
            store,
            source: source.into(),
        }
    }
}

/// The state of an execution (ML Metadata's `Execution.State`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExecutionState {
    /// Started and not finished (or interrupted).
    Running,
    /// Finished; its outputs are published.
    Complete,
    /// Failed; it published no output.
    Failed,
    /// Not run: the outputs of an earlier execution with the same cache key were reused.
    Cached,
}

impl ExecutionState {
    /// The ML Metadata enum value.
    pub fn mlmd_value(self) -> i64 {
        match self {
            ExecutionState::Running => 2,
            ExecutionState::Complete => 3,
            ExecutionState::Failed => 4,
            ExecutionState::Cached => 5,
        }
    }

    /// From an ML Metadata enum value (unknown values read as `Running`: not reusable).
    pub fn from_mlmd(v: i64) -> Self {
        match v {
            3 => ExecutionState::Complete,
            4 => ExecutionState::Failed,
            5 => ExecutionState::Cached,
            _ => ExecutionState::Running,
        }
    }

    /// `"running"`, `"complete"`, `"failed"`, `"cached"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionState::Running => "running",
            ExecutionState::Complete => "complete",
            ExecutionState::Failed => "failed",
            ExecutionState::Cached => "cached",
        }
    }
}

impl fmt::Display for ExecutionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a pipeline run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunStatus {
    /// Started and not finished (or interrupted).
    Running,
    /// Every step completed or was cached.
    Completed,
    /// A step failed.
    Failed,
    /// The process running it ended before the run did (it was killed, or its machine went
    /// down); a later process noticed and closed the run.
    Interrupted,
}

impl RunStatus {
    /// `"running"`, `"completed"`, `"failed"`, `"interrupted"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// Parses [`RunStatus::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => RunStatus::Running,
            "completed" => RunStatus::Completed,
            "failed" => RunStatus::Failed,
            "interrupted" => RunStatus::Interrupted,
            _ => return None,
        })
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a parameter is declared in the store: ML Metadata's `PropertyType` of the step type's
/// property. Every store keeps a parameter's value in the column of its declared type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PropertyType {
    /// `bool` (ML Metadata `BOOLEAN`).
    Bool,
    /// The integer types (`INT`).
    Int,
    /// `f32` and `f64` (`DOUBLE`).
    Double,
    /// `String` and enums (`STRING`).
    String,
}

impl PropertyType {
    /// The property type of a parameter type (an `Option` is declared as its scalar).
    pub fn of(ty: ParamType) -> Self {
        match ty.scalar {
            ScalarType::Bool => PropertyType::Bool,
            ScalarType::F32 | ScalarType::F64 => PropertyType::Double,
            ScalarType::String | ScalarType::Enum(_) => PropertyType::String,
            ScalarType::I8
            | ScalarType::I16
            | ScalarType::I32
            | ScalarType::I64
            | ScalarType::U8
            | ScalarType::U16
            | ScalarType::U32 => PropertyType::Int,
        }
    }

    /// The ML Metadata `PropertyType` enum value.
    pub fn mlmd_value(self) -> i64 {
        match self {
            PropertyType::Int => 1,
            PropertyType::Double => 2,
            PropertyType::String => 3,
            PropertyType::Bool => 6,
        }
    }

    /// From an ML Metadata `PropertyType` enum value (`None` for the kinds zenml never declares).
    pub fn from_mlmd(v: i64) -> Option<Self> {
        Some(match v {
            1 => PropertyType::Int,
            2 => PropertyType::Double,
            3 => PropertyType::String,
            6 => PropertyType::Bool,
            _ => return None,
        })
    }

    /// `"bool"`, `"int"`, `"double"`, `"string"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyType::Bool => "bool",
            PropertyType::Int => "int",
            PropertyType::Double => "double",
            PropertyType::String => "string",
        }
    }

    /// The value to store for a parameter declared with this type: `None` for `Null` (which is not
    /// stored), the value itself when its kind matches, and an integer as a float for `Double`
    /// when the float holds it exactly.
    pub(crate) fn stored_value(self, value: &Value) -> Result<Option<Value>, ()> {
        match (self, value) {
            (_, Value::Null) => Ok(None),
            (PropertyType::Bool, Value::Bool(_))
            | (PropertyType::Int, Value::Int(_))
            | (PropertyType::Double, Value::Float(_))
            | (PropertyType::String, Value::Str(_)) => Ok(Some(value.clone())),
            #[allow(clippy::cast_precision_loss)]
            (PropertyType::Double, Value::Int(i)) if i.unsigned_abs() <= 1 << 53 => {
                Ok(Some(Value::Float(*i as f64)))
            }
            _ => Err(()),
        }
    }
}

impl fmt::Display for PropertyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step type as the store records it (an ML Metadata `ExecutionType`).
#[derive(Clone, Debug, PartialEq)]
pub struct StepTypeSpec {
    /// `module_path!()::Name`.
    pub source: String,
    /// The declared version.
    pub version: u32,
    /// The kind.
    pub kind: StepKind,
    /// The doc comment.
    pub doc: String,
    /// The declared parameters and their types.
    pub params: Vec<(String, ParamType)>,
}

/// A recorded step type.
#[derive(Clone, Debug, PartialEq)]
pub struct StepTypeRecord {
    /// The `ExecutionType` id.
    pub id: Id,
    /// The source path.
    pub source: String,
    /// The version.
    pub version: u32,
    /// The declared parameter names, sorted.
    pub param_names: Vec<String>,
}

/// A recorded pipeline (an ML Metadata context of type `zenml.pipeline`).
#[derive(Clone, Debug, PartialEq)]
pub struct PipelineRecord {
    /// The context id.
    pub id: Id,
    /// The pipeline's name (unique).
    pub name: String,
    /// The YAML config it was recorded with: its definition, which its name keeps.
    pub config: String,
    /// When it was first recorded (milliseconds since the Unix epoch).
    pub created_ms: i64,
    /// When a run of it last started (its creation time until then).
    pub updated_ms: i64,
}

/// A run whose status is still `running`, with what identifies the process running it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunningRun {
    /// The run.
    pub run: RunRecord,
    /// The owner given to [`MetadataStore::begin_run`] (empty for a run recorded before owners
    /// were).
    pub owner: String,
    /// When its process last said it was alive (milliseconds since the Unix epoch): the start
    /// of the run, then each [`MetadataStore::heartbeat`].
    pub heartbeat_ms: i64,
}

/// A recorded run (an ML Metadata context of type `zenml.pipeline_run`, child of its pipeline's).
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    /// The context id.
    pub id: Id,
    /// The run's name (unique): `"<pipeline>#<n>"`, n counting the pipeline's runs from 1.
    pub name: String,
    /// The pipeline's context id.
    pub pipeline_id: Id,
    /// The pipeline's name.
    pub pipeline_name: String,
    /// The status.
    pub status: RunStatus,
    /// The YAML config of the pipeline as it ran.
    pub config: String,
    /// Start (milliseconds since the Unix epoch).
    pub started_ms: i64,
    /// End, once finished.
    pub finished_ms: Option<i64>,
}

/// An artifact to record: the bytes are already published in the artifact store.
#[derive(Clone, Debug, PartialEq)]
pub struct NewArtifact {
    /// Where the bytes are (a full URI: `file:///…`, `s3://…`).
    pub uri: String,
    /// xxh3-128 of the bytes.
    pub hash: Hash128,
    /// The number of bytes.
    pub size: u64,
    /// The artifact type's name (`zenml.Table`).
    pub type_name: String,
    /// The ML Metadata base type, if any.
    pub base_type: Option<BaseType>,
    /// The materializer as `"<id>@<version>"`.
    pub materializer: String,
    /// The artifact store's version tag of the object when it was published (an ETag), used to
    /// notice a later change without reading the bytes.
    pub etag: Option<String>,
}

impl NewArtifact {
    /// The record of this artifact once recorded under `id` at `created_ms`.
    pub fn recorded(&self, id: Id, created_ms: i64) -> ArtifactRecord {
        ArtifactRecord {
            id,
            uri: self.uri.clone(),
            hash: self.hash,
            size: self.size,
            type_name: self.type_name.clone(),
            materializer: self.materializer.clone(),
            etag: self.etag.clone(),
            created_ms,
        }
    }
}

/// A recorded artifact.
#[derive(Clone, Debug, PartialEq)]
pub struct ArtifactRecord {
    /// The `Artifact` id.
    pub id: Id,
    /// Where the bytes are.
    pub uri: String,
    /// xxh3-128 of the bytes.
    pub hash: Hash128,
    /// The number of bytes.
    pub size: u64,
    /// The artifact type's name.
    pub type_name: String,
    /// The materializer as `"<id>@<version>"`.
    pub materializer: String,
    /// The artifact store's version tag, if known.
    pub etag: Option<String>,
    /// When it was recorded (milliseconds since the Unix epoch).
    pub created_ms: i64,
}

/// An execution to start or to record as cached.
#[derive(Clone, Debug, PartialEq)]
pub struct NewExecution {
    /// The run it belongs to.
    pub run_id: Id,
    /// The step type, from [`MetadataStore::register_step_type`].
    pub step_type_id: Id,
    /// The step's name in its pipeline.
    pub step_name: String,
    /// The parameter values (recorded as the execution's properties; `Null`s are not recorded).
    pub params: Params,
    /// The cache key, if the step is cacheable.
    pub cache_key: Option<Hash128>,
    /// The step's code fingerprint.
    pub code_fingerprint: Hash128,
    /// The input artifacts by input name.
    pub inputs: Vec<(String, Id)>,
}

/// What a finished execution recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionRecord {
    /// The `Execution` id.
    pub id: Id,
    /// The run it belongs to.
    pub run_id: Option<Id>,
    /// The step's name in its pipeline.
    pub step_name: String,
    /// The step type's source path.
    pub source: String,
    /// The step type's version.
    pub version: u32,
    /// The step's kind.
    pub kind: Option<StepKind>,
    /// The state.
    pub state: ExecutionState,
    /// The parameter values, sorted by name. A parameter the step type declares but the execution
    /// has no value for (an empty `Option`) reads back as `Null`.
    pub params: Params,
    /// The cache key.
    pub cache_key: Option<Hash128>,
    /// The code fingerprint.
    pub code_fingerprint: Option<Hash128>,
    /// For a cached execution, the execution whose outputs it reused.
    pub cached_from: Option<Id>,
    /// The metrics the step recorded, sorted by name (none for a cached execution).
    pub metrics: Vec<(String, f64)>,
    /// How long it ran, in milliseconds (0 for a cached execution).
    pub duration_ms: Option<i64>,
    /// For a failed execution, the error.
    pub error: Option<String>,
    /// The input artifacts by input name, sorted by name.
    pub inputs: Vec<(String, Id)>,
    /// The output artifacts by output name, sorted by name (for a cached execution, the reused
    /// artifacts).
    pub outputs: Vec<(String, Id)>,
    /// Start (milliseconds since the Unix epoch).
    pub created_ms: i64,
    /// Last change.
    pub updated_ms: i64,
}

/// A reusable earlier execution: a COMPLETE execution with the cache key, and its outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheHit {
    /// The execution that computed the outputs.
    pub execution_id: Id,
    /// Its outputs by output name, sorted by name.
    pub outputs: Vec<(String, ArtifactRecord)>,
}

/// Where the metadata of every pipeline, run, execution and artifact is recorded: the writes a
/// run makes, and the lookups it needs (the cache, the runs still running).
///
/// This is what the runner needs, and what a backend must implement first; what people and
/// tools read back (listings, lineage) is [`MetadataQuery`]. Implementations must be safe to
/// share between threads and between processes using the same database: every method is its own
/// transaction. The conformance suite ([`crate::store::conformance`], feature `conformance`)
/// checks an implementation; helpers for backend authors are in [`crate::store::backend`].
pub trait MetadataStore: fmt::Debug + Send + Sync + 'static {
    /// A short description for people (`sqlite:/path/metadata.db`), without secrets.
    fn describe(&self) -> String;

    /// Records a step type, or finds it if recorded with the same source and version. Recording
    /// a type again with other parameters adds the new parameters to its declaration (and a new
    /// doc replaces the old); a parameter whose [`PropertyType`] changed, or a changed kind, is
    /// [`Conflict::StepTypeChanged`]: such a change needs a new version of the step.
    fn register_step_type(&self, spec: &StepTypeSpec) -> Result<Id, MetadataError>;

    /// Records the pipeline `name` with its `config`, unless a pipeline of that name is
    /// recorded: then the recorded one is returned unchanged. Checking and recording are one
    /// atomic step, so of several processes registering one new name at once exactly one records
    /// its config, and every other gets that record back: a name keeps the definition it was
    /// first recorded with, and the caller compares it with its own.
    fn register_pipeline(&self, name: &str, config: &str) -> Result<PipelineRecord, MetadataError>;

    /// Starts a run of a recorded pipeline (status `Running`), named `"<pipeline>#<n>"`: `n`
    /// counts the pipeline's runs from 1 and is unique even when several processes start runs at
    /// once. `owner` identifies the process running it; it is kept, with the time of the last
    /// [`heartbeat`](MetadataStore::heartbeat), while the run is running (see
    /// [`running_runs`](MetadataStore::running_runs)).
    fn begin_run(
        &self,
        pipeline_id: Id,
        config: &str,
        owner: &str,
    ) -> Result<RunRecord, MetadataError>;

    /// Sets a run's final status and end time (setting `Running` again clears the end time), and
    /// returns the run as it now is. A run that is no longer running forgets its owner.
    fn finish_run(&self, run_id: Id, status: RunStatus) -> Result<RunRecord, MetadataError>;

    /// Notes that the process running `run_id` is alive, now. A run that is not running is left
    /// alone.
    fn heartbeat(&self, run_id: Id) -> Result<(), MetadataError>;

    /// The runs whose status is `running`, oldest first, with their owners and last heartbeats.
    fn running_runs(&self) -> Result<Vec<RunningRun>, MetadataError>;

    /// Closes a run whose process ended without finishing it, in one transaction: its RUNNING
    /// executions become FAILED with `reason` as their error, and the run `Interrupted`, with
    /// an end time. Only a run that is still running and whose last heartbeat is not later than
    /// `heartbeat_ms` (what the caller saw when it decided the process was gone) is closed;
    /// returns how many executions were interrupted, or `None` when the run was left alone.
    fn interrupt_run(
        &self,
        run_id: Id,
        heartbeat_ms: i64,
        reason: &str,
    ) -> Result<Option<u64>, MetadataError>;

    /// Starts an execution: state RUNNING, its parameters, cache key and code fingerprint, and an
    /// INPUT event per input, in one transaction.
    ///
    /// An unknown run, step type or input artifact is [`MetadataError::NotFound`]; a parameter
    /// the step type does not declare, a value of another kind than declared (see
    /// [`stored_params`](crate::store::backend::stored_params)) or two inputs of one name are a
    /// [`MetadataError::Conflict`].
    fn begin_execution(&self, execution: &NewExecution) -> Result<Id, MetadataError>;

    /// Completes a RUNNING execution: records its output artifacts with OUTPUT events, its
    /// metrics and duration, and sets state COMPLETE, in one transaction. Returns the artifact
    /// records in the order given. An execution that is not RUNNING, or two outputs of one name,
    /// are a [`MetadataError::Conflict`].
    fn complete_execution(
        &self,
        execution_id: Id,
        outputs: &[(String, NewArtifact)],
        metrics: &[(String, f64)],
        duration_ms: i64,
    ) -> Result<Vec<ArtifactRecord>, MetadataError>;

    /// Marks a RUNNING execution FAILED with its error; it has no outputs. An execution that is
    /// not RUNNING is a [`MetadataError::Conflict`].
    fn fail_execution(
        &self,
        execution_id: Id,
        error: &str,
        metrics: &[(String, f64)],
        duration_ms: i64,
    ) -> Result<(), MetadataError>;

    /// Records an execution that reused the outputs of `hit`: state CACHED, its parameters,
    /// inputs, cache key, the execution it reused, and OUTPUT events to the reused artifacts, in
    /// one transaction. The reused execution must be COMPLETE ([`Conflict::NotReusable`]
    /// otherwise); the reused artifacts become part of the new execution's run too.
    fn record_cached_execution(
        &self,
        execution: &NewExecution,
        hit: &CacheHit,
    ) -> Result<Id, MetadataError>;

    /// Records several cached executions, in order, all or none: each as
    /// [`record_cached_execution`](MetadataStore::record_cached_execution) would. Returns their
    /// ids in the order given. A fully cached run records its executions this way, in one
    /// transaction where the backend can, instead of one transaction per step.
    fn record_cached_executions(
        &self,
        executions: &[(NewExecution, CacheHit)],
    ) -> Result<Vec<Id>, MetadataError> {
        executions
            .iter()
            .map(|(execution, hit)| self.record_cached_execution(execution, hit))
            .collect()
    }

    /// The newest COMPLETE execution with this cache key whose key was not invalidated, with its
    /// outputs. The caller checks that the outputs still exist.
    fn find_cached(&self, cache_key: Hash128) -> Result<Option<CacheHit>, MetadataError>;

    /// Makes executions with this key (every key when `None`) no longer reusable, keeping their
    /// records. Returns how many COMPLETE executions stopped being reusable. An execution that
    /// completes later with the same key is reusable again.
    fn invalidate_cache(&self, cache_key: Option<Hash128>) -> Result<u64, MetadataError>;

    /// Records the artifact store's current version tag of an artifact whose bytes were checked
    /// (`None` forgets it).
    fn set_artifact_etag(&self, artifact_id: Id, etag: Option<&str>) -> Result<(), MetadataError>;
}

/// What people and tools read back from a metadata store: pipelines, runs, executions and
/// artifacts, and the lineage between them. The [`Repository`](crate::repository::Repository),
/// the command line and the comparisons read through it; every backend implements it beside
/// [`MetadataStore`].
pub trait MetadataQuery: MetadataStore {
    /// Step types with this source path (all versions), or every step type, by source then
    /// version.
    fn step_types(&self, source: Option<&str>) -> Result<Vec<StepTypeRecord>, MetadataError>;

    /// Every pipeline, sorted by name.
    fn pipelines(&self) -> Result<Vec<PipelineRecord>, MetadataError>;

    /// The pipeline of that name.
    fn pipeline_by_name(&self, name: &str) -> Result<Option<PipelineRecord>, MetadataError>;

    /// Runs of one pipeline, or of all, oldest first. An unknown pipeline is
    /// [`MetadataError::NotFound`].
    fn runs(&self, pipeline_id: Option<Id>) -> Result<Vec<RunRecord>, MetadataError>;

    /// The run with that id.
    fn run(&self, run_id: Id) -> Result<RunRecord, MetadataError>;

    /// The run with that name.
    fn run_by_name(&self, name: &str) -> Result<Option<RunRecord>, MetadataError>;

    /// The executions of a run, in the order they started.
    fn executions(&self, run_id: Id) -> Result<Vec<ExecutionRecord>, MetadataError>;

    /// The execution with that id.
    fn execution(&self, execution_id: Id) -> Result<ExecutionRecord, MetadataError>;

    /// The executions of step types with this source path (all versions), newest first, at most
    /// `limit`.
    fn executions_of_step(
        &self,
        source: &str,
        limit: usize,
    ) -> Result<Vec<ExecutionRecord>, MetadataError>;

    /// The artifact with that id.
    fn artifact(&self, artifact_id: Id) -> Result<ArtifactRecord, MetadataError>;

    /// Artifacts with ids greater than `after`, by id, at most `limit`: every artifact, a page
    /// at a time.
    fn artifacts(&self, after: Id, limit: usize) -> Result<Vec<ArtifactRecord>, MetadataError>;

    /// The execution that produced an artifact (the COMPLETE one with an OUTPUT event to it, not a
    /// CACHED one that reused it). An unknown artifact is [`MetadataError::NotFound`].
    fn artifact_producer(&self, artifact_id: Id) -> Result<Option<ExecutionRecord>, MetadataError>;

    /// The executions that read an artifact (INPUT events), oldest first. An unknown artifact is
    /// [`MetadataError::NotFound`].
    fn artifact_consumers(&self, artifact_id: Id) -> Result<Vec<ExecutionRecord>, MetadataError>;
}
