//! What `#[step]` generates on a struct, seen through the public API: parameter specs, values,
//! defaults, docs, `from_params` and its errors.

use zenml::param::{ParamError, ParamType, Params, ScalarType, Value, ValueErrorReason};
use zenml::prelude::*;
use zenml::step::StepParams;

/// The optimiser of a trainer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, StepParam)]
pub enum Optimizer {
    Adam,
    Sgd,
    RmsProp,
}

/// The acceptance example: three primitives, an `Option` and an enum.
///
///   Trains a small feed-forward network.
#[step(version = 2)]
#[derive(Debug, PartialEq)]
pub struct SmallTrainer {
    /// Examples per batch.
    #[param(default = 8)]
    pub batch_size: i64,
    /// The learning rate.
    #[param(default = 0.001)]
    pub lr: f64,
    /// The loss function's name.
    #[param(default = "mse")]
    pub loss: String,
    /// Units per hidden layer; `None` for a linear model.
    pub hidden_layers: Option<i64>,
    /// How the weights move.
    #[param(default = Optimizer::Adam)]
    pub optimizer: Optimizer,
}

#[step]
impl TrainerStep for SmallTrainer {
    type Model = Table;
    fn train(&self, _ctx: &mut StepContext, train: &Table, _eval: &Table) -> StepResult<Table> {
        Ok(train.clone())
    }
}

#[test]
fn acceptance_struct_lists_its_parameters_with_docs_and_defaults() {
    assert_eq!(SmallTrainer::NAME, "SmallTrainer");
    assert_eq!(SmallTrainer::SOURCE, "params::SmallTrainer");
    assert_eq!(SmallTrainer::VERSION, 2);
    assert_eq!(
        SmallTrainer::DOC,
        "The acceptance example: three primitives, an `Option` and an enum.\n\n\
         Trains a small feed-forward network."
    );

    let specs: Vec<_> = SmallTrainer::PARAM_SPECS
        .iter()
        .map(|s| (s.name, s.ty.to_string(), s.default_value(), s.doc))
        .collect();
    assert_eq!(
        specs,
        [
            (
                "batch_size",
                "i64".to_owned(),
                Some(Value::Int(8)),
                "Examples per batch."
            ),
            (
                "lr",
                "f64".to_owned(),
                Some(Value::Float(0.001)),
                "The learning rate."
            ),
            (
                "loss",
                "String".to_owned(),
                Some(Value::Str("mse".into())),
                "The loss function's name."
            ),
            (
                "hidden_layers",
                "Option<i64>".to_owned(),
                Some(Value::Null),
                "Units per hidden layer; `None` for a linear model."
            ),
            (
                "optimizer",
                "Optimizer".to_owned(),
                Some(Value::Str("Adam".into())),
                "How the weights move."
            ),
        ]
    );
    // Declared defaults are specs' defaults; an Option without one has none (it is null).
    assert!(SmallTrainer::PARAM_SPECS[0].default.is_some());
    assert!(SmallTrainer::PARAM_SPECS[3].default.is_none());
    assert!(SmallTrainer::PARAM_SPECS.iter().all(|s| !s.is_required()));
}

#[test]
fn acceptance_struct_registers() {
    let registry = zenml::registry::Registry::global().expect("registry");
    let reg = registry
        .get_version("params::SmallTrainer", 2)
        .expect("registered");
    let info = reg.info();
    assert_eq!(info.kind, zenml::step::StepKind::Trainer);
    assert_eq!(info.params.len(), 5);
    assert_eq!(info.doc, SmallTrainer::DOC);
}

#[test]
fn acceptance_struct_round_trips_its_parameters() {
    let step = SmallTrainer {
        batch_size: 32,
        lr: 0.1,
        loss: "huber".into(),
        hidden_layers: Some(16),
        optimizer: Optimizer::RmsProp,
    };
    let params = step.params();
    assert_eq!(
        params.iter().collect::<Vec<_>>(),
        [
            ("batch_size", &Value::Int(32)),
            ("lr", &Value::Float(0.1)),
            ("loss", &Value::Str("huber".into())),
            ("hidden_layers", &Value::Int(16)),
            ("optimizer", &Value::Str("RmsProp".into())),
        ]
    );
    let rebuilt = SmallTrainer::from_params(&params).expect("from_params");
    assert_eq!(rebuilt, step);
    assert_eq!(rebuilt.params(), params);
    assert_eq!(rebuilt.params().canonical_bytes(), params.canonical_bytes());

    // Through the registry too, in whatever order the config lists them.
    let mut entries: Vec<_> = params.iter().collect();
    entries.reverse();
    let shuffled: Params = entries
        .into_iter()
        .map(|(n, v)| (n.to_owned(), v.clone()))
        .collect();
    let registry = zenml::registry::Registry::global().expect("registry");
    let built = registry
        .build("params::SmallTrainer", Some(2), &shuffled)
        .expect("build");
    assert_eq!(built.params(), params);
    assert_eq!(built.params().canonical_bytes(), shuffled.canonical_bytes());
}

#[test]
fn default_and_constructor() {
    let step = SmallTrainer::default();
    assert_eq!(
        step,
        SmallTrainer::from_fields(8, 0.001, "mse".to_owned(), None, Optimizer::Adam)
    );
    // Missing parameters take their defaults.
    assert_eq!(SmallTrainer::from_params(&Params::new()), Ok(step));
    let clone = SmallTrainer::default().clone_step();
    assert_eq!(clone, SmallTrainer::default());
}

/// Every parameter type, plain and optional.
#[step]
#[derive(Debug, PartialEq)]
pub struct AllTypes {
    pub b: bool,
    pub i_8: i8,
    pub i_16: i16,
    pub i_32: i32,
    pub i_64: i64,
    pub u_8: u8,
    pub u_16: u16,
    pub u_32: u32,
    pub f_32: f32,
    pub f_64: f64,
    pub s: String,
    pub e: Optimizer,
    pub ob: Option<bool>,
    pub oi_8: Option<i8>,
    pub oi_16: Option<i16>,
    pub oi_32: Option<i32>,
    pub oi_64: Option<i64>,
    pub ou_8: Option<u8>,
    pub ou_16: Option<u16>,
    pub ou_32: Option<u32>,
    pub of_32: Option<f32>,
    pub of_64: Option<f64>,
    pub os: Option<String>,
    pub oe: Option<Optimizer>,
}

fn all_types() -> AllTypes {
    AllTypes {
        b: true,
        i_8: -8,
        i_16: -16,
        i_32: -32,
        i_64: i64::MIN,
        u_8: u8::MAX,
        u_16: 16,
        u_32: u32::MAX,
        f_32: 0.1,
        f_64: -2.5,
        s: "text".into(),
        e: Optimizer::Sgd,
        ob: Some(false),
        oi_8: None,
        oi_16: Some(1),
        oi_32: None,
        oi_64: Some(64),
        ou_8: None,
        ou_16: Some(2),
        ou_32: None,
        of_32: Some(1.5),
        of_64: None,
        os: Some("x".into()),
        oe: None,
    }
}

#[test]
fn every_parameter_type_has_its_spec() {
    use ScalarType as S;
    let scalars = [
        S::Bool,
        S::I8,
        S::I16,
        S::I32,
        S::I64,
        S::U8,
        S::U16,
        S::U32,
        S::F32,
        S::F64,
        S::String,
    ];
    let specs = AllTypes::PARAM_SPECS;
    assert_eq!(specs.len(), 24);
    for (i, scalar) in scalars.iter().enumerate() {
        assert_eq!(specs[i].ty, ParamType::scalar(*scalar), "{}", specs[i].name);
        let optional = ParamType {
            scalar: *scalar,
            nullable: true,
        };
        assert_eq!(specs[i + 12].ty, optional, "{}", specs[i + 12].name);
    }
    let S::Enum(spec) = specs[11].ty.scalar else {
        panic!("`e` is not an enum parameter: {:?}", specs[11].ty);
    };
    assert_eq!(spec.name, "Optimizer");
    assert_eq!(spec.variants, ["Adam", "Sgd", "RmsProp"]);
    assert_eq!(specs[23].ty.to_string(), "Option<Optimizer>");
    // Without defaults, only the Option fields may be left out.
    let required: Vec<_> = specs
        .iter()
        .filter(|s| s.is_required())
        .map(|s| s.name)
        .collect();
    assert_eq!(required.len(), 12);
    assert_eq!(required[0], "b");
}

#[test]
fn every_parameter_type_round_trips() {
    let step = all_types();
    let params = step.params();
    assert_eq!(params.len(), 24);
    assert_eq!(params.get("i_64"), Some(&Value::Int(i64::MIN)));
    assert_eq!(params.get("u_32"), Some(&Value::Int(u32::MAX.into())));
    assert_eq!(params.get("f_32"), Some(&Value::Float(f64::from(0.1_f32))));
    assert_eq!(params.get("e"), Some(&Value::Str("Sgd".into())));
    assert_eq!(params.get("oe"), Some(&Value::Null));
    let rebuilt = AllTypes::from_params(&params).expect("from_params");
    assert_eq!(rebuilt, step);
    assert_eq!(rebuilt.params().canonical_bytes(), params.canonical_bytes());
    assert_eq!(step.clone_step(), step);
}

#[test]
fn option_fields_may_be_left_out() {
    let mut params = all_types().params();
    let optional: Vec<String> = params
        .iter()
        .filter(|(_, v)| v.is_null())
        .map(|(n, _)| n.to_owned())
        .collect();
    // Rebuild the list without the null entries.
    params = params
        .iter()
        .filter(|(n, _)| !optional.iter().any(|o| o == n))
        .map(|(n, v)| (n.to_owned(), v.clone()))
        .collect();
    assert_eq!(AllTypes::from_params(&params), Ok(all_types()));
}

/// Defaults of every shape.
#[step]
#[derive(Debug, PartialEq)]
pub struct Defaults {
    #[param(default = -3)]
    pub int: i32,
    #[param(default = 1.5)]
    pub float: f32,
    #[param(default = true)]
    pub flag: bool,
    #[param(default = "text")]
    pub text: String,
    #[param(default = String::from("built"))]
    pub built: String,
    #[param(default = Optimizer::Sgd)]
    pub choice: Optimizer,
    /// `default = x` on an Option means `Some(x)`.
    #[param(default = 4)]
    pub wrapped: Option<u16>,
    #[param(default = Some(5))]
    pub some: Option<u16>,
    #[param(default = None)]
    pub none: Option<u16>,
    #[param(default = "maybe")]
    pub maybe_text: Option<String>,
    #[param(default = Optimizer::RmsProp)]
    pub maybe_choice: Option<Optimizer>,
    pub missing: Option<f64>,
    #[param(default = DEFAULT_LIMIT * 2)]
    pub computed: u32,
}

const DEFAULT_LIMIT: u32 = 21;

#[test]
fn defaults_of_every_shape() {
    let expected = Defaults {
        int: -3,
        float: 1.5,
        flag: true,
        text: "text".into(),
        built: "built".into(),
        choice: Optimizer::Sgd,
        wrapped: Some(4),
        some: Some(5),
        none: None,
        maybe_text: Some("maybe".into()),
        maybe_choice: Some(Optimizer::RmsProp),
        missing: None,
        computed: 42,
    };
    assert_eq!(Defaults::default(), expected);
    assert_eq!(Defaults::from_params(&Params::new()), Ok(expected));
    let defaults: Vec<_> = Defaults::PARAM_SPECS
        .iter()
        .map(|s| s.default_value().expect("every field may be left out"))
        .collect();
    assert_eq!(
        defaults,
        [
            Value::Int(-3),
            Value::Float(1.5),
            Value::Bool(true),
            Value::Str("text".into()),
            Value::Str("built".into()),
            Value::Str("Sgd".into()),
            Value::Int(4),
            Value::Int(5),
            Value::Null,
            Value::Str("maybe".into()),
            Value::Str("RmsProp".into()),
            Value::Null,
            Value::Int(42),
        ]
    );
    assert_eq!(
        Defaults::PARAM_SPECS[6].doc,
        "`default = x` on an Option means `Some(x)`."
    );
    assert_eq!(Defaults::PARAM_SPECS[0].doc, "");
}

/// A step with required parameters and no `Default`.
#[step]
#[derive(Debug, PartialEq)]
pub struct Required {
    pub epochs: u8,
    #[param(default = 0.5)]
    pub dropout: f64,
    pub r#type: String,
}

#[test]
fn raw_identifiers_are_named_without_r_hash() {
    let names: Vec<_> = Required::PARAM_SPECS.iter().map(|s| s.name).collect();
    assert_eq!(names, ["epochs", "dropout", "type"]);
    let step = Required::from_fields(3, 0.1, "dense".into());
    assert_eq!(step.params().get("type"), Some(&Value::Str("dense".into())));
}

fn required_params() -> Params {
    Params::new()
        .with("epochs", Value::Int(3))
        .with("type", Value::Str("dense".into()))
}

#[test]
fn from_params_fills_defaults_and_keeps_given_values() {
    let step = Required::from_params(&required_params()).expect("from_params");
    assert_eq!(step, Required::from_fields(3, 0.5, "dense".into()));
    let step = Required::from_params(&required_params().with("dropout", Value::Int(1)))
        .expect("an integer is a fine float");
    assert_eq!(step.dropout, 1.0);
}

#[test]
fn missing_required_parameter_is_named() {
    let params = Params::new().with("type", Value::Str("dense".into()));
    let err = Required::from_params(&params).unwrap_err();
    assert!(
        matches!(
            err,
            ParamError::Missing {
                name: "epochs",
                step: "params::Required",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "missing parameter `epochs` of `params::Required` (u8, no default)"
    );
}

#[test]
fn unknown_parameter_is_named() {
    let err = Required::from_params(&required_params().with("epoch", Value::Int(1))).unwrap_err();
    let ParamError::Unknown { name, expected, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(name, "epoch");
    assert_eq!(expected, &["epochs", "dropout", "type"]);
    assert!(
        err.to_string().contains("unknown parameter `epoch`"),
        "{err}"
    );
}

#[test]
fn mistyped_parameter_is_named() {
    let err = Required::from_params(&required_params().with("dropout", Value::Str("high".into())))
        .unwrap_err();
    let ParamError::Invalid { name, source, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*name, "dropout");
    assert_eq!(source.reason, ValueErrorReason::WrongType);
    assert_eq!(
        err.to_string(),
        "parameter `dropout` of `params::Required`: expected f64, found string \"high\""
    );
}

#[test]
fn out_of_range_parameter_is_named() {
    let err =
        Required::from_params(&required_params().with("epochs", Value::Int(300))).unwrap_err();
    let ParamError::Invalid { name, source, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*name, "epochs");
    assert_eq!(source.reason, ValueErrorReason::OutOfRange);
    assert!(
        err.to_string().contains("300 is out of range for u8"),
        "{err}"
    );
}

#[test]
fn null_is_refused_for_a_plain_parameter_and_unknown_variants_are_named() {
    let err = Required::from_params(&required_params().with("epochs", Value::Null)).unwrap_err();
    assert!(
        matches!(&err, ParamError::Invalid { name: "epochs", source, .. } if source.reason == ValueErrorReason::Null),
        "{err:?}"
    );
    let err =
        SmallTrainer::from_params(&Params::new().with("optimizer", Value::Str("adam".into())))
            .unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameter `optimizer` of `params::SmallTrainer`: \"adam\" is not a variant of Optimizer; \
         expected one of: Adam, Sgd, RmsProp"
    );
}

/// A step without parameters.
#[step]
#[derive(Debug, PartialEq)]
pub struct NoParams {}

#[test]
fn a_step_without_parameters() {
    assert!(NoParams::PARAM_SPECS.is_empty());
    assert!(NoParams::default().params().is_empty());
    assert_eq!(NoParams::from_fields(), NoParams {});
    assert_eq!(NoParams::from_params(&Params::new()), Ok(NoParams {}));
    assert!(NoParams::from_params(&Params::new().with("x", Value::Int(1))).is_err());
}

#[test]
fn enum_parameters_use_the_variant_names_as_written() {
    use zenml::param::EnumParam;
    assert_eq!(Optimizer::SPEC.name, "Optimizer");
    assert_eq!(Optimizer::RmsProp.variant_name(), "RmsProp");
    assert_eq!(
        Optimizer::from_variant_name("RmsProp"),
        Some(Optimizer::RmsProp)
    );
    assert_eq!(Optimizer::from_variant_name("rmsprop"), None);
}

/// First line.
#[doc = concat!("Built ", "line.")]
/// Last line.
#[step]
#[derive(Debug)]
pub struct BuiltDocs {
    #[doc = concat!("Built ", "field doc.")]
    pub x: Option<i64>,
}

#[test]
fn doc_comments_built_by_macros_are_kept() {
    assert_eq!(BuiltDocs::DOC, "First line.\nBuilt line.\nLast line.");
    assert_eq!(BuiltDocs::PARAM_SPECS[0].doc, "Built field doc.");
}

/// An activation, spelled in configs as Keras spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, StepParam)]
#[step_param(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    Sigmoid,
    LeakyRelu,
}

/// A step whose enum parameter is stored in snake case.
#[step]
#[derive(Debug, PartialEq)]
pub struct Layer {
    #[param(default = Activation::Relu)]
    pub activation: Activation,
    pub last: Option<Activation>,
}

#[step]
impl TrainerStep for Layer {
    type Model = Table;
    fn train(&self, _ctx: &mut StepContext, train: &Table, _eval: &Table) -> StepResult<Table> {
        Ok(train.clone())
    }
}

#[test]
fn rename_all_spells_variants_in_snake_case() {
    let ScalarType::Enum(spec) = Layer::PARAM_SPECS[0].ty.scalar else {
        panic!("not an enum parameter");
    };
    assert_eq!(spec.variants, ["relu", "sigmoid", "leaky_relu"]);
    let step = Layer {
        activation: Activation::LeakyRelu,
        last: Some(Activation::Sigmoid),
    };
    let params = step.params();
    assert_eq!(
        params.get("activation"),
        Some(&Value::Str("leaky_relu".into()))
    );
    assert_eq!(Layer::from_params(&params), Ok(step));
    // The Rust spelling is not a stored name.
    let err = Layer::from_params(&Params::new().with("activation", Value::Str("Relu".into())))
        .expect_err("Relu is not stored as written");
    assert_eq!(
        err.to_string(),
        "parameter `activation` of `params::Layer`: \"Relu\" is not a variant of Activation; \
         expected one of: relu, sigmoid, leaky_relu"
    );
}
