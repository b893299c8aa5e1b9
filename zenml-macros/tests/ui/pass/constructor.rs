// The constructor taking every parameter is `from_fields` unless renamed; a user's own `new` is
// left alone.
use zenml::prelude::*;

#[step]
pub struct Scaler {
    pub with_mean: bool,
    pub columns: Option<String>,
}

impl Scaler {
    pub fn new() -> Self {
        Scaler::from_fields(true, None)
    }
}

#[step(constructor = "new")]
pub struct Clip {
    pub low: f64,
    pub high: f64,
}

#[step(constructor = with_bounds)]
pub struct Window {
    pub size: u32,
}

fn main() {
    assert!(Scaler::new().with_mean);
    assert_eq!(Clip::new(0.0, 1.0).high, 1.0);
    assert_eq!(Window::with_bounds(3).size, 3);
}
