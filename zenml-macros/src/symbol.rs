//! The names of the macros' attributes and arguments.

use std::fmt::{self, Display};

use syn::{Ident, Path};

/// An attribute or argument name.
#[derive(Copy, Clone)]
pub(crate) struct Symbol(&'static str);

/// The field attribute `#[param(…)]`.
pub(crate) const PARAM: Symbol = Symbol("param");
/// The enum attribute `#[step_param(…)]` of `#[derive(StepParam)]`.
pub(crate) const STEP_PARAM: Symbol = Symbol("step_param");
/// `#[step_param(rename_all = "snake_case")]`.
pub(crate) const RENAME_ALL: Symbol = Symbol("rename_all");
/// `#[step(version = N)]`.
pub(crate) const VERSION: Symbol = Symbol("version");
/// `#[step(crate = "path")]`, `#[step_param(crate = "path")]`.
pub(crate) const CRATE: Symbol = Symbol("crate");
/// `#[step(module = "path")]`.
pub(crate) const MODULE: Symbol = Symbol("module");
/// `#[step(constructor = "name")]`.
pub(crate) const CONSTRUCTOR: Symbol = Symbol("constructor");
/// `#[step(no_default)]`.
pub(crate) const NO_DEFAULT: Symbol = Symbol("no_default");
/// `#[param(default = expr)]`.
pub(crate) const DEFAULT: Symbol = Symbol("default");
/// `#[doc = "…"]`, what doc comments become.
pub(crate) const DOC: Symbol = Symbol("doc");
/// `#[derive(…)]`.
pub(crate) const DERIVE: Symbol = Symbol("derive");

impl Symbol {
    pub(crate) fn as_str(self) -> &'static str {
        self.0
    }
}

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for &Ident {
    fn eq(&self, word: &Symbol) -> bool {
        *self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}
