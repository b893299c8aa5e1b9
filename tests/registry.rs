//! The registry as `#[step]` fills it: every linked step, sorted by source, found by source and
//! version, built from parameters; duplicates refused; code fingerprints per step.

// Steps of another crate register only if the crate is linked into this binary, and a crate
// whose items are never used may be dropped by the linker: name it.
use zenml_test_steps as _;

use zenml::param::{Params, Value};
use zenml::prelude::*;
use zenml::registry::{Registry, RegistryError, StepRegistration};
use zenml::step::{DynStep, StepCode, StepInfo, StepKind};

/// Reads a fixed table.
#[step]
#[derive(Debug)]
pub struct FixedSource {
    /// How many rows.
    #[param(default = 3)]
    pub rows: u32,
}

#[step]
impl DatasourceStep for FixedSource {
    fn read(&self, _ctx: &mut StepContext) -> StepResult<Table> {
        Err(format!("FixedSource({}) is not meant to run", self.rows).into())
    }
}

/// Same parameters as `FixedSource`, another body.
#[step(version = 7)]
#[derive(Debug)]
pub struct OtherSource {
    #[param(default = 3)]
    pub rows: u32,
}

#[step]
impl DatasourceStep for OtherSource {
    fn read(&self, _ctx: &mut StepContext) -> StepResult<Table> {
        Err(format!("OtherSource({}) is not meant to run either", self.rows).into())
    }
}

/// A general step.
#[step]
#[derive(Debug)]
pub struct Passthrough {
    pub label: Option<String>,
}

#[step]
impl Step for Passthrough {
    fn inputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("data")]
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("data")]
    }
    fn run(&self, _ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        let data: &Table = inputs.get("data")?;
        Ok(Outputs::new().with("data", data.clone()))
    }
}

fn global() -> &'static Registry {
    Registry::global().expect("no duplicate steps")
}

#[test]
fn every_linked_step_is_registered_sorted_by_source() {
    let sources: Vec<&str> = global().iter().map(|r| r.source()).collect();
    for expected in [
        "registry::FixedSource",
        "registry::OtherSource",
        "registry::Passthrough",
        "zenml_test_steps::EmptySource",
        "zenml_test_steps::EveryNth",
    ] {
        assert!(
            sources.contains(&expected),
            "{expected} missing from {sources:?}"
        );
    }
    let mut sorted = sources.clone();
    sorted.sort_unstable();
    assert_eq!(sources, sorted);
    assert_eq!(global().len(), sources.len());
}

#[test]
fn steps_of_another_crate_are_found() {
    let every_nth = global()
        .get("zenml_test_steps::EveryNth")
        .expect("EveryNth");
    let info = every_nth.info();
    assert_eq!(info.kind, StepKind::Split);
    assert_eq!(info.version, 1);
    assert_eq!(info.doc, "Keeps every `n`-th row.");
    assert_eq!(info.params[0].name, "n");
    assert_eq!(info.params[0].doc, "Which rows to keep: every `n`-th.");
    // The impl block's line (`#[step]` sits on the line above).
    assert!(
        info.location.ends_with("support-steps/src/lib.rs:16"),
        "{}",
        info.location
    );

    let source = global()
        .get_version("zenml_test_steps::EmptySource", 3)
        .expect("EmptySource@3");
    assert_eq!(source.info().kind, StepKind::Datasource);
    assert!(source.info().params[0].is_required());
}

#[test]
fn lookup_by_source_and_version() {
    let reg = global().get("registry::FixedSource").expect("FixedSource");
    assert_eq!(reg.version(), 1);
    assert_eq!(reg.info().name, "FixedSource");
    assert_eq!(reg.info().kind, StepKind::Datasource);
    assert_eq!(reg.info().source_ref(), "registry::FixedSource@1");
    assert_eq!(reg.info().location, FixedSource::LOCATION);

    assert!(global().get_version("registry::OtherSource", 7).is_ok());
    let err = global()
        .get_version("registry::OtherSource", 6)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            RegistryError::VersionMismatch {
                requested: 6,
                registered: 7,
                ..
            }
        ),
        "{err:?}"
    );

    let err = global().get("registry::FixedSorce").unwrap_err();
    assert!(err.to_string().contains("registry::FixedSource"), "{err}");
}

#[test]
fn build_from_source_and_params() {
    let params = Params::new().with("rows", Value::Int(10));
    let step = global()
        .build("registry::FixedSource", Some(1), &params)
        .expect("build");
    assert_eq!(step.params(), params);
    assert_eq!(step.info().source, "registry::FixedSource");
    assert_eq!(step.inputs().len(), 0);
    assert_eq!(step.outputs()[0].name, "data");
    // A copy keeps the parameters.
    assert_eq!(step.clone().params(), params);

    let defaults = global()
        .build("registry::FixedSource", None, &Params::new())
        .expect("defaults");
    assert_eq!(defaults.params().get("rows"), Some(&Value::Int(3)));

    let general = global()
        .build("registry::Passthrough", None, &Params::new())
        .expect("general step");
    assert_eq!(general.info().kind, StepKind::General);
    assert_eq!(general.params().get("label"), Some(&Value::Null));
    assert_eq!(general.inputs()[0].name, "data");

    let err = global()
        .build(
            "registry::FixedSource",
            None,
            &Params::new().with("rows", Value::Str("ten".into())),
        )
        .unwrap_err();
    assert!(matches!(err, RegistryError::Params(_)), "{err:?}");
    assert!(err.to_string().contains("`rows`"), "{err}");
}

#[test]
fn a_step_value_converts_to_the_runtime_form() {
    use zenml::step::IntoDynStep;
    let step = FixedSource { rows: 5 }.into_dyn_step();
    assert_eq!(step.info().kind, StepKind::Datasource);
    assert_eq!(step.params().get("rows"), Some(&Value::Int(5)));
    let step = Passthrough {
        label: Some("x".into()),
    }
    .into_dyn_step();
    assert_eq!(step.info().kind, StepKind::General);
}

fn refuse(_: &Params) -> Result<Box<dyn DynStep>, zenml::param::ParamError> {
    Err(zenml::param::ParamError::Unknown {
        step: "dup::Step",
        name: "any".into(),
        expected: Vec::new(),
    })
}

const fn info_at(location: &'static str) -> StepInfo {
    StepInfo {
        location,
        ..StepInfo::of::<FixedSource>(StepKind::Datasource)
    }
}

static FIRST: StepRegistration = StepRegistration::new(info_at("a/steps.rs:10"), refuse);
static SECOND: StepRegistration = StepRegistration::new(info_at("b/steps.rs:20"), refuse);

#[test]
fn duplicate_sources_are_an_error_naming_both_locations() {
    for order in [[&FIRST, &SECOND], [&SECOND, &FIRST]] {
        let err = Registry::from_registrations(order).unwrap_err();
        let RegistryError::Duplicate {
            source_path,
            first,
            second,
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(*source_path, "registry::FixedSource");
        assert_eq!((*first, *second), ("a/steps.rs:10", "b/steps.rs:20"));
        let message = err.to_string();
        assert!(message.contains("a/steps.rs:10") && message.contains("b/steps.rs:20"));
    }
    assert!(Registry::from_registrations([&FIRST]).is_ok());
}

#[test]
fn code_fingerprints_differ_with_the_code() {
    assert_ne!(FixedSource::CODE_FINGERPRINT, OtherSource::CODE_FINGERPRINT);
    assert_ne!(FixedSource::CODE_FINGERPRINT, 0);
    let fixed = global().get("registry::FixedSource").expect("FixedSource");
    assert_eq!(
        fixed.info().code_fingerprint.0,
        FixedSource::CODE_FINGERPRINT
    );
    // Every registered step has a fingerprint of its own.
    let mut fingerprints: Vec<u128> = global()
        .iter()
        .map(|r| r.info().code_fingerprint.0)
        .collect();
    fingerprints.sort_unstable();
    fingerprints.dedup();
    assert_eq!(fingerprints.len(), global().len());
}
