//! Named numbers a step reports, stored as JSON.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{Read, Write};

use super::{Artifact, BaseType, MaterializeError, Materializer, json_error};

/// Named evaluation figures (`accuracy`, `f1`, …), stored as a JSON object a person can read.
///
/// An evaluator returns `Metrics`; their values are also recorded on the evaluator's execution,
/// which is what run comparison reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    values: BTreeMap<String, f64>,
}

impl Metrics {
    /// No figures yet.
    pub fn new() -> Self {
        Metrics::default()
    }

    /// Sets a figure.
    pub fn insert(&mut self, name: impl Into<String>, value: f64) {
        self.values.insert(name.into(), value);
    }

    /// Builder form of [`Metrics::insert`].
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: f64) -> Self {
        self.insert(name, value);
        self
    }

    /// The figure `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).copied()
    }

    /// All figures, sorted by name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, f64)> {
        self.values.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// How many figures there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Are there none?
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl<K: Into<String>> FromIterator<(K, f64)> for Metrics {
    fn from_iter<I: IntoIterator<Item = (K, f64)>>(iter: I) -> Self {
        Metrics {
            values: iter.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }
}

/// The materializer of [`Metrics`]: a JSON object of numbers (non-finite values as `null`).
#[derive(Debug)]
pub struct MetricsJson;

impl Materializer for MetricsJson {
    type Value = Metrics;
    const ID: &'static str = "zenml.metrics.json";
    const VERSION: u32 = 1;

    fn write(value: &Metrics, w: &mut dyn Write) -> Result<(), MaterializeError> {
        let map: BTreeMap<&str, Option<f64>> = value
            .values
            .iter()
            .map(|(k, v)| (k.as_str(), v.is_finite().then_some(*v)))
            .collect();
        serde_json::to_writer_pretty(w, &map).map_err(|e| json_error(Self::ID, e))
    }

    fn read(r: &mut dyn Read) -> Result<Metrics, MaterializeError> {
        let map: BTreeMap<String, Option<f64>> =
            serde_json::from_reader(std::io::BufReader::new(r))
                .map_err(|e| json_error(Self::ID, e))?;
        Ok(Metrics {
            values: map
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
                .collect(),
        })
    }
}

impl Artifact for Metrics {
    type Materializer = MetricsJson;

    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed("zenml.Metrics")
    }

    fn base_type() -> Option<BaseType> {
        Some(BaseType::Metrics)
    }
}
