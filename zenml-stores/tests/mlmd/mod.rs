//! Google's ML Metadata reader (`tools/mlmd/mlmd_read.py`) on a realistic store: two pipelines,
//! their runs, executions of every step kind with parameters of every kind (null included),
//! COMPLETE, FAILED and CACHED executions, artifacts, events and metrics.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;
use zenml_core::artifact::BaseType;
use zenml_core::hash::Hash128;
use zenml_core::param::{EnumSpec, ParamType, Params, ScalarType, Value};
use zenml_core::step::StepKind;
use zenml_core::store::conformance::mlmd::MlmdReader;
use zenml_core::store::{
    ArtifactRecord, CacheHit, ExecutionRecord, ExecutionState, Id, MetadataQuery, NewArtifact,
    NewExecution, PipelineRecord, RunRecord, RunStatus, StepTypeSpec,
};

/// Google's reader, if the environment names one (else why not).
pub(crate) fn reader() -> Result<MlmdReader, String> {
    MlmdReader::from_env(&Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
}

/// Runs the reader on `db` (a SQLite file or a `mysql://` URL) and parses its JSON.
pub(crate) fn read(reader: &MlmdReader, db: impl AsRef<std::ffi::OsStr>) -> Json {
    reader.read(db).unwrap_or_else(|e| panic!("{e}"))
}

/// What the realistic store holds, as the store itself reads it back.
pub(crate) struct Written {
    pub(crate) specs: Vec<StepTypeSpec>,
    pub(crate) pipelines: Vec<PipelineRecord>,
    pub(crate) runs: Vec<RunRecord>,
    pub(crate) executions: Vec<ExecutionRecord>,
    pub(crate) artifacts: BTreeMap<Id, ArtifactRecord>,
}

static OPTIMIZER: EnumSpec = EnumSpec {
    name: "Optimizer",
    variants: &["Adam", "Sgd"],
};

fn p(scalar: ScalarType) -> ParamType {
    ParamType::scalar(scalar)
}

fn opt(scalar: ScalarType) -> ParamType {
    ParamType {
        scalar,
        nullable: true,
    }
}

fn spec(source: &str, version: u32, kind: StepKind, params: &[(&str, ParamType)]) -> StepTypeSpec {
    StepTypeSpec {
        source: source.to_owned(),
        version,
        kind,
        doc: format!("{source}: a step of the iris example."),
        params: params.iter().map(|(n, t)| ((*n).to_owned(), *t)).collect(),
    }
}

fn table(name: &str) -> NewArtifact {
    artifact(
        name,
        "zenml.Table",
        Some(BaseType::Dataset),
        "zenml.arrow_ipc@1",
    )
}

fn artifact(
    seed: &str,
    type_name: &str,
    base: Option<BaseType>,
    materializer: &str,
) -> NewArtifact {
    let hash = Hash128::of(seed.as_bytes());
    NewArtifact {
        uri: format!(
            "file:///repo/.zenml/artifacts/{}/{hash}",
            &hash.to_hex()[..2]
        ),
        hash,
        size: 4096 + seed.len() as u64,
        type_name: type_name.to_owned(),
        base_type: base,
        materializer: materializer.to_owned(),
        etag: Some(format!("\"{seed}\"")),
    }
}

fn params(values: &[(&str, Value)]) -> Params {
    values
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.clone()))
        .collect()
}

struct Writer<'a> {
    store: &'a dyn MetadataQuery,
    run: Id,
}

impl Writer<'_> {
    fn new_exec(
        &self,
        ty: Id,
        step: &str,
        values: &[(&str, Value)],
        inputs: &[(&str, Id)],
    ) -> NewExecution {
        NewExecution {
            run_id: self.run,
            step_type_id: ty,
            step_name: step.to_owned(),
            params: params(values),
            cache_key: Some(Hash128::of(
                format!("{step} {values:?} {inputs:?}").as_bytes(),
            )),
            code_fingerprint: Hash128::of(step.as_bytes()),
            inputs: inputs.iter().map(|(n, a)| ((*n).to_owned(), *a)).collect(),
        }
    }

    /// Runs a step that completes; returns its outputs by name.
    fn complete(
        &self,
        new: &NewExecution,
        outputs: &[(&str, NewArtifact)],
        metrics: &[(&str, f64)],
    ) -> BTreeMap<String, Id> {
        let e = self.store.begin_execution(new).expect("begin_execution");
        let outputs: Vec<(String, NewArtifact)> = outputs
            .iter()
            .map(|(n, a)| ((*n).to_owned(), a.clone()))
            .collect();
        let metrics: Vec<(String, f64)> =
            metrics.iter().map(|(n, v)| ((*n).to_owned(), *v)).collect();
        let records = self
            .store
            .complete_execution(e, &outputs, &metrics, 1234)
            .expect("complete_execution");
        outputs
            .iter()
            .zip(records)
            .map(|((n, _), r)| (n.clone(), r.id))
            .collect()
    }

    /// Records a step as cached from its earlier execution; returns the reused outputs.
    fn cached(&self, new: &NewExecution) -> BTreeMap<String, Id> {
        let key = new.cache_key.expect("a cache key");
        let hit: CacheHit = self
            .store
            .find_cached(key)
            .expect("find_cached")
            .expect("a cache hit");
        self.store
            .record_cached_execution(new, &hit)
            .expect("record_cached_execution");
        hit.outputs.into_iter().map(|(n, a)| (n, a.id)).collect()
    }
}

pub(crate) fn write_realistic_store(store: &dyn MetadataQuery) -> Written {
    use ScalarType::*;
    let specs = vec![
        spec(
            "iris::steps::CsvDatasource",
            1,
            StepKind::Datasource,
            &[
                ("path", p(String)),
                ("has_header", p(Bool)),
                ("delimiter", p(String)),
            ],
        ),
        spec(
            "iris::steps::RandomSplit",
            1,
            StepKind::Split,
            &[("train_ratio", p(F64)), ("seed", opt(U32))],
        ),
        spec(
            "iris::steps::StandardScaler",
            2,
            StepKind::Preprocesser,
            &[("with_mean", p(Bool)), ("with_std", p(Bool))],
        ),
        spec(
            "iris::steps::MyTrainer",
            1,
            StepKind::Trainer,
            &[
                ("batch_size", p(I64)),
                ("lr", p(F64)),
                ("loss", p(String)),
                ("hidden_layers", opt(I64)),
                ("dropout", p(F32)),
                ("optimizer", p(Enum(&OPTIMIZER))),
            ],
        ),
        spec(
            "iris::steps::ClassificationMetrics",
            1,
            StepKind::Evaluator,
            &[("average", p(String)), ("threshold", opt(F64))],
        ),
        spec(
            "iris::steps::EdgeCases",
            1,
            StepKind::General,
            &[
                ("nan", p(F64)),
                ("pos_inf", p(F64)),
                ("neg_inf", p(F64)),
                ("neg_zero", p(F64)),
                ("tiny", p(F64)),
                ("max", p(I64)),
                ("min", p(I64)),
                ("text", p(String)),
                ("flag", opt(Bool)),
            ],
        ),
    ];
    let ids: Vec<Id> = specs
        .iter()
        .map(|s| store.register_step_type(s).expect("register_step_type"))
        .collect();
    let [source, split, scaler, trainer, evaluator, edge] = ids[..] else {
        panic!("six step types")
    };

    let source_params = [
        ("path", Value::Str("data/iris.csv".into())),
        ("has_header", Value::Bool(true)),
        ("delimiter", Value::Str(",".into())),
    ];
    let split_params = [("train_ratio", Value::Float(0.8)), ("seed", Value::Int(42))];
    let scaler_params = [
        ("with_mean", Value::Bool(true)),
        ("with_std", Value::Bool(false)),
    ];
    let trainer_a = [
        ("batch_size", Value::Int(8)),
        ("lr", Value::Float(0.001)),
        ("loss", Value::Str("mse".into())),
        ("hidden_layers", Value::Int(2)),
        ("dropout", Value::Float(f64::from(0.2_f32))),
        ("optimizer", Value::Str("Adam".into())),
    ];
    let trainer_b = [
        ("batch_size", Value::Int(8)),
        ("lr", Value::Float(0.01)),
        ("loss", Value::Str("cross-entropy — ünïcode ✓".into())),
        ("hidden_layers", Value::Null),
        ("dropout", Value::Float(0.0)),
        ("optimizer", Value::Str("Sgd".into())),
    ];
    let evaluator_params = [
        ("average", Value::Str("macro".into())),
        ("threshold", Value::Null),
    ];

    // Pipeline A: every step computed.
    let config_a = "version: 1\nname: Pipeline A\nsteps:\n  trainer:\n    args: { lr: 0.001 }\n";
    let a = store
        .register_pipeline("Pipeline A", config_a)
        .expect("register_pipeline");
    let run_a = store
        .begin_run(a.id, config_a, "mlmd test")
        .expect("begin_run");
    let w = Writer {
        store,
        run: run_a.id,
    };
    let data = w.complete(
        &w.new_exec(source, "datasource", &source_params, &[]),
        &[("data", table("iris raw"))],
        &[("rows", 150.0)],
    );
    let new_split =
        |w: &Writer<'_>| w.new_exec(split, "split", &split_params, &[("data", data["data"])]);
    let halves = w.complete(
        &new_split(&w),
        &[("train", table("iris train")), ("eval", table("iris eval"))],
        &[],
    );
    let scaled_inputs = [("train", halves["train"]), ("eval", halves["eval"])];
    let new_scaler =
        |w: &Writer<'_>| w.new_exec(scaler, "preprocesser", &scaler_params, &scaled_inputs);
    let scaled = w.complete(
        &new_scaler(&w),
        &[
            ("train", table("scaled train")),
            ("eval", table("scaled eval")),
            (
                "state",
                artifact(
                    "scaler state",
                    "iris::ScalerState",
                    Some(BaseType::Statistics),
                    "zenml.msgpack@1",
                ),
            ),
        ],
        &[],
    );
    let trainer_inputs = [("train", scaled["train"]), ("eval", scaled["eval"])];
    let model_a = w.complete(
        &w.new_exec(trainer, "trainer", &trainer_a, &trainer_inputs),
        &[(
            "model",
            artifact(
                "model a",
                "iris::LogisticModel",
                Some(BaseType::Model),
                "zenml.msgpack@1",
            ),
        )],
        &[("loss", 0.0625), ("epochs_run", 30.0)],
    );
    w.complete(
        &w.new_exec(
            evaluator,
            "evaluator",
            &evaluator_params,
            &[("model", model_a["model"]), ("eval", scaled["eval"])],
        ),
        &[(
            "metrics",
            artifact(
                "metrics a",
                "zenml.Metrics",
                Some(BaseType::Metrics),
                "zenml.json@1",
            ),
        )],
        &[("accuracy", 29.0 / 30.0), ("f1", 0.9665831244778613)],
    );
    store
        .finish_run(run_a.id, RunStatus::Completed)
        .expect("finish_run");

    // Pipeline B: the first three steps cached, a new trainer, a failing evaluator.
    let config_b = "version: 1\nname: Pipeline B\nsteps:\n  trainer:\n    args: { lr: 0.01 }\n";
    let b = store
        .register_pipeline("Pipeline B", config_b)
        .expect("register_pipeline");
    let run_b = store
        .begin_run(b.id, config_b, "mlmd test")
        .expect("begin_run");
    let w = Writer {
        store,
        run: run_b.id,
    };
    w.cached(&w.new_exec(source, "datasource", &source_params, &[]));
    w.cached(&new_split(&w));
    w.cached(&new_scaler(&w));
    let model_b = w.complete(
        &w.new_exec(trainer, "trainer", &trainer_b, &trainer_inputs),
        &[(
            "model",
            artifact(
                "model b",
                "iris::LogisticModel",
                Some(BaseType::Model),
                "zenml.msgpack@1",
            ),
        )],
        &[("loss", 0.125)],
    );
    let failing = store
        .begin_execution(&w.new_exec(
            evaluator,
            "evaluator",
            &evaluator_params,
            &[("model", model_b["model"]), ("eval", scaled["eval"])],
        ))
        .expect("begin_execution");
    store
        .fail_execution(
            failing,
            "division by zero in 'macro' average\nsecond line ✗",
            &[],
            17,
        )
        .expect("fail_execution");
    let edge_params = [
        ("nan", Value::Float(f64::NAN)),
        ("pos_inf", Value::Float(f64::INFINITY)),
        ("neg_inf", Value::Float(f64::NEG_INFINITY)),
        ("neg_zero", Value::Float(-0.0)),
        ("tiny", Value::Float(5e-324)),
        ("max", Value::Int(i64::MAX)),
        ("min", Value::Int(i64::MIN)),
        (
            "text",
            Value::Str("quotes ' \" \\ newline\n tab\t emoji 🚀".into()),
        ),
        ("flag", Value::Null),
    ];
    w.complete(
        &w.new_exec(
            edge,
            "edge cases",
            &edge_params,
            &[("data", data["data"]), ("same_data", data["data"])],
        ),
        &[],
        &[("nan_metric", f64::NAN), ("zero", 0.0)],
    );
    store
        .finish_run(run_b.id, RunStatus::Failed)
        .expect("finish_run");

    let pipelines = store.pipelines().expect("pipelines");
    let runs = store.runs(None).expect("runs");
    let mut executions = Vec::new();
    for run in &runs {
        executions.extend(store.executions(run.id).expect("executions"));
    }
    let mut artifacts = BTreeMap::new();
    for e in &executions {
        for (_, a) in e.inputs.iter().chain(&e.outputs) {
            artifacts.insert(*a, store.artifact(*a).expect("artifact"));
        }
    }
    Written {
        specs,
        pipelines,
        runs,
        executions,
        artifacts,
    }
}

// ---------------------------------------------------------------------------------------------
// Checking the reader's view

fn by_id<'a>(list: &'a Json, id: Id, what: &str) -> &'a Json {
    list.as_array()
        .and_then(|l| l.iter().find(|x| x["id"].as_i64() == Some(id)))
        .unwrap_or_else(|| panic!("ml_metadata did not return {what} {id}"))
}

fn by_name<'a>(list: &'a Json, name: &str, what: &str) -> &'a Json {
    list.as_array()
        .and_then(|l| l.iter().find(|x| x["name"].as_str() == Some(name)))
        .unwrap_or_else(|| panic!("ml_metadata did not return {what} `{name}`"))
}

fn ids(list: &Json) -> Vec<Id> {
    list.as_array()
        .map(|l| l.iter().filter_map(Json::as_i64).collect())
        .unwrap_or_default()
}

/// Does the reader's value match a parameter value? Doubles are compared at the 15 significant
/// digits ML Metadata reads them with; NaN and the infinities come back as Python spells them.
/// The database a store is in: how ML Metadata reads a float depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)] // each test binary uses one
pub(crate) enum Db {
    /// SQLite: every float is a double (NaN and `-0.0` spelled in `double_value`).
    Sqlite,
    /// MySQL, whose `DOUBLE` holds no NaN and no infinity: those and `-0.0` are strings.
    Mysql,
}

fn same(json: &Json, value: &Value, db: Db) -> bool {
    match value {
        Value::Float(x)
            if db == Db::Mysql && (!x.is_finite() || (*x == 0.0 && x.is_sign_negative())) =>
        {
            let spelling = if x.is_nan() {
                "NaN"
            } else if x.is_infinite() {
                if *x > 0.0 { "inf" } else { "-inf" }
            } else {
                "-0.0"
            };
            json.as_str() == Some(spelling)
        }
        Value::Bool(b) => json.as_bool() == Some(*b),
        Value::Int(i) => json.as_i64() == Some(*i),
        Value::Str(s) => json.as_str() == Some(s.as_str()),
        Value::Float(x) if x.is_nan() => json.as_str() == Some("NaN"),
        Value::Float(x) if x.is_infinite() => {
            json.as_str() == Some(if *x > 0.0 { "Infinity" } else { "-Infinity" })
        }
        Value::Float(x) => json.as_f64().is_some_and(|y| {
            (x - y).abs() <= 1e-14 * x.abs().max(f64::MIN_POSITIVE)
                && x.is_sign_negative() == y.is_sign_negative()
        }),
        _ => json.is_null(),
    }
}

fn property_type(ty: ParamType) -> &'static str {
    match ty.scalar {
        ScalarType::Bool => "BOOLEAN",
        ScalarType::F32 | ScalarType::F64 => "DOUBLE",
        ScalarType::String | ScalarType::Enum(_) => "STRING",
        _ => "INT",
    }
}

fn state_name(state: ExecutionState) -> &'static str {
    match state {
        ExecutionState::Running => "RUNNING",
        ExecutionState::Complete => "COMPLETE",
        ExecutionState::Failed => "FAILED",
        _ => "CACHED",
    }
}

/// Checks what ML Metadata read from a store in `db` against what was written.
pub(crate) fn check(json: &Json, w: &Written, db: Db) {
    assert_eq!(json["ml_metadata_version"], "1.17.1");

    // Types: every step type with its version, base type and declared parameters.
    for spec in &w.specs {
        let found = json["types"]["execution"]
            .as_array()
            .and_then(|l| l.iter().find(|t| t["name"] == spec.source.as_str()))
            .unwrap_or_else(|| panic!("execution type {} missing", spec.source));
        assert_eq!(found["version"], spec.version.to_string());
        assert_eq!(found["description"], spec.doc.as_str());
        let base = match spec.kind {
            StepKind::Trainer => Some("TRAIN"),
            StepKind::Evaluator => Some("EVALUATE"),
            StepKind::Split | StepKind::Preprocesser => Some("TRANSFORM"),
            StepKind::Datasource => Some("PROCESS"),
            _ => None,
        };
        assert_eq!(
            found["base_type"].as_str(),
            base,
            "base type of {}",
            spec.source
        );
        let expected: BTreeMap<&str, &str> = spec
            .params
            .iter()
            .map(|(n, t)| (n.as_str(), property_type(*t)))
            .collect();
        let got: BTreeMap<&str, &str> = found["properties"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(got, expected, "declared properties of {}", spec.source);
    }
    let table = by_name(&json["types"]["artifact"], "zenml.Table", "artifact type");
    assert_eq!(table["base_type"], "DATASET");
    assert_eq!(
        table["properties"],
        serde_json::json!({"hash": "STRING", "materializer": "STRING", "size": "INT"})
    );
    let model = by_name(
        &json["types"]["artifact"],
        "iris::LogisticModel",
        "artifact type",
    );
    assert_eq!(model["base_type"], "MODEL");
    by_name(&json["types"]["context"], "zenml.pipeline", "context type");
    by_name(
        &json["types"]["context"],
        "zenml.pipeline_run",
        "context type",
    );

    // Contexts: both pipelines, their runs as children, with config and status.
    assert_eq!(json["counts"]["contexts"], w.pipelines.len() + w.runs.len());
    for p in &w.pipelines {
        let c = by_id(&json["contexts"], p.id, "pipeline context");
        assert_eq!(c["type"], "zenml.pipeline");
        assert_eq!(c["name"], p.name.as_str());
        assert_eq!(c["properties"]["config"], p.config.as_str());
        assert_eq!(c["create_time_since_epoch"].as_i64(), Some(p.created_ms));
        let runs: Vec<Id> = w
            .runs
            .iter()
            .filter(|r| r.pipeline_id == p.id)
            .map(|r| r.id)
            .collect();
        assert_eq!(ids(&c["child_context_ids"]), runs);
        assert_eq!(
            c["properties"]["run_count"].as_i64(),
            Some(runs.len() as i64)
        );
    }
    for r in &w.runs {
        let c = by_id(&json["contexts"], r.id, "run context");
        assert_eq!(c["type"], "zenml.pipeline_run");
        assert_eq!(c["name"], r.name.as_str());
        assert_eq!(ids(&c["parent_context_ids"]), vec![r.pipeline_id]);
        assert_eq!(c["properties"]["status"], r.status.as_str());
        assert_eq!(c["properties"]["config"], r.config.as_str());
        assert_eq!(c["properties"]["started_ms"].as_i64(), Some(r.started_ms));
        assert_eq!(c["properties"]["finished_ms"].as_i64(), r.finished_ms);
        let execs: Vec<Id> = w
            .executions
            .iter()
            .filter(|e| e.run_id == Some(r.id))
            .map(|e| e.id)
            .collect();
        assert_eq!(
            ids(&c["execution_ids"]),
            execs,
            "executions of run {}",
            r.name
        );
        assert!(
            !ids(&c["artifact_ids"]).is_empty(),
            "artifacts of run {}",
            r.name
        );
    }
    let names: Vec<&str> = w.runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["Pipeline A#1", "Pipeline B#1"]);

    // Executions: every one, with its state, parameters and custom properties.
    assert_eq!(json["counts"]["executions"], w.executions.len());
    let mut states = BTreeMap::new();
    for e in &w.executions {
        let x = by_id(&json["executions"], e.id, "execution");
        assert_eq!(x["type"], e.source.as_str());
        assert_eq!(
            x["state"],
            state_name(e.state),
            "state of execution {}",
            e.id
        );
        *states.entry(state_name(e.state)).or_insert(0) += 1;
        let props = x["properties"].as_object().cloned().unwrap_or_default();
        for (name, value) in e.params.iter() {
            match value {
                Value::Null => assert!(
                    !props.contains_key(name),
                    "a null `{name}` is not written (execution {})",
                    e.id
                ),
                v => assert!(
                    props.get(name).is_some_and(|j| same(j, v, db)),
                    "property `{name}` of execution {}: {:?} vs {v:?}",
                    e.id,
                    props.get(name)
                ),
            }
        }
        assert_eq!(
            props.len(),
            e.params.iter().filter(|(_, v)| !v.is_null()).count()
        );
        let custom = &x["custom_properties"];
        assert_eq!(custom["step_name"], e.step_name.as_str());
        assert_eq!(custom["kind"].as_str(), e.kind.map(StepKind::as_str));
        assert_eq!(
            custom["code_fingerprint"].as_str(),
            e.code_fingerprint.map(|h| h.to_hex()).as_deref()
        );
        assert_eq!(
            custom["cache_key"].as_str(),
            e.cache_key.map(|h| h.to_hex()).as_deref()
        );
        assert_eq!(custom["duration_ms"].as_i64(), e.duration_ms);
        assert_eq!(custom["error"].as_str(), e.error.as_deref());
        assert_eq!(custom["cached_from"].as_i64(), e.cached_from);
        for (name, value) in &e.metrics {
            assert!(
                same(&custom[format!("metric.{name}")], &Value::Float(*value), db),
                "metric {name} of execution {}",
                e.id
            );
        }
        let mut contexts = vec![e.run_id.expect("a run")];
        let run = w
            .runs
            .iter()
            .find(|r| Some(r.id) == e.run_id)
            .expect("its run");
        contexts.push(run.pipeline_id);
        contexts.sort_unstable();
        assert_eq!(ids(&x["context_ids"]), contexts);
    }
    assert_eq!(
        states,
        BTreeMap::from([("CACHED", 3), ("COMPLETE", 7), ("FAILED", 1)]),
        "executions by state"
    );

    // Artifacts: URIs, hashes, sizes, LIVE.
    assert_eq!(json["counts"]["artifacts"], w.artifacts.len());
    for a in w.artifacts.values() {
        let x = by_id(&json["artifacts"], a.id, "artifact");
        assert_eq!(x["uri"], a.uri.as_str());
        assert_eq!(x["state"], "LIVE");
        assert_eq!(x["type"], a.type_name.as_str());
        assert_eq!(x["properties"]["hash"], a.hash.to_hex());
        assert_eq!(x["properties"]["size"].as_u64(), Some(a.size));
        assert_eq!(x["properties"]["materializer"], a.materializer.as_str());
        assert_eq!(x["custom_properties"]["etag"].as_str(), a.etag.as_deref());
    }

    // Events: one per artifact an execution read or wrote, its names as path (one artifact
    // read under two names is one event with both).
    let events = json["events"].as_array().cloned().unwrap_or_default();
    let mut expected: BTreeMap<(Id, Id, &str), Vec<&str>> = BTreeMap::new();
    for e in &w.executions {
        for (kind, list) in [("INPUT", &e.inputs), ("OUTPUT", &e.outputs)] {
            for (name, artifact) in list {
                expected
                    .entry((e.id, *artifact, kind))
                    .or_default()
                    .push(name);
            }
        }
    }
    for ((execution, artifact, kind), names) in &expected {
        assert!(
            events
                .iter()
                .any(|ev| ev["execution_id"].as_i64() == Some(*execution)
                    && ev["artifact_id"].as_i64() == Some(*artifact)
                    && ev["type"] == *kind
                    && ev["path"] == serde_json::json!(names)),
            "{kind} event {names:?} of execution {execution} to artifact {artifact}"
        );
    }
    assert_eq!(events.len(), expected.len());
    assert!(
        events
            .iter()
            .any(|ev| ev["path"].as_array().is_some_and(|p| p.len() == 2)),
        "the store has an artifact read under two names"
    );

    // A few facts stated directly rather than through the store's own reading.
    let trainer_b = w
        .executions
        .iter()
        .rfind(|e| e.step_name == "trainer")
        .expect("trainer of pipeline B");
    let x = by_id(&json["executions"], trainer_b.id, "execution");
    assert_eq!(x["properties"]["lr"].as_f64(), Some(0.01));
    assert!(x["properties"].get("hidden_layers").is_none());
    assert_eq!(x["properties"]["loss"], "cross-entropy — ünïcode ✓");
    let edge = w
        .executions
        .iter()
        .find(|e| e.step_name == "edge cases")
        .expect("edge cases");
    let x = by_id(&json["executions"], edge.id, "execution");
    assert_eq!(x["properties"]["nan"], "NaN");
    assert_eq!(x["properties"]["max"].as_i64(), Some(i64::MAX));
    assert_eq!(x["properties"]["min"].as_i64(), Some(i64::MIN));
    match db {
        Db::Sqlite => assert!(
            x["properties"]["neg_zero"]
                .as_f64()
                .is_some_and(|z| z == 0.0 && z.is_sign_negative())
        ),
        Db::Mysql => assert_eq!(x["properties"]["neg_zero"], "-0.0"),
    }
    let cached = w
        .executions
        .iter()
        .find(|e| e.state == ExecutionState::Cached)
        .expect("a cached execution");
    let x = by_id(&json["executions"], cached.id, "execution");
    let from = x["custom_properties"]["cached_from"]
        .as_i64()
        .expect("cached_from");
    assert_eq!(
        by_id(&json["executions"], from, "execution")["state"],
        "COMPLETE"
    );
}
