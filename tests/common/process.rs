//! The example's binary as processes: running commands, starting several at the same moment,
//! workspaces with the iris data.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The quickstart example's binary: `…/debug/deps/<test>-<hash>` → `…/debug/examples/quickstart`.
/// It runs the quickstart, and serves the whole CLI as `quickstart zenml <args>` with the
/// example's steps linked in.
pub fn quickstart() -> PathBuf {
    example("quickstart")
}

/// The binary of example `name` (built by `cargo test` before the tests, when its features are
/// enabled).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in <target>/<profile>/deps");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: `cargo test` builds the examples before the tests (when only one test \
         file is selected, build them first: `cargo build --examples`, with the example's \
         features)",
        path.display()
    );
    path
}

/// What a command did.
#[derive(Debug)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    fn of(out: std::process::Output) -> Out {
        Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts exit code 0.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "the command failed: {self:#?}");
        self
    }

    /// Asserts exit code 1 and exactly one `error:` line on stderr, and returns that line.
    #[track_caller]
    pub fn one_error(&self) -> &str {
        assert_eq!(self.code, Some(1), "{self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one error line: {self:#?}");
        assert!(lines[0].starts_with("error: "), "{self:#?}");
        lines[0]
    }
}

/// `quickstart zenml <args>` in `dir`.
pub fn zenml(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(quickstart())
        .arg("zenml")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary starts");
    Out::of(out)
}

/// `<example> zenml <args>` in `dir`, for an example that serves the CLI.
pub fn example_zenml(name: &str, dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(example(name))
        .arg("zenml")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary starts");
    Out::of(out)
}

/// Example `name` itself, without arguments, in `dir`.
pub fn run_example(name: &str, dir: &Path) -> Out {
    let out = Command::new(example(name))
        .current_dir(dir)
        .output()
        .expect("the binary starts");
    Out::of(out)
}

/// The quickstart itself (pipelines A and B) in `dir`.
pub fn run_quickstart(dir: &Path) -> Out {
    let out = Command::new(quickstart())
        .current_dir(dir)
        .output()
        .expect("the binary starts");
    Out::of(out)
}

/// A fresh directory with the iris data where the quickstart expects it.
pub fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("examples").join("data");
    std::fs::create_dir_all(&data).expect("examples/data");
    std::fs::copy(crate::common::iris_path(), data.join("iris.csv")).expect("iris.csv copied");
    dir
}

/// A hand-written training config with the built-in steps and the quickstart's; `{name}` and
/// `{alpha}` are filled in by [`iris_config`].
const IRIS: &str = "\
version: 1
name: {name}
template: training
steps:
  datasource:
    source: zenml::steps::CsvDatasource@1
    args:
      path: examples/data/iris.csv
  split:
    source: zenml::steps::RandomSplit@1
    args: { train_ratio: 0.7 }
  preprocesser:
    source: zenml::steps::StandardScaler@1
    args:
      exclude: species
  trainer:
    source: quickstart::LogisticTrainer@1
    args:
      alpha: {alpha}
      max_iterations: 50
  evaluator:
    source: quickstart::ClassificationMetrics@1
";

/// The iris training config named `name`, its trainer regularised by `alpha`.
pub fn iris_config(name: &str, alpha: f64) -> String {
    IRIS.replace("{name}", name)
        .replace("{alpha}", &format!("{alpha:?}"))
}

/// A general config of zenml's own steps (which the tests and the quickstart binary both link)
/// named `name`: `load` reads the iris data, `split` splits it into `train` and `eval`, then
/// `more` adds steps (YAML, indented as `load` is).
pub fn built_in_config(name: &str, more: &str) -> String {
    format!(
        "\
version: 1
name: {name}
steps:
  load:
    source: zenml_core::steps::CsvDatasource@1
    args: {{ path: examples/data/iris.csv }}
  split:
    source: zenml_core::steps::RandomSplit@1
    args: {{ train_ratio: 0.7 }}
    inputs: {{ data: load.data }}
{more}"
    )
}

/// Processes held back at a gate, then let through all at once.
///
/// Each runs under `sh`, which first reads one line from a pipe the processes share, then
/// becomes the command. Until [`Gate::open`] writes a line for each, they wait; then they all
/// start together. No process is timed: the gate is a barrier.
pub struct Gate {
    children: Vec<Child>,
    writer: Option<std::io::PipeWriter>,
}

impl Gate {
    /// Starts every command of `commands` held at the gate, with stdout and stderr captured.
    pub fn hold(commands: Vec<Command>) -> Gate {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        let children = commands
            .into_iter()
            .map(|c| {
                let mut sh = Command::new("sh");
                sh.arg("-c")
                    .arg("read _ && exec \"$@\"")
                    .arg("gate")
                    .arg(c.get_program())
                    .args(c.get_args())
                    .stdin(Stdio::from(
                        reader.try_clone().expect("the pipe's read end"),
                    ))
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                if let Some(dir) = c.get_current_dir() {
                    sh.current_dir(dir);
                }
                for (k, v) in c.get_envs() {
                    match v {
                        Some(v) => sh.env(k, v),
                        None => sh.env_remove(k),
                    };
                }
                sh.spawn().expect("sh starts")
            })
            .collect();
        Gate {
            children,
            writer: Some(writer),
        }
    }

    /// Lets every process through, and waits for them all.
    pub fn open(mut self) -> Vec<Out> {
        if let Some(mut writer) = self.writer.take() {
            let lines = "\n".repeat(self.children.len());
            writer.write_all(lines.as_bytes()).expect("open the gate");
        }
        std::mem::take(&mut self.children)
            .into_iter()
            .map(|c| Out::of(c.wait_with_output().expect("the process ends")))
            .collect()
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        // A test that failed before opening the gate: stop whatever still waits.
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `quickstart` with `args` in `dir`, as a command to hold at a [`Gate`].
pub fn quickstart_command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(quickstart());
    c.args(args).current_dir(dir);
    c
}

/// Whether the environment says this is a CI run.
pub fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Runs `script` under `sh` in a mount namespace of its own (so mounts made in it vanish with
/// it), or says why it cannot: that needs `unshare` and the right to make mounts (root).
pub fn in_private_mounts(script: &str) -> Result<Out, String> {
    let probe = Command::new("unshare")
        .args(["--mount", "--", "true"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Err(format!(
                "`unshare --mount` is not permitted here (it needs root): {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Err(e) => return Err(format!("`unshare` cannot be run: {e}")),
    }
    let out = Command::new("unshare")
        .args(["--mount", "--", "sh", "-c", script])
        .output()
        .map_err(|e| format!("`unshare` cannot be run: {e}"))?;
    Ok(Out::of(out))
}

/// The state of each step, in order, in the `--json` output of `zenml pipeline run`.
pub fn step_states(out: &Out) -> Vec<String> {
    let json: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {out:#?}"));
    json["steps"]
        .as_array()
        .expect("a steps array")
        .iter()
        .map(|s| s["state"].as_str().expect("a state").to_owned())
        .collect()
}
