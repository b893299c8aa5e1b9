use zenml::prelude::*;

#[step]
pub struct Trainer {
    pub epochs: Box<i64>,
}

fn main() {}
