//! Wine quality: a neural network (candle) tells good red wines from the others, then a copy of
//! the pipeline trains it with another learning rate.
//!
//! ```text
//! cargo run --release --features candle --example wine_quality
//! ```
//!
//! Run it from the project's root (it reads `examples/data/winequality-red.csv`; see
//! `examples/data/README.md` for its source and licence). "Wine A" reads the data, splits it,
//! standardises the eleven measurements and labels the wines scored 7 or more as good
//! (`WinePreprocesser`, below), trains a `FeedForwardTrainer` and evaluates it with
//! `FeedForwardMetrics`. "Wine B" is a copy with another learning rate: everything before the
//! trainer is reused from the cache. The comparison of both runs is printed at the end.
//!
//! The binary also serves the whole `zenml` command line with these steps linked in, so a config
//! written by hand that names them runs:
//!
//! ```text
//! cargo run --features candle --example wine_quality -- zenml pipeline run wine.yaml
//! ```

use std::process::ExitCode;

use zenml::candle::{FEED_FORWARD_LABEL, FeedForwardMetrics, FeedForwardTrainer};
use zenml::prelude::*;
use zenml::steps::{CsvDatasource, RandomSplit, ScalerState, StandardScaler};
use zenml::{Repository, TrainingPipeline};

const DATA: &str = "examples/data/winequality-red.csv";

/// Standardises the measurements (mean 0, standard deviation 1 on train) and replaces the
/// `quality` score by a `label` column, the one a `FeedForwardTrainer` learns: 1 for a good wine
/// (scored `good_from` or more), else 0.
#[step]
#[derive(Debug)]
pub struct WinePreprocesser {
    /// The lowest quality score of a good wine.
    #[param(default = 7)]
    pub good_from: u32,
}

impl WinePreprocesser {
    fn scaler() -> StandardScaler {
        StandardScaler {
            exclude: "quality".into(),
        }
    }
}

#[step]
impl PreprocesserStep for WinePreprocesser {
    type State = ScalerState;

    fn fit(&self, ctx: &mut StepContext, train: &Table) -> StepResult<ScalerState> {
        Self::scaler().fit(ctx, train)
    }

    fn transform(
        &self,
        ctx: &mut StepContext,
        state: &ScalerState,
        data: &Table,
    ) -> StepResult<Table> {
        let scaled = Self::scaler().transform(ctx, state, data)?;
        let mut names: Vec<&str> = state.columns.iter().map(String::as_str).collect();
        let mut m = scaled.to_ndarray(&names)?;
        let good: Vec<f64> = data
            .column_f64("quality")?
            .into_iter()
            .map(|q| {
                if q >= f64::from(self.good_from) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        m.push_column(ndarray::ArrayView1::from(&good))?;
        names.push(FEED_FORWARD_LABEL);
        Ok(Table::from_ndarray(&names, &m)?)
    }
}

/// The trainer of "Wine A".
fn trainer(lr: f64) -> FeedForwardTrainer {
    FeedForwardTrainer {
        batch_size: 32,
        epochs: 20,
        hidden_layers: Some("32,16".into()),
        lr,
        metrics: Some("accuracy".into()),
        ..FeedForwardTrainer::default()
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    if !std::path::Path::new(DATA).exists() {
        return Err(format!("{DATA} not found: run the example from the project's root").into());
    }
    let repo = Repository::open_or_init(".")?;

    let a = TrainingPipeline::new("Wine A")
        .add_datasource(CsvDatasource::new(DATA))
        .add_split(RandomSplit {
            train_ratio: 0.8,
            ..RandomSplit::default()
        })
        .add_preprocesser(WinePreprocesser::default())
        .add_trainer(trainer(0.001))
        .add_evaluator(FeedForwardMetrics {});
    repo.run(&a)?;

    // The same pipeline with another learning rate: only the trainer and the evaluator run.
    let b = repo
        .get_pipeline_by_name("Wine A")?
        .copy("Wine B")
        .add_trainer(trainer(0.01));
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
