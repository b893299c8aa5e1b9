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
//! cache:                     # optional
//!   verify: full             # hash reused outputs before every cache hit (default: quick)
//! ```
//!
//! A MySQL metadata store is named with `type: mysql` and `host`, `port`, `user`, `database`,
//! and preferably `password_env` (the name of an environment variable holding the password)
//! rather than `password`.
//!
//! # Creating, opening, and a store that disappeared
//!
//! [`Repository::init`] creates the stores first and publishes `config.yaml` last, atomically
//! and only if there is none: of several processes creating one repository at once, exactly one
//! publishes its config and the others open the repository it made ([`Repository::open_or_init`]
//! does this). Nothing a process created is ever removed when it loses that race or fails, so no
//! process can delete what another is using.
//!
//! Because a config is published only once its stores exist, a config names a metadata store
//! that existed: [`Repository::open`] never creates one. A metadata store whose database was
//! deleted, truncated or damaged is reported ([`RepositoryError::MetadataLost`]) instead of being
//! replaced by an empty one, which would silently restart the history at run `#1` and orphan
//! every artifact; starting afresh is a deliberate step ([`Repository::recreate_metadata_store`],
//! `zenml init --new-metadata-store`).

mod compare;
mod queries;
mod verify;

pub use compare::{Comparison, ComparisonRow};
pub use queries::{Lineage, StepVersion};
pub use verify::{DamagedArtifact, VerifyProgress, VerifyReport};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::pipeline::{ConfigError, Pipeline};
use crate::runner::{RunError, RunOptions, RunSummary, Runner, Sweep, Verify};
use crate::store::{
    ArtifactStore, ArtifactStoreError, MetadataConfig, MetadataError, MetadataQuery, OpenMode,
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
    /// How the cache checks what it reuses (written only when not the default).
    #[serde(default, skip_serializing_if = "CacheConfig::is_default")]
    pub cache: CacheConfig,
}

/// The `cache:` section of `config.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// How reused outputs are checked before a cache hit is accepted ([`Verify`]).
    #[serde(default)]
    pub verify: Verify,
}

impl CacheConfig {
    fn is_default(&self) -> bool {
        *self == CacheConfig::default()
    }
}

/// The `artifacts:` section of `config.yaml`.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactsConfig {
    /// A folder (relative to `.zenml/`) or a bucket URL (`s3://bucket/prefix`).
    pub url: String,
}

impl std::fmt::Debug for ArtifactsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A URL edited by hand may hold credentials (they are refused when it is used).
        f.debug_struct("ArtifactsConfig")
            .field("url", &crate::store::redact_url(&self.url))
            .finish()
    }
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
            cache: CacheConfig::default(),
        }
    }
}

impl RepositoryConfig {
    /// The config as YAML.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_default()
    }

    /// Parses a config (a leading byte-order mark is ignored). An error never quotes a value of
    /// the file: it may be a password typed in the wrong place.
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let config: RepositoryConfig =
            serde_norway::from_str(text).map_err(|e| without_quoted_values(&e.to_string()))?;
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
    /// A repository is looked for from a path that is not a directory.
    #[error("{} is not a directory: a repository is found from the directory it is in or under", .0.display())]
    NotADirectory(PathBuf),
    /// The repository's metadata store is missing, emptied or damaged: the history it recorded
    /// cannot be read. Nothing was created or changed.
    #[error(
        "{source}; the repository's runs, lineage and cache were recorded there: {}",
        recovery(.root, .source)
    )]
    MetadataLost {
        /// The repository's root.
        root: PathBuf,
        /// What is wrong with the store.
        #[source]
        source: MetadataError,
    },
    /// `init` where a repository exists.
    #[error("a zenml repository already exists at {}", .0.display())]
    AlreadyExists(PathBuf),
    /// A new metadata store was asked for where one exists and holds a zenml store.
    #[error(
        "the metadata store of the repository at {} exists and holds its history; nothing was \
         changed (a new store replaces only one that is missing or empty)",
        .0.display()
    )]
    StoreExists(PathBuf),
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
    /// A run's orchestrator failed, or a step it ran elsewhere failed.
    #[error(transparent)]
    Orchestrator(#[from] crate::orchestrator::OrchestratorError),
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
    metadata: Arc<dyn MetadataQuery>,
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
    /// Creates a repository in `dir` (with the default stores) and opens it; `dir` is created
    /// if missing.
    pub fn init(dir: impl AsRef<Path>) -> Result<Repository, RepositoryError> {
        Repository::init_with(dir, RepositoryConfig::default())
    }

    /// Creates a repository in `dir` with the given stores and opens it; `dir` is created if
    /// missing.
    ///
    /// The stores are created first (an existing zenml metadata store at the configured place
    /// is kept and used), then `.zenml/config.yaml` is published atomically, only if there is
    /// none: if another process published one first, this is
    /// [`RepositoryError::AlreadyExists`] and that repository is left as it is. A failure
    /// publishes no config, and removes nothing: another process may be using what was made (an
    /// artifact store URL this binary cannot open is refused before anything is made).
    pub fn init_with(
        dir: impl AsRef<Path>,
        config: RepositoryConfig,
    ) -> Result<Repository, RepositoryError> {
        let dir = dir.as_ref();
        let zdir = dir.join(REPOSITORY_DIR);
        let config_path = zdir.join(CONFIG_FILE);
        let already = |dir: &Path| {
            // `dir` may be `.`: name the folder itself.
            let at = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
            RepositoryError::AlreadyExists(at)
        };
        if config_path.exists() {
            return Err(already(dir));
        }
        if dir.exists() && !dir.is_dir() {
            return Err(RepositoryError::NotADirectory(dir.to_owned()));
        }
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let root = std::fs::canonicalize(dir).map_err(io_err(dir))?;
        let zdir = root.join(REPOSITORY_DIR);
        // The stores before the config: a published config always names stores that exist. The
        // artifact store first: a URL this binary cannot open is refused before anything is
        // made.
        let artifacts = open_artifact_store(&config.artifacts.url, &zdir)?;
        std::fs::create_dir_all(&zdir).map_err(io_err(&zdir))?;
        let metadata = open_metadata_store(&config.metadata, &zdir, OpenMode::Create)?;
        if !publish_config(&zdir.join(CONFIG_FILE), &config)? {
            return Err(already(&root));
        }
        Ok(Repository::assemble(root, config, metadata, artifacts))
    }

    /// Opens the repository that holds `dir` (found by walking up from it), to read and write.
    ///
    /// Its metadata store must exist: one that is missing, empty or damaged is
    /// [`RepositoryError::MetadataLost`], and nothing is created.
    pub fn open(dir: impl AsRef<Path>) -> Result<Repository, RepositoryError> {
        let (root, config) = Repository::find_config(dir)?;
        Repository::open_root(root, config, OpenMode::Existing)
    }

    /// Opens the repository that holds `dir` to read it only: nothing is created or written, so
    /// a repository on a read-only file system, or one whose files this process may only read,
    /// can be listed and inspected. Running a pipeline needs [`Repository::open`].
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Repository, RepositoryError> {
        let (root, config) = Repository::find_config(dir)?;
        Repository::open_root(root, config, OpenMode::ReadOnly)
    }

    /// Starts a new, empty history for the repository that holds `dir`, whose metadata store is
    /// missing or empty: creates the store its config names, then opens the repository. The
    /// records of the old store are not recovered (its artifacts stay in the artifact store and
    /// are stored again as new runs produce them).
    ///
    /// A store that exists is never replaced: one that holds a zenml store is
    /// [`RepositoryError::AlreadyExists`], a damaged one its [`RepositoryError::MetadataLost`]
    /// error (move the damaged file aside first).
    pub fn recreate_metadata_store(dir: impl AsRef<Path>) -> Result<Repository, RepositoryError> {
        let (root, config) = Repository::find_config(dir)?;
        let zdir = root.join(REPOSITORY_DIR);
        match open_metadata_store(&config.metadata, &zdir, OpenMode::Existing) {
            Ok(_) => return Err(RepositoryError::StoreExists(root)),
            Err(MetadataError::Missing { .. }) => {}
            Err(e) => return Err(lost(&root, e)),
        }
        let metadata = open_metadata_store(&config.metadata, &zdir, OpenMode::Create)?;
        let artifacts = open_artifact_store(&config.artifacts.url, &zdir)?;
        Ok(Repository::assemble(root, config, metadata, artifacts))
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
    /// owner only), replacing the file atomically, without opening any store.
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

    /// Opens the repository that holds `dir`, or creates one in `dir` if there is none. Of
    /// several processes doing this at once in a folder without a repository, one creates it
    /// and the others open it.
    pub fn open_or_init(dir: impl AsRef<Path>) -> Result<Repository, RepositoryError> {
        let dir = dir.as_ref();
        match Repository::open(dir) {
            Err(RepositoryError::NotFound(_)) => match Repository::init(dir) {
                // Created by another process meanwhile.
                Err(RepositoryError::AlreadyExists(_)) => Repository::open(dir),
                other => other,
            },
            other => other,
        }
    }

    /// The root of the repository that holds `dir`: the nearest directory, `dir` or a parent,
    /// with `.zenml/config.yaml`.
    pub fn find(dir: &Path) -> Result<PathBuf, RepositoryError> {
        let start = match std::fs::canonicalize(dir) {
            Ok(start) => start,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
                return Err(RepositoryError::NotFound(absolute));
            }
            Err(e) => return Err(io_err(dir)(e)),
        };
        if !start.is_dir() {
            return Err(RepositoryError::NotADirectory(start));
        }
        let mut cur: Option<&Path> = Some(&start);
        while let Some(d) = cur {
            if d.join(REPOSITORY_DIR).join(CONFIG_FILE).is_file() {
                return Ok(d.to_owned());
            }
            cur = d.parent();
        }
        Err(RepositoryError::NotFound(start))
    }

    fn open_root(
        root: PathBuf,
        config: RepositoryConfig,
        mode: OpenMode,
    ) -> Result<Repository, RepositoryError> {
        let zdir = root.join(REPOSITORY_DIR);
        let metadata = open_metadata_store(&config.metadata, &zdir, mode).map_err(|e| match e {
            e @ (MetadataError::Missing { .. } | MetadataError::Damaged { .. }) => lost(&root, e),
            e => e.into(),
        })?;
        let artifacts = open_artifact_store(&config.artifacts.url, &zdir)?;
        Ok(Repository::assemble(root, config, metadata, artifacts))
    }

    fn assemble(
        root: PathBuf,
        config: RepositoryConfig,
        metadata: Arc<dyn MetadataQuery>,
        artifacts: Arc<dyn ArtifactStore>,
    ) -> Repository {
        let options = RunOptions {
            scratch_dir: root.join(REPOSITORY_DIR).join("tmp"),
            verify: config.cache.verify,
            ..RunOptions::default()
        };
        Repository {
            root: Some(root),
            config,
            metadata,
            artifacts,
            options,
        }
    }

    /// A repository over stores given in code, without a `.zenml/` folder (for tests and
    /// programs that manage their own stores).
    pub fn with_stores(
        metadata: Arc<dyn MetadataQuery>,
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
    pub fn with_metadata_store(mut self, store: Arc<dyn MetadataQuery>) -> Self {
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
    pub fn metadata_store(&self) -> &Arc<dyn MetadataQuery> {
        &self.metadata
    }

    /// The artifact store.
    pub fn artifact_store(&self) -> &Arc<dyn ArtifactStore> {
        &self.artifacts
    }

    /// The artifact store as content-addressed, verified artifacts.
    pub fn content(&self) -> crate::artifact::io::ContentStore<'_> {
        crate::artifact::io::ContentStore::new(self.artifacts.as_ref())
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

    /// Runs a pipeline with `orchestrator` ([`Local`](crate::orchestrator::Local) is what
    /// [`Repository::run`] does; [`Slurm`](crate::orchestrator::Slurm) runs each step as a job).
    pub fn run_on(
        &self,
        pipeline: &Pipeline,
        orchestrator: &dyn crate::orchestrator::Orchestrator,
    ) -> Result<RunSummary, RepositoryError> {
        Ok(orchestrator.run(&self.runner(), pipeline)?)
    }

    /// Executes step `step` of the recorded run `run` in this process, reading its inputs from
    /// the stores: the per-step entrypoint orchestrators start (see [`Runner::exec_step`]).
    pub fn exec_step(
        &self,
        run: &str,
        step: &str,
    ) -> Result<crate::runner::StepSummary, RepositoryError> {
        Ok(self.runner().exec_step(run, step)?)
    }

    /// Brings the record of a run whose steps execute elsewhere up to date, and finishes it
    /// when every step has ended (see [`crate::orchestrator::settle`]).
    pub fn settle(
        &self,
        run: &crate::store::RunRecord,
    ) -> Result<crate::store::RunRecord, RepositoryError> {
        Ok(crate::orchestrator::settle(&self.runner(), run)?)
    }

    /// Closes what dead processes left behind: runs whose process is gone become
    /// `interrupted`, and stale staged bytes are removed (see [`Runner::sweep`]). Every run
    /// does this before it starts.
    pub fn sweep(&self) -> Result<Sweep, RepositoryError> {
        Ok(self.runner().sweep()?)
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

/// `message` with every double-quoted value (`invalid type: string "…"`) replaced by `"…"`;
/// names in backquotes (fields, variants) are kept.
fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('"') {
            Some(close) => {
                out.push_str("\"…\"");
                rest = &after[close + 1..];
            }
            None => {
                out.push_str("\"…");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// How a failure to read a repository's metadata store can be recovered from.
fn recovery(root: &Path, e: &MetadataError) -> String {
    let command = format!(
        "`zenml init --new-metadata-store {}`",
        shell_quote(&root.to_string_lossy())
    );
    match e {
        MetadataError::Damaged { .. } => format!(
            "restore it from a backup, or move the damaged file aside (keep it: it may be \
             recoverable) and start a new, empty history with {command}"
        ),
        _ => format!("restore it from a backup, or start a new, empty history with {command}"),
    }
}

fn lost(root: &Path, source: MetadataError) -> RepositoryError {
    RepositoryError::MetadataLost {
        root: root.to_owned(),
        source,
    }
}

/// `s` as one word for a POSIX shell: as it is when it needs no quoting, else single-quoted.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:=@%".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The config file's text.
fn config_text(config: &RepositoryConfig) -> String {
    format!(
        "# zenml repository config: the metadata store and the artifact store.\n{}",
        config.to_yaml()
    )
}

/// Writes `config` to a new file beside `path` with a name no other process uses, readable by
/// its owner only (it may hold a password), and flushed to disk. Returns the file's path.
fn write_temp_config(path: &Path, config: &RepositoryConfig) -> Result<PathBuf, RepositoryError> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = path.with_extension(format!("yaml.{}-{n}-{nanos:x}.tmp", std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let written = (|| {
        let mut f = opts.open(&tmp)?;
        std::io::Write::write_all(&mut f, config_text(config).as_bytes())?;
        f.sync_all()
    })();
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(io_err(&tmp)(e))
        }
    }
}

/// Publishes `config` at `path` only if there is no file there: `true` if this call published
/// it, `false` if one was there (or appeared meanwhile). Readers never see a partial file.
fn publish_config(path: &Path, config: &RepositoryConfig) -> Result<bool, RepositoryError> {
    let tmp = write_temp_config(path, config)?;
    // A hard link is created only where no file is: the atomic "create if absent" of a whole,
    // already written file.
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_dir(path);
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Writes the config readable by its owner only (it may hold a password), replacing the file
/// atomically.
fn write_config(path: &Path, config: &RepositoryConfig) -> Result<(), RepositoryError> {
    let tmp = write_temp_config(path, config)?;
    match std::fs::rename(&tmp, path) {
        Ok(()) => {
            sync_dir(path);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(io_err(path)(e))
        }
    }
}

/// Flushes the folder holding `path`, so that a new name in it survives a power loss (best
/// effort: not every platform can open a folder).
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
}
