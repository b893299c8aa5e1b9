//! The typed form of what `#[step]` and `#[derive(StepParam)]` read: built from syn's syntax tree,
//! keeping references to the original nodes so that every error can point at its token.

use syn::ext::IdentExt;
use syn::{Expr, Field, Fields, GenericArgument, Ident, ItemStruct, Path, PathArguments, Type};

use crate::attr::{Doc, ParamAttrs, StepArgs, derived_default};
use crate::ctxt::Ctxt;

/// A struct under `#[step]`.
pub(crate) struct StepStruct<'a> {
    pub(crate) original: &'a ItemStruct,
    pub(crate) args: StepArgs,
    /// The struct's doc comment.
    pub(crate) doc: Doc,
    /// The parameters, in declaration order; empty unless the struct has named fields.
    pub(crate) fields: Vec<ParamField<'a>>,
    /// Does the struct have named fields (`struct S { … }`)?
    pub(crate) named: bool,
    /// The `Default` of a `#[derive(Default)]` on the struct.
    pub(crate) derived_default: Option<Path>,
}

/// One field of a step struct: one parameter.
pub(crate) struct ParamField<'a> {
    pub(crate) ident: &'a Ident,
    /// The parameter's name: the field's name without `r#`.
    pub(crate) name: String,
    pub(crate) ty: &'a Type,
    /// What the macro can tell about the type from its spelling.
    pub(crate) shape: TyShape<'a>,
    /// The field's doc comment.
    pub(crate) doc: Doc,
    /// `#[param(default = expr)]`.
    pub(crate) default: Option<Expr>,
}

/// A field type as written, where its spelling matters to the expansion.
pub(crate) enum TyShape<'a> {
    /// `Option<T>`: a missing value is `None`, and a default `x` means `Some(x)`.
    Option(&'a Type),
    /// `String`: a string literal default becomes a `String`.
    String,
    /// Anything else.
    Other,
}

impl<'a> StepStruct<'a> {
    pub(crate) fn from_syn(cx: &Ctxt, item: &'a ItemStruct, args: StepArgs) -> StepStruct<'a> {
        let (named, fields) = match &item.fields {
            Fields::Named(named) => (
                true,
                named
                    .named
                    .iter()
                    .filter_map(|f| ParamField::from_syn(cx, f))
                    .collect(),
            ),
            _ => (false, Vec::new()),
        };
        StepStruct {
            original: item,
            args,
            doc: Doc::from_attrs(&item.attrs),
            fields,
            named,
            derived_default: derived_default(&item.attrs),
        }
    }

    pub(crate) fn ident(&self) -> &'a Ident {
        &self.original.ident
    }
}

impl<'a> ParamField<'a> {
    fn from_syn(cx: &Ctxt, field: &'a Field) -> Option<ParamField<'a>> {
        let ident = field.ident.as_ref()?;
        let attrs = ParamAttrs::parse(cx, &field.attrs);
        Some(ParamField {
            ident,
            name: ident.unraw().to_string(),
            ty: &field.ty,
            shape: TyShape::of(&field.ty),
            doc: Doc::from_attrs(&field.attrs),
            default: attrs.default,
        })
    }
}

impl<'a> TyShape<'a> {
    pub(crate) fn of(ty: &'a Type) -> TyShape<'a> {
        if let Some(inner) = option_inner(ty) {
            TyShape::Option(inner)
        } else if is_std_path(ty, &["std", "alloc"], "string", "String") {
            TyShape::String
        } else {
            TyShape::Other
        }
    }
}

/// Strips parentheses and invisible groups around a type.
pub(crate) fn ungroup(mut ty: &Type) -> &Type {
    loop {
        match ty {
            Type::Paren(p) => ty = &p.elem,
            Type::Group(g) => ty = &g.elem,
            _ => return ty,
        }
    }
}

/// `T` if `ty` is spelled `Option<T>` (or `std::option::Option<T>`, `core::option::Option<T>`).
pub(crate) fn option_inner(ty: &Type) -> Option<&Type> {
    if !is_std_path(ty, &["std", "core"], "option", "Option") {
        return None;
    }
    let Type::Path(tp) = ungroup(ty) else {
        return None;
    };
    let last = tp.path.segments.last()?;
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match (args.args.len(), args.args.first()) {
        (1, Some(GenericArgument::Type(inner))) => Some(inner),
        _ => None,
    }
}

/// Is `ty` the path `name` or `<krate>::<module>::<name>`, with `krate` among `krates`? Generic
/// arguments on the last segment are allowed; none elsewhere.
fn is_std_path(ty: &Type, krates: &[&str], module: &str, name: &str) -> bool {
    let Type::Path(tp) = ungroup(ty) else {
        return false;
    };
    if tp.qself.is_some() {
        return false;
    }
    let segs: Vec<_> = tp.path.segments.iter().collect();
    let Some((last, init)) = segs.split_last() else {
        return false;
    };
    if last.ident != name || init.iter().any(|s| !s.arguments.is_none()) {
        return false;
    }
    match init {
        [] => tp.path.leading_colon.is_none(),
        [k, m] => krates.iter().any(|c| k.ident == c) && m.ident == module,
        _ => false,
    }
}
