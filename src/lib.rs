//! zenml-rs: reproducible machine-learning pipelines in Rust, recorded in ML Metadata.
//!
//! A step is a plain struct whose fields are its hyper-parameters; `#[step]` makes it a tracked,
//! cacheable, registered pipeline step. Pipelines run on a repository (`.zenml/`) whose metadata
//! store speaks Google's ML Metadata schema and whose artifact store keeps every output
//! content-addressed and write-once.

/// The `#[step]` attribute (and the `step` module: step kinds and contexts).
pub use zenml_core::step;
pub use zenml_core::{StepParam, artifact, hash, param, registry, store};

#[doc(hidden)]
pub use zenml_core::__private;

#[cfg(feature = "cli")]
pub mod cli;

/// The stores: metadata stores in the ML Metadata schema and artifact stores.
pub use zenml_stores as stores;

/// The names most programs need.
pub mod prelude {
    pub use zenml_core::artifact::{Artifact, Inputs, Json, Metrics, Outputs, Table};
    pub use zenml_core::hash::Hash128;
    pub use zenml_core::step::{
        DatasourceStep, EvaluatorStep, IoSpec, PreprocesserStep, SplitStep, Step, StepContext,
        StepResult, TrainerStep,
    };
    pub use zenml_core::{StepParam, step};
}
