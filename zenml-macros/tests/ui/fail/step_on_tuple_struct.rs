use zenml::prelude::*;

#[step]
pub struct Scaler(pub f64);

fn main() {}
