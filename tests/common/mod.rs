//! Steps and helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zenml::prelude::*;
use zenml::runner::RunOptions;
use zenml::store::memory::MemoryMetadataStore;
use zenml::store::{ArtifactStore, MetadataQuery};

/// The iris data shipped with the examples.
pub fn iris_path() -> String {
    format!("{}/examples/data/iris.csv", env!("CARGO_MANIFEST_DIR"))
}

/// A fresh in-memory metadata store and artifact store.
pub fn memory_stores() -> (Arc<dyn MetadataQuery>, Arc<dyn ArtifactStore>) {
    let artifacts = zenml::store::open_artifact_store("memory://", Path::new("."))
        .expect("the memory artifact store is linked");
    (Arc::new(MemoryMetadataStore::new()), artifacts)
}

/// A repository over fresh in-memory stores, printing nothing.
pub fn memory_repo() -> Repository {
    let (m, a) = memory_stores();
    Repository::with_stores(m, a).with_options(quiet())
}

/// Run options that print nothing.
pub fn quiet() -> RunOptions {
    RunOptions::quiet()
}

/// A nearest-centroid classifier: the mean of every feature per class, shrunk towards the
/// overall mean by `shrink`.
#[step]
#[derive(Debug)]
pub struct CentroidTrainer {
    /// The label column (class numbers).
    #[param(default = "species")]
    pub label: String,
    /// How far to pull each centroid towards the overall mean, 0 to 1.
    #[param(default = 0.0)]
    pub shrink: f64,
}

/// The fitted centroids.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Centroids {
    pub features: Vec<String>,
    pub label: String,
    pub classes: Vec<i64>,
    pub centroids: Vec<Vec<f64>>,
}

#[allow(clippy::cast_possible_truncation)]
fn class_of(v: f64) -> i64 {
    v as i64
}

#[step]
impl TrainerStep for CentroidTrainer {
    type Model = Centroids;

    fn train(&self, ctx: &mut StepContext, train: &Table, _eval: &Table) -> StepResult<Centroids> {
        let (features, x) = train.numeric_matrix(&[&self.label])?;
        let y = train.column_f64(&self.label)?;
        let overall: Vec<f64> = x
            .columns()
            .into_iter()
            .map(|c| c.mean().unwrap_or(0.0))
            .collect();
        let mut sums: BTreeMap<i64, (Vec<f64>, f64)> = BTreeMap::new();
        for (row, label) in x.rows().into_iter().zip(&y) {
            let e = sums
                .entry(class_of(*label))
                .or_insert_with(|| (vec![0.0; features.len()], 0.0));
            for (s, v) in e.0.iter_mut().zip(row.iter()) {
                *s += v;
            }
            e.1 += 1.0;
        }
        let classes: Vec<i64> = sums.keys().copied().collect();
        let centroids = sums
            .values()
            .map(|(s, n)| {
                s.iter()
                    .zip(&overall)
                    .map(|(v, m)| (1.0 - self.shrink) * (v / n) + self.shrink * m)
                    .collect()
            })
            .collect();
        ctx.record_metric("train_rows", train.num_rows() as f64);
        Ok(Centroids {
            features,
            label: self.label.clone(),
            classes,
            centroids,
        })
    }
}

impl Centroids {
    pub fn predict(&self, row: &[f64]) -> i64 {
        let mut best = (f64::INFINITY, 0);
        for (c, centroid) in self.classes.iter().zip(&self.centroids) {
            let d: f64 = centroid.iter().zip(row).map(|(a, b)| (a - b).powi(2)).sum();
            if d < best.0 {
                best = (d, *c);
            }
        }
        best.1
    }
}

/// The share of eval rows classified right.
#[step]
#[derive(Debug)]
pub struct Accuracy {}

#[step]
impl EvaluatorStep for Accuracy {
    type Model = Centroids;

    fn evaluate(
        &self,
        _ctx: &mut StepContext,
        model: &Centroids,
        eval: &Table,
    ) -> StepResult<Metrics> {
        let names: Vec<&str> = model.features.iter().map(String::as_str).collect();
        let x = eval.to_ndarray(&names)?;
        let y = eval.column_f64(&model.label)?;
        let right = x
            .rows()
            .into_iter()
            .zip(&y)
            .filter(|(row, label)| model.predict(&row.to_vec()) == class_of(**label))
            .count();
        Ok(Metrics::new().with("accuracy", right as f64 / y.len().max(1) as f64))
    }
}

/// A table of `n` rows: `x` = 0, scale, 2·scale, …
#[step]
#[derive(Debug)]
pub struct Numbers {
    #[param(default = 10)]
    pub n: u32,
    #[param(default = 1.0)]
    pub scale: f64,
}

#[step]
impl Step for Numbers {
    fn inputs(&self) -> Vec<IoSpec> {
        Vec::new()
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("numbers")]
    }
    fn run(&self, _ctx: &mut StepContext, _inputs: &Inputs) -> StepResult<Outputs> {
        let values: Vec<f64> = (0..self.n).map(|i| f64::from(i) * self.scale).collect();
        let m = ndarray::Array2::from_shape_vec((values.len(), 1), values)?;
        Ok(Outputs::new().with("numbers", Table::from_ndarray(&["x"], &m)?))
    }
}

/// The sum of a table's `x` column.
#[step]
#[derive(Debug)]
pub struct Sum {}

#[step]
impl Step for Sum {
    fn inputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("numbers")]
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<f64>("total")]
    }
    fn run(&self, _ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        let t: &Table = inputs.get("numbers")?;
        Ok(Outputs::new().with("total", t.column_f64("x")?.iter().sum::<f64>()))
    }
}

/// `a + b + offset`.
#[step]
#[derive(Debug)]
pub struct Add {
    #[param(default = 0.0)]
    pub offset: f64,
}

#[step]
impl Step for Add {
    fn inputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<f64>("a"), IoSpec::new::<f64>("b")]
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<f64>("sum")]
    }
    fn run(&self, _ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        let a: &f64 = inputs.get("a")?;
        let b: &f64 = inputs.get("b")?;
        Ok(Outputs::new().with("sum", a + b + self.offset))
    }
}

/// Fails (or panics) when `fail` is set; passes its input on otherwise.
#[step]
#[derive(Debug)]
pub struct MaybeFail {
    #[param(default = false)]
    pub fail: bool,
    #[param(default = false)]
    pub panic: bool,
}

#[step]
impl Step for MaybeFail {
    fn inputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<f64>("x")]
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<f64>("y")]
    }
    fn run(&self, _ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        let x: &f64 = inputs.get("x")?;
        if self.panic {
            panic!("MaybeFail was told to panic");
        }
        if self.fail {
            return Err("MaybeFail was told to fail".into());
        }
        Ok(Outputs::new().with("y", *x))
    }
}

/// When each `Sleep` step ran, by label.
pub static SLEEPS: Mutex<Vec<(String, Instant, Instant)>> = Mutex::new(Vec::new());

/// Sleeps, and notes when; outputs its label's length.
#[step]
#[derive(Debug)]
pub struct Sleep {
    pub label: String,
    #[param(default = 300)]
    pub ms: u32,
}

#[step]
impl Step for Sleep {
    fn inputs(&self) -> Vec<IoSpec> {
        Vec::new()
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<f64>("out")]
    }
    fn run(&self, _ctx: &mut StepContext, _inputs: &Inputs) -> StepResult<Outputs> {
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(u64::from(self.ms)));
        let end = Instant::now();
        if let Ok(mut s) = SLEEPS.lock() {
            s.push((self.label.clone(), start, end));
        }
        Ok(Outputs::new().with("out", self.label.len() as f64))
    }
}

/// Where `Meet` steps wait for each other, by label: how many have arrived.
pub static MEETINGS: (Mutex<BTreeMap<String, u32>>, std::sync::Condvar) =
    (Mutex::new(BTreeMap::new()), std::sync::Condvar::new());

/// A barrier: waits until `parties` steps with its label have arrived, and fails when they do
/// not all arrive (within a minute): the steps did not run at the same time.
#[step]
#[derive(Debug)]
pub struct Meet {
    pub label: String,
    #[param(default = 2)]
    pub parties: u32,
}

#[step]
impl Step for Meet {
    fn inputs(&self) -> Vec<IoSpec> {
        Vec::new()
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<f64>("out")]
    }
    fn run(&self, _ctx: &mut StepContext, _inputs: &Inputs) -> StepResult<Outputs> {
        let (arrived, all_here) = &MEETINGS;
        let mut arrived = arrived.lock().map_err(|e| e.to_string())?;
        *arrived.entry(self.label.clone()).or_insert(0) += 1;
        all_here.notify_all();
        let (arrived, waited) = all_here
            .wait_timeout_while(arrived, Duration::from_secs(60), |a| {
                a.get(&self.label).copied().unwrap_or(0) < self.parties
            })
            .map_err(|e| e.to_string())?;
        if waited.timed_out() {
            return Err(format!(
                "only {} of {} steps met at `{}`",
                arrived.get(&self.label).copied().unwrap_or(0),
                self.parties,
                self.label
            )
            .into());
        }
        Ok(Outputs::new().with("out", self.label.len() as f64))
    }
}

/// How many times each `Flaky` step (by label) was tried.
pub static ATTEMPTS: Mutex<BTreeMap<String, u32>> = Mutex::new(BTreeMap::new());

/// Fails its first `failures` attempts (counted by label), then outputs how many it took.
#[step]
#[derive(Debug)]
pub struct Flaky {
    pub label: String,
    #[param(default = 1)]
    pub failures: u32,
}

#[step]
impl Step for Flaky {
    fn inputs(&self) -> Vec<IoSpec> {
        Vec::new()
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<f64>("out")]
    }
    fn run(&self, _ctx: &mut StepContext, _inputs: &Inputs) -> StepResult<Outputs> {
        let mut attempts = ATTEMPTS.lock().map_err(|e| e.to_string())?;
        let n = attempts.entry(self.label.clone()).or_insert(0);
        *n += 1;
        if *n <= self.failures {
            return Err(format!("attempt {n} of `{}` fails on purpose", self.label).into());
        }
        Ok(Outputs::new().with("out", f64::from(*n)))
    }
}

/// Where a `Stuck` step waits: it returns once a message arrives (or after a minute).
pub static UNSTICK: Mutex<Option<std::sync::mpsc::Receiver<()>>> = Mutex::new(None);

/// Waits for a message on [`UNSTICK`], however long its time limit.
#[step]
#[derive(Debug)]
pub struct Stuck {}

#[step]
impl Step for Stuck {
    fn inputs(&self) -> Vec<IoSpec> {
        Vec::new()
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<f64>("out")]
    }
    fn run(&self, _ctx: &mut StepContext, _inputs: &Inputs) -> StepResult<Outputs> {
        let rx = UNSTICK.lock().map_err(|e| e.to_string())?.take();
        if let Some(rx) = rx {
            let _ = rx.recv_timeout(Duration::from_secs(60));
        }
        Ok(Outputs::new().with("out", 1.0))
    }
}

/// The iris training pipeline with the test trainer and evaluator.
pub fn iris_pipeline(name: &str, shrink: f64) -> TrainingPipeline {
    TrainingPipeline::new(name)
        .add_datasource(zenml::steps::CsvDatasource::new(iris_path()))
        .add_split(zenml::steps::RandomSplit::default())
        .add_preprocesser(zenml::steps::StandardScaler {
            exclude: "species".into(),
        })
        .add_trainer(CentroidTrainer {
            shrink,
            ..CentroidTrainer::default()
        })
        .add_evaluator(Accuracy {})
}

/// A datasource that cannot tell whether its data changed: it reads a file without
/// fingerprinting it.
#[step]
#[derive(Debug)]
pub struct UnfingerprintedCsv {
    pub path: String,
}

#[step]
impl DatasourceStep for UnfingerprintedCsv {
    fn read(&self, _ctx: &mut StepContext) -> StepResult<Table> {
        Ok(Table::read_csv(&self.path)?)
    }
}
