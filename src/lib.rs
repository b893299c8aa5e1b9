//! zenml-rs: reproducible machine-learning pipelines in Rust, recorded in ML Metadata.
//!
//! A step is a plain struct whose fields are its hyper-parameters; `#[step]` makes it a tracked,
//! cacheable, registered pipeline step. Pipelines run on a [`Repository`] (`.zenml/`) whose
//! metadata store speaks Google's ML Metadata schema and whose artifact store keeps every output
//! content-addressed and write-once. A step whose code, parameters and inputs were seen before is
//! not computed again: its earlier outputs are reused.
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `sqlite` | yes | the SQLite metadata store |
//! | `mysql` | yes | the MySQL / MariaDB metadata store a team shares ([`backends::mysql`]) |
//! | `mysql-tls` | no | TLS for the MySQL store's connections |
//! | `object-store` | yes | artifact stores in a local folder and in memory |
//! | `cli` | yes | [`cli`]: the `zenml` command line, also for binaries of your own |
//! | `report` | yes | [`report`]: the run-comparison report, one self-contained HTML file with charts (plotly.js, embedded) |
//! | `candle` | no | [`candle`]: a neural-network trainer base on candle (CPU), `FeedForwardTrainer` and its evaluator |
//! | `linfa` | no | [`linfa`]: ready linfa trainers (logistic, linear and ridge regression, a decision tree) and evaluators |
//!
//! # A pipeline and its config
//!
//! Every pipeline has a declarative YAML config ([`pipeline::PipelineConfig`]): each step's
//! source (`module::path::Type@version`), its parameters and its wiring. The config is what the
//! metadata store records for every run, what `zenml pipeline get` prints and what
//! `zenml pipeline run` runs. It round-trips exactly: a pipeline rebuilt from its YAML has the
//! same steps, parameters and cache keys, and writes the same YAML.
//!
//! ```
//! use zenml::prelude::*;
//! use zenml::step::StepParams;
//! use zenml::steps::{RandomSplit, StandardScaler};
//!
//! /// Made-up measurements: `rows` rows of two columns.
//! #[step]
//! #[derive(Debug)]
//! pub struct Measurements {
//!     /// How many rows.
//!     #[param(default = 20)]
//!     pub rows: u32,
//! }
//!
//! #[step]
//! impl DatasourceStep for Measurements {
//!     fn read(&self, _ctx: &mut StepContext) -> StepResult<Table> {
//!         let rows = usize::try_from(self.rows)?;
//!         let x = ndarray::Array2::from_shape_fn((rows, 2), |(i, j)| (i * (j + 1)) as f64);
//!         Ok(Table::from_ndarray(&["a", "b"], &x)?)
//!     }
//! }
//!
//! let pipeline = Pipeline::new("measurements")
//!     .add_step("load", Measurements { rows: 30 }, [])
//!     .add_step(
//!         "split",
//!         RandomSplit { train_ratio: 0.75, ..RandomSplit::default() },
//!         [("data", "load.data")],
//!     )
//!     .add_step(
//!         "scale",
//!         StandardScaler::default(),
//!         [("train", "split.train"), ("eval", "split.eval")],
//!     );
//!
//! // Save the config (the step's source path is its module path: `my_crate::…` in your crate)…
//! let yaml = pipeline.to_yaml();
//! assert_eq!(
//!     yaml.replace(Measurements::SOURCE, "my_crate::Measurements"),
//!     "\
//! version: 1
//! name: measurements
//! steps:
//!   load:
//!     source: my_crate::Measurements@1
//!     args:
//!       rows: 30
//!   split:
//!     source: zenml::steps::RandomSplit@1
//!     args:
//!       seed: 42
//!       train_ratio: 0.75
//!     inputs:
//!       data: load.data
//!   scale:
//!     source: zenml::steps::StandardScaler@1
//!     args:
//!       exclude: ''
//!     inputs:
//!       eval: split.eval
//!       train: split.train
//! "
//! );
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("measurements.yaml");
//! std::fs::write(&path, &yaml)?;
//!
//! // … and rebuild the pipeline from it, through the steps this binary links.
//! let rebuilt = Pipeline::from_yaml(&std::fs::read_to_string(&path)?)?;
//! assert_eq!(rebuilt.to_yaml(), yaml);
//! assert_eq!(Pipeline::load(&path)?.to_yaml(), yaml);
//!
//! // The rebuilt pipeline is the same definition. `Measurements` has no `fingerprint`, so it
//! // cannot tell whether its data changed and runs again; it reads identical data, so every
//! // later step is reused.
//! let repo = Repository::init(dir.path())?.with_options(RunOptions::quiet());
//! repo.run(&pipeline)?;
//! let again = repo.run(&rebuilt)?;
//! assert_eq!(again.executed(), ["load"]);
//! assert_eq!(again.cached(), ["split", "scale"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Loading checks everything before anything runs: unknown steps or parameters, values of the
//! wrong type or out of range, wiring to missing steps or outputs, cycles. Each is a
//! [`pipeline::ConfigError`] naming the file, the line and the step.

/// The `#[step]` attribute (and the `step` module: step kinds and contexts).
///
/// `#[step]` on a struct declares a step's parameters (its fields); `#[step]` on the impl of the
/// step's kind fingerprints its code and registers it. See [`macro@step`] for everything it
/// generates. The constructor taking every parameter is `from_fields`; `Default` is implemented
/// when every field has a default (an `Option` field defaults to `None`).
///
/// ```
/// use zenml::param::Value;
/// use zenml::prelude::*;
/// use zenml::registry::Registry;
/// use zenml::step::StepParams;
///
/// #[derive(Clone, Copy, Debug, PartialEq, StepParam)]
/// pub enum Loss {
///     Mse,
///     Huber,
/// }
///
/// /// Trains a linear model.
/// #[step(version = 2)]
/// #[derive(Debug)]
/// pub struct LinearTrainer {
///     /// Passes over the training data.
///     #[param(default = 10)]
///     pub epochs: i64,
///     /// The learning rate.
///     #[param(default = 0.01)]
///     pub lr: f64,
///     #[param(default = Loss::Mse)]
///     pub loss: Loss,
///     /// Stop after this many epochs without improvement; `None` never stops early.
///     pub patience: Option<u32>,
/// }
///
/// #[step]
/// impl TrainerStep for LinearTrainer {
///     type Model = Vec<f64>;
///     fn train(&self, _ctx: &mut StepContext, train: &Table, _eval: &Table) -> StepResult<Vec<f64>> {
///         Ok(vec![0.0; train.num_columns()])
///     }
/// }
///
/// let trainer = LinearTrainer { lr: 0.1, ..Default::default() };
/// let params = trainer.params();
/// assert_eq!(params.get("lr"), Some(&Value::Float(0.1)));
/// assert_eq!(params.get("patience"), Some(&Value::Null));
/// assert_eq!(LinearTrainer::PARAM_SPECS[0].doc, "Passes over the training data.");
///
/// // What a config or the metadata store holds is enough to rebuild the step.
/// let registered = Registry::global()?.get_version(LinearTrainer::SOURCE, 2)?;
/// let rebuilt = registered.construct(&params)?;
/// assert_eq!(rebuilt.params(), params);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub use zenml_core::step;
pub use zenml_core::{
    StepParam, artifact, cache, hash, orchestrator, param, pipeline, registry, repository, runner,
    steps, store,
};

pub use zenml_core::artifact::{Artifact, Json};
pub use zenml_core::pipeline::{Pipeline, TrainingPipeline};
pub use zenml_core::repository::Repository;
pub use zenml_core::runner::{RunOptions, Runner};

#[doc(hidden)]
pub use zenml_core::__private;

#[cfg(feature = "cli")]
pub mod cli;

#[cfg(feature = "report")]
pub mod report;

#[cfg(feature = "candle")]
pub use zenml_core::candle;
#[cfg(feature = "linfa")]
pub use zenml_core::linfa;

/// The store backends: metadata stores in the ML Metadata schema (SQLite) and artifact stores
/// over `object_store` (local folder, memory). Backends register themselves: a repository's
/// `config.yaml` reaches them by name.
pub use zenml_stores as backends;

/// The names most programs need: `use zenml::prelude::*;`.
pub use zenml_core::prelude;

/// The `ndarray` that [`artifact::Table`] converts to and from (`Table::to_ndarray`,
/// `Table::from_ndarray`): a step crate uses this one, whatever `ndarray` it depends on itself.
#[doc(no_inline)]
pub use ndarray;

/// The `serde` whose `Serialize` and `Deserialize` make a type an artifact. To derive them, a step
/// crate depends on `serde` with its `derive` feature (or writes
/// `#[serde(crate = "zenml::serde")]` beside the derive).
#[doc(no_inline)]
pub use serde;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
