//! Parsing of the macros' arguments and helper attributes: `#[step(…)]`, `#[param(…)]` on fields,
//! `#[step_param(…)]` on enums, and doc comments.
//!
//! The aim is to report every bad argument in one build: an unknown or duplicated key is recorded
//! in the [`Ctxt`] at that key's span, its value is skipped, and parsing goes on with the next key.
//! Only malformed syntax (which leaves nothing sensible to continue from) stops a list early.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Ident, Lit, LitInt, LitStr, Meta, Path, Token};

use crate::ctxt::Ctxt;
use crate::symbol::{self, Symbol};

/// One argument that may be given at most once.
pub(crate) struct Attr<'c, T> {
    cx: &'c Ctxt,
    name: Symbol,
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    pub(crate) fn none(cx: &'c Ctxt, name: Symbol) -> Self {
        Attr {
            cx,
            name,
            value: None,
        }
    }

    /// Sets the value; a second value is an error at `obj` (the repeated key).
    pub(crate) fn set<A: ToTokens>(&mut self, obj: A, value: T) {
        if self.value.is_some() {
            self.cx.error_spanned_by(
                obj,
                format_args!("duplicate `{}` argument", self.name.as_str()),
            );
        } else {
            self.value = Some(value);
        }
    }

    pub(crate) fn get(self) -> Option<T> {
        self.value
    }
}

/// Where `#[step]` was written: its arguments differ.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Struct,
    Impl,
}

/// The arguments of `#[step(…)]`.
pub(crate) struct StepArgs {
    /// `version = N`, 1 when not given.
    pub(crate) version: u32,
    /// `crate = "path"`, `::zenml` when not given.
    pub(crate) krate: Path,
    /// `constructor = "name"`, `from_fields` when not given.
    pub(crate) constructor: Ident,
    /// `no_default`: never implement `Default`.
    pub(crate) no_default: bool,
    /// `module = "path"`: the public module the step is reached through, which its source path
    /// starts with instead of `module_path!()`.
    pub(crate) module: Option<LitStr>,
}

const STRUCT_KEYS: &str = "`version`, `crate`, `module`, `constructor`, `no_default`";

impl StepArgs {
    /// Parses the arguments of `#[step(…)]` on `target`, recording errors in `cx`.
    pub(crate) fn parse(cx: &Ctxt, tokens: TokenStream, target: Target) -> StepArgs {
        let mut version = Attr::none(cx, symbol::VERSION);
        let mut krate = Attr::none(cx, symbol::CRATE);
        let mut constructor = Attr::none(cx, symbol::CONSTRUCTOR);
        let mut no_default = Attr::none(cx, symbol::NO_DEFAULT);
        let mut module = Attr::none(cx, symbol::MODULE);

        let parser = syn::meta::parser(|meta| {
            if meta.path == symbol::CRATE {
                if let Some(path) = crate_path(&meta)? {
                    krate.set(&meta.path, path);
                }
                return Ok(());
            }
            let struct_only = [
                symbol::VERSION,
                symbol::CONSTRUCTOR,
                symbol::NO_DEFAULT,
                symbol::MODULE,
            ];
            if target == Target::Impl && struct_only.iter().any(|s| meta.path == *s) {
                cx.error_spanned_by(
                    &meta.path,
                    format_args!(
                        "`{}` is an argument of the `#[step]` on the step's struct; \
                         on the impl block `#[step]` takes no arguments (only `crate = \"…\"`)",
                        path_name(&meta.path),
                    ),
                );
                return skip_value(&meta);
            }
            if meta.path == symbol::VERSION {
                let lit: LitInt = meta.value()?.parse()?;
                match lit.base10_parse::<u32>() {
                    Ok(0) => cx.error_spanned_by(&lit, "a step's version starts at 1"),
                    Ok(v) => version.set(&meta.path, v),
                    Err(_) => cx.error_spanned_by(
                        &lit,
                        "a step's version must be a whole number from 1 to 4294967295",
                    ),
                }
            } else if meta.path == symbol::CONSTRUCTOR {
                let value = meta.value()?;
                let ident = if value.peek(LitStr) {
                    value.parse::<LitStr>()?.parse::<Ident>()?
                } else {
                    value.parse::<Ident>()?
                };
                constructor.set(&meta.path, ident);
            } else if meta.path == symbol::MODULE {
                let lit: LitStr = meta.value()?.parse()?;
                match lit.parse_with(Path::parse_mod_style) {
                    Ok(path) if path.leading_colon.is_none() => module.set(&meta.path, lit),
                    _ => cx.error_spanned_by(
                        &lit,
                        "`module` takes a module path without a leading `::`, such as \
                         \"my_crate::steps\"",
                    ),
                }
            } else if meta.path == symbol::NO_DEFAULT {
                if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                    cx.error_spanned_by(&meta.path, "`no_default` takes no value");
                    skip_value(&meta)?;
                }
                no_default.set(&meta.path, ());
            } else {
                let expected = match target {
                    Target::Struct => STRUCT_KEYS,
                    Target::Impl => "`crate` (the other arguments go on the struct's `#[step]`)",
                };
                cx.error_spanned_by(
                    &meta.path,
                    format_args!(
                        "unknown `#[step]` argument `{}`; expected one of: {expected}",
                        path_name(&meta.path),
                    ),
                );
                skip_value(&meta)?;
            }
            Ok(())
        });
        if let Err(err) = parser.parse2(tokens) {
            cx.syn_error(err);
        }

        StepArgs {
            version: version.get().unwrap_or(1),
            krate: krate.get().unwrap_or_else(default_crate_path),
            constructor: constructor
                .get()
                .unwrap_or_else(|| Ident::new("from_fields", Span::call_site())),
            no_default: no_default.get().is_some(),
            module: module.get(),
        }
    }
}

/// `::zenml`, the facade crate.
pub(crate) fn default_crate_path() -> Path {
    let mut segments = Punctuated::new();
    segments.push(syn::PathSegment::from(Ident::new(
        "zenml",
        Span::call_site(),
    )));
    Path {
        leading_colon: Some(Token![::](Span::call_site())),
        segments,
    }
}

/// Parses the value of `crate = "path"` or `crate = path`.
fn crate_path(meta: &ParseNestedMeta<'_>) -> syn::Result<Option<Path>> {
    let value = meta.value()?;
    if value.peek(LitStr) {
        let lit: LitStr = value.parse()?;
        Ok(Some(lit.parse_with(Path::parse_mod_style)?))
    } else {
        Ok(Some(value.call(Path::parse_mod_style)?))
    }
}

/// Skips the value of an argument that was already reported: `= expr`, `(…)` or nothing.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        meta.input.parse::<TokenTree>()?;
    }
    Ok(())
}

fn path_name(path: &Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.unraw().to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// The `#[param(…)]` attributes of one field.
pub(crate) struct ParamAttrs {
    /// `default = expr`.
    pub(crate) default: Option<Expr>,
}

impl ParamAttrs {
    pub(crate) fn parse(cx: &Ctxt, attrs: &[Attribute]) -> ParamAttrs {
        let mut default = Attr::none(cx, symbol::DEFAULT);
        for attr in attrs.iter().filter(|a| is_param_attr(a)) {
            let Meta::List(list) = &attr.meta else {
                cx.error_spanned_by(attr, "expected `#[param(default = …)]`");
                continue;
            };
            let result = list.parse_nested_meta(|meta| {
                if meta.path == symbol::DEFAULT {
                    let expr: Expr = meta.value()?.parse()?;
                    default.set(&meta.path, expr);
                } else {
                    cx.error_spanned_by(
                        &meta.path,
                        format_args!(
                            "unknown `#[param]` argument `{}`; expected: `default`",
                            path_name(&meta.path),
                        ),
                    );
                    skip_value(&meta)?;
                }
                Ok(())
            });
            if let Err(err) = result {
                cx.syn_error(err);
            }
        }
        ParamAttrs {
            default: default.get(),
        }
    }
}

/// Is this `#[param(…)]`?
pub(crate) fn is_param_attr(attr: &Attribute) -> bool {
    attr.path() == symbol::PARAM
}

/// The `#[step_param(…)]` attributes of a `#[derive(StepParam)]` enum.
pub(crate) struct EnumAttrs {
    pub(crate) krate: Path,
    /// `rename_all = "…"`: how variant names are spelled in configs and the store.
    pub(crate) rename_all: Option<RenameRule>,
}

/// How `#[step_param(rename_all = "…")]` spells a variant's name.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) enum RenameRule {
    /// `BinaryCrossentropy` → `binary_crossentropy`.
    SnakeCase,
    /// `BinaryCrossentropy` → `binarycrossentropy`.
    Lowercase,
}

const RENAME_RULES: &str = "\"snake_case\", \"lowercase\"";

impl RenameRule {
    fn parse(s: &str) -> Option<RenameRule> {
        match s {
            "snake_case" => Some(RenameRule::SnakeCase),
            "lowercase" => Some(RenameRule::Lowercase),
            _ => None,
        }
    }

    /// `name` spelled by this rule.
    pub(crate) fn apply(self, name: &str) -> String {
        match self {
            RenameRule::Lowercase => name.to_lowercase(),
            RenameRule::SnakeCase => {
                let mut out = String::with_capacity(name.len() + 4);
                for (i, c) in name.char_indices() {
                    if c.is_uppercase() && i > 0 && !out.ends_with('_') {
                        out.push('_');
                    }
                    out.extend(c.to_lowercase());
                }
                out
            }
        }
    }
}

impl EnumAttrs {
    pub(crate) fn parse(cx: &Ctxt, attrs: &[Attribute]) -> EnumAttrs {
        let mut krate = Attr::none(cx, symbol::CRATE);
        let mut rename_all = Attr::none(cx, symbol::RENAME_ALL);
        for attr in attrs.iter().filter(|a| a.path() == symbol::STEP_PARAM) {
            let Meta::List(list) = &attr.meta else {
                cx.error_spanned_by(attr, "expected `#[step_param(crate = \"…\")]`");
                continue;
            };
            let result = list.parse_nested_meta(|meta| {
                if meta.path == symbol::CRATE {
                    if let Some(path) = crate_path(&meta)? {
                        krate.set(&meta.path, path);
                    }
                } else if meta.path == symbol::RENAME_ALL {
                    let lit: LitStr = meta.value()?.parse()?;
                    match RenameRule::parse(&lit.value()) {
                        Some(rule) => rename_all.set(&meta.path, rule),
                        None => cx.error_spanned_by(
                            &lit,
                            format_args!(
                                "unknown `rename_all` rule {:?}; expected one of: {RENAME_RULES}",
                                lit.value()
                            ),
                        ),
                    }
                } else {
                    cx.error_spanned_by(
                        &meta.path,
                        format_args!(
                            "unknown `#[step_param]` argument `{}`; expected: `crate`, \
                             `rename_all`",
                            path_name(&meta.path),
                        ),
                    );
                    skip_value(&meta)?;
                }
                Ok(())
            });
            if let Err(err) = result {
                cx.syn_error(err);
            }
        }
        EnumAttrs {
            krate: krate.get().unwrap_or_else(default_crate_path),
            rename_all: rename_all.get(),
        }
    }
}

/// A doc comment: the `#[doc = …]` attributes of an item, in order.
pub(crate) struct Doc {
    pieces: Vec<DocPiece>,
}

enum DocPiece {
    /// A doc comment line (or a block comment's lines).
    Text(String),
    /// `#[doc = include_str!(…)]` and the like, used verbatim.
    Expr(Expr),
}

impl Doc {
    pub(crate) fn from_attrs(attrs: &[Attribute]) -> Doc {
        let mut pieces = Vec::new();
        for attr in attrs {
            if attr.path() != symbol::DOC {
                continue;
            }
            let Meta::NameValue(nv) = &attr.meta else {
                continue;
            };
            match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => pieces.push(DocPiece::Text(s.value())),
                other => pieces.push(DocPiece::Expr(other.clone())),
            }
        }
        Doc { pieces }
    }

    /// The doc as a `&'static str` expression: every line trimmed, lines joined with `\n`, with
    /// leading and trailing blank lines removed. Non-literal pieces go through `concat!`.
    pub(crate) fn to_expr(&self) -> TokenStream {
        let mut parts: Vec<TokenStream> = Vec::new();
        let mut text = String::new();
        for piece in &self.pieces {
            match piece {
                DocPiece::Text(s) => {
                    for line in s.lines() {
                        if !text.is_empty() {
                            text.push('\n');
                        }
                        text.push_str(line.trim());
                    }
                    if s.is_empty() && !text.is_empty() {
                        text.push('\n');
                    }
                }
                DocPiece::Expr(e) => {
                    flush(&mut parts, &mut text);
                    if !parts.is_empty() {
                        parts.push(quote!("\n"));
                    }
                    parts.push(e.to_token_stream());
                }
            }
        }
        flush(&mut parts, &mut text);
        match parts.len() {
            0 => quote!(""),
            1 => parts.remove(0),
            _ => quote!(::core::concat!(#(#parts),*)),
        }
    }
}

fn flush(parts: &mut Vec<TokenStream>, text: &mut String) {
    let trimmed = text.trim_matches('\n');
    if !trimmed.is_empty() {
        if !parts.is_empty() {
            parts.push(quote!("\n"));
        }
        let lit = LitStr::new(trimmed, Span::call_site());
        parts.push(lit.to_token_stream());
    }
    text.clear();
}

/// The `Default` in a `#[derive(…, Default, …)]` among `attrs`, if any.
pub(crate) fn derived_default(attrs: &[Attribute]) -> Option<Path> {
    for attr in attrs.iter().filter(|a| a.path() == symbol::DERIVE) {
        let Ok(paths) = attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
        else {
            continue;
        };
        if let Some(p) = paths
            .into_iter()
            .find(|p| p.segments.last().is_some_and(|s| s.ident == "Default"))
        {
            return Some(p);
        }
    }
    None
}
