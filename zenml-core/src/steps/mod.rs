//! Steps that come with zenml: a CSV datasource, a seeded random split and a standard scaler.
//!
//! They are registered like any other step, so configs can name them (`zenml step list` shows
//! them) and every binary that links zenml can run them.

use crate::artifact::Table;
use crate::step::{
    DataLocation, DatasourceStep, PreprocesserStep, SplitStep, StepContext, StepResult,
};

/// Reads a CSV file with a header row into a table; column types are inferred from the data.
///
/// The file's bytes are hashed before each run, so the step is reused exactly while the file is
/// unchanged.
#[crate::step(crate = "crate", module = "zenml::steps")]
#[derive(Debug)]
pub struct CsvDatasource {
    /// The file, relative to the working directory or absolute.
    pub path: String,
}

impl CsvDatasource {
    /// A datasource reading `path`.
    pub fn new(path: impl Into<String>) -> Self {
        CsvDatasource { path: path.into() }
    }
}

#[crate::step(crate = "crate")]
impl DatasourceStep for CsvDatasource {
    fn read(&self, ctx: &mut StepContext) -> StepResult<Table> {
        let table = Table::read_csv(&self.path)?;
        ctx.log(format_args!(
            "read {} rows × {} columns from {}",
            table.num_rows(),
            table.num_columns(),
            self.path
        ));
        Ok(table)
    }

    fn location(&self) -> Option<DataLocation> {
        Some(DataLocation::file(&self.path))
    }
}

/// Splits a table's rows at random into train and eval, reproducibly for a given seed.
#[crate::step(crate = "crate", module = "zenml::steps")]
#[derive(Debug)]
pub struct RandomSplit {
    /// The share of rows that go to train, strictly between 0 and 1.
    #[param(default = 0.8)]
    pub train_ratio: f64,
    /// The seed of the shuffle.
    #[param(default = 42)]
    pub seed: u32,
}

#[crate::step(crate = "crate")]
impl SplitStep for RandomSplit {
    fn split(&self, ctx: &mut StepContext, data: &Table) -> StepResult<(Table, Table)> {
        if !(self.train_ratio > 0.0 && self.train_ratio < 1.0) {
            return Err(format!(
                "train_ratio must be strictly between 0 and 1, not {}",
                self.train_ratio
            )
            .into());
        }
        let n = data.num_rows();
        if n < 2 {
            return Err(format!("cannot split a table of {n} row(s)").into());
        }
        let n = u32::try_from(n).map_err(|_| "the table has more than 2^32 rows")?;
        let mut rows: Vec<u32> = (0..n).collect();
        let mut rng = SplitMix64(u64::from(self.seed));
        for i in (1..rows.len()).rev() {
            let j = usize::try_from(rng.next() % (i as u64 + 1)).unwrap_or(0);
            rows.swap(i, j);
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let n_train = ((f64::from(n) * self.train_ratio).round() as usize).clamp(1, rows.len() - 1);
        let (train, eval) = rows.split_at(n_train);
        let (mut train, mut eval) = (train.to_vec(), eval.to_vec());
        // Keep each side in the file's order: easier to read, and the split is what matters.
        train.sort_unstable();
        eval.sort_unstable();
        ctx.log(format_args!(
            "{} train rows, {} eval rows",
            train.len(),
            eval.len()
        ));
        Ok((data.take_rows(&train)?, data.take_rows(&eval)?))
    }
}

/// A small, fast, well-mixed generator; enough for shuffling and for initialising weights.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform number in `[0, 1)`, from the top 53 bits.
    #[cfg_attr(not(feature = "candle"), allow(dead_code))]
    pub(crate) fn next_f64(&mut self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let x = (self.next() >> 11) as f64;
        x * (1.0 / (1u64 << 53) as f64)
    }

    /// Shuffles `items` in place (Fisher–Yates).
    #[cfg_attr(not(feature = "candle"), allow(dead_code))]
    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = usize::try_from(self.next() % (i as u64 + 1)).unwrap_or(0);
            items.swap(i, j);
        }
    }
}

/// Standardises numeric columns to mean 0 and standard deviation 1, with the means and deviations
/// fitted on train and applied to train and eval.
#[crate::step(crate = "crate", module = "zenml::steps")]
#[derive(Debug)]
pub struct StandardScaler {
    /// Columns to leave as they are, comma-separated (a label column, say).
    #[param(default = "")]
    pub exclude: String,
}

/// The means and standard deviations a [`StandardScaler`] fitted.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScalerState {
    /// The scaled columns.
    pub columns: Vec<String>,
    /// Their means on train.
    pub means: Vec<f64>,
    /// Their standard deviations on train (1 where a column is constant).
    pub stds: Vec<f64>,
}

impl StandardScaler {
    fn excluded(&self) -> Vec<&str> {
        self.exclude
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }
}

#[crate::step(crate = "crate")]
impl PreprocesserStep for StandardScaler {
    type State = ScalerState;

    fn fit(&self, _ctx: &mut StepContext, train: &Table) -> StepResult<ScalerState> {
        let exclude = self.excluded();
        for name in &exclude {
            train.column_index(name)?;
        }
        let (columns, m) = train.numeric_matrix(&exclude)?;
        if m.nrows() == 0 {
            return Err("cannot fit a scaler on an empty table".into());
        }
        #[allow(clippy::cast_precision_loss)]
        let rows = m.nrows() as f64;
        let means: Vec<f64> = m.columns().into_iter().map(|c| c.sum() / rows).collect();
        let stds: Vec<f64> = m
            .columns()
            .into_iter()
            .zip(&means)
            .map(|(c, mean)| {
                let var = c.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / rows;
                if var > 0.0 { var.sqrt() } else { 1.0 }
            })
            .collect();
        Ok(ScalerState {
            columns,
            means,
            stds,
        })
    }

    fn transform(
        &self,
        _ctx: &mut StepContext,
        state: &ScalerState,
        data: &Table,
    ) -> StepResult<Table> {
        let mut replace = Vec::with_capacity(state.columns.len());
        for ((name, mean), std) in state.columns.iter().zip(&state.means).zip(&state.stds) {
            let scaled: Vec<f64> = data
                .column_f64(name)?
                .into_iter()
                .map(|x| (x - mean) / std)
                .collect();
            replace.push((name.as_str(), scaled));
        }
        Ok(data.with_f64_columns(&replace)?)
    }
}
