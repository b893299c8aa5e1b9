//! The Slurm orchestrator on a real cluster: every step that is not cached is a job running the
//! quickstart binary's `step exec`.
//!
//! Runs only when `ZENML_TEST_SLURM_PARTITION` names a partition of a Slurm cluster whose nodes
//! share this machine's file system (`.ci/run` starts a one-node cluster and sets it); skips with
//! the reason otherwise, and fails instead when `CI` is set.

mod common;
#[path = "common/disk.rs"]
mod disk;
#[path = "common/process.rs"]
mod process;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use disk::*;
use process::*;
use serde_json::Value as Json;
use zenml_core::store::conformance::skip;

/// The partition to submit to, or `None` after skipping `test`.
fn partition(test: &str) -> Option<String> {
    match std::env::var("ZENML_TEST_SLURM_PARTITION") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            skip(
                test,
                "set ZENML_TEST_SLURM_PARTITION to a partition of a Slurm cluster that shares \
                 this file system (`.ci/run` starts a one-node cluster)",
            );
            None
        }
    }
}

/// `pipeline run CONFIG --orchestrator slurm --partition P` with `extra` arguments.
fn slurm_run(dir: &Path, config: &str, partition: &str, extra: &[&str]) -> Out {
    let mut args = vec![
        "pipeline",
        "run",
        config,
        "--orchestrator",
        "slurm",
        "--partition",
        partition,
    ];
    args.extend_from_slice(extra);
    zenml(dir, &args)
}

/// The steps and job ids of the `<step> submitted (job N)` lines of a run's progress.
fn submitted(stderr: &str) -> Vec<(String, u64)> {
    stderr
        .lines()
        .filter_map(|l| {
            let (step, job) = l.split_once(" submitted (job ")?;
            Some((step.trim().to_owned(), job.strip_suffix(')')?.parse().ok()?))
        })
        .collect()
}

/// The job ids of the `submitted (job N)` lines of a run's progress.
fn submitted_jobs(stderr: &str) -> Vec<u64> {
    submitted(stderr).into_iter().map(|(_, job)| job).collect()
}

/// `run show RUN --json`.
fn show(dir: &Path, run: &str) -> Json {
    let out = zenml(dir, &["run", "show", run, "--json"]).ok();
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out:#?}"))
}

/// `run show RUN --json` once the run is no longer running (Slurm runs the jobs meanwhile).
fn until_ended(dir: &Path, run: &str) -> Json {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let json = show(dir, run);
        if json["run"]["status"] != "running" {
            return json;
        }
        assert!(Instant::now() < deadline, "still running: {json:#}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Each step's state in `run show --json`, by step name.
fn states(json: &Json) -> Vec<(String, String)> {
    let mut states: Vec<(String, String)> = json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap_or_default().to_owned(),
                s["state"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    states.sort();
    states
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    v.sort();
    v
}

#[test]
fn the_quickstart_runs_a_job_per_step_and_a_second_submission_is_fully_cached() {
    let test = "the_quickstart_runs_a_job_per_step_and_a_second_submission_is_fully_cached";
    let Some(partition) = partition(test) else {
        return;
    };
    let dir = workspace();
    zenml(dir.path(), &["init"]).ok();
    std::fs::write(dir.path().join("iris.yaml"), iris_config("On Slurm", 0.5)).unwrap();

    let first = slurm_run(dir.path(), "iris.yaml", &partition, &[]).ok();
    let jobs = submitted_jobs(&first.stderr);
    assert_eq!(
        jobs.iter().collect::<BTreeSet<_>>().len(),
        5,
        "a job of its own for each step: {first:#?}"
    );
    let json = show(dir.path(), "On Slurm#1");
    assert_eq!(json["run"]["status"], "completed", "{json:#}");
    assert_eq!(
        states(&json),
        pairs(&[
            ("datasource", "complete"),
            ("split", "complete"),
            ("preprocesser", "complete"),
            ("trainer", "complete"),
            ("evaluator", "complete"),
        ])
    );
    // Each job's log is kept with the repository.
    let run_id = json["run"]["id"].as_i64().unwrap();
    let logs = std::fs::read_dir(dir.path().join(format!(".zenml/slurm/{run_id}")))
        .unwrap()
        .count();
    assert_eq!(logs, 5);

    // Again: everything is cached, and no job is submitted.
    let second = slurm_run(dir.path(), "iris.yaml", &partition, &["--json"]).ok();
    assert_eq!(step_states(&second), ["cached"; 5]);
    let second = slurm_run(dir.path(), "iris.yaml", &partition, &[]).ok();
    assert!(submitted_jobs(&second.stderr).is_empty(), "{second:#?}");

    // Google's ML Metadata reads the run's executions, every one COMPLETE.
    match mlmd_reader() {
        Err(why) => skip(test, &why),
        Ok(reader) => {
            let db = dir.path().join(".zenml").join("metadata.db");
            let read = mlmd_read(&reader, &db);
            let run = read["contexts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == "On Slurm#1")
                .unwrap_or_else(|| panic!("no run context: {read:#}"));
            let ids: BTreeSet<i64> = run["execution_ids"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Json::as_i64)
                .collect();
            assert_eq!(ids.len(), 5);
            for x in read["executions"].as_array().unwrap() {
                if ids.contains(&x["id"].as_i64().unwrap()) {
                    assert_eq!(x["state"], "COMPLETE", "{x:#}");
                }
            }
        }
    }
}

/// A DAG with a fan-out (`split` feeds two inputs) and a fan-in (`scale` reads `split` and
/// `extra`), where `extra` reads a file that is not there at first.
fn fan() -> String {
    built_in_config(
        "fan",
        "  extra:
    source: zenml_core::steps::CsvDatasource@1
    args: { path: late.csv }
  scale:
    source: zenml_core::steps::StandardScaler@1
    args: { exclude: species }
    inputs: { train: split.train, eval: extra.data }
  trainer:
    source: quickstart::LogisticTrainer@1
    args: { max_iterations: 20 }
    inputs: { train: scale.train, eval: scale.eval }
    resources: { cpus: 1, time_limit_s: 120 }
",
    )
}

#[test]
fn a_failed_job_fails_its_step_skips_its_dependents_and_a_rerun_recomputes_from_there() {
    let test = "a_failed_job_fails_its_step_skips_its_dependents_and_a_rerun_recomputes_from_there";
    let Some(partition) = partition(test) else {
        return;
    };
    let dir = workspace();
    zenml(dir.path(), &["init"]).ok();
    std::fs::write(dir.path().join("fan.yaml"), fan()).unwrap();

    let failed = slurm_run(dir.path(), "fan.yaml", &partition, &[]);
    let error = failed.stderr.lines().last().unwrap_or_default();
    assert_eq!(failed.code, Some(1), "{failed:#?}");
    assert!(
        error.contains("step `extra` failed") && error.contains("late.csv"),
        "{failed:#?}"
    );
    let json = show(dir.path(), "fan#1");
    assert_eq!(json["run"]["status"], "failed", "{json:#}");
    // The dependents were cancelled by Slurm and never ran: no execution of theirs.
    assert_eq!(
        states(&json),
        pairs(&[
            ("extra", "failed"),
            ("load", "complete"),
            ("split", "complete")
        ])
    );

    // Fixed, a rerun reuses what completed and recomputes from the failed step on.
    copy_iris(&dir.path().join("late.csv"));
    let rerun = slurm_run(dir.path(), "fan.yaml", &partition, &[]).ok();
    let jobs = submitted(&rerun.stderr);
    assert_eq!(jobs.len(), 3, "{rerun:#?}");
    // The trainer's resources reached Slurm. (Memory is left out: the one-node test cluster
    // declares none to give.)
    let trainer = jobs.iter().find(|(step, _)| step == "trainer").unwrap().1;
    let job = Command::new("scontrol")
        .args(["-o", "show", "job", &trainer.to_string()])
        .output()
        .unwrap();
    let job = String::from_utf8_lossy(&job.stdout);
    for field in ["NumCPUs=1 ", "TimeLimit=00:02:00 ", "Requeue=1 "] {
        assert!(job.contains(field), "{field} in {job}");
    }
    let json = show(dir.path(), "fan#2");
    assert_eq!(json["run"]["status"], "completed", "{json:#}");
    assert_eq!(
        states(&json),
        pairs(&[
            ("extra", "complete"),
            ("load", "cached"),
            ("scale", "complete"),
            ("split", "cached"),
            ("trainer", "complete"),
        ])
    );
}

#[test]
fn killing_the_submitting_process_loses_nothing() {
    let test = "killing_the_submitting_process_loses_nothing";
    let Some(partition) = partition(test) else {
        return;
    };
    let dir = workspace();
    zenml(dir.path(), &["init"]).ok();
    std::fs::write(dir.path().join("iris.yaml"), iris_config("Killed", 0.5)).unwrap();

    let mut child = Command::new(quickstart())
        .args([
            "zenml",
            "pipeline",
            "run",
            "iris.yaml",
            "--orchestrator",
            "slurm",
        ])
        .args(["--partition", &partition])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until every step is submitted, then kill the process that follows the jobs.
    let stderr = child.stderr.take().unwrap();
    let mut submitted = 0;
    for line in BufReader::new(stderr).lines() {
        if line.unwrap().contains("submitted (job ") {
            submitted += 1;
            if submitted == 5 {
                break;
            }
        }
    }
    assert_eq!(submitted, 5);
    child.kill().unwrap();
    child.wait().unwrap();

    // The jobs finish on their own; `run show` finds out and reports the run's true state.
    let json = until_ended(dir.path(), "Killed#1");
    assert_eq!(json["run"]["status"], "completed", "{json:#}");
    assert!(
        states(&json).iter().all(|(_, state)| state == "complete"),
        "{json:#}"
    );
    // A process of this framework that starts later does not take the run for interrupted.
    assert!(
        !zenml(dir.path(), &["run", "list"])
            .ok()
            .stdout
            .contains("interrupted")
    );
}

#[test]
fn a_detached_submission_returns_at_once_and_run_show_follows_it() {
    let test = "a_detached_submission_returns_at_once_and_run_show_follows_it";
    let Some(partition) = partition(test) else {
        return;
    };
    let dir = workspace();
    zenml(dir.path(), &["init"]).ok();
    std::fs::write(dir.path().join("iris.yaml"), iris_config("Detached", 0.5)).unwrap();
    let detached = slurm_run(dir.path(), "iris.yaml", &partition, &["--detach", "--json"]).ok();
    let json: Json = serde_json::from_str(&detached.stdout).unwrap();
    assert_eq!(json["run"]["status"], "running", "{json:#}");
    assert_eq!(step_states(&detached), ["submitted"; 5]);
    let json = until_ended(dir.path(), "Detached#1");
    assert_eq!(json["run"]["status"], "completed", "{json:#}");
    assert_eq!(states(&json).len(), 5);
}
