//! The `zenml` command line, as a library: a binary of your own that links your steps serves
//! the whole CLI with one line.
//!
//! ```no_run
//! // src/bin/my-zenml.rs — links the crate that defines the steps, so configs can use them.
//! fn main() -> std::process::ExitCode {
//!     zenml::cli::main()
//! }
//! ```
//!
//! # Why a binary of your own
//!
//! Configs name steps by source path (`my_crate::steps::MyTrainer@1`), and a step is found
//! through the registry that `#[step]` fills **at link time**: only the steps of crates linked
//! into the running binary are there. The generic `zenml` binary links only zenml's own steps, so
//! it can list, inspect and compare everything in a repository, but `pipeline run` of a config
//! that uses your steps needs a binary that links your crate. If the steps live in a library the
//! binary does not otherwise use, add `use my_steps as _;` so the linker keeps it.
//!
//! # Output
//!
//! Results go to standard output: tables for people, or with `--json` one JSON value whose shape
//! is documented in [`json`]. Errors and warnings go to standard error, one line each, starting
//! `error: ` or `warning: `. Colour is used only when standard error is a terminal, and never
//! when the `NO_COLOR` environment variable is set to anything but the empty string. Output into
//! a pipe that closes early (`zenml run list | head -1`) ends the command quietly.
//!
//! `zenml completions bash|zsh|fish|elvish|powershell` prints a completion script for a shell,
//! for example `zenml completions bash > ~/.local/share/bash-completion/completions/zenml`.
//!
//! # Exit codes
//!
//! 0 on success (and when the reader of the output went away), 1 when the command failed (a
//! failed run, an invalid config, a missing repository), 2 for a malformed command line.

mod commands;
mod format;
pub mod json;
mod progress;

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "zenml",
    version,
    about = "Reproducible machine-learning pipelines, recorded in ML Metadata",
    propagate_version = true
)]
struct Cli {
    /// Work on the repository that holds this directory.
    #[arg(
        long,
        short = 'C',
        global = true,
        default_value = ".",
        value_name = "DIR"
    )]
    repo: PathBuf,
    #[command(subcommand)]
    command: Command,
    /// How this command line is started again (for the jobs of an orchestrator): the program and
    /// the arguments before the command line's own.
    #[arg(skip)]
    entrypoint: Vec<OsString>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a repository (.zenml/) in DIR, with a SQLite metadata store and a local artifact
    /// folder.
    Init {
        /// Where to create it.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// In the existing repository at DIR, whose metadata store is missing or empty, start a
        /// new, empty one (its history is not recovered; a store that exists is never replaced).
        #[arg(long)]
        new_metadata_store: bool,
    },
    /// Show or change the repository's stores.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Pipelines: list, get, run, compare, record, export.
    #[command(subcommand)]
    Pipeline(PipelineCommand),
    /// Runs: list, show.
    #[command(subcommand)]
    Run(RunCommand),
    /// Steps this binary can run.
    #[command(subcommand)]
    Step(StepCommand),
    /// Artifacts: show, lineage.
    #[command(subcommand)]
    Artifact(ArtifactCommand),
    /// The cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Close runs whose process is gone (killed, or its machine went down) as interrupted, and
    /// remove what dead writers left in the artifact store's staging area.
    Repair {
        #[command(flatten)]
        json: Json,
    },
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
        /// The command's name in the script: the name the binary is called by.
        #[arg(long, default_value = "zenml", value_name = "NAME")]
        bin: String,
    },
}

#[derive(Debug, Args)]
struct Json {
    /// Print JSON for scripts instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Show the stores in use (never a password).
    Show(Json),
    /// Set the metadata store.
    #[command(subcommand)]
    Metadata(MetadataCommand),
    /// Set the artifact store.
    #[command(subcommand)]
    Artifacts(ArtifactsCommand),
    /// How the cache checks what it reuses.
    #[command(subcommand)]
    Cache(CacheSettingCommand),
}

#[derive(Debug, Subcommand)]
enum CacheSettingCommand {
    /// How reused outputs are checked before a cache hit: `quick` trusts an object whose size
    /// and version tag are unchanged (fast; cannot see bytes altered in place with their
    /// modification time put back), `full` reads and hashes every reused output.
    Verify {
        /// `quick` (the default) or `full`.
        #[arg(value_parser = ["quick", "full"])]
        mode: String,
    },
}

#[derive(Debug, Subcommand)]
enum MetadataCommand {
    /// Use a metadata store.
    #[command(subcommand)]
    Set(MetadataTarget),
}

#[derive(Debug, Subcommand)]
enum MetadataTarget {
    /// A SQLite file (relative paths are relative to .zenml/).
    Sqlite {
        /// The database file.
        #[arg(default_value = "metadata.db")]
        path: PathBuf,
    },
    /// A MySQL (5.6 or later) or MariaDB database.
    ///
    /// A value that does not fit its option is refused without being shown: it may be a
    /// password typed into the wrong place.
    Mysql {
        /// Host name or address (without a user or password: see --username and --password-env).
        #[arg(long, allow_hyphen_values = true, value_parser = TextParser::Host)]
        host: String,
        /// TCP port.
        #[arg(
            long,
            default_value_t = 3306,
            allow_hyphen_values = true,
            value_parser = PortParser
        )]
        port: u16,
        /// User name.
        #[arg(long = "username", visible_alias = "user", value_name = "NAME")]
        user: String,
        /// Database name (created by the server's administrator; zenml creates its tables).
        #[arg(long)]
        database: String,
        /// Name of an environment variable holding the password (recommended).
        #[arg(
            long,
            value_name = "VAR",
            conflicts_with = "password",
            allow_hyphen_values = true,
            value_parser = TextParser::EnvName
        )]
        password_env: Option<String>,
        /// The password, stored in .zenml/config.yaml (readable by its owner only).
        #[arg(long, allow_hyphen_values = true)]
        password: Option<String>,
        /// Connect over TLS (a binary built with the `mysql-tls` feature).
        #[arg(long)]
        tls: bool,
        /// Stray words (a password with a space, not quoted), refused without being shown.
        #[arg(hide = true, value_parser = TextParser::Stray)]
        stray: Vec<String>,
    },
}

/// `--port`: a number from 1 to 65535, refused without being shown (clap's own message would
/// quote it, and a value that is not a port may be a password typed into the wrong option).
#[derive(Clone, Copy, Debug)]
struct PortParser;

impl TypedValueParser for PortParser {
    type Value = u16;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<u16, clap::Error> {
        match value.to_str().map(str::parse::<u16>) {
            Some(Ok(port)) if port > 0 => Ok(port),
            _ => Err(refused(
                cmd,
                ErrorKind::ValueValidation,
                "--port takes a port, a number from 1 to 65535; the value given is not one, and \
                 is not shown in case it is a password typed into the wrong option",
            )),
        }
    }
}

/// The text options of `config metadata set mysql` that may be given a password by mistake:
/// each refuses a value that does not fit without showing it (clap's own messages quote it).
#[derive(Clone, Copy, Debug)]
enum TextParser {
    /// `--host`: anything without `@` (credentials go to `--user` and `--password-env`).
    Host,
    /// `--password-env`: an environment variable's name.
    EnvName,
    /// A word that belongs to no option.
    Stray,
}

impl TypedValueParser for TextParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        let value = value.to_str();
        match self {
            TextParser::Host => match value {
                Some(host) if !host.contains('@') => Ok(host.to_owned()),
                _ => Err(refused(
                    cmd,
                    ErrorKind::ValueValidation,
                    "--host takes a host name or address only; the value given contains `@` (or \
                     is not UTF-8), so it may hold credentials, and is not shown: give the user \
                     with --username and the password in an environment variable named by \
                     --password-env",
                )),
            },
            TextParser::EnvName => match value {
                Some(name) if is_env_name(name) => Ok(name.to_owned()),
                _ => Err(refused(
                    cmd,
                    ErrorKind::ValueValidation,
                    "--password-env takes the name of an environment variable (letters, digits \
                     and `_`, not starting with a digit), not the password itself; the value \
                     given is not such a name, and is not shown",
                )),
            },
            TextParser::Stray => Err(refused(
                cmd,
                ErrorKind::UnknownArgument,
                "unexpected argument, not shown in case it is part of a password: quote a \
                 password that has spaces, or better, put it in an environment variable named by \
                 --password-env",
            )),
        }
    }
}

/// How this command line is started again: this program, and the process's arguments before
/// `args` (the command line's own, after its program name) when the process's arguments end
/// with them (`quickstart zenml …` serves the command line after `zenml`).
fn entrypoint(args: &[OsString]) -> Vec<OsString> {
    let exe = std::env::current_exe().map_or_else(
        |_| args.first().cloned().unwrap_or_else(|| "zenml".into()),
        PathBuf::into_os_string,
    );
    let process: Vec<OsString> = std::env::args_os().collect();
    let own = args.get(1..).unwrap_or_default();
    let mut command = vec![exe];
    if let Some(before) = process.len().checked_sub(own.len())
        && before >= 1
        && process[before..] == *own
    {
        command.extend(process[1..before].iter().cloned());
    }
    command
}

/// A portable environment variable name: letters, digits and `_`, not starting with a digit.
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A command-line error with the usage, like clap's own, whose message shows no value.
fn refused(cmd: &clap::Command, kind: ErrorKind, message: &str) -> clap::Error {
    cmd.clone().error(kind, message)
}

#[derive(Debug, Subcommand)]
enum ArtifactsCommand {
    /// Use an artifact store: a folder (relative to .zenml/), or s3://, gs://, az:// URL
    /// (without credentials: the cloud's standard environment variables hold them).
    Set {
        /// The folder or URL.
        url: String,
    },
}

#[derive(Debug, Subcommand)]
enum PipelineCommand {
    /// List the recorded pipelines.
    List(Json),
    /// Print a recorded pipeline's config (YAML).
    Get {
        /// The pipeline's name.
        name: String,
    },
    /// Run a pipeline config (YAML) with the steps linked into this binary.
    Run {
        /// The config file.
        config: PathBuf,
        /// Execute every step, reusing nothing from the cache.
        #[arg(long)]
        no_cache: bool,
        /// Print nothing while running.
        #[arg(long, short)]
        quiet: bool,
        /// How many steps may execute at once (in this process).
        #[arg(long, short = 'j', value_name = "N")]
        jobs: Option<usize>,
        /// Where the steps execute: `local` (in this process) or `slurm` (each step that is not
        /// cached as a Slurm job running `step exec`; the binary, the repository and the working
        /// directory must be on a file system the cluster's nodes share).
        #[arg(long, value_enum, default_value = "local")]
        orchestrator: OrchestratorKind,
        /// The Slurm partition to submit to (the cluster's default without it).
        #[arg(long, value_name = "P")]
        partition: Option<String>,
        /// An extra argument for every `sbatch` (repeat for several: `--sbatch-arg=--qos=low`).
        #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
        sbatch_args: Vec<String>,
        /// Return once the jobs are submitted; `run show` follows the run later.
        #[arg(long)]
        detach: bool,
        #[command(flatten)]
        json: Json,
    },
    /// Compare training runs: trainer parameters beside evaluator metrics.
    Compare {
        #[command(flatten)]
        json: Json,
        /// Write the report with charts to this file: one self-contained HTML file that works
        /// offline.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// The metric the report charts the parameters against (default: accuracy, else the
        /// first by name).
        #[arg(long, value_name = "NAME", requires = "html")]
        metric: Option<String>,
    },
    /// Record a run of a pipeline config without executing anything, and print its name: its
    /// steps are then executed one by one with `step exec` (by an orchestrator of your own).
    Record {
        /// The config file.
        config: PathBuf,
    },
    /// Write a pipeline config as Kubernetes manifests whose containers run `step exec`.
    Export {
        /// The config file.
        config: PathBuf,
        /// `k8s-jobs`: a batch/v1 Job per step, for a run recorded with `pipeline record`;
        /// `argo`: one Argo Workflow that records the run and runs the DAG.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// The container image, holding a binary that links the pipeline's steps.
        #[arg(long)]
        image: String,
        /// The recorded run the Jobs execute (`k8s-jobs`).
        #[arg(long, required_if_eq("format", "k8s-jobs"))]
        run: Option<String>,
        /// The program in the image serving this command line, and any arguments before the
        /// command line's own (repeat: `--command /app/quickstart --command zenml`).
        #[arg(long = "command", value_name = "WORD", default_value = "zenml")]
        command: Vec<String>,
        /// Where the repository (the folder holding `.zenml/config.yaml`) is in the container.
        #[arg(long, value_name = "DIR", default_value = "/zenml")]
        repository_dir: String,
    },
}

/// What `pipeline export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ExportFormat {
    /// A batch/v1 Job per step.
    K8sJobs,
    /// One Argo Workflow.
    Argo,
}

/// Where a pipeline's steps execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum OrchestratorKind {
    /// In this process.
    Local,
    /// Each step as a Slurm job.
    Slurm,
}

#[derive(Debug, Subcommand)]
enum RunCommand {
    /// List runs, oldest first.
    List {
        /// Only the runs of this pipeline.
        #[arg(long, short)]
        pipeline: Option<String>,
        #[command(flatten)]
        json: Json,
    },
    /// Show a run's steps: state, parameters, metrics, artifacts.
    Show {
        /// The run's name (`Pipeline A#2`) or id.
        run: String,
        #[command(flatten)]
        json: Json,
    },
}

#[derive(Debug, Subcommand)]
enum StepCommand {
    /// List the step types linked into this binary.
    List(Json),
    /// Show the versions of a step type that ran in this repository.
    Versions {
        /// The step's source path.
        source: String,
        #[command(flatten)]
        json: Json,
    },
    /// Execute one step of a recorded run in this process, reading its inputs from the stores
    /// (what an orchestrator's job runs). Exits 0 when the step completed or was cached (also
    /// when it already completed in the run), 1 when it failed or cannot run yet.
    Exec {
        /// The run's name (`Pipeline A#2`).
        #[arg(long)]
        run: String,
        /// The step's name in the run's pipeline.
        #[arg(long)]
        step: String,
        /// Print nothing while the step runs.
        #[arg(long, short)]
        quiet: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ArtifactCommand {
    /// Show an artifact: type, size, hash, producer and consumers.
    Show {
        /// The artifact's id.
        id: i64,
        #[command(flatten)]
        json: Json,
    },
    /// Show where an artifact came from, recursively.
    Lineage {
        /// The artifact's id.
        id: i64,
        #[command(flatten)]
        json: Json,
    },
    /// Check every stored artifact against its hash, reading each object once (exit code 1
    /// when damage is found and not repaired).
    Verify {
        /// Remove damaged objects (move aside what stands in place of one), so that the steps
        /// that produced them are computed again the next time their pipelines run.
        #[arg(long)]
        repair: bool,
        #[command(flatten)]
        json: Json,
    },
}

#[derive(Debug, Subcommand)]
enum CacheCommand {
    /// Stop reusing cached executions (all, or those with one cache key); nothing recorded is
    /// deleted.
    Clear {
        /// Only this cache key (32 hexadecimal digits).
        #[arg(long)]
        key: Option<String>,
    },
}

/// A command that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// A repository operation failed.
    #[error(transparent)]
    Repository(#[from] zenml_core::repository::RepositoryError),
    /// Orchestrating a run failed.
    #[error(transparent)]
    Orchestrator(#[from] zenml_core::orchestrator::OrchestratorError),
    /// A pipeline config is invalid.
    #[error(transparent)]
    Config(#[from] zenml_core::pipeline::ConfigError),
    /// The step registry is broken.
    #[error(transparent)]
    Registry(#[from] zenml_core::registry::RegistryError),
    /// The metadata store failed.
    #[error(transparent)]
    Metadata(#[from] zenml_core::store::MetadataError),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
    /// The report cannot be made or written.
    #[cfg(feature = "report")]
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// An argument that is well-formed but unusable.
    #[error("{0}")]
    Invalid(String),
}

/// Runs the CLI on the process's arguments, printing to stdout and stderr; returns the exit
/// code. `fn main() -> ExitCode { zenml::cli::main() }` is a whole `zenml` binary.
pub fn main() -> ExitCode {
    main_with_args(std::env::args_os())
}

/// Runs the CLI on `args` (the first is the program name), printing to stdout and stderr, with
/// colour when stderr is a terminal and `NO_COLOR` is unset; returns the exit code. For a binary
/// that serves the CLI under a subcommand of its own (`my-binary zenml run list`).
pub fn main_with_args(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> ExitCode {
    use std::io::IsTerminal;
    let color = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    // Not locked for the whole command: steps on threads of their own (a step with a time
    // limit) print their lines meanwhile, and would wait for the lock forever.
    run_styled(args, &mut std::io::stdout(), &mut std::io::stderr(), color)
}

/// Runs the CLI on `args` (the first is the program name), writing results to `out` and errors
/// to `err`, without colour; returns the exit code.
pub fn run(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> ExitCode {
    run_styled(args, out, err, false)
}

fn run_styled(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    out: &mut dyn Write,
    err: &mut dyn Write,
    color: bool,
) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => Cli {
            entrypoint: entrypoint(&args),
            ..cli
        },
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let text = if color && code == 2 {
                e.render().ansi().to_string()
            } else {
                e.render().to_string()
            };
            let _ = if code == 0 {
                write!(out, "{text}")
            } else {
                write!(err, "{text}")
            };
            return ExitCode::from(code);
        }
    };
    let mut diagnostics = Diagnostics { err, color };
    match commands::dispatch(cli, out, &mut diagnostics) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`zenml run list | head`): end quietly, as other tools do.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            diagnostics.error(format::error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// Where errors and warnings go, one line each, in one style: `error: …`, `warning: …`, the
/// label in bold colour when colour is on.
pub(crate) struct Diagnostics<'a> {
    err: &'a mut dyn Write,
    color: bool,
}

impl Diagnostics<'_> {
    /// `error: message`.
    pub(crate) fn error(&mut self, message: impl std::fmt::Display) {
        self.line("error", anstyle::AnsiColor::Red, message);
    }

    /// `warning: message`.
    pub(crate) fn warn(&mut self, message: impl std::fmt::Display) {
        self.line("warning", anstyle::AnsiColor::Yellow, message);
    }

    fn line(&mut self, label: &str, color: anstyle::AnsiColor, message: impl std::fmt::Display) {
        let style = if self.color {
            anstyle::Style::new().bold().fg_color(Some(color.into()))
        } else {
            anstyle::Style::new()
        };
        // Nothing is left to report a failure to write to stderr to.
        let _ = writeln!(self.err, "{style}{label}:{style:#} {message}");
    }
}
