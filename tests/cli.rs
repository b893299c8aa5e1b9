//! The command line end to end, as processes: exit codes, stdout and stderr.
//!
//! The quickstart example's binary serves the whole CLI (`quickstart zenml <args>`) with the
//! example's steps linked in; the generic `zenml` binary links only zenml's own steps. `cargo test`
//! builds the examples before the tests, next to the test binaries (when only this test is
//! selected, `cargo test --test cli`, build them first: `cargo build --examples`).
#![cfg(feature = "cli")]

mod common;
#[cfg(feature = "mysql")]
#[path = "common/mysql.rs"]
mod mysql;
#[path = "common/process.rs"]
mod process;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;

use process::{iris_config, quickstart, workspace};

use serde_json::Value as J;
use zenml::Repository;
use zenml::cli::json;
use zenml::store::{PipelineRecord, RunRecord};

/// What a command did.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    #[track_caller]
    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "the command failed: {self:#?}");
        self
    }

    #[track_caller]
    fn json(&self) -> J {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// Asserts exit code 1 and exactly one `error:` line on stderr, and returns that line.
    #[track_caller]
    fn one_error(&self) -> &str {
        assert_eq!(self.code, 1, "{self:#?}");
        assert_eq!(self.stdout, "", "{self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one error line: {self:#?}");
        assert!(lines[0].starts_with("error: "), "{self:#?}");
        lines[0]
    }
}

/// `program <prefix> <args>` in `dir`, with `env` added to the environment.
fn run_in(program: &Path, prefix: &[&str], dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(program);
    cmd.args(prefix).args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the binary starts");
    Out {
        code: out.status.code().expect("the binary exits with a code"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

/// `quickstart zenml <args>` in `dir`.
fn zenml(dir: &Path, args: &[&str]) -> Out {
    run_in(&quickstart(), &["zenml"], dir, args, &[])
}

/// `quickstart zenml <args>` in `dir`, with `env` added to the environment.
fn zenml_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    run_in(&quickstart(), &["zenml"], dir, args, env)
}

/// The generic `zenml` binary in `dir`.
fn generic_zenml(dir: &Path, args: &[&str]) -> Out {
    run_in(Path::new(env!("CARGO_BIN_EXE_zenml")), &[], dir, args, &[])
}

/// Asserts that `value` has exactly the shape of the documented type `T` (`zenml::cli::json`):
/// read as a `T` and written back, it is unchanged, so no field is missing, extra or of another
/// type.
#[track_caller]
fn documented<T: serde::Serialize + serde::de::DeserializeOwned>(value: &J) -> T {
    let typed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("not a {}: {e}\n{value:#}", std::any::type_name::<T>()));
    assert_eq!(
        &serde_json::to_value(&typed).expect("a documented value serializes"),
        value
    );
    typed
}

/// The keys of a JSON object, sorted.
fn keys(value: &J) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// A workspace with a repository.
fn initialized() -> tempfile::TempDir {
    let dir = workspace();
    let out = zenml(dir.path(), &["init"]).ok();
    let root = std::fs::canonicalize(dir.path()).expect("canonical path");
    assert_eq!(
        out.stdout.lines().next(),
        Some(
            format!(
                "Initialized a zenml repository in {}",
                root.join(".zenml").display()
            )
            .as_str()
        ),
        "{out:#?}"
    );
    dir
}

/// A hand-written training config with the built-in steps and the quickstart's.
static IRIS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "# A training pipeline written by hand: zenml's built-in steps and the quickstart's own.\n{}",
        iris_config("Iris by hand", 0.5)
    )
});

const STEPS: [&str; 5] = [
    "datasource",
    "split",
    "preprocesser",
    "trainer",
    "evaluator",
];

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("file written");
}

/// The steps of a `pipeline run --json` or `run show --json` output, by name.
fn steps_of(json: &J) -> Vec<(String, J)> {
    json["steps"]
        .as_array()
        .expect("a steps array")
        .iter()
        .map(|s| {
            (
                s["step"].as_str().expect("a step name").to_owned(),
                s.clone(),
            )
        })
        .collect()
}

fn field<'a>(steps: &'a [(String, J)], step: &str, key: &str) -> &'a J {
    &steps
        .iter()
        .find(|(n, _)| n == step)
        .unwrap_or_else(|| panic!("no step {step} in {steps:?}"))
        .1[key]
}

#[test]
fn a_hand_written_config_runs_then_is_fully_cached_and_every_command_reports_it() {
    let ws = initialized();
    let dir = ws.path();
    write(dir, "iris.yaml", &IRIS);

    // First run: everything executes.
    let first = zenml(dir, &["pipeline", "run", "iris.yaml", "--json"]).ok();
    let json = first.json();
    documented::<json::RunResult>(&json);
    assert_eq!(
        keys(&json["steps"][0]),
        ["cached_from", "elapsed_ms", "execution_id", "state", "step"]
    );
    assert_eq!(json["run"]["name"], "Iris by hand#1");
    assert_eq!(json["run"]["status"], "completed");
    let first_steps = steps_of(&json);
    assert_eq!(
        first_steps
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        STEPS
    );
    for (name, s) in &first_steps {
        assert_eq!(s["state"], "complete", "{name}: {s}");
        assert!(s["cached_from"].is_null(), "{name}: {s}");
    }

    // Second run: fully cached, each step reusing the first run's execution.
    let second = zenml(dir, &["pipeline", "run", "iris.yaml", "--json"]).ok();
    let json = second.json();
    assert_eq!(json["run"]["name"], "Iris by hand#2");
    assert_eq!(json["run"]["status"], "completed");
    let second_steps = steps_of(&json);
    for step in STEPS {
        assert_eq!(field(&second_steps, step, "state"), "cached", "{step}");
        assert_eq!(
            field(&second_steps, step, "cached_from"),
            field(&first_steps, step, "execution_id"),
            "{step}"
        );
    }

    // `run show --json` agrees, with parameters (defaults filled in) and metrics.
    let show = zenml(dir, &["run", "show", "Iris by hand#2", "--json"])
        .ok()
        .json();
    documented::<json::RunShow>(&show);
    assert_eq!(
        keys(&show["steps"][0]),
        [
            "cache_key",
            "cached_from",
            "code_fingerprint",
            "duration_ms",
            "error",
            "id",
            "inputs",
            "kind",
            "metrics",
            "outputs",
            "params",
            "run_id",
            "source",
            "state",
            "step",
            "version"
        ]
    );
    assert_eq!(show["run"]["pipeline"], "Iris by hand");
    let shown = steps_of(&show);
    for step in STEPS {
        assert_eq!(field(&shown, step, "state"), "cached", "{step}");
        assert!(field(&shown, step, "cached_from").is_i64(), "{step}");
    }
    assert_eq!(
        field(&shown, "trainer", "params"),
        &serde_json::json!({"alpha": 0.5, "label": "species", "max_iterations": 50})
    );
    assert_eq!(
        field(&shown, "trainer", "source"),
        "quickstart::LogisticTrainer"
    );
    assert_eq!(field(&shown, "trainer", "kind"), "trainer");
    let reused_accuracy = field(&shown, "evaluator", "metrics")["accuracy"].clone();
    let first_show = zenml(dir, &["run", "show", "Iris by hand#1", "--json"])
        .ok()
        .json();
    let first_shown = steps_of(&first_show);
    let accuracy = field(&first_shown, "evaluator", "metrics")["accuracy"]
        .as_f64()
        .expect("an accuracy");
    assert!((0.8..=1.0).contains(&accuracy), "{accuracy}");
    // The cached run shows the metrics of the execution it reused, as `compare` does.
    assert_eq!(reused_accuracy, accuracy);
    assert!(field(&first_shown, "trainer", "duration_ms").as_i64() >= Some(0));
    // A run can be named by its id too.
    let id = first_show["run"]["id"]
        .as_i64()
        .expect("a run id")
        .to_string();
    assert_eq!(
        zenml(dir, &["run", "show", &id, "--json"]).ok().json(),
        first_show
    );

    // The table for people.
    let text = zenml(dir, &["run", "show", "Iris by hand#2"]).ok().stdout;
    assert!(
        text.starts_with("run Iris by hand#2 (id ")
            && text.contains("of pipeline `Iris by hand`: completed"),
        "{text}"
    );
    for step in STEPS {
        let line = text
            .lines()
            .find(|l| l.starts_with(step))
            .unwrap_or_else(|| panic!("no line for {step} in\n{text}"));
        assert!(line.contains("cached (from "), "{line}");
    }
    assert!(
        text.contains("alpha=0.5 label=\"species\" max_iterations=50"),
        "{text}"
    );

    // Pipelines and runs.
    let list = zenml(dir, &["pipeline", "list"]).ok().stdout;
    let row = list
        .lines()
        .find(|l| l.starts_with("Iris by hand"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        row.contains("  2  ") && row.contains("Iris by hand#2") && row.contains("completed"),
        "{row}"
    );
    let list = zenml(dir, &["pipeline", "list", "--json"]).ok().json();
    documented::<Vec<json::Pipeline>>(&list);
    assert_eq!(keys(&list[0]), ["created_ms", "last_run", "name", "runs"]);
    assert_eq!(list[0]["name"], "Iris by hand");
    assert_eq!(list[0]["runs"], 2);
    assert_eq!(list[0]["last_run"]["name"], "Iris by hand#2");

    let runs = zenml(dir, &["run", "list", "--json"]).ok().json();
    let typed = documented::<Vec<json::Run>>(&runs);
    assert_eq!(typed[0].status, "completed");
    assert_eq!(
        keys(&runs[0]),
        [
            "finished_ms",
            "id",
            "name",
            "pipeline",
            "started_ms",
            "status"
        ]
    );
    let names: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Iris by hand#1", "Iris by hand#2"]);
    let runs = zenml(dir, &["run", "list", "--pipeline", "Iris by hand"])
        .ok()
        .stdout;
    assert!(
        runs.lines().next().unwrap().starts_with("id  run"),
        "{runs}"
    );
    assert_eq!(runs.lines().count(), 3, "{runs}");
    let e = zenml(dir, &["run", "list", "--pipeline", "Nope"]);
    assert_eq!(e.one_error(), "error: no pipeline `Nope` in the repository");
    let e = zenml(dir, &["run", "show", "Nope#1"]);
    assert_eq!(e.one_error(), "error: no run `Nope#1` in the repository");

    // The recorded definition: complete (defaults written out), equal to what the runs recorded.
    let got = zenml(dir, &["pipeline", "get", "Iris by hand"]).ok().stdout;
    let repo = Repository::open(dir).unwrap();
    assert_eq!(got, repo.get_run("Iris by hand#1").unwrap().config);
    assert_eq!(got, repo.get_run("Iris by hand#2").unwrap().config);
    for line in [
        "template: training",
        "      seed: 42",
        "      train_ratio: 0.7",
        "      label: species",
        "      max_iterations: 50",
        "    source: quickstart::LogisticTrainer@1",
        "      train: preprocesser.train",
    ] {
        assert!(
            got.lines().any(|l| l == line),
            "`{line}` missing from\n{got}"
        );
    }
    let e = zenml(dir, &["pipeline", "get", "Nope"]);
    assert_eq!(e.one_error(), "error: no pipeline `Nope` is recorded");

    // The steps this binary links: the quickstart's, with docs and defaults, and the built-ins.
    let steps = zenml(dir, &["step", "list"]).ok().stdout;
    for line in [
        "quickstart::LogisticTrainer@1  (trainer)  Multinomial logistic regression (linfa), on every numeric column but the label.",
        "    alpha: f64 = 1.0  L2 regularisation strength.",
        "    max_iterations: u32 = 100  The optimiser's iteration budget.",
        "quickstart::ClassificationMetrics@1  (evaluator)  Accuracy and macro-averaged F1 on the eval split.",
        "    path: String (required)  The file, relative to the working directory or absolute.",
    ] {
        assert!(
            steps.lines().any(|l| l == line),
            "`{line}` missing from\n{steps}"
        );
    }
    let steps = zenml(dir, &["step", "list", "--json"]).ok().json();
    documented::<Vec<json::StepType>>(&steps);
    let trainer = steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "quickstart::LogisticTrainer")
        .expect("the quickstart's trainer is listed");
    assert_eq!(trainer["version"], 1);
    assert_eq!(trainer["kind"], "trainer");
    assert_eq!(trainer["params"][1]["name"], "alpha");
    assert_eq!(trainer["params"][1]["default"], 1.0);
    assert_eq!(trainer["params"][1]["required"], false);

    // Step versions: one version, one code fingerprint, an execution per run.
    let versions = zenml(
        dir,
        &["step", "versions", "quickstart::LogisticTrainer", "--json"],
    )
    .ok()
    .json();
    documented::<Vec<json::StepVersion>>(&versions);
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");
    assert_eq!(versions[0]["version"], 1);
    assert_eq!(versions[0]["executions"], 2);
    assert_eq!(
        versions[0]["code_fingerprints"].as_array().unwrap().len(),
        1
    );
    let text = zenml(dir, &["step", "versions", "quickstart::LogisticTrainer"])
        .ok()
        .stdout;
    assert!(
        text.lines().nth(1).unwrap().starts_with("1        2  "),
        "{text}"
    );
    // The form configs use, `SOURCE@VERSION`, shows that version.
    let at_one = zenml(
        dir,
        &[
            "step",
            "versions",
            "quickstart::LogisticTrainer@1",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(at_one, versions);
    let text = zenml(dir, &["step", "versions", "quickstart::LogisticTrainer@2"])
        .ok()
        .stdout;
    assert_eq!(
        text,
        "Step `quickstart::LogisticTrainer` has not run at version 2 in this repository.\n"
    );
    // A step that is neither recorded nor linked is an error, with a suggestion.
    let e = zenml(dir, &["step", "versions", "quickstart::LogisticTrainr"]);
    assert!(
        e.one_error().starts_with(
            "error: no step `quickstart::LogisticTrainr` is registered in this binary"
        ) && e.stderr.contains("`quickstart::LogisticTrainer`"),
        "{e:#?}"
    );
    let e = zenml(dir, &["step", "versions", "quickstart::LogisticTrainer@x"]);
    assert!(e.one_error().contains("is not a step source"), "{e:#?}");
    // zenml's own steps go by their public path.
    let text = zenml(dir, &["step", "versions", "zenml::steps::CsvDatasource@1"])
        .ok()
        .stdout;
    assert!(
        text.lines().nth(1).unwrap().starts_with("1        2  "),
        "{text}"
    );

    // Artifacts: the datasource's table, read by the first split and reused by the second.
    let data_id = field(&first_shown, "datasource", "outputs")["data"]
        .as_i64()
        .expect("the datasource's output");
    let shown = zenml(dir, &["artifact", "show", &data_id.to_string(), "--json"])
        .ok()
        .json();
    documented::<json::ArtifactShow>(&shown);
    assert_eq!(shown["artifact"]["type"], "zenml.Table");
    assert_eq!(shown["producer"]["step"], "datasource");
    let readers: Vec<(&str, &str)> = shown["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["step"].as_str().unwrap(), c["state"].as_str().unwrap()))
        .collect();
    assert_eq!(readers, [("split", "complete"), ("split", "cached")]);
    let text = zenml(dir, &["artifact", "show", &data_id.to_string()])
        .ok()
        .stdout;
    assert!(
        text.starts_with(&format!(
            "artifact {data_id}\n  type:         zenml.Table\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("  produced by:  datasource (execution "),
        "{text}"
    );
    let e = zenml(dir, &["artifact", "show", "999999"]);
    assert_eq!(
        e.one_error(),
        "error: no artifact `999999` in the repository"
    );

    // Lineage: from the evaluator's metrics back to the datasource.
    let metrics_id = field(&first_shown, "evaluator", "outputs")["metrics"]
        .as_i64()
        .expect("the evaluator's output");
    let lineage = zenml(
        dir,
        &["artifact", "lineage", &metrics_id.to_string(), "--json"],
    )
    .ok()
    .json();
    documented::<json::Lineage>(&lineage);
    assert_eq!(keys(&lineage), ["artifact", "inputs", "producer"]);
    assert_eq!(lineage["artifact"]["id"], metrics_id);
    assert_eq!(lineage["producer"]["step"], "evaluator");
    let preprocesser = &lineage["inputs"]["eval"];
    assert_eq!(preprocesser["producer"]["step"], "preprocesser");
    let split = &preprocesser["inputs"]["eval"];
    assert_eq!(split["producer"]["step"], "split");
    let datasource = &split["inputs"]["data"];
    assert_eq!(datasource["producer"]["step"], "datasource");
    assert_eq!(datasource["artifact"]["id"], data_id);
    assert_eq!(datasource["inputs"], serde_json::json!({}));
    assert_eq!(lineage["inputs"]["model"]["producer"]["step"], "trainer");
    assert_eq!(
        lineage["inputs"]["model"]["producer"]["params"]["alpha"],
        0.5
    );
    let text = zenml(dir, &["artifact", "lineage", &metrics_id.to_string()])
        .ok()
        .stdout;
    let first_line = text.lines().next().unwrap();
    assert!(
        first_line.starts_with(&format!("artifact {metrics_id} ")),
        "{text}"
    );
    assert!(first_line.contains("from step `evaluator`"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("data ← artifact ")
                && l.contains("from step `datasource`")),
        "{text}"
    );

    // Compare: one row per run, the trainer's parameters beside the evaluator's metrics; the
    // cached run shows the metrics of the execution it reused.
    let rows = zenml(dir, &["pipeline", "compare", "--json"]).ok().json();
    documented::<Vec<json::CompareRow>>(&rows);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["run"], "Iris by hand#1");
    assert_eq!(rows[0]["trainer"], "quickstart::LogisticTrainer@1");
    assert_eq!(rows[0]["trainer_cached"], false);
    assert_eq!(rows[1]["trainer_cached"], true);
    assert_eq!(rows[0]["params"]["alpha"], 0.5);
    assert_eq!(rows[0]["metrics"]["accuracy"], accuracy);
    assert_eq!(rows[1]["metrics"], rows[0]["metrics"]);
    let text = zenml(dir, &["pipeline", "compare"]).ok().stdout;
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "run",
            "pipeline",
            "alpha",
            "label",
            "max_iterations",
            "accuracy",
            "f1_macro"
        ]
    );

    // Clearing the cache: the next run recomputes every step, with progress on stderr.
    let cleared = zenml(dir, &["cache", "clear"]).ok();
    assert_eq!(
        cleared.stdout,
        "5 cached execution(s) will no longer be reused\n"
    );
    let third = zenml(dir, &["pipeline", "run", "iris.yaml"]).ok();
    assert_eq!(third.stdout, "");
    // Piped, progress is plain lines, without a control code.
    assert!(!third.stderr.contains('\x1b'), "{third:#?}");
    assert!(
        third
            .stderr
            .lines()
            .any(|l| l.trim_start().starts_with("trainer") && l.contains(" done ")),
        "{third:#?}"
    );
    assert!(
        third.stderr.contains("Run `Iris by hand#3` completed")
            && third.stderr.contains("5 ran, 0 cached"),
        "{third:#?}"
    );
    let shown = steps_of(
        &zenml(dir, &["run", "show", "Iris by hand#3", "--json"])
            .ok()
            .json(),
    );
    for step in STEPS {
        assert_eq!(field(&shown, step, "state"), "complete", "{step}");
    }
    // … and caches again afterwards.
    let quiet = zenml(dir, &["pipeline", "run", "iris.yaml", "--quiet"]).ok();
    assert_eq!(quiet.stdout, "Iris by hand#4\n");
    assert_eq!(quiet.stderr, "");
    let third = steps_of(
        &zenml(dir, &["run", "show", "Iris by hand#3", "--json"])
            .ok()
            .json(),
    );
    let fourth = steps_of(
        &zenml(dir, &["run", "show", "Iris by hand#4", "--json"])
            .ok()
            .json(),
    );
    for step in STEPS {
        assert_eq!(field(&fourth, step, "state"), "cached", "{step}");
        assert_eq!(
            field(&fourth, step, "cached_from"),
            field(&third, step, "id"),
            "{step}"
        );
    }

    // Commands find the repository from a subdirectory, or with -C.
    let sub = dir.join("some").join("where");
    std::fs::create_dir_all(&sub).unwrap();
    let runs = zenml(&sub, &["run", "list", "--json"]).ok().json();
    assert_eq!(runs.as_array().unwrap().len(), 4);
    let elsewhere = tempfile::tempdir().unwrap();
    let runs = zenml(
        elsewhere.path(),
        &["-C", dir.to_str().unwrap(), "run", "list", "--json"],
    )
    .ok()
    .json();
    assert_eq!(runs.as_array().unwrap().len(), 4);
}

/// What the stores hold: pipelines, runs, executions, and the artifact folder's files.
#[derive(Debug, PartialEq)]
struct Snapshot {
    pipelines: Vec<PipelineRecord>,
    runs: Vec<RunRecord>,
    executions: usize,
    step_types: usize,
    files: BTreeSet<PathBuf>,
}

fn snapshot(dir: &Path) -> Snapshot {
    let repo = Repository::open(dir).expect("the repository opens");
    let runs = repo.get_runs(None).expect("the runs");
    let executions = runs
        .iter()
        .map(|r| repo.get_run_steps(r).expect("a run's steps").len())
        .sum();
    let mut files = BTreeSet::new();
    let mut todo = vec![dir.join(".zenml").join("artifacts")];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("the artifact folder") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                files.insert(path);
            }
        }
    }
    Snapshot {
        pipelines: repo.get_pipelines().expect("the pipelines"),
        runs,
        executions,
        step_types: repo
            .metadata_store()
            .step_types(None)
            .expect("the step types")
            .len(),
        files,
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` is not in\n{text}"))
        + 1
}

fn replaced(from: &str, to: &str) -> String {
    assert!(IRIS.contains(from), "`{from}` is not in the config");
    IRIS.replacen(from, to, 1)
}

/// The same steps as a general pipeline, without the training template's fixed wiring.
const DAG: &str = "\
version: 1
name: Iris DAG
steps:
  datasource:
    source: zenml::steps::CsvDatasource@1
    args:
      path: examples/data/iris.csv
  split:
    source: zenml::steps::RandomSplit@1
    inputs:
      data: datasource.data
  scaler:
    source: zenml::steps::StandardScaler@1
    inputs:
      train: split.train
      eval: split.eval
";

#[test]
fn every_bad_config_fails_with_one_clear_error_and_touches_nothing() {
    let ws = initialized();
    let dir = ws.path();
    write(dir, "iris.yaml", &IRIS);
    zenml(dir, &["pipeline", "run", "iris.yaml", "--quiet"]).ok();
    let before = snapshot(dir);
    assert_eq!(before.runs.len(), 1);
    assert!(!before.files.is_empty());

    // (config, the text the error must contain, the line it must name (by a needle), if any)
    let cases: Vec<(String, &str, Option<&str>)> = vec![
        // Malformed YAML: an unclosed quote (the parser reports where the file ends).
        (
            replaced("exclude: species", "exclude: \"species"),
            "while scanning a quoted scalar",
            None,
        ),
        // An unknown format version.
        (
            replaced("version: 1", "version: 2"),
            "config format version 2 is not supported (this build reads version 1)",
            Some("version: 2"),
        ),
        // An unknown source, with the close registered ones.
        (
            replaced("quickstart::LogisticTrainer@1", "quickstart::LogisticTrainr@1"),
            "step `trainer`: no step `quickstart::LogisticTrainr` is registered in this binary; \
             did you mean `quickstart::LogisticTrainer`?",
            Some("LogisticTrainr@1"),
        ),
        // A known source at an unknown version.
        (
            replaced("quickstart::LogisticTrainer@1", "quickstart::LogisticTrainer@2"),
            "step `trainer`: step `quickstart::LogisticTrainer` is registered at version 1, not 2",
            Some("LogisticTrainer@2"),
        ),
        // A missing required parameter.
        (
            replaced("    args:\n      path: examples/data/iris.csv\n", ""),
            "step `datasource`: missing parameter `path` of `zenml::steps::CsvDatasource` \
             (String, no default)",
            Some("CsvDatasource@1"),
        ),
        // An unknown parameter.
        (
            replaced("      alpha: 0.5", "      alpha: 0.5\n      learning_rate: 0.1"),
            "step `trainer`: unknown parameter `learning_rate` for `quickstart::LogisticTrainer`; \
             its parameters are: label, alpha, max_iterations",
            Some("learning_rate"),
        ),
        // A wrong parameter type.
        (
            replaced("alpha: 0.5", "alpha: \"fast\""),
            "step `trainer`: parameter `alpha` of `quickstart::LogisticTrainer`: expected f64, \
             found string \"fast\"",
            Some("alpha:"),
        ),
        // An integer out of range for its field.
        (
            replaced("max_iterations: 50", "max_iterations: 5000000000"),
            "step `trainer`: parameter `max_iterations` of `quickstart::LogisticTrainer`: \
             5000000000 is out of range for u32 (0..=4294967295)",
            Some("max_iterations:"),
        ),
        (
            replaced("max_iterations: 50", "max_iterations: -1"),
            "-1 is out of range for u32",
            Some("max_iterations:"),
        ),
        // Wiring to a missing step, and to a missing output.
        (
            DAG.replace("data: datasource.data", "data: source.data"),
            "step `split`: input `data` is wired to `source.data`, but there is no step `source` \
             (its steps: datasource, split, scaler)",
            Some("    inputs:\n      data: source"),
        ),
        (
            DAG.replace("data: datasource.data", "data: datasource.table"),
            "step `split`: input `data` is wired to `datasource.table`, but step `datasource` has \
             no output `table` (its outputs: data)",
            Some("    inputs:\n      data: datasource.table"),
        ),
        // A cycle.
        (
            format!(
                "{DAG}  again:\n    source: zenml::steps::StandardScaler@1\n    inputs:\n      train: scaler.train\n      eval: scaler.eval\n"
            )
            .replace("train: split.train", "train: again.train"),
            "pipeline `Iris DAG` has a cycle: ",
            None,
        ),
        // A training config whose fixed wiring was changed.
        (
            replaced(
                "    source: quickstart::ClassificationMetrics@1\n",
                "    source: quickstart::ClassificationMetrics@1\n    inputs: { model: trainer.model, eval: split.eval }\n",
            ),
            "step `evaluator`: a training pipeline's wiring is fixed; `evaluator` reads eval: \
             preprocesser.eval, model: trainer.model",
            Some("inputs: { model"),
        ),
        // A step of the wrong kind in a slot.
        (
            replaced(
                "    source: quickstart::ClassificationMetrics@1",
                "    source: quickstart::LogisticTrainer@1",
            ),
            "step `evaluator`: the `evaluator` slot takes a step of kind evaluator, but \
             `quickstart::LogisticTrainer` is of kind trainer",
            Some("  evaluator:"),
        ),
        // Unknown keys, at the top and in a step.
        (
            format!("{}schedule: daily\n", *IRIS),
            "unknown field `schedule`, expected one of `version`, `name`, `template`, `steps`, \
             `cache`",
            Some("schedule:"),
        ),
        (
            replaced("    args:\n      alpha", "    params:\n      alpha"),
            "steps.trainer: unknown field `params`, expected one of `source`, `args`, `inputs`, \
             `cache`",
            Some("params:"),
        ),
    ];

    for (text, expected, line) in &cases {
        write(dir, "bad.yaml", text);
        let out = zenml(dir, &["pipeline", "run", "bad.yaml"]);
        let error = out.one_error();
        assert!(
            error.contains(expected),
            "expected `{expected}` in\n{error}\n\n{text}"
        );
        match line {
            Some(needle) => {
                // A needle `a\nb` names the line of `a`, found as the line before `b`'s.
                let n = match needle.split_once('\n') {
                    Some((_, next)) => line_of(text, next) - 1,
                    None => line_of(text, needle),
                };
                assert!(
                    error.starts_with(&format!("error: bad.yaml:{n}:")),
                    "expected line {n} in\n{error}\n\n{text}"
                );
            }
            // Where the parser decides: still a line number.
            None => assert!(
                error
                    .strip_prefix("error: bad.yaml:")
                    .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit())),
                "{error}"
            ),
        }
        assert_eq!(snapshot(dir), before, "the stores changed after\n{error}");
    }

    // A config file that is not there.
    let out = zenml(dir, &["pipeline", "run", "missing.yaml"]);
    assert!(
        out.one_error()
            .starts_with("error: missing.yaml: cannot read the config: "),
        "{out:#?}"
    );

    // A valid config under the name of a recorded pipeline with another definition.
    write(dir, "changed.yaml", &replaced("alpha: 0.5", "alpha: 0.25"));
    let out = zenml(dir, &["pipeline", "run", "changed.yaml"]);
    assert_eq!(
        out.one_error(),
        "error: pipeline `Iris by hand` has already run with another definition, and a pipeline \
         that has run is immutable: run a copy under a new name (`pipeline.copy(\"Iris by hand \
         v2\")`)"
    );
    assert_eq!(snapshot(dir), before);
}

#[test]
fn the_repository_config_can_be_shown_and_changed_and_never_shows_a_password() {
    let ws = initialized();
    let dir = ws.path();
    let root = std::fs::canonicalize(dir).unwrap();
    let config_file = dir.join(".zenml").join("config.yaml");
    #[cfg(unix)]
    let mode = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    };
    #[cfg(unix)]
    assert_eq!(mode(&config_file), 0o600);

    let out = zenml(dir, &["init"]);
    assert_eq!(
        out.one_error(),
        format!(
            "error: a zenml repository already exists at {}",
            root.display()
        )
    );

    let show = zenml(dir, &["config", "show"]).ok().stdout;
    assert_eq!(
        show,
        format!(
            "repository: {root}\nmetadata:   sqlite:{root}/.zenml/metadata.db\nartifacts:  file://{root}/.zenml/artifacts\n",
            root = root.display()
        )
    );
    let json = zenml(dir, &["config", "show", "--json"]).ok().json();
    documented::<json::ConfigShow>(&json);
    assert_eq!(json["root"], root.to_str().unwrap());
    assert_eq!(
        json["metadata"],
        serde_json::json!({"type": "sqlite", "path": "metadata.db"})
    );
    assert_eq!(json["artifacts"]["url"], "artifacts");
    assert!(json["error"].is_null());

    // An artifact store URL of an unknown scheme: refused, the config unchanged.
    let saved = std::fs::read(&config_file).unwrap();
    let out = zenml(
        dir,
        &["config", "artifacts", "set", "ftp://example.org/artifacts"],
    );
    assert_eq!(
        out.one_error(),
        "error: unknown artifact store scheme `ftp://` in `ftp://example.org/artifacts`; this \
         binary knows: az, file, gs, memory, s3"
    );
    assert_eq!(std::fs::read(&config_file).unwrap(), saved);

    // Another local folder.
    let out = zenml(dir, &["config", "artifacts", "set", "store"]).ok();
    assert_eq!(
        out.stdout,
        format!(
            "Saved.\n  metadata:  sqlite:{root}/.zenml/metadata.db\n  artifacts: file://{root}/.zenml/store\n",
            root = root.display()
        )
    );

    // A config written by hand names a MySQL server that does not answer (a closed port), with a
    // password in the file: `config show` works although the stores cannot be opened, and shows
    // no password; commands that need the stores fail with one line naming the server.
    let secret = "pw-in-the-config-file-0815";
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    std::fs::write(
        &config_file,
        format!(
            "version: 1\nmetadata:\n  type: mysql\n  host: 127.0.0.1\n  port: {port}\n  user: ml\n  \
             database: zenml\n  password: {secret}\nartifacts:\n  url: artifacts\n"
        ),
    )
    .unwrap();
    let out = zenml(dir, &["config", "show"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stdout
            .contains(&format!("metadata:   mysql://ml@127.0.0.1:{port}/zenml\n")),
        "{out:#?}"
    );
    // The warning goes to stderr, in the style of every warning.
    assert!(
        out.stderr
            .starts_with("warning: the stores cannot be opened: "),
        "{out:#?}"
    );
    assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    let out = zenml(dir, &["config", "show", "--json"]);
    assert_eq!(out.code, 0, "{out:#?}");
    let json = out.json();
    assert_eq!(json["metadata"]["type"], "mysql");
    assert_eq!(json["metadata"]["password"], "(set in config.yaml)");
    assert!(json["error"].is_string());
    assert!(!out.stdout.contains(secret));
    let out = zenml(dir, &["run", "list"]);
    let line = out.one_error();
    assert!(
        line.contains(&format!(
            "cannot connect to mysql://ml@127.0.0.1:{port}/zenml: the server cannot be reached"
        )),
        "{line}"
    );
    assert!(!line.contains(secret), "{line}");

    // The config can be set back.
    let out = zenml(dir, &["config", "metadata", "set", "sqlite"]).ok();
    assert!(
        out.stdout.starts_with("Saved.\n  metadata:  sqlite:"),
        "{out:#?}"
    );
    // A new SQLite file is a new store, made when it is set (opening never makes one).
    let out = zenml(dir, &["config", "metadata", "set", "sqlite", "other.db"]).ok();
    assert!(
        out.stdout.starts_with("Saved.\n  metadata:  sqlite:") && out.stdout.contains("other.db\n"),
        "{out:#?}"
    );
    assert!(dir.join(".zenml/other.db").is_file());
    zenml(dir, &["run", "list"]).ok();
    zenml(dir, &["config", "metadata", "set", "sqlite"]).ok();
    assert!(
        !std::fs::read_to_string(&config_file)
            .unwrap()
            .contains(secret)
    );
    assert_eq!(
        zenml(dir, &["run", "list"]).ok().stdout,
        "No runs recorded yet.\n"
    );
}

/// The arguments as `&str`s.
#[cfg(feature = "mysql")]
fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `run_quickstart` with `env` added: the quickstart itself (pipelines A and B) in `dir`.
#[cfg(feature = "mysql")]
fn quickstart_env(dir: &Path, env: &[(&str, &str)]) -> Out {
    run_in(&quickstart(), &[], dir, &[], env)
}

#[cfg(feature = "mysql")]
#[test]
fn a_mysql_store_is_checked_before_it_is_saved_and_its_password_never_shown() {
    let test = "a_mysql_store_is_checked_before_it_is_saved_and_its_password_never_shown";
    let Some(server) = mysql::mysql_server(test) else {
        return;
    };
    let db = server.create();
    let password = db.password.clone().unwrap_or_default();
    // Whether `text` shows the password (an account without one has nothing to show).
    let shows = |text: &str| !password.is_empty() && text.contains(&password);
    let location = db.describe();
    let ws = initialized();
    let dir = ws.path();
    let config_file = dir.join(".zenml").join("config.yaml");
    let saved = std::fs::read_to_string(&config_file).unwrap();
    let set = mysql::set_mysql(&db);
    let set: Vec<&str> = set.iter().map(String::as_str).collect();
    let with = |extra: &[&str]| -> Vec<String> {
        set.iter().chain(extra).map(|a| (*a).to_owned()).collect()
    };

    // Each failure is one line naming the server and the database, and saves nothing.
    let wrong = "Not-the-password-4711";
    let out = zenml(dir, &refs(&with(&["--password", wrong])));
    assert_eq!(
        out.one_error(),
        format!(
            "error: mysql metadata store: cannot connect to {location}: access denied for user `{}` (a wrong user name \
             or password; the password is not shown)",
            db.user
        )
    );
    assert!(!out.stderr.contains(wrong));
    let unknown = format!("{}_unknown", db.database);
    let mut args = set.clone();
    let at = args.iter().position(|a| *a == "--database").unwrap() + 1;
    args[at] = &unknown;
    args.extend(["--password", &password]);
    let out = zenml(dir, &args);
    let line = out.one_error();
    assert!(
        line.contains(&format!("{}:{}/{unknown}", db.host, db.port))
            && line.contains(&format!("there is no database `{unknown}` on the server")),
        "{line}"
    );
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port().to_string()
    };
    let mut args = set.clone();
    let at = args.iter().position(|a| *a == "--port").unwrap() + 1;
    args[at] = &closed;
    let out = zenml(dir, &args);
    let line = out.one_error();
    assert!(
        line.contains(&format!("127.0.0.1:{closed}/")) && line.contains("cannot be reached"),
        "{line}"
    );
    let out = zenml(
        dir,
        &refs(&with(&["--password-env", "ZENML_TEST_UNSET_PASSWORD"])),
    );
    assert!(
        out.one_error().contains("`ZENML_TEST_UNSET_PASSWORD`"),
        "{out:#?}"
    );
    assert_eq!(std::fs::read_to_string(&config_file).unwrap(), saved);

    // The password in an environment variable: the file names the variable only.
    let var = "ZENML_TEST_DB_PASSWORD";
    let env = [(var, password.as_str())];
    let out = zenml_env(dir, &refs(&with(&["--password-env", var])), &env).ok();
    let root = std::fs::canonicalize(dir).unwrap();
    assert_eq!(
        out.stdout,
        format!(
            "Saved.\n  metadata:  {location}\n  artifacts: file://{}/.zenml/artifacts\n",
            root.display()
        )
    );
    let file = std::fs::read_to_string(&config_file).unwrap();
    assert!(file.contains(&format!("password_env: {var}")), "{file}");
    assert!(!shows(&file), "{file}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // A new user's first runs: the quickstart twice, the second entirely from the cache.
    let first = quickstart_env(dir, &env).ok();
    assert!(
        first.stderr.contains("Run `Pipeline A#1` completed")
            && first.stderr.contains(": 5 ran, 0 cached\n")
            && first.stderr.contains(": 2 ran, 3 cached\n"),
        "{first:#?}"
    );
    let second = quickstart_env(dir, &env).ok();
    assert_eq!(
        second.stderr.matches(": 0 ran, 5 cached\n").count(),
        2,
        "{second:#?}"
    );
    let runs = zenml_env(dir, &["run", "list", "--json"], &env).ok().json();
    assert_eq!(runs.as_array().map(Vec::len), Some(4), "{runs}");

    // Without the variable, the store cannot be opened, and the error names the variable.
    let out = zenml(dir, &["run", "list"]);
    assert!(out.one_error().contains(&format!("`{var}`")), "{out:#?}");

    // The password on the command line: stored (readable by its owner only), never printed.
    let out = zenml(dir, &refs(&with(&["--password", &password]))).ok();
    assert!(!shows(&out.stdout) && !shows(&out.stderr));
    for args in [
        &["config", "show"][..],
        &["config", "show", "--json"],
        &["run", "list"],
    ] {
        let out = zenml(dir, args).ok();
        assert!(!shows(&out.stdout) && !shows(&out.stderr), "{out:#?}");
    }
    let show = zenml(dir, &["config", "show"]).ok().stdout;
    assert!(
        show.contains(&format!("metadata:   {location}\n")),
        "{show}"
    );
}

/// `quickstart zenml <args>` in `dir` on a pseudo-terminal (through util-linux's `script`), with
/// `env` added; what the terminal showed (stdout and stderr together). `None`, after saying why,
/// where `script` is missing (an error when `CI` is set: CI has it).
fn zenml_on_terminal(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Option<String> {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut line = format!("{} zenml", quote(&quickstart().to_string_lossy()));
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qefc", &line, "/dev/null"])
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    match cmd.output() {
        Ok(out) => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Err(e) => {
            let why = format!("util-linux's `script` cannot run ({e})");
            assert!(std::env::var_os("CI").is_none(), "CI must have it: {why}");
            eprintln!("skipping the terminal checks: {why}");
            None
        }
    }
}

#[test]
fn errors_are_coloured_on_a_terminal_only_and_never_with_no_color() {
    let ws = initialized();
    let dir = ws.path();
    let red_error = "\x1b[1m\x1b[31merror:\x1b[0m no run `Nope#1` in the repository";
    let plain_error = "error: no run `Nope#1` in the repository";
    // Piped: plain.
    let piped = zenml(dir, &["run", "show", "Nope#1"]);
    assert_eq!(piped.one_error(), plain_error);
    let Some(shown) = zenml_on_terminal(dir, &["run", "show", "Nope#1"], &[]) else {
        return;
    };
    assert!(shown.contains(red_error), "{shown:?}");
    // NO_COLOR, set to anything but the empty string, turns colour off.
    let shown = zenml_on_terminal(dir, &["run", "show", "Nope#1"], &[("NO_COLOR", "1")])
        .unwrap_or_default();
    assert!(
        shown.contains(plain_error) && !shown.contains('\x1b'),
        "{shown:?}"
    );
    let shown =
        zenml_on_terminal(dir, &["run", "show", "Nope#1"], &[("NO_COLOR", "")]).unwrap_or_default();
    assert!(shown.contains(red_error), "{shown:?}");
    // Warnings share the style: a config whose artifact store cannot be opened is shown with one.
    let config_file = dir.join(".zenml").join("config.yaml");
    let saved = std::fs::read_to_string(&config_file).unwrap();
    std::fs::write(
        &config_file,
        saved.replace("url: artifacts", "url: s3://user:pw@bucket/p"),
    )
    .unwrap();
    let shown = zenml_on_terminal(dir, &["config", "show"], &[]).unwrap_or_default();
    assert!(
        shown.contains("\x1b[1m\x1b[33mwarning:\x1b[0m the stores cannot be opened: "),
        "{shown:?}"
    );
    let piped = zenml(dir, &["config", "show"]).ok();
    assert!(
        piped
            .stderr
            .starts_with("warning: the stores cannot be opened: "),
        "{piped:#?}"
    );
}

#[test]
fn a_run_on_a_terminal_shows_live_step_lines_and_a_bar() {
    let ws = initialized();
    let dir = ws.path();
    write(dir, "iris.yaml", &IRIS);
    let Some(shown) = zenml_on_terminal(dir, &["pipeline", "run", "iris.yaml"], &[]) else {
        return;
    };
    // Drawn and redrawn in place (cursor moves, lines cleared): every step first waiting, then
    // done with its duration, under an overall bar that ends with the run's summary.
    assert!(shown.contains("\x1b[2K"), "{shown:?}");
    for step in STEPS {
        let waiting = format!("{step} ");
        assert!(shown.contains(&waiting), "{shown:?}");
    }
    assert!(shown.contains("waiting"), "{shown:?}");
    for step in STEPS {
        let done = shown
            .split(step)
            .skip(1)
            .any(|rest| rest.trim_start().starts_with("done "));
        assert!(done, "{step} is not shown done: {shown:?}");
    }
    assert!(shown.contains("5/5 steps"), "{shown:?}");
    assert!(
        shown.contains("run `Iris by hand#1` completed in "),
        "{shown:?}"
    );
    // --quiet: nothing but the run's name, even on a terminal.
    let quiet = zenml_on_terminal(dir, &["pipeline", "run", "iris.yaml", "--quiet"], &[])
        .unwrap_or_default();
    assert_eq!(quiet.trim_end(), "Iris by hand#2", "{quiet:?}");
}

#[test]
fn completion_scripts_cover_every_command() {
    let dir = workspace();
    let bash = zenml(dir.path(), &["completions", "bash"]).ok().stdout;
    assert!(bash.contains("complete -F _zenml"), "{bash}");
    for word in ["pipeline", "compare", "lineage", "completions"] {
        assert!(bash.contains(word), "{word} missing");
    }
    // The script is valid bash.
    let file = dir.path().join("zenml.bash");
    std::fs::write(&file, &bash).unwrap();
    let check = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(check.status.success(), "{check:?}");
    let zsh = zenml(dir.path(), &["completions", "zsh"]).ok().stdout;
    assert!(zsh.starts_with("#compdef zenml"), "{zsh}");
    let fish = zenml(dir.path(), &["completions", "fish", "--bin", "my-zenml"])
        .ok()
        .stdout;
    assert!(fish.contains("complete -c my-zenml"), "{fish}");
    let e = zenml(dir.path(), &["completions", "tcsh"]);
    assert_eq!(e.code, 2, "{e:#?}");
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let ws = initialized();
    // A pipe whose reading end is closed before the command starts: every write fails with
    // EPIPE, as when the reader (`| head`) has gone.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    for args in [
        &["run", "list"][..],
        &["step", "list"],
        &["step", "list", "--json"],
    ] {
        let out = Command::new(quickstart())
            .arg("zenml")
            .args(args)
            .current_dir(ws.path())
            .stdout(writer.try_clone().unwrap())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

#[test]
fn a_malformed_command_line_exits_2_and_no_repository_exits_1() {
    let nowhere = tempfile::tempdir().unwrap();
    let dir = nowhere.path();
    // Without a command: the help, on stderr.
    let out = zenml(dir, &[]);
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(
        out.stderr.contains("Usage: zenml [OPTIONS] <COMMAND>"),
        "{out:#?}"
    );
    for args in [
        &["frobnicate"][..],
        &["pipeline", "frobnicate"],
        &["pipeline", "run"],
        &["artifact", "show", "not-a-number"],
        &["run", "list", "--no-such-flag"],
    ] {
        let out = zenml(dir, args);
        assert_eq!(out.code, 2, "{args:?}: {out:#?}");
        assert_eq!(out.stdout, "", "{args:?}");
        assert!(out.stderr.starts_with("error: "), "{args:?}: {out:#?}");
        assert!(
            out.stderr.contains("Usage:") || out.stderr.contains("--help"),
            "{args:?}: {out:#?}"
        );
    }
    let help = zenml(dir, &["--help"]).ok();
    assert!(help.stdout.contains("Usage:"), "{help:#?}");
    // The summary of `pipeline` names its subcommands as they are called.
    let top = help
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("pipeline "))
        .unwrap_or_else(|| panic!("{help:#?}"));
    assert!(
        top.ends_with("Pipelines: list, get, run, compare, record, export"),
        "{top}"
    );
    let help = zenml(dir, &["pipeline", "--help"]).ok();
    let commands: Vec<&str> = help
        .stdout
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        commands,
        ["list", "get", "run", "compare", "record", "export", "help"],
        "{help:#?}"
    );
    let version = zenml(dir, &["--version"]).ok();
    assert!(version.stdout.starts_with("zenml "), "{version:#?}");

    let root = std::fs::canonicalize(dir).unwrap();
    let expected = format!(
        "error: no zenml repository (.zenml/) in {} or any parent directory; run `zenml init` \
         there first",
        root.display()
    );
    write(dir, "iris.yaml", &IRIS);
    for args in [
        &["config", "show"][..],
        &["config", "artifacts", "set", "elsewhere"],
        &["pipeline", "list"],
        &["pipeline", "get", "Pipeline A"],
        &["pipeline", "run", "iris.yaml"],
        &["pipeline", "compare"],
        &["run", "list"],
        &["run", "show", "Pipeline A#1"],
        &["step", "versions", "quickstart::LogisticTrainer"],
        &["artifact", "show", "1"],
        &["artifact", "lineage", "1"],
        &["cache", "clear"],
    ] {
        let out = zenml(dir, args);
        assert_eq!(out.one_error(), expected, "{args:?}");
    }
    assert!(!dir.join(".zenml").exists());
    // Listing the linked steps needs no repository.
    assert!(
        zenml(dir, &["step", "list"])
            .ok()
            .stdout
            .contains("quickstart::LogisticTrainer@1")
    );
}

#[test]
fn the_generic_binary_explains_that_it_does_not_link_the_example_steps() {
    let ws = workspace();
    let dir = ws.path();
    generic_zenml(dir, &["init"]).ok();
    write(dir, "iris.yaml", &IRIS);
    let before = snapshot(dir);

    let out = generic_zenml(dir, &["pipeline", "run", "iris.yaml"]);
    let error = out.one_error();
    let line = line_of(&IRIS, "quickstart::LogisticTrainer@1");
    assert!(
        error.starts_with(&format!(
            "error: iris.yaml:{line}: step `trainer`: no step `quickstart::LogisticTrainer` is \
             registered in this binary; only the steps of crates linked into the running binary \
             are registered"
        )),
        "{error}"
    );
    assert!(
        error.contains("a binary of your own whose `main` calls `zenml::cli::main()`"),
        "{error}"
    );
    assert_eq!(snapshot(dir), before);

    // It lists only zenml's own steps.
    let steps = generic_zenml(dir, &["step", "list"]).ok().stdout;
    assert!(steps.contains("zenml::steps::CsvDatasource@1"), "{steps}");
    assert!(!steps.contains("quickstart::"), "{steps}");

    // A config of zenml's own steps runs in it.
    write(dir, "dag.yaml", DAG);
    let out = generic_zenml(dir, &["pipeline", "run", "dag.yaml", "--json"]).ok();
    assert_eq!(out.json()["run"]["status"], "completed");
}

/// The acceptance, across processes: the quickstart (process 1) runs Pipeline A and B;
/// later processes rebuild Pipeline A from the store, and a changed copy reuses its first steps.
#[test]
fn pipeline_a_is_rebuilt_from_the_store_in_a_new_process_and_a_changed_copy_reuses_its_steps() {
    let ws = workspace();
    let dir = ws.path();
    let out = Command::new(quickstart())
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:#?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("Pipeline A#1") && stdout.contains("Pipeline B#1"),
        "{stdout}"
    );

    // What process 1 recorded.
    let repo = Repository::open(dir).unwrap();
    let a = repo.get_run("Pipeline A#1").unwrap();
    let b = repo.get_run("Pipeline B#1").unwrap();
    assert_eq!(a.config, repo.get_pipelines().unwrap()[0].config);

    // `pipeline get` gives the config that ran, and Pipeline B is A's config with its name and
    // the trainer's parameter changed: process 1 rebuilt A from the store to copy it.
    let got = zenml(dir, &["pipeline", "get", "Pipeline A"]).ok().stdout;
    assert_eq!(got, a.config);
    assert_eq!(
        b.config,
        got.replace("name: Pipeline A", "name: Pipeline B")
            .replace("      alpha: 1.0\n", "      alpha: 0.01\n")
    );

    // Rebuilt in a new process and run again under its own name: the same definition (the
    // store accepts it), every step reused.
    write(dir, "a.yaml", &got);
    let again = zenml(dir, &["pipeline", "run", "a.yaml", "--json"])
        .ok()
        .json();
    assert_eq!(again["run"]["name"], "Pipeline A#2");
    let a_steps = steps_of(
        &zenml(dir, &["run", "show", "Pipeline A#1", "--json"])
            .ok()
            .json(),
    );
    let again_steps = steps_of(&again);
    for step in STEPS {
        assert_eq!(field(&again_steps, step, "state"), "cached", "{step}");
        assert_eq!(
            field(&again_steps, step, "cached_from"),
            field(&a_steps, step, "id"),
            "{step}"
        );
    }

    // A copy with a changed trainer parameter: datasource, split and preprocesser are reused from
    // Pipeline A's run; trainer and evaluator run (the evaluator because the model changed).
    let copy = got
        .replace("name: Pipeline A", "name: Pipeline C")
        .replace("      alpha: 1.0\n", "      alpha: 0.3\n");
    assert_ne!(copy, got);
    write(dir, "c.yaml", &copy);
    let c = zenml(dir, &["pipeline", "run", "c.yaml", "--json"])
        .ok()
        .json();
    assert_eq!(c["run"]["name"], "Pipeline C#1");
    let c_steps = steps_of(&c);
    for step in ["datasource", "split", "preprocesser"] {
        assert_eq!(field(&c_steps, step, "state"), "cached", "{step}");
        assert_eq!(
            field(&c_steps, step, "cached_from"),
            field(&a_steps, step, "id"),
            "{step}"
        );
    }
    for step in ["trainer", "evaluator"] {
        assert_eq!(field(&c_steps, step, "state"), "complete", "{step}");
    }
    let recorded = Repository::open(dir)
        .unwrap()
        .get_run("Pipeline C#1")
        .unwrap();
    assert_eq!(recorded.config, copy);

    let rows = zenml(dir, &["pipeline", "compare", "--json"]).ok().json();
    let rows: Vec<(&str, &J)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["run"].as_str().unwrap(), &r["params"]))
        .collect();
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        [
            "Pipeline A#1",
            "Pipeline B#1",
            "Pipeline A#2",
            "Pipeline C#1"
        ]
    );
    assert_eq!(rows[3].1["alpha"], 0.3);
    assert_eq!(rows[1].1["alpha"], 0.01);
}

/// Asserts that `secret` is in neither stdout nor stderr.
#[track_caller]
fn assert_not_shown(out: &Out, secret: &str) {
    assert!(
        !out.stdout.contains(secret) && !out.stderr.contains(secret),
        "`{secret}` was shown: {out:#?}"
    );
}

/// Asserts a malformed command line (exit 2, clap's usage) whose first line is `error`.
#[track_caller]
fn assert_malformed(out: &Out, error: &str) {
    assert_eq!(out.code, 2, "{out:#?}");
    assert_eq!(out.stdout, "", "{out:#?}");
    assert_eq!(out.stderr.lines().next(), Some(error), "{out:#?}");
    assert!(out.stderr.contains("Usage:"), "{out:#?}");
}

#[test]
fn credentials_in_an_artifact_store_url_are_refused_and_never_shown() {
    let ws = initialized();
    let dir = ws.path();
    let config_file = dir.join(".zenml").join("config.yaml");
    let saved = std::fs::read_to_string(&config_file).unwrap();
    let secret = "s3cr3t-4711";

    let aws = "give them in the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables";
    for (url, shown, instead) in [
        (
            format!("s3://AKIAEXAMPLE:{secret}@bucket/p"),
            "s3://***@bucket/p",
            aws,
        ),
        // A user without a password, and a secret with a `/` in it.
        (format!("s3://{secret}@bucket"), "s3://***@bucket", aws),
        (
            format!("s3://AKIAEXAMPLE:ab/{secret}@bucket/p"),
            "s3://***@bucket/p",
            aws,
        ),
        (
            format!("gs://key:{secret}@bucket"),
            "gs://***@bucket",
            "point the GOOGLE_APPLICATION_CREDENTIALS environment variable at a service account \
             key file",
        ),
        (
            format!("az://account:{secret}@container"),
            "az://***@container",
            "give them in the AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY \
             environment variables",
        ),
        (
            format!("https://user:{secret}@host/x"),
            "https://***@host/x",
            "give a bucket's credentials in the cloud's standard environment variables (s3://: \
             AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; gs://: GOOGLE_APPLICATION_CREDENTIALS; \
             az://: AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY)",
        ),
    ] {
        let out = zenml(dir, &["config", "artifacts", "set", &url]);
        assert_eq!(
            out.one_error(),
            format!(
                "error: the artifact store URL `{shown}` has credentials in it; zenml keeps \
                 credentials out of .zenml/config.yaml and out of its output: remove them from \
                 the URL and {instead}"
            )
        );
        assert_not_shown(&out, secret);
        assert_eq!(std::fs::read_to_string(&config_file).unwrap(), saved);
    }

    // A config.yaml edited by hand to hold credentials: shown redacted, every command that opens
    // the stores refuses it, and it can be fixed.
    std::fs::write(
        &config_file,
        saved.replace(
            "url: artifacts",
            &format!("url: s3://AKIAEXAMPLE:{secret}@bucket/p"),
        ),
    )
    .unwrap();
    let refusal = "the artifact store URL `s3://***@bucket/p` has credentials in it; zenml keeps \
                   credentials out of .zenml/config.yaml and out of its output: remove them from \
                   the URL and give them in the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                   environment variables";
    let out = zenml(dir, &["config", "show"]).ok();
    assert_not_shown(&out, secret);
    assert!(
        out.stdout.contains("\nartifacts:  s3://***@bucket/p\n"),
        "{out:#?}"
    );
    assert_eq!(
        out.stderr,
        format!("warning: the stores cannot be opened: {refusal}\n"),
    );
    let out = zenml(dir, &["config", "show", "--json"]).ok();
    assert_not_shown(&out, secret);
    let json = out.json();
    assert_eq!(json["artifacts"]["url"], "s3://***@bucket/p");
    assert_eq!(json["artifact_store"], "s3://***@bucket/p");
    assert_eq!(json["error"], refusal);
    for args in [&["run", "list"][..], &["pipeline", "list"]] {
        let out = zenml(dir, args);
        assert_eq!(out.one_error(), format!("error: {refusal}"), "{args:?}");
        assert_not_shown(&out, secret);
    }
    let out = zenml(dir, &["config", "metadata", "set", "sqlite"]).ok();
    assert_not_shown(&out, secret);
    assert_eq!(
        out.stdout,
        format!("Saved, but the stores cannot be opened yet: {refusal}\n")
    );
    let out = zenml(dir, &["config", "artifacts", "set", "artifacts"]).ok();
    assert!(out.stdout.starts_with("Saved.\n"), "{out:#?}");
    assert!(
        !std::fs::read_to_string(&config_file)
            .unwrap()
            .contains(secret)
    );
    zenml(dir, &["run", "list"]).ok();
}

#[test]
fn mysql_settings_refuse_a_misplaced_password_without_showing_it() {
    let ws = initialized();
    let dir = ws.path();
    let config_file = dir.join(".zenml").join("config.yaml");
    let saved = std::fs::read_to_string(&config_file).unwrap();
    let secret = "s3cr3t-0815";
    let set = |extra: &[&str]| {
        let mut args = vec![
            "config",
            "metadata",
            "set",
            "mysql",
            "--user",
            "ml",
            "--database",
            "zenml",
        ];
        args.extend(extra);
        zenml(dir, &args)
    };

    // A port that is not a port: maybe a password typed into the wrong option.
    let not_a_port = "error: --port takes a port, a number from 1 to 65535; the value given is not \
                      one, and is not shown in case it is a password typed into the wrong option";
    let dashed = format!("-{secret}");
    let assigned = format!("--port={secret}");
    for args in [
        &["--host", "db", "--port", secret][..],
        &["--host", "db", "--port", &dashed],
        &["--host", "db", &assigned],
        &["--host", "db", "--port", "0"],
        &["--host", "db", "--port", "65536"],
    ] {
        let out = set(args);
        assert_malformed(&out, not_a_port);
        assert_not_shown(&out, secret);
    }

    // Credentials in the host.
    let in_host = "error: --host takes a host name or address only; the value given contains `@` \
                   (or is not UTF-8), so it may hold credentials, and is not shown: give the user \
                   with --username and the password in an environment variable named by \
                   --password-env";
    let user_and_password = format!("ml:{secret}@db.example.org");
    let user_only = format!("{secret}@db.example.org");
    for host in [&user_and_password, &user_only] {
        let out = set(&["--host", host]);
        assert_malformed(&out, in_host);
        assert_not_shown(&out, secret);
    }

    // A password where the name of its environment variable belongs.
    let out = set(&["--host", "db", "--password-env", secret]);
    assert_malformed(
        &out,
        "error: --password-env takes the name of an environment variable (letters, digits and \
         `_`, not starting with a digit), not the password itself; the value given is not such \
         a name, and is not shown",
    );
    assert_not_shown(&out, secret);

    // A password with a space, not quoted: the rest is a stray word.
    let out = set(&["--host", "db", "--password", "correct", secret]);
    assert_malformed(
        &out,
        "error: unexpected argument, not shown in case it is part of a password: quote a password \
         that has spaces, or better, put it in an environment variable named by --password-env",
    );
    assert_not_shown(&out, secret);

    // Clap's own refusals around --password do not show it.
    for args in [
        &[
            "--host",
            "db",
            "--password",
            secret,
            "--password-env",
            "DB_PASSWORD",
        ][..],
        &["--host", "db", "--password", "other", "--password", secret],
        &["--password", secret],
    ] {
        let out = set(args);
        assert_eq!(out.code, 2, "{out:#?}");
        assert_not_shown(&out, secret);
    }
    assert_eq!(std::fs::read_to_string(&config_file).unwrap(), saved);

    // A password starting with `-` is a password: the command is whole, and the server it
    // names is asked (here, a closed port); the password is never shown.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port().to_string()
    };
    let out = set(&[
        "--host",
        "127.0.0.1",
        "--port",
        &closed,
        "--password",
        &dashed,
    ]);
    assert!(
        out.one_error().contains(&format!(
            "cannot connect to mysql://ml@127.0.0.1:{closed}/zenml: the server cannot be reached"
        )),
        "{out:#?}"
    );
    assert_not_shown(&out, secret);
    assert_eq!(std::fs::read_to_string(&config_file).unwrap(), saved);

    // A host edited by hand to hold credentials is shown redacted.
    std::fs::write(
        &config_file,
        format!(
            "version: 1\nmetadata:\n  type: mysql\n  host: ml:{secret}@db.example.org\n  user: ml\n  \
             database: zenml\n  password: {secret}\nartifacts:\n  url: artifacts\n"
        ),
    )
    .unwrap();
    let out = zenml(dir, &["config", "show"]).ok();
    assert_not_shown(&out, secret);
    assert!(
        out.stdout
            .contains("\nmetadata:   mysql://***@db.example.org:3306/zenml\n"),
        "{out:#?}"
    );
    let out = zenml(dir, &["config", "show", "--json"]).ok();
    assert_not_shown(&out, secret);
    let json = out.json();
    assert_eq!(json["metadata"]["host"], "***@db.example.org");
    assert_eq!(json["metadata"]["password"], "(set in config.yaml)");
    assert_eq!(
        json["metadata_store"],
        "mysql://***@db.example.org:3306/zenml"
    );
    // The host is never looked up: the lookup would send the credentials out.
    let out = zenml(dir, &["run", "list"]);
    assert!(
        out.one_error().contains(
            "mysql://***@db.example.org:3306/zenml: the host holds `@`, so it may hold credentials"
        ),
        "{out:#?}"
    );
    assert_not_shown(&out, secret);
    zenml(dir, &["config", "metadata", "set", "sqlite"]).ok();
    assert!(
        !std::fs::read_to_string(&config_file)
            .unwrap()
            .contains(secret)
    );
}

#[test]
fn an_oversized_config_name_or_parameter_fails_with_one_short_line_and_records_nothing() {
    let ws = initialized();
    let dir = ws.path();
    let before = snapshot(dir);
    let huge = "p".repeat(10 * 1024 * 1024);
    let large = "p".repeat(100_000);
    let long_name = "N".repeat(100_000);
    let cases = [
        (
            replaced("path: examples/data/iris.csv", &format!("path: {huge}")),
            None,
            format!(
                "the config is {} bytes; a config is at most 1 MiB (1048576 bytes)",
                IRIS.len() + huge.len() - "examples/data/iris.csv".len()
            ),
        ),
        (
            replaced("path: examples/data/iris.csv", &format!("path: {large}")),
            Some("path: "),
            "step `datasource`: parameter `path` is a string of 100000 bytes; a string parameter \
             is at most 64 KiB (65536 bytes)"
                .to_owned(),
        ),
        (
            replaced("name: Iris by hand", &format!("name: {long_name}")),
            Some("name: "),
            format!(
                "pipeline name `{}…` is 100000 bytes long; a pipeline name is at most 200 bytes",
                "N".repeat(80)
            ),
        ),
    ];
    for (text, line, expected) in &cases {
        write(dir, "big.yaml", text);
        let out = zenml(dir, &["pipeline", "run", "big.yaml"]);
        let location = match line {
            Some(needle) => format!("big.yaml:{}", line_of(text, needle)),
            None => "big.yaml".to_owned(),
        };
        assert_eq!(out.one_error(), format!("error: {location}: {expected}"));
        assert!(out.stderr.len() < 1024, "{} bytes", out.stderr.len());
        assert_eq!(snapshot(dir), before);
    }
}
