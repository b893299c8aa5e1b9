//! The runtime of zenml-rs: parameters, steps and their registry, artifacts, pipelines, caching,
//! the runner and the store traits.
//!
//! Use it through the `zenml` crate, which re-exports everything here together with the
//! `#[step]` macro and the store backends.

pub mod artifact;
pub mod cache;
#[cfg(feature = "candle")]
pub mod candle;
pub mod hash;
#[cfg(feature = "linfa")]
pub mod linfa;
mod macro_support;
pub mod orchestrator;
pub mod param;
pub mod pipeline;
pub mod registry;
pub mod repository;
pub mod runner;
pub mod step;
pub mod steps;
pub mod store;

pub use zenml_macros::{StepParam, step};

/// The names most programs need: `use zenml::prelude::*;`.
pub mod prelude {
    pub use crate::artifact::{Artifact, Inputs, Json, Metrics, Outputs, Table};
    pub use crate::hash::Hash128;
    pub use crate::pipeline::{Pipeline, TrainingPipeline};
    pub use crate::repository::Repository;
    pub use crate::runner::RunOptions;
    pub use crate::step::{
        DataLocation, DatasourceStep, EvaluatorStep, IoSpec, PreprocesserStep, SplitStep, Step,
        StepContext, StepResult, TrainerStep,
    };
    pub use crate::steps::{CsvDatasource, RandomSplit, StandardScaler};
    pub use crate::{StepParam, step};
}

/// Not public API: the items `#[step]` and `#[derive(StepParam)]` expand to. Generated code
/// reaches them as `::zenml::__private` (or through `#[step(crate = "…")]`).
#[doc(hidden)]
pub mod __private {
    pub use crate::macro_support::{IntoDynVia, Kind, NotAParam, Probe, assert_param, kind_id};
    pub use crate::param::{
        EnumParam, EnumSpec, Param, ParamError, ParamSpec, ParamType, Params, ScalarType, Value,
        read_field, reject_unknown,
    };
    pub use crate::registry::StepRegistration;
    pub use crate::step::{DynStep, IntoDynStep, StepCode, StepInfo, StepKind, StepParams};
    pub use inventory;
}
