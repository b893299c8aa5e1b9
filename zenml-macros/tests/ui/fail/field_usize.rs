use zenml::prelude::*;

#[step]
pub struct Batcher {
    pub batch_size: usize,
}

fn main() {}
