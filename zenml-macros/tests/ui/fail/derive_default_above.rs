// The derive is refused wherever it sits relative to `#[step]`.
use zenml::prelude::*;

#[derive(Debug, Default)]
#[step]
pub struct Trainer {
    #[param(default = 0.1)]
    pub lr: f64,
}

fn main() {
    let _ = Trainer::default();
}
