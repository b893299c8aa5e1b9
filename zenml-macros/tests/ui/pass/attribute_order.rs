// `#[step]` may sit above or below other attributes, derives included.
use zenml::prelude::*;

#[derive(Debug, Clone, PartialEq)]
#[step]
pub struct Below {
    #[param(default = 1)]
    pub a: i64,
}

#[step]
#[derive(Debug, Clone, PartialEq)]
pub struct Above {
    #[param(default = 1)]
    pub a: i64,
}

fn main() {
    assert_eq!(Below::default(), Below { a: 1 });
    assert_eq!(Above::default(), Above { a: 1 });
}
