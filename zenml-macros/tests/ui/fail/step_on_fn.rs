use zenml::prelude::*;

#[step]
fn train() {}

fn main() {}
