//! The declarative pipeline config: exact round trips (build → YAML → load gives identical cache
//! keys; YAML → load → YAML gives identical text), hand-written configs in other styles, and every
//! kind of bad config, each with the error kind, the step and parameter named, and the line.

mod common;

use common::*;
use zenml::param::{ParamError, ValueErrorReason};
use zenml::pipeline::{ConfigError, ConfigErrorKind, PipelineError, Template};
use zenml::prelude::*;
use zenml::registry::RegistryError;
use zenml::runner::RunSummary;

/// How [`Scale`] rounds its results.
#[derive(Clone, Copy, Debug, PartialEq, Eq, StepParam)]
pub enum Rounding {
    Nearest,
    Down,
    Up,
}

/// Multiplies the `x` column of a table; its parameters cover the narrow integer types, `f32`, an
/// `Option` and an enum.
#[step]
#[derive(Debug)]
pub struct Scale {
    /// How many times the factor is applied.
    #[param(default = 1)]
    pub times: i32,
    /// Keep at most this many rows.
    #[param(default = 1000)]
    pub max_rows: u32,
    /// The factor.
    #[param(default = 0.1)]
    pub factor: f32,
    /// Added after scaling; `None` adds nothing.
    pub shift: Option<i64>,
    /// How results are rounded.
    #[param(default = Rounding::Nearest)]
    pub rounding: Rounding,
}

#[step]
impl Step for Scale {
    fn inputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("numbers")]
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("numbers")]
    }
    fn run(&self, _ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        let t: &Table = inputs.get("numbers")?;
        let factor = f64::from(self.factor).powi(self.times);
        #[allow(clippy::cast_precision_loss)]
        let shift = self.shift.unwrap_or(0) as f64;
        let values: Vec<f64> = t
            .column_f64("x")?
            .into_iter()
            .take(usize::try_from(self.max_rows)?)
            .map(|x| {
                let y = x * factor + shift;
                match self.rounding {
                    Rounding::Nearest => y.round(),
                    Rounding::Down => y.floor(),
                    Rounding::Up => y.ceil(),
                }
            })
            .collect();
        let m = ndarray::Array2::from_shape_vec((values.len(), 1), values)?;
        Ok(Outputs::new().with("numbers", Table::from_ndarray(&["x"], &m)?))
    }
}

/// Nearest centroids, with knobs of every parameter shape.
#[step(version = 3)]
#[derive(Debug)]
pub struct TunedCentroids {
    /// The label column.
    #[param(default = "species")]
    pub label: String,
    /// How far centroids are pulled towards the overall mean.
    #[param(default = 0.3)]
    pub shrink: f32,
    /// Unused: an `Option` that stays empty.
    pub patience: Option<u16>,
    /// Unused: an enum.
    #[param(default = Rounding::Down)]
    pub rounding: Rounding,
    /// Unused: a negative narrow integer.
    #[param(default = -1)]
    pub offset: i8,
}

#[step]
impl TrainerStep for TunedCentroids {
    type Model = Centroids;
    fn train(&self, ctx: &mut StepContext, train: &Table, eval: &Table) -> StepResult<Centroids> {
        CentroidTrainer {
            label: self.label.clone(),
            shrink: f64::from(self.shrink),
        }
        .train(ctx, train, eval)
    }
}

/// A general pipeline with every parameter shape, a step wired to a later one, and caching
/// switched off for one step.
fn dag(name: &str) -> Pipeline {
    Pipeline::new(name)
        .add_step("numbers", Numbers { n: 20, scale: 0.5 }, [])
        .add_step(
            "scaled",
            Scale {
                times: 3,
                max_rows: 15,
                factor: 0.3,
                shift: None,
                rounding: Rounding::Up,
            },
            [("numbers", "numbers.numbers")],
        )
        .add_step(
            "add",
            Add { offset: -0.25 },
            [("a", "sum.total"), ("b", "sum2.total")],
        )
        .add_step(
            "shifted",
            Scale {
                shift: Some(-4),
                factor: 1.5,
                rounding: Rounding::Down,
                ..Scale::default()
            },
            [("numbers", "numbers.numbers")],
        )
        .add_step("sum", Sum {}, [("numbers", "scaled.numbers")])
        .add_step("sum2", Sum {}, [("numbers", "shifted.numbers")])
        .step_cache("sum2", false)
}

fn training(name: &str) -> TrainingPipeline {
    TrainingPipeline::new(name)
        .add_datasource(zenml::steps::CsvDatasource::new(iris_path()))
        .add_split(zenml::steps::RandomSplit {
            train_ratio: 0.75,
            seed: 7,
        })
        .add_preprocesser(zenml::steps::StandardScaler {
            exclude: "species".into(),
        })
        .add_trainer(TunedCentroids {
            rounding: Rounding::Up,
            ..TunedCentroids::default()
        })
        .add_evaluator(Accuracy {})
        .step_cache("preprocesser", false)
}

/// (step, cache key) of every step of a run, sorted by step.
fn keys(summary: &RunSummary) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = summary
        .steps
        .iter()
        .map(|s| {
            let key = s.cache_key.expect("every step has a cache key");
            (s.name.clone(), key.to_hex())
        })
        .collect();
    keys.sort();
    keys
}

/// Asserts that two pipelines are the same definition step by step.
fn assert_same_definition(a: &Pipeline, b: &Pipeline) {
    assert_eq!(a.name(), b.name());
    assert_eq!(a.template(), b.template());
    assert_eq!(a.cache_enabled(), b.cache_enabled());
    let names = |p: &Pipeline| {
        p.steps()
            .iter()
            .map(|s| s.name().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(a), names(b));
    for (x, y) in a.steps().iter().zip(b.steps()) {
        let (ix, iy) = (x.info(), y.info());
        assert_eq!(ix.source, iy.source, "step {}", x.name());
        assert_eq!(ix.version, iy.version, "step {}", x.name());
        assert_eq!(
            ix.code_fingerprint,
            iy.code_fingerprint,
            "step {}",
            x.name()
        );
        assert_eq!(x.params(), y.params(), "step {}", x.name());
        assert_eq!(
            x.params().canonical_bytes(),
            y.params().canonical_bytes(),
            "step {}",
            x.name()
        );
        let mut wx = x.inputs().to_vec();
        let mut wy = y.inputs().to_vec();
        wx.sort();
        wy.sort();
        assert_eq!(wx, wy, "step {}", x.name());
        assert_eq!(x.cache_enabled(), y.cache_enabled(), "step {}", x.name());
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn a_general_pipeline_round_trips_with_identical_cache_keys() {
    let built = dag("knobs");
    let yaml = built.to_yaml();
    let loaded = Pipeline::from_yaml(&yaml).unwrap();
    assert_same_definition(&built, &loaded);
    assert_eq!(
        loaded.to_yaml(),
        yaml,
        "YAML → load → YAML changes the text"
    );

    // Identical cache keys: the two pipelines run on stores of their own compute the same key
    // for every step.
    let a = memory_repo().run(&built).unwrap();
    let b = memory_repo().run(&loaded).unwrap();
    assert_eq!(keys(&a), keys(&b));
    assert_eq!(a.executed().len(), 6);

    // The store recognises the rebuilt pipeline as the definition that ran: no copy is needed,
    // and everything but the step whose caching is off is reused.
    let repo = memory_repo();
    repo.run(&built).unwrap();
    let again = repo.run(&loaded).unwrap();
    assert_eq!(again.executed(), vec!["sum2"]);
    assert_eq!(again.cached().len(), 5);
    assert_eq!(repo.get_pipelines().unwrap()[0].config, yaml);
}

#[test]
fn the_written_yaml_spells_out_every_parameter_shape() {
    let yaml = dag("knobs").with_cache(false).to_yaml();
    let expected = "\
version: 1
name: knobs
steps:
  numbers:
    source: config::common::Numbers@1
    args:
      n: 20
      scale: 0.5
  scaled:
    source: config::Scale@1
    args:
      factor: 0.3
      max_rows: 15
      rounding: Up
      shift: null
      times: 3
    inputs:
      numbers: numbers.numbers
  add:
    source: config::common::Add@1
    args:
      offset: -0.25
    inputs:
      a: sum.total
      b: sum2.total
  shifted:
    source: config::Scale@1
    args:
      factor: 1.5
      max_rows: 1000
      rounding: Down
      shift: -4
      times: 1
    inputs:
      numbers: numbers.numbers
  sum:
    source: config::common::Sum@1
    args: {}
    inputs:
      numbers: scaled.numbers
  sum2:
    source: config::common::Sum@1
    args: {}
    inputs:
      numbers: shifted.numbers
    cache: false
cache: false
";
    assert_eq!(yaml, expected);
    // The f32 reads back as the f32 that was written.
    let loaded = Pipeline::from_yaml(&yaml).unwrap();
    assert_eq!(
        loaded.step("scaled").unwrap().params().get("factor"),
        Some(&zenml::param::Value::Float(f64::from(0.3_f32)))
    );
    assert!(!loaded.cache_enabled());
    assert!(!loaded.step("sum2").unwrap().cache_enabled());
    assert!(loaded.step("sum").unwrap().cache_enabled());
    assert_eq!(loaded.to_yaml(), yaml);
}

#[test]
fn a_training_pipeline_round_trips_with_identical_cache_keys() {
    let built = training("tuned");
    let yaml = built.to_yaml();
    assert!(yaml.contains("template: training\n"), "{yaml}");
    assert!(yaml.contains("      patience: null\n"), "{yaml}");
    assert!(yaml.contains("      shrink: 0.3\n"), "{yaml}");
    assert!(yaml.contains("      rounding: Up\n"), "{yaml}");
    assert!(yaml.contains("      offset: -1\n"), "{yaml}");
    assert!(
        yaml.contains("source: config::TunedCentroids@3\n"),
        "{yaml}"
    );

    let loaded = Pipeline::from_yaml(&yaml).unwrap();
    assert_eq!(loaded.template(), Template::Training);
    assert_same_definition(&built, &loaded);
    assert_eq!(loaded.to_yaml(), yaml);

    let a = memory_repo().run(&built).unwrap();
    let b = memory_repo().run(&loaded).unwrap();
    assert_eq!(keys(&a), keys(&b));
    assert_eq!(a.executed().len(), 5);
}

#[test]
fn a_training_config_may_leave_out_the_fixed_wiring_and_the_defaults() {
    let text = format!(
        "\
version: 1
name: tuned
template: training
steps:
  datasource:
    source: zenml::steps::CsvDatasource@1
    args:
      path: {}
  split:
    source: zenml::steps::RandomSplit@1
    args: {{ seed: 7, train_ratio: 0.75 }}
  preprocesser:
    source: zenml::steps::StandardScaler@1
    args: {{ exclude: species }}
    cache: false
  trainer:
    source: config::TunedCentroids@3
    args:
      rounding: Up
  evaluator:
    source: config::common::Accuracy@1
",
        iris_path()
    );
    let loaded = Pipeline::from_yaml(&text).unwrap();
    let built = training("tuned");
    assert_same_definition(&built, &loaded);
    assert_eq!(loaded.to_yaml(), built.to_yaml());
}

#[test]
fn built_in_steps_are_named_by_their_public_path_and_old_configs_still_load() {
    use zenml::step::StepParams;
    // What a user writes, from the facade's paths alone.
    assert_eq!(
        zenml::steps::RandomSplit::SOURCE,
        "zenml::steps::RandomSplit"
    );
    assert_eq!(
        zenml::steps::CsvDatasource::SOURCE,
        "zenml::steps::CsvDatasource"
    );
    let built = training("tuned");
    let yaml = built.to_yaml();
    assert!(
        yaml.contains("source: zenml::steps::RandomSplit@1"),
        "{yaml}"
    );
    assert!(!yaml.contains("zenml_core"), "{yaml}");
    // A config written when the built-in steps were recorded under the inner crate's path loads
    // to the same pipeline, and is saved under the public path.
    let old = yaml.replace("zenml::steps::", "zenml_core::steps::");
    let loaded = Pipeline::from_yaml(&old).unwrap();
    assert_same_definition(&built, &loaded);
    assert_eq!(loaded.to_yaml(), yaml);
}

#[test]
fn a_hand_written_config_in_flow_style_and_another_key_order_loads_to_the_same_pipeline() {
    // Keys in another order, flow style, quoted strings, parameters with defaults left out,
    // integer literals for floats.
    let text = "\
{ steps: {
    numbers: { args: { scale: 0.5, n: 20 }, source: 'config::common::Numbers@1' },
    scaled: { inputs: { numbers: numbers.numbers },
              args: { times: 3, rounding: \"Up\", max_rows: 15, factor: 0.3, shift: ~ },
              source: config::Scale@1 },
    add: { source: config::common::Add@1, inputs: { b: sum2.total, a: sum.total },
           args: { offset: -0.25 } },
    shifted: { source: config::Scale@1, args: { shift: -4, rounding: Down, factor: 1.5 },
               inputs: { numbers: numbers.numbers } },
    sum: { source: config::common::Sum@1, inputs: { numbers: scaled.numbers } },
    sum2: { cache: false, source: config::common::Sum@1, inputs: { numbers: shifted.numbers } } },
  name: knobs,
  version: 1 }
";
    let loaded = Pipeline::from_yaml(text).unwrap();
    let built = dag("knobs");
    assert_same_definition(&built, &loaded);
    assert_eq!(loaded.to_yaml(), built.to_yaml());
}

#[test]
fn a_config_file_loads_and_names_itself_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("knobs.yaml");
    std::fs::write(&path, dag("knobs").to_yaml()).unwrap();
    let loaded = Pipeline::load(&path).unwrap();
    assert_same_definition(&dag("knobs"), &loaded);

    let text = dag("knobs")
        .to_yaml()
        .replace("      times: 3\n", "      times: lots\n");
    std::fs::write(&path, &text).unwrap();
    let e = Pipeline::load(&path).unwrap_err();
    assert_eq!(e.file(), Some(path.as_path()));
    let line = line_of(&text, "times: lots");
    assert_eq!(e.line(), Some(line));
    assert_eq!(e.step(), Some("scaled"));
    assert_eq!(
        e.to_string(),
        format!(
            "{}:{line}: step `scaled`: parameter `times` of `config::Scale`: expected i32, \
             found string \"lots\"",
            path.display()
        )
    );

    let missing = dir.path().join("nowhere.yaml");
    let e = Pipeline::load(&missing).unwrap_err();
    assert!(matches!(e.kind(), ConfigErrorKind::Io(_)), "{e:?}");
    assert_eq!(e.file(), Some(missing.as_path()));
    assert!(
        e.to_string()
            .starts_with(&format!("{}: cannot read the config: ", missing.display())),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Bad configs

/// The 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` is not in\n{text}"))
        + 1
}

fn load_err(text: &str) -> ConfigError {
    match Pipeline::from_yaml(text) {
        Ok(p) => panic!("loaded a bad config as {p:?}:\n{text}"),
        Err(e) => e,
    }
}

/// A valid general config to break: numbers → scaled → sum.
const GOOD: &str = "\
version: 1
name: good
steps:
  numbers:
    source: config::common::Numbers@1
    args:
      n: 5
  scaled:
    source: config::Scale@1
    args:
      factor: 2.0
      times: 2
    inputs:
      numbers: numbers.numbers
  sum:
    source: config::common::Sum@1
    inputs:
      numbers: scaled.numbers
";

fn bad(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "`{from}` is not in the good config");
    GOOD.replacen(from, to, 1)
}

#[test]
fn the_good_config_loads() {
    let p = Pipeline::from_yaml(GOOD).unwrap();
    assert_eq!(p.steps().len(), 3);
    let summary = memory_repo().run(&p).unwrap();
    assert_eq!(summary.executed().len(), 3);
}

#[test]
fn malformed_yaml_is_a_syntax_error_with_a_line() {
    // An unclosed quote.
    let text = bad("name: good", "name: \"good");
    let e = load_err(&text);
    assert!(matches!(e.kind(), ConfigErrorKind::Syntax(_)), "{e:?}");
    assert!(e.line().is_some(), "{e}");
    assert!(e.step().is_none());
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("line {}:", e.line().unwrap())),
        "{msg}"
    );
    // The location is given once, in front.
    assert!(!msg[5..].contains("line"), "{msg}");

    // Bad indentation.
    let text = bad("    args:\n      factor", "   args:\n      factor");
    let e = load_err(&text);
    assert!(matches!(e.kind(), ConfigErrorKind::Syntax(_)), "{e:?}");
    let broken = text.lines().position(|l| l == "   args:").unwrap() + 1;
    assert_eq!(e.line(), Some(broken), "{e}");
}

#[test]
fn a_config_of_the_wrong_shape_says_what_was_expected_in_plain_words() {
    // A step given as a list.
    let text = bad(
        "  sum:\n    source: config::common::Sum@1\n    inputs:\n      numbers: scaled.numbers\n",
        "  sum: [config::common::Sum@1]\n",
    );
    let e = load_err(&text);
    assert!(matches!(e.kind(), ConfigErrorKind::Syntax(_)), "{e:?}");
    assert_eq!(e.line(), Some(line_of(&text, "sum: [")));
    let msg = e.to_string();
    assert!(msg.contains("steps.sum"), "{msg}");
    assert!(msg.contains("expected a step"), "{msg}");
    assert!(!msg.contains("StepConfig"), "{msg}");

    // No steps at all.
    let e = load_err("version: 1\nname: empty\n");
    assert!(matches!(e.kind(), ConfigErrorKind::Syntax(_)), "{e:?}");
    assert!(e.to_string().contains("missing field `steps`"), "{e}");

    // A version that is not a number.
    let e = load_err(&bad("version: 1", "version: one"));
    assert!(matches!(e.kind(), ConfigErrorKind::Syntax(_)), "{e:?}");
    assert_eq!(e.line(), Some(1));
    assert!(e.to_string().contains("version"), "{e}");
}

#[test]
fn an_unknown_format_version_is_refused() {
    let text = bad("version: 1", "version: 2");
    let e = load_err(&text);
    assert!(
        matches!(
            e.kind(),
            ConfigErrorKind::Version {
                found: 2,
                supported: 1
            }
        ),
        "{e:?}"
    );
    assert_eq!(e.line(), Some(1));
    assert_eq!(
        e.to_string(),
        "line 1: config format version 2 is not supported (this build reads version 1)"
    );
}

#[test]
fn an_unknown_source_lists_registered_sources_that_are_close() {
    // A typo in the type name.
    let text = bad("config::Scale@1", "config::Scael@1");
    let e = load_err(&text);
    let ConfigErrorKind::Registry(RegistryError::UnknownSource {
        source_path,
        similar,
    }) = e.kind()
    else {
        panic!("{e:?}")
    };
    assert_eq!(source_path, "config::Scael");
    assert_eq!(similar.first().map(String::as_str), Some("`config::Scale`"));
    assert_eq!(e.step(), Some("scaled"));
    assert_eq!(e.line(), Some(line_of(&text, "config::Scael@1")));
    assert!(
        e.to_string().ends_with(
            "step `scaled`: no step `config::Scael` is registered in this binary; did you mean \
             `config::Scale`?"
        ),
        "{e}"
    );

    // The right type name in the wrong module.
    let e = load_err(&bad("config::common::Sum@1", "my_crate::steps::Sum@1"));
    let ConfigErrorKind::Registry(RegistryError::UnknownSource { similar, .. }) = e.kind() else {
        panic!("{e:?}")
    };
    assert!(
        similar.contains(&"`config::common::Sum`".to_owned()),
        "{similar:?}"
    );
    assert_eq!(e.step(), Some("sum"));

    // Nothing alike: the error explains that only linked steps are registered.
    let text = bad(
        "config::common::Sum@1",
        "someone_elses::steps::Transmogrify@1",
    );
    let e = load_err(&text);
    let ConfigErrorKind::Registry(RegistryError::UnknownSource { similar, .. }) = e.kind() else {
        panic!("{e:?}")
    };
    assert!(similar.is_empty(), "{similar:?}");
    let msg = e.to_string();
    assert!(msg.contains("someone_elses::steps::Transmogrify"), "{msg}");
    assert!(msg.contains("linked"), "{msg}");
    assert!(msg.contains("zenml::cli::main()"), "{msg}");

    // Not a source at all.
    let text = bad("config::common::Sum@1", "Sum");
    let e = load_err(&text);
    assert!(
        matches!(e.kind(), ConfigErrorKind::BadSource(s) if s == "Sum"),
        "{e:?}"
    );
    assert_eq!(e.step(), Some("sum"));
    assert_eq!(e.line(), Some(line_of(&text, "source: Sum")));
    assert!(
        e.to_string()
            .contains("`source: Sum` is not of the form `module::path::Type@version`"),
        "{e}"
    );
}

#[test]
fn a_known_source_at_an_unknown_version_is_refused() {
    let text = bad("config::Scale@1", "config::Scale@4");
    let e = load_err(&text);
    assert!(
        matches!(
            e.kind(),
            ConfigErrorKind::Registry(RegistryError::VersionMismatch {
                source_path,
                requested: 4,
                registered: 1,
            }) if source_path == "config::Scale"
        ),
        "{e:?}"
    );
    assert_eq!(e.step(), Some("scaled"));
    assert_eq!(e.line(), Some(line_of(&text, "config::Scale@4")));
    assert!(
        e.to_string()
            .contains("step `config::Scale` is registered at version 1, not 4"),
        "{e}"
    );
}

#[test]
fn a_missing_required_parameter_is_named() {
    let text = "\
version: 1
name: sleepy
steps:
  nap:
    source: config::common::Sleep@1
    args:
      ms: 1
";
    let e = load_err(text);
    assert!(
        matches!(
            e.kind(),
            ConfigErrorKind::Registry(RegistryError::Params(ParamError::Missing {
                name: "label",
                step: "config::common::Sleep",
                ..
            }))
        ),
        "{e:?}"
    );
    assert_eq!(e.step(), Some("nap"));
    assert_eq!(
        e.line(),
        Some(line_of(text, "source: config::common::Sleep@1"))
    );
    assert!(
        e.to_string().ends_with(
            "step `nap`: missing parameter `label` of `config::common::Sleep` (String, no default)"
        ),
        "{e}"
    );
}

#[test]
fn an_unknown_parameter_is_named_with_the_known_ones() {
    let text = bad("      times: 2", "      times: 2\n      speed: 3");
    let e = load_err(&text);
    let ConfigErrorKind::Registry(RegistryError::Params(ParamError::Unknown {
        name,
        expected,
        ..
    })) = e.kind()
    else {
        panic!("{e:?}")
    };
    assert_eq!(name, "speed");
    assert_eq!(
        expected,
        &vec!["times", "max_rows", "factor", "shift", "rounding"]
    );
    assert_eq!(e.step(), Some("scaled"));
    assert_eq!(e.line(), Some(line_of(&text, "speed: 3")));
    assert!(
        e.to_string().contains(
            "unknown parameter `speed` for `config::Scale`; its parameters are: times, \
             max_rows, factor, shift, rounding"
        ),
        "{e}"
    );
}

/// Asserts a `ParamError::Invalid` for `param` of step `step`, with `reason`, on `needle`'s line.
fn assert_invalid(text: &str, step: &str, param: &str, reason: ValueErrorReason, needle: &str) {
    let e = load_err(text);
    let ConfigErrorKind::Registry(RegistryError::Params(ParamError::Invalid {
        name, source, ..
    })) = e.kind()
    else {
        panic!("{e:?}")
    };
    assert_eq!(*name, param);
    assert_eq!(source.reason, reason, "{e}");
    assert_eq!(e.step(), Some(step));
    assert_eq!(e.line(), Some(line_of(text, needle)), "{e}");
    assert!(
        e.to_string().contains(&format!("parameter `{param}`")),
        "{e}"
    );
}

#[test]
fn a_parameter_of_the_wrong_type_is_named() {
    let text = bad("factor: 2.0", "factor: \"fast\"");
    assert_invalid(
        &text,
        "scaled",
        "factor",
        ValueErrorReason::WrongType,
        "factor:",
    );
    assert!(
        load_err(&text).to_string().ends_with(
            "parameter `factor` of `config::Scale`: expected f32, found string \"fast\""
        ),
        "{}",
        load_err(&text)
    );
    // A float for an integer, a string for a float written without quotes, an unknown variant,
    // null for a parameter that is not an Option, a list for a scalar.
    let text = bad("times: 2", "times: 2.5");
    assert_invalid(
        &text,
        "scaled",
        "times",
        ValueErrorReason::WrongType,
        "times:",
    );
    let text = bad("      n: 5", "      scale: fast");
    assert_invalid(
        &text,
        "numbers",
        "scale",
        ValueErrorReason::WrongType,
        "scale:",
    );
    let text = bad("times: 2", "times: 2\n      rounding: Sideways");
    assert_invalid(
        &text,
        "scaled",
        "rounding",
        ValueErrorReason::UnknownVariant,
        "rounding:",
    );
    assert!(
        load_err(&text)
            .to_string()
            .contains("expected one of: Nearest, Down, Up"),
        "{}",
        load_err(&text)
    );
    let text = bad("times: 2", "times: null");
    assert_invalid(&text, "scaled", "times", ValueErrorReason::Null, "times:");

    let text = bad("times: 2", "times: [2]");
    let e = load_err(&text);
    assert!(matches!(e.kind(), ConfigErrorKind::Syntax(_)), "{e:?}");
    assert!(
        e.to_string().contains("a parameter is a single value"),
        "{e}"
    );
    assert_eq!(e.line(), Some(line_of(&text, "times: [2]")));
}

#[test]
fn an_integer_out_of_range_for_its_field_is_named_with_the_range() {
    let text = bad("times: 2", "times: 3000000000");
    assert_invalid(
        &text,
        "scaled",
        "times",
        ValueErrorReason::OutOfRange,
        "times:",
    );
    assert!(
        load_err(&text)
            .to_string()
            .ends_with("3000000000 is out of range for i32 (-2147483648..=2147483647)"),
        "{}",
        load_err(&text)
    );
    let text = bad("times: 2", "times: 2\n      max_rows: -1");
    assert_invalid(
        &text,
        "scaled",
        "max_rows",
        ValueErrorReason::OutOfRange,
        "max_rows:",
    );
    let text = bad("times: 2", "times: 2\n      max_rows: 5000000000");
    assert_invalid(
        &text,
        "scaled",
        "max_rows",
        ValueErrorReason::OutOfRange,
        "max_rows:",
    );
    // Beyond i64: refused while parsing, still with its line.
    let text = bad("times: 2", "times: 2\n      shift: 18446744073709551615");
    let e = load_err(&text);
    assert!(matches!(e.kind(), ConfigErrorKind::Syntax(_)), "{e:?}");
    assert!(e.to_string().contains("out of range"), "{e}");
    assert_eq!(e.line(), Some(line_of(&text, "shift:")));
}

#[test]
fn a_parameter_error_in_flow_style_args_still_has_a_line() {
    let text = bad(
        "    args:\n      factor: 2.0\n      times: 2\n",
        "    args: { factor: 2.0, times: lots }\n",
    );
    assert_invalid(
        &text,
        "scaled",
        "times",
        ValueErrorReason::WrongType,
        "times: lots",
    );
}

#[test]
fn wiring_to_a_missing_step_names_the_steps() {
    let text = bad("numbers: scaled.numbers", "numbers: scaler.numbers");
    let e = load_err(&text);
    let ConfigErrorKind::Pipeline(PipelineError::UnknownStep {
        step,
        input,
        missing,
        available,
        ..
    }) = e.kind()
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        (step.as_str(), input.as_str(), missing.as_str()),
        ("sum", "numbers", "scaler")
    );
    assert_eq!(available, &vec!["numbers", "scaled", "sum"]);
    assert_eq!(e.step(), Some("sum"));
    assert_eq!(e.line(), Some(line_of(&text, "scaler.numbers") - 1));
    assert_eq!(
        e.to_string(),
        format!(
            "line {}: step `sum`: input `numbers` is wired to `scaler.numbers`, but there is no \
             step `scaler` (its steps: numbers, scaled, sum)",
            e.line().unwrap()
        )
    );
}

#[test]
fn wiring_to_a_missing_output_names_the_outputs() {
    let text = bad("numbers: scaled.numbers", "numbers: scaled.total");
    let e = load_err(&text);
    let ConfigErrorKind::Pipeline(PipelineError::UnknownOutput {
        step,
        producer,
        output,
        available,
        ..
    }) = e.kind()
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        (step.as_str(), producer.as_str(), output.as_str()),
        ("sum", "scaled", "total")
    );
    assert_eq!(available, &vec!["numbers"]);
    assert_eq!(e.step(), Some("sum"));
    assert_eq!(e.line(), Some(line_of(&text, "scaled.total") - 1));
    assert!(
        e.to_string()
            .contains("but step `scaled` has no output `total` (its outputs: numbers)"),
        "{e}"
    );

    // Not a reference at all, an input the step does not have, an input left unwired, and a
    // type mismatch: all reported with the step.
    let e = load_err(&bad("numbers: scaled.numbers", "numbers: scaled"));
    assert!(
        matches!(e.kind(), ConfigErrorKind::Pipeline(PipelineError::BadReference { step, .. }) if step == "sum"),
        "{e:?}"
    );
    let e = load_err(&bad("numbers: scaled.numbers", "values: scaled.numbers"));
    assert_eq!(e.step(), Some("sum"));
    assert!(e.to_string().contains("has no input `values`"), "{e}");
    assert!(
        e.to_string()
            .contains("input `numbers` (zenml.Table) is not wired"),
        "{e}"
    );
    let text = format!(
        "{GOOD}  add:\n    source: config::common::Add@1\n    inputs:\n      a: sum.total\n      b: scaled.numbers\n"
    );
    let e = load_err(&text);
    assert!(
        matches!(e.kind(), ConfigErrorKind::Pipeline(PipelineError::TypeMismatch { step, input, .. }) if step == "add" && input == "b"),
        "{e:?}"
    );
    assert_eq!(e.step(), Some("add"));
}

#[test]
fn a_cycle_is_refused_with_its_steps() {
    let text = "\
version: 1
name: circular
steps:
  numbers:
    source: config::common::Numbers@1
  first:
    source: config::Scale@1
    inputs:
      numbers: second.numbers
  second:
    source: config::Scale@1
    inputs:
      numbers: first.numbers
";
    let e = load_err(text);
    let ConfigErrorKind::Pipeline(PipelineError::Cycle { pipeline, cycle }) = e.kind() else {
        panic!("{e:?}")
    };
    assert_eq!(pipeline, "circular");
    assert_eq!(cycle.len(), 3, "{cycle:?}");
    assert_eq!(cycle.first(), cycle.last());
    assert!(cycle.contains(&"first".to_owned()) && cycle.contains(&"second".to_owned()));
    let step = e.step().expect("a cycle names a step");
    assert_eq!(step, cycle[0]);
    let inputs_line = line_of(text, &format!("  {step}:")) + 2;
    assert_eq!(e.line(), Some(inputs_line));
    assert!(
        e.to_string().contains(&format!(
            "pipeline `circular` has a cycle: {}",
            cycle.join(" → ")
        )),
        "{e}"
    );
}

const TRAINING: &str = "\
version: 1
name: tuned
template: training
steps:
  datasource:
    source: zenml::steps::CsvDatasource@1
    args:
      path: data.csv
  split:
    source: zenml::steps::RandomSplit@1
  preprocesser:
    source: zenml::steps::StandardScaler@1
  trainer:
    source: config::TunedCentroids@3
    inputs:
      train: preprocesser.train
      eval: preprocesser.eval
  evaluator:
    source: config::common::Accuracy@1
";

#[test]
fn a_training_config_whose_fixed_wiring_was_changed_is_refused() {
    // The fixed wiring, written out, is fine.
    Pipeline::from_yaml(TRAINING).unwrap();

    let text = TRAINING.replace("train: preprocesser.train", "train: split.train");
    let e = load_err(&text);
    assert!(matches!(e.kind(), ConfigErrorKind::Slot(_)), "{e:?}");
    assert_eq!(e.step(), Some("trainer"));
    assert_eq!(e.line(), Some(line_of(&text, "train: split.train") - 1));
    assert!(
        e.to_string().ends_with(
            "step `trainer`: a training pipeline's wiring is fixed; `trainer` reads eval: \
             preprocesser.eval, train: preprocesser.train"
        ),
        "{e}"
    );

    // A step that is not a slot.
    let text = TRAINING.replace("  evaluator:", "  tuner:");
    let e = load_err(&text);
    assert!(matches!(e.kind(), ConfigErrorKind::Slot(_)), "{e:?}");
    assert_eq!(e.step(), Some("tuner"));
    assert_eq!(e.line(), Some(line_of(&text, "tuner:")));
    assert!(
        e.to_string()
            .contains("`tuner` is not a training pipeline slot"),
        "{e}"
    );

    // A step of the wrong kind in a slot.
    let text = TRAINING.replace("config::common::Accuracy@1", "config::common::Sum@1");
    let e = load_err(&text);
    assert!(matches!(e.kind(), ConfigErrorKind::Slot(_)), "{e:?}");
    assert_eq!(e.step(), Some("evaluator"), "{e}");
    assert_eq!(e.line(), Some(line_of(&text, "evaluator:")));
    assert!(
        e.to_string().ends_with(
            "step `evaluator`: the `evaluator` slot takes a step of kind evaluator, but \
             `config::common::Sum` is of kind general"
        ),
        "{e}"
    );

    // A missing mandatory slot.
    let text = TRAINING.replace("  split:\n    source: zenml::steps::RandomSplit@1\n", "");
    let e = load_err(&text);
    assert!(
        matches!(
            e.kind(),
            ConfigErrorKind::Pipeline(PipelineError::MissingSlot { slot: "split", .. })
        ),
        "{e:?}"
    );

    // An unknown template.
    let text = TRAINING.replace("template: training", "template: tuning");
    let e = load_err(&text);
    assert!(
        matches!(e.kind(), ConfigErrorKind::Template(t) if t == "tuning"),
        "{e:?}"
    );
    assert_eq!(e.line(), Some(3));
}

#[test]
fn unknown_keys_are_refused_with_their_line() {
    let text = format!("{GOOD}schedule: daily\n");
    let e = load_err(&text);
    assert!(matches!(e.kind(), ConfigErrorKind::Syntax(_)), "{e:?}");
    assert_eq!(e.line(), Some(line_of(&text, "schedule:")));
    assert!(
        e.to_string().contains(
            "unknown field `schedule`, expected one of `version`, `name`, `template`, `steps`, \
             `cache`"
        ),
        "{e}"
    );

    let text = bad("    args:\n      factor", "    params:\n      factor");
    let e = load_err(&text);
    assert!(matches!(e.kind(), ConfigErrorKind::Syntax(_)), "{e:?}");
    assert_eq!(e.line(), Some(line_of(&text, "params:")));
    assert!(
        e.to_string().contains(
            "steps.scaled: unknown field `params`, expected one of `source`, `args`, `inputs`, \
             `cache`"
        ),
        "{e}"
    );
}

#[test]
fn other_invalid_pipelines_are_refused() {
    let e = load_err("version: 1\nname: empty\nsteps: {}\n");
    assert!(
        matches!(e.kind(), ConfigErrorKind::Pipeline(PipelineError::Empty(n)) if n == "empty"),
        "{e:?}"
    );
    let e = load_err(&bad("name: good", "name: \"good#bad\""));
    assert!(
        matches!(
            e.kind(),
            ConfigErrorKind::Pipeline(PipelineError::InvalidName {
                what: "pipeline",
                ..
            })
        ),
        "{e:?}"
    );
    let e = load_err(&bad("  sum:", "  s.u.m:"));
    assert!(matches!(e.kind(), ConfigErrorKind::Pipeline(_)), "{e:?}");
}

// ---------------------------------------------------------------------------------------------
// Keys given twice

/// Asserts a syntax error on the line of `needle` (the second occurrence when `nth` is 1) whose
/// message is exactly `message` after the location.
#[track_caller]
fn assert_refused_at(text: &str, needle: &str, nth: usize, message: &str) {
    let e = load_err(text);
    assert!(matches!(e.kind(), ConfigErrorKind::Syntax(_)), "{e:?}");
    let line = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(nth)
        .unwrap_or_else(|| panic!("no {nth}th `{needle}` in\n{text}"))
        .0
        + 1;
    assert_eq!(e.line(), Some(line), "{e}\n{text}");
    assert_eq!(e.kind().to_string(), message, "{text}");
    assert!(e.to_string().starts_with(&format!("line {line}:")), "{e}");
}

#[test]
fn two_steps_of_one_name_are_refused_not_merged() {
    // Without the check, the second `sum` replaced the first and the pipeline had 3 steps.
    let text = format!(
        "{GOOD}  sum:\n    source: config::common::Sum@1\n    inputs:\n      numbers: numbers.numbers\n"
    );
    assert_refused_at(&text, "  sum:", 1, "steps: two steps are named `sum`");

    // In flow style too.
    let text = "version: 1\nname: flow\nsteps: { a: { source: config::common::Numbers@1 },\n  a: { source: config::common::Numbers@1 } }\n";
    assert_refused_at(text, "  a: {", 0, "steps: two steps are named `a`");
}

#[test]
fn a_parameter_or_an_input_given_twice_is_refused() {
    let text = bad("      times: 2\n", "      times: 2\n      times: 3\n");
    assert_refused_at(
        &text,
        "times:",
        1,
        "steps.scaled.args: parameter `times` is given twice",
    );

    let text = bad(
        "      numbers: numbers.numbers\n",
        "      numbers: numbers.numbers\n      numbers: sum.total\n",
    );
    assert_refused_at(
        &text,
        "numbers: ",
        1,
        "steps.scaled.inputs: input `numbers` is wired twice",
    );
}

#[test]
fn a_field_given_twice_is_refused_on_the_line_of_the_second() {
    let text = bad("name: good\n", "name: good\nname: better\n");
    assert_refused_at(&text, "name:", 1, "duplicate field `name`");

    let text = bad(
        "    source: config::Scale@1\n",
        "    source: config::Scale@1\n    source: config::common::Sum@1\n",
    );
    assert_refused_at(
        &text,
        "source: config::common::Sum",
        0,
        "steps.scaled: duplicate field `source`",
    );
}

// ---------------------------------------------------------------------------------------------
// A byte-order mark

#[test]
fn a_config_starting_with_a_byte_order_mark_loads() {
    let with_bom = format!("\u{feff}{GOOD}");
    let p = Pipeline::from_yaml(&with_bom).unwrap();
    assert_same_definition(&p, &Pipeline::from_yaml(GOOD).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bom.yaml");
    std::fs::write(&path, with_bom.as_bytes()).unwrap();
    assert_same_definition(&Pipeline::load(&path).unwrap(), &p);

    // Line numbers are unchanged by it.
    let text = format!("\u{feff}{}", bad("version: 1", "version: 2"));
    assert_eq!(load_err(&text).line(), Some(1));
}

// ---------------------------------------------------------------------------------------------
// Limits

use zenml::pipeline::{MAX_CONFIG_BYTES, MAX_NAME_BYTES, MAX_SOURCE_BYTES, MAX_STRING_PARAM_BYTES};
use zenml::steps::CsvDatasource;

/// An error message is one line, and short whatever was typed.
#[track_caller]
fn assert_short(message: &str) {
    assert!(message.len() < 400, "{} bytes: {message}", message.len());
    assert!(!message.contains('\n'), "{message}");
}

#[test]
fn names_are_at_most_200_bytes_and_a_longer_one_is_not_echoed_in_full() {
    assert_eq!(MAX_NAME_BYTES, 200);
    let load = |step: &str| Pipeline::new("p").add_step(step, CsvDatasource::new("a.csv"), []);

    // At the limit: valid (multi-byte characters count in bytes).
    let name = "é".repeat(100);
    assert_eq!(name.len(), 200);
    load("load").copy(name.clone()).validate().unwrap();
    load(&"s".repeat(200)).validate().unwrap();

    // Over it: refused with the length and the limit, showing a prefix only.
    for (pipeline, step, what, len) in [
        ("é".repeat(100) + "x", "load".to_owned(), "pipeline", 201),
        ("p".to_owned(), "s".repeat(201), "step", 201),
        ("N".repeat(100_000), "load".to_owned(), "pipeline", 100_000),
        ("p".to_owned(), "s".repeat(100_000), "step", 100_000),
    ] {
        let e = load(&step).copy(pipeline).validate().unwrap_err();
        let PipelineError::NameTooLong { what: w, name, max } = &e else {
            panic!("{e:?}");
        };
        assert_eq!((*w, name.len(), *max), (what, len, 200));
        let message = e.to_string();
        assert!(
            message.ends_with(&format!(
                "is {len} bytes long; a {what} name is at most 200 bytes"
            )),
            "{message}"
        );
        assert!(message.contains('…'), "{message}");
        assert_short(&message);
    }

    // A step name over the limit with other characters is reported once, for its length.
    let e = load(&"ü!".repeat(300)).validate().unwrap_err();
    assert!(
        matches!(&e, PipelineError::NameTooLong { what: "step", .. }),
        "{e:?}"
    );

    // Through a config: the line of the name (a YAML key is at most 1024 characters).
    let text = bad("name: good", &format!("name: {}", "N".repeat(100_000)));
    let e = load_err(&text);
    assert!(
        matches!(
            e.kind(),
            ConfigErrorKind::Pipeline(PipelineError::NameTooLong {
                what: "pipeline",
                ..
            })
        ),
        "{e:?}"
    );
    assert_eq!(e.line(), Some(2));
    assert_short(&e.to_string());
    let long_step = "s".repeat(1000);
    let text = bad("  sum:\n", &format!("  {long_step}:\n"));
    let e = load_err(&text);
    assert!(
        matches!(
            e.kind(),
            ConfigErrorKind::Pipeline(PipelineError::NameTooLong { what: "step", .. })
        ),
        "{e:?}"
    );
    assert_eq!(e.step(), Some(long_step.as_str()));
    assert_eq!(e.line(), Some(line_of(&text, &long_step)));
    assert_short(&e.to_string());
}

#[test]
fn a_string_parameter_is_at_most_64_kib_and_nothing_runs_or_is_recorded_over_it() {
    assert_eq!(MAX_STRING_PARAM_BYTES, 64 * 1024);
    let pipeline =
        |path: String| Pipeline::new("big").add_step("load", CsvDatasource::new(path), []);
    pipeline("p".repeat(MAX_STRING_PARAM_BYTES))
        .validate()
        .unwrap();

    for size in [MAX_STRING_PARAM_BYTES + 1, 10 * 1024 * 1024] {
        let p = pipeline("p".repeat(size));
        let e = p.validate().unwrap_err();
        assert_eq!(
            e,
            PipelineError::ParamTooLarge {
                step: "load".into(),
                param: "path".into(),
                size,
                max: MAX_STRING_PARAM_BYTES,
            }
        );
        assert_eq!(
            e.to_string(),
            format!(
                "step `load`: parameter `path` is a string of {size} bytes; a string parameter \
                 is at most 64 KiB (65536 bytes)"
            )
        );
        // A run stops before recording anything.
        let repo = memory_repo();
        let err = repo.run(&p).unwrap_err();
        assert_short(&err.to_string());
        assert!(repo.get_pipelines().unwrap().is_empty());
        assert!(repo.get_runs(None).unwrap().is_empty());
    }

    // Through a config: the line of the parameter.
    let text = format!(
        "version: 1\nname: big\nsteps:\n  load:\n    source: zenml::steps::CsvDatasource@1\n    args:\n      path: {}\n",
        "p".repeat(100_000)
    );
    let e = load_err(&text);
    assert!(
        matches!(e.kind(), ConfigErrorKind::Pipeline(PipelineError::ParamTooLarge { step, param, size: 100_000, .. }) if step == "load" && param == "path"),
        "{e:?}"
    );
    assert_eq!(e.line(), Some(7));
    assert_eq!(e.step(), Some("load"));
    assert_short(&e.to_string());
}

#[test]
fn a_config_file_is_at_most_1_mib_and_is_refused_before_it_is_read() {
    assert_eq!(MAX_CONFIG_BYTES, 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("padded.yaml");
    // GOOD padded with a comment to exactly the limit loads; one byte more does not.
    let comment = format!("# {}\n", "c".repeat(MAX_CONFIG_BYTES - GOOD.len() - 3));
    let exact = format!("{GOOD}{comment}");
    assert_eq!(exact.len(), MAX_CONFIG_BYTES);
    std::fs::write(&path, &exact).unwrap();
    Pipeline::load(&path).unwrap();

    std::fs::write(&path, format!("{exact}\n")).unwrap();
    let e = Pipeline::load(&path).unwrap_err();
    assert!(
        matches!(e.kind(), ConfigErrorKind::TooLarge { size: Some(n), max } if *n == MAX_CONFIG_BYTES as u64 + 1 && *max == MAX_CONFIG_BYTES),
        "{e:?}"
    );
    assert_eq!(e.file(), Some(path.as_path()));
    assert_eq!(
        e.to_string(),
        format!(
            "{}: the config is 1048577 bytes; a config is at most 1 MiB (1048576 bytes)",
            path.display()
        )
    );
}

#[test]
fn what_was_typed_is_shown_shortened_in_every_message() {
    let long = "x".repeat(100_000);
    let shown = format!("{}…", "x".repeat(80));
    // (config, the kind of error, what its message must contain)
    let cases = [
        // A wiring target.
        bad("numbers: scaled.numbers", &format!("numbers: {long}")),
        bad(
            "numbers: scaled.numbers",
            &format!("numbers: {long}.numbers"),
        ),
        bad(
            "numbers: scaled.numbers",
            &format!("numbers: scaled.{long}"),
        ),
        // A source without a version, and one over the limit.
        bad("config::Scale@1", &long),
        bad("config::Scale@1", &format!("{long}@1")),
        // A parameter value of the wrong type, and an unknown parameter.
        bad("times: 2", &format!("times: {long}")),
        bad("times: 2", &format!("{}: 2", "x".repeat(1000))),
        // A template, and a value the parser does not take.
        bad("name: good", &format!("name: good\ntemplate: {long}")),
        bad("version: 1", &format!("version: \"{long}\"")),
    ];
    for text in &cases {
        let e = load_err(text);
        let message = e.to_string();
        assert!(message.contains(&shown[60..]), "{message}");
        assert_short(&message);
    }
    let e = load_err(&cases[4]);
    assert!(
        matches!(e.kind(), ConfigErrorKind::SourceTooLong { source_path, max: MAX_SOURCE_BYTES } if source_path.len() == 100_000),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .contains("is 100000 bytes long; a step source path is at most 255 bytes"),
        "{e}"
    );

    // Control characters are escaped: the message stays on one line.
    let e = Pipeline::new("two\nlines")
        .add_step("load", CsvDatasource::new("a.csv"), [])
        .validate()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid pipeline name `two\\nlines`: use one line of text without `#` or surrounding spaces"
    );
}

/// Keeps the first rows of a table; `rows` is spelled as sizes separated by commas, and only the
/// first counts.
#[step]
#[derive(Debug)]
pub struct FirstRows {
    /// How many rows, as text (`"10"`).
    #[param(default = "10")]
    pub rows: String,
}

#[step]
impl Step for FirstRows {
    fn inputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("table")]
    }
    fn outputs(&self) -> Vec<IoSpec> {
        vec![IoSpec::new::<Table>("table")]
    }
    fn check_params(&self) -> Result<(), zenml::param::ParamCheckError> {
        match self.rows.parse::<u32>() {
            Ok(_) => Ok(()),
            Err(_) => Err(zenml::param::ParamCheckError::new(
                "rows",
                format!("`{}` is not a number of rows", self.rows),
            )),
        }
    }
    fn run(&self, _ctx: &mut StepContext, inputs: &Inputs) -> StepResult<Outputs> {
        let t: &Table = inputs.get("table")?;
        let n = self.rows.parse::<u32>()?.min(u32::try_from(t.num_rows())?);
        Ok(Outputs::new().with("table", t.take_rows(&(0..n).collect::<Vec<_>>())?))
    }
}

#[test]
fn a_step_refuses_parameter_values_before_anything_runs_and_the_config_names_the_line() {
    let p = Pipeline::new("head")
        .add_step("load", zenml::steps::CsvDatasource::new(iris_path()), [])
        .add_step(
            "head",
            FirstRows { rows: "ten".into() },
            [("table", "load.data")],
        );
    let e = p.validate().unwrap_err();
    assert_eq!(
        e.to_string(),
        "step `head` (`config::FirstRows`): parameter `rows`: `ten` is not a number of rows"
    );
    let repo = memory_repo();
    assert!(repo.run(&p).is_err());
    assert!(repo.get_runs(None).unwrap().is_empty(), "nothing ran");

    let text = p.to_yaml();
    let e = load_err(&text);
    assert!(
        matches!(e.kind(), ConfigErrorKind::Pipeline(PipelineError::InvalidParam { step, param, .. }) if step == "head" && param == "rows"),
        "{e:?}"
    );
    assert_eq!(e.line(), Some(line_of(&text, "rows: ten")));
    assert_eq!(e.step(), Some("head"));

    let ok = Pipeline::new("head")
        .add_step("load", zenml::steps::CsvDatasource::new(iris_path()), [])
        .add_step(
            "head",
            FirstRows { rows: "3".into() },
            [("table", "load.data")],
        );
    repo.run(&ok).unwrap();
}
