//! Trained networks: predicting, evaluating, and storing them as safetensors files.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{Read, Write};
use std::marker::PhantomData;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use crate::artifact::{
    Artifact, BaseType, MaterializeError, Materializer, Metrics, Table, TableError,
};
use crate::param::{ParamError, Params, Value};

use super::{Loss, Metric, Network, NetworkTrainer, Pass, Training};

/// A failure to predict with, evaluate or load a trained network.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// The table lacks a column, or has one that is not numeric.
    #[error(transparent)]
    Table(#[from] TableError),
    /// The label column holds values the network's outputs cannot be compared with.
    #[error("label `{label}`: {message}")]
    Label {
        /// The label column.
        label: String,
        /// What is wrong.
        message: String,
    },
    /// The trainer's stored parameters no longer fit its type.
    #[error("the stored trainer parameters do not fit `{trainer}`: {source}")]
    Params {
        /// The trainer's source path.
        trainer: &'static str,
        /// What does not fit.
        #[source]
        source: ParamError,
    },
    /// The stored settings are not a network of this trainer.
    #[error("{0}")]
    Format(String),
}

/// A network trained by `T` (see [`fit`](super::fit)): the trainer with its parameters, the
/// feature columns it reads, the label, and its weights. An artifact, stored as a safetensors
/// file ([`SafeTensors`]).
pub struct Trained<T: NetworkTrainer> {
    trainer: T,
    features: Vec<String>,
    training: Training,
    weights: Vec<(String, Tensor)>,
    net: T::Net,
}

impl<T: NetworkTrainer> fmt::Debug for Trained<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let weights: Vec<(&str, &[usize])> = self
            .weights
            .iter()
            .map(|(n, t)| (n.as_str(), t.dims()))
            .collect();
        f.debug_struct("Trained")
            .field("trainer", &T::SOURCE)
            .field("features", &self.features)
            .field("label", &self.training.label)
            .field("weights", &weights)
            .finish_non_exhaustive()
    }
}

impl<T: NetworkTrainer> Trained<T> {
    pub(super) fn new(
        trainer: T,
        features: Vec<String>,
        training: Training,
        weights: Vec<(String, Tensor)>,
        net: T::Net,
    ) -> Self {
        Trained {
            trainer,
            features,
            training,
            weights,
            net,
        }
    }

    /// The trainer, with the parameters it trained with.
    pub fn trainer(&self) -> &T {
        &self.trainer
    }

    /// The feature columns, in the order the network reads them.
    pub fn features(&self) -> &[String] {
        &self.features
    }

    /// The label column.
    pub fn label(&self) -> &str {
        &self.training.label
    }

    /// How it was trained.
    pub fn training(&self) -> &Training {
        &self.training
    }

    /// The network.
    pub fn network(&self) -> &T::Net {
        &self.net
    }

    /// The weights by name, sorted by name.
    pub fn weights(&self) -> &[(String, Tensor)] {
        &self.weights
    }

    /// The network's outputs for every row of `table` (which needs the feature columns, not the
    /// label): one row of [`Training::outputs`] numbers per table row.
    pub fn predict(&self, table: &Table) -> Result<Vec<Vec<f32>>, NetworkError> {
        let names: Vec<&str> = self.features.iter().map(String::as_str).collect();
        let x = matrix(table, &names)?;
        if x.dims()[0] == 0 {
            return Ok(Vec::new());
        }
        Ok(self.net.forward(&x, &mut Pass::inference())?.to_vec2()?)
    }

    /// The network's figures on `table` (which needs the features and the label): `loss` (the
    /// training's loss), `mse`, `mae` and `rmse` of the outputs against the targets, and
    /// `accuracy` when the label holds classes (class numbers with more than one output; 0 and 1
    /// with one).
    pub fn evaluate(&self, table: &Table) -> Result<Metrics, NetworkError> {
        let names: Vec<&str> = self.features.iter().map(String::as_str).collect();
        let x = matrix(table, &names)?;
        let y = targets_of(table, &self.training.label, self.training.outputs)?;
        if x.dims()[0] == 0 {
            return Err(NetworkError::Format(
                "cannot evaluate on an empty table".into(),
            ));
        }
        let mut wanted = vec![Metric::Mse, Metric::Mae, Metric::Rmse];
        if self.training.outputs > 1 || is_binary(&y)? {
            wanted.push(Metric::Accuracy);
        }
        let (loss, figures) = outputs_and_metrics(&self.net, &x, &y, self.training.loss, &wanted)?;
        let mut metrics = Metrics::new().with("loss", loss);
        for (metric, value) in figures {
            metrics.insert(metric.name(), value);
        }
        Ok(metrics)
    }
}

/// Are all targets 0 or 1?
fn is_binary(y: &Tensor) -> Result<bool, NetworkError> {
    Ok(y.flatten_all()?
        .to_vec1::<f32>()?
        .iter()
        .all(|v| *v == 0.0 || *v == 1.0))
}

/// The named columns of `table` as a `rows × columns` `f32` tensor.
pub(super) fn matrix(table: &Table, names: &[&str]) -> Result<Tensor, NetworkError> {
    to_tensor(&table.to_ndarray(names)?)
}

/// A row-major matrix as an `f32` tensor.
fn to_tensor(m: &ndarray::Array2<f64>) -> Result<Tensor, NetworkError> {
    #[allow(clippy::cast_possible_truncation)]
    let values: Vec<f32> = m.iter().map(|v| *v as f32).collect();
    Ok(Tensor::from_vec(
        values,
        (m.nrows(), m.ncols()),
        &Device::Cpu,
    )?)
}

/// The feature columns (every numeric column but the label) and their values.
pub(super) fn features_of(
    table: &Table,
    label: &str,
) -> Result<(Vec<String>, Tensor), NetworkError> {
    table.column_index(label)?;
    let (names, m) = table.numeric_matrix(&[label])?;
    if names.is_empty() {
        return Err(NetworkError::Format(format!(
            "the table has no numeric column besides the label `{label}` to learn from"
        )));
    }
    Ok((names, to_tensor(&m)?))
}

/// The targets: the label's values with one output, its class numbers one-hot with more.
pub(super) fn targets_of(
    table: &Table,
    label: &str,
    outputs: usize,
) -> Result<Tensor, NetworkError> {
    let values = table.column_f64(label)?;
    let rows = values.len();
    #[allow(clippy::cast_possible_truncation)]
    if outputs == 1 {
        let y: Vec<f32> = values.iter().map(|v| *v as f32).collect();
        return Ok(Tensor::from_vec(y, (rows, 1), &Device::Cpu)?);
    }
    let mut y = vec![0.0f32; rows * outputs];
    for (row, v) in values.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let in_range = *v >= 0.0 && v.fract() == 0.0 && *v < outputs as f64;
        if !in_range {
            return Err(NetworkError::Label {
                label: label.to_owned(),
                message: format!(
                    "row {row} holds {v}; with {outputs} outputs the label must hold class \
                     numbers 0 to {}",
                    outputs - 1
                ),
            });
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let class = *v as usize;
        y[row * outputs + class] = 1.0;
    }
    Ok(Tensor::from_vec(y, (rows, outputs), &Device::Cpu)?)
}

/// The loss of the network's inference outputs on `x` against `y`, and the asked-for figures.
pub(super) fn outputs_and_metrics<N: Network>(
    net: &N,
    x: &Tensor,
    y: &Tensor,
    loss: Loss,
    metrics: &[Metric],
) -> Result<(f64, Vec<(Metric, f64)>), NetworkError> {
    let out = net.forward(x, &mut Pass::inference())?;
    if out.dims() != y.dims() {
        return Err(NetworkError::Format(format!(
            "the network gives outputs of shape {:?} for targets of shape {:?}",
            out.dims(),
            y.dims()
        )));
    }
    let loss = f64::from(loss.compute(&out, y)?.to_scalar::<f32>()?);
    let outs: Vec<Vec<f32>> = out.to_vec2()?;
    let targets: Vec<Vec<f32>> = y.to_vec2()?;
    let (mut squared, mut absolute, mut correct, mut count) = (0.0f64, 0.0f64, 0usize, 0usize);
    for (o, t) in outs.iter().zip(&targets) {
        for (a, b) in o.iter().zip(t) {
            let d = f64::from(*a) - f64::from(*b);
            squared += d * d;
            absolute += d.abs();
            count += 1;
        }
        let hit = if o.len() == 1 {
            (f64::from(o[0]) >= 0.5) == (t[0] == 1.0)
        } else {
            argmax(o) == argmax(t)
        };
        correct += usize::from(hit);
    }
    #[allow(clippy::cast_precision_loss)]
    let (count, rows) = (count.max(1) as f64, outs.len().max(1) as f64);
    let figures = metrics
        .iter()
        .map(|m| {
            #[allow(clippy::cast_precision_loss)]
            let value = match m {
                Metric::Accuracy => correct as f64 / rows,
                Metric::Mse => squared / count,
                Metric::Mae => absolute / count,
                Metric::Rmse => (squared / count).sqrt(),
            };
            (*m, value)
        })
        .collect();
    Ok((loss, figures))
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, x)| {
            if *x > best.1 { (i, *x) } else { best }
        })
        .0
}

/// The settings stored in a safetensors file's metadata, under the key `zenml`.
#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    /// The layout of these settings.
    format: u32,
    /// The trainer's source path.
    trainer: String,
    /// The trainer's version.
    version: u32,
    /// The trainer's parameters.
    params: BTreeMap<String, Value>,
    /// The feature columns, in order.
    features: Vec<String>,
}

const STORED_FORMAT: u32 = 1;
const METADATA_KEY: &str = "zenml";

/// The materializer of [`Trained`]: a [safetensors](https://github.com/huggingface/safetensors)
/// file of the weights (`f32`), whose metadata holds, under the key `zenml`, a JSON object with
/// the trainer's source path, version and parameters and the feature columns. Any safetensors
/// reader opens it; reading it back rebuilds the network through the trainer's
/// [`NetworkTrainer::build`]. The bytes depend only on the weights and the settings.
#[derive(Debug)]
pub struct SafeTensors<T>(PhantomData<fn() -> T>);

fn codec(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> MaterializeError {
    MaterializeError::codec(SAFETENSORS_ID, e)
}

const SAFETENSORS_ID: &str = "zenml.safetensors";

impl<T: NetworkTrainer> Materializer for SafeTensors<T> {
    type Value = Trained<T>;
    const ID: &'static str = SAFETENSORS_ID;
    const VERSION: u32 = 1;

    fn write(value: &Trained<T>, w: &mut dyn Write) -> Result<(), MaterializeError> {
        let stored = Stored {
            format: STORED_FORMAT,
            trainer: T::SOURCE.to_owned(),
            version: T::VERSION,
            params: value
                .trainer
                .params()
                .iter()
                .map(|(k, v)| (k.to_owned(), v.clone()))
                .collect(),
            features: value.features.clone(),
        };
        // One metadata key: the header's metadata is a hash map, written in no set order.
        let json = serde_json::to_string(&stored).map_err(codec)?;
        let metadata = HashMap::from([(METADATA_KEY.to_owned(), json)]);
        let bytes = safetensors::serialize(
            value.weights.iter().map(|(n, t)| (n.as_str(), t)),
            Some(metadata),
        )
        .map_err(codec)?;
        w.write_all(&bytes)?;
        Ok(())
    }

    fn read(r: &mut dyn Read) -> Result<Trained<T>, MaterializeError> {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes)?;
        load(&bytes).map_err(codec)
    }
}

/// A trained network from the bytes [`SafeTensors`] wrote.
fn load<T: NetworkTrainer>(bytes: &[u8]) -> Result<Trained<T>, NetworkError> {
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| NetworkError::Format(format!("not a safetensors file: {e}")))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(METADATA_KEY))
        .ok_or_else(|| {
            NetworkError::Format(format!(
                "the safetensors file has no `{METADATA_KEY}` metadata: it was not written by \
                 zenml"
            ))
        })?;
    let stored: Stored = serde_json::from_str(json)
        .map_err(|e| NetworkError::Format(format!("bad `{METADATA_KEY}` metadata: {e}")))?;
    if stored.format != STORED_FORMAT {
        return Err(NetworkError::Format(format!(
            "settings of format {} (this build reads format {STORED_FORMAT})",
            stored.format
        )));
    }
    if stored.trainer != T::SOURCE || stored.version != T::VERSION {
        return Err(NetworkError::Format(format!(
            "a network trained by `{}@{}`, not by `{}@{}`",
            stored.trainer,
            stored.version,
            T::SOURCE,
            T::VERSION
        )));
    }
    let params: Params = stored.params.into_iter().collect();
    let trainer = T::from_params(&params).map_err(|source| NetworkError::Params {
        trainer: T::SOURCE,
        source,
    })?;
    let training = trainer
        .training()
        .map_err(|e| NetworkError::Format(e.to_string()))?;
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?;
    let mut weights: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    weights.sort_by(|a, b| a.0.cmp(&b.0));
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    let net = trainer.build(stored.features.len(), vb)?;
    Ok(Trained {
        trainer,
        features: stored.features,
        training,
        weights,
        net,
    })
}

impl<T: NetworkTrainer> Artifact for Trained<T> {
    type Materializer = SafeTensors<T>;

    fn type_name() -> Cow<'static, str> {
        Cow::Owned(format!("zenml.candle.Trained<{}>", T::SOURCE))
    }

    fn base_type() -> Option<BaseType> {
        Some(BaseType::Model)
    }
}
