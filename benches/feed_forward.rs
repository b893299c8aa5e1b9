//! What the feed-forward trainer costs on the CPU, and what the framework adds around it.
//!
//! ```text
//! cargo bench --features candle --bench feed_forward            # 20,000 rows
//! ZENML_BENCH_ROWS=5000 cargo bench --features candle --bench feed_forward
//! ```
//!
//! One fixed model: `FeedForwardTrainer` with its default layers (64, 32 and 16 relu units,
//! dropout 0.2, one sigmoid output, mean squared error, Adam) on synthetic rows of eleven features
//! (the width of the wine data) and a 0/1 label.
//!
//! 1. **Trainer alone**: `fit` called directly, for batch sizes 1 (the classic default), 32 and
//!    256: training samples per second (rows × epochs / seconds).
//! 2. **Inside a pipeline**: the same training as the trainer step of a pipeline in a temporary
//!    repository (SQLite metadata store, local artifact folder). The step's wall time (cache key,
//!    reading the inputs, recording the execution, the training, writing, hashing and publishing
//!    the model, completing the execution) beside the trainer's own time (`train_seconds`, which
//!    `fit` records): the difference is the framework's overhead for the step.
//!
//! It prints figures and asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zenml::candle::{FeedForwardMetrics, FeedForwardTrainer, fit};
use zenml::prelude::*;
use zenml::runner::QuietProgress;
use zenml::step::StepLog;
use zenml::steps::RandomSplit;

/// Deterministic synthetic data: eleven features in [-1, 1] and a label that depends on them.
#[step]
#[derive(Debug)]
pub struct Synthetic {
    /// How many rows.
    #[param(default = 20_000)]
    pub rows: u32,
}

fn synthetic(rows: usize) -> Result<Table, Box<dyn std::error::Error + Send + Sync>> {
    const FEATURES: usize = 11;
    let mut m = ndarray::Array2::<f64>::zeros((rows, FEATURES + 1));
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for i in 0..rows {
        let mut score = 0.0;
        for j in 0..FEATURES {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            #[allow(clippy::cast_precision_loss)]
            let x = (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            m[[i, j]] = x;
            #[allow(clippy::cast_precision_loss)]
            let weight = (j as f64 - 5.0) / 5.0;
            score += weight * x;
        }
        m[[i, FEATURES]] = if score > 0.0 { 1.0 } else { 0.0 };
    }
    let names: Vec<String> = (0..FEATURES)
        .map(|j| format!("x{j}"))
        .chain(["label".to_owned()])
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    Ok(Table::from_ndarray(&refs, &m)?)
}

#[step]
impl DatasourceStep for Synthetic {
    fn read(&self, _ctx: &mut StepContext) -> StepResult<Table> {
        synthetic(usize::try_from(self.rows)?)
    }
}

/// Drops log lines.
struct Silent;

impl StepLog for Silent {
    fn log(&self, _step: &str, _message: &str) {}
}

fn trainer(batch_size: u32, epochs: u32) -> FeedForwardTrainer {
    FeedForwardTrainer {
        batch_size,
        epochs,
        ..FeedForwardTrainer::default()
    }
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The median, the minimum and the maximum (sorts `values`).
fn median_min_max(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    (values[n / 2], values[0], values[n - 1])
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let rows: usize = std::env::var("ZENML_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    println!(
        "feed-forward trainer on the CPU: layers 11 → 64 → 32 → 16 → 1 (relu, dropout 0.2, \
         sigmoid), mse, Adam; {rows} rows"
    );
    println!(
        "candle worker threads: {}",
        std::thread::available_parallelism().map_or(1, usize::from)
    );

    // 1. The trainer alone.
    let data = synthetic(rows)?;
    let eval = synthetic(rows / 10)?;
    println!("\ntrainer alone (`fit` called directly):");
    for (batch, epochs) in [(1u32, 1u32), (32, 3), (256, 10)] {
        let mut ctx = StepContext::new("bench", "bench#1", 1, "trainer", std::env::temp_dir(), {
            Arc::new(Silent)
        });
        let started = Instant::now();
        fit(&trainer(batch, epochs), &mut ctx, &data, &eval)?;
        let elapsed = seconds(started.elapsed());
        #[allow(clippy::cast_precision_loss)]
        let samples = (rows * epochs as usize) as f64;
        println!(
            "  batch {batch:>4}, {epochs:>2} epoch(s): {elapsed:>7.2} s  {:>9.0} samples/s  \
             ({:.1} µs per sample)",
            samples / elapsed,
            elapsed / samples * 1e6
        );
    }

    // 2. Inside a pipeline, the cache off so that every run trains.
    const RUNS: usize = 5;
    let dir = tempfile::tempdir()?;
    let repo = Repository::init(dir.path())?;
    let options = repo
        .options()
        .clone()
        .with_progress(Arc::new(QuietProgress))
        .with_cache(false);
    let repo = repo.with_options(options);
    println!(
        "\ninside a pipeline (SQLite metadata store, local artifact folder; {RUNS} runs each, the \
         cache off; the split keeps 10/11 of the rows for training):"
    );
    for (batch, epochs) in [(32u32, 3u32), (256, 10)] {
        let name = format!("bench batch {batch}");
        let rows_param = u32::try_from(rows)?;
        let pipeline = TrainingPipeline::new(&name)
            .add_datasource(Synthetic { rows: rows_param })
            .add_split(RandomSplit {
                train_ratio: 10.0 / 11.0,
                ..RandomSplit::default()
            })
            .add_trainer(trainer(batch, epochs))
            .add_evaluator(FeedForwardMetrics {});
        let mut overheads = Vec::with_capacity(RUNS);
        let mut rates = Vec::with_capacity(RUNS);
        let mut model_bytes = 0;
        let mut evaluator = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let summary = repo.run(&pipeline)?;
            let step = summary.step("trainer").ok_or("no trainer step")?;
            let run = repo.get_run(&summary.run.name)?;
            let executions = repo.get_run_steps(&run)?;
            let record = executions
                .iter()
                .find(|e| e.step_name == "trainer")
                .ok_or("no trainer execution")?;
            let train = record
                .metrics
                .iter()
                .find(|(n, _)| n == "train_seconds")
                .map(|(_, v)| *v)
                .ok_or("no train_seconds")?;
            // RandomSplit's share of the rows, rounded as it rounds.
            #[allow(clippy::cast_precision_loss)]
            let train_rows = (rows as f64 * 10.0 / 11.0).round();
            overheads.push(seconds(step.elapsed) - train);
            rates.push(train_rows * f64::from(epochs) / train);
            model_bytes = step
                .outputs
                .iter()
                .find(|(n, _)| n == "model")
                .map_or(0, |(_, a)| a.size);
            evaluator.push(
                summary
                    .step("evaluator")
                    .map_or(0.0, |s| seconds(s.elapsed)),
            );
        }
        let (overhead, lo, hi) = median_min_max(&mut overheads);
        let (rate, _, _) = median_min_max(&mut rates);
        let (eval, _, _) = median_min_max(&mut evaluator);
        println!(
            "  batch {batch:>4}, {epochs:>2} epoch(s): trainer {rate:>9.0} samples/s; step \
             overhead median {:.1} ms (min {:.1}, max {:.1}); model {model_bytes} bytes; \
             evaluator step {:.1} ms",
            overhead * 1e3,
            lo * 1e3,
            hi * 1e3,
            eval * 1e3
        );
    }
    Ok(())
}
