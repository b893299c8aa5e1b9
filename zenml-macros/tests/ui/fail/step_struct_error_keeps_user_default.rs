// A struct with an error gets a stand-in `Default` only where `#[step]` would have implemented
// one: here a field has no default, so the user's own `Default` meets no conflict.
use zenml::prelude::*;

#[step(versoin = 2)]
pub struct Trainer {
    pub epochs: i64,
}

impl Default for Trainer {
    fn default() -> Self {
        Trainer { epochs: 1 }
    }
}

fn main() {
    let _ = Trainer::default();
}
