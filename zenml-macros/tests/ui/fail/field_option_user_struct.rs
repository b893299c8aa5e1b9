use zenml::prelude::*;

#[derive(Clone)]
pub struct Schedule;

#[step]
pub struct Trainer {
    pub schedule: Option<Schedule>,
}

fn main() {}
