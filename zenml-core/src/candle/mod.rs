//! Neural networks on [candle](https://github.com/huggingface/candle), on the CPU: a trainer base
//! that owns the training loop, and a ready feed-forward trainer and evaluator on it.
//!
//! Enabled by the `candle` feature (off by default: candle is a large build).
//!
//! # The base
//!
//! A trainer on the base implements [`NetworkTrainer`]: it says how to train ([`Training`]: the
//! label column, epochs, batch size, learning rate, loss, seed, …) and builds its network
//! ([`Network`]) from the number of input features and a [`VarBuilder`](candle_nn::VarBuilder)
//! that hands out its parameters. Its [`TrainerStep`](crate::step::TrainerStep) impl then calls
//! [`fit`], which owns everything else:
//!
//! - the features are every numeric column of the train table but the label, as `f32`;
//! - the targets are the label's values when the network has one output, and the label's class
//!   numbers (0, 1, …) one-hot encoded when it has more;
//! - each epoch visits the rows in a new random order, in mini-batches of `batch_size`, and takes
//!   one Adam step (β₁ 0.9, β₂ 0.999, ε 10⁻⁷, as Keras) per batch on the [`Loss`];
//! - dropout ([`Pass::dropout`]) is applied while training only;
//! - after each epoch, the mean training loss, the loss on the eval table and the requested
//!   [`Metric`]s on it are logged and recorded on the step's execution (`train_loss`,
//!   `eval_loss`, `eval_<metric>`), together with `train_seconds` at the end;
//! - everything random (the initial weights, the order of the rows, the dropout masks) comes from
//!   the [`Training::seed`]: the same parameters on the same data train the same weights, bit for
//!   bit, on one machine.
//!
//! candle runs on the CPU here, spreading each matrix product over rayon's threads. For networks
//! as small as [`FeedForwardTrainer`]'s defaults the hand-off costs more than it saves; setting
//! `RAYON_NUM_THREADS=1` trained them 2–8× faster on a busy 2-core machine (see `BENCHMARKS.md`).
//!
//! The trained network is a [`Trained<T>`] artifact, stored as a
//! [safetensors](https://github.com/huggingface/safetensors) file ([`SafeTensors`]) whose
//! metadata records the trainer, its parameters, the feature columns and the label, so that an
//! evaluator step, or another process, loads it and predicts with it.
//!
//! ```
//! # extern crate zenml_core as zenml;
//! use zenml::candle::candle_core::{Result, Tensor};
//! use zenml::candle::candle_nn::{self, Module, VarBuilder};
//! use zenml::candle::{Activation, Loss, Network, NetworkTrainer, Pass, Trained, Training, fit};
//! use zenml::param::ParamCheckError;
//! use zenml::prelude::*;
//!
//! /// Logistic regression as a one-layer network.
//! #[step]
//! #[derive(Debug)]
//! pub struct Logistic {
//!     /// The 0/1 label column.
//!     #[param(default = "label")]
//!     pub label: String,
//!     #[param(default = 0.1)]
//!     pub lr: f64,
//! }
//!
//! /// The network: a linear layer and a sigmoid.
//! pub struct LogisticNet(candle_nn::Linear);
//!
//! impl Network for LogisticNet {
//!     fn forward(&self, x: &Tensor, _pass: &mut Pass) -> Result<Tensor> {
//!         Activation::Sigmoid.apply(&self.0.forward(x)?)
//!     }
//! }
//!
//! impl NetworkTrainer for Logistic {
//!     type Net = LogisticNet;
//!     fn training(&self) -> std::result::Result<Training, ParamCheckError> {
//!         Ok(Training::new(&self.label).epochs(20).batch_size(8).lr(self.lr).loss(Loss::BinaryCrossentropy))
//!     }
//!     fn build(&self, inputs: usize, vb: VarBuilder<'_>) -> Result<LogisticNet> {
//!         Ok(LogisticNet(candle_nn::linear(inputs, 1, vb.pp("out"))?))
//!     }
//! }
//!
//! #[step]
//! impl TrainerStep for Logistic {
//!     type Model = Trained<Logistic>;
//!     fn train(&self, ctx: &mut StepContext, train: &Table, eval: &Table) -> StepResult<Self::Model> {
//!         fit(self, ctx, train, eval)
//!     }
//! }
//! ```
//!
//! # The ready steps
//!
//! [`FeedForwardTrainer`] is a dense network with the parameters of the classic Keras
//! feed-forward trainer (`batch_size`, `dropout_chance`, `epochs`, `hidden_activation`,
//! `hidden_layers`, `last_activation`, `loss`, `lr`, `metrics`, `output_units`), learning the
//! column `label`; [`FeedForwardMetrics`] evaluates what it trained.

mod engine;
mod model;

pub use engine::{Pass, fit};
pub use model::{NetworkError, SafeTensors, Trained};

/// candle's tensors, devices and errors, at the version this module is built with.
pub use candle_core;
/// candle's layers, variable builders and optimisers, at the version this module is built with.
pub use candle_nn;

use std::fmt;

use candle_core::{Result as CandleResult, Tensor};
use candle_nn::{Init, Linear, Module, VarBuilder};

use crate::artifact::{Metrics, Table};
use crate::param::ParamCheckError;
use crate::step::{EvaluatorStep, StepContext, StepParams, StepResult, TrainerStep};

/// A network that a [`NetworkTrainer`] builds: rows of features in, rows of outputs out.
pub trait Network: Send + Sync + 'static {
    /// The outputs for a batch of inputs: a `rows × inputs` `f32` tensor in, a `rows × outputs`
    /// tensor out, the last activation applied (the loss compares these with the targets).
    /// `pass` says whether the network is training, and applies dropout then only.
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> CandleResult<Tensor>;
}

/// A trainer on the network base: how to train, and how to build the network. Its
/// [`TrainerStep`] impl calls [`fit`] (see the [module docs](self)).
pub trait NetworkTrainer: StepParams {
    /// The network it builds.
    type Net: Network;

    /// How to train, from the step's parameters; an error names the parameter that is wrong.
    /// It is also what [`TrainerStep::check_params`] of the ready steps calls, so that a bad
    /// value is refused before any step runs.
    fn training(&self) -> Result<Training, ParamCheckError>;

    /// Builds the network for `inputs` features (of [`Training::outputs`] outputs), taking every
    /// parameter from `vb`. While training, `vb` creates each parameter with the initialisation
    /// asked for, drawn from the seed; when a trained network is loaded, it hands out the stored
    /// values under the same names.
    fn build(&self, inputs: usize, vb: VarBuilder<'_>) -> CandleResult<Self::Net>;
}

/// How [`fit`] trains: what the base needs from a trainer's parameters.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Training {
    /// The label column.
    pub label: String,
    /// The network's outputs: 1 to regress (or classify 0/1 against) the label's value, more to
    /// classify the label's class numbers `0..outputs` one-hot.
    pub outputs: usize,
    /// Passes over the training data.
    pub epochs: u32,
    /// Rows per optimiser step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// The loss minimised.
    pub loss: Loss,
    /// Figures computed on the eval table after each epoch, besides the loss.
    pub metrics: Vec<Metric>,
    /// The seed of the initial weights, of the order of the rows and of the dropout masks.
    pub seed: u64,
}

impl Training {
    /// Training on label column `label`: one output, one epoch, batches of one row, learning
    /// rate 0.001, mean squared error, no metrics, seed 0.
    pub fn new(label: impl Into<String>) -> Self {
        Training {
            label: label.into(),
            outputs: 1,
            epochs: 1,
            batch_size: 1,
            lr: 0.001,
            loss: Loss::Mse,
            metrics: Vec::new(),
            seed: 0,
        }
    }

    /// Sets [`Training::outputs`].
    #[must_use]
    pub fn outputs(mut self, outputs: usize) -> Self {
        self.outputs = outputs;
        self
    }

    /// Sets [`Training::epochs`].
    #[must_use]
    pub fn epochs(mut self, epochs: u32) -> Self {
        self.epochs = epochs;
        self
    }

    /// Sets [`Training::batch_size`].
    #[must_use]
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Sets [`Training::lr`].
    #[must_use]
    pub fn lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }

    /// Sets [`Training::loss`].
    #[must_use]
    pub fn loss(mut self, loss: Loss) -> Self {
        self.loss = loss;
        self
    }

    /// Sets [`Training::metrics`].
    #[must_use]
    pub fn metrics(mut self, metrics: Vec<Metric>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Sets [`Training::seed`].
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the settings [`fit`] cannot train with; the errors name the field.
    pub fn check(&self) -> Result<(), ParamCheckError> {
        if self.label.is_empty() {
            return Err(ParamCheckError::new("label", "name the label column"));
        }
        if self.outputs == 0 {
            return Err(ParamCheckError::new(
                "output_units",
                "a network needs at least 1 output",
            ));
        }
        if self.epochs == 0 {
            return Err(ParamCheckError::new("epochs", "train for at least 1 epoch"));
        }
        if self.batch_size == 0 {
            return Err(ParamCheckError::new(
                "batch_size",
                "a batch holds at least 1 row",
            ));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(ParamCheckError::new(
                "lr",
                format!(
                    "the learning rate must be a positive number, not {}",
                    self.lr
                ),
            ));
        }
        Ok(())
    }
}

/// An activation function, spelled in configs as Keras spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, crate::StepParam)]
#[step_param(crate = crate, rename_all = "snake_case")]
pub enum Activation {
    /// `linear`: none, `x`.
    Linear,
    /// `relu`: `max(x, 0)`.
    Relu,
    /// `sigmoid`: `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh`.
    Tanh,
    /// `softmax` over each row's outputs.
    Softmax,
    /// `elu` with α = 1.
    Elu,
    /// `gelu` (the tanh approximation).
    Gelu,
    /// `swish` (also called SiLU): `x · sigmoid(x)`.
    Swish,
}

impl Activation {
    /// The activation applied to `x` (rows × units).
    pub fn apply(self, x: &Tensor) -> CandleResult<Tensor> {
        match self {
            Activation::Linear => Ok(x.clone()),
            Activation::Relu => x.relu(),
            Activation::Sigmoid => candle_nn::ops::sigmoid(x),
            Activation::Tanh => x.tanh(),
            // Not `softmax_last_dim`: that fused kernel has no gradient.
            Activation::Softmax => candle_nn::ops::softmax(x, candle_core::D::Minus1),
            Activation::Elu => x.elu(1.0),
            Activation::Gelu => x.gelu(),
            Activation::Swish => x.silu(),
        }
    }
}

/// A loss function, spelled in configs as Keras spells it. Each compares the network's outputs
/// (the last activation applied) with the targets and averages over the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, crate::StepParam)]
#[step_param(crate = crate, rename_all = "snake_case")]
pub enum Loss {
    /// `mse`: mean squared error.
    Mse,
    /// `mae`: mean absolute error.
    Mae,
    /// `binary_crossentropy`: for outputs in (0, 1), such as a sigmoid's; clipped at 10⁻⁷.
    BinaryCrossentropy,
    /// `categorical_crossentropy`: for one-hot targets; each row of outputs is normalised to sum
    /// to 1 (a softmax's already does), then clipped at 10⁻⁷.
    CategoricalCrossentropy,
}

impl Loss {
    /// Keras's clipping of probabilities before a logarithm.
    const EPSILON: f64 = 1e-7;

    /// The loss of `outputs` against `targets` (both rows × outputs), as a scalar tensor.
    pub fn compute(self, outputs: &Tensor, targets: &Tensor) -> CandleResult<Tensor> {
        match self {
            Loss::Mse => (outputs - targets)?.sqr()?.mean_all(),
            Loss::Mae => (outputs - targets)?.abs()?.mean_all(),
            Loss::BinaryCrossentropy => {
                let p = outputs.clamp(Self::EPSILON, 1.0 - Self::EPSILON)?;
                let one_minus_p = p.affine(-1.0, 1.0)?;
                let one_minus_t = targets.affine(-1.0, 1.0)?;
                let ll = ((targets * p.log()?)? + (one_minus_t * one_minus_p.log()?)?)?;
                ll.mean_all()?.neg()
            }
            Loss::CategoricalCrossentropy => {
                let sums = outputs.sum_keepdim(1)?;
                let p = outputs
                    .broadcast_div(&sums)?
                    .clamp(Self::EPSILON, 1.0 - Self::EPSILON)?;
                let rows = (targets * p.log()?)?.sum(1)?;
                rows.mean_all()?.neg()
            }
        }
    }

    /// The name configs use (`mse`).
    pub fn name(self) -> &'static str {
        crate::param::EnumParam::variant_name(&self)
    }
}

/// A figure computed on the eval table after each epoch ([`Training::metrics`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Metric {
    /// `accuracy`: with one output, the share of rows where the output rounded at 0.5 is the
    /// label; with more, the share where the largest output is the label's class.
    Accuracy,
    /// `mse`: mean squared error of the outputs against the targets.
    Mse,
    /// `mae`: mean absolute error.
    Mae,
    /// `rmse`: the square root of the mean squared error.
    Rmse,
}

impl Metric {
    /// Every metric, in the order their names are listed in errors.
    pub const ALL: [Metric; 4] = [Metric::Accuracy, Metric::Mse, Metric::Mae, Metric::Rmse];

    /// The metric's name (`accuracy`).
    pub fn name(self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::Mse => "mse",
            Metric::Mae => "mae",
            Metric::Rmse => "rmse",
        }
    }

    /// The metric named `name`.
    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Metric names separated by commas (`"accuracy,mae"`; spaces around names are ignored;
    /// empty for none). An unknown name is an error naming the allowed ones.
    pub fn parse_list(list: &str) -> Result<Vec<Metric>, String> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some(m) = Metric::parse(name) else {
                return Err(format!(
                    "unknown metric `{}`; the metrics are: {}",
                    crate::pipeline::elide(name),
                    Metric::ALL.map(Metric::name).join(", ")
                ));
            };
            if !out.contains(&m) {
                out.push(m);
            }
        }
        Ok(out)
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The hidden layers of a [`FeedForwardTrainer`] when `hidden_layers` is `null`.
pub const DEFAULT_HIDDEN_LAYERS: [usize; 3] = [64, 32, 16];

/// The seed a [`FeedForwardTrainer`] trains with.
pub const FEED_FORWARD_SEED: u64 = 42;

/// The column a [`FeedForwardTrainer`] learns: a preprocesser names the target `label`.
pub const FEED_FORWARD_LABEL: &str = "label";

/// The largest hidden layer a [`FeedForwardTrainer`] accepts.
const MAX_UNITS: usize = 1 << 16;

/// A dense feed-forward network trainer, with the parameters of the classic Keras feed-forward
/// trainer: hidden layers of `hidden_activation`, each followed by dropout while training, then
/// `output_units` outputs of `last_activation`, trained with Adam on `loss`.
///
/// The parameters, with their defaults, as a config writes them:
///
/// ```yaml
/// batch_size: 1
/// dropout_chance: 0.2
/// epochs: 1
/// hidden_activation: relu
/// hidden_layers: null
/// last_activation: sigmoid
/// loss: mse
/// lr: 0.001
/// metrics: null
/// output_units: 1
/// ```
///
/// It learns the column named `label` ([`FEED_FORWARD_LABEL`]: its values are the targets with
/// one output, its class numbers (0, 1, …) one-hot with more), from every other numeric column.
/// Weights start as Keras's do (Glorot uniform, zero biases), drawn from a fixed seed
/// ([`FEED_FORWARD_SEED`]), which also orders the rows and draws the dropout masks: the same
/// parameters on the same data train the same network. There is no `label` or `seed` parameter,
/// so that the parameters are exactly the classic trainer's; a trainer of your own on
/// [`NetworkTrainer`] can have both.
#[crate::step(crate = crate, module = "zenml::candle")]
#[derive(Debug)]
pub struct FeedForwardTrainer {
    /// Rows per optimiser step (at least 1).
    #[param(default = 1)]
    pub batch_size: u32,
    /// The probability that dropout zeroes a hidden unit's output while training, in [0, 1).
    #[param(default = 0.2)]
    pub dropout_chance: f64,
    /// Passes over the training data (at least 1).
    #[param(default = 1)]
    pub epochs: u32,
    /// The activation of the hidden layers: linear, relu, sigmoid, tanh, softmax, elu, gelu or
    /// swish.
    #[param(default = Activation::Relu)]
    pub hidden_activation: Activation,
    /// The sizes of the hidden layers, first to last, separated by commas (`"64,32,16"`; quote a
    /// single size in YAML: `"64"`); `null` for 64, 32 and 16; an empty string for none.
    pub hidden_layers: Option<String>,
    /// The activation of the outputs (as `hidden_activation`).
    #[param(default = Activation::Sigmoid)]
    pub last_activation: Activation,
    /// The loss: mse, mae, binary_crossentropy or categorical_crossentropy.
    #[param(default = Loss::Mse)]
    pub loss: Loss,
    /// Adam's learning rate (positive).
    #[param(default = 0.001)]
    pub lr: f64,
    /// Figures computed on the eval table after each epoch, besides the loss, separated by
    /// commas: accuracy, mse, mae, rmse (`"accuracy,mae"`); `null` for none.
    pub metrics: Option<String>,
    /// The number of outputs (at least 1): 1 to regress or classify 0/1, the number of classes
    /// to classify class numbers.
    #[param(default = 1)]
    pub output_units: u32,
}

impl FeedForwardTrainer {
    /// The hidden layers' sizes, from `hidden_layers`.
    pub fn hidden_sizes(&self) -> Result<Vec<usize>, ParamCheckError> {
        let Some(spec) = &self.hidden_layers else {
            return Ok(DEFAULT_HIDDEN_LAYERS.to_vec());
        };
        let bad = |why: String| ParamCheckError::new("hidden_layers", why);
        let mut sizes = Vec::new();
        for part in spec.split(',').map(str::trim) {
            if part.is_empty() && spec.trim().is_empty() {
                break;
            }
            match part.parse::<usize>() {
                Ok(n) if (1..=MAX_UNITS).contains(&n) => sizes.push(n),
                _ => {
                    return Err(bad(format!(
                        "`{}` is not a layer size: write sizes from 1 to {MAX_UNITS} separated by \
                         commas, like \"64,32,16\"",
                        crate::pipeline::elide(part)
                    )));
                }
            }
        }
        Ok(sizes)
    }
}

/// The network a [`FeedForwardTrainer`] builds.
#[derive(Debug)]
pub struct FeedForwardNet {
    hidden: Vec<Linear>,
    output: Linear,
    hidden_activation: Activation,
    last_activation: Activation,
    dropout: f64,
}

impl Network for FeedForwardNet {
    fn forward(&self, x: &Tensor, pass: &mut Pass) -> CandleResult<Tensor> {
        let mut x = x.clone();
        for layer in &self.hidden {
            x = self.hidden_activation.apply(&layer.forward(&x)?)?;
            x = pass.dropout(&x, self.dropout)?;
        }
        self.last_activation.apply(&self.output.forward(&x)?)
    }
}

/// A dense layer initialised as Keras's are: Glorot uniform weights, zero biases.
fn dense(inputs: usize, outputs: usize, vb: VarBuilder<'_>) -> CandleResult<Linear> {
    #[allow(clippy::cast_precision_loss)]
    let limit = (6.0 / (inputs + outputs) as f64).sqrt();
    let weight = vb.get_with_hints(
        (outputs, inputs),
        "weight",
        Init::Uniform {
            lo: -limit,
            up: limit,
        },
    )?;
    let bias = vb.get_with_hints(outputs, "bias", Init::Const(0.0))?;
    Ok(Linear::new(weight, Some(bias)))
}

impl NetworkTrainer for FeedForwardTrainer {
    type Net = FeedForwardNet;

    fn training(&self) -> Result<Training, ParamCheckError> {
        self.hidden_sizes()?;
        if !(0.0..1.0).contains(&self.dropout_chance) {
            return Err(ParamCheckError::new(
                "dropout_chance",
                format!(
                    "a probability from 0 up to (not including) 1 is needed, not {}",
                    self.dropout_chance
                ),
            ));
        }
        let metrics = Metric::parse_list(self.metrics.as_deref().unwrap_or(""))
            .map_err(|e| ParamCheckError::new("metrics", e))?;
        let training = Training::new(FEED_FORWARD_LABEL)
            .outputs(usize::try_from(self.output_units).unwrap_or(usize::MAX))
            .epochs(self.epochs)
            .batch_size(usize::try_from(self.batch_size).unwrap_or(usize::MAX))
            .lr(self.lr)
            .loss(self.loss)
            .metrics(metrics)
            .seed(FEED_FORWARD_SEED);
        training.check()?;
        Ok(training)
    }

    fn build(&self, inputs: usize, vb: VarBuilder<'_>) -> CandleResult<FeedForwardNet> {
        let sizes = self
            .hidden_sizes()
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let mut hidden = Vec::with_capacity(sizes.len());
        let mut width = inputs;
        for (i, &units) in sizes.iter().enumerate() {
            hidden.push(dense(width, units, vb.pp("hidden").pp(i))?);
            width = units;
        }
        let outputs = usize::try_from(self.output_units).unwrap_or(usize::MAX);
        Ok(FeedForwardNet {
            hidden,
            output: dense(width, outputs, vb.pp("output"))?,
            hidden_activation: self.hidden_activation,
            last_activation: self.last_activation,
            dropout: self.dropout_chance,
        })
    }
}

#[crate::step(crate = crate)]
impl TrainerStep for FeedForwardTrainer {
    type Model = Trained<FeedForwardTrainer>;

    fn train(&self, ctx: &mut StepContext, train: &Table, eval: &Table) -> StepResult<Self::Model> {
        fit(self, ctx, train, eval)
    }

    fn check_params(&self) -> Result<(), ParamCheckError> {
        self.training().map(drop)
    }
}

/// Evaluates what a [`FeedForwardTrainer`] trained, on the eval table: `loss` (the trainer's),
/// `mse`, `mae`, `rmse`, and `accuracy` where the label holds classes (see
/// [`Trained::evaluate`]).
#[crate::step(crate = crate, module = "zenml::candle")]
#[derive(Debug)]
pub struct FeedForwardMetrics {}

#[crate::step(crate = crate)]
impl EvaluatorStep for FeedForwardMetrics {
    type Model = Trained<FeedForwardTrainer>;

    fn evaluate(
        &self,
        ctx: &mut StepContext,
        model: &Trained<FeedForwardTrainer>,
        eval: &Table,
    ) -> StepResult<Metrics> {
        let metrics = model.evaluate(eval)?;
        ctx.log(format_args!("evaluated on {} rows", eval.num_rows()));
        Ok(metrics)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::artifact::Artifact;
    use crate::param::{Params, Value};
    use crate::step::StepLog;

    #[derive(Default)]
    struct Lines(Mutex<Vec<String>>);

    impl StepLog for Lines {
        fn log(&self, _step: &str, message: &str) {
            if let Ok(mut lines) = self.0.lock() {
                lines.push(message.to_owned());
            }
        }
    }

    fn context(lines: Arc<Lines>) -> StepContext {
        StepContext::new("p", "p#1", 1, "trainer", std::env::temp_dir(), lines)
    }

    /// Two features and a 0/1 label: whether `a + b > 0` (with a deterministic spread).
    fn table(rows: usize, offset: usize) -> Table {
        let mut m = ndarray::Array2::<f64>::zeros((rows, 3));
        for i in 0..rows {
            #[allow(clippy::cast_precision_loss)]
            let t = (i + offset) as f64;
            let a = (t * 0.731).sin() * 2.0;
            let b = (t * 1.379).cos() * 2.0;
            m[[i, 0]] = a;
            m[[i, 1]] = b;
            m[[i, 2]] = if a + b > 0.0 { 1.0 } else { 0.0 };
        }
        Table::from_ndarray(&["a", "b", "label"], &m).expect("a table")
    }

    fn trainer() -> FeedForwardTrainer {
        FeedForwardTrainer {
            batch_size: 16,
            epochs: 30,
            hidden_layers: Some("8".into()),
            lr: 0.01,
            metrics: Some("accuracy, mae".into()),
            ..FeedForwardTrainer::default()
        }
    }

    fn bytes(model: &Trained<FeedForwardTrainer>) -> Vec<u8> {
        let mut out = Vec::new();
        <Trained<FeedForwardTrainer> as Artifact>::Materializer::write(model, &mut out)
            .expect("the model is written");
        out
    }

    use crate::artifact::Materializer as _;

    #[test]
    fn trains_logs_each_epoch_and_learns() -> StepResult<()> {
        let lines = Arc::new(Lines::default());
        let mut ctx = context(lines.clone());
        let model = fit(&trainer(), &mut ctx, &table(400, 0), &table(100, 1000))?;
        let logged = lines.0.lock().map(|l| l.clone()).unwrap_or_default();
        assert_eq!(logged.len(), 30, "{logged:?}");
        assert!(
            logged[29].starts_with("epoch 30/30: train_loss "),
            "{logged:?}"
        );
        assert!(logged[29].contains("eval_accuracy"), "{logged:?}");
        let recorded: Vec<&str> = ctx.metrics().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            recorded,
            [
                "train_loss",
                "eval_loss",
                "eval_accuracy",
                "eval_mae",
                "train_seconds"
            ]
        );
        let metrics = model.evaluate(&table(100, 1000))?;
        let accuracy = metrics.get("accuracy").unwrap_or(0.0);
        assert!(accuracy > 0.9, "{metrics:?}");
        assert_eq!(model.features(), ["a", "b"]);
        let predictions = model.predict(&table(5, 7))?;
        assert_eq!(predictions.len(), 5);
        assert!(
            predictions
                .iter()
                .all(|p| p.len() == 1 && (0.0..=1.0).contains(&p[0]))
        );
        Ok(())
    }

    #[test]
    fn the_same_parameters_train_the_same_bytes_and_a_loaded_model_predicts_alike() -> StepResult<()>
    {
        let (train, eval) = (table(200, 0), table(50, 500));
        let a = fit(&trainer(), &mut context(Arc::default()), &train, &eval)?;
        let b = fit(&trainer(), &mut context(Arc::default()), &train, &eval)?;
        let stored = bytes(&a);
        assert_eq!(stored, bytes(&b), "training is deterministic");
        let other = FeedForwardTrainer {
            lr: 0.02,
            ..trainer()
        };
        let c = fit(&other, &mut context(Arc::default()), &train, &eval)?;
        assert_ne!(
            stored,
            bytes(&c),
            "another learning rate trains other weights"
        );

        let loaded = SafeTensors::<FeedForwardTrainer>::read(&mut &stored[..])?;
        assert_eq!(loaded.trainer().params(), trainer().params());
        assert_eq!(loaded.features(), a.features());
        assert_eq!(loaded.predict(&eval)?, a.predict(&eval)?);
        assert_eq!(loaded.evaluate(&eval)?, a.evaluate(&eval)?);
        assert_eq!(
            bytes(&loaded),
            stored,
            "a loaded model writes the same bytes"
        );

        // Any safetensors reader sees the weights and the settings.
        let file = safetensors::SafeTensors::deserialize(&stored)?;
        let mut names = file.names();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "hidden.0.bias",
                "hidden.0.weight",
                "output.bias",
                "output.weight"
            ]
        );
        Ok(())
    }

    #[test]
    fn dropout_is_for_training_only() -> CandleResult<()> {
        let x = Tensor::ones((4, 50), candle_core::DType::F32, &candle_core::Device::Cpu)?;
        let same = Pass::inference().dropout(&x, 0.5)?;
        assert_eq!(same.to_vec2::<f32>()?, x.to_vec2::<f32>()?);
        let dropped: Vec<f32> = Pass::training(7)
            .dropout(&x, 0.5)?
            .flatten_all()?
            .to_vec1()?;
        let zeros = dropped.iter().filter(|v| **v == 0.0).count();
        assert!((50..150).contains(&zeros), "{zeros} of 200 dropped");
        assert!(dropped.iter().all(|v| *v == 0.0 || *v == 2.0));
        assert!(Pass::training(7).dropout(&x, 1.0).is_err());
        Ok(())
    }

    #[test]
    fn bad_lists_and_names_are_refused_with_what_is_allowed() {
        let err = |t: FeedForwardTrainer| {
            TrainerStep::check_params(&t)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            err(FeedForwardTrainer {
                hidden_layers: Some("64,x".into()),
                ..Default::default()
            }),
            "parameter `hidden_layers`: `x` is not a layer size: write sizes from 1 to 65536 \
             separated by commas, like \"64,32,16\""
        );
        assert_eq!(
            err(FeedForwardTrainer {
                metrics: Some("accuracy,auc".into()),
                ..Default::default()
            }),
            "parameter `metrics`: unknown metric `auc`; the metrics are: accuracy, mse, mae, rmse"
        );
        assert!(
            err(FeedForwardTrainer {
                dropout_chance: 1.0,
                ..Default::default()
            })
            .starts_with("parameter `dropout_chance`")
        );
        assert!(
            err(FeedForwardTrainer {
                batch_size: 0,
                ..Default::default()
            })
            .starts_with("parameter `batch_size`")
        );
        let none = FeedForwardTrainer {
            hidden_layers: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(none.hidden_sizes(), Ok(Vec::new()));
        assert_eq!(
            FeedForwardTrainer::default().hidden_sizes(),
            Ok(vec![64, 32, 16])
        );

        let unknown = FeedForwardTrainer::from_params(
            &Params::new().with("hidden_activation", Value::Str("relu6".into())),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert_eq!(
            unknown,
            "parameter `hidden_activation` of `zenml::candle::FeedForwardTrainer`: \
             \"relu6\" is not a variant of Activation; expected one of: linear, relu, sigmoid, \
             tanh, softmax, elu, gelu, swish"
        );
    }

    #[test]
    fn several_outputs_classify_class_numbers() -> StepResult<()> {
        let mut m = ndarray::Array2::<f64>::zeros((300, 2));
        for i in 0..300 {
            #[allow(clippy::cast_precision_loss)]
            let x = (i as f64 * 0.37).sin() * 3.0;
            m[[i, 0]] = x;
            m[[i, 1]] = if x < -1.0 {
                0.0
            } else if x < 1.0 {
                1.0
            } else {
                2.0
            };
        }
        let data = Table::from_ndarray(&["x", "label"], &m)?;
        let t = FeedForwardTrainer {
            batch_size: 10,
            epochs: 40,
            hidden_layers: Some("16".into()),
            last_activation: Activation::Softmax,
            loss: Loss::CategoricalCrossentropy,
            lr: 0.02,
            output_units: 3,
            dropout_chance: 0.0,
            ..Default::default()
        };
        let model = fit(&t, &mut context(Arc::default()), &data, &data)?;
        let metrics = model.evaluate(&data)?;
        assert!(metrics.get("accuracy").unwrap_or(0.0) > 0.9, "{metrics:?}");

        let mut bad = m.clone();
        bad[[3, 1]] = 3.0;
        let bad = Table::from_ndarray(&["x", "label"], &bad)?;
        let err = fit(&t, &mut context(Arc::default()), &bad, &data)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(
            err,
            "label `label`: row 3 holds 3; with 3 outputs the label must hold class numbers 0 \
             to 2"
        );
        Ok(())
    }
}
