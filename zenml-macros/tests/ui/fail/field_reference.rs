use zenml::prelude::*;

#[step]
pub struct Loader {
    pub path: &'static str,
}

fn main() {}
