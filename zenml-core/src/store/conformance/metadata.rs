//! Conformance tests for metadata store backends: [`MetadataStore`](crate::store::MetadataStore)
//! and [`MetadataQuery`].
//!
//! Every function takes a [`StoreFactory`] that makes a fresh, empty store, runs one area of the
//! contract against it and panics with a message at the first difference. [`run_all`] runs them
//! all; a backend's tests may also call them one by one, so that a failure names the area:
//!
//! ```
//! use std::sync::Arc;
//! use zenml_core::store::conformance::metadata;
//! use zenml_core::store::memory::MemoryMetadataStore;
//!
//! metadata::pipelines(&|| Arc::new(MemoryMetadataStore::new()));
//! ```
//!
//! The suite pins down what the trait's docs leave to the backend: records read back with their
//! lists sorted by name, parameter values bit-exact (every [`Value`] kind, `i64` extremes, every
//! float including NaN, infinities and `-0.0`, any Unicode string), `NotFound` for unknown ids,
//! `Conflict` for writes that contradict the record, and atomic writes (a refused write records
//! nothing).

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;
use std::thread;

use crate::hash::Hash128;
use crate::param::{EnumSpec, ParamType, Params, ScalarType, Value};
use crate::step::StepKind;
use crate::store::{
    ArtifactRecord, BaseType, CacheHit, ExecutionRecord, ExecutionState, Id, MetadataError,
    MetadataQuery, NewArtifact, NewExecution, PipelineRecord, RunRecord, RunStatus, StepTypeRecord,
    StepTypeSpec,
};

/// Makes a fresh, empty store for one test.
pub type StoreFactory<'a> = &'a dyn Fn() -> Arc<dyn MetadataQuery>;

/// An id no fresh store has used.
const MISSING: Id = 987_654_321;

/// The owner the suite's runs are begun with.
const OWNER: &str = "conformance-suite";

/// Defines one `#[test]` per area of this suite, so that a failure names its area: each calls
/// `$run(name, area)` with the area's name and function, and `$run` makes the stores (or skips,
/// when they cannot be made here).
///
/// ```
/// use std::sync::Arc;
/// use zenml_core::store::conformance::metadata::StoreFactory;
/// use zenml_core::store::memory::MemoryMetadataStore;
///
/// fn area(_name: &str, area: fn(StoreFactory<'_>)) {
///     area(&|| Arc::new(MemoryMetadataStore::new()));
/// }
///
/// zenml_core::metadata_conformance_tests!(area);
/// ```
#[macro_export]
macro_rules! metadata_conformance_tests {
    ($run:path) => {
        $crate::metadata_conformance_tests!(@areas $run;
            step_types, pipelines, runs, execution_lifecycle, parameter_values, cached_executions,
            cached_execution_batches, cache_lookup, cache_invalidation, lineage,
            executions_of_step, artifact_etag, concurrent_writers, running_runs, artifact_pages,
            pipeline_name_race);
    };
    (@areas $run:path; $($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            $run(
                stringify!($name),
                $crate::store::conformance::metadata::$name,
            );
        }
    )*};
}

/// Runs every test of the suite, each on a fresh store.
pub fn run_all(factory: StoreFactory<'_>) {
    step_types(factory);
    pipelines(factory);
    runs(factory);
    execution_lifecycle(factory);
    parameter_values(factory);
    cached_executions(factory);
    cached_execution_batches(factory);
    cache_lookup(factory);
    cache_invalidation(factory);
    lineage(factory);
    executions_of_step(factory);
    artifact_etag(factory);
    concurrent_writers(factory);
    running_runs(factory);
    artifact_pages(factory);
    pipeline_name_race(factory);
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn ok<T>(result: Result<T, MetadataError>, what: &str) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{what}: unexpected error: {e} ({e:?})"),
    }
}

fn expect_not_found<T: Debug>(result: Result<T, MetadataError>, what: &str) {
    match result {
        Err(MetadataError::NotFound { .. }) => {}
        other => panic!("{what}: expected a NotFound error, got {other:?}"),
    }
}

fn expect_conflict<T: Debug>(result: Result<T, MetadataError>, what: &str) {
    match result {
        Err(MetadataError::Conflict(_)) => {}
        other => panic!("{what}: expected a Conflict error, got {other:?}"),
    }
}

const fn scalar(s: ScalarType) -> ParamType {
    ParamType::scalar(s)
}

const fn optional(s: ScalarType) -> ParamType {
    ParamType {
        scalar: s,
        nullable: true,
    }
}

fn spec(source: &str, version: u32, kind: StepKind, params: &[(&str, ParamType)]) -> StepTypeSpec {
    StepTypeSpec {
        source: source.to_owned(),
        version,
        kind,
        doc: format!("The {source} step."),
        params: params.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect(),
    }
}

fn key(n: u32) -> Hash128 {
    Hash128::of(format!("cache key {n}").as_bytes())
}

fn fingerprint() -> Hash128 {
    Hash128::of(b"fn train(&self) { ... }")
}

fn artifact(seed: &str) -> NewArtifact {
    let hash = Hash128::of(seed.as_bytes());
    let hex = hash.to_hex();
    NewArtifact {
        uri: format!("memory://artifacts/{}/{hex}", &hex[..2]),
        hash,
        size: 1000 + seed.len() as u64,
        type_name: "zenml.Table".to_owned(),
        base_type: Some(BaseType::Dataset),
        materializer: "zenml.arrow_ipc@1".to_owned(),
        etag: Some(format!("etag of {seed}")),
    }
}

/// A store with a pipeline, a run and a trainer step type.
struct Bench {
    store: Arc<dyn MetadataQuery>,
    pipeline: PipelineRecord,
    run: RunRecord,
    trainer: Id,
}

const TRAINER: &str = "conformance::steps::Trainer";

fn bench(factory: StoreFactory<'_>) -> Bench {
    let store = factory();
    assert!(
        !store.describe().is_empty(),
        "describe() must say something"
    );
    let pipeline = ok(
        store.register_pipeline("conformance", "version: 1\nname: conformance\n"),
        "register_pipeline",
    );
    let run = ok(
        store.begin_run(pipeline.id, "version: 1\n", OWNER),
        "begin_run",
    );
    let trainer = ok(
        store.register_step_type(&spec(
            TRAINER,
            1,
            StepKind::Trainer,
            &[
                ("epochs", scalar(ScalarType::I64)),
                ("lr", scalar(ScalarType::F64)),
                ("hidden", optional(ScalarType::I64)),
            ],
        )),
        "register_step_type",
    );
    Bench {
        store,
        pipeline,
        run,
        trainer,
    }
}

impl Bench {
    fn exec(&self, step_name: &str, cache_key: Option<Hash128>) -> NewExecution {
        NewExecution {
            run_id: self.run.id,
            step_type_id: self.trainer,
            step_name: step_name.to_owned(),
            params: Params::new()
                .with("epochs", Value::Int(3))
                .with("lr", Value::Float(0.01)),
            cache_key,
            code_fingerprint: fingerprint(),
            inputs: Vec::new(),
        }
    }

    fn begin(&self, execution: &NewExecution) -> Id {
        ok(self.store.begin_execution(execution), "begin_execution")
    }

    /// Begins and completes `execution` with one output `model`.
    fn produce(&self, execution: &NewExecution, seed: &str) -> (Id, ArtifactRecord) {
        let id = self.begin(execution);
        let mut out = ok(
            self.store
                .complete_execution(id, &[("model".to_owned(), artifact(seed))], &[], 5),
            "complete_execution",
        );
        (id, out.remove(0))
    }

    fn execution(&self, id: Id) -> ExecutionRecord {
        ok(self.store.execution(id), "execution")
    }

    fn hit(&self, key: Hash128) -> CacheHit {
        match ok(self.store.find_cached(key), "find_cached") {
            Some(hit) => hit,
            None => panic!("find_cached({key}) found nothing, expected a hit"),
        }
    }

    fn hit_id(&self, key: Hash128) -> Option<Id> {
        ok(self.store.find_cached(key), "find_cached").map(|h| h.execution_id)
    }
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        _ => a == b,
    }
}

fn assert_params(got: &Params, expected: &[(&str, Value)], what: &str) {
    let mut expected: Vec<&(&str, Value)> = expected.iter().collect();
    expected.sort_by(|a, b| a.0.cmp(b.0));
    let names: Vec<&str> = got.names().collect();
    let expected_names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names, expected_names,
        "{what}: parameter names (sorted by name)"
    );
    for ((name, got), (_, want)) in got.iter().zip(expected) {
        assert!(
            same_value(got, want),
            "{what}: parameter `{name}` read back as {got:?}, expected {want:?}"
        );
    }
}

/// The results of scoped threads, in order; a thread's panic goes on in the caller.
fn join_all<T>(handles: Vec<thread::ScopedJoinHandle<'_, T>>) -> Vec<T> {
    handles
        .into_iter()
        .map(|h| match h.join() {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e),
        })
        .collect()
}

fn ids(records: &[ExecutionRecord]) -> Vec<Id> {
    records.iter().map(|r| r.id).collect()
}

// ---------------------------------------------------------------------------------------------
// Step types

/// Registering step types: idempotent, parameters added, versions distinct, conflicts refused.
pub fn step_types(factory: StoreFactory<'_>) {
    let s = factory();
    let trainer = spec(
        TRAINER,
        1,
        StepKind::Trainer,
        &[
            ("epochs", scalar(ScalarType::I64)),
            ("lr", scalar(ScalarType::F64)),
        ],
    );
    let id = ok(s.register_step_type(&trainer), "register_step_type");
    assert_eq!(
        ok(s.register_step_type(&trainer), "register again"),
        id,
        "registering the same step type twice must return the same id"
    );

    let mut more = trainer.clone();
    more.params
        .push(("dropout".to_owned(), optional(ScalarType::F32)));
    more.doc = "A new doc comment.".to_owned();
    assert_eq!(
        ok(s.register_step_type(&more), "register with a new parameter"),
        id,
        "a new parameter must not make a new step type"
    );
    let expected = StepTypeRecord {
        id,
        source: TRAINER.to_owned(),
        version: 1,
        param_names: vec!["dropout".into(), "epochs".into(), "lr".into()],
    };
    assert_eq!(
        ok(s.step_types(Some(TRAINER)), "step_types"),
        vec![expected.clone()],
        "the new parameter must be added to the declaration"
    );
    assert_eq!(
        ok(
            s.register_step_type(&trainer),
            "register without the new parameter"
        ),
        id
    );
    assert_eq!(
        ok(s.step_types(Some(TRAINER)), "step_types")[0].param_names,
        expected.param_names,
        "a declared parameter stays declared"
    );

    // Another Rust type with the same stored type is not a change.
    let mut narrower = trainer.clone();
    narrower.params[0].1 = optional(ScalarType::I32);
    assert_eq!(
        ok(s.register_step_type(&narrower), "register i32 for i64"),
        id
    );

    let v2 = spec(
        TRAINER,
        2,
        StepKind::Trainer,
        &[("lr", scalar(ScalarType::F64))],
    );
    let id2 = ok(s.register_step_type(&v2), "register version 2");
    assert_ne!(id, id2, "another version is another step type");
    let split = ok(
        s.register_step_type(&spec("conformance::steps::Split", 1, StepKind::Split, &[])),
        "register a step type without parameters",
    );

    let trainers = ok(s.step_types(Some(TRAINER)), "step_types");
    assert_eq!(
        trainers
            .iter()
            .map(|t| (t.id, t.version))
            .collect::<Vec<_>>(),
        vec![(id, 1), (id2, 2)],
        "step_types(source) lists every version, by version"
    );
    assert_eq!(trainers[1].param_names, vec!["lr".to_owned()]);
    let all = ok(s.step_types(None), "step_types(None)");
    assert_eq!(
        all.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![split, id, id2],
        "step_types(None) lists every step type by source, then version"
    );
    assert!(ok(s.step_types(Some("no::such::Step")), "step_types").is_empty());

    let mut retyped = trainer.clone();
    retyped.params[0].1 = scalar(ScalarType::F64);
    expect_conflict(
        s.register_step_type(&retyped),
        "a parameter whose stored type changed (int to double)",
    );
    let mut rekinded = trainer.clone();
    rekinded.kind = StepKind::Evaluator;
    expect_conflict(s.register_step_type(&rekinded), "a changed step kind");
    assert_eq!(
        ok(s.step_types(Some(TRAINER)), "step_types")[0],
        expected,
        "a refused registration changes nothing"
    );
}

// ---------------------------------------------------------------------------------------------
// Pipelines and runs

/// Pipelines: registered, updated, listed by name, found by name.
pub fn pipelines(factory: StoreFactory<'_>) {
    let s = factory();
    assert!(ok(s.pipelines(), "pipelines").is_empty());
    assert_eq!(ok(s.pipeline_by_name("b"), "pipeline_by_name"), None);

    let b = ok(
        s.register_pipeline("b pipeline", "version: 1\nname: b pipeline\n"),
        "register_pipeline",
    );
    assert_eq!(b.name, "b pipeline");
    assert_eq!(b.config, "version: 1\nname: b pipeline\n");
    assert!(
        b.created_ms > 1_500_000_000_000,
        "timestamps are milliseconds since the Unix epoch, got {}",
        b.created_ms
    );
    assert!(b.updated_ms >= b.created_ms);
    let a = ok(
        s.register_pipeline("a pipeline", "a: 1\n"),
        "register_pipeline",
    );
    let z = ok(
        s.register_pipeline("Z pipeline", "z: 1\n"),
        "register_pipeline",
    );
    let unicode = ok(
        s.register_pipeline("Pipeline ü — 流水线 🚀", "name: \"ü\"\n"),
        "register a Unicode name",
    );
    assert_ne!(a.id, b.id);

    let b2 = ok(
        s.register_pipeline("b pipeline", "version: 1\nname: b pipeline\nsteps: {}\n"),
        "register_pipeline again",
    );
    assert_eq!(
        b2, b,
        "registering a recorded name returns the recorded pipeline unchanged: a name keeps the \
         definition it was first recorded with"
    );

    let listed = ok(s.pipelines(), "pipelines");
    assert_eq!(
        listed,
        vec![unicode.clone(), z.clone(), a.clone(), b.clone()],
        "pipelines() lists every pipeline sorted by name (byte order)"
    );
    assert_eq!(
        ok(s.pipeline_by_name("b pipeline"), "pipeline_by_name"),
        Some(b.clone())
    );
    assert_eq!(
        ok(s.pipeline_by_name(&unicode.name), "pipeline_by_name"),
        Some(unicode)
    );
    assert_eq!(
        ok(s.pipeline_by_name("B pipeline"), "pipeline_by_name"),
        None
    );

    // A run moves the pipeline's update time, not its definition.
    let run = ok(s.begin_run(b.id, "version: 1\n", OWNER), "begin_run");
    let after = ok(s.pipeline_by_name("b pipeline"), "pipeline_by_name");
    let after = after.unwrap_or_else(|| panic!("pipeline `b pipeline` is listed"));
    assert_eq!(after.config, b.config);
    assert_eq!(after.created_ms, b.created_ms);
    assert!(after.updated_ms >= run.started_ms.min(b.updated_ms));
    assert!(after.updated_ms >= b.updated_ms);
}

/// Runs: numbered per pipeline, status transitions, listings, lookups, NotFound.
pub fn runs(factory: StoreFactory<'_>) {
    let s = factory();
    let p = ok(s.register_pipeline("P", "p: 1\n"), "register_pipeline");
    let q = ok(s.register_pipeline("Q", "q: 1\n"), "register_pipeline");
    let begin = |pipeline: Id, config: &str| ok(s.begin_run(pipeline, config, OWNER), "begin_run");

    let r1 = begin(p.id, "p: run 1\n");
    assert_eq!(
        r1.name, "P#1",
        "runs are named <pipeline>#<n>, n counting from 1"
    );
    assert_eq!(r1.pipeline_id, p.id);
    assert_eq!(r1.pipeline_name, "P");
    assert_eq!(r1.status, RunStatus::Running);
    assert_eq!(r1.config, "p: run 1\n");
    assert_eq!(r1.finished_ms, None);
    assert!(r1.started_ms > 1_500_000_000_000);
    let r2 = begin(p.id, "p: run 2\n");
    let q1 = begin(q.id, "q: run 1\n");
    let r3 = begin(p.id, "p: run 3\n");
    assert_eq!(
        [r2.name.as_str(), q1.name.as_str(), r3.name.as_str()],
        ["P#2", "Q#1", "P#3"],
        "each pipeline counts its own runs"
    );
    assert_eq!(
        ok(s.run(r2.id), "run"),
        r2,
        "run(id) reads back what begin_run returned"
    );

    ok(s.finish_run(r1.id, RunStatus::Completed), "finish_run");
    ok(s.finish_run(r2.id, RunStatus::Failed), "finish_run");
    let r1 = ok(s.run(r1.id), "run");
    assert_eq!(r1.status, RunStatus::Completed);
    let finished = r1.finished_ms.unwrap_or(0);
    assert!(
        finished >= r1.started_ms,
        "a finished run has an end time at or after its start"
    );
    let r2 = ok(s.run(r2.id), "run");
    assert_eq!(r2.status, RunStatus::Failed);
    assert!(r2.finished_ms.is_some());
    assert_eq!(ok(s.run(r3.id), "run").status, RunStatus::Running);

    assert_eq!(
        ok(s.runs(Some(p.id)), "runs(pipeline)"),
        vec![r1.clone(), r2.clone(), r3.clone()],
        "runs(pipeline) lists that pipeline's runs, oldest first"
    );
    assert_eq!(ok(s.runs(Some(q.id)), "runs(pipeline)"), vec![q1.clone()]);
    assert_eq!(
        ok(s.runs(None), "runs(None)"),
        vec![r1.clone(), r2.clone(), q1.clone(), r3.clone()],
        "runs(None) lists every run, oldest first"
    );
    assert_eq!(ok(s.run_by_name("P#2"), "run_by_name"), Some(r2.clone()));
    assert_eq!(ok(s.run_by_name("P#9"), "run_by_name"), None);
    assert_eq!(ok(s.run_by_name("P"), "run_by_name"), None);

    // Registering the name again changes neither the pipeline nor its runs.
    ok(s.register_pipeline("P", "p: 2\n"), "register_pipeline");
    assert_eq!(ok(s.run(r1.id), "run").config, "p: run 1\n");
    assert_eq!(
        ok(s.pipeline_by_name("P"), "pipeline_by_name").map(|p| p.config),
        Some("p: 1\n".to_owned())
    );
    assert_eq!(begin(p.id, "p: run 4\n").name, "P#4");

    ok(
        s.finish_run(r1.id, RunStatus::Running),
        "finish_run(Running)",
    );
    let again = ok(s.run(r1.id), "run");
    assert_eq!(again.status, RunStatus::Running);
    assert_eq!(again.finished_ms, None, "Running again clears the end time");

    expect_not_found(
        s.begin_run(MISSING, "", OWNER),
        "begin_run of an unknown pipeline",
    );
    expect_not_found(
        s.begin_run(r1.id, "", OWNER),
        "begin_run with a run's id as pipeline",
    );
    expect_not_found(s.run(MISSING), "run(unknown id)");
    expect_not_found(s.run(p.id), "run() with a pipeline's id");
    expect_not_found(
        s.finish_run(MISSING, RunStatus::Completed),
        "finish_run(unknown id)",
    );
    expect_not_found(s.runs(Some(MISSING)), "runs(unknown pipeline)");
    expect_not_found(s.runs(Some(r1.id)), "runs() with a run's id as pipeline");
}

// ---------------------------------------------------------------------------------------------
// Executions

/// Executions: begin, complete and fail, read back in full; NotFound, Conflict and atomicity.
pub fn execution_lifecycle(factory: StoreFactory<'_>) {
    let b = bench(factory);
    let s = &b.store;
    let source = ok(
        s.register_step_type(&spec(
            "conformance::steps::Source",
            3,
            StepKind::Datasource,
            &[("path", scalar(ScalarType::String))],
        )),
        "register_step_type",
    );
    let new_source = NewExecution {
        run_id: b.run.id,
        step_type_id: source,
        step_name: "source".to_owned(),
        params: Params::new().with("path", Value::Str("data/iris.csv".into())),
        cache_key: Some(key(1)),
        code_fingerprint: fingerprint(),
        inputs: Vec::new(),
    };
    let e1 = b.begin(&new_source);
    let running = b.execution(e1);
    assert_eq!(running.id, e1);
    assert_eq!(running.run_id, Some(b.run.id));
    assert_eq!(running.step_name, "source");
    assert_eq!(running.source, "conformance::steps::Source");
    assert_eq!(running.version, 3);
    assert_eq!(running.kind, Some(StepKind::Datasource));
    assert_eq!(running.state, ExecutionState::Running);
    assert_params(
        &running.params,
        &[("path", Value::Str("data/iris.csv".into()))],
        "source params",
    );
    assert_eq!(running.cache_key, Some(key(1)));
    assert_eq!(running.code_fingerprint, Some(fingerprint()));
    assert_eq!(running.cached_from, None);
    assert!(running.metrics.is_empty());
    assert_eq!(
        running.duration_ms, None,
        "a running execution has no duration"
    );
    assert_eq!(running.error, None);
    assert!(running.inputs.is_empty() && running.outputs.is_empty());
    assert!(running.created_ms > 1_500_000_000_000);
    assert!(running.updated_ms >= running.created_ms);

    let data = artifact("iris");
    let arts = ok(
        s.complete_execution(
            e1,
            &[("data".to_owned(), data.clone())],
            &[("rows".to_owned(), 150.0), ("columns".to_owned(), 5.0)],
            42,
        ),
        "complete_execution",
    );
    assert_eq!(arts.len(), 1);
    let a = &arts[0];
    assert_eq!(
        (
            &a.uri,
            a.hash,
            a.size,
            &a.type_name,
            &a.materializer,
            &a.etag
        ),
        (
            &data.uri,
            data.hash,
            data.size,
            &data.type_name,
            &data.materializer,
            &data.etag
        ),
        "the artifact record holds what was recorded"
    );
    assert!(a.created_ms > 1_500_000_000_000);
    assert_eq!(&ok(s.artifact(a.id), "artifact"), a);
    let done = b.execution(e1);
    assert_eq!(done.state, ExecutionState::Complete);
    assert_eq!(done.outputs, vec![("data".to_owned(), a.id)]);
    assert_eq!(
        done.metrics,
        vec![("columns".to_owned(), 5.0), ("rows".to_owned(), 150.0)],
        "metrics read back sorted by name"
    );
    assert_eq!(done.duration_ms, Some(42));
    assert_eq!(done.created_ms, running.created_ms);
    assert!(done.updated_ms >= done.created_ms);

    // Two outputs: returned in the order given, read back sorted by name.
    let split = ok(
        s.register_step_type(&spec("conformance::steps::Split", 1, StepKind::Split, &[])),
        "register_step_type",
    );
    let e2 = b.begin(&NewExecution {
        step_type_id: split,
        step_name: "split".to_owned(),
        params: Params::new(),
        cache_key: None,
        inputs: vec![("data".to_owned(), a.id)],
        ..new_source.clone()
    });
    let (train, eval) = (artifact("train"), artifact("eval"));
    let arts = ok(
        s.complete_execution(
            e2,
            &[
                ("train".to_owned(), train.clone()),
                ("eval".to_owned(), eval.clone()),
            ],
            &[],
            0,
        ),
        "complete_execution with two outputs",
    );
    assert_eq!(
        (arts[0].uri.as_str(), arts[1].uri.as_str()),
        (train.uri.as_str(), eval.uri.as_str()),
        "complete_execution returns the artifacts in the order given"
    );
    let (train_id, eval_id) = (arts[0].id, arts[1].id);
    let rec = b.execution(e2);
    assert_eq!(
        rec.outputs,
        vec![("eval".to_owned(), eval_id), ("train".to_owned(), train_id)]
    );
    assert_eq!(rec.inputs, vec![("data".to_owned(), a.id)]);
    assert_eq!(rec.kind, Some(StepKind::Split));
    assert_eq!(rec.cache_key, None);
    assert!(rec.params.is_empty());

    // One artifact under two input names; then a failure.
    let mut train_twice = b.exec("trainer", Some(key(3)));
    train_twice.inputs = vec![
        ("train".to_owned(), train_id),
        ("eval".to_owned(), train_id),
    ];
    let e3 = b.begin(&train_twice);
    assert_eq!(
        b.execution(e3).inputs,
        vec![
            ("eval".to_owned(), train_id),
            ("train".to_owned(), train_id)
        ],
        "one artifact can be the input of two names"
    );
    let message = "boom: ünïcode ❌\nsecond line";
    ok(
        s.fail_execution(e3, message, &[("loss".to_owned(), 0.25)], 13),
        "fail_execution",
    );
    let failed = b.execution(e3);
    assert_eq!(failed.state, ExecutionState::Failed);
    assert_eq!(failed.error.as_deref(), Some(message));
    assert_eq!(failed.metrics, vec![("loss".to_owned(), 0.25)]);
    assert_eq!(failed.duration_ms, Some(13));
    assert!(failed.outputs.is_empty());
    assert_params(
        &failed.params,
        &[
            ("epochs", Value::Int(3)),
            ("hidden", Value::Null),
            ("lr", Value::Float(0.01)),
        ],
        "trainer params",
    );

    // Writes that contradict the record.
    let out = [("model".to_owned(), artifact("model"))];
    expect_conflict(
        s.complete_execution(e1, &out, &[], 1),
        "completing a COMPLETE execution",
    );
    expect_conflict(
        s.fail_execution(e1, "late", &[], 1),
        "failing a COMPLETE execution",
    );
    expect_conflict(
        s.complete_execution(e3, &out, &[], 1),
        "completing a FAILED execution",
    );
    expect_conflict(
        s.fail_execution(e3, "again", &[], 1),
        "failing a FAILED execution",
    );
    assert_eq!(b.execution(e1), done, "a refused write changes nothing");
    expect_not_found(
        s.complete_execution(MISSING, &out, &[], 1),
        "complete unknown",
    );
    expect_not_found(s.fail_execution(MISSING, "x", &[], 1), "fail unknown");
    expect_not_found(s.execution(MISSING), "execution(unknown id)");

    let before = ok(s.executions(b.run.id), "executions");
    let refused: [(&str, NewExecution); 3] = [
        (
            "an unknown run",
            NewExecution {
                run_id: MISSING,
                ..b.exec("t", None)
            },
        ),
        (
            "an unknown step type",
            NewExecution {
                step_type_id: MISSING,
                ..b.exec("t", None)
            },
        ),
        (
            "an unknown input artifact",
            NewExecution {
                inputs: vec![("train".to_owned(), train_id), ("eval".to_owned(), MISSING)],
                ..b.exec("t", None)
            },
        ),
    ];
    for (what, new) in &refused {
        expect_not_found(
            s.begin_execution(new),
            &format!("begin_execution with {what}"),
        );
    }
    let conflicting: [(&str, NewExecution); 3] = [
        (
            "an undeclared parameter",
            NewExecution {
                params: Params::new().with("momentum", Value::Float(0.9)),
                ..b.exec("t", None)
            },
        ),
        (
            "a string for an int parameter",
            NewExecution {
                params: Params::new().with("epochs", Value::Str("ten".into())),
                ..b.exec("t", None)
            },
        ),
        (
            "two inputs of one name",
            NewExecution {
                inputs: vec![
                    ("train".to_owned(), train_id),
                    ("train".to_owned(), eval_id),
                ],
                ..b.exec("t", None)
            },
        ),
    ];
    for (what, new) in &conflicting {
        expect_conflict(
            s.begin_execution(new),
            &format!("begin_execution with {what}"),
        );
    }
    assert_eq!(
        ok(s.executions(b.run.id), "executions"),
        before,
        "a refused begin_execution records nothing"
    );

    let e4 = b.begin(&b.exec("trainer", Some(key(4))));
    let dup = [
        ("model".to_owned(), artifact("m1")),
        ("model".to_owned(), artifact("m2")),
    ];
    expect_conflict(
        s.complete_execution(e4, &dup, &[], 1),
        "two outputs of one name",
    );
    let still = b.execution(e4);
    assert_eq!(
        still.state,
        ExecutionState::Running,
        "a refused completion records nothing"
    );
    assert!(still.outputs.is_empty());
    ok(
        s.complete_execution(e4, &out, &[], 1),
        "complete after a refused completion",
    );

    let all = ok(s.executions(b.run.id), "executions");
    assert_eq!(
        ids(&all),
        vec![e1, e2, e3, e4],
        "executions(run) in the order they started"
    );
    assert_eq!(all[0], done);
    let other = ok(s.begin_run(b.pipeline.id, "", OWNER), "begin_run");
    assert!(ok(s.executions(other.id), "executions").is_empty());
    expect_not_found(s.executions(MISSING), "executions(unknown run)");
}

static OPTIMIZER: EnumSpec = EnumSpec {
    name: "Optimizer",
    variants: &["Adam", "Sgd"],
};

/// Parameter values of every kind read back exactly: nulls, `i64` extremes, floats bit for bit
/// (NaN, infinities, `-0.0`, subnormals), any string.
pub fn parameter_values(factory: StoreFactory<'_>) {
    let b = bench(factory);
    let s = &b.store;
    let ty = ok(
        s.register_step_type(&spec(
            "conformance::steps::Everything",
            1,
            StepKind::General,
            &[
                ("flag", scalar(ScalarType::Bool)),
                ("count", scalar(ScalarType::I64)),
                ("small", scalar(ScalarType::I8)),
                ("unsigned", scalar(ScalarType::U32)),
                ("rate", scalar(ScalarType::F64)),
                ("single", scalar(ScalarType::F32)),
                ("label", scalar(ScalarType::String)),
                ("optimizer", scalar(ScalarType::Enum(&OPTIMIZER))),
                ("maybe_int", optional(ScalarType::I64)),
                ("maybe_float", optional(ScalarType::F64)),
                ("maybe_str", optional(ScalarType::String)),
                ("maybe_bool", optional(ScalarType::Bool)),
            ],
        )),
        "register_step_type",
    );
    let long: String = "a long value; ".repeat(800);
    let cases: Vec<Vec<(&str, Value)>> = vec![
        vec![
            ("flag", Value::Bool(true)),
            ("count", Value::Int(i64::MAX)),
            ("small", Value::Int(-128)),
            ("unsigned", Value::Int(i64::from(u32::MAX))),
            ("rate", Value::Float(0.1 + 0.2)),
            ("single", Value::Float(f64::from(0.1_f32))),
            ("label", Value::Str("héllo wörld — 世界 🚀".into())),
            ("optimizer", Value::Str("Adam".into())),
            ("maybe_int", Value::Null),
            ("maybe_float", Value::Null),
            ("maybe_str", Value::Null),
            ("maybe_bool", Value::Null),
        ],
        vec![
            ("flag", Value::Bool(false)),
            ("count", Value::Int(i64::MIN)),
            ("small", Value::Int(0)),
            ("unsigned", Value::Int(0)),
            ("rate", Value::Float(-0.0)),
            ("single", Value::Float(f64::INFINITY)),
            ("label", Value::Str(String::new())),
            ("optimizer", Value::Str("Sgd".into())),
            ("maybe_int", Value::Int(0)),
            ("maybe_float", Value::Float(f64::NAN)),
            ("maybe_str", Value::Str("null".into())),
            ("maybe_bool", Value::Bool(false)),
        ],
        vec![
            ("flag", Value::Bool(true)),
            ("count", Value::Int(-1)),
            ("small", Value::Int(127)),
            ("unsigned", Value::Int(1)),
            ("rate", Value::Float(1.0 / 3.0)),
            ("single", Value::Float(f64::NEG_INFINITY)),
            (
                "label",
                Value::Str("quotes ' \" \\ newline\n tab\t control \u{1} end".into()),
            ),
            ("optimizer", Value::Str("Adam".into())),
            ("maybe_int", Value::Int(i64::MIN + 1)),
            ("maybe_float", Value::Float(5e-324)),
            ("maybe_str", Value::Str("42".into())),
            ("maybe_bool", Value::Bool(true)),
        ],
        vec![
            ("flag", Value::Bool(false)),
            ("count", Value::Int(1 << 53)),
            ("small", Value::Int(-1)),
            ("unsigned", Value::Int(7)),
            ("rate", Value::Float(f64::MAX)),
            ("single", Value::Float(f64::from(f32::MIN_POSITIVE))),
            ("label", Value::Str(long)),
            ("optimizer", Value::Str("Sgd".into())),
            ("maybe_int", Value::Null),
            ("maybe_float", Value::Float(-f64::MIN_POSITIVE)),
            ("maybe_str", Value::Str("__null__ 'NULL' NaN".into())),
            ("maybe_bool", Value::Null),
        ],
        vec![
            ("flag", Value::Bool(true)),
            ("count", Value::Int(0)),
            ("small", Value::Int(1)),
            ("unsigned", Value::Int(2)),
            ("rate", Value::Float(1e300)),
            ("single", Value::Float(2.0)),
            ("label", Value::Str("1.5".into())),
            ("optimizer", Value::Str("Adam".into())),
            ("maybe_int", Value::Null),
            ("maybe_float", Value::Float(0.0)),
            ("maybe_str", Value::Str(" padded ".into())),
            ("maybe_bool", Value::Null),
        ],
    ];
    for (i, case) in cases.iter().enumerate() {
        let new = NewExecution {
            step_type_id: ty,
            params: case.iter().cloned().collect(),
            ..b.exec(&format!("everything {i}"), Some(key(100 + i as u32)))
        };
        let id = b.begin(&new);
        let what = format!("parameter case {i}");
        assert_params(&b.execution(id).params, case, &what);
        ok(s.complete_execution(id, &[], &[], 1), "complete_execution");
        assert_params(
            &b.execution(id).params,
            case,
            &format!("{what} after completion"),
        );
    }

    // A parameter left out reads back as null; an integer given for a float reads back as a float.
    let new = NewExecution {
        step_type_id: ty,
        params: Params::new()
            .with("rate", Value::Int(3))
            .with("count", Value::Int(5)),
        ..b.exec("sparse", None)
    };
    let id = b.begin(&new);
    let got = b.execution(id).params;
    assert!(
        matches!(got.get("rate"), Some(Value::Float(x)) if *x == 3.0),
        "an integer for a float parameter is stored as a float, got {:?}",
        got.get("rate")
    );
    assert_eq!(got.get("count"), Some(&Value::Int(5)));
    assert_eq!(
        got.get("flag"),
        Some(&Value::Null),
        "an unset parameter reads back as null"
    );
    assert_eq!(got.len(), 12, "every declared parameter reads back");
    expect_conflict(
        s.begin_execution(&NewExecution {
            step_type_id: ty,
            params: Params::new().with("rate", Value::Int(i64::MAX)),
            ..b.exec("inexact", None)
        }),
        "an integer a float cannot hold exactly, for a float parameter",
    );
    expect_conflict(
        s.begin_execution(&NewExecution {
            step_type_id: ty,
            params: Params::new().with("flag", Value::Int(1)),
            ..b.exec("wrong", None)
        }),
        "an int for a bool parameter",
    );
}

// ---------------------------------------------------------------------------------------------
// Caching

/// A cached execution: state CACHED, pointing at the reused execution and its artifacts.
pub fn cached_executions(factory: StoreFactory<'_>) {
    let b = bench(factory);
    let s = &b.store;
    let (input_exec, input) = b.produce(&b.exec("upstream", Some(key(9))), "input");
    let mut new = b.exec("trainer", Some(key(1)));
    new.inputs = vec![("train".to_owned(), input.id)];
    let (e1, model) = b.produce(&new, "model");
    ok(
        s.complete_execution(b.begin(&b.exec("other", None)), &[], &[], 1),
        "complete",
    );
    let hit = b.hit(key(1));
    assert_eq!(hit.execution_id, e1);
    assert_eq!(hit.outputs, vec![("model".to_owned(), model.clone())]);

    let run2 = ok(s.begin_run(b.pipeline.id, "run 2", OWNER), "begin_run");
    let cached_new = NewExecution {
        run_id: run2.id,
        params: Params::new()
            .with("epochs", Value::Int(3))
            .with("lr", Value::Float(0.01))
            .with("hidden", Value::Int(64)),
        ..new.clone()
    };
    let c = ok(
        s.record_cached_execution(&cached_new, &hit),
        "record_cached_execution",
    );
    let rec = b.execution(c);
    assert_eq!(rec.state, ExecutionState::Cached);
    assert_eq!(rec.run_id, Some(run2.id));
    assert_eq!(rec.step_name, "trainer");
    assert_eq!((rec.source.as_str(), rec.version), (TRAINER, 1));
    assert_eq!(rec.kind, Some(StepKind::Trainer));
    assert_eq!(
        rec.cached_from,
        Some(e1),
        "a cached execution points at the reused one"
    );
    assert_eq!(rec.outputs, vec![("model".to_owned(), model.id)]);
    assert_eq!(rec.inputs, vec![("train".to_owned(), input.id)]);
    assert_eq!(rec.cache_key, Some(key(1)));
    assert_eq!(rec.code_fingerprint, Some(fingerprint()));
    assert_eq!(rec.duration_ms, Some(0), "a cached execution took no time");
    assert!(rec.metrics.is_empty());
    assert_eq!(rec.error, None);
    assert_params(
        &rec.params,
        &[
            ("epochs", Value::Int(3)),
            ("hidden", Value::Int(64)),
            ("lr", Value::Float(0.01)),
        ],
        "cached execution params",
    );
    assert_eq!(ids(&ok(s.executions(run2.id), "executions")), vec![c]);
    assert_eq!(
        b.hit_id(key(1)),
        Some(e1),
        "the reused execution stays the cache entry"
    );

    let running = b.begin(&b.exec("running", Some(key(2))));
    let failed = b.begin(&b.exec("failed", Some(key(3))));
    ok(s.fail_execution(failed, "no", &[], 1), "fail_execution");
    for (what, execution_id) in [("RUNNING", running), ("FAILED", failed), ("CACHED", c)] {
        let bad = CacheHit {
            execution_id,
            outputs: hit.outputs.clone(),
        };
        expect_conflict(
            s.record_cached_execution(&cached_new, &bad),
            &format!("reusing a {what} execution"),
        );
    }
    expect_not_found(
        s.record_cached_execution(
            &cached_new,
            &CacheHit {
                execution_id: MISSING,
                outputs: Vec::new(),
            },
        ),
        "reusing an unknown execution",
    );
    let mut missing_artifact = hit.clone();
    missing_artifact.outputs[0].1.id = MISSING;
    expect_not_found(
        s.record_cached_execution(&cached_new, &missing_artifact),
        "reusing an unknown artifact",
    );
    expect_not_found(
        s.record_cached_execution(
            &NewExecution {
                run_id: MISSING,
                ..cached_new.clone()
            },
            &hit,
        ),
        "a cached execution in an unknown run",
    );
    assert_eq!(
        ids(&ok(s.executions(run2.id), "executions")),
        vec![c],
        "refused cached executions record nothing"
    );
    assert_eq!(b.execution(input_exec).state, ExecutionState::Complete);
}

/// Several cached executions recorded at once: in order, each as if recorded alone, all or none.
pub fn cached_execution_batches(factory: StoreFactory<'_>) {
    let b = bench(factory);
    let s = &b.store;
    let (e1, x) = b.produce(&b.exec("first", Some(key(1))), "x");
    let mut second = b.exec("second", Some(key(2)));
    second.inputs = vec![("x".to_owned(), x.id)];
    let (e2, y) = b.produce(&second, "y");
    let (hit1, hit2) = (b.hit(key(1)), b.hit(key(2)));

    let run2 = ok(s.begin_run(b.pipeline.id, "run 2", OWNER), "begin_run");
    let in_run2 = |e: NewExecution| NewExecution {
        run_id: run2.id,
        ..e
    };
    assert_eq!(
        ok(s.record_cached_executions(&[]), "an empty batch"),
        Vec::<Id>::new()
    );
    let recorded = ok(
        s.record_cached_executions(&[
            (in_run2(b.exec("first", Some(key(1)))), hit1.clone()),
            (in_run2(second.clone()), hit2.clone()),
        ]),
        "record_cached_executions",
    );
    assert_eq!(recorded.len(), 2);
    assert!(recorded[0] < recorded[1], "ids follow the order given");
    assert_eq!(ids(&ok(s.executions(run2.id), "executions")), recorded);
    for (id, from, step, output) in [
        (recorded[0], e1, "first", ("model", x.id)),
        (recorded[1], e2, "second", ("model", y.id)),
    ] {
        let rec = b.execution(id);
        assert_eq!(rec.state, ExecutionState::Cached);
        assert_eq!(rec.step_name, step);
        assert_eq!(rec.cached_from, Some(from));
        assert_eq!(rec.outputs, vec![(output.0.to_owned(), output.1)]);
    }
    assert_eq!(
        b.execution(recorded[1]).inputs,
        vec![("x".to_owned(), x.id)]
    );

    // One bad item refuses the whole batch.
    let running = b.begin(&b.exec("running", Some(key(3))));
    let bad = CacheHit {
        execution_id: running,
        outputs: hit1.outputs.clone(),
    };
    expect_conflict(
        s.record_cached_executions(&[
            (in_run2(b.exec("first", Some(key(1)))), hit1),
            (in_run2(b.exec("running", Some(key(3)))), bad),
        ]),
        "a batch reusing a RUNNING execution",
    );
    assert_eq!(
        ids(&ok(s.executions(run2.id), "executions")),
        recorded,
        "a refused batch records nothing"
    );
}

/// Cache lookup: the newest COMPLETE execution with the key; never RUNNING, FAILED or CACHED.
pub fn cache_lookup(factory: StoreFactory<'_>) {
    let b = bench(factory);
    let s = &b.store;
    let k = key(1);
    assert_eq!(b.hit_id(k), None, "an empty store has no cache entry");
    let e1 = b.begin(&b.exec("t", Some(k)));
    assert_eq!(b.hit_id(k), None, "a RUNNING execution is not reusable");
    ok(s.fail_execution(e1, "failed", &[], 1), "fail_execution");
    assert_eq!(b.hit_id(k), None, "a FAILED execution is not reusable");

    let (e2, a2) = b.produce(&b.exec("t", Some(k)), "a2");
    let hit = b.hit(k);
    assert_eq!(hit.execution_id, e2);
    assert_eq!(hit.outputs, vec![("model".to_owned(), a2)]);

    let e3 = b.begin(&b.exec("t", Some(k)));
    let arts = ok(
        s.complete_execution(
            e3,
            &[
                ("zeta".to_owned(), artifact("z")),
                ("alpha".to_owned(), artifact("a")),
            ],
            &[],
            1,
        ),
        "complete_execution",
    );
    let hit = b.hit(k);
    assert_eq!(
        hit.execution_id, e3,
        "the newest COMPLETE execution is the hit"
    );
    assert_eq!(
        hit.outputs,
        vec![
            ("alpha".to_owned(), arts[1].clone()),
            ("zeta".to_owned(), arts[0].clone())
        ],
        "a hit's outputs are sorted by name"
    );

    let c = ok(
        s.record_cached_execution(&b.exec("t", Some(k)), &hit),
        "record_cached",
    );
    assert_eq!(b.hit_id(k), Some(e3), "a CACHED execution is never a hit");
    let _running = b.begin(&b.exec("t", Some(k)));
    assert_eq!(
        b.hit_id(k),
        Some(e3),
        "a newer RUNNING execution is not a hit"
    );

    let k2 = key(2);
    assert_eq!(b.hit_id(k2), None);
    let (e5, _) = b.produce(&b.exec("t", Some(k2)), "k2");
    assert_eq!(b.hit_id(k2), Some(e5));
    assert_eq!(b.hit_id(k), Some(e3), "keys do not mix");
    b.produce(&b.exec("uncached", None), "no key");
    assert_eq!(b.hit_id(k), Some(e3));
    assert_eq!(b.execution(c).state, ExecutionState::Cached);
}

/// Invalidation of one key and of all keys: no longer reusable, records kept.
pub fn cache_invalidation(factory: StoreFactory<'_>) {
    let b = bench(factory);
    let s = &b.store;
    let (k, k2, k3) = (key(1), key(2), key(3));
    let (e1, a1) = b.produce(&b.exec("t", Some(k)), "a1");
    let (e2, _) = b.produce(&b.exec("t", Some(k)), "a2");
    let c = ok(
        s.record_cached_execution(&b.exec("t", Some(k)), &b.hit(k)),
        "record_cached",
    );
    let (e3, _) = b.produce(&b.exec("t", Some(k2)), "a3");
    let e4 = b.begin(&b.exec("t", Some(k3)));

    assert_eq!(
        ok(s.invalidate_cache(Some(k)), "invalidate_cache"),
        2,
        "invalidating a key counts the COMPLETE executions with it"
    );
    assert_eq!(b.hit_id(k), None, "an invalidated key has no hit");
    assert_eq!(b.hit_id(k2), Some(e3), "other keys stay reusable");
    let kept = b.execution(e1);
    assert_eq!(
        kept.state,
        ExecutionState::Complete,
        "invalidation keeps the record"
    );
    assert_eq!(kept.cache_key, Some(k));
    assert_eq!(kept.outputs, vec![("model".to_owned(), a1.id)]);
    assert_eq!(ok(s.artifact(a1.id), "artifact"), a1);
    assert_eq!(b.execution(c).cached_from, Some(e2));
    assert_eq!(ok(s.invalidate_cache(Some(k)), "invalidate again"), 0);

    let (e5, _) = b.produce(&b.exec("t", Some(k)), "a5");
    assert_eq!(
        b.hit_id(k),
        Some(e5),
        "a later completion with the key is reusable"
    );

    assert_eq!(
        ok(s.invalidate_cache(None), "invalidate_cache(None)"),
        2,
        "invalidating every key counts the reusable COMPLETE executions"
    );
    assert_eq!(b.hit_id(k), None);
    assert_eq!(b.hit_id(k2), None);
    ok(s.complete_execution(e4, &[], &[], 1), "complete_execution");
    assert_eq!(
        b.hit_id(k3),
        Some(e4),
        "an execution that completes after the invalidation is reusable"
    );
    assert_eq!(
        ok(s.invalidate_cache(Some(key(99))), "invalidate unknown"),
        0
    );
    assert_eq!(ok(s.invalidate_cache(None), "invalidate all again"), 1);
}

// ---------------------------------------------------------------------------------------------
// Lineage and queries

/// Lineage: the producer is the COMPLETE execution with the OUTPUT event; consumers via INPUT.
pub fn lineage(factory: StoreFactory<'_>) {
    let b = bench(factory);
    let s = &b.store;
    let (producer, x) = b.produce(&b.exec("source", Some(key(1))), "x");
    let mut reads_x = b.exec("consumer", Some(key(2)));
    reads_x.inputs = vec![("data".to_owned(), x.id)];
    let (consumer, y) = b.produce(&reads_x, "y");
    let failing = b.begin(&NewExecution {
        cache_key: Some(key(3)),
        ..reads_x.clone()
    });
    ok(s.fail_execution(failing, "no", &[], 1), "fail_execution");

    let run2 = ok(s.begin_run(b.pipeline.id, "", OWNER), "begin_run");
    let in_run2 = |mut n: NewExecution| {
        n.run_id = run2.id;
        n
    };
    let cached_source = ok(
        s.record_cached_execution(&in_run2(b.exec("source", Some(key(1)))), &b.hit(key(1))),
        "record_cached",
    );
    let cached_consumer = ok(
        s.record_cached_execution(&in_run2(reads_x.clone()), &b.hit(key(2))),
        "record_cached",
    );

    let got = ok(s.artifact_producer(x.id), "artifact_producer");
    assert_eq!(
        got.as_ref().map(|e| e.id),
        Some(producer),
        "the producer is the COMPLETE execution, not the CACHED one that reused the artifact"
    );
    assert_eq!(got, Some(b.execution(producer)));
    assert_eq!(
        ok(s.artifact_producer(y.id), "artifact_producer").map(|e| e.id),
        Some(consumer)
    );
    assert_eq!(
        ids(&ok(s.artifact_consumers(x.id), "artifact_consumers")),
        vec![consumer, failing, cached_consumer],
        "consumers are the executions with an INPUT event, oldest first"
    );
    assert!(ok(s.artifact_consumers(y.id), "artifact_consumers").is_empty());
    assert_eq!(
        b.execution(cached_source).outputs,
        vec![("model".to_owned(), x.id)]
    );
    expect_not_found(s.artifact_producer(MISSING), "artifact_producer(unknown)");
    expect_not_found(s.artifact_consumers(MISSING), "artifact_consumers(unknown)");
    expect_not_found(s.artifact(MISSING), "artifact(unknown)");
}

/// The executions of one step source, every version, newest first, limited.
pub fn executions_of_step(factory: StoreFactory<'_>) {
    let b = bench(factory);
    let s = &b.store;
    let v2 = ok(
        s.register_step_type(&spec(TRAINER, 2, StepKind::Trainer, &[])),
        "register_step_type",
    );
    let other = ok(
        s.register_step_type(&spec(
            "conformance::steps::Other",
            1,
            StepKind::General,
            &[],
        )),
        "register_step_type",
    );
    let plain = |step_type_id: Id, name: &str| NewExecution {
        step_type_id,
        params: Params::new(),
        ..b.exec(name, Some(key(7)))
    };
    let (e1, _) = b.produce(&b.exec("trainer", Some(key(1))), "m");
    let (e2, _) = b.produce(&plain(other, "other"), "o");
    let e3 = b.begin(&plain(v2, "trainer v2"));
    ok(s.fail_execution(e3, "no", &[], 1), "fail_execution");
    let e4 = b.begin(&b.exec("trainer", Some(key(4))));
    let c = ok(
        s.record_cached_execution(&b.exec("trainer", Some(key(1))), &b.hit(key(1))),
        "record_cached",
    );

    let all = ok(s.executions_of_step(TRAINER, 10), "executions_of_step");
    assert_eq!(
        ids(&all),
        vec![c, e4, e3, e1],
        "every version's executions, newest first"
    );
    assert_eq!(all[2].version, 2);
    assert_eq!(all[0], b.execution(c));
    assert_eq!(
        ids(&ok(s.executions_of_step(TRAINER, 2), "executions_of_step")),
        vec![c, e4],
        "at most `limit`"
    );
    assert!(ok(s.executions_of_step(TRAINER, 0), "executions_of_step").is_empty());
    assert_eq!(
        ids(&ok(
            s.executions_of_step("conformance::steps::Other", 10),
            "executions_of_step"
        )),
        vec![e2]
    );
    assert!(
        ok(
            s.executions_of_step("no::such::Step", 10),
            "executions_of_step"
        )
        .is_empty()
    );
}

/// Setting and clearing an artifact's version tag.
pub fn artifact_etag(factory: StoreFactory<'_>) {
    let b = bench(factory);
    let s = &b.store;
    let (_, x) = b.produce(&b.exec("t", Some(key(1))), "x");
    assert_eq!(x.etag.as_deref(), Some("etag of x"));
    ok(
        s.set_artifact_etag(x.id, Some("\"v2\"")),
        "set_artifact_etag",
    );
    let got = ok(s.artifact(x.id), "artifact");
    assert_eq!(got.etag.as_deref(), Some("\"v2\""));
    assert_eq!(
        ArtifactRecord {
            etag: x.etag.clone(),
            ..got
        },
        x,
        "only the etag changes"
    );
    assert_eq!(b.hit(key(1)).outputs[0].1.etag.as_deref(), Some("\"v2\""));
    ok(s.set_artifact_etag(x.id, None), "clear the etag");
    assert_eq!(ok(s.artifact(x.id), "artifact").etag, None);
    ok(s.set_artifact_etag(x.id, Some("v3")), "set it again");
    assert_eq!(ok(s.artifact(x.id), "artifact").etag.as_deref(), Some("v3"));

    let e = b.begin(&b.exec("no etag", None));
    let untagged = NewArtifact {
        etag: None,
        ..artifact("untagged")
    };
    let arts = ok(
        s.complete_execution(e, &[("model".to_owned(), untagged)], &[], 1),
        "complete_execution",
    );
    assert_eq!(arts[0].etag, None);
    assert_eq!(ok(s.artifact(arts[0].id), "artifact").etag, None);
    expect_not_found(
        s.set_artifact_etag(MISSING, Some("x")),
        "set_artifact_etag(unknown)",
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency

/// Several threads, each running many begin/complete cycles on one store: everything is
/// recorded and run numbers are unique.
pub fn concurrent_writers(factory: StoreFactory<'_>) {
    const THREADS: u32 = 4;
    const CYCLES: u32 = 25;
    let b = bench(factory);
    let store = &b.store;
    let pipeline = ok(
        store.register_pipeline("concurrent", "c: 1\n"),
        "register_pipeline",
    )
    .id;
    let results: Vec<Vec<(Id, Id, Hash128)>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let b = &b;
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..CYCLES {
                        let run = ok(b.store.begin_run(pipeline, "c: 1\n", OWNER), "begin_run");
                        let k = key(1000 * t + i);
                        let new = NewExecution {
                            run_id: run.id,
                            ..b.exec("trainer", Some(k))
                        };
                        let e = b.begin(&new);
                        ok(
                            b.store.complete_execution(
                                e,
                                &[("model".to_owned(), artifact(&format!("{t}/{i}")))],
                                &[("loss".to_owned(), f64::from(i))],
                                1,
                            ),
                            "complete_execution",
                        );
                        ok(
                            b.store.finish_run(run.id, RunStatus::Completed),
                            "finish_run",
                        );
                        mine.push((run.id, e, k));
                    }
                    mine
                })
            })
            .collect();
        join_all(handles)
    });

    let total = (THREADS * CYCLES) as usize;
    let runs = ok(store.runs(Some(pipeline)), "runs");
    assert_eq!(runs.len(), total, "every run is recorded");
    let names: BTreeSet<String> = runs.iter().map(|r| r.name.clone()).collect();
    let expected: BTreeSet<String> = (1..=total).map(|n| format!("concurrent#{n}")).collect();
    assert_eq!(names, expected, "run numbers are unique and have no gaps");
    assert!(runs.iter().all(|r| r.status == RunStatus::Completed));
    for (run, e, k) in results.into_iter().flatten() {
        let rec = b.execution(e);
        assert_eq!(rec.state, ExecutionState::Complete);
        assert_eq!(rec.run_id, Some(run));
        assert_eq!(rec.outputs.len(), 1);
        assert_eq!(b.hit_id(k), Some(e));
        assert_eq!(ids(&ok(store.executions(run), "executions")), vec![e]);
    }
}

/// Running runs: every run begun and not finished is listed with its owner and heartbeat; a
/// heartbeat moves; an interrupt closes the run and its RUNNING executions, but not a run whose
/// process beat since the caller looked, nor a finished one.
pub fn running_runs(factory: StoreFactory<'_>) {
    let b = bench(factory);
    let s = &b.store;
    assert_eq!(
        ok(s.running_runs(), "running_runs").len(),
        1,
        "the bench's own run is running"
    );
    let bench_run = b.run.id;
    ok(s.finish_run(bench_run, RunStatus::Completed), "finish_run");
    assert!(
        ok(s.running_runs(), "running_runs").is_empty(),
        "a finished run is not running"
    );

    let p = b.pipeline.id;
    let r1 = ok(s.begin_run(p, "r1", "host-a pid 1"), "begin_run");
    let r2 = ok(s.begin_run(p, "r2", "host-b pid 2"), "begin_run");
    let running = ok(s.running_runs(), "running_runs");
    let listed: Vec<(Id, &str)> = running
        .iter()
        .map(|r| (r.run.id, r.owner.as_str()))
        .collect();
    assert_eq!(
        listed,
        vec![(r1.id, "host-a pid 1"), (r2.id, "host-b pid 2")],
        "running_runs lists the running runs, oldest first, with their owners"
    );
    assert_eq!(running[0].run, r1);
    let first_beat = running[0].heartbeat_ms;
    assert!(
        first_beat >= r1.started_ms,
        "a run's first heartbeat is its start"
    );

    // Executions of r1: one finished, one still running.
    let done = b.begin(&NewExecution {
        run_id: r1.id,
        ..b.exec("trainer", Some(key(71)))
    });
    ok(
        s.complete_execution(done, &[("model".to_owned(), artifact("r1"))], &[], 3),
        "complete_execution",
    );
    let stuck = b.begin(&NewExecution {
        run_id: r1.id,
        ..b.exec("evaluator", None)
    });

    ok(s.heartbeat(r1.id), "heartbeat");
    let beat = ok(s.running_runs(), "running_runs")[0].heartbeat_ms;
    assert!(
        beat >= first_beat,
        "a heartbeat moves the run's heartbeat time, never back"
    );

    assert_eq!(
        ok(s.interrupt_run(r1.id, beat - 1, "gone"), "interrupt_run"),
        None,
        "a run whose process beat after what the caller saw is left alone"
    );
    assert_eq!(ok(s.run(r1.id), "run").status, RunStatus::Running);
    assert_eq!(
        ok(
            s.interrupt_run(r1.id, beat, "interrupted: the process ended"),
            "interrupt_run"
        ),
        Some(1),
        "an interrupt closes the run's one RUNNING execution"
    );
    let r1_after = ok(s.run(r1.id), "run");
    assert_eq!(r1_after.status, RunStatus::Interrupted);
    assert!(
        r1_after.finished_ms.is_some(),
        "an interrupted run has an end"
    );
    let stuck_rec = b.execution(stuck);
    assert_eq!(stuck_rec.state, ExecutionState::Failed);
    assert_eq!(
        stuck_rec.error.as_deref(),
        Some("interrupted: the process ended")
    );
    assert_eq!(
        b.execution(done).state,
        ExecutionState::Complete,
        "a finished execution keeps its state"
    );
    assert_eq!(
        b.hit_id(key(71)),
        Some(done),
        "what completed before the interrupt stays reusable"
    );
    let listed: Vec<Id> = ok(s.running_runs(), "running_runs")
        .iter()
        .map(|r| r.run.id)
        .collect();
    assert_eq!(listed, vec![r2.id], "an interrupted run is not running");
    assert_eq!(
        ok(s.interrupt_run(r1.id, i64::MAX, "again"), "interrupt_run"),
        None,
        "a run that is not running is left alone"
    );
    ok(s.finish_run(r2.id, RunStatus::Failed), "finish_run");
    assert_eq!(
        ok(s.interrupt_run(r2.id, i64::MAX, "late"), "interrupt_run"),
        None
    );
    assert_eq!(ok(s.run(r2.id), "run").status, RunStatus::Failed);
    assert!(ok(s.running_runs(), "running_runs").is_empty());

    // Running again (an explicit reset) lists the run again, under an unknown owner.
    ok(
        s.finish_run(r2.id, RunStatus::Running),
        "finish_run(Running)",
    );
    let again = ok(s.running_runs(), "running_runs");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].run.id, r2.id);

    expect_not_found(s.heartbeat(MISSING), "heartbeat(unknown run)");
    expect_not_found(
        s.interrupt_run(MISSING, 0, "x"),
        "interrupt_run(unknown run)",
    );
}

/// Every artifact, a page at a time, by id.
pub fn artifact_pages(factory: StoreFactory<'_>) {
    let b = bench(factory);
    let s = &b.store;
    assert!(ok(s.artifacts(0, 10), "artifacts").is_empty());
    let mut made = Vec::new();
    for i in 0..5 {
        let (_, a) = b.produce(&b.exec("step", Some(key(900 + i))), &format!("page {i}"));
        made.push(a);
    }
    let all = ok(s.artifacts(0, 100), "artifacts");
    assert_eq!(all, made, "artifacts(0, n) lists every artifact by id");
    let first = ok(s.artifacts(0, 2), "artifacts");
    assert_eq!(first, made[..2].to_vec(), "at most `limit`");
    let next = ok(s.artifacts(first[1].id, 2), "artifacts");
    assert_eq!(next, made[2..4].to_vec(), "after an id");
    let last = ok(s.artifacts(made[4].id, 2), "artifacts");
    assert!(last.is_empty(), "nothing after the last");
    assert!(ok(s.artifacts(0, 0), "artifacts").is_empty());
}

/// Threads registering different definitions under one new name at once: exactly one
/// definition is recorded, and every thread gets that one back.
pub fn pipeline_name_race(factory: StoreFactory<'_>) {
    const THREADS: usize = 8;
    for round in 0..5 {
        let s = factory();
        let name = format!("raced {round}");
        let barrier = std::sync::Barrier::new(THREADS);
        let got: Vec<PipelineRecord> = thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|t| {
                    let (s, name, barrier) = (&s, &name, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        ok(
                            s.register_pipeline(name, &format!("definition {t}\n")),
                            "register_pipeline",
                        )
                    })
                })
                .collect();
            join_all(handles)
        });
        let configs: BTreeSet<&str> = got.iter().map(|p| p.config.as_str()).collect();
        assert_eq!(
            configs.len(),
            1,
            "round {round}: one definition wins and every registration returns it: {configs:?}"
        );
        let ids: BTreeSet<Id> = got.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), 1, "round {round}: one pipeline");
        assert_eq!(ok(s.pipelines(), "pipelines").len(), 1);
    }
}
