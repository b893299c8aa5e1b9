use zenml::prelude::*;

#[step]
pub struct Tokenizer {
    pub vocabulary: Vec<u8>,
}

fn main() {}
