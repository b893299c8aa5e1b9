//! The declarative pipeline config (YAML).
//!
//! ```yaml
//! version: 1
//! name: Pipeline A
//! template: training          # omitted for a general pipeline
//! steps:
//!   datasource:
//!     source: my_crate::steps::IrisCsv@1
//!     args:
//!       path: data/iris.csv
//!   trainer:
//!     source: my_crate::steps::MyTrainer@1
//!     args:
//!       epochs: 1
//!       hidden_layers: null   # an empty Option
//!       lr: 0.001
//!     inputs:
//!       eval: preprocesser.eval
//!       train: preprocesser.train
//!     cache: false            # only when caching is switched off for the step
//!     resources:              # only when the step asks for any (see `Resources`)
//!       cpus: 4
//!       retries: 2
//! cache: false                # only when caching is switched off for the pipeline
//! ```
//!
//! Every parameter is written (`null` for an empty `Option`), sorted by name; a config loaded
//! from a file may leave out parameters that have defaults. Steps are written in pipeline order.
//! Loading rebuilds every step through the [registry](crate::registry), so the binary must link
//! the crates that define the steps.
//!
//! The round trip is exact: build → YAML → load gives a pipeline with identical cache keys, and
//! YAML written by [`PipelineConfig::to_yaml`] → load → YAML gives the same text.
//!
//! A file may start with a UTF-8 byte-order mark. A key given twice is refused, with the line of
//! the second: two steps of one name, a parameter or an input given twice in one step, a field
//! (`name`, `source`, …) given twice.
//!
//! # Limits
//!
//! - the file: at most [`MAX_CONFIG_BYTES`] (1 MiB), checked by [`Pipeline::load`] before it
//!   is read;
//! - the pipeline's `name` and each step's name: at most [`MAX_NAME_BYTES`] (200 bytes);
//! - a string value in `args`: at most [`MAX_STRING_PARAM_BYTES`] (64 KiB);
//! - a step's `source` path: at most [`MAX_SOURCE_BYTES`] (255 bytes).
//!
//! The names and parameter values are checked by [`Pipeline::validate`], so pipelines built in
//! code have the same limits; see the [pipeline module](super#limits) for the reasons.
//!
//! [`MAX_NAME_BYTES`]: super::MAX_NAME_BYTES
//! [`MAX_STRING_PARAM_BYTES`]: super::MAX_STRING_PARAM_BYTES

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io::Read as _;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};

use crate::param::{ParamError, ScalarType, Value};
use crate::registry::{Registry, RegistryError};

use super::{Pipeline, PipelineError, Resources, StepNode, Template, elide, limit_text};

/// The config format this version writes and reads.
pub const CONFIG_FORMAT_VERSION: u32 = 1;

/// The largest config file [`Pipeline::load`] reads, in bytes: 1 MiB.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// The longest step `source` path in a config, in bytes: a step type's source path is its
/// ML Metadata type name, a `VARCHAR(255)` in MySQL.
pub const MAX_SOURCE_BYTES: usize = 255;

/// A pipeline's declarative definition.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a pipeline config: a mapping with `version`, `name`, `steps` and optionally \
                 `template` and `cache`"
)]
pub struct PipelineConfig {
    /// The config format version ([`CONFIG_FORMAT_VERSION`]).
    pub version: u32,
    /// The pipeline's name.
    pub name: String,
    /// `training` for a pipeline built from training slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// The steps, in pipeline order.
    #[serde(deserialize_with = "unique_steps")]
    pub steps: IndexMap<String, StepConfig>,
    /// Caching for the whole pipeline (written only when off).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub cache: bool,
}

/// One step of a [`PipelineConfig`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a step: a mapping with `source` and optionally `args`, `inputs`, `cache` and \
                 `resources`"
)]
pub struct StepConfig {
    /// `module::path::Type@version`.
    pub source: String,
    /// The parameter values, by name.
    #[serde(default, deserialize_with = "unique_args")]
    pub args: BTreeMap<String, Value>,
    /// The wiring: input name → `step.output`.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "unique_inputs"
    )]
    pub inputs: BTreeMap<String, String>,
    /// Caching for this step (written only when off).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub cache: bool,
    /// What the step asks of the machine that runs it, and its retries (written only when it
    /// asks for any).
    #[serde(default, skip_serializing_if = "Resources::is_default")]
    pub resources: Resources,
}

fn yes() -> bool {
    true
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_true(b: &bool) -> bool {
    *b
}

// serde's maps keep the last of two equal keys, so that a second step of one name would silently
// replace the first; the config's mappings refuse a key given twice instead. The refusal is raised
// while the key itself is read, so serde_norway gives it the key's line and the path to it.

fn unique_steps<'de, D: de::Deserializer<'de>>(
    d: D,
) -> Result<IndexMap<String, StepConfig>, D::Error> {
    d.deserialize_map(UniqueMap::new("a mapping of step names to steps", |k| {
        format!("two steps are named `{}`", elide(k))
    }))
}

fn unique_args<'de, D: de::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Value>, D::Error> {
    d.deserialize_map(UniqueMap::new(
        "a mapping of parameter names to values",
        |k| format!("parameter `{}` is given twice", elide(k)),
    ))
}

fn unique_inputs<'de, D: de::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    d.deserialize_map(UniqueMap::new(
        "a mapping of input names to `step.output`",
        |k| format!("input `{}` is wired twice", elide(k)),
    ))
}

/// The maps a config is made of.
trait NameMap<V>: Default {
    fn has(&self, key: &str) -> bool;
    fn put(&mut self, key: String, value: V);
}

impl<V> NameMap<V> for IndexMap<String, V> {
    fn has(&self, key: &str) -> bool {
        self.contains_key(key)
    }
    fn put(&mut self, key: String, value: V) {
        self.insert(key, value);
    }
}

impl<V> NameMap<V> for BTreeMap<String, V> {
    fn has(&self, key: &str) -> bool {
        self.contains_key(key)
    }
    fn put(&mut self, key: String, value: V) {
        self.insert(key, value);
    }
}

/// Reads a mapping with string keys, refusing a key given twice.
struct UniqueMap<M, V> {
    expecting: &'static str,
    duplicate: fn(&str) -> String,
    map: PhantomData<fn() -> (M, V)>,
}

impl<M, V> UniqueMap<M, V> {
    fn new(expecting: &'static str, duplicate: fn(&str) -> String) -> Self {
        UniqueMap {
            expecting,
            duplicate,
            map: PhantomData,
        }
    }
}

impl<'de, M: NameMap<V>, V: serde::Deserialize<'de>> Visitor<'de> for UniqueMap<M, V> {
    type Value = M;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<M, A::Error> {
        let mut map = M::default();
        while let Some(key) = access.next_key_seed(NewKey {
            map: &map,
            duplicate: self.duplicate,
            value: PhantomData,
        })? {
            let value = access.next_value()?;
            map.put(key, value);
        }
        Ok(map)
    }
}

/// A key of a [`UniqueMap`], refused if the map already has it.
struct NewKey<'a, M, V> {
    map: &'a M,
    duplicate: fn(&str) -> String,
    value: PhantomData<fn() -> V>,
}

impl<'de, M: NameMap<V>, V> DeserializeSeed<'de> for NewKey<'_, M, V> {
    type Value = String;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_string(self)
    }
}

impl<'de, M: NameMap<V>, V> Visitor<'de> for NewKey<'_, M, V> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<String, E> {
        if self.map.has(key) {
            return Err(E::custom((self.duplicate)(key)));
        }
        Ok(key.to_owned())
    }
}

/// A config that cannot be read or does not describe a valid pipeline, with where the problem is:
/// the file, the line (when known) and the step.
#[derive(Debug)]
pub struct ConfigError(Box<ConfigErrorInner>);

#[derive(Debug)]
struct ConfigErrorInner {
    file: Option<PathBuf>,
    line: Option<usize>,
    column: Option<usize>,
    step: Option<String>,
    kind: ConfigErrorKind,
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0.kind)
    }
}

/// What is wrong with a config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The file cannot be read.
    #[error("cannot read the config: {0}")]
    Io(#[source] std::io::Error),
    /// The file is larger than [`MAX_CONFIG_BYTES`].
    #[error(
        "the config is {}; a config is at most {} ({max} bytes)",
        match size { Some(n) => format!("{n} bytes"), None => format!("larger than {max} bytes") },
        limit_text(*max)
    )]
    TooLarge {
        /// The file's size in bytes, when known (a stream's is not).
        size: Option<u64>,
        /// The limit ([`MAX_CONFIG_BYTES`]).
        max: usize,
    },
    /// Not valid YAML, or not of the config's shape.
    #[error("{0}")]
    Syntax(String),
    /// A format version this build does not know.
    #[error(
        "config format version {found} is not supported (this build reads version {supported})"
    )]
    Version {
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A `source` that is not `path@version`.
    #[error("`source: {}` is not of the form `module::path::Type@version`", elide(.0))]
    BadSource(String),
    /// A `source` path longer than [`MAX_SOURCE_BYTES`].
    #[error(
        "`source: {}` is {} bytes long; a step source path is at most {max} bytes",
        elide(.source_path),
        .source_path.len()
    )]
    SourceTooLong {
        /// The source path (without `@version`).
        source_path: String,
        /// The limit ([`MAX_SOURCE_BYTES`]).
        max: usize,
    },
    /// An unknown template.
    #[error("unknown template `{}` (the only template is `training`)", elide(.0))]
    Template(String),
    /// The step cannot be found or built.
    #[error(transparent)]
    Registry(RegistryError),
    /// The wiring of a training pipeline's slots was changed.
    #[error("{0}")]
    Slot(String),
    /// The pipeline is invalid (wiring, types, cycles).
    #[error(transparent)]
    Pipeline(PipelineError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0;
        if let Some(file) = &e.file {
            write!(f, "{}", file.display())?;
            if let Some(line) = e.line {
                write!(f, ":{line}")?;
                if let Some(col) = e.column {
                    write!(f, ":{col}")?;
                }
            }
            f.write_str(": ")?;
        } else if let Some(line) = e.line {
            write!(f, "line {line}: ")?;
        }
        // A pipeline error's own message names the steps it is about.
        if let Some(step) = &e.step
            && !matches!(e.kind, ConfigErrorKind::Pipeline(_))
        {
            write!(f, "step `{}`: ", elide(step))?;
        }
        write!(f, "{}", e.kind)
    }
}

impl ConfigError {
    fn new(kind: ConfigErrorKind) -> Self {
        ConfigError(Box::new(ConfigErrorInner {
            file: None,
            line: None,
            column: None,
            step: None,
            kind,
        }))
    }

    fn in_step(mut self, step: &str) -> Self {
        self.0.step = Some(step.to_owned());
        self
    }

    fn at(mut self, line: Option<usize>) -> Self {
        self.0.line = line;
        self
    }

    /// Names the file the config came from.
    #[must_use]
    pub fn with_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.0.file = Some(file.into());
        self
    }

    /// The file, when the config came from one.
    pub fn file(&self) -> Option<&Path> {
        self.0.file.as_deref()
    }

    /// The line (1-based), when known.
    pub fn line(&self) -> Option<usize> {
        self.0.line
    }

    /// The column (1-based), when known.
    pub fn column(&self) -> Option<usize> {
        self.0.column
    }

    /// The step the problem is in, if it is in one.
    pub fn step(&self) -> Option<&str> {
        self.0.step.as_deref()
    }

    /// What is wrong.
    pub fn kind(&self) -> &ConfigErrorKind {
        &self.0.kind
    }
}

impl PipelineConfig {
    /// Parses a config (without building the pipeline). A leading byte-order mark is skipped.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let text = without_bom(text);
        let config: PipelineConfig = serde_norway::from_str(text).map_err(|e| {
            let message = strip_location(&e.to_string());
            let loc = e.location();
            let mut line = loc.as_ref().map(|l| l.line());
            let mut column = loc.as_ref().map(|l| l.column());
            // serde's own "duplicate field" names the mapping's first line; name the repeat's.
            if let Some(repeat) = duplicate_field_line(text, &message) {
                line = Some(repeat);
                column = None;
            }
            let mut err = ConfigError::new(ConfigErrorKind::Syntax(elide_typed(&message))).at(line);
            err.0.column = column;
            err
        })?;
        if config.version != CONFIG_FORMAT_VERSION {
            return Err(ConfigError::new(ConfigErrorKind::Version {
                found: config.version,
                supported: CONFIG_FORMAT_VERSION,
            })
            .at(find_line(text, &[], "version")));
        }
        Ok(config)
    }

    /// The config as YAML.
    pub fn to_yaml(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_norway::to_string(self).unwrap_or_default()
    }

    /// Builds the pipeline, constructing every step through `registry`. `text` is the YAML the
    /// config came from, if any, for line numbers in errors.
    pub fn build(&self, registry: &Registry, text: Option<&str>) -> Result<Pipeline, ConfigError> {
        let locate = |err: ConfigError, path: &[&str], key: &str| -> ConfigError {
            match text {
                Some(t) => err.at(find_line(t, path, key)),
                None => err,
            }
        };
        // The first of `candidates` (path, key) found in the text: the most precise line when
        // the config is in block style, a coarser one when it is in flow style.
        let locate_first = |err: ConfigError, candidates: &[(&[&str], &str)]| -> ConfigError {
            match text {
                Some(t) => err.at(candidates
                    .iter()
                    .find_map(|(path, key)| find_line(t, path, key))),
                None => err,
            }
        };
        let template = match self.template.as_deref() {
            None => Template::Dag,
            Some("training") => Template::Training,
            Some(other) => {
                return Err(locate(
                    ConfigError::new(ConfigErrorKind::Template(other.to_owned())),
                    &[],
                    "template",
                ));
            }
        };
        let mut pipeline = Pipeline::new(self.name.clone()).with_cache(self.cache);
        for (name, step) in &self.steps {
            let built = build_step(registry, step).map_err(|(e, key)| {
                let err = ConfigError::new(e).in_step(name);
                let step_path: &[&str] = &["steps", name];
                match key {
                    Some(k) => locate_first(
                        err,
                        &[
                            (&["steps", name, "args"], &k),
                            (step_path, "args"),
                            (&["steps"], name),
                        ],
                    ),
                    None => locate_first(err, &[(step_path, "source"), (&["steps"], name)]),
                }
            })?;
            pipeline = match template {
                Template::Dag => {
                    let mut p = pipeline.add_step(
                        name.clone(),
                        built,
                        step.inputs.iter().map(|(i, o)| (i.as_str(), o.as_str())),
                    );
                    if let Some(n) = p.steps.last_mut() {
                        n.cache = step.cache;
                        n.resources = step.resources.clone();
                    }
                    p
                }
                Template::Training => {
                    let mut p = pipeline.set_slot_dyn(name, built).map_err(|m| {
                        locate(
                            ConfigError::new(ConfigErrorKind::Slot(m)).in_step(name),
                            &["steps"],
                            name,
                        )
                    })?;
                    if let Some(n) = p.steps.iter_mut().find(|n| n.name == *name) {
                        n.cache = step.cache;
                        n.resources = step.resources.clone();
                    }
                    p
                }
            };
        }
        if template == Template::Training {
            for node in &pipeline.steps {
                let fixed: BTreeMap<&str, &str> = node
                    .inputs
                    .iter()
                    .map(|(i, o)| (i.as_str(), o.as_str()))
                    .collect();
                let given: BTreeMap<&str, &str> = self.steps[node.name.as_str()]
                    .inputs
                    .iter()
                    .map(|(i, o)| (i.as_str(), o.as_str()))
                    .collect();
                if !given.is_empty() && given != fixed {
                    return Err(locate(
                        ConfigError::new(ConfigErrorKind::Slot(format!(
                            "a training pipeline's wiring is fixed; `{}` reads {}",
                            node.name,
                            fixed
                                .iter()
                                .map(|(i, o)| format!("{i}: {o}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )))
                        .in_step(&node.name),
                        &["steps", &node.name],
                        "inputs",
                    ));
                }
            }
        }
        if let Err(e) = pipeline.validate() {
            let place = pipeline_error_place(&e);
            let mut err = ConfigError::new(ConfigErrorKind::Pipeline(e));
            match &place {
                Some(Place::Wiring(s)) => {
                    err = locate_first(
                        err.in_step(s),
                        &[(&["steps", s], "inputs"), (&["steps"], s)],
                    );
                }
                Some(Place::Param(s, p)) => {
                    err = locate_first(
                        err.in_step(s),
                        &[
                            (&["steps", s, "args"], p),
                            (&["steps", s], "args"),
                            (&["steps"], s),
                        ],
                    );
                }
                Some(Place::StepName(s)) => err = locate(err.in_step(s), &["steps"], s),
                Some(Place::PipelineName) => err = locate(err, &[], "name"),
                None => {}
            }
            return Err(err);
        }
        Ok(pipeline)
    }
}

fn build_step(
    registry: &Registry,
    step: &StepConfig,
) -> Result<Box<dyn crate::step::DynStep>, (ConfigErrorKind, Option<String>)> {
    let (source, version) = parse_source(&step.source)
        .ok_or_else(|| (ConfigErrorKind::BadSource(step.source.clone()), None))?;
    if source.len() > MAX_SOURCE_BYTES {
        return Err((
            ConfigErrorKind::SourceTooLong {
                source_path: source.to_owned(),
                max: MAX_SOURCE_BYTES,
            },
            None,
        ));
    }
    let params = step
        .args
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    registry.build(source, Some(version), &params).map_err(|e| {
        let key = match &e {
            RegistryError::Params(ParamError::Invalid { name, .. }) => Some((*name).to_owned()),
            RegistryError::Params(ParamError::Unknown { name, .. }) => Some(name.clone()),
            _ => None,
        };
        (ConfigErrorKind::Registry(e), key)
    })
}

/// Splits `path::Type@3` into its path and version.
pub(crate) fn parse_source(s: &str) -> Option<(&str, u32)> {
    let (path, version) = s.rsplit_once('@')?;
    if path.is_empty() {
        return None;
    }
    Some((path, version.parse().ok()?))
}

/// Where in a config a pipeline error is.
enum Place {
    /// A step's wiring.
    Wiring(String),
    /// A step's parameter.
    Param(String, String),
    /// A step's name (its key under `steps`).
    StepName(String),
    /// The pipeline's `name`.
    PipelineName,
}

fn pipeline_error_place(e: &PipelineError) -> Option<Place> {
    match e {
        PipelineError::BadReference { step, .. }
        | PipelineError::UnknownStep { step, .. }
        | PipelineError::UnknownOutput { step, .. }
        | PipelineError::UnknownInput { step, .. }
        | PipelineError::DoublyWired { step, .. }
        | PipelineError::MissingInput { step, .. }
        | PipelineError::TypeMismatch { step, .. } => Some(Place::Wiring(step.clone())),
        PipelineError::Cycle { cycle, .. } => cycle.first().cloned().map(Place::Wiring),
        PipelineError::ParamTooLarge { step, param, .. }
        | PipelineError::InvalidParam { step, param, .. } => {
            Some(Place::Param(step.clone(), param.clone()))
        }
        PipelineError::InvalidName { what, name }
        | PipelineError::NameTooLong { what, name, .. } => Some(if *what == "step" {
            Place::StepName(name.clone())
        } else {
            Place::PipelineName
        }),
        PipelineError::Many(errors) => errors.iter().find_map(pipeline_error_place),
        _ => None,
    }
}

/// The text without a leading UTF-8 byte-order mark (which some editors write).
fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// serde_norway's messages quote what was typed (an unknown key in backticks, a value in double
/// quotes) and may start with the path to it (`steps.trainer.args: …`); each is shortened like
/// every other typed string, and the whole message is kept to one short line.
fn elide_typed(message: &str) -> String {
    const MAX_CHARS: usize = 600;
    let mut out = String::new();
    let mut rest = message;
    if let Some((path, tail)) = rest.split_once(": ")
        && !path.contains(char::is_whitespace)
    {
        let _ = write!(out, "{}: ", elide(path));
        rest = tail;
    }
    while let Some(open) = rest.find(['`', '"']) {
        let quote = &rest[open..=open];
        out.push_str(&rest[..=open]);
        let quoted = &rest[open + 1..];
        // A double-quoted value is written escaped: `\"` does not close it.
        let close = quoted
            .char_indices()
            .scan(false, |escaped, (i, c)| {
                let closes = !*escaped && quote.starts_with(c);
                *escaped = !*escaped && c == '\\' && quote == "\"";
                Some((i, closes))
            })
            .find_map(|(i, closes)| closes.then_some(i));
        match close {
            Some(close) => {
                let _ = write!(out, "{}{quote}", elide(&quoted[..close]));
                rest = &quoted[close + 1..];
            }
            None => {
                let _ = write!(out, "{}", elide(quoted));
                rest = "";
            }
        }
    }
    out.push_str(rest);
    if out.chars().count() > MAX_CHARS {
        let cut: String = out.chars().take(MAX_CHARS).collect();
        return format!("{cut}…");
    }
    out
}

/// For serde's "duplicate field `x`" (after the path to the mapping, `steps.trainer: `), the line
/// of the field's second occurrence.
fn duplicate_field_line(text: &str, message: &str) -> Option<usize> {
    let (path, rest) = match message.split_once(": ") {
        Some((path, rest)) if !path.contains(char::is_whitespace) => (Some(path), rest),
        _ => (None, message),
    };
    let field = rest.strip_prefix("duplicate field `")?.split_once('`')?.0;
    let path: Vec<&str> = path.map(|p| p.split('.').collect()).unwrap_or_default();
    find_lines(text, &path, field).get(1).copied()
}

/// serde_norway puts " at line L column C" into its messages (at the end, or before the
/// scanner's context: "… at line 4 column 1, while scanning a quoted scalar"); the location is
/// reported apart, so it is taken out wherever it is.
fn strip_location(msg: &str) -> String {
    let mut out = msg.to_owned();
    let mut from = 0;
    while let Some(i) = out[from..].find(" at line ").map(|i| i + from) {
        let rest = &out[i + " at line ".len()..];
        let line_digits = rest.chars().take_while(char::is_ascii_digit).count();
        let after_line = &rest[line_digits..];
        let len = match after_line.strip_prefix(" column ") {
            Some(col) if line_digits > 0 => {
                let col_digits = col.chars().take_while(char::is_ascii_digit).count();
                (col_digits > 0).then_some(" at line ".len() + line_digits + 8 + col_digits)
            }
            _ => None,
        };
        match len {
            Some(len) => {
                out.replace_range(i..i + len, "");
                from = i;
            }
            None => from = i + 1,
        }
    }
    out
}

/// The 1-based line of `key:` nested under the keys `path`, found by indentation. Good enough
/// for configs this module writes and for hand-written ones in block style.
fn find_line(text: &str, path: &[&str], key: &str) -> Option<usize> {
    find_lines(text, path, key).first().copied()
}

/// The 1-based lines of `key:` nested under the keys `path` (under the first mapping at `path`),
/// found by indentation: more than one when the key is repeated.
fn find_lines(text: &str, path: &[&str], key: &str) -> Vec<usize> {
    let mut want: Vec<&str> = path.to_vec();
    want.push(key);
    let mut depth = 0;
    let mut indent_stack: Vec<usize> = Vec::new();
    let mut found: Vec<usize> = Vec::new();
    // The indentation of the first match: repeats are its siblings.
    let mut sibling_indent: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if let Some(sibling) = sibling_indent
            && indent < sibling
        {
            // Out of the mapping that holds the key.
            break;
        }
        while indent_stack.last().is_some_and(|&d| indent <= d) {
            indent_stack.pop();
            depth = indent_stack.len();
        }
        if depth >= want.len() {
            continue;
        }
        let name = trimmed
            .split_once(':')
            .map(|(k, _)| k.trim().trim_matches(|c| c == '"' || c == '\''));
        if name == Some(want[depth]) && indent_stack.len() == depth {
            if depth + 1 == want.len() {
                if sibling_indent.is_none_or(|s| s == indent) {
                    sibling_indent = Some(indent);
                    found.push(i + 1);
                }
                continue;
            }
            indent_stack.push(indent);
            depth += 1;
        }
    }
    found
}

impl Pipeline {
    /// The pipeline's declarative config.
    pub fn to_config(&self) -> PipelineConfig {
        PipelineConfig {
            version: CONFIG_FORMAT_VERSION,
            name: self.name.clone(),
            template: match self.template {
                Template::Dag => None,
                Template::Training => Some("training".to_owned()),
            },
            steps: self
                .steps
                .iter()
                .map(|n| (n.name.clone(), step_config(n)))
                .collect(),
            cache: self.cache,
        }
    }

    /// The pipeline's config as YAML.
    pub fn to_yaml(&self) -> String {
        self.to_config().to_yaml()
    }

    /// Rebuilds a pipeline from YAML, through this binary's registry.
    pub fn from_yaml(text: &str) -> Result<Pipeline, ConfigError> {
        let registry =
            Registry::global().map_err(|e| ConfigError::new(ConfigErrorKind::Registry(e)))?;
        let text = without_bom(text);
        PipelineConfig::from_yaml(text)?.build(registry, Some(text))
    }

    /// Loads a pipeline from a YAML file, through this binary's registry. A file larger than
    /// [`MAX_CONFIG_BYTES`] is refused before it is read.
    pub fn load(path: impl AsRef<Path>) -> Result<Pipeline, ConfigError> {
        let path = path.as_ref();
        let text = read_config(path).map_err(|e| ConfigError::new(e).with_file(path))?;
        Pipeline::from_yaml(&text).map_err(|e| e.with_file(path))
    }
}

/// Reads a config file of at most [`MAX_CONFIG_BYTES`].
fn read_config(path: &Path) -> Result<String, ConfigErrorKind> {
    let too_large = |size| ConfigErrorKind::TooLarge {
        size,
        max: MAX_CONFIG_BYTES,
    };
    let max = u64::try_from(MAX_CONFIG_BYTES).unwrap_or(u64::MAX);
    let file = std::fs::File::open(path).map_err(ConfigErrorKind::Io)?;
    // A regular file's size is known up front; a stream's (a pipe, a device) is not, so reading
    // stops one byte past the limit.
    let size = file.metadata().map_err(ConfigErrorKind::Io)?.len();
    if size > max {
        return Err(too_large(Some(size)));
    }
    let mut text = String::new();
    file.take(max + 1)
        .read_to_string(&mut text)
        .map_err(ConfigErrorKind::Io)?;
    if text.len() > MAX_CONFIG_BYTES {
        return Err(too_large(None));
    }
    Ok(text)
}

fn step_config(node: &StepNode) -> StepConfig {
    let info = node.step.info();
    let args = node
        .step
        .params()
        .iter()
        .map(|(name, value)| {
            let f32_param = info
                .params
                .iter()
                .any(|s| s.name == name && s.ty.scalar == ScalarType::F32);
            let value = match value {
                // An f32 widened to f64 prints as 0.10000000149011612; write the shortest
                // decimal that reads back as the same f32 instead.
                #[allow(clippy::cast_possible_truncation)]
                Value::Float(x) if f32_param && x.is_finite() => {
                    Value::Float(format!("{}", *x as f32).parse().unwrap_or(*x))
                }
                v => v.clone(),
            };
            (name.to_owned(), value)
        })
        .collect();
    StepConfig {
        source: info.source_ref(),
        args,
        inputs: node.inputs.iter().cloned().collect(),
        cache: node.cache,
        resources: node.resources.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_refs() {
        assert_eq!(parse_source("a::B@2"), Some(("a::B", 2)));
        assert_eq!(parse_source("a::B"), None);
        assert_eq!(parse_source("@2"), None);
        assert_eq!(parse_source("a::B@x"), None);
    }

    #[test]
    fn lines_are_found_by_nesting() {
        let text = "version: 1\nname: x\nsteps:\n  a:\n    source: s@1\n    args:\n      lr: 1\n  b:\n    args:\n      lr: 2\n";
        assert_eq!(find_line(text, &[], "version"), Some(1));
        assert_eq!(find_line(text, &["steps"], "b"), Some(8));
        assert_eq!(find_line(text, &["steps", "a", "args"], "lr"), Some(7));
        assert_eq!(find_line(text, &["steps", "b", "args"], "lr"), Some(10));
        assert_eq!(find_line(text, &["steps", "c"], "lr"), None);
    }

    #[test]
    fn values_parse_with_their_kinds() {
        let c = PipelineConfig::from_yaml(
            "version: 1\nname: x\nsteps:\n  a:\n    source: s@1\n    args: { i: 1, f: 1.0, s: fast, n: null, b: true, e: 1e-3 }\n",
        )
        .unwrap();
        let args = &c.steps["a"].args;
        assert_eq!(args["i"], Value::Int(1));
        assert_eq!(args["f"], Value::Float(1.0));
        assert_eq!(args["s"], Value::Str("fast".into()));
        assert_eq!(args["n"], Value::Null);
        assert_eq!(args["b"], Value::Bool(true));
        assert_eq!(args["e"], Value::Float(0.001));
        let text = c.to_yaml();
        assert_eq!(PipelineConfig::from_yaml(&text).unwrap(), c);
    }

    #[test]
    fn locations_are_taken_out_of_messages() {
        assert_eq!(
            strip_location("unknown field `x` at line 3 column 5"),
            "unknown field `x`"
        );
        assert_eq!(
            strip_location(
                "found unexpected end of stream at line 4 column 1, while scanning a quoted scalar"
            ),
            "found unexpected end of stream, while scanning a quoted scalar"
        );
        assert_eq!(
            strip_location("a name at line level"),
            "a name at line level"
        );
    }

    #[test]
    fn repeated_keys_are_found_among_siblings_only() {
        let text = "version: 1\nname: x\nsteps:\n  a:\n    name: 1\n    source: s@1\n    source: t@1\nname: y\n";
        assert_eq!(find_lines(text, &[], "name"), vec![2, 8]);
        assert_eq!(find_lines(text, &["steps", "a"], "source"), vec![6, 7]);
        assert_eq!(find_lines(text, &["steps", "a"], "name"), vec![5]);
        assert_eq!(
            duplicate_field_line(text, "duplicate field `name`"),
            Some(8)
        );
        assert_eq!(
            duplicate_field_line(text, "steps.a: duplicate field `source`"),
            Some(7)
        );
        assert_eq!(duplicate_field_line(text, "unknown field `name`"), None);
    }

    #[test]
    fn typed_strings_in_parser_messages_are_shortened() {
        let long = "x".repeat(10_000);
        let short = format!("{}…", "x".repeat(80));
        assert_eq!(
            elide_typed(&format!("unknown field `{long}`, expected `a`")),
            format!("unknown field `{short}`, expected `a`")
        );
        assert_eq!(
            elide_typed(&format!(
                "version: invalid type: string \"a\\\"{long}\", expected u32"
            )),
            format!(
                "version: invalid type: string \"a\\\"{}…\", expected u32",
                "x".repeat(77)
            )
        );
        assert_eq!(
            elide_typed(&format!("steps.{long}: unknown field `params`")),
            format!("steps.{}…: unknown field `params`", "x".repeat(74))
        );
        assert_eq!(elide_typed("unclosed `abc"), "unclosed `abc");
        let spaced = format!("{} and more", "word ".repeat(1000));
        assert_eq!(elide_typed(&spaced).chars().count(), 601);
        // Messages without typed text are left alone.
        assert_eq!(
            elide_typed("steps.a: missing field `source`"),
            "steps.a: missing field `source`"
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let text = "version: 1\nname: x\nsteps: {}\n";
        assert_eq!(
            PipelineConfig::from_yaml(&format!("\u{feff}{text}")).unwrap(),
            PipelineConfig::from_yaml(text).unwrap()
        );
    }

    #[test]
    fn bad_yaml_has_a_line() {
        let e = PipelineConfig::from_yaml("version: 1\nname: x\nsteps:\n  a: [\n").unwrap_err();
        assert!(e.line().is_some(), "{e}");
        let e = PipelineConfig::from_yaml("version: 7\nname: x\nsteps: {}\n").unwrap_err();
        assert!(matches!(
            e.kind(),
            ConfigErrorKind::Version { found: 7, .. }
        ));
        assert_eq!(e.line(), Some(1));
    }
}
