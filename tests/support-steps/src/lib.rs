//! Steps defined in a crate of their own: the registry tests check that a binary linking this
//! crate finds them in `Registry::global()`.

use zenml::prelude::*;

/// Keeps every `n`-th row.
#[step]
#[derive(Debug)]
pub struct EveryNth {
    /// Which rows to keep: every `n`-th.
    #[param(default = 2)]
    pub n: u32,
}

#[step]
impl SplitStep for EveryNth {
    fn split(&self, _ctx: &mut StepContext, data: &Table) -> StepResult<(Table, Table)> {
        let n = self.n.max(1);
        let rows = u32::try_from(data.num_rows())?;
        let (eval, train): (Vec<u32>, Vec<u32>) = (0..rows).partition(|i| i % n == 0);
        Ok((data.take_rows(&train)?, data.take_rows(&eval)?))
    }
}

/// Reads nothing: an empty table with the given columns.
#[step(version = 3)]
#[derive(Debug)]
pub struct EmptySource {
    /// The columns, comma-separated.
    pub columns: String,
}

#[step]
impl DatasourceStep for EmptySource {
    fn read(&self, _ctx: &mut StepContext) -> StepResult<Table> {
        Err(format!("EmptySource({}) reads nothing", self.columns).into())
    }
}
