//! `#[step]` on a struct: `impl StepParams`, the constructor, `Default`, and a `Param` assertion
//! per field.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemStruct, Lit, Path, Type};

use crate::ast::{ParamField, StepStruct, TyShape};
use crate::attr::{StepArgs, Target, is_param_attr};
use crate::check;
use crate::ctxt::Ctxt;
use crate::dummy::const_block;

pub(crate) fn expand(args: TokenStream, item: ItemStruct) -> TokenStream {
    let cx = Ctxt::new();
    let args = StepArgs::parse(&cx, args, Target::Struct);
    let input = StepStruct::from_syn(&cx, &item, args);
    let type_ok = check::check_struct(&cx, &input);
    let stripped = strip_param_attrs(&item);
    match cx.check() {
        Ok(()) => {
            let code = impl_step(&input);
            quote!(#stripped #code)
        }
        Err(err) => {
            // The struct stays as written (minus its `#[param]` helpers) so that the rest of the
            // crate still resolves it; the stand-in impls keep code that uses the step (its kind
            // impl, `Default::default()`, …) from piling further errors onto this one.
            let errors = err.to_compile_error();
            let dummy = dummy(&input, &type_ok);
            quote!(#stripped #errors #dummy)
        }
    }
}

/// The struct without its `#[param(…)]` attributes, which only `#[step]` understands.
fn strip_param_attrs(item: &ItemStruct) -> ItemStruct {
    let mut item = item.clone();
    item.attrs.retain(|a| !is_param_attr(a));
    for field in item.fields.iter_mut() {
        field.attrs.retain(|a| !is_param_attr(a));
    }
    item
}

fn private(krate: &Path) -> TokenStream {
    quote!(#krate::__private)
}

/// Fails to compile, at the field's type, unless it is a parameter type; the error carries the
/// notes of `Param`'s `#[diagnostic::on_unimplemented]`.
fn assert_param(p: &TokenStream, ty: &Type) -> TokenStream {
    quote_spanned! {ty.span()=>
        const _: () = #p::assert_param::<#ty>();
    }
}

fn impl_step(s: &StepStruct<'_>) -> TokenStream {
    let p = private(&s.args.krate);
    let ident = s.ident();
    let name = ident.unraw().to_string();
    let version = s.args.version;
    let doc = s.doc.to_expr();

    let assertions = s.fields.iter().map(|f| assert_param(&p, f.ty));
    let defaults = s
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| default_fns(&p, i, f));
    let specs = s
        .fields
        .iter()
        .enumerate()
        .map(|(i, f)| spec_const(&p, i, f));
    let spec_idents: Vec<_> = (0..s.fields.len()).map(spec_ident).collect();
    let idents: Vec<_> = s.fields.iter().map(|f| f.ident).collect();
    let names: Vec<_> = s.fields.iter().map(|f| &f.name).collect();
    let tys: Vec<_> = s.fields.iter().map(|f| f.ty).collect();
    let count = s.fields.len();
    let constructor = constructor(s);
    let default_impl = default_impl(s);
    let module = match &s.args.module {
        Some(lit) => quote!(#lit),
        None => quote!(::core::module_path!()),
    };

    const_block(quote! {
        use #p::NotAParam as _;

        #(#assertions)*
        #(#defaults)*
        #(#specs)*

        #[automatically_derived]
        #[diagnostic::do_not_recommend]
        impl #p::StepParams for #ident {
            const SOURCE: &'static ::core::primitive::str = ::core::concat!(#module, "::", #name);
            const NAME: &'static ::core::primitive::str = #name;
            const VERSION: ::core::primitive::u32 = #version;
            const DOC: &'static ::core::primitive::str = #doc;
            const PARAM_SPECS: &'static [#p::ParamSpec] = &[#(#spec_idents),*];

            fn params(&self) -> #p::Params {
                let mut params = #p::Params::with_capacity(#count);
                #(params.set(#names, <#p::Probe<#tys>>::to_value(&self.#idents));)*
                params
            }

            fn from_params(
                params: &#p::Params,
            ) -> ::core::result::Result<Self, #p::ParamError> {
                let source = <Self as #p::StepParams>::SOURCE;
                #p::reject_unknown(source, params, <Self as #p::StepParams>::PARAM_SPECS)?;
                ::core::result::Result::Ok(Self {
                    #(#idents: <#p::Probe<#tys>>::read(source, params, &#spec_idents)?,)*
                })
            }

            fn clone_step(&self) -> Self {
                Self {
                    #(#idents: <#p::Probe<#tys>>::clone_value(&self.#idents),)*
                }
            }
        }

        #constructor
        #default_impl
    })
}

fn spec_ident(i: usize) -> syn::Ident {
    format_ident!("__ZENML_PARAM_{}", i)
}

fn default_ident(i: usize) -> syn::Ident {
    format_ident!("__zenml_default_{}", i)
}

/// For a field with `#[param(default = …)]`: `__zenml_default_i() -> FieldTy`, which evaluates
/// the expression against the field's type (so a default of the wrong type is a "mismatched
/// types" error at the expression), and `__zenml_default_value_i() -> Value` for its spec.
fn default_fns(p: &TokenStream, i: usize, f: &ParamField<'_>) -> TokenStream {
    let Some(expr) = &f.default else {
        return TokenStream::new();
    };
    let ty = f.ty;
    let fn_ident = default_ident(i);
    let value_ident = format_ident!("__zenml_default_value_{}", i);
    let inner_ident = format_ident!("__zenml_default_inner_{}", i);
    let body = match f.shape {
        TyShape::Option(inner) if !is_some_or_none(expr) => {
            let inner_body = typed_default(inner, expr);
            quote! {
                fn #inner_ident() -> #inner { #inner_body }
                fn #fn_ident() -> #ty { ::core::option::Option::Some(#inner_ident()) }
            }
        }
        _ => {
            let body = typed_default(ty, expr);
            quote!(fn #fn_ident() -> #ty { #body })
        }
    };
    quote! {
        #body
        fn #value_ident() -> #p::Value {
            <#p::Probe<#ty>>::to_value(&#fn_ident())
        }
    }
}

/// The body of a function returning `ty`: the expression itself, or `String::from(lit)` for a
/// string literal given to a `String`.
fn typed_default(ty: &Type, expr: &Expr) -> TokenStream {
    let is_str_lit = matches!(
        expr,
        Expr::Lit(ExprLit {
            lit: Lit::Str(_),
            ..
        })
    );
    if is_str_lit && matches!(TyShape::of(ty), TyShape::String) {
        quote_spanned!(expr.span()=> ::std::string::String::from(#expr))
    } else {
        quote!(#expr)
    }
}

/// Is `expr` spelled `None` or `Some(…)`? An `Option` field's default is then used as it is.
fn is_some_or_none(expr: &Expr) -> bool {
    match expr {
        Expr::Path(p) => p.qself.is_none() && p.path.is_ident("None"),
        Expr::Call(call) => {
            matches!(&*call.func, Expr::Path(p) if p.qself.is_none() && p.path.is_ident("Some"))
        }
        _ => false,
    }
}

fn spec_const(p: &TokenStream, i: usize, f: &ParamField<'_>) -> TokenStream {
    let ident = spec_ident(i);
    let name = &f.name;
    let ty = f.ty;
    let doc = f.doc.to_expr();
    let default = if f.default.is_some() {
        let value_ident = format_ident!("__zenml_default_value_{}", i);
        quote!(::core::option::Option::Some(#value_ident))
    } else {
        quote!(::core::option::Option::None)
    };
    quote! {
        const #ident: #p::ParamSpec = #p::ParamSpec {
            name: #name,
            ty: <#p::Probe<#ty>>::TYPE,
            default: #default,
            doc: #doc,
        };
    }
}

/// `fn from_fields(<every field, in order>) -> Self` (or the name of `constructor = "…"`), with
/// the struct's visibility.
fn constructor(s: &StepStruct<'_>) -> TokenStream {
    if !s.named {
        return TokenStream::new();
    }
    let ident = s.ident();
    let vis = &s.original.vis;
    let ctor = &s.args.constructor;
    let idents: Vec<_> = s.fields.iter().map(|f| f.ident).collect();
    let tys = s.fields.iter().map(|f| f.ty);
    let doc = format!(
        "A `{}` from every parameter, in field order.",
        ident.unraw()
    );
    quote! {
        #[automatically_derived]
        impl #ident {
            #[doc = #doc]
            #[allow(clippy::too_many_arguments)]
            #vis fn #ctor(#(#idents: #tys),*) -> Self {
                Self { #(#idents),* }
            }
        }
    }
}

/// Does `#[step]` implement `Default`? When every field has a default (an `Option` field's is
/// `None`) and the user did not opt out.
fn has_default(s: &StepStruct<'_>) -> bool {
    s.named
        && !s.args.no_default
        && s.derived_default.is_none()
        && s.fields
            .iter()
            .all(|f| f.default.is_some() || matches!(f.shape, TyShape::Option(_)))
}

fn default_impl(s: &StepStruct<'_>) -> TokenStream {
    if !has_default(s) {
        return TokenStream::new();
    }
    let ident = s.ident();
    let values = s.fields.iter().enumerate().map(|(i, f)| {
        let field = f.ident;
        if f.default.is_some() {
            let fn_ident = default_ident(i);
            quote!(#field: #fn_ident())
        } else {
            quote!(#field: ::core::option::Option::None)
        }
    });
    quote! {
        #[automatically_derived]
        impl ::core::default::Default for #ident {
            fn default() -> Self {
                Self { #(#values),* }
            }
        }
    }
}

/// Stand-ins for what the struct would have had, emitted with its errors. Fields whose type
/// passed the syntactic check still get their `Param` assertion, so that every bad field of the
/// struct is reported in the same build.
fn dummy(s: &StepStruct<'_>, type_ok: &[bool]) -> TokenStream {
    if !s.original.generics.params.is_empty() {
        return TokenStream::new();
    }
    let p = private(&s.args.krate);
    let ident = s.ident();
    let assertions = s
        .fields
        .iter()
        .zip(type_ok)
        .filter(|(_, ok)| **ok)
        .map(|(f, _)| assert_param(&p, f.ty));
    let constructor = if s.named {
        let vis = &s.original.vis;
        let ctor = &s.args.constructor;
        let tys = s.fields.iter().map(|f| f.ty);
        quote! {
            impl #ident {
                #vis fn #ctor(#(_: #tys),*) -> Self {
                    ::core::unreachable!("a stand-in emitted beside a compile error")
                }
            }
        }
    } else {
        TokenStream::new()
    };
    // Only where the real expansion would have implemented `Default` too: a `Default` of the
    // user's own must not meet a stand-in.
    let default_impl = if has_default(s) {
        quote! {
            impl ::core::default::Default for #ident {
                fn default() -> Self {
                    ::core::unreachable!("a stand-in emitted beside a compile error")
                }
            }
        }
    } else {
        TokenStream::new()
    };
    let step_params = stand_in_step_params(&p, ident);
    const_block(quote! {
        #(#assertions)*
        #step_params
        #constructor
        #default_impl
    })
}

/// A stand-in `impl StepParams` for an item `#[step]` refused outright (an enum, say), so that its
/// kind impl does not add an error about a missing `StepParams`.
pub(crate) fn dummy_step_params(krate: &Path, ident: &syn::Ident) -> TokenStream {
    const_block(stand_in_step_params(&private(krate), ident))
}

fn stand_in_step_params(p: &TokenStream, ident: &syn::Ident) -> TokenStream {
    quote! {
        impl #p::StepParams for #ident {
            const SOURCE: &'static ::core::primitive::str = "";
            const NAME: &'static ::core::primitive::str = "";
            const VERSION: ::core::primitive::u32 = 1;
            const DOC: &'static ::core::primitive::str = "";
            const PARAM_SPECS: &'static [#p::ParamSpec] = &[];
            fn params(&self) -> #p::Params {
                ::core::unreachable!("a stand-in emitted beside a compile error")
            }
            fn from_params(
                _: &#p::Params,
            ) -> ::core::result::Result<Self, #p::ParamError> {
                ::core::unreachable!("a stand-in emitted beside a compile error")
            }
            fn clone_step(&self) -> Self {
                ::core::unreachable!("a stand-in emitted beside a compile error")
            }
        }
    }
}
