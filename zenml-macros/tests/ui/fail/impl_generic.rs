use zenml::prelude::*;

#[step]
pub struct Trainer {
    pub lr: f64,
}

#[step]
impl<'a> TrainerStep for Trainer {
    type Model = Table;
    fn train(&self, _: &mut StepContext, train: &Table, _: &Table) -> StepResult<Table> {
        Ok(train.clone())
    }
}

fn main() {}
