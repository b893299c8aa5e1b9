// Every bad field of a struct is reported in one build: those the macro can tell from their
// spelling, and those only the `Param` bound catches.
use zenml::prelude::*;

#[derive(Clone)]
pub struct Schedule;

type Layers = Vec<i64>;

#[step]
pub struct Trainer {
    #[param(default = 8)]
    pub batch_size: i64,
    pub seed: u64,
    pub schedule: Schedule,
    pub tags: Vec<String>,
    pub layers: Layers,
    pub dims: (i64, i64),
    pub lr: f64,
}

#[step]
impl TrainerStep for Trainer {
    type Model = Table;
    fn train(&self, _: &mut StepContext, train: &Table, _: &Table) -> StepResult<Table> {
        Ok(train.clone())
    }
}

fn main() {
    // Code that uses the step reports nothing more.
    let _ = Trainer::from_fields(8, 1, Schedule, Vec::new(), Vec::new(), (1, 2), 0.1);
}
