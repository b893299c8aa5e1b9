use zenml::prelude::*;

#[step]
pub struct Sampler {
    pub seed: u64,
}

fn main() {}
