use zenml::prelude::*;

#[step]
pub struct Trainer {
    pub lr: f64,
}

#[step]
impl Trainer {
    pub fn lr(&self) -> f64 {
        self.lr
    }
}

// The kind impl, with its own `#[step]`, meets no stand-in from the misplaced one.
#[step]
impl TrainerStep for Trainer {
    type Model = Table;
    fn train(&self, _: &mut StepContext, train: &Table, _: &Table) -> StepResult<Table> {
        Ok(train.clone())
    }
}

fn main() {}
