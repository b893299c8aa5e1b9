//! Where `#[step]` was written decides what it does.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Item;

use crate::attr::{StepArgs, Target};
use crate::ctxt::Ctxt;
use crate::{step_impl, step_struct};

pub(crate) fn step(args: TokenStream, item: TokenStream) -> TokenStream {
    match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Struct(item)) => step_struct::expand(args, item),
        Ok(Item::Impl(item)) => step_impl::expand(args, item),
        Ok(Item::Enum(item)) => {
            let cx = Ctxt::new();
            let args = StepArgs::parse(&cx, args, Target::Struct);
            let enum_token = &item.enum_token;
            let ident = &item.ident;
            cx.error_spanned_by(
                quote!(#enum_token #ident),
                "`#[step]` goes on a struct with named fields (the step's parameters) or on the \
                 impl of a step kind; to use an enum as a parameter type, derive `StepParam` on it",
            );
            let errors = match cx.check() {
                Ok(()) => TokenStream::new(),
                Err(err) => err.to_compile_error(),
            };
            // A stand-in `StepParams` keeps the enum's kind impl, if any, from adding an error.
            let dummy = if item.generics.params.is_empty() {
                step_struct::dummy_step_params(&args.krate, ident)
            } else {
                TokenStream::new()
            };
            quote!(#item #errors #dummy)
        }
        Ok(other) => {
            let error = syn::Error::new(
                Span::call_site(),
                "`#[step]` goes on a struct with named fields (the step's parameters) or on the \
                 impl of a step kind (`impl TrainerStep for MyStep`)",
            )
            .to_compile_error();
            quote!(#other #error)
        }
        Err(err) => {
            let error = err.to_compile_error();
            quote!(#item #error)
        }
    }
}
