//! `#[derive(StepParam)]` on a unit-only enum: `impl EnumParam`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Path};

use crate::attr::EnumAttrs;
use crate::ctxt::Ctxt;
use crate::dummy::const_block;

pub(crate) fn derive(input: DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let attrs = EnumAttrs::parse(&cx, &input.attrs);
    check(&cx, &input);
    let names = stored_names(&cx, &attrs, &input);
    match cx.check() {
        Ok(()) => impl_enum_param(&attrs.krate, &input, &names),
        Err(err) => {
            // A stand-in impl keeps the steps that use this enum as a parameter type from adding
            // errors of their own.
            let errors = err.to_compile_error();
            let dummy = match &input.data {
                Data::Enum(_) if input.generics.params.is_empty() => {
                    dummy(&attrs.krate, &input.ident)
                }
                _ => TokenStream::new(),
            };
            quote!(#errors #dummy)
        }
    }
}

/// An enum parameter is stored as its variant's name, so it must be an enum whose variants are
/// names and nothing more, and a concrete type (the registry knows it by name).
fn check(cx: &Ctxt, input: &DeriveInput) {
    match &input.data {
        Data::Enum(data) => {
            if data.variants.is_empty() {
                cx.error_spanned_by(
                    &input.ident,
                    "`#[derive(StepParam)]` needs at least one variant: a parameter must have a \
                     value",
                );
            }
            for variant in &data.variants {
                if !matches!(variant.fields, Fields::Unit) {
                    cx.error_spanned_by(
                        &variant.fields,
                        format_args!(
                            "`#[derive(StepParam)]` needs a unit-only enum: a parameter is stored \
                             as its variant's name, so variant `{}` cannot carry data",
                            variant.ident.unraw()
                        ),
                    );
                }
            }
        }
        Data::Struct(data) => cx.error_spanned_by(
            data.struct_token,
            "`#[derive(StepParam)]` is for unit-only enums (a parameter type); a step's struct \
             takes `#[step]`",
        ),
        Data::Union(data) => cx.error_spanned_by(
            data.union_token,
            "`#[derive(StepParam)]` is for unit-only enums",
        ),
    }
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "`#[derive(StepParam)]` needs a concrete enum, without type, lifetime or const \
             parameters",
        );
    }
}

/// The names the variants are stored as: as written, or spelled by `rename_all`. Two variants
/// that would be stored alike are an error at the second.
fn stored_names(cx: &Ctxt, attrs: &EnumAttrs, input: &DeriveInput) -> Vec<String> {
    let Data::Enum(data) = &input.data else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::with_capacity(data.variants.len());
    for variant in &data.variants {
        let written = variant.ident.unraw().to_string();
        let name = match attrs.rename_all {
            Some(rule) => rule.apply(&written),
            None => written,
        };
        if names.contains(&name) {
            cx.error_spanned_by(
                &variant.ident,
                format_args!(
                    "two variants are both stored as `{name}`: a parameter's value must name one \
                     variant"
                ),
            );
        }
        names.push(name);
    }
    names
}

fn impl_enum_param(krate: &Path, input: &DeriveInput, names: &[String]) -> TokenStream {
    let Data::Enum(data) = &input.data else {
        return TokenStream::new();
    };
    let ident = &input.ident;
    let name = ident.unraw().to_string();
    let variants: Vec<_> = data.variants.iter().map(|v| &v.ident).collect();
    const_block(quote! {
        #[automatically_derived]
        impl #krate::__private::EnumParam for #ident {
            const SPEC: &'static #krate::__private::EnumSpec = &#krate::__private::EnumSpec {
                name: #name,
                variants: &[#(#names),*],
            };

            fn variant_name(&self) -> &'static ::core::primitive::str {
                match self {
                    #(Self::#variants => #names,)*
                }
            }

            fn from_variant_name(name: &::core::primitive::str) -> ::core::option::Option<Self> {
                match name {
                    #(#names => ::core::option::Option::Some(Self::#variants),)*
                    _ => ::core::option::Option::None,
                }
            }
        }
    })
}

fn dummy(krate: &Path, ident: &syn::Ident) -> TokenStream {
    const_block(quote! {
        impl #krate::__private::EnumParam for #ident {
            const SPEC: &'static #krate::__private::EnumSpec = &#krate::__private::EnumSpec {
                name: "",
                variants: &[],
            };
            fn variant_name(&self) -> &'static ::core::primitive::str {
                ::core::unreachable!("a stand-in emitted beside a compile error")
            }
            fn from_variant_name(_: &::core::primitive::str) -> ::core::option::Option<Self> {
                ::core::unreachable!("a stand-in emitted beside a compile error")
            }
        }
    })
}
