use zenml::prelude::*;

#[step]
pub struct Identity;

fn main() {}
