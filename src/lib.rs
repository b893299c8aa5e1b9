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
pub use zenml_core::step;
pub use zenml_core::{
    StepParam, artifact, cache, hash, param, pipeline, registry, repository, runner, store,
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

/// The names most programs need.
pub mod prelude {
    pub use zenml_core::artifact::{Artifact, Inputs, Json, Metrics, Outputs, Table};
    pub use zenml_core::hash::Hash128;
    pub use zenml_core::pipeline::{Pipeline, TrainingPipeline};
    pub use zenml_core::repository::Repository;
    pub use zenml_core::runner::RunOptions;
    pub use zenml_core::step::{
        DatasourceStep, EvaluatorStep, IoSpec, PreprocesserStep, SplitStep, Step, StepContext,
        StepResult, TrainerStep,
    };
    pub use zenml_core::{StepParam, step};
}
