use zenml::prelude::*;

#[step]
pub struct Trainer {
    pub lr: f64,
}

#[step]
impl Trainer {
    pub fn lr(&self) -> f64 {
        self.lr
    }
}

fn main() {}
