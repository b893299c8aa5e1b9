//! `FeedForwardTrainer` end to end: the classic feed-forward trainer's parameters in a config
//! written by hand, run by a user binary (the wine example, which serves the CLI as
//! `wine_quality zenml …`), read back by Google's ML Metadata, reused from the cache, and the
//! trained network loaded in another process.
#![cfg(all(feature = "candle", feature = "cli"))]

mod common;
#[path = "common/disk.rs"]
mod disk;
#[path = "common/process.rs"]
mod process;

use std::path::Path;

use process::{Out, example_zenml, run_example, step_states};
use serde_json::Value as J;
use zenml::Repository;
use zenml::artifact::Table;
use zenml::candle::{FeedForwardTrainer, Trained};
use zenml::param::Value;
use zenml::pipeline::Pipeline;
use zenml::step::StepParams;
use zenml::store::ExecutionRecord;

const EXAMPLE: &str = "wine_quality";

/// The trainer's arguments exactly as the classic trainer's seed config gives them.
const SEED_ARGS: &str = concat!(
    "      batch_size: 1\n",
    "      dropout_chance: 0.2\n",
    "      epochs: 1\n",
    "      hidden_activation: relu\n",
    "      hidden_layers: null\n",
    "      last_activation: sigmoid\n",
    "      loss: mse\n",
    "      lr: 0.001\n",
    "      metrics: null\n",
    "      output_units: 1\n",
);

/// A whole training config around [`SEED_ARGS`], written as `pipeline get` prints configs;
/// `{name}` and `{preprocesser}` are filled in by [`config`].
const CONFIG: &str = "\
version: 1
name: {name}
template: training
steps:
  datasource:
    source: zenml::steps::CsvDatasource@1
    args:
      path: examples/data/winequality-red.csv
  split:
    source: zenml::steps::RandomSplit@1
    args:
      seed: 42
      train_ratio: 0.8
    inputs:
      data: datasource.data
  preprocesser:
{preprocesser}    inputs:
      eval: split.eval
      train: split.train
  trainer:
    source: zenml::candle::FeedForwardTrainer@1
    args:
{args}    inputs:
      eval: preprocesser.eval
      train: preprocesser.train
  evaluator:
    source: zenml::candle::FeedForwardMetrics@1
    args: {}
    inputs:
      eval: preprocesser.eval
      model: trainer.model
";

/// The wine example's preprocesser (standardises, and labels wines of quality 7 or more good).
const WINE_PREPROCESSER: &str = "    source: wine_quality::WinePreprocesser@1
    args:
      good_from: 7
";

/// The config `name` with the trainer arguments `args`.
fn config(name: &str, preprocesser: &str, args: &str) -> String {
    CONFIG
        .replace("{name}", name)
        .replace("{preprocesser}", preprocesser)
        .replace("{args}", args)
}

/// A fresh directory with the wine data where the example expects it.
fn wine_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("examples").join("data");
    std::fs::create_dir_all(&data).expect("examples/data");
    std::fs::copy(
        format!(
            "{}/examples/data/winequality-red.csv",
            env!("CARGO_MANIFEST_DIR")
        ),
        data.join("winequality-red.csv"),
    )
    .expect("the wine data copied");
    dir
}

fn wine(dir: &Path, args: &[&str]) -> Out {
    example_zenml(EXAMPLE, dir, args)
}

/// Writes `text` to `dir/file` and runs it with `pipeline run --json`; the steps' states.
fn run_config(dir: &Path, file: &str, text: &str) -> Vec<String> {
    std::fs::write(dir.join(file), text).expect("the config is written");
    let out = wine(dir, &["pipeline", "run", file, "--json"]).ok();
    step_states(&out)
}

/// The executions of the first run of `pipeline` (the one that computed its steps).
fn first_steps(repo: &Repository, pipeline: &str) -> Vec<ExecutionRecord> {
    let runs = repo.get_runs(Some(pipeline)).expect("its runs");
    let first = runs.first().expect("a run");
    repo.get_run_steps(first).expect("its steps")
}

fn step<'a>(steps: &'a [ExecutionRecord], name: &str) -> &'a ExecutionRecord {
    steps
        .iter()
        .find(|e| e.step_name == name)
        .unwrap_or_else(|| panic!("no step `{name}` in {steps:#?}"))
}

fn output(e: &ExecutionRecord, name: &str) -> zenml::store::Id {
    e.outputs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, id)| *id)
        .unwrap_or_else(|| panic!("no output `{name}` of {e:#?}"))
}

#[test]
fn the_seed_parameters_round_trip_unchanged_nulls_included() {
    // In this process, with zenml's own scaler in place of the example's preprocesser.
    let scaler = "    source: zenml::steps::StandardScaler@1\n    args:\n      exclude: quality\n";
    let text = config("Seed", scaler, SEED_ARGS);
    let pipeline = Pipeline::from_yaml(&text).expect("the seed config loads");
    assert_eq!(pipeline.to_yaml(), text);

    let trainer = pipeline.step("trainer").expect("a trainer");
    let params = trainer.params();
    let names: Vec<&str> = params.names().collect();
    assert_eq!(
        names,
        [
            "batch_size",
            "dropout_chance",
            "epochs",
            "hidden_activation",
            "hidden_layers",
            "last_activation",
            "loss",
            "lr",
            "metrics",
            "output_units"
        ]
    );
    assert_eq!(params.get("hidden_layers"), Some(&Value::Null));
    assert_eq!(params.get("metrics"), Some(&Value::Null));
    assert_eq!(params.get("lr"), Some(&Value::Float(0.001)));
    assert_eq!(params.get("loss"), Some(&Value::Str("mse".into())));
    // The seed's values are the defaults.
    assert_eq!(FeedForwardTrainer::default().params(), params);
}

#[test]
fn unknown_names_and_bad_lists_are_refused_before_anything_runs() {
    let dir = wine_workspace();
    wine(dir.path(), &["init"]).ok();
    let cases = [
        (
            "hidden_activation: relu",
            "hidden_activation: relu6",
            "\"relu6\" is not a variant of Activation; expected one of: linear, relu, sigmoid, \
             tanh, softmax, elu, gelu, swish",
        ),
        (
            "loss: mse",
            "loss: hinge",
            "\"hinge\" is not a variant of Loss; expected one of: mse, mae, binary_crossentropy, \
             categorical_crossentropy",
        ),
        (
            "hidden_layers: null",
            "hidden_layers: 64,x",
            "parameter `hidden_layers`: `x` is not a layer size",
        ),
        (
            "metrics: null",
            "metrics: accuracy,auc",
            "unknown metric `auc`; the metrics are: accuracy, mse, mae, rmse",
        ),
    ];
    for (i, (seed, bad, message)) in cases.into_iter().enumerate() {
        let file = format!("bad{i}.yaml");
        let args = SEED_ARGS.replace(seed, bad);
        assert_ne!(args, SEED_ARGS);
        let text = config(&format!("Bad {i}"), WINE_PREPROCESSER, &args);
        std::fs::write(dir.path().join(&file), text).expect("the config is written");
        let out = wine(dir.path(), &["pipeline", "run", &file]);
        let error = out.one_error();
        assert!(error.contains(message), "{error}");
        assert!(error.contains(&file), "the file is named: {error}");
    }
    let runs = wine(dir.path(), &["run", "list"]).ok();
    assert!(!runs.stdout.contains("Bad"), "nothing ran: {}", runs.stdout);
}

#[test]
fn the_seed_config_runs_in_a_user_binary_is_read_by_ml_metadata_and_is_reused() {
    let dir = wine_workspace();
    wine(dir.path(), &["init"]).ok();
    let seed = config("Seed", WINE_PREPROCESSER, SEED_ARGS);
    assert_eq!(
        run_config(dir.path(), "seed.yaml", &seed),
        ["complete"; 5],
        "everything runs the first time"
    );
    // The recorded definition is the file, unchanged.
    let got = wine(dir.path(), &["pipeline", "get", "Seed"]).ok();
    assert_eq!(got.stdout, seed);

    // Run again: every step is reused.
    std::fs::write(dir.path().join("seed.yaml"), &seed).expect("rewritten");
    let again = wine(dir.path(), &["pipeline", "run", "seed.yaml", "--json"]).ok();
    assert_eq!(step_states(&again), ["cached"; 5]);

    // Only the learning rate changes: only the trainer and the evaluator run.
    let lr = config(
        "Seed lr",
        WINE_PREPROCESSER,
        &SEED_ARGS.replace("lr: 0.001", "lr: 0.01"),
    );
    assert_eq!(
        run_config(dir.path(), "lr.yaml", &lr),
        ["cached", "cached", "cached", "complete", "complete"]
    );

    // The trained network, loaded in this process, evaluates exactly as in the process that
    // trained it.
    let repo = Repository::open(dir.path()).expect("the repository");
    for pipeline in ["Seed", "Seed lr"] {
        let steps = first_steps(&repo, pipeline);
        let trainer = step(&steps, "trainer");
        let model_record = repo
            .get_artifact(output(trainer, "model"))
            .expect("the model");
        let eval_record = repo
            .get_artifact(output(step(&steps, "preprocesser"), "eval"))
            .expect("the eval table");
        let model = repo
            .load_artifact::<Trained<FeedForwardTrainer>>(&model_record)
            .expect("the model loads");
        let eval = repo.load_artifact::<Table>(&eval_record).expect("eval");
        let metrics = model.evaluate(&eval).expect("evaluated");
        let recorded = &step(&steps, "evaluator").metrics;
        assert_eq!(recorded.len(), metrics.len(), "{recorded:?} vs {metrics:?}");
        for (name, value) in recorded {
            assert_eq!(
                metrics.get(name).map(f64::to_bits),
                Some(value.to_bits()),
                "`{name}` of {pipeline}: {recorded:?} vs {metrics:?}"
            );
        }
        let accuracy = metrics.get("accuracy").unwrap_or(0.0);
        assert!(accuracy > 0.8, "{pipeline}: {metrics:?}");
        assert_eq!(model.features().len(), 11);
        assert_eq!(model_record.materializer, "zenml.safetensors@1");
    }
    drop(repo);

    // Google's ML Metadata reads the ten parameters with their types; the nulls are simply
    // absent.
    let reader = match disk::mlmd_reader() {
        Ok(r) => r,
        Err(why) => {
            zenml_core::store::conformance::skip(
                "the_seed_config_runs_in_a_user_binary_is_read_by_ml_metadata_and_is_reused",
                &why,
            );
            return;
        }
    };
    let json = disk::mlmd_read(&reader, &dir.path().join(".zenml").join("metadata.db"));
    let types = json["types"]["execution"]
        .as_array()
        .expect("execution types");
    let ty = types
        .iter()
        .find(|t| t["name"] == "zenml::candle::FeedForwardTrainer")
        .unwrap_or_else(|| panic!("no trainer type in {types:#?}"));
    let declared: Vec<(&str, &str)> = ty["properties"]
        .as_object()
        .expect("properties")
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("?")))
        .collect();
    assert_eq!(
        declared,
        [
            ("batch_size", "INT"),
            ("dropout_chance", "DOUBLE"),
            ("epochs", "INT"),
            ("hidden_activation", "STRING"),
            ("hidden_layers", "STRING"),
            ("last_activation", "STRING"),
            ("loss", "STRING"),
            ("lr", "DOUBLE"),
            ("metrics", "STRING"),
            ("output_units", "INT"),
        ]
    );
    let executions = json["executions"].as_array().expect("executions");
    let trained: Vec<&J> = executions
        .iter()
        .filter(|e| e["type"] == "zenml::candle::FeedForwardTrainer")
        .collect();
    assert_eq!(trained.len(), 3, "Seed#1, its cached rerun, Seed lr#1");
    let first = trained
        .iter()
        .find(|e| e["state"] == "COMPLETE" && e["properties"]["lr"] == 0.001)
        .expect("the first training");
    let expected = serde_json::json!({
        "batch_size": 1,
        "dropout_chance": 0.2,
        "epochs": 1,
        "hidden_activation": "relu",
        "last_activation": "sigmoid",
        "loss": "mse",
        "lr": 0.001,
        "output_units": 1,
    });
    assert_eq!(first["properties"], expected);
    assert!(first["properties"]["batch_size"].is_i64());
    assert!(first["properties"]["dropout_chance"].is_f64());
}

#[test]
fn the_wine_example_compares_two_learning_rates_reusing_everything_before_the_trainer() {
    let dir = wine_workspace();
    let out = run_example(EXAMPLE, dir.path()).ok();
    let rows: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("Wine "))
        .collect();
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    assert!(
        rows[0].starts_with("Wine A#1") && rows[0].contains("0.001"),
        "{rows:?}"
    );
    assert!(
        rows[1].starts_with("Wine B#1") && rows[1].contains("0.01"),
        "{rows:?}"
    );
    let header = out
        .stdout
        .lines()
        .find(|l| l.starts_with("run "))
        .expect("a header");
    for column in ["lr", "accuracy", "loss", "eval_accuracy", "train_seconds"] {
        assert!(
            header.split_whitespace().any(|c| c == column),
            "{column} in {header}"
        );
    }

    let repo = Repository::open(dir.path()).expect("the repository");
    let b = first_steps(&repo, "Wine B");
    let cached: Vec<&str> = b
        .iter()
        .filter(|e| e.cached_from.is_some())
        .map(|e| e.step_name.as_str())
        .collect();
    assert_eq!(cached, ["datasource", "split", "preprocesser"]);
    let comparison = repo.compare_training_runs().expect("a comparison");
    assert_eq!(comparison.rows.len(), 2);
    for row in &comparison.rows {
        assert!(row.metric("accuracy").is_some(), "{row:?}");
        assert!(row.metric("eval_loss").is_some(), "{row:?}");
    }
    assert_ne!(
        comparison.rows[0].metric("loss"),
        comparison.rows[1].metric("loss"),
        "another learning rate, another network"
    );
}
