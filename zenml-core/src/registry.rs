//! The global step registry.
//!
//! `#[step]` registers every step type with [`inventory`]: its source path, version, kind,
//! parameter specs and a constructor from parameter values. The registry is how a pipeline is
//! rebuilt from a YAML config or from the metadata store, and how `zenml step list` shows what a
//! binary can run.
//!
//! # The linking rule
//!
//! Only steps whose code is **linked into the running binary** are registered. A generic `zenml`
//! binary therefore cannot run your steps: it never linked your crate. To run configs that use
//! your steps, build a binary of your own that links the crate defining them and serves the CLI
//! (`fn main() -> std::process::ExitCode { zenml::cli::main() }`). If the steps live in a
//! library crate that the binary does not otherwise use, reference it (`use my_steps as _;`) so
//! that the linker keeps it.
//!
//! Two registrations with one source path (two versions of one crate linked into a binary, say)
//! are an error naming both, reported by [`Registry::global`]; one never silently replaces the
//! other.
//!
//! zenml's own steps are registered under their public paths (`zenml::steps::RandomSplit`,
//! `zenml::linfa::…`, `zenml::candle::…`). Configs written when they were recorded under the inner
//! crate's path (`zenml_core::steps::RandomSplit`) still resolve: [`Registry::get`] reads such a
//! source as the public path.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use crate::param::{ParamError, Params};
use crate::step::{DynStep, StepInfo};

/// One registered step type. Created by `#[step]`; not meant to be built by hand.
pub struct StepRegistration {
    info: StepInfo,
    construct: fn(&Params) -> Result<Box<dyn DynStep>, ParamError>,
}

inventory::collect!(StepRegistration);

impl StepRegistration {
    #[doc(hidden)]
    pub const fn new(
        info: StepInfo,
        construct: fn(&Params) -> Result<Box<dyn DynStep>, ParamError>,
    ) -> Self {
        StepRegistration { info, construct }
    }

    /// The step type's description.
    pub fn info(&self) -> &StepInfo {
        &self.info
    }

    /// The source path (`my_crate::steps::MyTrainer`).
    pub fn source(&self) -> &'static str {
        self.info.source
    }

    /// The declared version.
    pub fn version(&self) -> u32 {
        self.info.version
    }

    /// A step of this type from parameter values (defaults fill in what is missing).
    pub fn construct(&self, params: &Params) -> Result<Box<dyn DynStep>, ParamError> {
        (self.construct)(params)
    }
}

impl fmt::Debug for StepRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepRegistration")
            .field("source", &self.info.source)
            .field("version", &self.info.version)
            .field("kind", &self.info.kind)
            .field("location", &self.info.location)
            .finish()
    }
}

/// A problem with the registry or a lookup in it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two step types registered the same source path.
    #[error(
        "step source `{source_path}` is registered twice: at {first} and at {second}; \
         each step type needs a source path of its own (is one crate linked at two versions?)"
    )]
    Duplicate {
        /// The shared source path.
        source_path: &'static str,
        /// Where the first registration's impl is.
        first: &'static str,
        /// Where the second's is.
        second: &'static str,
    },
    /// No step type with this source path is linked into this binary.
    #[error(
        "no step `{source_path}` is registered in this binary{}",
        suggest(similar)
    )]
    UnknownSource {
        /// The source path asked for.
        source_path: String,
        /// Registered sources that look alike.
        similar: Vec<String>,
    },
    /// The step type exists, at another version.
    #[error(
        "step `{source_path}` is registered at version {registered}, not {requested}; \
         a config or pipeline recorded with another version of the step cannot be rebuilt by \
         this binary"
    )]
    VersionMismatch {
        /// The source path.
        source_path: String,
        /// The version asked for.
        requested: u32,
        /// The version this binary has.
        registered: u32,
    },
    /// The parameters do not fit the step type.
    #[error(transparent)]
    Params(#[from] ParamError),
}

fn suggest(similar: &[String]) -> String {
    if similar.is_empty() {
        "; only the steps of crates linked into the running binary are registered, so a config \
         that uses it must be run by a binary that links the crate defining it (for the command \
         line, a binary of your own whose `main` calls `zenml::cli::main()`); `zenml step list` \
         shows the steps a binary has"
            .to_owned()
    } else {
        format!("; did you mean {}?", similar.join(", "))
    }
}

/// The step types linked into this binary, by source path.
#[derive(Debug)]
pub struct Registry {
    by_source: BTreeMap<&'static str, &'static StepRegistration>,
}

impl Registry {
    /// The registry of this binary, built once from every `#[step]` it links.
    ///
    /// Fails, every time it is called, if two step types share a source path.
    pub fn global() -> Result<&'static Registry, RegistryError> {
        static GLOBAL: OnceLock<Result<Registry, RegistryError>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| Registry::from_registrations(inventory::iter::<StepRegistration>()))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A registry of the given registrations (the global one uses every linked registration).
    pub fn from_registrations(
        regs: impl IntoIterator<Item = &'static StepRegistration>,
    ) -> Result<Registry, RegistryError> {
        let mut by_source: BTreeMap<&'static str, &'static StepRegistration> = BTreeMap::new();
        // inventory's order is unspecified; sort the duplicates' locations so the error is stable.
        for reg in regs {
            if let Some(prev) = by_source.insert(reg.source(), reg) {
                let (first, second) = if prev.info.location <= reg.info.location {
                    (prev.info.location, reg.info.location)
                } else {
                    (reg.info.location, prev.info.location)
                };
                return Err(RegistryError::Duplicate {
                    source_path: reg.source(),
                    first,
                    second,
                });
            }
        }
        Ok(Registry { by_source })
    }

    /// Every registered step, sorted by source path.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'static StepRegistration> + '_ {
        self.by_source.values().copied()
    }

    /// How many steps are registered.
    pub fn len(&self) -> usize {
        self.by_source.len()
    }

    /// Is none registered?
    pub fn is_empty(&self) -> bool {
        self.by_source.is_empty()
    }

    /// The step registered under `source`. A source under `zenml_core::`, where zenml's own
    /// steps used to be recorded, is looked up under `zenml::`, their public path.
    pub fn get(&self, source: &str) -> Result<&'static StepRegistration, RegistryError> {
        let public = source
            .strip_prefix(INNER_CRATE)
            .map(|rest| format!("{PUBLIC_CRATE}{rest}"));
        self.by_source
            .get(source)
            .or_else(|| public.and_then(|p| self.by_source.get(p.as_str())))
            .copied()
            .ok_or_else(|| RegistryError::UnknownSource {
                source_path: source.to_owned(),
                similar: self.similar(source),
            })
    }

    /// The step registered under `source`, which must be at `version`.
    pub fn get_version(
        &self,
        source: &str,
        version: u32,
    ) -> Result<&'static StepRegistration, RegistryError> {
        let reg = self.get(source)?;
        if reg.version() != version {
            return Err(RegistryError::VersionMismatch {
                source_path: source.to_owned(),
                requested: version,
                registered: reg.version(),
            });
        }
        Ok(reg)
    }

    /// Builds a step of type `source` (at `version`, if given) from parameter values.
    pub fn build(
        &self,
        source: &str,
        version: Option<u32>,
        params: &Params,
    ) -> Result<Box<dyn DynStep>, RegistryError> {
        let reg = match version {
            Some(v) => self.get_version(source, v)?,
            None => self.get(source)?,
        };
        Ok(reg.construct(params)?)
    }

    /// Registered sources that look like `source`: the same type name in another module, or a
    /// small edit distance away.
    fn similar(&self, source: &str) -> Vec<String> {
        let name = source.rsplit("::").next().unwrap_or(source);
        let mut out: Vec<(usize, &str)> = self
            .by_source
            .keys()
            .filter_map(|s| {
                let their = s.rsplit("::").next().unwrap_or(s);
                let d = edit_distance(source, s);
                if their == name || d <= 3 + source.len() / 8 {
                    Some((d, *s))
                } else {
                    None
                }
            })
            .collect();
        out.sort();
        out.into_iter()
            .take(3)
            .map(|(_, s)| format!("`{s}`"))
            .collect()
    }
}

/// The prefix of the sources zenml's own steps were recorded under before they took their public
/// paths, and the prefix of those public paths.
const INNER_CRATE: &str = "zenml_core::";
const PUBLIC_CRATE: &str = "zenml::";

/// Levenshtein distance, for suggestions.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
