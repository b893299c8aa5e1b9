//! `#[step]` on the impl of a step kind: the code fingerprint (`StepCode`), the conversion to the
//! runtime's form (`IntoDynStep`) and the registration with the registry.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemImpl, Type};

use crate::attr::{StepArgs, Target};
use crate::ctxt::Ctxt;
use crate::dummy::const_block;
use crate::fingerprint::fingerprint;

pub(crate) fn expand(args: TokenStream, item: ItemImpl) -> TokenStream {
    let cx = Ctxt::new();
    let args = StepArgs::parse(&cx, args, Target::Impl);
    check(&cx, &item);
    let result = cx.check();
    let p = {
        let krate = &args.krate;
        quote!(#krate::__private)
    };
    match (result, &item.trait_) {
        (Ok(()), Some((trait_path, _))) => {
            let code = impl_code(&p, &item, trait_path);
            quote!(#item #code)
        }
        (Ok(()), None) => quote!(#item),
        (Err(err), _) => {
            // The impl stays as written. If it is a kind impl of a plain type, stand-ins for the
            // impls `#[step]` would have added keep the places that use the step (a pipeline
            // builder asking for `StepCode`) from adding errors of their own. An inherent impl
            // gets none: the step may well have a kind impl with `#[step]` elsewhere.
            let errors = err.to_compile_error();
            let dummy = if item.trait_.is_some()
                && item.generics.params.is_empty()
                && is_plain_path(&item.self_ty)
            {
                dummy(&p, &item.self_ty)
            } else {
                TokenStream::new()
            };
            quote!(#item #errors #dummy)
        }
    }
}

/// The registry builds a step from its source path alone, so the impl must be the one of a step
/// kind (which knows how to run the step) for one concrete struct.
fn check(cx: &Ctxt, item: &ItemImpl) {
    let impl_token = &item.impl_token;
    let self_ty = &item.self_ty;
    if item.trait_.is_none() {
        cx.error_spanned_by(
            quote!(#impl_token #self_ty),
            "`#[step]` on an impl block needs the impl of a step kind (`impl TrainerStep for \
             MyStep`, `impl Step for MyStep`, …); an inherent impl has no step code to register",
        );
    }
    if !item.generics.params.is_empty() {
        cx.error_spanned_by(
            &item.generics,
            "a step impl cannot be generic: the registry builds a step from its source path \
             alone, so `#[step]` needs the impl for one concrete step struct",
        );
    }
    if !is_plain_path(self_ty) {
        cx.error_spanned_by(
            self_ty,
            "`#[step]` needs the impl for the step struct itself (`impl TrainerStep for MyStep`)",
        );
    }
}

fn is_plain_path(ty: &Type) -> bool {
    matches!(ty, Type::Path(tp) if tp.qself.is_none())
}

fn impl_code(p: &TokenStream, item: &ItemImpl, trait_path: &syn::Path) -> TokenStream {
    let self_ty = &item.self_ty;
    let code_fingerprint = proc_macro2::Literal::u128_suffixed(fingerprint(item.to_token_stream()));
    // `line!()` spanned at `impl` gives the impl's line, not the attribute's.
    let location = quote_spanned! {item.impl_token.span()=>
        ::core::concat!(::core::file!(), ":", ::core::line!())
    };
    // The one place that names the kind trait, spanned at it: `#[step]` on the impl of a trait
    // that is not a step kind is reported there, once.
    let kind = quote_spanned! {trait_path.span()=>
        const __ZENML_KIND: #p::StepKind = <#self_ty as #trait_path>::__KIND;
    };
    const_block(quote! {
        #kind

        // Not listed among "the following other types implement trait `StepCode`" when a type
        // lacks it: every step of the program would be.
        #[automatically_derived]
        #[diagnostic::do_not_recommend]
        impl #p::StepCode for #self_ty {
            const CODE_FINGERPRINT: ::core::primitive::u128 = #code_fingerprint;
            const LOCATION: &'static ::core::primitive::str = #location;
        }

        #[automatically_derived]
        #[diagnostic::do_not_recommend]
        impl #p::IntoDynStep for #self_ty {
            fn into_dyn_step(self) -> ::std::boxed::Box<dyn #p::DynStep> {
                <#p::Kind<{ #p::kind_id(__ZENML_KIND) }> as #p::IntoDynVia<#self_ty>>::into_dyn(
                    self,
                )
            }
        }

        fn __zenml_construct(
            params: &#p::Params,
        ) -> ::core::result::Result<::std::boxed::Box<dyn #p::DynStep>, #p::ParamError> {
            let step = <#self_ty as #p::StepParams>::from_params(params)?;
            ::core::result::Result::Ok(#p::IntoDynStep::into_dyn_step(step))
        }

        #p::inventory::submit! {
            #p::StepRegistration::new(
                #p::StepInfo::of::<#self_ty>(__ZENML_KIND),
                __zenml_construct,
            )
        }
    })
}

fn dummy(p: &TokenStream, self_ty: &Type) -> TokenStream {
    const_block(quote! {
        impl #p::StepCode for #self_ty {
            const CODE_FINGERPRINT: ::core::primitive::u128 = 0;
            const LOCATION: &'static ::core::primitive::str = "";
        }
        impl #p::IntoDynStep for #self_ty {
            fn into_dyn_step(self) -> ::std::boxed::Box<dyn #p::DynStep> {
                ::core::unreachable!("a stand-in emitted beside a compile error")
            }
        }
    })
}
