//! The Repository API: finding and creating repositories, stores given in code, and everything a
//! repository tells about its past (pipelines, runs, steps, step versions, lineage, artifacts,
//! comparisons), including a pipeline recorded by another process and rebuilt in this one.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::*;
use zenml::hash::Hash128;
use zenml::param::{Params, Value};
use zenml::pipeline::ConfigErrorKind;
use zenml::prelude::*;
use zenml::registry::RegistryError;
use zenml::repository::{Lineage, RepositoryConfig, RepositoryError, StepVersion};
use zenml::runner::RunSummary;
use zenml::step::{DynStep, IntoDynStep, StepCode, StepInfo};
use zenml::store::{ExecutionRecord, ExecutionState, RunStatus};

/// numbers → sum, on a tiny table.
fn small(name: &str) -> Pipeline {
    Pipeline::new(name)
        .add_step("numbers", Numbers { n: 4, scale: 1.0 }, [])
        .add_step("sum", Sum {}, [("numbers", "numbers.numbers")])
}

fn canonical(dir: &Path) -> std::path::PathBuf {
    std::fs::canonicalize(dir).expect("a canonical path")
}

// ---------------------------------------------------------------------------------------------
// Finding and creating repositories

#[test]
fn init_open_and_open_or_init_find_the_repository_like_git() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let root = canonical(dir);

    match Repository::open(dir) {
        Err(RepositoryError::NotFound(p)) => assert_eq!(p, root),
        other => panic!("{other:?}"),
    }

    let repo = Repository::init(dir).unwrap().with_options(quiet());
    assert_eq!(repo.root(), Some(root.as_path()));
    assert_eq!(repo.config(), &RepositoryConfig::default());
    assert!(dir.join(".zenml/config.yaml").is_file());
    assert!(dir.join(".zenml/metadata.db").is_file());
    assert_eq!(
        repo.metadata_store().describe(),
        format!("sqlite:{}", root.join(".zenml/metadata.db").display())
    );
    repo.run(&small("small")).unwrap();

    // Found from a subdirectory, walking up.
    let sub = dir.join("a").join("b").join("c");
    std::fs::create_dir_all(&sub).unwrap();
    assert_eq!(Repository::find(&sub).unwrap(), root);
    let opened = Repository::open(&sub).unwrap();
    assert_eq!(opened.root(), Some(root.as_path()));
    assert_eq!(opened.get_runs(None).unwrap().len(), 1);

    // Twice is refused, naming the folder.
    match Repository::init(dir) {
        Err(e @ RepositoryError::AlreadyExists(_)) => {
            assert_eq!(
                e.to_string(),
                format!("a zenml repository already exists at {}", root.display())
            );
        }
        other => panic!("{other:?}"),
    }

    // open_or_init opens the repository that holds the directory rather than nesting one…
    let again = Repository::open_or_init(&sub).unwrap();
    assert_eq!(again.root(), Some(root.as_path()));
    assert!(!sub.join(".zenml").exists());
    assert_eq!(again.get_runs(None).unwrap().len(), 1);

    // … and creates one where there is none…
    let other = tempfile::tempdir().unwrap();
    let created = Repository::open_or_init(other.path()).unwrap();
    assert_eq!(created.root(), Some(canonical(other.path()).as_path()));
    assert!(created.get_runs(None).unwrap().is_empty());

    // … even in a folder that does not exist yet, as `init` does.
    let missing = other.path().join("new").join("project");
    let created = Repository::open_or_init(&missing).unwrap();
    assert_eq!(created.root(), Some(canonical(&missing).as_path()));
    assert!(missing.join(".zenml/config.yaml").is_file());
}

#[test]
fn a_broken_config_file_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    Repository::init(dir).unwrap();
    let file = canonical(dir).join(".zenml/config.yaml");

    let cases = [
        ("version: 1\nmetadata: [\n", "did not find expected"),
        (
            "version: 9\nmetadata:\n  type: sqlite\n  path: metadata.db\nartifacts:\n  url: artifacts\n",
            "config version 9 is not supported (this build reads version 1)",
        ),
        (
            "version: 1\nmetadata:\n  type: postgres\nartifacts:\n  url: artifacts\n",
            "unknown variant `postgres`",
        ),
        (
            "version: 1\nmetadata:\n  type: sqlite\n  path: metadata.db\n",
            "missing field `artifacts`",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&file, text).unwrap();
        match Repository::open(dir) {
            Err(e @ RepositoryError::Config { .. }) => {
                let RepositoryError::Config { path, message } = &e else {
                    unreachable!()
                };
                assert_eq!(path, &file);
                assert!(message.contains(expected), "{message}");
                assert!(
                    e.to_string().starts_with(&format!("{}: ", file.display())),
                    "{e}"
                );
            }
            other => panic!("{text}: {other:?}"),
        }
        // Reading the config alone fails the same way.
        assert!(matches!(
            Repository::find_config(dir),
            Err(RepositoryError::Config { .. })
        ));
    }

    // A value in the wrong place (a password typed as the port) is never quoted back.
    std::fs::write(
        &file,
        "version: 1\nmetadata:\n  type: mysql\n  host: db\n  port: hunter2\n  user: u\n  \
         database: d\nartifacts:\n  url: artifacts\n",
    )
    .unwrap();
    let e = Repository::open(dir).unwrap_err().to_string();
    assert!(!e.contains("hunter2"), "{e}");
    assert!(e.contains("expected u16"), "{e}");
    let shown = format!("{:?}", {
        let mut c = RepositoryConfig::default();
        c.artifacts.url = "s3://KEY:SECRET@bucket/p".into();
        c
    });
    assert!(
        !shown.contains("SECRET") && shown.contains("s3://***@bucket/p"),
        "{shown}"
    );

    // A config that parses but names a store this binary cannot open.
    std::fs::write(
        &file,
        "version: 1\nmetadata:\n  type: sqlite\n  path: metadata.db\nartifacts:\n  url: ftp://host/x\n",
    )
    .unwrap();
    let e = Repository::open(dir).unwrap_err();
    assert!(matches!(e, RepositoryError::Artifacts(_)), "{e:?}");
    assert!(
        e.to_string()
            .contains("unknown artifact store scheme `ftp://`"),
        "{e}"
    );
    // … which can still be read and repaired without opening the stores.
    let (root, mut config) = Repository::find_config(dir).unwrap();
    assert_eq!(root, canonical(dir));
    assert_eq!(config.artifacts.url, "ftp://host/x");
    config.artifacts.url = "artifacts".into();
    Repository::save_config_at(&root, &config).unwrap();
    Repository::open(dir).unwrap();

    // init with an artifact store this binary cannot open is refused before anything is made.
    let fresh = tempfile::tempdir().unwrap();
    let mut bad = RepositoryConfig::default();
    bad.artifacts.url = "ftp://host/x".into();
    assert!(Repository::init_with(fresh.path(), bad).is_err());
    assert!(!fresh.path().join(".zenml").exists());

    // A metadata store that cannot be made publishes no config (so no later command finds a
    // half-made repository) and removes nothing; fixed, `init` uses what is there.
    let fresh = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(fresh.path().join(".zenml")).unwrap();
    let foreign = fresh.path().join(".zenml/metadata.db");
    std::fs::write(&foreign, b"not a database at all, but someone's bytes").unwrap();
    assert!(Repository::init(fresh.path()).is_err());
    assert!(!fresh.path().join(".zenml/config.yaml").exists());
    assert_eq!(
        std::fs::read(&foreign).unwrap(),
        b"not a database at all, but someone's bytes",
        "nothing was overwritten"
    );
    std::fs::remove_file(&foreign).unwrap();
    Repository::init(fresh.path()).unwrap();
    Repository::open(fresh.path()).unwrap();
}

#[test]
fn stores_given_in_code_override_the_config() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    Repository::init(dir).unwrap();
    let (metadata, artifacts) = memory_stores();
    let repo = Repository::open(dir)
        .unwrap()
        .with_metadata_store(metadata.clone())
        .with_artifact_store(artifacts.clone())
        .with_options(quiet());
    assert!(Arc::ptr_eq(repo.metadata_store(), &metadata));
    assert_eq!(repo.metadata_store().describe(), metadata.describe());
    let summary = repo.run(&small("in memory")).unwrap();
    assert_eq!(summary.executed().len(), 2);

    // The run went to the stores given in code, not to the repository's own.
    assert_eq!(metadata.runs(None).unwrap().len(), 1);
    let own = Repository::open(dir).unwrap();
    assert!(own.get_runs(None).unwrap().is_empty());
    assert!(own.get_pipelines().unwrap().is_empty());
    let folder = dir.join(".zenml/artifacts");
    let files = std::fs::read_dir(&folder).map_or(0, Iterator::count);
    assert_eq!(files, 0, "{}", folder.display());
    let total: Arc<f64> = repo
        .load_artifact(&summary.step("sum").unwrap().outputs[0].1)
        .unwrap();
    assert_eq!(*total, 6.0);

    // A repository of stores alone has no folder and no config file to save.
    let bare = Repository::with_stores(metadata, artifacts);
    assert_eq!(bare.root(), None);
    assert!(matches!(
        bare.save_config(&RepositoryConfig::default()),
        Err(RepositoryError::NotFound(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// What a repository tells about its past

/// A repository with history: Pipeline A; Pipeline B, a copy of A rebuilt from the store with
/// another trainer parameter; A again (fully cached); a general pipeline.
struct History {
    repo: Repository,
    a1: RunSummary,
    b1: RunSummary,
    a2: RunSummary,
    dag: RunSummary,
}

fn history() -> History {
    let repo = memory_repo();
    let a1 = repo.run(&iris_pipeline("Pipeline A", 0.0)).expect("A runs");
    let b = repo
        .get_pipeline_by_name("Pipeline A")
        .expect("A is rebuilt")
        .copy("Pipeline B")
        .add_trainer(CentroidTrainer {
            shrink: 0.5,
            ..CentroidTrainer::default()
        });
    let b1 = repo.run(&b).expect("B runs");
    let a2 = repo
        .run(&iris_pipeline("Pipeline A", 0.0))
        .expect("A runs again");
    let dag = repo.run(&small("small")).expect("the DAG runs");
    History {
        repo,
        a1,
        b1,
        a2,
        dag,
    }
}

fn execution_id(summary: &RunSummary, step: &str) -> i64 {
    summary
        .step(step)
        .and_then(|s| s.execution_id)
        .unwrap_or_else(|| panic!("no execution for {step}"))
}

fn output_id(summary: &RunSummary, step: &str, output: &str) -> i64 {
    summary
        .step(step)
        .and_then(|s| s.outputs.iter().find(|(n, _)| n == output))
        .map(|(_, a)| a.id)
        .unwrap_or_else(|| panic!("no output {step}.{output}"))
}

#[test]
fn pipelines_and_runs_are_listed_and_found() {
    let h = history();
    let repo = &h.repo;

    let pipelines: Vec<String> = repo
        .get_pipelines()
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(pipelines, ["Pipeline A", "Pipeline B", "small"]);

    let all: Vec<String> = repo
        .get_runs(None)
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(
        all,
        ["Pipeline A#1", "Pipeline B#1", "Pipeline A#2", "small#1"]
    );
    let runs = repo.get_runs(Some("Pipeline A")).unwrap();
    assert_eq!(
        runs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["Pipeline A#1", "Pipeline A#2"]
    );
    for r in &runs {
        assert_eq!(r.pipeline_name, "Pipeline A");
        assert_eq!(r.status, RunStatus::Completed);
        assert!(r.finished_ms >= Some(r.started_ms));
        assert_eq!(r.config, iris_pipeline("Pipeline A", 0.0).to_yaml());
    }
    match repo.get_runs(Some("Pipeline Z")) {
        Err(
            e @ RepositoryError::Unknown {
                what: "pipeline", ..
            },
        ) => {
            assert_eq!(e.to_string(), "no pipeline `Pipeline Z` in the repository");
        }
        other => panic!("{other:?}"),
    }

    // By name, by id; unknown either way.
    let b = repo.get_run("Pipeline B#1").unwrap();
    assert_eq!(b, h.b1.run);
    assert_eq!(repo.get_run(&b.id.to_string()).unwrap(), b);
    for key in ["Pipeline B#2", "999999", "-1"] {
        match repo.get_run(key) {
            Err(e @ RepositoryError::Unknown { what: "run", .. }) => {
                assert_eq!(e.to_string(), format!("no run `{key}` in the repository"));
            }
            other => panic!("{key}: {other:?}"),
        }
    }

    // The latest run of a pipeline.
    assert_eq!(repo.get_latest_run("Pipeline A").unwrap(), h.a2.run);
    assert_eq!(repo.get_latest_run("small").unwrap(), h.dag.run);
    assert!(matches!(
        repo.get_latest_run("Pipeline Z"),
        Err(RepositoryError::Unknown {
            what: "pipeline",
            ..
        })
    ));

    // Rebuilt by name: the definition that ran.
    let a = repo.get_pipeline_by_name("Pipeline A").unwrap();
    assert_eq!(a.to_yaml(), h.a1.run.config);
    assert!(matches!(
        repo.get_pipeline_by_name("Pipeline Z"),
        Err(RepositoryError::Unknown {
            what: "pipeline",
            ..
        })
    ));
}

#[test]
fn run_steps_show_parameters_metrics_states_durations_and_artifacts() {
    let h = history();
    let repo = &h.repo;
    let a = repo.get_run_steps(&h.a1.run).unwrap();
    let b = repo.get_run_steps(&h.b1.run).unwrap();
    let names = |steps: &[ExecutionRecord]| {
        steps
            .iter()
            .map(|e| e.step_name.clone())
            .collect::<Vec<_>>()
    };
    let slots = [
        "datasource",
        "split",
        "preprocesser",
        "trainer",
        "evaluator",
    ];
    assert_eq!(names(&a), slots);
    assert_eq!(names(&b), slots);
    let find = |steps: &[ExecutionRecord], name: &str| {
        steps.iter().find(|e| e.step_name == name).cloned().unwrap()
    };

    // Everything in run A#1 executed.
    for e in &a {
        assert_eq!(e.state, ExecutionState::Complete, "{}", e.step_name);
        assert_eq!(e.cached_from, None);
        assert_eq!(e.run_id, Some(h.a1.run.id));
        assert!(e.duration_ms.is_some_and(|d| d >= 0), "{e:?}");
        assert!(e.code_fingerprint.is_some() && e.cache_key.is_some());
        assert_eq!(e.error, None);
    }

    // In B#1 the first three reused A#1's executions, with the same cache keys.
    for name in ["datasource", "split", "preprocesser"] {
        let (mine, theirs) = (find(&b, name), find(&a, name));
        assert_eq!(mine.state, ExecutionState::Cached, "{name}");
        assert_eq!(mine.cached_from, Some(theirs.id), "{name}");
        assert_eq!(mine.cache_key, theirs.cache_key, "{name}");
        assert_eq!(mine.outputs, theirs.outputs, "{name}: the reused artifacts");
        assert_eq!(mine.duration_ms, Some(0), "{name}");
        assert!(mine.metrics.is_empty());
    }

    // The trainer ran with its own parameters and recorded a metric.
    let trainer = find(&b, "trainer");
    assert_eq!(trainer.state, ExecutionState::Complete);
    assert_eq!(trainer.cached_from, None);
    assert_eq!(trainer.source, "repository::common::CentroidTrainer");
    assert_eq!(trainer.version, 1);
    assert_eq!(trainer.kind, Some(zenml::step::StepKind::Trainer));
    assert_eq!(
        trainer.params,
        Params::new()
            .with("label", Value::Str("species".into()))
            .with("shrink", Value::Float(0.5))
    );
    assert_eq!(trainer.metrics, [("train_rows".to_owned(), 120.0)]);
    assert_ne!(trainer.cache_key, find(&a, "trainer").cache_key);

    // Inputs and outputs line up along the wiring.
    let pre = find(&b, "preprocesser");
    let out = |e: &ExecutionRecord, name: &str| {
        e.outputs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
            .unwrap()
    };
    assert_eq!(
        trainer.inputs,
        [
            ("eval".to_owned(), out(&pre, "eval")),
            ("train".to_owned(), out(&pre, "train"))
        ]
    );
    let evaluator = find(&b, "evaluator");
    assert_eq!(
        evaluator.inputs,
        [
            ("eval".to_owned(), out(&pre, "eval")),
            ("model".to_owned(), out(&trainer, "model"))
        ]
    );
    let accuracy = evaluator.metrics[0].1;
    assert_eq!(evaluator.metrics[0].0, "accuracy");
    assert!((0.5..=1.0).contains(&accuracy), "{accuracy}");

    // A2 reused everything, A1's executions included.
    let a2 = repo.get_run_steps(&h.a2.run).unwrap();
    for e in &a2 {
        assert_eq!(e.state, ExecutionState::Cached, "{}", e.step_name);
        assert_eq!(e.cached_from, Some(find(&a, &e.step_name).id));
    }
}

/// A step that reports another version or code fingerprint than its type declares: what a step
/// looks like to the store after its code or its version changed.
#[derive(Clone)]
struct Revised {
    inner: Box<dyn DynStep>,
    version: u32,
    fingerprint: Hash128,
}

impl DynStep for Revised {
    fn info(&self) -> StepInfo {
        let mut info = self.inner.info();
        info.version = self.version;
        info.code_fingerprint = self.fingerprint;
        info
    }
    fn params(&self) -> Params {
        self.inner.params()
    }
    fn inputs(&self) -> Vec<IoSpec> {
        self.inner.inputs()
    }
    fn outputs(&self) -> Vec<IoSpec> {
        self.inner.outputs()
    }
    fn run(&self, ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        self.inner.run(ctx, inputs)
    }
    fn clone_box(&self) -> Box<dyn DynStep> {
        Box::new(self.clone())
    }
}

fn revised_sum(version: u32, fingerprint: u128) -> Box<dyn DynStep> {
    Box::new(Revised {
        inner: Sum {}.into_dyn_step(),
        version,
        fingerprint: Hash128(fingerprint),
    })
}

fn with_sum(name: &str, sum: Box<dyn DynStep>) -> Pipeline {
    Pipeline::new(name)
        .add_step("numbers", Numbers { n: 4, scale: 1.0 }, [])
        .add_step("sum", sum, [("numbers", "numbers.numbers")])
}

#[test]
fn step_versions_list_each_version_with_its_code_fingerprints() {
    let repo = memory_repo();
    let original = Hash128(<Sum as StepCode>::CODE_FINGERPRINT);
    let source = "repository::common::Sum";

    assert_eq!(repo.get_step_versions(source).unwrap(), []);
    repo.run(&small("original")).unwrap();
    repo.run(&small("original again")).unwrap();
    // The code changed, same version: the step runs again.
    let changed = repo
        .run(&with_sum("changed code", revised_sum(1, 0xC0DE)))
        .unwrap();
    assert_eq!(changed.executed(), ["sum"]);
    // A new version.
    let v2 = repo
        .run(&with_sum("version 2", revised_sum(2, 0xF00D)))
        .unwrap();
    assert_eq!(v2.executed(), ["sum"]);

    let versions = repo.get_step_versions(source).unwrap();
    let last_used = |v: &StepVersion| v.last_used_ms;
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert_eq!(versions[0].version, 1);
    assert_eq!(
        versions[0].code_fingerprints,
        [original, Hash128(0xC0DE)],
        "oldest first"
    );
    assert_eq!(versions[0].executions, 3, "executed, cached, executed");
    assert_eq!(versions[1].version, 2);
    assert_eq!(versions[1].code_fingerprints, [Hash128(0xF00D)]);
    assert_eq!(versions[1].executions, 1);
    assert!(last_used(&versions[1]) >= last_used(&versions[0]));
    assert!(last_used(&versions[0]).is_some());
    // Other steps are not mixed in.
    let numbers = repo
        .get_step_versions("repository::common::Numbers")
        .unwrap();
    assert_eq!(numbers.len(), 1);
    assert_eq!(numbers[0].executions, 4);

    // A pipeline recorded with a version this binary does not have cannot be rebuilt, and the
    // error says why.
    match repo.get_pipeline_by_name("version 2") {
        Err(e @ RepositoryError::Rebuild { .. }) => {
            let RepositoryError::Rebuild { pipeline, source } = &e else {
                unreachable!()
            };
            assert_eq!(pipeline, "version 2");
            assert_eq!(source.step(), Some("sum"));
            assert!(
                matches!(
                    source.kind(),
                    ConfigErrorKind::Registry(RegistryError::VersionMismatch {
                        requested: 2,
                        registered: 1,
                        ..
                    })
                ),
                "{source:?}"
            );
            assert!(
                e.to_string().starts_with(
                    "pipeline `version 2` cannot be rebuilt from its recorded config: "
                ),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
}

/// The lineage node whose artifact came from `step`, depth first.
fn find_node<'a>(l: &'a Lineage, step: &str) -> Option<&'a Lineage> {
    if l.producer.as_ref().is_some_and(|p| p.step_name == step) {
        return Some(l);
    }
    l.inputs.iter().find_map(|(_, sub)| find_node(sub, step))
}

#[test]
fn lineage_leads_from_the_metrics_back_to_the_datasource() {
    let h = history();
    let repo = &h.repo;
    let metrics = output_id(&h.a1, "evaluator", "metrics");
    let lineage = repo.lineage(metrics).unwrap();
    assert_eq!(lineage.artifact.id, metrics);
    let producer = lineage.producer.as_ref().unwrap();
    assert_eq!(producer.step_name, "evaluator");
    assert_eq!(producer.id, execution_id(&h.a1, "evaluator"));

    // The chain of producers, input by input.
    let inputs: Vec<&str> = lineage.inputs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(inputs, ["eval", "model"]);
    let pre = &lineage.inputs[0].1;
    assert_eq!(pre.producer.as_ref().unwrap().step_name, "preprocesser");
    let split = &pre.inputs.iter().find(|(n, _)| n == "eval").unwrap().1;
    assert_eq!(split.producer.as_ref().unwrap().step_name, "split");
    let data = &split.inputs[0];
    assert_eq!(data.0, "data");
    assert_eq!(data.1.producer.as_ref().unwrap().step_name, "datasource");
    assert_eq!(data.1.artifact.id, output_id(&h.a1, "datasource", "data"));
    assert!(data.1.inputs.is_empty());
    let model = &lineage.inputs[1].1;
    assert_eq!(model.producer.as_ref().unwrap().step_name, "trainer");
    assert_eq!(model.artifact.id, output_id(&h.a1, "trainer", "model"));

    // Every execution once, depth first, though the split and the preprocesser each produced
    // two of the inputs below them.
    let steps: Vec<&str> = lineage
        .executions()
        .iter()
        .map(|e| e.step_name.as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "evaluator",
            "preprocesser",
            "split",
            "datasource",
            "trainer"
        ]
    );

    // B's metrics: B's own evaluator and trainer, then the executions of A#1 whose outputs B
    // reused (an artifact's producer is the execution that computed it).
    let lineage = repo
        .lineage(output_id(&h.b1, "evaluator", "metrics"))
        .unwrap();
    let runs = |step: &str| {
        find_node(&lineage, step)
            .and_then(|n| n.producer.as_ref())
            .and_then(|p| p.run_id)
            .unwrap()
    };
    assert_eq!(runs("evaluator"), h.b1.run.id);
    assert_eq!(runs("trainer"), h.b1.run.id);
    assert_eq!(runs("preprocesser"), h.a1.run.id);
    assert_eq!(runs("datasource"), h.a1.run.id);
    let trainer = find_node(&lineage, "trainer").unwrap();
    assert_eq!(
        trainer.producer.as_ref().unwrap().params.get("shrink"),
        Some(&Value::Float(0.5))
    );

    assert!(matches!(
        repo.lineage(999_999),
        Err(RepositoryError::Unknown {
            what: "artifact",
            ..
        })
    ));
}

#[test]
fn artifacts_load_as_their_types() {
    let h = history();
    let repo = &h.repo;
    let model_id = output_id(&h.a1, "trainer", "model");
    let record = repo.get_artifact(model_id).unwrap();
    assert_eq!(record.id, model_id);
    let model: Arc<Centroids> = repo.load_artifact(&record).unwrap();
    assert_eq!(model.classes, [0, 1, 2]);
    assert_eq!(model.features.len(), 4);
    assert_eq!(model.label, "species");

    let metrics_id = output_id(&h.a1, "evaluator", "metrics");
    let metrics: Arc<Metrics> = repo
        .load_artifact(&repo.get_artifact(metrics_id).unwrap())
        .unwrap();
    let recorded = repo.get_run_steps(&h.a1.run).unwrap();
    let evaluator = recorded
        .iter()
        .find(|e| e.step_name == "evaluator")
        .unwrap();
    assert_eq!(metrics.get("accuracy"), Some(evaluator.metrics[0].1));

    let data: Arc<Table> = repo
        .load_artifact(
            &repo
                .get_artifact(output_id(&h.a1, "datasource", "data"))
                .unwrap(),
        )
        .unwrap();
    assert_eq!(data.num_rows(), 150);

    // Read as another type: an error, not garbage.
    assert!(repo.load_artifact::<Table>(&record).is_err());
    assert!(matches!(
        repo.get_artifact(999_999),
        Err(RepositoryError::Unknown {
            what: "artifact",
            ..
        })
    ));
}

#[test]
fn training_runs_compare_with_parameters_beside_metrics() {
    let h = history();
    let c = h.repo.compare_training_runs().unwrap();
    assert_eq!(c.param_names, ["label", "shrink"]);
    assert_eq!(c.metric_names, ["accuracy", "train_rows"]);
    let runs: Vec<&str> = c.rows.iter().map(|r| r.run.as_str()).collect();
    assert_eq!(
        runs,
        ["Pipeline A#1", "Pipeline B#1", "Pipeline A#2"],
        "the DAG run has no trainer"
    );

    let (a1, b1, a2) = (&c.rows[0], &c.rows[1], &c.rows[2]);
    assert_eq!(a1.pipeline, "Pipeline A");
    assert_eq!(a1.run_id, h.a1.run.id);
    assert_eq!(a1.status, RunStatus::Completed);
    assert_eq!(a1.trainer, "repository::common::CentroidTrainer@1");
    assert_eq!(a1.param("shrink"), Some(&Value::Float(0.0)));
    assert_eq!(b1.param("shrink"), Some(&Value::Float(0.5)));
    assert_eq!(a1.param("label"), Some(&Value::Str("species".into())));
    assert!(!a1.trainer_cached && !b1.trainer_cached);
    assert!(a2.trainer_cached);

    // Metrics are the evaluator's (and the trainer's) of each run…
    let evaluator_accuracy = |s: &RunSummary| {
        h.repo
            .get_run_steps(&s.run)
            .unwrap()
            .into_iter()
            .find(|e| e.step_name == "evaluator")
            .unwrap()
            .metrics[0]
            .1
    };
    assert_eq!(a1.metric("accuracy"), Some(evaluator_accuracy(&h.a1)));
    assert_eq!(b1.metric("accuracy"), Some(evaluator_accuracy(&h.b1)));
    assert_eq!(a1.metric("train_rows"), Some(120.0));
    // … and a cached run shows those of the executions it reused.
    assert_eq!(a2.metrics, a1.metrics);

    let text = c.to_string();
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "run",
            "pipeline",
            "label",
            "shrink",
            "accuracy",
            "train_rows"
        ]
    );
    assert_eq!(text.lines().count(), 4);
    assert!(
        text.lines()
            .nth(2)
            .unwrap()
            .starts_with("Pipeline B#1  Pipeline B  \"species\"  0.5")
    );
}

// ---------------------------------------------------------------------------------------------
// Across processes

/// Set in the child process: the repository it records Pipeline A in.
const CHILD_REPO: &str = "ZENML_TEST_RECORDING_REPO";

/// The acceptance with the library alone: a child process (this test binary again)
/// records Pipeline A; this process rebuilds it by name, gets the config that ran, and a copy
/// with another trainer parameter reuses the steps before the trainer.
#[test]
fn a_pipeline_recorded_by_another_process_is_rebuilt_and_its_copy_reuses_its_steps() {
    if let Some(dir) = std::env::var_os(CHILD_REPO) {
        // The child's role.
        let repo = Repository::open_or_init(&dir)
            .unwrap()
            .with_options(quiet());
        let summary = repo.run(&iris_pipeline("Pipeline A", 0.0)).unwrap();
        assert_eq!(summary.executed().len(), 5);
        return;
    }

    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_pipeline_recorded_by_another_process_is_rebuilt_and_its_copy_reuses_its_steps",
            "--test-threads=1",
        ])
        .env(CHILD_REPO, tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the child failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child ran no test"
    );

    let repo = Repository::open(tmp.path()).unwrap().with_options(quiet());
    let ran = repo.get_latest_run("Pipeline A").unwrap();
    assert_eq!(ran.name, "Pipeline A#1");
    let a = repo.get_pipeline_by_name("Pipeline A").unwrap();
    assert_eq!(
        a.to_yaml(),
        ran.config,
        "the rebuilt config is the one that ran"
    );
    assert_eq!(a.to_yaml(), iris_pipeline("Pipeline A", 0.0).to_yaml());

    let recorded = repo.get_run_steps(&ran).unwrap();
    let recorded_id = |step: &str| {
        recorded
            .iter()
            .find(|e| e.step_name == step)
            .map(|e| e.id)
            .unwrap()
    };

    let b = a.copy("Pipeline B").add_trainer(CentroidTrainer {
        shrink: 0.5,
        ..CentroidTrainer::default()
    });
    let summary = repo.run(&b).unwrap();
    assert_eq!(summary.cached(), ["datasource", "split", "preprocesser"]);
    assert_eq!(summary.executed(), ["trainer", "evaluator"]);
    for step in ["datasource", "split", "preprocesser"] {
        assert_eq!(
            summary.step(step).unwrap().cached_from,
            Some(recorded_id(step)),
            "{step}"
        );
    }

    // Pipeline A itself, rebuilt here, is recognised as the same definition: fully cached.
    let again = repo.run(&a).unwrap();
    assert_eq!(again.run.name, "Pipeline A#2");
    assert_eq!(again.cached().len(), 5);
}
