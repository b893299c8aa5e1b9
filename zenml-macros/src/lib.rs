//! Procedural macros of zenml-rs. Use them through the `zenml` crate.

mod ast;
mod attr;
mod check;
mod ctxt;
mod dummy;
mod entry;
mod fingerprint;
mod step_impl;
mod step_param;
mod step_struct;
mod symbol;

use proc_macro::TokenStream;

/// TODO docs
#[proc_macro_attribute]
pub fn step(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::step(args.into(), item.into()).into()
}

/// TODO docs
#[proc_macro_derive(StepParam, attributes(step_param))]
pub fn derive_step_param(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => step_param::derive(input).into(),
        Err(err) => err.to_compile_error().into(),
    }
}
