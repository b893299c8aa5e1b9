use zenml::prelude::*;

#[step]
pub struct Trainer {
    #[param(default = 0.1, min = 0.0)]
    pub lr: f64,
    #[param(rename = "batch")]
    pub batch_size: i64,
}

fn main() {}
