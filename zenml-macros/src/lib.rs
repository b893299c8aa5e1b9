//! Procedural macros of zenml-rs. Use them through the `zenml` crate.

use proc_macro::TokenStream;

/// Placeholder until the macro lands.
#[proc_macro_attribute]
pub fn step(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// Placeholder until the macro lands.
#[proc_macro_derive(StepParam, attributes(param))]
pub fn derive_step_param(_item: TokenStream) -> TokenStream {
    TokenStream::new()
}
