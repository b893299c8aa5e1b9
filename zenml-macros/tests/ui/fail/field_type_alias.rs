use zenml::prelude::*;

type Layers = Vec<i64>;

#[step]
pub struct Trainer {
    pub layers: Layers,
}

fn main() {}
