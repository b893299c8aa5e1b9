use zenml::prelude::*;

#[derive(Clone)]
pub struct Schedule {
    pub warmup: i64,
}

#[step]
pub struct Trainer {
    pub schedule: Schedule,
}

fn main() {}
