//! The store traits, and how backends make themselves known.
//!
//! Core owns the traits ([`MetadataStore`], [`ArtifactStore`]); the `zenml-stores` crate
//! implements them (SQLite and MySQL in the ML Metadata schema; local folders and buckets over
//! `object_store`) and registers each backend with [`inventory`], so that a repository's
//! `config.yaml` can name a backend that core itself never links to.

mod artifact;
pub mod memory;
mod metadata;

// Core's own tests run the suite on the in-memory store, with or without the feature.
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use artifact::{ArtifactStore, ArtifactStoreError, ArtifactWriter, ObjectInfo};
pub use metadata::{
    ArtifactRecord, CacheHit, ExecutionRecord, ExecutionState, Id, MetadataError, MetadataStore,
    MissingStore, NewArtifact, NewExecution, PipelineRecord, PropertyType, RunRecord, RunStatus,
    RunningRun, StepTypeRecord, StepTypeSpec, sorted_by_name, stored_params,
};

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which metadata store a repository uses (the `metadata:` section of `.zenml/config.yaml`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum MetadataConfig {
    /// A SQLite file; a relative path is relative to the `.zenml` folder.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A MySQL (≥ 5.6) or MariaDB database.
    Mysql {
        /// Host name or address.
        host: String,
        /// TCP port.
        #[serde(default = "default_mysql_port")]
        port: u16,
        /// User name.
        user: String,
        /// Database name.
        database: String,
        /// The password; prefer `password_env`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
        /// The name of an environment variable that holds the password.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password_env: Option<String>,
    },
    /// An in-memory store that lives as long as the process (for tests).
    Memory,
}

fn default_mysql_port() -> u16 {
    3306
}

impl MetadataConfig {
    /// The backend name (`"sqlite"`, `"mysql"`, `"memory"`).
    pub fn backend(&self) -> &'static str {
        match self {
            MetadataConfig::Sqlite { .. } => "sqlite",
            MetadataConfig::Mysql { .. } => "mysql",
            MetadataConfig::Memory => "memory",
        }
    }
}

/// How a metadata store is opened.
///
/// A repository's store is created once, when the repository (or a new store for it) is set up;
/// afterwards it is only ever opened, so that a store that disappeared is reported instead of
/// silently replaced by an empty one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpenMode {
    /// Open the store, creating it where there is none (a missing or empty database gets the
    /// schema).
    Create,
    /// Open an existing store to read and write it. A missing or empty database is
    /// [`MetadataError::Missing`]; nothing is created.
    Existing,
    /// Open an existing store to read it only: nothing is created or written, so a store on a
    /// read-only file system, or in files the user may only read, can be listed and inspected.
    /// Writes fail with [`MetadataError::ReadOnly`].
    ReadOnly,
}

/// A metadata store backend, registered with `inventory::submit!` by the crate implementing it.
#[derive(Debug)]
pub struct MetadataBackend {
    /// The backend name, as in [`MetadataConfig::backend`].
    pub name: &'static str,
    /// The cargo feature of `zenml` that links it, for error messages.
    pub feature: &'static str,
    /// Opens the store as `mode` says; relative paths are relative to `base`.
    #[allow(clippy::type_complexity)]
    pub open: fn(
        &MetadataConfig,
        base: &Path,
        mode: OpenMode,
    ) -> Result<Arc<dyn MetadataStore>, MetadataError>,
}

inventory::collect!(MetadataBackend);

/// An artifact store backend, registered with `inventory::submit!` by the crate implementing it.
#[derive(Debug)]
pub struct ArtifactBackend {
    /// The URL schemes it serves (`"file"`, `"s3"`, `"gs"`, `"az"`, `"memory"`).
    pub schemes: &'static [&'static str],
    /// The cargo feature of `zenml` that links it, for error messages.
    pub feature: &'static str,
    /// Opens the store at `url`; a plain path (no scheme) is a local folder, relative to `base`.
    #[allow(clippy::type_complexity)]
    pub open: fn(url: &str, base: &Path) -> Result<Arc<dyn ArtifactStore>, ArtifactStoreError>,
}

inventory::collect!(ArtifactBackend);

/// Opens the metadata store `config` names, through the backend linked for it.
pub fn open_metadata_store(
    config: &MetadataConfig,
    base: &Path,
    mode: OpenMode,
) -> Result<Arc<dyn MetadataStore>, MetadataError> {
    let name = config.backend();
    match inventory::iter::<MetadataBackend>().find(|b| b.name == name) {
        Some(b) => (b.open)(config, base, mode),
        None => {
            let mut linked: Vec<&str> = inventory::iter::<MetadataBackend>()
                .map(|b| b.name)
                .collect();
            linked.sort_unstable();
            Err(MetadataError::Incompatible(format!(
                "no `{name}` metadata store backend is linked into this binary (it has: {}); \
                 build it with the zenml feature that provides `{name}`",
                if linked.is_empty() {
                    "none".to_owned()
                } else {
                    linked.join(", ")
                }
            )))
        }
    }
}

/// The scheme of an artifact store URL: `file` for a plain path.
pub fn url_scheme(url: &str) -> &str {
    match url.split_once("://") {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+') =>
        {
            scheme
        }
        _ => "file",
    }
}

/// Opens the artifact store at `url`, through the backend linked for its scheme.
pub fn open_artifact_store(
    url: &str,
    base: &Path,
) -> Result<Arc<dyn ArtifactStore>, ArtifactStoreError> {
    let scheme = url_scheme(url);
    match inventory::iter::<ArtifactBackend>().find(|b| b.schemes.contains(&scheme)) {
        Some(b) => (b.open)(url, base),
        None => {
            let known: Vec<&str> = inventory::iter::<ArtifactBackend>()
                .flat_map(|b| b.schemes.iter().copied())
                .collect();
            Err(ArtifactStoreError::Config(format!(
                "unknown artifact store scheme `{scheme}://` in `{url}`; this binary knows: {} \
                 (s3, gs and az need the zenml features of the same names)",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )))
        }
    }
}
