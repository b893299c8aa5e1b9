use zenml::prelude::*;

#[derive(Clone, StepParam)]
pub enum Loss {
    Mse,
    Huber(f64),
    Quantile { q: f64 },
}

#[derive(Clone, StepParam)]
pub enum Never {}

#[derive(Clone, StepParam)]
pub enum Wrapped<T> {
    Plain,
    #[allow(dead_code)]
    Unused(std::marker::PhantomData<T>),
}

#[derive(Clone, StepParam)]
pub struct Settings {
    pub lr: f64,
}

#[derive(Clone, StepParam)]
#[step_param(krate = "zenml")]
pub enum Mode {
    Fast,
}

// The enums with errors still work as parameter types: nothing more is reported here.
#[step]
pub struct Trainer {
    pub loss: Loss,
    pub never: Option<Never>,
}

fn main() {}
