use zenml::prelude::*;

#[step]
pub struct Trainer {
    pub hidden_layers: Option<Option<i64>>,
}

fn main() {}
