use std::collections::HashMap;
use zenml::prelude::*;

#[step]
pub struct Weights {
    pub class_weights: HashMap<String, i64>,
}

fn main() {}
