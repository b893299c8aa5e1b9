use zenml::prelude::*;

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

fn main() {
    let _ = TrainingPipeline::new("A").add_trainer(Trainer::default());
}
