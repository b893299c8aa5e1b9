//! The runtime end to end on the in-memory stores: DAG and training pipelines, validation,
//! failures, concurrency and caching.

mod common;

use common::*;
use zenml::pipeline::{PipelineError, Resources};
use zenml::prelude::*;
use zenml::repository::RepositoryError;
use zenml::runner::{RunError, StepFailure, StepStatus};
use zenml::store::ExecutionState;

fn dag(name: &str, scale: f64, offset: f64) -> Pipeline {
    Pipeline::new(name)
        .add_step("numbers", Numbers { n: 100, scale }, [])
        .add_step("sum", Sum {}, [("numbers", "numbers.numbers")])
        .add_step("squares", Numbers { n: 10, scale: 2.0 }, [])
        .add_step("sum2", Sum {}, [("numbers", "squares.numbers")])
        .add_step(
            "add",
            Add { offset },
            [("a", "sum.total"), ("b", "sum2.total")],
        )
}

#[test]
fn the_plan_keeps_each_input_s_producer_and_each_step_s_consumers() {
    let plan = dag("plan", 1.0, 0.0).validate().unwrap();
    let names: Vec<&str> = plan.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["numbers", "sum", "squares", "sum2", "add"]);
    let (k, add) = plan.step("add").unwrap();
    assert_eq!(k, 4);
    let wired: Vec<(&str, &str, &str)> = add
        .inputs
        .iter()
        .map(|i| {
            let producer = &plan.steps[i.producer];
            (
                i.spec.name.as_ref(),
                producer.name.as_str(),
                producer.outputs[i.output].name.as_ref(),
            )
        })
        .collect();
    assert_eq!(wired, [("a", "sum", "total"), ("b", "sum2", "total")]);
    assert_eq!(add.upstream, [1, 3]);
    let consumers: Vec<Vec<usize>> = plan.steps.iter().map(|s| s.consumers.clone()).collect();
    assert_eq!(consumers, [vec![1], vec![4], vec![3], vec![4], vec![]]);
}

#[test]
fn a_dag_runs_then_reuses_every_step() {
    let repo = memory_repo();
    let first = repo.run(&dag("dag", 1.0, 0.5)).unwrap();
    assert_eq!(first.executed().len(), 5, "{first:?}");
    let out = &first.step("add").unwrap().outputs[0].1;
    let total: std::sync::Arc<f64> = repo.load_artifact(out).unwrap();
    assert_eq!(*total, 4950.0 + 90.0 + 0.5);

    let second = repo.run(&dag("dag", 1.0, 0.5)).unwrap();
    assert_eq!(second.cached().len(), 5, "{second:?}");
    assert!(second.executed().is_empty());
    // The reuse is recorded as executions of their own, in state CACHED.
    let steps = repo.get_run_steps(&second.run).unwrap();
    assert_eq!(steps.len(), 5);
    assert!(
        steps
            .iter()
            .all(|e| e.state == ExecutionState::Cached && e.cached_from.is_some())
    );
}

#[test]
fn a_changed_parameter_reruns_only_that_step_and_what_follows() {
    let repo = memory_repo();
    repo.run(&dag("base", 1.0, 0.5)).unwrap();
    let summary = repo.run(&dag("changed", 1.0, 1.5)).unwrap();
    assert_eq!(summary.executed(), vec!["add"]);
    assert_eq!(summary.cached().len(), 4);

    let summary = repo.run(&dag("changed upstream", 2.0, 0.5)).unwrap();
    let mut ran = summary.executed();
    ran.sort_unstable();
    assert_eq!(ran, vec!["add", "numbers", "sum"]);
}

#[test]
fn a_training_pipeline_runs_on_iris_and_a_copy_reuses_its_first_steps() {
    let repo = memory_repo();
    let a = iris_pipeline("Pipeline A", 0.0);
    let first = repo.run(&a).unwrap();
    assert_eq!(
        first.executed(),
        vec![
            "datasource",
            "split",
            "preprocesser",
            "trainer",
            "evaluator"
        ]
    );
    let eval = repo
        .get_run_steps(&first.run)
        .unwrap()
        .into_iter()
        .find(|e| e.step_name == "evaluator")
        .unwrap();
    let accuracy = eval
        .metrics
        .iter()
        .find(|(n, _)| n == "accuracy")
        .unwrap()
        .1;
    assert!(
        accuracy > 0.8,
        "nearest centroids on iris should do well, got {accuracy}"
    );

    let again = repo.run(&a).unwrap();
    assert_eq!(again.cached().len(), 5);

    let b = a.copy("Pipeline B").add_trainer(CentroidTrainer {
        shrink: 0.5,
        ..CentroidTrainer::default()
    });
    let summary = repo.run(&b).unwrap();
    assert_eq!(
        summary.cached(),
        vec!["datasource", "split", "preprocesser"]
    );
    assert_eq!(summary.executed(), vec!["trainer", "evaluator"]);

    let comparison = repo.compare_training_runs().unwrap();
    assert_eq!(comparison.rows.len(), 3);
    assert_eq!(comparison.param_names, vec!["label", "shrink"]);
    assert!(
        comparison
            .rows
            .iter()
            .all(|r| r.metric("accuracy").is_some())
    );
}

#[test]
fn a_pipeline_that_has_run_is_immutable() {
    let repo = memory_repo();
    repo.run(&dag("fixed", 1.0, 0.0)).unwrap();
    let err = repo.run(&dag("fixed", 1.0, 1.0)).unwrap_err();
    assert!(
        matches!(err, RepositoryError::Run(RunError::Immutable(ref n)) if n == "fixed"),
        "{err}"
    );
    assert!(err.to_string().contains("copy"), "{err}");
    // Its copy under a new name runs.
    repo.run(&dag("fixed", 1.0, 1.0).copy("fixed v2")).unwrap();
}

#[test]
fn a_recorded_config_in_other_words_is_the_same_pipeline() {
    let repo = memory_repo();
    let p = dag("worded", 1.0, 0.0);
    // The definition as another writer (or a person) might have recorded it: other key order,
    // flow style, a comment.
    let reworded = format!(
        "# written elsewhere\n{}",
        p.to_yaml()
            .replace("version: 1\nname: worded\n", "name: worded\nversion: 1\n")
    );
    assert_ne!(reworded, p.to_yaml());
    repo.metadata_store()
        .register_pipeline("worded", &reworded)
        .unwrap();
    let summary = repo.run(&p).unwrap();
    assert_eq!(summary.executed().len(), 5);
}

fn invalid(p: &Pipeline) -> PipelineError {
    let repo = memory_repo();
    match repo.run(p) {
        Err(RepositoryError::Run(RunError::Pipeline(e))) => {
            // Nothing ran, nothing was recorded.
            assert!(repo.get_pipelines().expect("list pipelines").is_empty());
            e
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn validation_names_the_steps_and_types() {
    let cycle = Pipeline::new("cycle")
        .add_step("a", Add::default(), [("a", "c.sum"), ("b", "n.total")])
        .add_step("b", Add::default(), [("a", "a.sum"), ("b", "n.total")])
        .add_step("c", Add::default(), [("a", "b.sum"), ("b", "n.total")])
        .add_step("numbers", Numbers::default(), [])
        .add_step("n", Sum {}, [("numbers", "numbers.numbers")]);
    let e = invalid(&cycle);
    let PipelineError::Cycle { cycle, .. } = &e else {
        panic!("{e}")
    };
    assert_eq!(cycle.len(), 4, "{e}");
    assert!(
        e.to_string().contains("a → b → c → a")
            || e.to_string().contains("b → c → a → b")
            || e.to_string().contains("c → a → b → c"),
        "{e}"
    );

    let missing = Pipeline::new("missing").add_step("sum", Sum {}, []);
    let e = invalid(&missing);
    assert!(
        matches!(&e, PipelineError::MissingInput { step, input, .. } if step == "sum" && input == "numbers"),
        "{e}"
    );
    assert!(e.to_string().contains("zenml.Table"), "{e}");

    let twice = Pipeline::new("twice")
        .add_step("numbers", Numbers::default(), [])
        .add_step(
            "sum",
            Sum {},
            [
                ("numbers", "numbers.numbers"),
                ("numbers", "numbers.numbers"),
            ],
        );
    assert!(matches!(invalid(&twice), PipelineError::DoublyWired { .. }));

    let mismatch = Pipeline::new("mismatch")
        .add_step("numbers", Numbers::default(), [])
        .add_step("sum", Sum {}, [("numbers", "numbers.numbers")])
        .add_step("sum2", Sum {}, [("numbers", "sum.total")]);
    let e = invalid(&mismatch);
    assert!(
        matches!(&e, PipelineError::TypeMismatch { step, .. } if step == "sum2"),
        "{e}"
    );
    assert!(
        e.to_string().contains("f64") && e.to_string().contains("zenml.Table"),
        "{e}"
    );

    let duplicate = Pipeline::new("duplicate")
        .add_step("numbers", Numbers::default(), [])
        .add_step("numbers", Numbers::default(), []);
    assert!(matches!(
        invalid(&duplicate),
        PipelineError::DuplicateStep { .. }
    ));

    let no_such =
        Pipeline::new("no such").add_step("sum", Sum {}, [("numbers", "nothing.numbers")]);
    let e = invalid(&no_such);
    assert!(
        matches!(&e, PipelineError::UnknownStep { missing, .. } if missing == "nothing"),
        "{e}"
    );

    let no_output = Pipeline::new("no output")
        .add_step("numbers", Numbers::default(), [])
        .add_step("sum", Sum {}, [("numbers", "numbers.rows")]);
    let e = invalid(&no_output);
    assert!(
        matches!(&e, PipelineError::UnknownOutput { output, .. } if output == "rows"),
        "{e}"
    );

    let slots = TrainingPipeline::new("slots")
        .add_datasource(zenml::steps::CsvDatasource::new(iris_path()))
        .add_trainer(CentroidTrainer::default());
    let e = invalid(&slots);
    assert!(
        matches!(&e, PipelineError::MissingSlot { slot: "split", .. }),
        "{e}"
    );
}

#[test]
fn adding_to_a_filled_slot_replaces_the_step() {
    let p = iris_pipeline("p", 0.0).add_trainer(CentroidTrainer {
        shrink: 0.25,
        ..CentroidTrainer::default()
    });
    assert_eq!(p.steps().len(), 5);
    let trainer = p.step("trainer").unwrap();
    assert_eq!(
        trainer.params().get("shrink"),
        Some(&zenml::param::Value::Float(0.25))
    );
}

fn failing(name: &str, fail: bool, panic: bool) -> Pipeline {
    Pipeline::new(name)
        .add_step("numbers", Numbers::default(), [])
        .add_step("sum", Sum {}, [("numbers", "numbers.numbers")])
        .add_step("check", MaybeFail { fail, panic }, [("x", "sum.total")])
        .add_step(
            "after",
            Add::default(),
            [("a", "check.y"), ("b", "sum.total")],
        )
}

#[test]
fn a_failing_step_is_recorded_failed_and_stops_the_run() {
    for (fail, panic) in [(true, false), (false, true)] {
        let repo = memory_repo();
        let err = repo.run(&failing("f", fail, panic)).unwrap_err();
        let RepositoryError::Run(RunError::Step {
            step,
            failure,
            summary,
            ..
        }) = err
        else {
            panic!("expected a step failure, got {err:?}");
        };
        assert_eq!(step, "check");
        match failure {
            StepFailure::Error(m) => assert!(fail && m.contains("told to fail"), "{m}"),
            StepFailure::Panic(m) => assert!(panic && m.contains("told to panic"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(summary.step("after").unwrap().status, StepStatus::Skipped);
        assert_eq!(summary.run.status, zenml::store::RunStatus::Failed);

        let executions = repo.get_run_steps(&summary.run).unwrap();
        let check = executions.iter().find(|e| e.step_name == "check").unwrap();
        assert_eq!(check.state, ExecutionState::Failed);
        assert!(check.outputs.is_empty(), "a failed step publishes nothing");
        assert!(check.error.as_deref().unwrap_or("").contains("told to"));
        assert!(executions.iter().all(|e| e.step_name != "after"));

        // Fixed, the step is recomputed; what succeeded before is reused.
        let fixed = repo.run(&failing("f fixed", false, false)).unwrap();
        assert_eq!(fixed.cached(), vec!["numbers", "sum"]);
        let mut ran = fixed.executed();
        ran.sort_unstable();
        assert_eq!(ran, vec!["after", "check"]);
    }
}

#[test]
fn independent_steps_run_concurrently() {
    // Each step waits at a barrier until the other arrives: run one after the other, the first
    // would wait in vain and fail.
    let repo = memory_repo();
    let meet = || Meet {
        label: "concurrent".into(),
        parties: 2,
    };
    let p = Pipeline::new("meeting")
        .add_step("left", meet(), [])
        .add_step("right", meet(), [])
        .add_step(
            "add",
            Add::default(),
            [("a", "left.out"), ("b", "right.out")],
        );
    let summary = repo.run_with(&p, quiet().with_max_parallel(2)).unwrap();
    let mut ran = summary.executed();
    ran.sort_unstable();
    assert_eq!(ran, ["add", "left", "right"]);
}

#[test]
fn the_parallelism_limit_holds() {
    let repo = memory_repo();
    let p = Pipeline::new("serial")
        .add_step(
            "left",
            Sleep {
                label: "serial-left".into(),
                ms: 150,
            },
            [],
        )
        .add_step(
            "right",
            Sleep {
                label: "serial-right".into(),
                ms: 150,
            },
            [],
        );
    repo.run_with(&p, quiet().with_max_parallel(1)).unwrap();
    let sleeps = SLEEPS.lock().unwrap();
    let find = |l: &str| sleeps.iter().find(|(n, ..)| n == l).cloned().unwrap();
    let (_, ls, le) = find("serial-left");
    let (_, rs, re) = find("serial-right");
    assert!(
        le <= rs || re <= ls,
        "with one slot the sleeps must not overlap"
    );
}

#[test]
fn caching_can_be_switched_off_per_run_pipeline_and_step() {
    let repo = memory_repo();
    repo.run(&dag("c", 1.0, 0.0)).unwrap();

    let per_run = repo
        .run_with(&dag("c", 1.0, 0.0), quiet().with_cache(false))
        .unwrap();
    assert_eq!(per_run.executed().len(), 5);

    let per_pipeline = repo
        .run(&dag("c", 1.0, 0.0).copy("c no cache").with_cache(false))
        .unwrap();
    assert_eq!(per_pipeline.executed().len(), 5);

    let per_step = repo
        .run(
            &dag("c", 1.0, 0.0)
                .copy("c one step")
                .step_cache("sum", false),
        )
        .unwrap();
    assert_eq!(per_step.executed(), vec!["sum"]);
    assert_eq!(per_step.cached().len(), 4);
}

#[test]
fn identical_outputs_are_stored_once() {
    let repo = memory_repo();
    let p = Pipeline::new("twins")
        .add_step("a", Numbers { n: 5, scale: 1.0 }, [])
        .add_step("b", Numbers { n: 5, scale: 1.0 }, [])
        .step_cache("b", false);
    let s = repo.run(&p).unwrap();
    let a = &s.step("a").unwrap().outputs[0].1;
    let b = &s.step("b").unwrap().outputs[0].1;
    assert_eq!(a.hash, b.hash);
    assert_eq!(a.uri, b.uri);
}

#[test]
fn configs_round_trip_with_identical_cache_keys() {
    let repo = memory_repo();
    let p = iris_pipeline("round trip", 0.3);
    let yaml = p.to_yaml();
    let rebuilt = Pipeline::from_yaml(&yaml).unwrap();
    assert_eq!(rebuilt.to_yaml(), yaml);
    let first = repo.run(&p).unwrap();
    // The rebuilt pipeline has the same definition, so it may run under the same name, and all
    // of its cache keys match.
    let second = repo.run(&rebuilt).unwrap();
    assert_eq!(second.cached().len(), 5);
    for s in &first.steps {
        assert_eq!(second.step(&s.name).unwrap().cache_key, s.cache_key);
    }
    // Reformatted by hand (flow style, other order): the same keys.
    let reformatted = yaml.replace("version: 1\n", "") + "version: 1\n";
    let again = Pipeline::from_yaml(&reformatted).unwrap();
    assert_eq!(again.to_yaml(), yaml);
}

#[test]
fn a_datasource_without_a_fingerprint_always_runs_and_early_cut_off_keeps_the_rest() {
    let repo = memory_repo();
    let p = TrainingPipeline::new("blind")
        .add_datasource(UnfingerprintedCsv { path: iris_path() })
        .add_split(zenml::steps::RandomSplit::default())
        .add_trainer(CentroidTrainer::default());
    let first = repo.run(&p).unwrap();
    assert_eq!(first.executed().len(), 3);
    let second = repo.run(&p).unwrap();
    assert_eq!(second.executed(), vec!["datasource"]);
    assert_eq!(second.cached(), vec!["split", "trainer"]);
}

/// Holds its run open until the test lets it go.
static RELEASE: std::sync::Mutex<Option<std::sync::mpsc::Receiver<()>>> =
    std::sync::Mutex::new(None);

/// Waits for the test's signal (a channel), then outputs 1.
#[step]
#[derive(Debug)]
pub struct Held {}

#[step]
impl Step for Held {
    fn inputs(&self) -> Vec<IoSpec> {
        Vec::new()
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<f64>("out")]
    }
    fn run(&self, _ctx: &mut StepContext, _inputs: &Inputs) -> StepResult<Outputs> {
        let rx = RELEASE.lock().ok().and_then(|mut r| r.take());
        if let Some(rx) = rx {
            rx.recv()?;
        }
        Ok(Outputs::new().with("out", 1.0))
    }
}

#[test]
fn a_running_step_keeps_its_run_s_heartbeat_going() {
    let (release, rx) = std::sync::mpsc::channel();
    *RELEASE.lock().unwrap() = Some(rx);
    let options = quiet().with_max_parallel(1);
    let options = zenml::runner::RunOptions {
        heartbeat_interval: std::time::Duration::from_millis(10),
        ..options
    };
    let repo = memory_repo().with_options(options);
    let md = repo.metadata_store().clone();
    let pipeline = Pipeline::new("held").add_step("held", Held {}, []);
    std::thread::scope(|scope| {
        let running = scope.spawn(|| repo.run(&pipeline));
        // Wait (bounded) until the run beats while its step is held.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let beat = loop {
            let runs = md.running_runs().unwrap();
            if let Some(r) = runs.first()
                && r.heartbeat_ms > r.run.started_ms
            {
                break r.heartbeat_ms - r.run.started_ms;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the run never beat: {runs:?}"
            );
            std::thread::yield_now();
        };
        assert!(beat > 0);
        release.send(()).unwrap();
        let summary = running.join().unwrap().unwrap();
        assert_eq!(summary.executed(), ["held"]);
    });
    assert!(
        md.running_runs().unwrap().is_empty(),
        "a finished run is not running"
    );
}

#[test]
fn a_failing_step_is_tried_again_as_its_resources_say() {
    let repo = memory_repo();
    let flaky = |label: &str, failures: u32| Flaky {
        label: label.into(),
        failures,
    };
    let retries = |n| Resources::default().with_retries(n, std::time::Duration::from_millis(1));
    let p = Pipeline::new("flaky")
        .add_step("flaky", flaky("twice", 2), [])
        .step_resources("flaky", retries(2));
    let summary = repo.run(&p).unwrap();
    assert_eq!(summary.executed(), ["flaky"]);
    assert_eq!(ATTEMPTS.lock().unwrap()["twice"], 3);
    let steps = repo.get_run_steps(&summary.run).unwrap();
    assert_eq!(steps.len(), 1, "one execution, however many attempts");
    assert_eq!(steps[0].state, ExecutionState::Complete);

    let p = Pipeline::new("too flaky")
        .add_step("flaky", flaky("thrice", 3), [])
        .step_resources("flaky", retries(1));
    let err = repo.run(&p).unwrap_err();
    assert!(err.to_string().contains("attempt 2 of `thrice`"), "{err}");
    assert_eq!(ATTEMPTS.lock().unwrap()["thrice"], 2);
}

#[test]
fn a_step_past_its_time_limit_fails() {
    let (unstick, rx) = std::sync::mpsc::channel();
    *UNSTICK.lock().unwrap() = Some(rx);
    let repo = memory_repo();
    let p = Pipeline::new("stuck")
        .add_step("stuck", Stuck {}, [])
        .step_resources(
            "stuck",
            Resources::default().with_time_limit(std::time::Duration::from_secs(1)),
        );
    let err = repo.run(&p).unwrap_err();
    let _ = unstick.send(());
    let RepositoryError::Run(RunError::Step {
        failure, summary, ..
    }) = err
    else {
        panic!("{err}")
    };
    assert!(matches!(failure, StepFailure::TimedOut(_)), "{failure}");
    assert!(
        failure.to_string().contains("time limit of 1.00 s"),
        "{failure}"
    );
    let steps = repo.get_run_steps(&summary.run).unwrap();
    assert_eq!(steps[0].state, ExecutionState::Failed);
}

#[test]
fn resources_are_in_the_config_but_not_in_cache_keys_nor_the_pipeline_s_identity() {
    let repo = memory_repo();
    let first = repo.run(&dag("resources", 1.0, 0.0)).unwrap();
    let resources = Resources::default()
        .with_cpus(2)
        .with_memory_mb(512)
        .with_time_limit(std::time::Duration::from_secs(600))
        .with_retries(1, std::time::Duration::from_secs(5));
    let asking = dag("resources", 1.0, 0.0).step_resources("add", resources.clone());
    let yaml = asking.to_yaml();
    assert!(
        yaml.contains(
            "  add:\n    source: runner::common::Add@1\n    args:\n      offset: 0.0\n    inputs:\n      \
             a: sum.total\n      b: sum2.total\n    resources:\n      cpus: 2\n      memory_mb: 512\n      \
             time_limit_s: 600\n      retries: 1\n      backoff_ms: 5000\n"
        ),
        "{yaml}"
    );
    let rebuilt = Pipeline::from_yaml(&yaml).unwrap();
    assert_eq!(rebuilt.step("add").unwrap().resources(), &resources);
    assert_eq!(rebuilt.to_yaml(), yaml);

    // The same pipeline asking for other resources: not another definition, and fully cached.
    let second = repo.run(&asking).unwrap();
    assert_eq!(second.cached().len(), 5);
    let keys =
        |s: &zenml::runner::RunSummary| -> Vec<_> { s.steps.iter().map(|x| x.cache_key).collect() };
    assert_eq!(keys(&first), keys(&second));
}
