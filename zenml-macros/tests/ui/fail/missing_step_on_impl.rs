use zenml::prelude::*;
use zenml::step::{StepInfo, StepKind};

#[step]
pub struct Trainer {
    #[param(default = 0.1)]
    pub lr: f64,
}

// `#[step]` forgotten here.
impl TrainerStep for Trainer {
    type Model = Table;
    fn train(&self, _: &mut StepContext, train: &Table, _: &Table) -> StepResult<Table> {
        Ok(train.clone())
    }
}

// What a pipeline builder asks of the steps it is given.
fn add_trainer<T: TrainerStep + zenml::step::StepCode>(_: T) -> StepInfo {
    StepInfo::of::<T>(StepKind::Trainer)
}

fn main() {
    add_trainer(Trainer::default());
}
