//! Quickstart: classify iris flowers with a training pipeline, then train a variant of it.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Run it from the project's root (it reads `examples/data/iris.csv`). It records everything in a
//! repository (`.zenml/`: a SQLite metadata store in ML Metadata's schema, and a local artifact
//! folder) in the working directory. Run it twice: the second time every step is reused from the
//! cache.
//!
//! The binary also serves the whole `zenml` command line with this example's steps linked in,
//! which the generic `zenml` binary cannot do (it does not link them):
//!
//! ```text
//! cargo run --example quickstart -- zenml run list
//! cargo run --example quickstart -- zenml pipeline run my-config.yaml
//! ```

use std::process::ExitCode;

use linfa::prelude::*;
use linfa_logistic::{MultiFittedLogisticRegression, MultiLogisticRegression};
use zenml::prelude::*;
use zenml::steps::{CsvDatasource, RandomSplit, StandardScaler};
use zenml::{Repository, TrainingPipeline};

const DATA: &str = "examples/data/iris.csv";

/// Multinomial logistic regression (linfa), on every numeric column but the label.
#[step(version = 1)]
#[derive(Debug)]
pub struct LogisticTrainer {
    /// The column holding the class (an integer from 0).
    #[param(default = "species")]
    pub label: String,
    /// L2 regularisation strength.
    #[param(default = 1.0)]
    pub alpha: f64,
    /// The optimiser's iteration budget.
    #[param(default = 100)]
    pub max_iterations: u32,
}

/// A trained classifier with the feature columns it reads.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Classifier {
    features: Vec<String>,
    label: String,
    model: MultiFittedLogisticRegression<f64, usize>,
}

fn labels(table: &Table, label: &str) -> StepResult<ndarray::Array1<usize>> {
    table
        .column_f64(label)?
        .into_iter()
        .map(|v| {
            if v >= 0.0 && v.fract() == 0.0 {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(v as usize)
            } else {
                Err(format!("label `{label}` must hold class numbers 0, 1, 2…; found {v}").into())
            }
        })
        .collect()
}

#[step]
impl TrainerStep for LogisticTrainer {
    type Model = Classifier;

    fn train(&self, ctx: &mut StepContext, train: &Table, _eval: &Table) -> StepResult<Classifier> {
        let (features, x) = train.numeric_matrix(&[&self.label])?;
        let y = labels(train, &self.label)?;
        let model = MultiLogisticRegression::default()
            .alpha(self.alpha)
            .max_iterations(u64::from(self.max_iterations))
            .fit(&Dataset::new(x, y))?;
        ctx.log(format_args!(
            "fitted on {} rows, {} features",
            train.num_rows(),
            features.len()
        ));
        Ok(Classifier {
            features,
            label: self.label.clone(),
            model,
        })
    }
}

/// Accuracy and macro-averaged F1 on the eval split.
#[step]
#[derive(Debug)]
pub struct ClassificationMetrics {}

#[step]
impl EvaluatorStep for ClassificationMetrics {
    type Model = Classifier;

    fn evaluate(
        &self,
        _ctx: &mut StepContext,
        model: &Classifier,
        eval: &Table,
    ) -> StepResult<Metrics> {
        let names: Vec<&str> = model.features.iter().map(String::as_str).collect();
        let x = eval.to_ndarray(&names)?;
        let truth = labels(eval, &model.label)?;
        let predicted = model.model.predict(&x);
        let classes = truth
            .iter()
            .chain(predicted.iter())
            .max()
            .map_or(0, |m| m + 1);
        let mut f1_sum = 0.0;
        for c in 0..classes {
            let tp = truth
                .iter()
                .zip(&predicted)
                .filter(|(t, p)| **t == c && **p == c)
                .count();
            let fp = truth
                .iter()
                .zip(&predicted)
                .filter(|(t, p)| **t != c && **p == c)
                .count();
            let fn_ = truth
                .iter()
                .zip(&predicted)
                .filter(|(t, p)| **t == c && **p != c)
                .count();
            if tp > 0 {
                #[allow(clippy::cast_precision_loss)]
                let f1 = 2.0 * tp as f64 / (2 * tp + fp + fn_) as f64;
                f1_sum += f1;
            }
        }
        let correct = truth.iter().zip(&predicted).filter(|(t, p)| t == p).count();
        #[allow(clippy::cast_precision_loss)]
        let metrics = Metrics::new()
            .with("accuracy", correct as f64 / truth.len().max(1) as f64)
            .with("f1_macro", f1_sum / classes.max(1) as f64);
        Ok(metrics)
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    if !std::path::Path::new(DATA).exists() {
        return Err(format!("{DATA} not found: run the quickstart from the project's root").into());
    }
    let repo = Repository::open_or_init(".")?;

    let a = TrainingPipeline::new("Pipeline A")
        .add_datasource(CsvDatasource::new(DATA))
        .add_split(RandomSplit {
            train_ratio: 0.7,
            ..RandomSplit::default()
        })
        .add_preprocesser(StandardScaler {
            exclude: "species".into(),
        })
        .add_trainer(LogisticTrainer::default())
        .add_evaluator(ClassificationMetrics {});
    repo.run(&a)?;

    // A pipeline that has run is immutable: rebuild it from the store, copy it, change the
    // trainer. Datasource, split and preprocesser come from the cache.
    let b = repo
        .get_pipeline_by_name("Pipeline A")?
        .copy("Pipeline B")
        .add_trainer(LogisticTrainer {
            alpha: 0.01,
            ..LogisticTrainer::default()
        });
    repo.run(&b)?;

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
