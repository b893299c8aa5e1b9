//! The shapes of `--json` output: every command that takes `--json` prints one of these types,
//! serialized with `serde_json` (pretty-printed, one value per command).
//!
//! | command | prints |
//! |---|---|
//! | `zenml pipeline list --json` | an array of [`Pipeline`] |
//! | `zenml pipeline run CONFIG --json` | a [`RunResult`] |
//! | `zenml pipeline compare --json` | an array of [`CompareRow`] |
//! | `zenml run list --json` | an array of [`Run`] |
//! | `zenml run show RUN --json` | a [`RunShow`] |
//! | `zenml step list --json` | an array of [`StepType`] |
//! | `zenml step versions SOURCE --json` | an array of [`StepVersion`] |
//! | `zenml artifact show ID --json` | an [`ArtifactShow`] |
//! | `zenml artifact lineage ID --json` | a [`Lineage`] |
//! | `zenml artifact verify --json` | a [`VerifyReport`] |
//! | `zenml repair --json` | a [`Repair`] |
//! | `zenml config show --json` | a [`ConfigShow`] |
//!
//! Conventions: times are milliseconds since the Unix epoch (`*_ms`, integers); ids are
//! integers; hashes and cache keys are 32 lowercase hexadecimal digits; a state or status is its
//! name in lowercase (`"complete"`, `"cached"`, `"failed"`; a run's `"completed"`); a field
//! that does not apply is `null`, never left out. Parameter values are JSON booleans, numbers,
//! strings or `null`; a float that JSON cannot hold (NaN, ±infinity) is the string `"NaN"`,
//! `"inf"` or `"-inf"`, as are such metrics. Objects keyed by name (parameters, metrics, inputs,
//! outputs) have their keys sorted.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // What `zenml run list --json` prints for one run.
//! let run: zenml::cli::json::Run = serde_json::from_str(
//!     r#"{"id": 3, "name": "Pipeline A#1", "pipeline": "Pipeline A", "status": "completed",
//!         "started_ms": 1795687906181, "finished_ms": 1795687907003}"#,
//! )?;
//! assert_eq!(run.status, "completed");
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use zenml_core::param::{Params, Value};
use zenml_core::repository::{Comparison, StepVersion as StepVersionRecord};
use zenml_core::runner::{StepStatus, StepSummary};
use zenml_core::store::{
    ArtifactRecord, ExecutionRecord, ExecutionState, Id, PipelineRecord, RunRecord, redact_url,
};

/// A parameter value or a metric: a JSON boolean, number, string or `null`. A float JSON cannot
/// hold is the string `"NaN"`, `"inf"` or `"-inf"`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JsonValue {
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A finite float.
    Float(f64),
    /// A string (or a float JSON cannot hold, spelled out).
    Str(String),
    /// `null`: an empty `Option` parameter.
    Null,
}

impl From<&Value> for JsonValue {
    fn from(v: &Value) -> Self {
        match v {
            Value::Bool(b) => JsonValue::Bool(*b),
            Value::Int(i) => JsonValue::Int(*i),
            Value::Float(x) => JsonValue::from(*x),
            Value::Str(s) => JsonValue::Str(s.clone()),
            _ => JsonValue::Null,
        }
    }
}

impl From<f64> for JsonValue {
    fn from(x: f64) -> Self {
        if x.is_finite() {
            JsonValue::Float(x)
        } else {
            JsonValue::Str(x.to_string())
        }
    }
}

fn params(p: &Params) -> BTreeMap<String, JsonValue> {
    p.iter()
        .map(|(k, v)| (k.to_owned(), JsonValue::from(v)))
        .collect()
}

fn metrics<'a>(m: impl IntoIterator<Item = (&'a String, &'a f64)>) -> BTreeMap<String, JsonValue> {
    m.into_iter()
        .map(|(k, v)| (k.clone(), JsonValue::from(*v)))
        .collect()
}

/// A pipeline run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// The run's id.
    pub id: Id,
    /// The run's name, `PIPELINE#N`.
    pub name: String,
    /// The pipeline's name.
    pub pipeline: String,
    /// `"running"`, `"completed"`, `"failed"` or `"interrupted"`.
    pub status: String,
    /// When it started.
    pub started_ms: i64,
    /// When it ended; `null` while it runs.
    pub finished_ms: Option<i64>,
}

impl From<&RunRecord> for Run {
    fn from(r: &RunRecord) -> Self {
        Run {
            id: r.id,
            name: r.name.clone(),
            pipeline: r.pipeline_name.clone(),
            status: r.status.as_str().to_owned(),
            started_ms: r.started_ms,
            finished_ms: r.finished_ms,
        }
    }
}

/// A recorded pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    /// Its name.
    pub name: String,
    /// How many runs it has.
    pub runs: usize,
    /// Its latest run; `null` before the first.
    pub last_run: Option<Run>,
    /// When it was first recorded.
    pub created_ms: i64,
}

impl Pipeline {
    /// The pipeline `p` with its runs `runs` (oldest first).
    pub(super) fn new(p: &PipelineRecord, runs: &[&RunRecord]) -> Self {
        Pipeline {
            name: p.name.clone(),
            runs: runs.len(),
            last_run: runs.last().map(|r| Run::from(*r)),
            created_ms: p.created_ms,
        }
    }
}

/// An artifact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// Its id.
    pub id: Id,
    /// Where its bytes are (credentials in a URL are redacted).
    pub uri: String,
    /// The xxh3-128 hash of its bytes.
    pub hash: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its type (the ML Metadata artifact type's name).
    #[serde(rename = "type")]
    pub type_name: String,
    /// The materializer that wrote it.
    pub materializer: String,
    /// When it was recorded.
    pub created_ms: i64,
}

impl From<&ArtifactRecord> for Artifact {
    fn from(a: &ArtifactRecord) -> Self {
        Artifact {
            id: a.id,
            uri: redact_url(&a.uri).into_owned(),
            hash: a.hash.to_hex(),
            size: a.size,
            type_name: a.type_name.clone(),
            materializer: a.materializer.clone(),
            created_ms: a.created_ms,
        }
    }
}

/// A step's execution in a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// Its id.
    pub id: Id,
    /// Its run's id.
    pub run_id: Option<Id>,
    /// The step's name in the pipeline.
    pub step: String,
    /// The step type's source path.
    pub source: String,
    /// The step type's version.
    pub version: u32,
    /// `"datasource"`, `"split"`, `"preprocesser"`, `"trainer"`, `"evaluator"`, `"general"`.
    pub kind: Option<String>,
    /// `"running"`, `"complete"`, `"failed"` or `"cached"`.
    pub state: String,
    /// The step's parameters.
    pub params: BTreeMap<String, JsonValue>,
    /// Its metrics; a cached execution's are those of the execution it reused.
    pub metrics: BTreeMap<String, JsonValue>,
    /// Its cache key.
    pub cache_key: Option<String>,
    /// The fingerprint of the step's code.
    pub code_fingerprint: Option<String>,
    /// The execution a cached one reused.
    pub cached_from: Option<Id>,
    /// How long it took.
    pub duration_ms: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// Input name → artifact id.
    pub inputs: BTreeMap<String, Id>,
    /// Output name → artifact id.
    pub outputs: BTreeMap<String, Id>,
}

impl From<&ExecutionRecord> for Execution {
    fn from(e: &ExecutionRecord) -> Self {
        let io = |v: &[(String, Id)]| v.iter().map(|(k, id)| (k.clone(), *id)).collect();
        Execution {
            id: e.id,
            run_id: e.run_id,
            step: e.step_name.clone(),
            source: e.source.clone(),
            version: e.version,
            kind: e.kind.map(|k| k.as_str().to_owned()),
            state: e.state.as_str().to_owned(),
            params: params(&e.params),
            metrics: metrics(e.metrics.iter().map(|(k, v)| (k, v))),
            cache_key: e.cache_key.map(|k| k.to_hex()),
            code_fingerprint: e.code_fingerprint.map(|k| k.to_hex()),
            cached_from: e.cached_from,
            duration_ms: e.duration_ms,
            error: e.error.clone(),
            inputs: io(&e.inputs),
            outputs: io(&e.outputs),
        }
    }
}

/// A run and its steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunShow {
    /// The run.
    pub run: Run,
    /// Its step executions, in the order they started.
    pub steps: Vec<Execution>,
}

/// How one step of a run that just ended went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// The step's name.
    pub step: String,
    /// `"complete"`, `"cached"`, `"failed"`, `"submitted"` (handed to a cluster, as a detached
    /// Slurm run returns it), or `"skipped"` (not run: the run failed first).
    pub state: String,
    /// Its execution; `null` when skipped.
    pub execution_id: Option<Id>,
    /// The execution a cached step reused.
    pub cached_from: Option<Id>,
    /// Its time in this run, in milliseconds.
    pub elapsed_ms: f64,
}

impl From<&StepSummary> for StepResult {
    fn from(s: &StepSummary) -> Self {
        StepResult {
            step: s.name.clone(),
            state: step_state(s.status).to_owned(),
            execution_id: s.execution_id,
            cached_from: s.cached_from,
            elapsed_ms: s.elapsed.as_secs_f64() * 1000.0,
        }
    }
}

/// How a step of a run ended, named as an execution's state is.
pub(super) fn step_state(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Completed => ExecutionState::Complete.as_str(),
        StepStatus::Cached => ExecutionState::Cached.as_str(),
        StepStatus::Failed => ExecutionState::Failed.as_str(),
        StepStatus::Submitted => "submitted",
        _ => "skipped",
    }
}

/// What `pipeline run --json` prints once the run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The run.
    pub run: Run,
    /// Every step, in execution-plan order.
    pub steps: Vec<StepResult>,
}

/// One training run beside the others.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareRow {
    /// The run's name.
    pub run: String,
    /// The pipeline's name.
    pub pipeline: String,
    /// The run's status.
    pub status: String,
    /// The trainer's source path and version, `path@N`.
    pub trainer: String,
    /// Was the trainer reused from the cache?
    pub trainer_cached: bool,
    /// The trainer's parameters.
    pub params: BTreeMap<String, JsonValue>,
    /// The trainer's and evaluator's metrics (those reused, for cached steps).
    pub metrics: BTreeMap<String, JsonValue>,
}

/// The rows of a comparison.
pub(super) fn compare_rows(c: &Comparison) -> Vec<CompareRow> {
    c.rows
        .iter()
        .map(|r| CompareRow {
            run: r.run.clone(),
            pipeline: r.pipeline.clone(),
            status: r.status.as_str().to_owned(),
            trainer: r.trainer.clone(),
            trainer_cached: r.trainer_cached,
            params: r
                .params
                .iter()
                .map(|(k, v)| (k.clone(), JsonValue::from(v)))
                .collect(),
            metrics: metrics(&r.metrics),
        })
        .collect()
}

/// A parameter of a step type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepParam {
    /// Its name.
    pub name: String,
    /// Its type (`f64`, `Option<u32>`, an enum's name…).
    #[serde(rename = "type")]
    pub type_name: String,
    /// Its default; `null` when it has none (or defaults to `null`: see `required`).
    pub default: Option<JsonValue>,
    /// Must a config give it?
    pub required: bool,
    /// Its doc comment.
    pub doc: String,
}

/// A step type linked into this binary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepType {
    /// Its source path.
    pub source: String,
    /// Its version.
    pub version: u32,
    /// Its kind (as [`Execution::kind`]).
    pub kind: String,
    /// Its doc comment.
    pub doc: String,
    /// Its parameters, in declaration order.
    pub params: Vec<StepParam>,
}

/// A version of a step type that ran in the repository.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepVersion {
    /// The version.
    pub version: u32,
    /// The fingerprints of the code that ran under it, oldest first.
    pub code_fingerprints: Vec<String>,
    /// How many executions it has.
    pub executions: usize,
    /// When it last ran.
    pub last_used_ms: Option<i64>,
}

impl From<&StepVersionRecord> for StepVersion {
    fn from(v: &StepVersionRecord) -> Self {
        StepVersion {
            version: v.version,
            code_fingerprints: v.code_fingerprints.iter().map(|f| f.to_hex()).collect(),
            executions: v.executions,
            last_used_ms: v.last_used_ms,
        }
    }
}

/// An artifact with the execution that produced it and those that read it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtifactShow {
    /// The artifact.
    pub artifact: Artifact,
    /// The execution that produced it.
    pub producer: Option<Execution>,
    /// The executions that read it.
    pub consumers: Vec<Execution>,
}

/// Where an artifact came from, recursively.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lineage {
    /// The artifact.
    pub artifact: Artifact,
    /// The execution that produced it; `null` if none is recorded.
    pub producer: Option<LineageProducer>,
    /// The producer's inputs by name, each with its own lineage (empty below an execution that
    /// appears higher up already).
    pub inputs: BTreeMap<String, Lineage>,
}

/// The execution that produced an artifact of a [`Lineage`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineageProducer {
    /// The execution's id.
    pub execution_id: Id,
    /// The step's name.
    pub step: String,
    /// The step type's source path.
    pub source: String,
    /// The step type's version.
    pub version: u32,
    /// The step's parameters.
    pub params: BTreeMap<String, JsonValue>,
    /// Its metrics.
    pub metrics: BTreeMap<String, JsonValue>,
}

impl From<&zenml_core::repository::Lineage> for Lineage {
    fn from(l: &zenml_core::repository::Lineage) -> Self {
        Lineage {
            artifact: Artifact::from(&l.artifact),
            producer: l.producer.as_deref().map(|p| LineageProducer {
                execution_id: p.id,
                step: p.step_name.clone(),
                source: p.source.clone(),
                version: p.version,
                params: params(&p.params),
                metrics: metrics(p.metrics.iter().map(|(k, v)| (k, v))),
            }),
            inputs: l
                .inputs
                .iter()
                .map(|(k, v)| (k.clone(), Lineage::from(v)))
                .collect(),
        }
    }
}

/// A damaged artifact found by `artifact verify`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Damaged {
    /// The artifact.
    pub artifact: Artifact,
    /// The execution that produced it.
    pub producer: Option<Execution>,
    /// What is wrong with it.
    pub damage: String,
    /// What `--repair` did about it.
    pub repair: Option<String>,
}

/// What `artifact verify` found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Artifacts checked.
    pub artifacts: u64,
    /// Objects read (artifacts with the same bytes share one).
    pub objects: u64,
    /// Bytes read.
    pub bytes: u64,
    /// The damaged ones.
    pub damaged: Vec<Damaged>,
}

/// A run `repair` closed as interrupted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interrupted {
    /// The run's name.
    pub run: String,
    /// The run's id.
    pub id: Id,
    /// How many of its executions were left unfinished.
    pub executions: u64,
    /// Why it was taken for interrupted.
    pub reason: String,
}

/// What `repair` did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Repair {
    /// The runs closed as interrupted.
    pub interrupted: Vec<Interrupted>,
    /// Stale files removed from the artifact store's staging area.
    pub staging_removed: u64,
}

/// The metadata store a config names (never a password).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MetadataSetting {
    /// A SQLite file.
    Sqlite {
        /// Its path, relative to `.zenml/` unless absolute.
        path: String,
    },
    /// A MySQL or MariaDB database.
    Mysql {
        /// The host (credentials typed into it redacted).
        host: String,
        /// The port.
        port: u16,
        /// The user.
        user: String,
        /// The database.
        database: String,
        /// `"(set in config.yaml)"` when the file holds a password, else `null`.
        password: Option<String>,
        /// The environment variable holding the password.
        password_env: Option<String>,
        /// Over TLS?
        tls: bool,
    },
    /// Another backend, by name.
    #[serde(untagged)]
    Other {
        /// The backend's name.
        #[serde(rename = "type")]
        backend: String,
    },
}

/// The artifact store a config names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArtifactsSetting {
    /// Its folder or URL (credentials redacted).
    pub url: String,
}

/// The repository's settings and the stores in use.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigShow {
    /// The repository's root folder.
    pub root: String,
    /// The metadata store setting.
    pub metadata: MetadataSetting,
    /// The metadata store in use, described.
    pub metadata_store: String,
    /// The artifact store setting.
    pub artifacts: ArtifactsSetting,
    /// The artifact store in use, described.
    pub artifact_store: String,
    /// Why the stores cannot be opened; `null` when they can.
    pub error: Option<String>,
}
