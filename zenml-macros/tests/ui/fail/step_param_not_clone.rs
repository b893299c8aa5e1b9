use zenml::prelude::*;

#[derive(Debug, StepParam)]
pub enum Loss {
    Mse,
    Huber,
}

fn main() {}
