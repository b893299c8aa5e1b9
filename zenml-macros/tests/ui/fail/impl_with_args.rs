use zenml::prelude::*;

#[step]
pub struct Trainer {
    pub lr: f64,
}

#[step(version = 2, cache = false)]
impl TrainerStep for Trainer {
    type Model = Table;
    fn train(&self, _: &mut StepContext, train: &Table, _: &Table) -> StepResult<Table> {
        Ok(train.clone())
    }
}

fn main() {
    // The impl still counts as a step: no error about a missing `#[step]` here.
    let _ = zenml::step::StepInfo::of::<Trainer>(zenml::step::StepKind::Trainer);
}
