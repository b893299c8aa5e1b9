//! Repositories on the default stores (SQLite and a local folder) in temporary directories, and
//! Google's ML Metadata reader.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use zenml::Repository;
use zenml::artifact::io::content_key;
use zenml::runner::QuietProgress;
use zenml::store::ArtifactRecord;
use zenml_core::store::conformance::mlmd::MlmdReader;

/// A repository made with `Repository::init` in a fresh temporary directory: SQLite metadata
/// in `.zenml/metadata.db`, artifacts in `.zenml/artifacts/`. Runs print nothing.
pub struct DiskRepo {
    pub repo: Repository,
    pub dir: tempfile::TempDir,
}

impl DiskRepo {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let repo = quiet_repo(Repository::init(dir.path()).expect("init a repository"));
        DiskRepo { repo, dir }
    }

    /// The directory holding `.zenml/`.
    pub fn root(&self) -> &Path {
        self.repo.root().expect("a repository on disk has a root")
    }

    /// `.zenml/metadata.db`.
    pub fn metadata_db(&self) -> PathBuf {
        self.root().join(".zenml").join("metadata.db")
    }

    /// The file that holds an artifact's bytes in the local artifact store.
    pub fn artifact_file(&self, record: &ArtifactRecord) -> PathBuf {
        artifact_file(self.root(), record)
    }

    /// A file in the temporary directory, outside the repository's folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// `repo`, printing nothing (and keeping its scratch folder).
pub fn quiet_repo(repo: Repository) -> Repository {
    let options = repo
        .options()
        .clone()
        .with_progress(Arc::new(QuietProgress));
    repo.with_options(options)
}

/// The file under `root/.zenml/artifacts/` that holds an artifact's bytes; checks that the
/// artifact's URI names it.
pub fn artifact_file(root: &Path, record: &ArtifactRecord) -> PathBuf {
    let key = content_key(record.hash);
    assert!(
        record.uri.starts_with("file://") && record.uri.ends_with(&key),
        "artifact {} is not at its content key {key} in a local folder",
        record.uri
    );
    root.join(".zenml").join("artifacts").join(key)
}

/// A copy of the iris data at `dest`.
pub fn copy_iris(dest: &Path) -> PathBuf {
    std::fs::copy(crate::common::iris_path(), dest).expect("copy iris.csv");
    dest.to_owned()
}

/// Google's ML Metadata reader, if the environment names one (else why not).
pub fn mlmd_reader() -> Result<MlmdReader, String> {
    MlmdReader::from_env(Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// Runs the reader on the SQLite store `db` and parses its JSON summary.
pub fn mlmd_read(reader: &MlmdReader, db: &Path) -> serde_json::Value {
    reader.read(db).unwrap_or_else(|e| panic!("{e}"))
}
