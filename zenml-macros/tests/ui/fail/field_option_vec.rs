use zenml::prelude::*;

#[step]
pub struct Selector {
    pub columns: Option<Vec<i64>>,
}

fn main() {}
