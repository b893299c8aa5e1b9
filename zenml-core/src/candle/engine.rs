//! The training loop of the network base, and the seeded parameter store it builds networks with.

use std::collections::BTreeMap;
use std::time::Instant;

use candle_core::{DType, Device, Result as CandleResult, Shape, Tensor, Var};
use candle_nn::init::{FanInOut, NormalOrUniform};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{AdamW, Init, Optimizer, ParamsAdamW, VarBuilder, VarMap};

use crate::artifact::Table;
use crate::step::{StepContext, StepResult};
use crate::steps::SplitMix64;

use super::model::{Trained, features_of, outputs_and_metrics, targets_of};
use super::{Network, NetworkTrainer};

/// One forward pass of a [`Network`](super::Network): training (dropout on, with masks drawn from
/// the training's seed) or inference (dropout off).
#[derive(Debug)]
pub struct Pass {
    /// Set while training: the generator of this batch's dropout masks.
    dropout: Option<SplitMix64>,
}

impl Pass {
    /// A pass for inference: [`Pass::dropout`] leaves its input as it is.
    pub fn inference() -> Pass {
        Pass { dropout: None }
    }

    /// A training pass whose dropout masks come from `seed`.
    pub(crate) fn training(seed: u64) -> Pass {
        Pass {
            dropout: Some(SplitMix64(seed)),
        }
    }

    /// Is the network training?
    pub fn is_training(&self) -> bool {
        self.dropout.is_some()
    }

    /// Inverted dropout: while training, each element of `x` is zeroed with probability `p` and
    /// the others are scaled by `1 / (1 - p)`; at inference, `x` as it is. `p` must be in [0, 1).
    pub fn dropout(&mut self, x: &Tensor, p: f64) -> CandleResult<Tensor> {
        if !(0.0..1.0).contains(&p) {
            candle_core::bail!("a dropout probability is from 0 up to (not including) 1, not {p}");
        }
        let Some(rng) = &mut self.dropout else {
            return Ok(x.clone());
        };
        if p == 0.0 {
            return Ok(x.clone());
        }
        #[allow(clippy::cast_possible_truncation)]
        let keep = (1.0 / (1.0 - p)) as f32;
        let mask: Vec<f32> = (0..x.elem_count())
            .map(|_| if rng.next_f64() < p { 0.0 } else { keep })
            .collect();
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
        x * mask
    }
}

/// Mixes a seed with a purpose and a counter, so that each stream of random numbers (a layer's
/// weights, an epoch's order, a batch's dropout) is its own.
fn derive_seed(seed: u64, purpose: u64, counter: u64) -> u64 {
    let mut rng = SplitMix64(seed ^ purpose.rotate_left(17) ^ counter.rotate_left(41));
    rng.next()
}

const SHUFFLE: u64 = 0x5348_5546_464c_4521;
const DROPOUT: u64 = 0x4452_4f50_4f55_5421;

/// The parameters of a network being trained: created on first request with the initialisation
/// asked for, drawn from a generator seeded by the training's seed and the parameter's name (so
/// that neither the order in which a network asks for its parameters nor the thread it runs on
/// changes them), and kept in a [`VarMap`] for the optimiser.
struct SeededInit {
    vars: VarMap,
    seed: u64,
}

impl SeededInit {
    fn values(&self, shape: &Shape, name: &str, init: Init) -> Vec<f32> {
        let n = shape.elem_count();
        let mut rng = SplitMix64(derive_seed(
            self.seed,
            xxhash_rust::xxh3::xxh3_64(name.as_bytes()),
            0,
        ));
        let mut uniform = |lo: f64, up: f64| lo + (up - lo) * rng.next_f64();
        #[allow(clippy::cast_possible_truncation)]
        let values: Vec<f32> = match init {
            Init::Const(c) => vec![c as f32; n],
            Init::Uniform { lo, up } => (0..n).map(|_| uniform(lo, up) as f32).collect(),
            Init::Randn { mean, stdev } => normals(&mut rng, n, mean, stdev),
            Init::Kaiming {
                dist,
                fan,
                non_linearity,
            } => {
                let fan = match fan {
                    FanInOut::FanIn | FanInOut::FanOut => fan.for_shape(shape).max(1),
                };
                #[allow(clippy::cast_precision_loss)]
                let std = non_linearity.gain() / (fan as f64).sqrt();
                match dist {
                    NormalOrUniform::Uniform => {
                        let bound = 3f64.sqrt() * std;
                        (0..n).map(|_| uniform(-bound, bound) as f32).collect()
                    }
                    NormalOrUniform::Normal => normals(&mut rng, n, 0.0, std),
                }
            }
        };
        values
    }
}

/// `n` normal numbers (Box–Muller).
fn normals(rng: &mut SplitMix64, n: usize, mean: f64, stdev: f64) -> Vec<f32> {
    #[allow(clippy::cast_possible_truncation)]
    (0..n)
        .map(|_| {
            let u1 = 1.0 - rng.next_f64(); // (0, 1]: its logarithm is finite
            let u2 = rng.next_f64();
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            (mean + stdev * z) as f32
        })
        .collect()
}

fn poisoned() -> candle_core::Error {
    candle_core::Error::Msg("the network's parameters are locked by a thread that panicked".into())
}

impl SimpleBackend for SeededInit {
    fn get(
        &self,
        s: Shape,
        name: &str,
        h: Init,
        dtype: DType,
        dev: &Device,
    ) -> CandleResult<Tensor> {
        let mut vars = self.vars.data().lock().map_err(|_| poisoned())?;
        if let Some(var) = vars.get(name) {
            if var.shape() != &s {
                candle_core::bail!(
                    "parameter `{name}` is asked for with shape {s:?} and {:?}",
                    var.shape()
                );
            }
            return Ok(var.as_tensor().clone());
        }
        let values = self.values(&s, name, h);
        let tensor = Tensor::from_vec(values, s, dev)?.to_dtype(dtype)?;
        let var = Var::from_tensor(&tensor)?;
        let tensor = var.as_tensor().clone();
        vars.insert(name.to_owned(), var);
        Ok(tensor)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> CandleResult<Tensor> {
        let vars = self.vars.data().lock().map_err(|_| poisoned())?;
        match vars.get(name) {
            Some(var) => var.as_tensor().to_dtype(dtype)?.to_device(dev),
            None => candle_core::bail!("no parameter `{name}`: its shape is needed to create it"),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.vars
            .data()
            .lock()
            .map(|vars| vars.contains_key(name))
            .unwrap_or(false)
    }
}

/// Trains `trainer`'s network on `train`, reporting on `eval` after each epoch (see the
/// [module docs](super)), and returns it with its weights.
///
/// Fails with a message naming what is wrong: a parameter ([`NetworkTrainer::training`]), a
/// missing or non-numeric column, a label that does not fit the outputs, a network whose outputs
/// do not have the declared width, or a loss that is no longer finite.
pub fn fit<T: NetworkTrainer>(
    trainer: &T,
    ctx: &mut StepContext,
    train: &Table,
    eval: &Table,
) -> StepResult<Trained<T>> {
    let training = trainer.training()?;
    training.check()?;
    let started = Instant::now();
    let device = Device::Cpu;
    let (features, x) = features_of(train, &training.label)?;
    let rows = x.dims()[0];
    if rows == 0 {
        return Err("cannot train on an empty table".into());
    }
    let y = targets_of(train, &training.label, training.outputs)?;
    let names: Vec<&str> = features.iter().map(String::as_str).collect();
    let eval_x = super::model::matrix(eval, &names)?;
    let eval_y = targets_of(eval, &training.label, training.outputs)?;

    let vars = VarMap::new();
    let vb = VarBuilder::from_backend(
        Box::new(SeededInit {
            vars: vars.clone(),
            seed: training.seed,
        }),
        DType::F32,
        device.clone(),
    );
    let net = trainer.build(features.len(), vb)?;
    // The optimiser's order of parameters is the names' order, whatever the map's.
    let params: BTreeMap<String, Var> = vars
        .data()
        .lock()
        .map_err(|_| poisoned())?
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if params.is_empty() {
        return Err(
            "the network has no parameters to train: its `build` took none from \
                    the VarBuilder"
                .into(),
        );
    }
    let mut optimizer = AdamW::new(
        params.values().cloned().collect(),
        ParamsAdamW {
            lr: training.lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            weight_decay: 0.0,
        },
    )?;

    let mut order: Vec<u32> =
        (0..u32::try_from(rows).map_err(|_| "more than 2^32 rows")?).collect();
    let mut batch_counter = 0u64;
    for epoch in 1..=training.epochs {
        SplitMix64(derive_seed(training.seed, SHUFFLE, u64::from(epoch))).shuffle(&mut order);
        let mut total = 0.0f64;
        for batch in order.chunks(training.batch_size) {
            let idx = Tensor::new(batch, &device)?;
            let xb = x.index_select(&idx, 0)?;
            let yb = y.index_select(&idx, 0)?;
            batch_counter += 1;
            let mut pass = Pass::training(derive_seed(training.seed, DROPOUT, batch_counter));
            let out = net.forward(&xb, &mut pass)?;
            check_width(&out, &yb)?;
            let loss = training.loss.compute(&out, &yb)?;
            optimizer.backward_step(&loss)?;
            #[allow(clippy::cast_precision_loss)]
            let weight = batch.len() as f64;
            total += f64::from(loss.to_scalar::<f32>()?) * weight;
        }
        #[allow(clippy::cast_precision_loss)]
        let train_loss = total / rows as f64;
        if !train_loss.is_finite() {
            return Err(format!(
                "the training loss is {train_loss} after epoch {epoch}: lower the learning rate \
                 (lr = {}) or scale the features",
                training.lr
            )
            .into());
        }
        let mut line = format!(
            "epoch {epoch}/{}: train_loss {train_loss:.6}",
            training.epochs
        );
        ctx.record_metric("train_loss", train_loss);
        if eval_x.dims()[0] > 0 {
            let (eval_loss, figures) =
                outputs_and_metrics(&net, &eval_x, &eval_y, training.loss, &training.metrics)?;
            line.push_str(&format!(", eval_loss {eval_loss:.6}"));
            ctx.record_metric("eval_loss", eval_loss);
            for (metric, value) in figures {
                line.push_str(&format!(", eval_{metric} {value:.6}"));
                ctx.record_metric(format!("eval_{metric}"), value);
            }
        }
        ctx.log(line);
    }
    ctx.record_metric("train_seconds", started.elapsed().as_secs_f64());

    let weights: Vec<(String, Tensor)> = params
        .into_iter()
        .map(|(name, var)| (name, var.as_tensor().detach()))
        .collect();
    Ok(Trained::new(
        trainer.clone_step(),
        features,
        training,
        weights,
        net,
    ))
}

/// The network's outputs must be as wide as the targets.
pub(super) fn check_width(out: &Tensor, targets: &Tensor) -> StepResult<()> {
    if out.dims() != targets.dims() {
        return Err(format!(
            "the network gives outputs of shape {:?} for targets of shape {:?}: its last layer \
             must have as many units as the training's outputs",
            out.dims(),
            targets.dims()
        )
        .into());
    }
    Ok(())
}
