use zenml::prelude::*;

#[step]
#[derive(Debug, Default)]
pub struct Trainer {
    #[param(default = 0.1)]
    pub lr: f64,
}

fn main() {
    // `Default` is still there: only the derive is reported.
    let _ = Trainer::default();
}
