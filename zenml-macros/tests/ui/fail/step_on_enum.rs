use zenml::prelude::*;

#[step]
pub enum Optimizer {
    Adam,
    Sgd,
}

fn main() {}
