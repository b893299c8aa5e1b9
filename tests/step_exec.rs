//! The per-step entrypoint: one step of a recorded run, executed from the stores, in this
//! process (`Repository::exec_step`) and as `<binary> zenml step exec --run RUN --step NAME`.

mod common;
#[path = "common/disk.rs"]
mod disk;
#[path = "common/process.rs"]
mod process;

use common::*;
use disk::*;
use process::*;
use zenml::prelude::*;
use zenml::repository::RepositoryError;
use zenml::runner::{RunError, StepStatus};
use zenml::store::{ExecutionState, RunStatus};

fn dag(name: &str) -> Pipeline {
    Pipeline::new(name)
        .add_step("numbers", Numbers { n: 10, scale: 1.0 }, [])
        .add_step("sum", Sum {}, [("numbers", "numbers.numbers")])
        .add_step("squares", Numbers { n: 4, scale: 2.0 }, [])
        .add_step("sum2", Sum {}, [("numbers", "squares.numbers")])
        .add_step(
            "add",
            Add { offset: 0.0 },
            [("a", "sum.total"), ("b", "sum2.total")],
        )
}

#[test]
fn a_recorded_run_executes_step_by_step_from_the_stores() {
    let repo = memory_repo();
    let run = repo.runner().record_run(&dag("by steps")).unwrap();
    assert_eq!(run.status, RunStatus::Running);
    let md = repo.metadata_store();

    // A step whose producers have not completed fails, naming them, and records nothing.
    let err = repo.exec_step(&run.name, "add").unwrap_err();
    assert!(
        matches!(&err, RepositoryError::Run(RunError::NotReady { waiting, .. }) if waiting == &["sum", "sum2"]),
        "{err}"
    );
    assert!(
        err.to_string().contains("`sum`, `sum2` have not completed"),
        "{err}"
    );
    assert!(md.executions(run.id).unwrap().is_empty());
    let err = repo.exec_step(&run.name, "nope").unwrap_err();
    assert!(err.to_string().contains("has no step `nope`"), "{err}");
    let err = repo.exec_step("no such run#1", "add").unwrap_err();
    assert!(err.to_string().contains("no run `no such run#1`"), "{err}");

    // Each step in turn, its inputs read from the stores.
    let first = repo.exec_step(&run.name, "numbers").unwrap();
    assert_eq!(first.status, StepStatus::Completed);
    // Again: nothing executes and nothing is recorded; it says which execution completed it.
    let again = repo.exec_step(&run.name, "numbers").unwrap();
    assert_eq!(again.status, StepStatus::Cached);
    assert_eq!(again.execution_id, first.execution_id);
    assert_eq!(again.outputs, first.outputs);
    assert_eq!(md.executions(run.id).unwrap().len(), 1);

    for step in ["sum", "squares", "sum2", "add"] {
        let s = repo.exec_step(&run.name, step).unwrap();
        assert_eq!(s.status, StepStatus::Completed, "{step}");
    }
    let add = md
        .executions(run.id)
        .unwrap()
        .into_iter()
        .find(|e| e.step_name == "add")
        .unwrap();
    let total: std::sync::Arc<f64> = repo
        .load_artifact(&md.artifact(add.outputs[0].1).unwrap())
        .unwrap();
    assert_eq!(*total, 45.0 + 12.0);

    // Every step ended: settling finishes the run.
    let settled = repo.settle(&run).unwrap();
    assert_eq!(settled.status, RunStatus::Completed);

    // A run of the same pipeline recorded afterwards reuses everything, step by step.
    let second = repo.runner().record_run(&dag("by steps")).unwrap();
    for step in ["numbers", "sum", "squares", "sum2", "add"] {
        let s = repo.exec_step(&second.name, step).unwrap();
        assert_eq!(s.status, StepStatus::Cached, "{step}");
        assert_ne!(
            s.execution_id, s.cached_from,
            "a CACHED execution of its own"
        );
    }
    assert!(
        md.executions(second.id)
            .unwrap()
            .iter()
            .all(|e| e.state == ExecutionState::Cached)
    );
}

#[test]
fn a_failing_step_is_recorded_failed_and_its_run_settles_failed() {
    let repo = memory_repo();
    let p = Pipeline::new("fails by steps")
        .add_step("numbers", Numbers { n: 3, scale: 1.0 }, [])
        .add_step("sum", Sum {}, [("numbers", "numbers.numbers")])
        .add_step(
            "check",
            MaybeFail {
                fail: true,
                panic: false,
            },
            [("x", "sum.total")],
        )
        .add_step(
            "after",
            MaybeFail {
                fail: false,
                panic: false,
            },
            [("x", "check.y")],
        );
    let run = repo.runner().record_run(&p).unwrap();
    for step in ["numbers", "sum"] {
        repo.exec_step(&run.name, step).unwrap();
    }
    // Not every step ended yet: the run stays running.
    assert_eq!(repo.settle(&run).unwrap().status, RunStatus::Running);
    let err = repo.exec_step(&run.name, "check").unwrap_err();
    assert!(err.to_string().contains("told to fail"), "{err}");
    let executions = repo.metadata_store().executions(run.id).unwrap();
    let check = executions.iter().find(|e| e.step_name == "check").unwrap();
    assert_eq!(check.state, ExecutionState::Failed);
    // `after` cannot run: the run has ended, failed.
    assert!(repo.exec_step(&run.name, "after").is_err());
    assert_eq!(repo.settle(&run).unwrap().status, RunStatus::Failed);
}

/// `load`, `split`, and `scale` reading both of `split`'s outputs.
fn built_in() -> String {
    built_in_config(
        "built-in steps",
        "  scale:
    source: zenml_core::steps::StandardScaler@1
    args: { exclude: species }
    inputs: { train: split.train, eval: split.eval }
",
    )
}

#[test]
fn step_exec_runs_a_step_in_a_process_of_its_own() {
    let dir = workspace();
    zenml(dir.path(), &["init"]).ok();
    let repo = quiet_repo(Repository::open(dir.path()).unwrap());
    std::fs::write(dir.path().join("built-in.yaml"), built_in()).unwrap();
    // `pipeline record` records the run and prints its name.
    let recorded = zenml(dir.path(), &["pipeline", "record", "built-in.yaml"]).ok();
    assert_eq!(recorded.stdout, "built-in steps#1\n");
    let run = repo.get_run("built-in steps#1").unwrap();
    assert_eq!(run.status, RunStatus::Running);
    let exec = |step: &str| {
        zenml(
            dir.path(),
            &["step", "exec", "--run", &run.name, "--step", step],
        )
    };

    let early = exec("scale");
    let error = early.one_error();
    assert!(
        error.contains("step `scale`") && error.contains("`split` has not completed"),
        "{error}"
    );
    assert!(repo.metadata_store().executions(run.id).unwrap().is_empty());

    let load = exec("load").ok();
    assert!(load.stdout.contains("completed (execution"), "{load:#?}");
    // The step's progress goes to standard error, as a job's log shows it.
    assert!(load.stderr.contains("load"), "{load:#?}");
    let again = exec("load").ok();
    assert!(again.stdout.contains("already completed"), "{again:#?}");
    exec("split").ok();
    exec("scale").ok();
    let executions = repo.metadata_store().executions(run.id).unwrap();
    assert_eq!(executions.len(), 3);
    assert!(
        executions
            .iter()
            .all(|e| e.state == ExecutionState::Complete)
    );
    // `run show` settles the run: every step ended.
    let show = zenml(dir.path(), &["run", "show", &run.name, "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&show.stdout).unwrap();
    assert_eq!(json["run"]["status"], "completed", "{json:#}");
}
