use zenml::prelude::*;

#[step]
pub struct ByType<T> {
    pub value: T,
}

#[step]
pub struct ByLifetime<'a> {
    pub name: &'a str,
}

#[step]
pub struct ByConst<const N: usize> {
    pub epochs: i64,
}

fn main() {}
