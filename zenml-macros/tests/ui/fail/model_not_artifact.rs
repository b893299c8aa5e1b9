// A trainer whose model is neither a serde type nor an artifact: the note names the fixes by
// paths that resolve from the facade (`pass/model_suggested_fixes.rs` compiles each).
use zenml::prelude::*;

pub struct Weights {
    pub w: Vec<f64>,
}

#[step]
pub struct Trainer {}

#[step]
impl TrainerStep for Trainer {
    type Model = Weights;
    fn train(&self, _: &mut StepContext, _: &Table, _: &Table) -> StepResult<Weights> {
        Ok(Weights { w: Vec::new() })
    }
}

fn main() {}
