//! Google's ML Metadata reader (`tools/mlmd/mlmd_read.py` in the repository), run on a store for
//! compatibility tests.
//!
//! [`PYTHON_VAR`] names a python with ml-metadata 1.17.1 (`tools/mlmd/setup.sh` prints one);
//! without it, compatibility tests skip with a printed reason. The reader script is
//! [`READER_VAR`], or else `tools/mlmd/mlmd_read.py` in the workspace.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable naming a python with ml-metadata 1.17.1.
pub const PYTHON_VAR: &str = "ZENML_TEST_MLMD_PYTHON";
/// The environment variable naming the reader script (`tools/mlmd/mlmd_read.py` when unset).
pub const READER_VAR: &str = "ZENML_TEST_MLMD_READER";

/// The reader, as the environment names it.
#[derive(Clone, Debug)]
pub struct MlmdReader {
    python: PathBuf,
    script: PathBuf,
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl MlmdReader {
    /// The reader the environment names, given the workspace's root (which holds
    /// `tools/mlmd/`); `Err` says why there is none, for a test to print as its reason to skip.
    pub fn from_env(workspace_root: &Path) -> Result<MlmdReader, String> {
        let python = env_path(PYTHON_VAR).ok_or_else(|| {
            format!(
                "set {PYTHON_VAR} to a python with ml-metadata 1.17.1 (tools/mlmd/setup.sh \
                 prints one) to check the store with Google's reader"
            )
        })?;
        let script = env_path(READER_VAR).unwrap_or_else(|| {
            workspace_root
                .join("tools")
                .join("mlmd")
                .join("mlmd_read.py")
        });
        if !script.is_file() {
            return Err(format!(
                "{} is missing; set {READER_VAR} to mlmd_read.py (tools/mlmd/mlmd_read.py in \
                 the repository)",
                script.display()
            ));
        }
        Ok(MlmdReader { python, script })
    }

    /// Runs the reader on `db` (a SQLite file, or a `mysql://` URL) and parses the JSON it
    /// prints; Python's `NaN` and `Infinity` are read as the strings `"NaN"`, `"Infinity"`.
    pub fn read(&self, db: impl AsRef<OsStr>) -> Result<serde_json::Value, String> {
        let out = Command::new(&self.python)
            .arg(&self.script)
            .arg(db)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.python.display()))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "ml_metadata could not read the store ({}):\n{}\n{stdout}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let sanitized = stdout
            .replace(": NaN", ": \"NaN\"")
            .replace(": -Infinity", ": \"-Infinity\"")
            .replace(": Infinity", ": \"Infinity\"");
        serde_json::from_str(&sanitized).map_err(|e| format!("unreadable JSON ({e}):\n{stdout}"))
    }
}
