//! The conformance suite every store backend runs (feature `conformance`).
//!
//! Each function takes a way to make a fresh, empty store and panics with a message on the first
//! behaviour that differs from the contract of the store traits. A backend's tests call every
//! function (see `zenml-stores`), as third-party backends can.

pub mod artifact;
pub mod metadata;
pub mod mlmd;
