use zenml::prelude::*;

#[step(version = 0)]
pub struct Zero {
    pub lr: f64,
}

#[step(version = 5000000000)]
pub struct Huge {
    pub lr: f64,
}

fn main() {}
