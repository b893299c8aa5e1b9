//! The ready linfa steps in whole pipelines: trainers and evaluators with no step written by hand,
//! their configs, their parameter checks, and the example that shows them.
#![cfg(feature = "linfa")]

mod common;
#[cfg(feature = "cli")]
#[path = "common/process.rs"]
mod process;

use common::*;
use zenml::linfa::{
    ClassificationMetrics, Classifier, DecisionTree, LinearRegression, LogisticRegression,
    RegressionMetrics, RidgeRegression, SplitQuality,
};
use zenml::pipeline::PipelineError;
use zenml::prelude::*;
use zenml::steps::{CsvDatasource, RandomSplit, StandardScaler};

fn iris(name: &str) -> Pipeline {
    TrainingPipeline::new(name)
        .add_datasource(CsvDatasource::new(iris_path()))
        .add_split(RandomSplit {
            train_ratio: 0.7,
            ..RandomSplit::default()
        })
        .add_preprocesser(StandardScaler {
            exclude: "species".into(),
        })
        .add_trainer(LogisticRegression {
            label: "species".into(),
            ..LogisticRegression::default()
        })
        .add_evaluator(ClassificationMetrics {})
}

/// The metrics the evaluator of `pipeline`'s latest run recorded.
fn evaluator_metrics(repo: &Repository, pipeline: &str) -> Metrics {
    let run = repo.get_latest_run(pipeline).expect("a run");
    let steps = repo.get_run_steps(&run).expect("its steps");
    let evaluator = steps
        .iter()
        .find(|e| e.step_name == "evaluator")
        .expect("an evaluator");
    evaluator
        .metrics
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect()
}

#[test]
fn classifiers_train_and_are_evaluated_with_accuracy_f1_and_confusion_counts() {
    let repo = memory_repo();
    repo.run(&iris("logistic")).unwrap();
    let logistic = evaluator_metrics(&repo, "logistic");
    assert!(logistic.get("accuracy").unwrap() > 0.9, "{logistic:?}");
    assert!(logistic.get("f1_macro").unwrap() > 0.9, "{logistic:?}");
    let confusion: f64 = logistic
        .iter()
        .filter(|(k, _)| k.starts_with("confusion_"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(
        confusion, 45.0,
        "every eval row is counted once: {logistic:?}"
    );
    assert_eq!(
        logistic
            .iter()
            .filter(|(k, _)| k.starts_with("confusion_"))
            .count(),
        9,
        "three classes"
    );

    let tree = iris("tree").add_trainer(DecisionTree {
        label: "species".into(),
        max_depth: Some(3),
        split_quality: SplitQuality::Entropy,
        ..DecisionTree::default()
    });
    let summary = repo.run(&tree).unwrap();
    assert_eq!(summary.cached(), ["datasource", "split", "preprocesser"]);
    let tree_metrics = evaluator_metrics(&repo, "tree");
    assert!(
        tree_metrics.get("accuracy").unwrap() > 0.85,
        "{tree_metrics:?}"
    );

    // The model is a serde artifact: it loads and predicts outside the pipeline.
    let run = repo.get_latest_run("tree").unwrap();
    let steps = repo.get_run_steps(&run).unwrap();
    let trainer = steps.iter().find(|e| e.step_name == "trainer").unwrap();
    let record = repo.get_artifact(trainer.outputs[0].1).unwrap();
    let model = repo.load_artifact::<Classifier>(&record).unwrap();
    assert_eq!(model.features.len(), 4);
    let data = zenml::artifact::Table::read_csv(iris_path()).unwrap();
    let predicted = model.predict(&data).unwrap();
    assert_eq!(predicted.len(), 150);
}

#[test]
fn regressors_train_and_are_evaluated_with_rmse_mae_and_r2() {
    let repo = memory_repo();
    let scaler = StandardScaler {
        exclude: "species,petal_width".into(),
    };
    let linear = iris("linear")
        .add_preprocesser(scaler)
        .add_trainer(LinearRegression {
            label: "petal_width".into(),
            ..LinearRegression::default()
        })
        .add_evaluator(RegressionMetrics {});
    repo.run(&linear).unwrap();
    let ols = evaluator_metrics(&repo, "linear");
    assert!(ols.get("r2").unwrap() > 0.9, "{ols:?}");
    assert!(ols.get("rmse").unwrap() < 0.3, "{ols:?}");
    assert!(
        ols.get("mae").unwrap() <= ols.get("rmse").unwrap(),
        "{ols:?}"
    );

    let ridge = linear.copy("ridge").add_trainer(RidgeRegression {
        label: "petal_width".into(),
        alpha: 0.01,
        ..RidgeRegression::default()
    });
    repo.run(&ridge).unwrap();
    let light = evaluator_metrics(&repo, "ridge");
    assert!(light.get("r2").unwrap() > 0.9, "{light:?}");
    let heavy = linear.copy("heavy ridge").add_trainer(RidgeRegression {
        label: "petal_width".into(),
        alpha: 10.0,
        ..RidgeRegression::default()
    });
    repo.run(&heavy).unwrap();
    let heavy = evaluator_metrics(&repo, "heavy ridge");
    assert!(
        heavy.get("r2").unwrap() < light.get("r2").unwrap(),
        "a heavy penalty fits worse: {heavy:?} vs {light:?}"
    );
}

#[test]
fn a_config_names_the_ready_steps_and_their_parameters() {
    let text = "\
version: 1
name: tree
template: training
steps:
  datasource:
    source: zenml::steps::CsvDatasource@1
    args:
      path: examples/data/iris.csv
  split:
    source: zenml::steps::RandomSplit@1
    args:
      seed: 42
      train_ratio: 0.7
    inputs:
      data: datasource.data
  trainer:
    source: zenml::linfa::DecisionTree@1
    args:
      label: species
      max_depth: null
      min_impurity_decrease: 0.00001
      min_weight_leaf: 1.0
      min_weight_split: 2.0
      split_quality: entropy
    inputs:
      eval: split.eval
      train: split.train
  evaluator:
    source: zenml::linfa::ClassificationMetrics@1
    args: {}
    inputs:
      eval: split.eval
      model: trainer.model
";
    let p = Pipeline::from_yaml(text).unwrap();
    assert_eq!(p.to_yaml(), text);

    let bad = text.replace("split_quality: entropy", "split_quality: chaos");
    let e = Pipeline::from_yaml(&bad).unwrap_err().to_string();
    assert!(
        e.contains("\"chaos\" is not a variant of SplitQuality; expected one of: gini, entropy"),
        "{e}"
    );

    let e = iris("bad")
        .add_trainer(LogisticRegression {
            label: "species".into(),
            alpha: -1.0,
            ..LogisticRegression::default()
        })
        .validate()
        .unwrap_err();
    assert!(
        matches!(&e, PipelineError::InvalidParam { step, param, .. } if step == "trainer" && param == "alpha"),
        "{e}"
    );
}

#[cfg(feature = "cli")]
#[test]
fn the_iris_linfa_example_needs_no_hand_written_step() {
    let dir = process::workspace();
    let out = process::run_example("iris_linfa", dir.path()).ok();
    let rows: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("Iris "))
        .collect();
    assert_eq!(rows.len(), 3, "{}", out.stdout);
    let steps = process::example_zenml("iris_linfa", dir.path(), &["step", "list"]).ok();
    for step in [
        "zenml::linfa::LogisticRegression",
        "zenml::linfa::DecisionTree",
        "zenml::linfa::LinearRegression",
        "zenml::linfa::RidgeRegression",
        "zenml::linfa::ClassificationMetrics",
        "zenml::linfa::RegressionMetrics",
    ] {
        assert!(steps.stdout.contains(step), "{step} in {}", steps.stdout);
    }
}
