//! The step kinds a user implements, and their adapters to [`DynStep`].

use crate::artifact::{Artifact, Inputs, Metrics, Outputs, Table};
use crate::hash::Hash128;
use crate::param::{ParamCheckError, Params};

use super::{
    DataLocation, DynStep, IoSpec, StepCode, StepContext, StepInfo, StepKind, StepParams,
    StepResult,
};

/// Reads data from outside the pipeline into a [`Table`] (output `data`).
///
/// **Caching.** Nothing inside the pipeline tells whether the outside data changed, so a
/// datasource is reused from the cache only when it says what it reads: a datasource that reads
/// a file or a folder names it in [`location`](DatasourceStep::location) and is then
/// fingerprinted from the data's bytes; any other implements
/// [`fingerprint`](DatasourceStep::fingerprint) (a version number, an ETag, a query's last
/// modification time…). A datasource with neither runs every time; the steps after it are still
/// reused when it reads identical data.
///
/// ```
/// # extern crate zenml_core as zenml;
/// use zenml::prelude::*;
/// use zenml::step::DataLocation;
///
/// /// Reads a CSV file.
/// #[step]
/// pub struct MyCsv {
///     pub path: String,
/// }
///
/// #[step]
/// impl DatasourceStep for MyCsv {
///     fn read(&self, _ctx: &mut StepContext) -> StepResult<Table> {
///         Ok(Table::read_csv(&self.path)?)
///     }
///
///     // Reused from the cache while the file's bytes are unchanged.
///     fn location(&self) -> Option<DataLocation> {
///         Some(DataLocation::file(&self.path))
///     }
/// }
/// ```
pub trait DatasourceStep: StepParams {
    /// Reads the data.
    fn read(&self, ctx: &mut StepContext) -> StepResult<Table>;

    /// Where the data is read from, when it is a file or a folder: the default
    /// [`fingerprint`](DatasourceStep::fingerprint) is then taken from its bytes. The default,
    /// `None`, names no location.
    fn location(&self) -> Option<DataLocation> {
        None
    }

    /// A fingerprint of the data this source would read (a hash of the file's bytes, say). It
    /// enters the cache key, so the step is reused only while the data is unchanged. The default
    /// is the fingerprint of [`location`](DatasourceStep::location); without a location it is
    /// `None`, which makes the datasource run every time (its downstream steps are still reused
    /// when it reads identical data).
    fn fingerprint(&self, ctx: &StepContext) -> StepResult<Option<Hash128>> {
        let _ = ctx;
        match self.location() {
            Some(location) => Ok(Some(location.fingerprint()?)),
            None => Ok(None),
        }
    }

    /// Checks the parameters beyond what their types say (sizes spelled in a string, a value
    /// that must be positive), when a pipeline is validated: before any step of it runs, and when
    /// a config is loaded. The error names the parameter and says what would be right. The
    /// default accepts every value.
    fn check_params(&self) -> Result<(), ParamCheckError> {
        Ok(())
    }

    #[doc(hidden)]
    const __KIND: StepKind = StepKind::Datasource;
    #[doc(hidden)]
    fn __into_dyn(self) -> Box<dyn DynStep>
    where
        Self: StepCode,
    {
        Box::new(Datasource(self))
    }
}

/// Splits a [`Table`] (input `data`) into `train` and `eval` tables.
pub trait SplitStep: StepParams {
    /// Splits `data` into (train, eval).
    fn split(&self, ctx: &mut StepContext, data: &Table) -> StepResult<(Table, Table)>;

    /// Checks the parameters beyond what their types say (sizes spelled in a string, a value
    /// that must be positive), when a pipeline is validated: before any step of it runs, and when
    /// a config is loaded. The error names the parameter and says what would be right. The
    /// default accepts every value.
    fn check_params(&self) -> Result<(), ParamCheckError> {
        Ok(())
    }

    #[doc(hidden)]
    const __KIND: StepKind = StepKind::Split;
    #[doc(hidden)]
    fn __into_dyn(self) -> Box<dyn DynStep>
    where
        Self: StepCode,
    {
        Box::new(Split(self))
    }
}

/// Fits a transformation on `train` and applies it to `train` and `eval`; the fitted state is an
/// output too (`state`), for use at inference time.
pub trait PreprocesserStep: StepParams {
    /// The fitted transformation.
    type State: Artifact;
    /// Fits the transformation on the training data.
    fn fit(&self, ctx: &mut StepContext, train: &Table) -> StepResult<Self::State>;
    /// Applies the fitted transformation.
    fn transform(
        &self,
        ctx: &mut StepContext,
        state: &Self::State,
        data: &Table,
    ) -> StepResult<Table>;

    /// Checks the parameters beyond what their types say (sizes spelled in a string, a value
    /// that must be positive), when a pipeline is validated: before any step of it runs, and when
    /// a config is loaded. The error names the parameter and says what would be right. The
    /// default accepts every value.
    fn check_params(&self) -> Result<(), ParamCheckError> {
        Ok(())
    }

    #[doc(hidden)]
    const __KIND: StepKind = StepKind::Preprocesser;
    #[doc(hidden)]
    fn __into_dyn(self) -> Box<dyn DynStep>
    where
        Self: StepCode,
    {
        Box::new(Preprocesser(self))
    }
}

/// Trains a model (output `model`) on `train`, with `eval` at hand for early stopping and the
/// like.
pub trait TrainerStep: StepParams {
    /// The trained model.
    type Model: Artifact;
    /// Trains.
    fn train(&self, ctx: &mut StepContext, train: &Table, eval: &Table) -> StepResult<Self::Model>;

    /// Checks the parameters beyond what their types say (sizes spelled in a string, a value
    /// that must be positive), when a pipeline is validated: before any step of it runs, and when
    /// a config is loaded. The error names the parameter and says what would be right. The
    /// default accepts every value.
    fn check_params(&self) -> Result<(), ParamCheckError> {
        Ok(())
    }

    #[doc(hidden)]
    const __KIND: StepKind = StepKind::Trainer;
    #[doc(hidden)]
    fn __into_dyn(self) -> Box<dyn DynStep>
    where
        Self: StepCode,
    {
        Box::new(Trainer(self))
    }
}

/// Evaluates a model (input `model`) on `eval`, giving [`Metrics`] (output `metrics`). The metrics
/// are also recorded on the step's execution, where run comparison finds them.
pub trait EvaluatorStep: StepParams {
    /// The model type this evaluator reads; it must be the trainer's.
    type Model: Artifact;
    /// Evaluates.
    fn evaluate(
        &self,
        ctx: &mut StepContext,
        model: &Self::Model,
        eval: &Table,
    ) -> StepResult<Metrics>;

    /// Checks the parameters beyond what their types say (sizes spelled in a string, a value
    /// that must be positive), when a pipeline is validated: before any step of it runs, and when
    /// a config is loaded. The error names the parameter and says what would be right. The
    /// default accepts every value.
    fn check_params(&self) -> Result<(), ParamCheckError> {
        Ok(())
    }

    #[doc(hidden)]
    const __KIND: StepKind = StepKind::Evaluator;
    #[doc(hidden)]
    fn __into_dyn(self) -> Box<dyn DynStep>
    where
        Self: StepCode,
    {
        Box::new(Evaluator(self))
    }
}

/// A step with named, typed inputs and outputs of its own, for general pipelines.
///
/// ```
/// # extern crate zenml_core as zenml;
/// use zenml::prelude::*;
///
/// /// Puts the rows of `right` after those of `left`.
/// #[step]
/// pub struct Concat {}
///
/// #[step]
/// impl Step for Concat {
///     fn inputs(&self) -> Vec<IoSpec> {
///         vec![IoSpec::new::<Table>("left"), IoSpec::new::<Table>("right")]
///     }
///     fn outputs(&self) -> Vec<IoSpec> {
///         vec![IoSpec::new::<Table>("joined")]
///     }
///     fn run(&self, _ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
///         let left: &Table = inputs.get("left")?;
///         let right: &Table = inputs.get("right")?;
///         let mut batches = left.batches().to_vec();
///         batches.extend_from_slice(right.batches());
///         let joined = Table::try_new(left.schema().clone(), batches)?;
///         Ok(Outputs::new().with("joined", joined))
///     }
/// }
/// ```
pub trait Step: StepParams {
    /// The declared inputs.
    fn inputs(&self) -> Vec<IoSpec>;
    /// The declared outputs.
    fn outputs(&self) -> Vec<IoSpec>;
    /// Runs; every declared output must be set.
    fn run(&self, ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs>;
    /// See [`DatasourceStep::fingerprint`]; `None` by default.
    fn external_fingerprint(&self, ctx: &StepContext) -> StepResult<Option<Hash128>> {
        let _ = ctx;
        Ok(None)
    }

    /// Checks the parameters beyond what their types say (sizes spelled in a string, a value
    /// that must be positive), when a pipeline is validated: before any step of it runs, and when
    /// a config is loaded. The error names the parameter and says what would be right. The
    /// default accepts every value.
    fn check_params(&self) -> Result<(), ParamCheckError> {
        Ok(())
    }

    #[doc(hidden)]
    const __KIND: StepKind = StepKind::General;
    #[doc(hidden)]
    fn __into_dyn(self) -> Box<dyn DynStep>
    where
        Self: StepCode,
    {
        Box::new(General(self))
    }
}

macro_rules! adapter {
    ($(#[$m:meta])* $name:ident: $bound:ident = $kind:ident) => {
        $(#[$m])*
        pub(crate) struct $name<T>(pub(crate) T);

        impl<T: $bound + StepCode> $name<T> {
            const INFO: StepInfo = StepInfo::of::<T>(StepKind::$kind);
        }
    };
}

adapter!(Datasource: DatasourceStep = Datasource);
adapter!(Split: SplitStep = Split);
adapter!(Preprocesser: PreprocesserStep = Preprocesser);
adapter!(Trainer: TrainerStep = Trainer);
adapter!(Evaluator: EvaluatorStep = Evaluator);
adapter!(General: Step = General);

macro_rules! common {
    ($name:ident) => {
        fn info(&self) -> StepInfo {
            <$name<T>>::INFO
        }
        fn params(&self) -> Params {
            self.0.params()
        }
        fn clone_box(&self) -> Box<dyn DynStep> {
            Box::new($name(self.0.clone_step()))
        }
    };
}

impl<T: DatasourceStep + StepCode> DynStep for Datasource<T> {
    common!(Datasource);
    fn check_params(&self) -> Result<(), ParamCheckError> {
        self.0.check_params()
    }
    fn inputs(&self) -> Vec<IoSpec> {
        Vec::new()
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("data")]
    }
    fn external_fingerprint(&self, ctx: &StepContext) -> StepResult<Option<Hash128>> {
        self.0.fingerprint(ctx)
    }
    fn run(&self, ctx: &mut StepContext, _inputs: &Inputs) -> StepResult<Outputs> {
        Ok(Outputs::new().with("data", self.0.read(ctx)?))
    }
}

impl<T: SplitStep + StepCode> DynStep for Split<T> {
    common!(Split);
    fn check_params(&self) -> Result<(), ParamCheckError> {
        self.0.check_params()
    }
    fn inputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("data")]
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("train"), IoSpec::new::<Table>("eval")]
    }
    fn run(&self, ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        let (train, eval) = self.0.split(ctx, inputs.get::<Table>("data")?)?;
        Ok(Outputs::new().with("train", train).with("eval", eval))
    }
}

impl<T: PreprocesserStep + StepCode> DynStep for Preprocesser<T> {
    common!(Preprocesser);
    fn check_params(&self) -> Result<(), ParamCheckError> {
        self.0.check_params()
    }
    fn inputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("train"), IoSpec::new::<Table>("eval")]
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![
            IoSpec::new::<Table>("train"),
            IoSpec::new::<Table>("eval"),
            IoSpec::new::<T::State>("state"),
        ]
    }
    fn run(&self, ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        let train = inputs.get::<Table>("train")?;
        let eval = inputs.get::<Table>("eval")?;
        let state = self.0.fit(ctx, train)?;
        let train = self.0.transform(ctx, &state, train)?;
        let eval = self.0.transform(ctx, &state, eval)?;
        Ok(Outputs::new()
            .with("train", train)
            .with("eval", eval)
            .with("state", state))
    }
}

impl<T: TrainerStep + StepCode> DynStep for Trainer<T> {
    common!(Trainer);
    fn check_params(&self) -> Result<(), ParamCheckError> {
        self.0.check_params()
    }
    fn inputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("train"), IoSpec::new::<Table>("eval")]
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<T::Model>("model")]
    }
    fn run(&self, ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        let model = self.0.train(
            ctx,
            inputs.get::<Table>("train")?,
            inputs.get::<Table>("eval")?,
        )?;
        Ok(Outputs::new().with("model", model))
    }
}

impl<T: EvaluatorStep + StepCode> DynStep for Evaluator<T> {
    common!(Evaluator);
    fn check_params(&self) -> Result<(), ParamCheckError> {
        self.0.check_params()
    }
    fn inputs(&self) -> Vec<IoSpec> {
        vec![
            IoSpec::new::<T::Model>("model"),
            IoSpec::new::<Table>("eval"),
        ]
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Metrics>("metrics")]
    }
    fn run(&self, ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        let metrics = self.0.evaluate(
            ctx,
            inputs.get::<T::Model>("model")?,
            inputs.get::<Table>("eval")?,
        )?;
        for (name, value) in metrics.iter() {
            ctx.record_metric(name, value);
        }
        Ok(Outputs::new().with("metrics", metrics))
    }
}

impl<T: Step + StepCode> DynStep for General<T> {
    common!(General);
    fn check_params(&self) -> Result<(), ParamCheckError> {
        self.0.check_params()
    }
    fn inputs(&self) -> Vec<IoSpec> {
        self.0.inputs()
    }
    fn outputs(&self) -> Vec<IoSpec> {
        self.0.outputs()
    }
    fn external_fingerprint(&self, ctx: &StepContext) -> StepResult<Option<Hash128>> {
        self.0.external_fingerprint(ctx)
    }
    fn run(&self, ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        self.0.run(ctx, inputs)
    }
}
