//! Steps: what a user writes, and the type-erased form the runtime holds.
//!
//! A step is a plain struct whose fields are its hyper-parameters, with `#[step]` on the struct
//! (which implements [`StepParams`]) and `#[step]` on the impl of one of the step kinds (which
//! implements [`StepCode`] and registers the step):
//!
//! | kind | trait | inputs | outputs |
//! |---|---|---|---|
//! | datasource | [`DatasourceStep`] | — | `data: Table` |
//! | split | [`SplitStep`] | `data: Table` | `train: Table`, `eval: Table` |
//! | preprocesser | [`PreprocesserStep`] | `train: Table`, `eval: Table` | `train: Table`, `eval: Table`, `state: State` |
//! | trainer | [`TrainerStep`] | `train: Table`, `eval: Table` | `model: Model` |
//! | evaluator | [`EvaluatorStep`] | `model: Model`, `eval: Table` | `metrics: Metrics` |
//! | general | [`Step`] | declared by the step | declared by the step |

mod context;
mod kinds;
mod location;

pub use context::{StepContext, StepLog};
pub use kinds::{DatasourceStep, EvaluatorStep, PreprocesserStep, SplitStep, Step, TrainerStep};
pub use location::{DataLocation, LocationError};

use std::borrow::Cow;
use std::fmt;

use crate::artifact::{Artifact, ArtifactKind, Inputs, Outputs};
use crate::hash::Hash128;
use crate::param::{ParamCheckError, ParamError, ParamSpec, Params};

/// The error a step's own code returns: any error, boxed. `?` works on every error type (and on
/// `anyhow::Error`), and a message can be returned with `Err("…".into())`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result of a step's own code.
pub type StepResult<T> = Result<T, BoxError>;

/// What a step does in a training pipeline; recorded as the ML Metadata base type of its
/// execution type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StepKind {
    /// Reads data into a table.
    Datasource,
    /// Splits a table into train and eval.
    Split,
    /// Fits a transformation on train and applies it to train and eval.
    Preprocesser,
    /// Trains a model.
    Trainer,
    /// Evaluates a model.
    Evaluator,
    /// A step with inputs and outputs of its own.
    General,
}

impl StepKind {
    /// The lowercase name (`"trainer"`).
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Datasource => "datasource",
            StepKind::Split => "split",
            StepKind::Preprocesser => "preprocesser",
            StepKind::Trainer => "trainer",
            StepKind::Evaluator => "evaluator",
            StepKind::General => "general",
        }
    }

    /// Parses [`StepKind::as_str`]'s output.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "datasource" => StepKind::Datasource,
            "split" => StepKind::Split,
            "preprocesser" => StepKind::Preprocesser,
            "trainer" => StepKind::Trainer,
            "evaluator" => StepKind::Evaluator,
            "general" => StepKind::General,
            _ => return None,
        })
    }
}

impl fmt::Display for StepKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The parameter side of a step: implemented by `#[step]` on the step's struct.
///
/// Do not implement it by hand; the macro keeps the parameter list, the specs and `from_params`
/// in step.
pub trait StepParams: Send + Sync + Sized + 'static {
    /// `module_path!()::Name`: the step type's identity in the registry, configs and the store.
    const SOURCE: &'static str;
    /// The struct's name.
    const NAME: &'static str;
    /// `#[step(version = N)]`, 1 when not given. Bump it when the step's behaviour changes in a way
    /// its code fingerprint cannot see (a helper function elsewhere, a dependency).
    const VERSION: u32;
    /// The struct's doc comment.
    const DOC: &'static str;
    /// The parameters' declarations, in field order.
    const PARAM_SPECS: &'static [ParamSpec];
    /// The parameter values, in field order.
    fn params(&self) -> Params;
    /// A step from parameter values; defaults fill in what is missing.
    fn from_params(params: &Params) -> Result<Self, ParamError>;
    /// A copy of this step (every field is a parameter, and every parameter type is `Clone`).
    fn clone_step(&self) -> Self;
}

/// The code side of a step: implemented by `#[step]` on the step's kind impl.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no code fingerprint: its step impl lacks `#[step]`",
    label = "`#[step]` missing on the impl block",
    note = "write `#[step]` above `impl …Step for {Self}` so that its code is fingerprinted for \
            caching and the step is registered"
)]
pub trait StepCode: StepParams {
    /// xxh3-128 of the impl block's tokens, computed at compile time.
    const CODE_FINGERPRINT: u128;
    /// `file:line` of the impl block.
    const LOCATION: &'static str;
}

/// Everything static about a step type.
#[derive(Clone, Copy, Debug)]
pub struct StepInfo {
    /// `module_path!()::Name`.
    pub source: &'static str,
    /// The struct's name.
    pub name: &'static str,
    /// The declared version.
    pub version: u32,
    /// The step's kind.
    pub kind: StepKind,
    /// The code fingerprint.
    pub code_fingerprint: Hash128,
    /// The struct's doc comment.
    pub doc: &'static str,
    /// The parameters' declarations.
    pub params: &'static [ParamSpec],
    /// Where the step's impl is (`file:line`).
    pub location: &'static str,
}

impl StepInfo {
    /// The info of `T`, a step of `kind`.
    pub const fn of<T: StepCode>(kind: StepKind) -> Self {
        StepInfo {
            source: T::SOURCE,
            name: T::NAME,
            version: T::VERSION,
            kind,
            code_fingerprint: Hash128(T::CODE_FINGERPRINT),
            doc: T::DOC,
            params: T::PARAM_SPECS,
            location: T::LOCATION,
        }
    }

    /// `source@version`, as in configs.
    pub fn source_ref(&self) -> String {
        format!("{}@{}", self.source, self.version)
    }
}

/// A named, typed input or output of a step.
#[derive(Clone, Debug)]
pub struct IoSpec {
    /// The name (`"train"`).
    pub name: Cow<'static, str>,
    /// The artifact type.
    pub kind: ArtifactKind,
}

impl IoSpec {
    /// An input or output `name` of type `T`.
    pub fn new<T: Artifact>(name: impl Into<Cow<'static, str>>) -> Self {
        IoSpec {
            name: name.into(),
            kind: ArtifactKind::of::<T>(),
        }
    }
}

/// A step as the runtime holds it: parameters, declared inputs and outputs, and the work, with the
/// concrete type erased. The step kinds' traits produce one through `#[step]`.
pub trait DynStep: Send + Sync + 'static {
    /// The step type's static description.
    fn info(&self) -> StepInfo;
    /// The parameter values.
    fn params(&self) -> Params;
    /// The declared inputs.
    fn inputs(&self) -> Vec<IoSpec>;
    /// The declared outputs.
    fn outputs(&self) -> Vec<IoSpec>;
    /// A fingerprint of data the step reads from outside the pipeline (a datasource's file), which
    /// enters its cache key. `None` means the step reads nothing from outside, except for a
    /// datasource, where it means it cannot tell: a datasource without a fingerprint always runs.
    fn external_fingerprint(&self, ctx: &StepContext) -> StepResult<Option<Hash128>> {
        let _ = ctx;
        Ok(None)
    }
    /// Checks the parameters beyond their types, before anything runs (see
    /// [`TrainerStep::check_params`]); `Ok` by default.
    fn check_params(&self) -> Result<(), ParamCheckError> {
        Ok(())
    }
    /// Runs the step.
    fn run(&self, ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs>;
    /// A copy.
    fn clone_box(&self) -> Box<dyn DynStep>;
}

impl fmt::Debug for dyn DynStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = self.info();
        let mut d = f.debug_struct(info.name);
        for (name, value) in &self.params() {
            d.field(name, &format_args!("{value}"));
        }
        d.finish()
    }
}

impl Clone for Box<dyn DynStep> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// Conversion of a step value into the runtime's type-erased form; the pipeline builders take
/// `impl IntoDynStep` (with the kind they expect). `#[step]` on a step's kind impl implements it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be added to a pipeline: its step impl lacks `#[step]`",
    label = "not a registered step",
    note = "write `#[step]` on the struct and on `impl …Step for {Self}`, so that the step's code \
            is fingerprinted for caching and the step is registered"
)]
pub trait IntoDynStep {
    /// The type-erased step.
    fn into_dyn_step(self) -> Box<dyn DynStep>;
}

impl IntoDynStep for Box<dyn DynStep> {
    fn into_dyn_step(self) -> Box<dyn DynStep> {
        self
    }
}
