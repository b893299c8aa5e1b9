use zenml::prelude::*;

#[step(version = 2, name = "trainer", cache = false)]
pub struct Trainer {
    pub lr: f64,
}

fn main() {}
