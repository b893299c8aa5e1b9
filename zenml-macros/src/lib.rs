//! Procedural macros of zenml-rs: `#[step]` and `#[derive(StepParam)]`.
//!
//! Use them through the `zenml` crate (`use zenml::prelude::*;`), which re-exports them together
//! with the runtime their expansions call. This crate only parses, checks and expands; the
//! modules follow that order: `attr` and `ast` read the input into a typed form that keeps every
//! token's span, `check` runs the validation passes into one error sink (`ctxt`), and
//! `step_struct`, `step_impl` and `step_param` write the code.

mod ast;
mod attr;
mod check;
mod ctxt;
mod dummy;
mod entry;
mod fingerprint;
mod step_impl;
mod step_param;
mod step_struct;
mod symbol;

use proc_macro::TokenStream;

/// Makes a struct a pipeline step: on the struct it declares the step's parameters, on the impl
/// of its step kind it fingerprints the step's code and registers the step.
///
/// ```ignore
/// use zenml::prelude::*;
///
/// #[derive(Clone, Copy, Debug, PartialEq, StepParam)]
/// pub enum Loss { Mse, Huber }
///
/// /// Trains a linear model.
/// #[step(version = 1)]
/// #[derive(Debug)]
/// pub struct LinearTrainer {
///     /// Passes over the training data.
///     #[param(default = 10)]
///     pub epochs: i64,
///     #[param(default = 0.01)]
///     pub lr: f64,
///     #[param(default = "weights")]
///     pub name: String,
///     #[param(default = Loss::Mse)]
///     pub loss: Loss,
///     /// Stop after this many epochs without improvement; `None` never stops early.
///     pub patience: Option<u32>,
/// }
///
/// #[step]
/// impl TrainerStep for LinearTrainer {
///     type Model = Vec<f64>;
///     fn train(&self, ctx: &mut StepContext, train: &Table, eval: &Table) -> StepResult<Vec<f64>> {
///         // …
///     }
/// }
///
/// let trainer = LinearTrainer { lr: 0.1, ..Default::default() };
/// ```
///
/// # On the struct
///
/// The struct must have named fields (`struct Name {}` for a step without parameters) and no
/// generics: a step is rebuilt from its source path and parameter values alone. Every field is a
/// parameter. `#[step]` implements, for the struct:
///
/// - `zenml::step::StepParams`:
///   - `SOURCE`, the step's identity in configs, the registry and the metadata store:
///     `concat!(module_path!(), "::", "Name")`, or `"path::Name"` under
///     `#[step(module = "path")]`;
///   - `NAME`, the struct's name; `VERSION`, from `#[step(version = N)]`, 1 by default;
///   - `DOC`, the struct's doc comment, every line trimmed, lines joined with `\n`;
///   - `PARAM_SPECS`, one `ParamSpec` per field in declaration order: its name (a raw identifier
///     loses its `r#`), its parameter type, its default and its doc comment;
///   - `params()`, the values in declaration order; `from_params()`, which refuses names the
///     step does not declare, fills in defaults for the parameters left out (`None` for an
///     `Option` without a default) and fails with an error naming the parameter when a required
///     one is missing or a value has the wrong type or is out of range; `clone_step()`.
/// - A constructor taking every parameter in field order, `from_fields(…) -> Self`, with the
///   struct's visibility. Its name does not collide with a `new` of your own; to call it
///   something else (`new`, say) write `#[step(constructor = "new")]`.
/// - `Default`, when every field has a default: a `#[param(default = …)]`, or none on an
///   `Option` field (which defaults to `None`). Then `MyStep { lr: 0.1, ..Default::default() }`
///   works, and `Default` agrees with the specs and with what `from_params` fills in.
///
/// ## `Default`
///
/// `#[step]` owns `Default`, so that it always agrees with the declared defaults: a
/// `#[derive(Default)]` on a step struct is an error (it would give `0` where
/// `#[param(default = 8)]` says 8). To implement `Default` yourself, or derive it, write
/// `#[step(no_default)]`; `#[step]` then never implements it. Put `#[step]` above the struct's
/// other attributes: a derive written above it is not seen by it, and a derived `Default` there
/// shows as a conflicting implementation.
///
/// ## Parameter types
///
/// `bool`, `i8`, `i16`, `i32`, `i64`, `u8`, `u16`, `u32`, `f32`, `f64`, `String`, a unit-only
/// enum with `#[derive(StepParam)]`, and `Option<T>` of any of those. Nothing else: `u64`,
/// `usize` and `i128` could not round-trip through ML Metadata's integer column; collections,
/// references, boxes and other structs are not parameters. A field of another type is a compile
/// error at that field's type, with a note listing the allowed types; every bad field of a struct
/// is reported in the same build. Types the macro can tell from their spelling (`Vec<u8>`,
/// `&str`, `u64`, `Option<Option<i64>>`, …) get a message of their own; the others (a type alias,
/// a struct of yours) are caught by the `Param` trait bound.
///
/// ## `#[param(default = <expr>)]`
///
/// The value used when a config or a call leaves the parameter out. The expression is checked
/// against the field's type, so `#[param(default = "fast")] lr: f64` is a "mismatched types"
/// error at `"fast"`. Two conveniences:
///
/// - on a `String` field, a string literal becomes a `String` (`#[param(default = "mse")]`);
///   any other expression must be a `String` already;
/// - on an `Option<T>` field, a default `x` of type `T` means `Some(x)`; a default spelled
///   `Some(…)` or `None` is used as it is.
///
/// The expression is evaluated, each time a default is needed, in the struct's module but outside
/// any impl: it may name constants and functions of the module, not `Self`. `Option` and `String`
/// are recognised by their spelling (`Option<…>`, `std::option::Option<…>`, `String`, …).
///
/// ## Arguments
///
/// | argument | meaning |
/// |---|---|
/// | `version = N` | the step's version (1 by default); bump it when the step's behaviour changes in a way its code fingerprint cannot see |
/// | `crate = "path"` or `crate = path` | the path to the `zenml` facade (or to `zenml-core`), when it is not `::zenml`: a crate that renames or re-exports zenml; inside zenml-core, `crate = crate` |
/// | `module = "path"` | the public module path the step's source starts with, in place of `module_path!()`: for a step defined in an inner crate or private module and reached by users through a re-export (zenml's own steps are `zenml::steps::…`, not the inner crate's path) |
/// | `constructor = "name"` | the name of the constructor taking every parameter (`from_fields` by default) |
/// | `no_default` | never implement `Default` |
///
/// # On the impl of a step kind
///
/// `#[step]` on `impl TrainerStep for MyTrainer` (or any other step kind: `DatasourceStep`,
/// `SplitStep`, `PreprocesserStep`, `EvaluatorStep`, `Step`) leaves the impl as it is and adds:
///
/// - `zenml::step::StepCode`: `CODE_FINGERPRINT`, the xxh3-128 hash of the impl block's tokens,
///   which enters the step's cache key, and `LOCATION`, the `file:line` of the impl. Editing the
///   code of the impl changes the fingerprint; reformatting it, or editing its comments and doc
///   comments, does not. Code outside the impl (a helper function, a dependency) is not part of
///   it: bump the step's `version` when such a change matters.
/// - `zenml::step::IntoDynStep`, which the pipeline builders use.
/// - The step's registration (below).
///
/// The impl must be of a step kind, for the struct itself, and not generic. On the impl,
/// `#[step]` takes no argument but `crate = "…"`.
///
/// # Registration and the linking rule
///
/// Every step with `#[step]` on its kind impl is registered, through `inventory`, in
/// `zenml::registry::Registry::global()`: its source path, version, kind, parameter specs and a
/// constructor from parameter values. That is how a pipeline is rebuilt from a YAML config or from
/// the metadata store. Only code **linked into the running binary** registers: a binary that runs
/// configs naming your steps must link the crate that defines them, and if it uses nothing else
/// from that crate it must name it so that the linker keeps it:
///
/// ```ignore
/// use my_steps as _;
/// ```
///
/// Two step types with one source path (one crate linked at two versions, say) make
/// `Registry::global()` fail with an error naming both.
///
/// # Errors
///
/// A mistake in a step is a compile error at its token: an unknown or repeated argument, a field
/// type that is not a parameter type, a default of the wrong type, an enum, tuple, unit or generic
/// struct, an inherent or generic impl. The struct or impl is still emitted as written, so each
/// mistake gives one error and not a cascade. A kind impl without `#[step]` is reported where the
/// step is used ("`MyStep` has no code fingerprint: its step impl lacks `#[step]`").
#[proc_macro_attribute]
pub fn step(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::step(args.into(), item.into()).into()
}

/// Makes a unit-only enum a step parameter type, stored as its variant's name exactly as written
/// in Rust (`Adam`, not `adam`), unless `rename_all` (below) says otherwise.
///
/// ```ignore
/// use zenml::prelude::*;
///
/// #[derive(Clone, Copy, Debug, PartialEq, StepParam)]
/// pub enum Optimizer {
///     Adam,
///     Sgd,
/// }
/// ```
///
/// It implements `zenml::param::EnumParam` (the enum's name and variants, and the conversions
/// from and to a variant's name), from which `Param` follows: the enum, and `Option` of it, can be
/// fields of a step. The enum must also be `Clone`, hence `#[derive(Clone, Copy, Debug,
/// StepParam)]`. It must have at least one variant, no variant may carry data, and it may not be
/// generic.
///
/// `#[step_param(rename_all = "snake_case")]` stores the variants in snake case instead
/// (`BinaryCrossentropy` as `binary_crossentropy`), which is how configs then spell them;
/// `"lowercase"` lowercases them (`BinaryCrossentropy` as `binarycrossentropy`). Two variants
/// stored alike are a compile error.
///
/// `#[step_param(crate = "path")]` names the path to the `zenml` facade (or `zenml-core`) when
/// it is not `::zenml`, as `#[step(crate = "…")]` does.
#[proc_macro_derive(StepParam, attributes(step_param))]
pub fn derive_step_param(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => step_param::derive(input).into(),
        Err(err) => err.to_compile_error().into(),
    }
}
