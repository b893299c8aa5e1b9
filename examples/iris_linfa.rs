//! The ready linfa steps: a whole training pipeline without a single step written by hand.
//!
//! ```text
//! cargo run --features linfa --example iris_linfa
//! ```
//!
//! Run it from the project's root (it reads `examples/data/iris.csv`). "Iris logistic" classifies
//! the species with `zenml::linfa::LogisticRegression` and evaluates it with
//! `ClassificationMetrics`; "Iris tree" is a copy with a `DecisionTree` instead, which reuses the
//! datasource, split and scaler from the cache; "Iris petal width" predicts a measurement with
//! `RidgeRegression` and evaluates it with `RegressionMetrics`. The comparison of the runs is
//! printed at the end.
//!
//! Like the quickstart, the binary serves the whole `zenml` command line:
//! `cargo run --features linfa --example iris_linfa -- zenml step list`.

use std::process::ExitCode;

use zenml::linfa::{
    ClassificationMetrics, DecisionTree, LogisticRegression, RegressionMetrics, RidgeRegression,
};
use zenml::steps::{CsvDatasource, RandomSplit, StandardScaler};
use zenml::{Repository, TrainingPipeline};

const DATA: &str = "examples/data/iris.csv";

fn run() -> Result<(), Box<dyn std::error::Error>> {
    if !std::path::Path::new(DATA).exists() {
        return Err(format!("{DATA} not found: run the example from the project's root").into());
    }
    let repo = Repository::open_or_init(".")?;

    let logistic = TrainingPipeline::new("Iris logistic")
        .add_datasource(CsvDatasource::new(DATA))
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
        .add_evaluator(ClassificationMetrics {});
    repo.run(&logistic)?;

    let tree = repo
        .get_pipeline_by_name("Iris logistic")?
        .copy("Iris tree")
        .add_trainer(DecisionTree {
            label: "species".into(),
            max_depth: Some(3),
            ..DecisionTree::default()
        });
    repo.run(&tree)?;

    let width = repo
        .get_pipeline_by_name("Iris logistic")?
        .copy("Iris petal width")
        .add_preprocesser(StandardScaler {
            exclude: "species,petal_width".into(),
        })
        .add_trainer(RidgeRegression {
            label: "petal_width".into(),
            alpha: 0.01,
            ..RidgeRegression::default()
        })
        .add_evaluator(RegressionMetrics {});
    repo.run(&width)?;

    println!("\n{}", repo.compare_training_runs()?);
    Ok(())
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("zenml") {
        return zenml::cli::main_with_args(std::env::args_os().skip(1));
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
