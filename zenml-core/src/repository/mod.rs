//! The repository: a `.zenml/` folder that names a metadata store and an artifact store.
//!
//! ```text
//! .zenml/
//!   config.yaml     which stores to use (readable by its owner only)
//!   metadata.db     the SQLite metadata store (by default)
//!   artifacts/      the local artifact store (by default)
//! ```
//!
//! A repository is found like git finds its own: from a directory, walking up until a folder
//! holding `.zenml/config.yaml`. `config.yaml`:
//!
//! ```yaml
//! version: 1
//! metadata:
//!   type: sqlite
//!   path: metadata.db        # relative to .zenml/
//! artifacts:
//!   url: artifacts           # a folder relative to .zenml/, or s3://…, gs://…, az://…
//! ```
//!
//! A MySQL metadata store is named with `type: mysql` and `host`, `port`, `user`, `database`,
//! and preferably `password_env` (the name of an environment variable holding the password)
//! rather than `password`.

mod compare;
mod queries;

pub use compare::{Comparison, ComparisonRow};
pub use queries::{Lineage, StepVersion};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::pipeline::{ConfigError, Pipeline};
use crate::runner::{RunError, RunOptions, RunSummary, Runner};
use crate::store::{
    ArtifactStore, ArtifactStoreError, MetadataConfig, MetadataError, MetadataStore,
    open_artifact_store, open_metadata_store,
};

/// The name of the repository folder.
pub const REPOSITORY_DIR: &str = ".zenml";
/// The name of the config file in it.
pub const CONFIG_FILE: &str = "config.yaml";
/// The repository config format this version writes and reads.
pub const REPOSITORY_CONFIG_VERSION: u32 = 1;

/// `.zenml/config.yaml`: which stores a repository uses.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    /// The format version ([`REPOSITORY_CONFIG_VERSION`]).
    pub version: u32,
    /// The metadata store.
    pub metadata: MetadataConfig,
    /// The artifact store.
    pub artifacts: ArtifactsConfig,
}

/// The `artifacts:` section of `config.yaml`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactsConfig {
    /// A folder (relative to `.zenml/`) or a bucket URL (`s3://bucket/prefix`).
    pub url: String,
}

impl Default for RepositoryConfig {
    fn default() -> Self {
        RepositoryConfig {
            version: REPOSITORY_CONFIG_VERSION,
            metadata: MetadataConfig::Sqlite {
                path: PathBuf::from("metadata.db"),
            },
            artifacts: ArtifactsConfig {
                url: "artifacts".to_owned(),
            },
        }
    }
}

impl RepositoryConfig {
    /// The config as YAML.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_default()
    }

    /// Parses a config.
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let config: RepositoryConfig = serde_norway::from_str(text).map_err(|e| e.to_string())?;
        if config.version != REPOSITORY_CONFIG_VERSION {
            return Err(format!(
                "config version {} is not supported (this build reads version {})",
                config.version, REPOSITORY_CONFIG_VERSION
            ));
        }
        Ok(config)
    }
}

/// A repository operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepositoryError {
    /// No `.zenml/` in the directory or any parent.
    #[error("no zenml repository (.zenml/) in {} or any parent directory; run `zenml init` there first", .0.display())]
    NotFound(PathBuf),
    /// `init` where a repository exists.
    #[error("a zenml repository already exists at {}", .0.display())]
    AlreadyExists(PathBuf),
    /// `config.yaml` cannot be read or written, or is invalid.
    #[error("{}: {message}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// The metadata store failed.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The artifact store failed.
    #[error(transparent)]
    Artifacts(#[from] ArtifactStoreError),
    /// An artifact cannot be read.
    #[error(transparent)]
    Artifact(#[from] crate::artifact::io::ArtifactError),
    /// A run failed or could not start.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A recorded pipeline cannot be rebuilt.
    #[error("pipeline `{pipeline}` cannot be rebuilt from its recorded config: {source}")]
    Rebuild {
        /// The pipeline.
        pipeline: String,
        /// Why.
        #[source]
        source: ConfigError,
    },
    /// Nothing recorded under that name or id.
    #[error("no {what} `{key}` in the repository")]
    Unknown {
        /// `"pipeline"`, `"run"`, …
        what: &'static str,
        /// The name or id asked for.
        key: String,
    },
}

/// A zenml repository: the stores named by `.zenml/config.yaml`, and the runner over them.
#[derive(Clone)]
pub struct Repository {
    root: Option<PathBuf>,
    config: RepositoryConfig,
    metadata: Arc<dyn MetadataStore>,
    artifacts: Arc<dyn ArtifactStore>,
    options: RunOptions,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repository")
            .field("root", &self.root)
            .field("metadata", &self.metadata.describe())
            .field("artifacts", &self.artifacts.describe())
            .finish()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RepositoryError + '_ {
    move |source| RepositoryError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Repository {
    /// Creates a repository in `dir` (with the default stores) and opens it.
    pub fn init(dir: impl AsRef<Path>) -> Result<Repository, RepositoryError> {
        Repository::init_with(dir, RepositoryConfig::default())
    }

    /// Creates a repository in `dir` with the given stores and opens it.
    pub fn init_with(
        dir: impl AsRef<Path>,
        config: RepositoryConfig,
    ) -> Result<Repository, RepositoryError> {
        let dir = dir.as_ref();
        let zdir = dir.join(REPOSITORY_DIR);
        if zdir.join(CONFIG_FILE).exists() {
            // `dir` may be `.`: name the folder itself.
            let at = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
            return Err(RepositoryError::AlreadyExists(at));
        }
        let created = !zdir.exists();
        std::fs::create_dir_all(&zdir).map_err(io_err(&zdir))?;
        let opened = write_config(&zdir.join(CONFIG_FILE), &config).and_then(|()| {
            let root = std::fs::canonicalize(dir).map_err(io_err(dir))?;
            Repository::open_root(root, config)
        });
        if opened.is_err() {
            // Leave nothing half-made behind: a config without working stores would be found
            // by every later command.
            let _ = std::fs::remove_file(zdir.join(CONFIG_FILE));
            if created {
                let _ = std::fs::remove_dir_all(&zdir);
            }
        }
        opened
    }

    /// Opens the repository that holds `dir` (found by walking up from it).
    pub fn open(dir: impl AsRef<Path>) -> Result<Repository, RepositoryError> {
        let (root, config) = Repository::find_config(dir)?;
        Repository::open_root(root, config)
    }

    /// The root of the repository that holds `dir` and its config, read without opening the
    /// stores: to show or repair a config whose stores cannot be opened.
    pub fn find_config(
        dir: impl AsRef<Path>,
    ) -> Result<(PathBuf, RepositoryConfig), RepositoryError> {
        let root = Repository::find(dir.as_ref())?;
        let config = read_config(&root.join(REPOSITORY_DIR).join(CONFIG_FILE))?;
        Ok((root, config))
    }

    /// Saves `config` as the config of the repository whose root is `root` (readable by its
    /// owner only), without opening any store.
    pub fn save_config_at(
        root: impl AsRef<Path>,
        config: &RepositoryConfig,
    ) -> Result<(), RepositoryError> {
        let path = root.as_ref().join(REPOSITORY_DIR).join(CONFIG_FILE);
        if !path.is_file() {
            return Err(RepositoryError::NotFound(root.as_ref().to_owned()));
        }
        write_config(&path, config)
    }

    /// Opens the repository that holds `dir`, or creates one in `dir` if there is none.
    pub fn open_or_init(dir: impl AsRef<Path>) -> Result<Repository, RepositoryError> {
        match Repository::open(dir.as_ref()) {
            Err(RepositoryError::NotFound(_)) => Repository::init(dir),
            other => other,
        }
    }

    /// The root of the repository that holds `dir`: the nearest directory, `dir` or a parent,
    /// with `.zenml/config.yaml`.
    pub fn find(dir: &Path) -> Result<PathBuf, RepositoryError> {
        let start = std::fs::canonicalize(dir).map_err(io_err(dir))?;
        let mut cur: Option<&Path> = Some(&start);
        while let Some(d) = cur {
            if d.join(REPOSITORY_DIR).join(CONFIG_FILE).is_file() {
                return Ok(d.to_owned());
            }
            cur = d.parent();
        }
        Err(RepositoryError::NotFound(start))
    }

    fn open_root(root: PathBuf, config: RepositoryConfig) -> Result<Repository, RepositoryError> {
        let zdir = root.join(REPOSITORY_DIR);
        let metadata = open_metadata_store(&config.metadata, &zdir)?;
        let artifacts = open_artifact_store(&config.artifacts.url, &zdir)?;
        let options = RunOptions {
            scratch_dir: zdir.join("tmp"),
            ..RunOptions::default()
        };
        Ok(Repository {
            root: Some(root),
            config,
            metadata,
            artifacts,
            options,
        })
    }

    /// A repository over stores given in code, without a `.zenml/` folder (for tests and
    /// programs that manage their own stores).
    pub fn with_stores(
        metadata: Arc<dyn MetadataStore>,
        artifacts: Arc<dyn ArtifactStore>,
    ) -> Repository {
        Repository {
            root: None,
            config: RepositoryConfig::default(),
            metadata,
            artifacts,
            options: RunOptions::default(),
        }
    }

    /// This repository with another metadata store, overriding `config.yaml`.
    #[must_use]
    pub fn with_metadata_store(mut self, store: Arc<dyn MetadataStore>) -> Self {
        self.metadata = store;
        self
    }

    /// This repository with another artifact store, overriding `config.yaml`.
    #[must_use]
    pub fn with_artifact_store(mut self, store: Arc<dyn ArtifactStore>) -> Self {
        self.artifacts = store;
        self
    }

    /// This repository with other run options (progress, caching, parallelism).
    #[must_use]
    pub fn with_options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    /// The directory that holds `.zenml/` (`None` for a repository made with
    /// [`Repository::with_stores`]).
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// The config it was opened with.
    pub fn config(&self) -> &RepositoryConfig {
        &self.config
    }

    /// The metadata store.
    pub fn metadata_store(&self) -> &Arc<dyn MetadataStore> {
        &self.metadata
    }

    /// The artifact store.
    pub fn artifact_store(&self) -> &Arc<dyn ArtifactStore> {
        &self.artifacts
    }

    /// The run options.
    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// A runner over this repository's stores.
    pub fn runner(&self) -> Runner {
        Runner::new(self.metadata.clone(), self.artifacts.clone())
            .with_options(self.options.clone())
    }

    /// Runs a pipeline.
    pub fn run(&self, pipeline: &Pipeline) -> Result<RunSummary, RepositoryError> {
        Ok(self.runner().run(pipeline)?)
    }

    /// Runs a pipeline with other options.
    pub fn run_with(
        &self,
        pipeline: &Pipeline,
        options: RunOptions,
    ) -> Result<RunSummary, RepositoryError> {
        Ok(self.runner().with_options(options).run(pipeline)?)
    }

    /// Saves a changed config to `.zenml/config.yaml` (the stores in use do not change until
    /// the repository is opened again).
    pub fn save_config(&self, config: &RepositoryConfig) -> Result<(), RepositoryError> {
        let Some(root) = &self.root else {
            return Err(RepositoryError::NotFound(PathBuf::new()));
        };
        Repository::save_config_at(root, config)
    }
}

fn read_config(path: &Path) -> Result<RepositoryConfig, RepositoryError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    RepositoryConfig::from_yaml(&text).map_err(|message| RepositoryError::Config {
        path: path.to_owned(),
        message,
    })
}

/// Writes the config readable by its owner only (it may hold a password), replacing the file
/// atomically.
fn write_config(path: &Path, config: &RepositoryConfig) -> Result<(), RepositoryError> {
    let tmp = path.with_extension("yaml.tmp");
    let text = format!(
        "# zenml repository config: the metadata store and the artifact store.\n{}",
        config.to_yaml()
    );
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io_err(&tmp))?;
        std::io::Write::write_all(&mut f, text.as_bytes()).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io_err(path))
}
