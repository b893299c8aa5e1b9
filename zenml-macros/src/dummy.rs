//! The wrapper around generated items.

use proc_macro2::TokenStream;
use quote::quote;

/// Wraps generated items in `const _: () = { … };`, so that their helper items (default
/// functions, parameter specs, assertions) stay out of the user's namespace, with the lint allows
/// that code the user did not write deserves.
pub(crate) fn const_block(code: TokenStream) -> TokenStream {
    quote! {
        #[doc(hidden)]
        #[allow(
            non_upper_case_globals,
            non_snake_case,
            unused_imports,
            unused_mut,
            unused_qualifications,
            dead_code,
            clippy::all,
            clippy::pedantic,
            clippy::nursery
        )]
        const _: () = {
            #code
        };
    }
}
