//! Pipelines: named steps with outputs wired to inputs.
//!
//! A general pipeline is a DAG built step by step, each step's inputs wired to earlier outputs
//! (`"step.output"`):
//!
//! ```
//! # extern crate zenml_core as zenml;
//! use zenml::prelude::*;
//! use zenml::steps::CsvDatasource;
//!
//! /// The number of rows of a table.
//! #[step]
//! pub struct CountRows {}
//!
//! #[step]
//! impl Step for CountRows {
//!     fn inputs(&self) -> Vec<IoSpec> {
//!         vec![IoSpec::new::<Table>("table")]
//!     }
//!     fn outputs(&self) -> Vec<IoSpec> {
//!         vec![IoSpec::new::<u64>("rows")]
//!     }
//!     fn run(&self, _ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
//!         let table: &Table = inputs.get("table")?;
//!         Ok(Outputs::new().with("rows", table.num_rows() as u64))
//!     }
//! }
//!
//! let p = Pipeline::new("etl")
//!     .add_step("load", CsvDatasource::new("data.csv"), [])
//!     .add_step("count", CountRows {}, [("table", "load.data")]);
//! let plan = p.validate()?;
//! assert_eq!(plan.steps.len(), 2);
//!
//! // A mistake is reported before anything runs, naming the steps involved.
//! let wrong = p.copy("etl v2").add_step("again", CountRows {}, [("table", "count.rows")]);
//! let err = wrong.validate().unwrap_err();
//! assert!(err.to_string().contains("expects zenml.Table, but `count.rows` produces u64"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A training pipeline fills fixed slots, which are wired for you (the quickstart example has a
//! whole one, with a linfa trainer and an evaluator):
//!
//! ```
//! # extern crate zenml_core as zenml;
//! use zenml::prelude::*;
//! use zenml::steps::{CsvDatasource, RandomSplit, StandardScaler};
//!
//! /// Predicts the most frequent class of the training data.
//! #[step]
//! pub struct Majority {
//!     /// The label column.
//!     #[param(default = "species")]
//!     pub label: String,
//! }
//!
//! #[step]
//! impl TrainerStep for Majority {
//!     type Model = i64;
//!     fn train(&self, _ctx: &mut StepContext, train: &Table, _eval: &Table) -> StepResult<i64> {
//!         let mut counts = std::collections::BTreeMap::new();
//!         for label in train.column_f64(&self.label)? {
//!             *counts.entry(label as i64).or_insert(0) += 1;
//!         }
//!         Ok(counts.into_iter().max_by_key(|(_, n)| *n).map_or(0, |(class, _)| class))
//!     }
//! }
//!
//! let p = TrainingPipeline::new("Pipeline A")
//!     .add_datasource(CsvDatasource::new("data/iris.csv"))
//!     .add_split(RandomSplit::default())
//!     .add_preprocesser(StandardScaler { exclude: "species".into() })
//!     .add_trainer(Majority::default());
//! p.validate()?;
//! let trainer = p.step("trainer").expect("the trainer slot is filled");
//! assert_eq!(trainer.inputs()[0], ("train".to_owned(), "preprocesser.train".to_owned()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! | slot | step name | inputs | mandatory |
//! |---|---|---|---|
//! | datasource | `datasource` | — | yes |
//! | split | `split` | `data` ← `datasource.data` | yes |
//! | preprocesser | `preprocesser` | `train`, `eval` ← `split` | no |
//! | trainer | `trainer` | `train`, `eval` ← `preprocesser` (or `split`) | yes |
//! | evaluator | `evaluator` | `model` ← `trainer.model`, `eval` ← `preprocesser` (or `split`) | no |
//!
//! Adding to a filled slot replaces that step. Nothing is checked while building: a pipeline is
//! validated as a whole ([`Pipeline::validate`]) before any step runs, and every mistake is
//! reported with the steps and types involved.
//!
//! A pipeline's identity is its name: once a pipeline has run, its definition is recorded and
//! immutable, and running another definition under the same name is refused. Use
//! [`Pipeline::copy`] to make an editable copy under a new name.
//!
//! # Limits
//!
//! [`Pipeline::validate`] (and so every run, and every config loaded) refuses what the metadata
//! store could not hold or what would flood error messages and the store:
//!
//! | what | limit | why |
//! |---|---|---|
//! | pipeline name | [`MAX_NAME_BYTES`] (200 bytes) | it names an ML Metadata context (`VARCHAR(255)` in MySQL), with `#<run number>` appended for each run |
//! | step name | [`MAX_NAME_BYTES`] (200 bytes) | it is part of every execution's and artifact's record |
//! | a string parameter's value | [`MAX_STRING_PARAM_BYTES`] (64 KiB) | every run records every parameter; large inputs belong in artifacts (a datasource reading a file) |
//! | a config file | [`MAX_CONFIG_BYTES`] (1 MiB) | checked by [`Pipeline::load`] before the file is read |
//! | a step `source` in a config | [`MAX_SOURCE_BYTES`] (255 bytes) | it names an ML Metadata type (`VARCHAR(255)`) |
//!
//! Error messages show at most the first 80 characters of anything that was typed (a name, a
//! wiring, a source, a parameter value), then `…`, so that a refusal stays one short line.

mod config;
mod resources;
mod validate;

pub use config::{
    CONFIG_FORMAT_VERSION, ConfigError, ConfigErrorKind, MAX_CONFIG_BYTES, MAX_SOURCE_BYTES,
    PipelineConfig, StepConfig,
};
pub use resources::Resources;
pub use validate::{Plan, PlannedInput, PlannedStep};

use std::fmt::{self, Write as _};

use crate::param::Params;
use crate::step::{
    DatasourceStep, DynStep, EvaluatorStep, IntoDynStep, PreprocesserStep, SplitStep, StepInfo,
    TrainerStep,
};

/// The longest pipeline or step name, in bytes (UTF-8).
///
/// A pipeline's name names its ML Metadata context (`VARCHAR(255)` in MySQL) and each run's
/// (`<pipeline>#<run number>`), so it must leave room for the run number.
pub const MAX_NAME_BYTES: usize = 200;

/// The largest value of a string parameter, in bytes (UTF-8): 64 KiB.
///
/// Every run records every parameter in the metadata store, and error messages name values;
/// large inputs belong in artifacts (a datasource step that reads a file).
pub const MAX_STRING_PARAM_BYTES: usize = 64 * 1024;

/// How many characters of a typed string [`elide`] shows.
pub(crate) const SHOWN_CHARS: usize = 80;

/// A string someone typed (a name, a wiring, a source, a parameter value), as error messages show
/// it: at most its first 80 characters, then `…`, with control characters escaped, so that a
/// message stays one short line whatever was typed.
///
/// ```
/// # extern crate zenml_core as zenml;
/// use zenml::pipeline::elide;
///
/// assert_eq!(elide("trainer").to_string(), "trainer");
/// assert_eq!(elide("two\nlines").to_string(), "two\\nlines");
/// let long = "x".repeat(100_000);
/// assert_eq!(elide(&long).to_string(), format!("{}…", "x".repeat(80)));
/// ```
pub fn elide(text: &str) -> impl fmt::Display + '_ {
    Elided(text)
}

struct Elided<'a>(&'a str);

impl fmt::Display for Elided<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.chars().enumerate() {
            if i == SHOWN_CHARS {
                return f.write_char('…');
            }
            if c.is_control() {
                write!(f, "{}", c.escape_debug())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// A byte count as limits are written: `1 MiB`, `64 KiB`, `200 bytes`.
pub(crate) fn limit_text(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// What kind of pipeline this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Template {
    /// Steps and wiring given one by one.
    #[default]
    Dag,
    /// Fixed slots: datasource, split, preprocesser, trainer, evaluator.
    Training,
}

/// The slots of a training pipeline, in order; also their step names.
pub const TRAINING_SLOTS: [&str; 5] = [
    "datasource",
    "split",
    "preprocesser",
    "trainer",
    "evaluator",
];

/// A reference to an output of a step: `"step.output"`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutputRef {
    /// The producing step's name.
    pub step: String,
    /// The output's name.
    pub output: String,
}

impl OutputRef {
    /// Parses `"step.output"`.
    pub fn parse(s: &str) -> Option<OutputRef> {
        let (step, output) = s.split_once('.')?;
        if step.is_empty() || output.is_empty() {
            return None;
        }
        Some(OutputRef {
            step: step.to_owned(),
            output: output.to_owned(),
        })
    }
}

impl fmt::Display for OutputRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.step, self.output)
    }
}

/// One step of a pipeline, with its wiring.
#[derive(Clone)]
pub struct StepNode {
    name: String,
    step: Box<dyn DynStep>,
    /// (input name, the reference as written): kept as written so that mistakes can be reported.
    inputs: Vec<(String, String)>,
    cache: bool,
    resources: Resources,
}

impl StepNode {
    /// The step's name in the pipeline.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The step.
    pub fn step(&self) -> &dyn DynStep {
        self.step.as_ref()
    }

    /// The step type's static description.
    pub fn info(&self) -> StepInfo {
        self.step.info()
    }

    /// The step's parameter values.
    pub fn params(&self) -> Params {
        self.step.params()
    }

    /// The wiring: input name → `"step.output"`, as given.
    pub fn inputs(&self) -> &[(String, String)] {
        &self.inputs
    }

    /// May this step reuse cached outputs?
    pub fn cache_enabled(&self) -> bool {
        self.cache
    }

    /// What the step asks of the machine that runs it, and how often it is tried.
    pub fn resources(&self) -> &Resources {
        &self.resources
    }
}

impl fmt::Debug for StepNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepNode")
            .field("name", &self.name)
            .field("step", &self.step)
            .field("inputs", &self.inputs)
            .field("cache", &self.cache)
            .field("resources", &self.resources)
            .finish()
    }
}

/// A problem found while building a pipeline, reported by [`Pipeline::validate`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// A step name with characters other than letters, digits, `_` and `-`, or a pipeline name
    /// that is empty, has surrounding spaces, a control character or `#`.
    #[error("invalid {what} name `{}`: {}", elide(.name), if *what == "pipeline" { "use one line of text without `#` or surrounding spaces" } else { "use letters, digits, `_` and `-`" })]
    InvalidName {
        /// `"pipeline"` or `"step"`.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A pipeline or step name longer than [`MAX_NAME_BYTES`].
    #[error(
        "{what} name `{}` is {} bytes long; a {what} name is at most {max} bytes",
        elide(.name),
        .name.len()
    )]
    NameTooLong {
        /// `"pipeline"` or `"step"`.
        what: &'static str,
        /// The name.
        name: String,
        /// The limit ([`MAX_NAME_BYTES`]).
        max: usize,
    },
    /// A string parameter value larger than [`MAX_STRING_PARAM_BYTES`].
    #[error(
        "step `{}`: parameter `{param}` is a string of {size} bytes; a string parameter is at \
         most {} ({max} bytes)",
        elide(.step),
        limit_text(*.max)
    )]
    ParamTooLarge {
        /// The step.
        step: String,
        /// The parameter.
        param: String,
        /// The value's size in bytes.
        size: usize,
        /// The limit ([`MAX_STRING_PARAM_BYTES`]).
        max: usize,
    },
    /// A parameter value that the step refuses (its `check_params`), though its type is right.
    #[error(
        "step `{}` (`{source_path}`): parameter `{param}`: {message}",
        elide(.step)
    )]
    InvalidParam {
        /// The step.
        step: String,
        /// The step type's source path.
        source_path: String,
        /// The parameter.
        param: String,
        /// What is wrong, as the step says it.
        message: String,
    },
    /// A pipeline without steps.
    #[error("pipeline `{}` has no steps", elide(.0))]
    Empty(String),
    /// Two steps with one name.
    #[error("pipeline `{}` has two steps named `{}`", elide(.pipeline), elide(.step))]
    DuplicateStep {
        /// The pipeline.
        pipeline: String,
        /// The name.
        step: String,
    },
    /// A training pipeline without one of its mandatory slots.
    #[error("training pipeline `{}` has no {slot}: call `.add_{slot}(…)`", elide(.pipeline))]
    MissingSlot {
        /// The pipeline.
        pipeline: String,
        /// The slot.
        slot: &'static str,
    },
    /// `add_step` on a training pipeline, or a slot method on a general one.
    #[error("pipeline `{}`: {message}", elide(.pipeline))]
    MixedTemplate {
        /// The pipeline.
        pipeline: String,
        /// What was mixed.
        message: String,
    },
    /// A wiring that is not `"step.output"`.
    #[error(
        "step `{}`: input `{}` is wired to `{}`, which is not of the form `step.output`",
        elide(.step),
        elide(.input),
        elide(.target)
    )]
    BadReference {
        /// The consuming step.
        step: String,
        /// Its input.
        input: String,
        /// The reference as written.
        target: String,
    },
    /// A wiring to a step that does not exist.
    #[error(
        "step `{}`: input `{}` is wired to `{}`, but there is no step `{}`{}",
        elide(.step),
        elide(.input),
        elide(.target),
        elide(.missing),
        list("steps", available)
    )]
    UnknownStep {
        /// The consuming step.
        step: String,
        /// Its input.
        input: String,
        /// The reference.
        target: String,
        /// The missing step.
        missing: String,
        /// The pipeline's steps.
        available: Vec<String>,
    },
    /// A wiring to an output the producing step does not have.
    #[error(
        "step `{}`: input `{}` is wired to `{}`, but step `{}` has no output `{}`{}",
        elide(.step),
        elide(.input),
        elide(.target),
        elide(.producer),
        elide(.output),
        list("outputs", available)
    )]
    UnknownOutput {
        /// The consuming step.
        step: String,
        /// Its input.
        input: String,
        /// The reference.
        target: String,
        /// The producing step.
        producer: String,
        /// The missing output.
        output: String,
        /// The producer's outputs.
        available: Vec<String>,
    },
    /// A wiring of an input the step does not declare.
    #[error(
        "step `{}` ({source_path}) has no input `{}`{}",
        elide(.step),
        elide(.input),
        list("inputs", declared)
    )]
    UnknownInput {
        /// The step.
        step: String,
        /// Its type's source path.
        source_path: String,
        /// The input named.
        input: String,
        /// The declared inputs.
        declared: Vec<String>,
    },
    /// An input wired twice.
    #[error(
        "step `{}`: input `{}` is wired twice (to `{}` and to `{}`)",
        elide(.step),
        elide(.input),
        elide(.first),
        elide(.second)
    )]
    DoublyWired {
        /// The step.
        step: String,
        /// The input.
        input: String,
        /// The first wiring.
        first: String,
        /// The second wiring.
        second: String,
    },
    /// A declared input left unwired.
    #[error("step `{}`: input `{input}` ({ty}) is not wired to any output", elide(.step))]
    MissingInput {
        /// The step.
        step: String,
        /// The input.
        input: String,
        /// Its type.
        ty: String,
    },
    /// An output wired to an input of another type.
    #[error(
        "step `{}`: input `{input}` expects {expected}, but `{}` produces {found}",
        elide(.step),
        elide(.target)
    )]
    TypeMismatch {
        /// The consuming step.
        step: String,
        /// Its input.
        input: String,
        /// The reference.
        target: String,
        /// The input's type.
        expected: String,
        /// The output's type.
        found: String,
    },
    /// Steps that depend on each other in a circle.
    #[error(
        "pipeline `{}` has a cycle: {}",
        elide(.pipeline),
        cycle.iter().map(|s| elide(s).to_string()).collect::<Vec<_>>().join(" → ")
    )]
    Cycle {
        /// The pipeline.
        pipeline: String,
        /// The steps of one cycle, the first repeated at the end.
        cycle: Vec<String>,
    },
    /// `step_cache` named a step that does not exist.
    #[error(
        "pipeline `{}` has no step `{}` to switch caching for",
        elide(.pipeline),
        elide(.step)
    )]
    NoSuchStep {
        /// The pipeline.
        pipeline: String,
        /// The name.
        step: String,
    },
    /// Several problems at once.
    #[error("pipeline is invalid:\n{}", .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
    Many(Vec<PipelineError>),
}

fn list(what: &str, items: &[String]) -> String {
    if items.is_empty() {
        format!(" (it has no {what})")
    } else {
        let items: Vec<String> = items.iter().map(|i| elide(i).to_string()).collect();
        format!(" (its {what}: {})", items.join(", "))
    }
}

/// A pipeline: a name, steps, and the wiring between them. [`TrainingPipeline`] is the same type,
/// built through its slot methods.
#[derive(Clone, Debug)]
pub struct Pipeline {
    name: String,
    template: Template,
    steps: Vec<StepNode>,
    cache: bool,
    problems: Vec<PipelineError>,
}

/// A pipeline built through the training slots (`add_datasource`, `add_split`,
/// `add_preprocesser`, `add_trainer`, `add_evaluator`); see the [module docs](self).
pub type TrainingPipeline = Pipeline;

impl Pipeline {
    /// An empty pipeline named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Pipeline {
            name: name.into(),
            template: Template::Dag,
            steps: Vec::new(),
            cache: true,
            problems: Vec::new(),
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The template (general DAG or training slots).
    pub fn template(&self) -> Template {
        self.template
    }

    /// The steps, in the order they were added (for a training pipeline, slot order).
    pub fn steps(&self) -> &[StepNode] {
        &self.steps
    }

    /// The step named `name`.
    pub fn step(&self, name: &str) -> Option<&StepNode> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// Is caching enabled for the pipeline as a whole?
    pub fn cache_enabled(&self) -> bool {
        self.cache
    }

    /// An editable copy of this pipeline under a new name.
    #[must_use]
    pub fn copy(&self, new_name: impl Into<String>) -> Pipeline {
        let mut p = self.clone();
        p.name = new_name.into();
        p
    }

    /// Adds a step of a general pipeline, with its inputs wired to outputs of earlier or later
    /// steps (`[("input", "step.output"), …]`).
    #[must_use]
    pub fn add_step<'a>(
        mut self,
        name: impl Into<String>,
        step: impl IntoDynStep,
        inputs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let name = name.into();
        if self.template == Template::Training {
            self.problems.push(PipelineError::MixedTemplate {
                pipeline: self.name.clone(),
                message: format!(
                    "`add_step(\"{}\", …)` on a training pipeline; its steps are its slots \
                     (add_datasource, add_split, add_preprocesser, add_trainer, add_evaluator)",
                    elide(&name)
                ),
            });
            return self;
        }
        self.steps.push(StepNode {
            name,
            step: step.into_dyn_step(),
            inputs: inputs
                .into_iter()
                .map(|(i, o)| (i.to_owned(), o.to_owned()))
                .collect(),
            cache: true,
            resources: Resources::default(),
        });
        self
    }

    /// Switches caching for the whole pipeline (on by default). With caching off, every step
    /// runs; its outputs are still recorded for later runs to reuse.
    #[must_use]
    pub fn with_cache(mut self, enabled: bool) -> Self {
        self.cache = enabled;
        self
    }

    /// Switches caching for one step (on by default).
    #[must_use]
    pub fn step_cache(mut self, step: &str, enabled: bool) -> Self {
        match self.steps.iter_mut().find(|s| s.name == step) {
            Some(s) => s.cache = enabled,
            None => self.problems.push(PipelineError::NoSuchStep {
                pipeline: self.name.clone(),
                step: step.to_owned(),
            }),
        }
        self
    }

    /// Sets what one step asks of the machine that runs it, and how often it is tried (see
    /// [`Resources`]; not part of its cache key).
    #[must_use]
    pub fn step_resources(mut self, step: &str, resources: Resources) -> Self {
        match self.steps.iter_mut().find(|s| s.name == step) {
            Some(s) => s.resources = resources,
            None => self.problems.push(PipelineError::NoSuchStep {
                pipeline: self.name.clone(),
                step: step.to_owned(),
            }),
        }
        self
    }

    fn set_slot(mut self, slot: &'static str, step: Box<dyn DynStep>) -> Self {
        if self.template == Template::Dag && !self.steps.is_empty() {
            self.problems.push(PipelineError::MixedTemplate {
                pipeline: self.name.clone(),
                message: format!(
                    "`add_{slot}(…)` on a general pipeline built with `add_step`; use \
                     `TrainingPipeline::new` and only slot methods, or wire the step with `add_step`"
                ),
            });
            return self;
        }
        self.template = Template::Training;
        let cache = self.step(slot).is_none_or(|s| s.cache);
        let resources = self
            .step(slot)
            .map(|s| s.resources.clone())
            .unwrap_or_default();
        self.steps.retain(|s| s.name != slot);
        self.steps.push(StepNode {
            name: slot.to_owned(),
            step,
            inputs: Vec::new(),
            cache,
            resources,
        });
        self.rewire_training();
        self
    }

    /// Recomputes the fixed wiring of a training pipeline and puts the slots in order.
    fn rewire_training(&mut self) {
        let has = |n: &str| self.steps.iter().any(|s| s.name == n);
        let feed = if has("preprocesser") {
            "preprocesser"
        } else {
            "split"
        };
        let wiring = |slot: &str| -> Vec<(String, String)> {
            let w: Vec<(&str, String)> = match slot {
                "split" => vec![("data", "datasource.data".to_owned())],
                "preprocesser" => vec![
                    ("train", "split.train".to_owned()),
                    ("eval", "split.eval".to_owned()),
                ],
                "trainer" => vec![
                    ("train", format!("{feed}.train")),
                    ("eval", format!("{feed}.eval")),
                ],
                "evaluator" => vec![
                    ("model", "trainer.model".to_owned()),
                    ("eval", format!("{feed}.eval")),
                ],
                _ => vec![],
            };
            w.into_iter().map(|(i, o)| (i.to_owned(), o)).collect()
        };
        for s in &mut self.steps {
            s.inputs = wiring(&s.name);
        }
        self.steps.sort_by_key(|s| {
            TRAINING_SLOTS
                .iter()
                .position(|n| *n == s.name)
                .unwrap_or(TRAINING_SLOTS.len())
        });
    }

    /// Sets (or replaces) the datasource of a training pipeline.
    #[must_use]
    pub fn add_datasource<S: DatasourceStep + IntoDynStep>(self, step: S) -> Self {
        self.set_slot("datasource", step.into_dyn_step())
    }

    /// Sets (or replaces) the split of a training pipeline.
    #[must_use]
    pub fn add_split<S: SplitStep + IntoDynStep>(self, step: S) -> Self {
        self.set_slot("split", step.into_dyn_step())
    }

    /// Sets (or replaces) the preprocesser of a training pipeline.
    #[must_use]
    pub fn add_preprocesser<S: PreprocesserStep + IntoDynStep>(self, step: S) -> Self {
        self.set_slot("preprocesser", step.into_dyn_step())
    }

    /// Sets (or replaces) the trainer of a training pipeline.
    #[must_use]
    pub fn add_trainer<S: TrainerStep + IntoDynStep>(self, step: S) -> Self {
        self.set_slot("trainer", step.into_dyn_step())
    }

    /// Sets (or replaces) the evaluator of a training pipeline.
    #[must_use]
    pub fn add_evaluator<S: EvaluatorStep + IntoDynStep>(self, step: S) -> Self {
        self.set_slot("evaluator", step.into_dyn_step())
    }

    /// Puts a type-erased step into a slot (for rebuilding a training pipeline from a config).
    pub(crate) fn set_slot_dyn(self, slot: &str, step: Box<dyn DynStep>) -> Result<Self, String> {
        let Some(s) = TRAINING_SLOTS.iter().find(|s| **s == slot) else {
            return Err(format!(
                "`{}` is not a training pipeline slot (slots: {})",
                elide(slot),
                TRAINING_SLOTS.join(", ")
            ));
        };
        // The typed slot methods check the kind at compile time; a config can name any step.
        let info = step.info();
        if info.kind.as_str() != *s {
            return Err(format!(
                "the `{s}` slot takes a step of kind {s}, but `{}` is of kind {}",
                info.source, info.kind
            ));
        }
        Ok(self.set_slot(s, step))
    }

    /// Checks the whole pipeline (names, wiring, types, cycles, mandatory slots, and the
    /// [limits](self#limits) on names and string parameters) and returns the order in which its
    /// steps can run.
    pub fn validate(&self) -> Result<Plan, PipelineError> {
        validate::validate(self)
    }

    pub(crate) fn problems(&self) -> &[PipelineError] {
        &self.problems
    }
}
