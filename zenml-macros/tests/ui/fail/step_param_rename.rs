use zenml::prelude::*;

#[derive(Clone, StepParam)]
#[step_param(rename_all = "camelCase")]
pub enum Activation {
    Relu,
}

#[derive(Clone, StepParam)]
#[step_param(rename_all = "lowercase")]
pub enum Loss {
    Mse,
    MSE,
}

fn main() {}
