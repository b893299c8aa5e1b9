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
//! | `object-store` | yes | artifact stores in a local folder and in memory |
//! | `cli` | yes | [`cli`]: the `zenml` command line, also for binaries of your own |

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
    StepParam, artifact, cache, hash, param, pipeline, registry, repository, runner, steps, store,
};

pub use zenml_core::pipeline::{Pipeline, TrainingPipeline};
pub use zenml_core::repository::Repository;
pub use zenml_core::runner::{RunOptions, Runner};

#[doc(hidden)]
pub use zenml_core::__private;

#[cfg(feature = "cli")]
pub mod cli;

/// The store backends: metadata stores in the ML Metadata schema (SQLite) and artifact stores
/// over `object_store` (local folder, memory). Backends register themselves: a repository's
/// `config.yaml` reaches them by name.
pub use zenml_stores as backends;

/// The names most programs need: `use zenml::prelude::*;`.
pub use zenml_core::prelude;
