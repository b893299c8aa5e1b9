use zenml::prelude::*;

#[step(version = 2, version = 3)]
pub struct Trainer {
    #[param(default = 0.1, default = 0.2)]
    pub lr: f64,
    #[param(default = 8)]
    #[param(default = 16)]
    pub batch_size: i64,
}

fn main() {}
