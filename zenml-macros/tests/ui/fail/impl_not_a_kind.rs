use zenml::prelude::*;

#[step]
#[derive(Debug)]
pub struct Trainer {
    pub lr: f64,
}

#[step]
impl Clone for Trainer {
    fn clone(&self) -> Self {
        Trainer { lr: self.lr }
    }
}

fn main() {}
