//! Ready trainers and evaluators on [linfa](https://github.com/rust-ml/linfa), Rust's classical
//! machine-learning toolkit.
//!
//! Enabled by the `linfa` feature (off by default).
//!
//! | step | kind | model | hyper-parameters |
//! |---|---|---|---|
//! | [`LogisticRegression`] | trainer | [`Classifier`] | `alpha`, `max_iterations` |
//! | [`DecisionTree`] | trainer | [`Classifier`] | `split_quality`, `max_depth`, `min_weight_split`, `min_weight_leaf`, `min_impurity_decrease` |
//! | [`LinearRegression`] | trainer | [`Regressor`] | `fit_intercept` |
//! | [`RidgeRegression`] | trainer | [`Regressor`] | `alpha`, `fit_intercept`, `max_iterations`, `tolerance` |
//! | [`ClassificationMetrics`] | evaluator | [`Classifier`] | — |
//! | [`RegressionMetrics`] | evaluator | [`Regressor`] | — |
//!
//! Every trainer has a `label` parameter naming the label column and learns from every other
//! numeric column. A classifier's label holds class numbers (0, 1, 2, …); a regressor's, any
//! number. The models are serde types, stored as MessagePack.
//!
//! ```
//! # extern crate zenml_core as zenml;
//! use zenml::linfa::{ClassificationMetrics, DecisionTree};
//! use zenml::prelude::*;
//! use zenml::steps::{CsvDatasource, RandomSplit, StandardScaler};
//!
//! let pipeline = TrainingPipeline::new("iris tree")
//!     .add_datasource(CsvDatasource::new("examples/data/iris.csv"))
//!     .add_split(RandomSplit::default())
//!     .add_preprocesser(StandardScaler { exclude: "species".into() })
//!     .add_trainer(DecisionTree { label: "species".into(), max_depth: Some(3), ..Default::default() })
//!     .add_evaluator(ClassificationMetrics {});
//! pipeline.validate()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use ::linfa::prelude::*;
use ndarray::{Array1, Array2};

use crate::artifact::{Metrics, Table, TableError};
use crate::param::ParamCheckError;
use crate::step::{EvaluatorStep, StepContext, StepResult, TrainerStep};

/// A failure to predict with a linfa model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinfaError {
    /// The table lacks a feature column, or has one that is not numeric.
    #[error(transparent)]
    Table(#[from] TableError),
    /// The label column holds something else than class numbers.
    #[error("label `{label}` must hold class numbers 0, 1, 2…; row {row} holds {value}")]
    NotAClass {
        /// The label column.
        label: String,
        /// The row.
        row: usize,
        /// Its value.
        value: f64,
    },
}

/// The label column of `table` as class numbers.
fn classes(table: &Table, label: &str) -> Result<Array1<usize>, LinfaError> {
    table
        .column_f64(label)?
        .into_iter()
        .enumerate()
        .map(|(row, v)| {
            if v >= 0.0 && v.fract() == 0.0 && v < f64::from(u32::MAX) {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                Ok(v as usize)
            } else {
                Err(LinfaError::NotAClass {
                    label: label.to_owned(),
                    row,
                    value: v,
                })
            }
        })
        .collect()
}

/// The features (every numeric column but the label) of `table`, checking that the label exists.
fn features(table: &Table, label: &str) -> Result<(Vec<String>, Array2<f64>), LinfaError> {
    table.column_index(label)?;
    Ok(table.numeric_matrix(&[label])?)
}

/// The columns `names` of `table`.
fn columns(table: &Table, names: &[String]) -> Result<Array2<f64>, LinfaError> {
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    Ok(table.to_ndarray(&refs)?)
}

fn check_label(label: &str) -> Result<(), ParamCheckError> {
    if label.is_empty() {
        Err(ParamCheckError::new("label", "name the label column"))
    } else {
        Ok(())
    }
}

/// A fitted classifier with the columns it reads.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Classifier {
    /// The feature columns, in the order the model reads them.
    pub features: Vec<String>,
    /// The label column.
    pub label: String,
    /// The fitted model.
    pub model: ClassifierModel,
}

/// The fitted model of a [`Classifier`].
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ClassifierModel {
    /// Fitted by [`LogisticRegression`].
    Logistic(linfa_logistic::MultiFittedLogisticRegression<f64, usize>),
    /// Fitted by [`DecisionTree`].
    Tree(linfa_trees::DecisionTree<f64, usize>),
}

impl Classifier {
    /// The predicted class of every row of `table` (which needs the feature columns).
    pub fn predict(&self, table: &Table) -> Result<Array1<usize>, LinfaError> {
        let x = columns(table, &self.features)?;
        Ok(match &self.model {
            ClassifierModel::Logistic(m) => m.predict(&x),
            ClassifierModel::Tree(m) => m.predict(&x),
        })
    }
}

/// A fitted regressor with the columns it reads.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Regressor {
    /// The feature columns, in the order the model reads them.
    pub features: Vec<String>,
    /// The label column.
    pub label: String,
    /// The fitted model.
    pub model: RegressorModel,
}

/// The fitted model of a [`Regressor`].
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum RegressorModel {
    /// Fitted by [`LinearRegression`].
    Linear(linfa_linear::FittedLinearRegression<f64>),
    /// Fitted by [`RidgeRegression`].
    Ridge(linfa_elasticnet::ElasticNet<f64>),
}

impl Regressor {
    /// The predicted value of every row of `table` (which needs the feature columns).
    pub fn predict(&self, table: &Table) -> Result<Array1<f64>, LinfaError> {
        let x = columns(table, &self.features)?;
        Ok(match &self.model {
            RegressorModel::Linear(m) => m.predict(&x),
            RegressorModel::Ridge(m) => m.predict(&x),
        })
    }
}

/// Multinomial logistic regression (`linfa-logistic`), with an L2 penalty.
#[crate::step(crate = crate, module = "zenml::linfa")]
#[derive(Debug)]
pub struct LogisticRegression {
    /// The label column (class numbers 0, 1, 2, …).
    #[param(default = "label")]
    pub label: String,
    /// The L2 regularisation strength (0 or more).
    #[param(default = 1.0)]
    pub alpha: f64,
    /// The optimiser's iteration budget.
    #[param(default = 100)]
    pub max_iterations: u32,
}

#[crate::step(crate = crate)]
impl TrainerStep for LogisticRegression {
    type Model = Classifier;

    fn train(&self, ctx: &mut StepContext, train: &Table, _eval: &Table) -> StepResult<Classifier> {
        let (features, x) = features(train, &self.label)?;
        let y = classes(train, &self.label)?;
        let model = linfa_logistic::MultiLogisticRegression::default()
            .alpha(self.alpha)
            .max_iterations(u64::from(self.max_iterations))
            .fit(&Dataset::new(x, y))?;
        ctx.log(format_args!(
            "fitted on {} rows, {} features",
            train.num_rows(),
            features.len()
        ));
        Ok(Classifier {
            features,
            label: self.label.clone(),
            model: ClassifierModel::Logistic(model),
        })
    }

    fn check_params(&self) -> Result<(), ParamCheckError> {
        check_label(&self.label)?;
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(ParamCheckError::new(
                "alpha",
                format!("a penalty is a number of 0 or more, not {}", self.alpha),
            ));
        }
        Ok(())
    }
}

/// How a [`DecisionTree`] measures the purity of a split.
#[derive(Clone, Copy, Debug, PartialEq, Eq, crate::StepParam)]
#[step_param(crate = crate, rename_all = "snake_case")]
pub enum SplitQuality {
    /// `gini`: Gini impurity.
    Gini,
    /// `entropy`: information gain.
    Entropy,
}

/// A decision tree classifier (`linfa-trees`).
#[crate::step(crate = crate, module = "zenml::linfa")]
#[derive(Debug)]
pub struct DecisionTree {
    /// The label column (class numbers 0, 1, 2, …).
    #[param(default = "label")]
    pub label: String,
    /// How a split's purity is measured: gini or entropy.
    #[param(default = SplitQuality::Gini)]
    pub split_quality: SplitQuality,
    /// The deepest the tree may grow; `null` for no limit.
    pub max_depth: Option<u32>,
    /// The fewest rows a node needs to be split.
    #[param(default = 2.0)]
    pub min_weight_split: f32,
    /// The fewest rows a leaf may hold.
    #[param(default = 1.0)]
    pub min_weight_leaf: f32,
    /// The least decrease of impurity a split must bring.
    #[param(default = 0.00001)]
    pub min_impurity_decrease: f64,
}

#[crate::step(crate = crate)]
impl TrainerStep for DecisionTree {
    type Model = Classifier;

    fn train(&self, ctx: &mut StepContext, train: &Table, _eval: &Table) -> StepResult<Classifier> {
        let (features, x) = features(train, &self.label)?;
        let y = classes(train, &self.label)?;
        let quality = match self.split_quality {
            SplitQuality::Gini => linfa_trees::SplitQuality::Gini,
            SplitQuality::Entropy => linfa_trees::SplitQuality::Entropy,
        };
        let max_depth = self.max_depth.map(usize::try_from).transpose()?;
        let model = linfa_trees::DecisionTree::params()
            .split_quality(quality)
            .max_depth(max_depth)
            .min_weight_split(self.min_weight_split)
            .min_weight_leaf(self.min_weight_leaf)
            .min_impurity_decrease(self.min_impurity_decrease)
            .fit(&Dataset::new(x, y))?;
        ctx.log(format_args!(
            "grew a tree of depth {} with {} leaves on {} rows",
            model.max_depth(),
            model.num_leaves(),
            train.num_rows()
        ));
        Ok(Classifier {
            features,
            label: self.label.clone(),
            model: ClassifierModel::Tree(model),
        })
    }

    fn check_params(&self) -> Result<(), ParamCheckError> {
        check_label(&self.label)?;
        for (name, value) in [
            ("min_weight_split", f64::from(self.min_weight_split)),
            ("min_weight_leaf", f64::from(self.min_weight_leaf)),
            ("min_impurity_decrease", self.min_impurity_decrease),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ParamCheckError::new(
                    name,
                    format!("a number of 0 or more is needed, not {value}"),
                ));
            }
        }
        if self.max_depth == Some(0) {
            return Err(ParamCheckError::new(
                "max_depth",
                "a tree is at least 1 deep; `null` sets no limit",
            ));
        }
        Ok(())
    }
}

/// Ordinary least squares (`linfa-linear`).
#[crate::step(crate = crate, module = "zenml::linfa")]
#[derive(Debug)]
pub struct LinearRegression {
    /// The label column (the number to predict).
    #[param(default = "label")]
    pub label: String,
    /// Fit an intercept (else the line goes through the origin).
    #[param(default = true)]
    pub fit_intercept: bool,
}

#[crate::step(crate = crate)]
impl TrainerStep for LinearRegression {
    type Model = Regressor;

    fn train(&self, ctx: &mut StepContext, train: &Table, _eval: &Table) -> StepResult<Regressor> {
        let (features, x) = features(train, &self.label)?;
        let y = Array1::from(train.column_f64(&self.label)?);
        let model = linfa_linear::LinearRegression::new()
            .with_intercept(self.fit_intercept)
            .fit(&Dataset::new(x, y))?;
        ctx.log(format_args!(
            "fitted on {} rows, {} features",
            train.num_rows(),
            features.len()
        ));
        Ok(Regressor {
            features,
            label: self.label.clone(),
            model: RegressorModel::Linear(model),
        })
    }

    fn check_params(&self) -> Result<(), ParamCheckError> {
        check_label(&self.label)
    }
}

/// Ridge regression: least squares with an L2 penalty (`linfa-elasticnet`, L1 ratio 0), fitted
/// by coordinate descent. The penalty is scaled as scikit-learn's `ElasticNet`'s: the loss is
/// `‖y − Xw‖² / (2·rows) + alpha/2 · ‖w‖²`.
#[crate::step(crate = crate, module = "zenml::linfa")]
#[derive(Debug)]
pub struct RidgeRegression {
    /// The label column (the number to predict).
    #[param(default = "label")]
    pub label: String,
    /// The L2 penalty (0 or more).
    #[param(default = 1.0)]
    pub alpha: f64,
    /// Fit an intercept (else the line goes through the origin).
    #[param(default = true)]
    pub fit_intercept: bool,
    /// The coordinate descent's iteration budget.
    #[param(default = 1000)]
    pub max_iterations: u32,
    /// Stop when an iteration changes no coefficient by more than this.
    #[param(default = 0.0001)]
    pub tolerance: f64,
}

#[crate::step(crate = crate)]
impl TrainerStep for RidgeRegression {
    type Model = Regressor;

    fn train(&self, ctx: &mut StepContext, train: &Table, _eval: &Table) -> StepResult<Regressor> {
        let (features, x) = features(train, &self.label)?;
        let y = Array1::from(train.column_f64(&self.label)?);
        let model = linfa_elasticnet::ElasticNet::ridge()
            .penalty(self.alpha)
            .with_intercept(self.fit_intercept)
            .max_iterations(self.max_iterations)
            .tolerance(self.tolerance)
            .fit(&Dataset::new(x, y))?;
        ctx.log(format_args!(
            "fitted on {} rows, {} features",
            train.num_rows(),
            features.len()
        ));
        Ok(Regressor {
            features,
            label: self.label.clone(),
            model: RegressorModel::Ridge(model),
        })
    }

    fn check_params(&self) -> Result<(), ParamCheckError> {
        check_label(&self.label)?;
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(ParamCheckError::new(
                "alpha",
                format!("a penalty is a number of 0 or more, not {}", self.alpha),
            ));
        }
        if !(self.tolerance.is_finite() && self.tolerance > 0.0) {
            return Err(ParamCheckError::new(
                "tolerance",
                format!("a positive number is needed, not {}", self.tolerance),
            ));
        }
        Ok(())
    }
}

/// Classification figures of predicted against true classes: `accuracy`, `f1_macro` (the mean
/// over classes of each class's F1; a class never predicted nor present counts as 0), and the
/// confusion counts `confusion_<true>_<predicted>` for every pair of classes seen.
pub fn classification_metrics(truth: &[usize], predicted: &[usize]) -> Metrics {
    let classes = truth.iter().chain(predicted).max().map_or(0, |m| m + 1);
    let mut confusion = vec![vec![0usize; classes]; classes];
    for (t, p) in truth.iter().zip(predicted) {
        confusion[*t][*p] += 1;
    }
    let mut metrics = Metrics::new();
    let mut f1_sum = 0.0;
    for (c, row) in confusion.iter().enumerate() {
        let tp = row[c];
        let fp = confusion.iter().map(|r| r[c]).sum::<usize>() - tp;
        let fn_ = row.iter().sum::<usize>() - tp;
        if tp > 0 {
            #[allow(clippy::cast_precision_loss)]
            let f1 = 2.0 * tp as f64 / (2 * tp + fp + fn_) as f64;
            f1_sum += f1;
        }
        for (p, count) in row.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            metrics.insert(format!("confusion_{c}_{p}"), *count as f64);
        }
    }
    let correct: usize = confusion.iter().enumerate().map(|(c, row)| row[c]).sum();
    #[allow(clippy::cast_precision_loss)]
    {
        metrics.insert("accuracy", correct as f64 / truth.len().max(1) as f64);
        metrics.insert("f1_macro", f1_sum / classes.max(1) as f64);
    }
    metrics
}

/// Regression figures of predicted against true values: `rmse`, `mae` and `r2` (the coefficient
/// of determination: 1 − residual sum of squares / total sum of squares, negative when worse than
/// predicting the mean; as scikit-learn's, 1 for a constant truth predicted exactly, else 0).
pub fn regression_metrics(truth: &[f64], predicted: &[f64]) -> Metrics {
    #[allow(clippy::cast_precision_loss)]
    let n = truth.len().max(1) as f64;
    let mean = truth.iter().sum::<f64>() / n;
    let (mut ss_res, mut ss_tot, mut abs) = (0.0, 0.0, 0.0);
    for (t, p) in truth.iter().zip(predicted) {
        ss_res += (t - p).powi(2);
        ss_tot += (t - mean).powi(2);
        abs += (t - p).abs();
    }
    let r2 = if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else if ss_res == 0.0 {
        1.0
    } else {
        0.0
    };
    Metrics::new()
        .with("rmse", (ss_res / n).sqrt())
        .with("mae", abs / n)
        .with("r2", r2)
}

/// Evaluates a [`Classifier`] on the eval table: see [`classification_metrics`].
#[crate::step(crate = crate, module = "zenml::linfa")]
#[derive(Debug)]
pub struct ClassificationMetrics {}

#[crate::step(crate = crate)]
impl EvaluatorStep for ClassificationMetrics {
    type Model = Classifier;

    fn evaluate(
        &self,
        _ctx: &mut StepContext,
        model: &Classifier,
        eval: &Table,
    ) -> StepResult<Metrics> {
        let truth = classes(eval, &model.label)?;
        let predicted = model.predict(eval)?;
        Ok(classification_metrics(&truth.to_vec(), &predicted.to_vec()))
    }
}

/// Evaluates a [`Regressor`] on the eval table: see [`regression_metrics`].
#[crate::step(crate = crate, module = "zenml::linfa")]
#[derive(Debug)]
pub struct RegressionMetrics {}

#[crate::step(crate = crate)]
impl EvaluatorStep for RegressionMetrics {
    type Model = Regressor;

    fn evaluate(
        &self,
        _ctx: &mut StepContext,
        model: &Regressor,
        eval: &Table,
    ) -> StepResult<Metrics> {
        let truth = eval.column_f64(&model.label)?;
        let predicted = model.predict(eval)?.to_vec();
        Ok(regression_metrics(&truth, &predicted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_figures() {
        let m = classification_metrics(&[0, 0, 1, 1, 2], &[0, 1, 1, 1, 0]);
        assert_eq!(m.get("accuracy"), Some(0.6));
        assert_eq!(m.get("confusion_0_1"), Some(1.0));
        assert_eq!(m.get("confusion_1_1"), Some(2.0));
        assert_eq!(m.get("confusion_2_0"), Some(1.0));
        // F1: class 0 = 2·1/(2+1+1) = 0.5; class 1 = 2·2/(4+1+0) = 0.8; class 2 = 0.
        let f1 = m.get("f1_macro").unwrap_or(f64::NAN);
        assert!((f1 - 1.3 / 3.0).abs() < 1e-12, "{f1}");
    }

    #[test]
    fn regression_figures() {
        let m = regression_metrics(&[1.0, 2.0, 3.0], &[1.0, 2.0, 5.0]);
        assert_eq!(m.get("mae"), Some(2.0 / 3.0));
        assert_eq!(m.get("rmse"), Some((4.0f64 / 3.0).sqrt()));
        assert_eq!(m.get("r2"), Some(1.0 - 4.0 / 2.0));
        let exact = regression_metrics(&[2.0, 2.0], &[2.0, 2.0]);
        assert_eq!(exact.get("r2"), Some(1.0));
    }
}
