use zenml::prelude::*;

#[step]
pub struct Trainer {
    #[param(default = "fast")]
    pub lr: f64,
    #[param(default = 0.5)]
    pub hidden_layers: Option<i64>,
    #[param(default = 8)]
    pub loss: String,
}

fn main() {
    // Only the defaults are reported, nothing about `Default`.
    let _ = Trainer::default();
}
