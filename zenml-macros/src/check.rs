//! The validation pass of `#[step]` on a struct: one function per rule, each recording what it
//! finds in the [`Ctxt`] so that every problem of the struct shows in one build.

use quote::ToTokens;
use syn::{Fields, GenericArgument, PathArguments, Type};

use crate::ast::{StepStruct, option_inner, ungroup};
use crate::attr::is_param_attr;
use crate::ctxt::Ctxt;

/// The second line of every "cannot be a step parameter" error, as in the note of the `Param`
/// trait's diagnostic.
pub(crate) const ALLOWED: &str = "a step parameter must be one of: bool, i8, i16, i32, i64, u8, \
     u16, u32, f32, f64, String, a unit-only enum with #[derive(StepParam)], or Option<T> of one \
     of those";

/// Runs every check; returns, per field, whether its type passed the syntactic check (a field
/// that failed it has been reported already and gets no trait-bound assertion, so that it is not
/// reported twice).
pub(crate) fn check_struct(cx: &Ctxt, s: &StepStruct<'_>) -> Vec<bool> {
    check_shape(cx, s);
    check_generics(cx, s);
    check_struct_attrs(cx, s);
    check_derive_default(cx, s);
    s.fields
        .iter()
        .map(|f| match bad_type(f.ty) {
            Some((at, reason)) => {
                cx.error_spanned_by(
                    at,
                    format_args!(
                        "`{}` cannot be a step parameter: {reason}\n{ALLOWED}",
                        type_name(at)
                    ),
                );
                false
            }
            None => true,
        })
        .collect()
}

/// The fields are the parameters, so they need names: the name is the parameter's key in
/// configs, the metadata store and cache keys.
fn check_shape(cx: &Ctxt, s: &StepStruct<'_>) {
    match &s.original.fields {
        Fields::Named(_) => {}
        Fields::Unnamed(fields) => cx.error_spanned_by(
            fields,
            "`#[step]` needs a struct with named fields: each field is a parameter, and its name \
             is the parameter's name",
        ),
        Fields::Unit => cx.error_spanned_by(
            s.ident(),
            format_args!(
                "`#[step]` needs a struct with named fields (its parameters); a step without \
                 parameters is written `struct {} {{}}`",
                s.ident()
            ),
        ),
    }
}

/// A step type is rebuilt from its source path and parameter values alone (from a config or the
/// metadata store), so it cannot have type, lifetime or const parameters.
fn check_generics(cx: &Ctxt, s: &StepStruct<'_>) {
    let generics = &s.original.generics;
    if !generics.params.is_empty() {
        cx.error_spanned_by(
            generics,
            "a step struct cannot be generic: a step is rebuilt from its source path and \
             parameter values alone, so its type must be concrete",
        );
    } else if let Some(where_clause) = &generics.where_clause {
        cx.error_spanned_by(where_clause, "a step struct cannot have a where clause");
    }
}

/// `#[param]` belongs on fields.
fn check_struct_attrs(cx: &Ctxt, s: &StepStruct<'_>) {
    for attr in s.original.attrs.iter().filter(|a| is_param_attr(a)) {
        cx.error_spanned_by(attr, "`#[param(…)]` goes on a field of the step struct");
    }
}

/// `#[step]` implements `Default` from the declared defaults; a derived `Default` would either
/// conflict with it or silently ignore the declared defaults (zero instead of
/// `#[param(default = 8)]`), so it is refused unless the user takes `Default` over with
/// `#[step(no_default)]`.
fn check_derive_default(cx: &Ctxt, s: &StepStruct<'_>) {
    if let (Some(path), false) = (&s.derived_default, s.args.no_default) {
        cx.error_spanned_by(
            path,
            "remove `Default` from this derive: `#[step]` implements `Default` from the \
             `#[param(default = …)]` values (Option fields default to None); to implement it \
             yourself, write `#[step(no_default)]`",
        );
    }
}

/// The part of `ty` that makes it obviously not a parameter type, and why; `None` when the type
/// looks fine (or cannot be judged from its spelling: the `Param` bound then decides).
fn bad_type(ty: &Type) -> Option<(&Type, String)> {
    let ty = ungroup(ty);
    let reason = match ty {
        Type::Reference(r) => {
            if is_ident(&r.elem, "str") {
                "a step owns its parameters; use `String`".to_owned()
            } else {
                format!(
                    "a step owns its parameters; use `{}` itself",
                    type_name(&r.elem)
                )
            }
        }
        Type::Tuple(t) if t.elems.is_empty() => "`()` carries no value".to_owned(),
        Type::Tuple(_) => {
            "a parameter is a single value; make each element a field of its own".to_owned()
        }
        Type::Array(_) | Type::Slice(_) => {
            "a parameter is a single value, not a collection".to_owned()
        }
        Type::Ptr(_)
        | Type::FnPtr(_)
        | Type::TraitObject(_)
        | Type::ImplTrait(_)
        | Type::Never(_) => "it holds no value a config can describe".to_owned(),
        Type::Path(tp) if tp.qself.is_none() => {
            if let Some(inner) = option_inner(ty) {
                if option_inner(inner).is_some() {
                    return Some((
                        ty,
                        format!(
                            "a parameter can be null only once; use `{}`",
                            type_name(inner)
                        ),
                    ));
                }
                return bad_type(inner);
            }
            let last = tp.path.segments.last()?;
            let name = last.ident.to_string();
            match (&last.arguments, name.as_str()) {
                (PathArguments::None, "u64" | "usize" | "u128" | "i128" | "isize") => format!(
                    "ML Metadata stores integers as signed 64-bit (32-bit on MySQL), so a \
                     `{name}` could not round-trip; use `i64` or `u32`"
                ),
                (PathArguments::None, "char" | "str" | "PathBuf" | "OsString") => {
                    "use `String`".to_owned()
                }
                (PathArguments::AngleBracketed(_), "Cow") => {
                    "a step owns its parameters; use `String` or the owned type".to_owned()
                }
                (PathArguments::AngleBracketed(args), "Box" | "Rc" | "Arc") => {
                    match args.args.first() {
                        Some(GenericArgument::Type(inner)) if args.args.len() == 1 => format!(
                            "a parameter holds its value directly; use `{}`",
                            type_name(inner)
                        ),
                        _ => "a parameter holds its value directly".to_owned(),
                    }
                }
                (PathArguments::AngleBracketed(_), "Cell" | "RefCell" | "Mutex" | "RwLock") => {
                    "a step's parameters do not change once it is built".to_owned()
                }
                (
                    PathArguments::AngleBracketed(_),
                    "Vec" | "VecDeque" | "LinkedList" | "HashMap" | "BTreeMap" | "HashSet"
                    | "BTreeSet" | "BinaryHeap",
                ) => "a parameter is a single value, not a collection".to_owned(),
                _ => return None,
            }
        }
        _ => return None,
    };
    Some((ty, reason))
}

fn is_ident(ty: &Type, name: &str) -> bool {
    matches!(ungroup(ty), Type::Path(tp) if tp.qself.is_none() && tp.path.is_ident(name))
}

/// A type as a person writes it (`HashMap<String, i64>`, `&'static str`), for messages.
pub(crate) fn type_name(ty: &Type) -> String {
    let raw = ty.to_token_stream().to_string();
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ' ' {
            let prev = out.chars().last();
            let next = chars.peek().copied();
            let glue_after = matches!(prev, Some('<' | '&' | '(' | '[' | ':' | '*'));
            let glue_before = matches!(next, Some('<' | '>' | ',' | ')' | ']' | ';' | ':'));
            if glue_after || glue_before {
                continue;
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(src: &str) -> String {
        type_name(&syn::parse_str(src).expect("type"))
    }

    #[test]
    fn type_names_read_like_source() {
        assert_eq!(name("HashMap < String , i64 >"), "HashMap<String, i64>");
        assert_eq!(name("&'static str"), "&'static str");
        assert_eq!(name("std::vec::Vec<u8>"), "std::vec::Vec<u8>");
        assert_eq!(name("[i64; 3]"), "[i64; 3]");
        assert_eq!(name("(i64, f64)"), "(i64, f64)");
        assert_eq!(name("Option<Option<i64>>"), "Option<Option<i64>>");
    }

    fn bad(src: &str) -> Option<String> {
        let ty: Type = syn::parse_str(src).expect("type");
        bad_type(&ty).map(|(at, _)| type_name(at))
    }

    #[test]
    fn obvious_non_parameters_are_found() {
        for src in [
            "Vec<u8>",
            "HashMap<String, i64>",
            "&'static str",
            "Box<i64>",
            "u64",
            "usize",
            "i128",
            "u128",
            "(i64, i64)",
            "[i64; 2]",
            "Option<Option<i64>>",
        ] {
            assert_eq!(bad(src).as_deref(), Some(src), "{src}");
        }
        // The inner type is the culprit.
        assert_eq!(bad("Option<Vec<i64>>").as_deref(), Some("Vec<i64>"));
        assert_eq!(bad("Option<u64>").as_deref(), Some("u64"));
    }

    #[test]
    fn parameter_types_and_unknown_names_pass() {
        for src in [
            "bool",
            "i64",
            "f32",
            "String",
            "Option<i64>",
            "std::option::Option<String>",
            "Optimizer",
            "V",
            // A user type that happens to share a container's name, without arguments.
            "Cell",
        ] {
            assert_eq!(bad(src), None, "{src}");
        }
    }
}
