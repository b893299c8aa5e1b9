// With `#[step(no_default)]`, `Default` is the user's: derived here, or written by hand.
use zenml::prelude::*;

#[step(no_default)]
#[derive(Debug, Default)]
pub struct Derived {
    pub epochs: i64,
}

#[step(no_default)]
pub struct HandWritten {
    #[param(default = 3)]
    pub epochs: i64,
}

impl Default for HandWritten {
    fn default() -> Self {
        HandWritten { epochs: 7 }
    }
}

fn main() {
    assert_eq!(Derived::default().epochs, 0);
    assert_eq!(HandWritten::default().epochs, 7);
}
