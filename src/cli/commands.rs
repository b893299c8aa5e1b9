//! What each command does.

use std::io::Write;
use std::sync::Arc;

use zenml_core::artifact::io::Damage;
use zenml_core::hash::Hash128;
use zenml_core::orchestrator::{KubernetesExport, Local, Orchestrator, OrchestratorError, Slurm};
use zenml_core::pipeline::{Pipeline, elide};
use zenml_core::registry::Registry;
use zenml_core::repository::{Lineage, Repository, RepositoryConfig};
use zenml_core::runner::{QuietProgress, RunError, StepStatus, Verify, human_duration};
use zenml_core::store::{
    ExecutionRecord, MetadataConfig, OpenMode, RunStatus, open_artifact_store, open_metadata_store,
    redact_host, redact_url,
};

use super::format::{date, json_out, params_text, size, table};
use super::json::{self, JsonValue};
use super::progress::LiveProgress;
use super::{
    ArtifactCommand, ArtifactsCommand, CacheCommand, CacheSettingCommand, Cli, CliError, Command,
    ConfigCommand, Diagnostics, ExportFormat, MetadataCommand, MetadataTarget, OrchestratorKind,
    PipelineCommand, RunCommand, StepCommand,
};

pub(super) fn dispatch(
    cli: Cli,
    out: &mut dyn Write,
    diagnostics: &mut Diagnostics<'_>,
) -> Result<(), CliError> {
    let open = || Repository::open(&cli.repo);
    // Commands that only look: they work on a repository this process may only read.
    let look = || Repository::open_read_only(&cli.repo);
    match cli.command {
        Command::Init {
            dir,
            new_metadata_store,
        } => {
            let dir = if dir.as_os_str() == "." {
                cli.repo.clone()
            } else {
                dir
            };
            let (repo, what) = if new_metadata_store {
                let repo = Repository::recreate_metadata_store(&dir)?;
                (
                    repo,
                    "Started a new, empty metadata store for the repository in",
                )
            } else {
                (Repository::init(&dir)?, "Initialized a zenml repository in")
            };
            writeln!(
                out,
                "{what} {}\n  metadata:  {}\n  artifacts: {}",
                repo.root().unwrap_or(&dir).join(".zenml").display(),
                repo.metadata_store().describe(),
                redact_url(&repo.artifact_store().describe())
            )?;
            Ok(())
        }
        Command::Config(c) => config(c, &cli.repo, out, diagnostics),
        Command::Pipeline(c @ (PipelineCommand::Run { .. } | PipelineCommand::Record { .. })) => {
            pipeline(c, &open()?, &cli.entrypoint, out)
        }
        // Writes manifests only: no repository needed.
        Command::Pipeline(c @ PipelineCommand::Export { .. }) => export(c, out),
        Command::Pipeline(c) => pipeline(c, &look()?, &cli.entrypoint, out),
        // Showing a run settles it first when its steps run elsewhere, which writes; a
        // repository this process may only read is shown as recorded.
        Command::Run(c @ RunCommand::Show { .. }) => run(c, &open().or_else(|_| look())?, out),
        Command::Run(c) => run(c, &look()?, out),
        Command::Step(StepCommand::Exec { run, step, quiet }) => {
            step_exec(&open()?, &run, &step, quiet, out)
        }
        Command::Step(StepCommand::List(j)) => step_list(j.json, out),
        Command::Step(StepCommand::Versions { source, json }) => {
            step_versions(&look()?, &source, json.json, out)
        }
        Command::Artifact(c) => {
            let repairs = matches!(c, ArtifactCommand::Verify { repair: true, .. });
            artifact(c, &if repairs { open()? } else { look()? }, out)
        }
        Command::Repair { json } => repair(&open()?, json.json, out),
        Command::Completions { shell, bin } => {
            // Generated into memory first: the generator panics on a failed write.
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, bin, &mut script);
            out.write_all(&script)?;
            Ok(())
        }
        Command::Cache(CacheCommand::Clear { key }) => {
            let repo = open()?;
            let key = match key {
                None => None,
                Some(k) => Some(
                    k.parse::<Hash128>()
                        .map_err(|e| CliError::Invalid(e.to_string()))?,
                ),
            };
            let n = repo.metadata_store().invalidate_cache(key)?;
            writeln!(out, "{n} cached execution(s) will no longer be reused")?;
            Ok(())
        }
    }
}

fn config(
    c: ConfigCommand,
    dir: &std::path::Path,
    out: &mut dyn Write,
    diagnostics: &mut Diagnostics<'_>,
) -> Result<(), CliError> {
    // The config file alone: a config whose stores cannot be opened (a backend this binary does
    // not link, a database that is down) can still be shown and changed.
    let (root, mut config) = Repository::find_config(dir)?;
    // A URL edited into config.yaml by hand may hold credentials: shown redacted, everywhere.
    let artifacts_url = redact_url(&config.artifacts.url).into_owned();
    match c {
        ConfigCommand::Show(j) => {
            let metadata = match &config.metadata {
                MetadataConfig::Mysql {
                    host,
                    port,
                    user,
                    database,
                    password,
                    password_env,
                    tls,
                } => json::MetadataSetting::Mysql {
                    host: redact_host(host).into_owned(),
                    port: *port,
                    user: user.clone(),
                    database: database.clone(),
                    password: password.as_ref().map(|_| "(set in config.yaml)".to_owned()),
                    password_env: password_env.clone(),
                    tls: *tls,
                },
                MetadataConfig::Sqlite { path } => json::MetadataSetting::Sqlite {
                    path: path.display().to_string(),
                },
                _ => json::MetadataSetting::Other {
                    backend: config.metadata.backend().to_owned(),
                },
            };
            let (metadata_store, artifact_store, problem) = match Repository::open_read_only(&root)
            {
                Ok(r) => (
                    r.metadata_store().describe(),
                    redact_url(&r.artifact_store().describe()).into_owned(),
                    None,
                ),
                Err(e) => (
                    describe_metadata(&config.metadata, &root),
                    artifacts_url.clone(),
                    Some(super::format::error_chain(&e)),
                ),
            };
            if let Some(problem) = &problem {
                diagnostics.warn(format_args!("the stores cannot be opened: {problem}"));
            }
            if j.json {
                json_out(
                    out,
                    &json::ConfigShow {
                        root: root.display().to_string(),
                        metadata,
                        metadata_store,
                        artifacts: json::ArtifactsSetting { url: artifacts_url },
                        artifact_store,
                        error: problem,
                    },
                )?;
            } else {
                writeln!(out, "repository: {}", root.display())?;
                writeln!(out, "metadata:   {metadata_store}")?;
                writeln!(out, "artifacts:  {artifact_store}")?;
            }
            return Ok(());
        }
        ConfigCommand::Metadata(MetadataCommand::Set(target)) => {
            config.metadata = match target {
                MetadataTarget::Sqlite { path } => {
                    let sqlite = MetadataConfig::Sqlite { path };
                    // A store is made once, deliberately, here: opening a repository never makes
                    // one (a missing store is reported, not replaced). An existing one is used.
                    open_metadata_store(&sqlite, &root.join(".zenml"), OpenMode::Create)?;
                    sqlite
                }
                MetadataTarget::Mysql {
                    host,
                    port,
                    user,
                    database,
                    password_env,
                    password,
                    tls,
                    stray: _,
                } => {
                    let mysql = MetadataConfig::Mysql {
                        host,
                        port,
                        user,
                        database,
                        password,
                        password_env,
                        tls,
                    };
                    // The server is asked before the setting is saved: a wrong host, password or
                    // database is reported now, and the schema is made in an empty database.
                    open_metadata_store(&mysql, &root.join(".zenml"), OpenMode::Create)?;
                    mysql
                }
            };
        }
        ConfigCommand::Cache(CacheSettingCommand::Verify { mode }) => {
            config.cache.verify = match mode.as_str() {
                "full" => Verify::Full,
                _ => Verify::Quick,
            };
        }
        ConfigCommand::Artifacts(ArtifactsCommand::Set { url }) => {
            // Refuse a URL this binary cannot open, or a bucket it cannot reach, before saving.
            open_artifact_store(&url, &root.join(".zenml"))
                .and_then(|store| store.probe())
                .map_err(|e| CliError::Invalid(e.to_string()))?;
            config.artifacts.url = url;
        }
    }
    save_and_check(&root, &config, out)
}

/// The metadata store a config names, for people, without a password or credentials.
fn describe_metadata(config: &MetadataConfig, root: &std::path::Path) -> String {
    match config {
        MetadataConfig::Sqlite { path } => {
            format!("sqlite:{}", root.join(".zenml").join(path).display())
        }
        MetadataConfig::Mysql {
            host,
            port,
            user,
            database,
            ..
        } => {
            if host.contains('@') {
                // Credentials typed into the host: shown redacted, in place of the user.
                format!("mysql://{}:{port}/{database}", redact_host(host))
            } else {
                format!("mysql://{user}@{host}:{port}/{database}")
            }
        }
        other => other.backend().to_owned(),
    }
}

fn save_and_check(
    root: &std::path::Path,
    config: &RepositoryConfig,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    Repository::save_config_at(root, config)?;
    match Repository::open(root) {
        Ok(r) => writeln!(
            out,
            "Saved.\n  metadata:  {}\n  artifacts: {}",
            r.metadata_store().describe(),
            redact_url(&r.artifact_store().describe())
        )?,
        Err(e) => writeln!(
            out,
            "Saved, but the stores cannot be opened yet: {}",
            super::format::error_chain(&e)
        )?,
    }
    Ok(())
}

/// `pipeline export`: Kubernetes manifests for a config.
fn export(c: PipelineCommand, out: &mut dyn Write) -> Result<(), CliError> {
    let PipelineCommand::Export {
        config,
        format,
        image,
        run,
        command,
        repository_dir,
    } = c
    else {
        return Ok(());
    };
    let pipeline = Pipeline::load(&config)?;
    let export = KubernetesExport::new(image)
        .with_command(command)
        .with_repository_dir(repository_dir);
    let yaml = match format {
        ExportFormat::K8sJobs => export.jobs(&pipeline, run.as_deref().unwrap_or_default()),
        ExportFormat::Argo => export.argo(&pipeline),
    }
    .map_err(|e| CliError::Invalid(e.to_string()))?;
    write!(out, "{yaml}")?;
    Ok(())
}

/// `step exec`: one step of a recorded run, in this process.
fn step_exec(
    repo: &Repository,
    run: &str,
    step: &str,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let mut options = repo.options().clone();
    if quiet {
        options = options.with_progress(Arc::new(QuietProgress));
    }
    let s = repo
        .runner()
        .with_options(options)
        .exec_step(run, step)
        .map_err(zenml_core::repository::RepositoryError::from)?;
    let how = match s.status {
        StepStatus::Cached => match (s.execution_id, s.cached_from) {
            (Some(id), Some(from)) if id == from => format!("already completed (execution {id})"),
            (id, from) => format!(
                "cached (execution {}, outputs of execution {})",
                id.map(|i| i.to_string()).unwrap_or_default(),
                from.map(|i| i.to_string()).unwrap_or_default()
            ),
        },
        _ => format!(
            "completed (execution {})",
            s.execution_id.map(|i| i.to_string()).unwrap_or_default()
        ),
    };
    writeln!(out, "step `{step}` of run `{run}`: {how}")?;
    Ok(())
}

fn pipeline(
    c: PipelineCommand,
    repo: &Repository,
    entrypoint: &[std::ffi::OsString],
    out: &mut dyn Write,
) -> Result<(), CliError> {
    match c {
        PipelineCommand::List(j) => {
            let pipelines = repo.get_pipelines()?;
            let runs = repo.get_runs(None)?;
            let items: Vec<json::Pipeline> = pipelines
                .iter()
                .map(|p| {
                    let mine: Vec<_> = runs.iter().filter(|r| r.pipeline_id == p.id).collect();
                    json::Pipeline::new(p, &mine)
                })
                .collect();
            if j.json {
                json_out(out, &items)?;
            } else if pipelines.is_empty() {
                writeln!(out, "No pipelines recorded yet.")?;
            } else {
                let rows = items
                    .iter()
                    .map(|p| {
                        let last = p.last_run.as_ref();
                        vec![
                            p.name.clone(),
                            p.runs.to_string(),
                            last.map(|r| r.name.clone()).unwrap_or_default(),
                            last.map(|r| r.status.clone()).unwrap_or_default(),
                            last.map(|r| date(r.started_ms)).unwrap_or_default(),
                        ]
                    })
                    .collect();
                table(
                    out,
                    &["pipeline", "runs", "last run", "status", "started"],
                    rows,
                )?;
            }
        }
        PipelineCommand::Get { name } => {
            let record = repo
                .metadata_store()
                .pipeline_by_name(&name)?
                .ok_or_else(|| {
                    CliError::Invalid(format!("no pipeline `{}` is recorded", elide(&name)))
                })?;
            write!(out, "{}", record.config)?;
        }
        PipelineCommand::Run {
            config,
            no_cache,
            quiet,
            jobs,
            orchestrator,
            partition,
            sbatch_args,
            detach,
            json,
        } => {
            let pipeline = Pipeline::load(&config)?;
            let mut options = repo.options().clone().with_cache(!no_cache);
            // Nothing with --quiet or --json; live lines and a bar on a terminal; else the
            // runner's plain lines.
            if quiet || json.json {
                options = options.with_progress(Arc::new(QuietProgress));
            } else if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                let steps: Vec<&str> = pipeline.steps().iter().map(|s| s.name()).collect();
                options = options.with_progress(Arc::new(LiveProgress::new(&steps)));
            }
            if let Some(n) = jobs {
                options = options.with_max_parallel(n);
            }
            let orchestrator: Box<dyn Orchestrator> = match orchestrator {
                OrchestratorKind::Local => Box::new(Local),
                OrchestratorKind::Slurm => {
                    let root = repo.root().ok_or_else(|| {
                        CliError::Invalid(
                            "the slurm orchestrator needs a repository on disk".to_owned(),
                        )
                    })?;
                    let mut slurm = Slurm::new(entrypoint.iter().cloned(), root)
                        .with_sbatch_args(sbatch_args)
                        .detached(detach);
                    if let Some(p) = partition {
                        slurm = slurm.with_partition(p);
                    }
                    Box::new(slurm)
                }
            };
            let summary = match orchestrator.run(&repo.runner().with_options(options), &pipeline) {
                Ok(s) => s,
                Err(OrchestratorError::Run(RunError::Step {
                    step, run, failure, ..
                })) => {
                    return Err(CliError::Invalid(format!(
                        "step `{step}` failed in run `{run}`: {}",
                        super::format::error_chain(&failure)
                    )));
                }
                Err(e) => return Err(e.into()),
            };
            if detach && !json.json && !quiet && summary.run.status == RunStatus::Running {
                writeln!(
                    out,
                    "Submitted run `{}`; `run show` follows it: {} run show '{}'",
                    summary.run.name,
                    entrypoint
                        .iter()
                        .map(|a| a.to_string_lossy())
                        .collect::<Vec<_>>()
                        .join(" "),
                    summary.run.name
                )?;
            }
            if json.json {
                json_out(
                    out,
                    &json::RunResult {
                        run: json::Run::from(&summary.run),
                        steps: summary.steps.iter().map(json::StepResult::from).collect(),
                    },
                )?;
            } else if quiet {
                writeln!(out, "{}", summary.run.name)?;
            }
        }
        PipelineCommand::Record { config } => {
            let pipeline = Pipeline::load(&config)?;
            let run = repo
                .runner()
                .record_run(&pipeline)
                .map_err(zenml_core::repository::RepositoryError::from)?;
            writeln!(out, "{}", run.name)?;
        }
        c @ PipelineCommand::Export { .. } => export(c, out)?,
        PipelineCommand::Compare {
            json: j,
            html,
            metric,
        } => {
            let c = repo.compare_training_runs()?;
            if let Some(path) = html {
                write_report(&c, &path, metric)?;
                writeln!(
                    out,
                    "Wrote the report of {} run(s) to {}",
                    c.rows.len(),
                    path.display()
                )?;
                return Ok(());
            }
            if j.json {
                json_out(out, &json::compare_rows(&c))?;
            } else if c.rows.is_empty() {
                writeln!(out, "No training runs recorded yet.")?;
            } else {
                write!(out, "{c}")?;
            }
        }
    }
    Ok(())
}

#[cfg(feature = "report")]
fn write_report(
    c: &zenml_core::repository::Comparison,
    path: &std::path::Path,
    metric: Option<String>,
) -> Result<(), CliError> {
    use crate::report::{ComparisonExt, ReportOptions};
    let options = ReportOptions::default();
    let options = match metric {
        Some(m) => options.with_metric(m),
        None => options,
    };
    Ok(c.write_html(path, &options)?)
}

#[cfg(not(feature = "report"))]
fn write_report(
    _: &zenml_core::repository::Comparison,
    _: &std::path::Path,
    _: Option<String>,
) -> Result<(), CliError> {
    Err(CliError::Invalid(
        "this binary was built without the `report` feature, which writes the HTML report"
            .to_owned(),
    ))
}

fn run(c: RunCommand, repo: &Repository, out: &mut dyn Write) -> Result<(), CliError> {
    match c {
        RunCommand::List { pipeline, json } => {
            let runs = repo.get_runs(pipeline.as_deref())?;
            if json.json {
                json_out(out, &runs.iter().map(json::Run::from).collect::<Vec<_>>())?;
                return Ok(());
            }
            if runs.is_empty() {
                writeln!(out, "No runs recorded yet.")?;
                return Ok(());
            }
            let rows = runs
                .iter()
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        r.name.clone(),
                        r.pipeline_name.clone(),
                        r.status.to_string(),
                        date(r.started_ms),
                        r.finished_ms
                            .map(|f| {
                                human_duration(std::time::Duration::from_millis(
                                    u64::try_from(f - r.started_ms).unwrap_or(0),
                                ))
                            })
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            table(
                out,
                &["id", "run", "pipeline", "status", "started", "took"],
                rows,
            )?;
        }
        RunCommand::Show { run, json } => {
            let run = repo.settle(&repo.get_run(&run)?)?;
            let steps = repo.get_run_steps(&run)?;
            if json.json {
                json_out(
                    out,
                    &json::RunShow {
                        run: json::Run::from(&run),
                        steps: steps.iter().map(json::Execution::from).collect(),
                    },
                )?;
                return Ok(());
            }
            writeln!(
                out,
                "run {} (id {}) of pipeline `{}`: {}, started {}",
                run.name,
                run.id,
                run.pipeline_name,
                run.status,
                date(run.started_ms)
            )?;
            table(
                out,
                &[
                    "step",
                    "state",
                    "took",
                    "source",
                    "parameters",
                    "metrics",
                    "outputs",
                ],
                steps.iter().map(step_row).collect(),
            )?;
            for e in steps.iter().filter(|e| e.error.is_some()) {
                writeln!(
                    out,
                    "\n{} failed: {}",
                    e.step_name,
                    e.error.as_deref().unwrap_or("")
                )?;
            }
        }
    }
    Ok(())
}

fn step_row(e: &ExecutionRecord) -> Vec<String> {
    let state = match e.cached_from {
        Some(from) => format!("{} (from {from})", e.state),
        None => e.state.to_string(),
    };
    vec![
        e.step_name.clone(),
        state,
        e.duration_ms
            .map(|d| {
                human_duration(std::time::Duration::from_millis(
                    u64::try_from(d).unwrap_or(0),
                ))
            })
            .unwrap_or_default(),
        format!("{}@{}", e.source, e.version),
        params_text(&e.params),
        e.metrics
            .iter()
            .map(|(k, v)| format!("{k}={v:.4}"))
            .collect::<Vec<_>>()
            .join(" "),
        e.outputs
            .iter()
            .map(|(k, id)| format!("{k}={id}"))
            .collect::<Vec<_>>()
            .join(" "),
    ]
}

fn step_list(as_json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    let registry = Registry::global()?;
    if as_json {
        let items: Vec<json::StepType> = registry
            .iter()
            .map(|r| {
                let info = r.info();
                json::StepType {
                    source: info.source.to_owned(),
                    version: info.version,
                    kind: info.kind.as_str().to_owned(),
                    doc: info.doc.to_owned(),
                    params: info
                        .params
                        .iter()
                        .map(|p| json::StepParam {
                            name: p.name.to_owned(),
                            type_name: p.ty.to_string(),
                            default: p.default_value().map(|v| JsonValue::from(&v)),
                            required: p.is_required(),
                            doc: p.doc.to_owned(),
                        })
                        .collect(),
                }
            })
            .collect();
        json_out(out, &items)?;
        return Ok(());
    }
    if registry.is_empty() {
        writeln!(out, "No steps are linked into this binary.")?;
        return Ok(());
    }
    for r in registry.iter() {
        let info = r.info();
        let doc = info.doc.lines().next().unwrap_or("");
        writeln!(
            out,
            "{}@{}  ({})  {doc}",
            info.source, info.version, info.kind
        )?;
        for p in info.params {
            let default = match p.default_value() {
                Some(v) => format!(" = {v}"),
                None => " (required)".to_owned(),
            };
            let doc = p.doc.lines().next().unwrap_or("");
            writeln!(out, "    {}: {}{default}  {doc}", p.name, p.ty)?;
        }
    }
    Ok(())
}

fn step_versions(
    repo: &Repository,
    source: &str,
    as_json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    // `SOURCE@N`, the form configs use, shows version N only.
    let (source, version) = match source.rsplit_once('@') {
        Some((path, v)) => match v.parse::<u32>() {
            Ok(v) => (path, Some(v)),
            Err(_) => {
                return Err(CliError::Invalid(format!(
                    "`{source}` is not a step source: write `module::path::Type` or \
                     `module::path::Type@VERSION` with a whole number as the version"
                )));
            }
        },
        None => (source, None),
    };
    let mut versions = repo.get_step_versions(source)?;
    if versions.is_empty() {
        // Neither recorded here nor linked into this binary: most likely a typo.
        let registry = Registry::global()?;
        if let Err(e) = registry.get(source) {
            return Err(e.into());
        }
    }
    versions.retain(|v| version.is_none_or(|n| v.version == n));
    if as_json {
        json_out(
            out,
            &versions
                .iter()
                .map(json::StepVersion::from)
                .collect::<Vec<_>>(),
        )?;
        return Ok(());
    }
    if versions.is_empty() {
        match version {
            Some(v) => writeln!(
                out,
                "Step `{source}` has not run at version {v} in this repository."
            )?,
            None => writeln!(out, "Step `{source}` has not run in this repository.")?,
        }
        return Ok(());
    }
    let rows = versions
        .iter()
        .map(|v| {
            vec![
                v.version.to_string(),
                v.executions.to_string(),
                v.last_used_ms.map(date).unwrap_or_default(),
                v.code_fingerprints
                    .iter()
                    .map(|f| f.to_hex()[..12].to_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
            ]
        })
        .collect();
    table(
        out,
        &["version", "executions", "last used", "code fingerprints"],
        rows,
    )?;
    Ok(())
}

fn artifact(c: ArtifactCommand, repo: &Repository, out: &mut dyn Write) -> Result<(), CliError> {
    match c {
        ArtifactCommand::Verify { repair, json } => {
            return artifact_verify(repo, repair, json.json, out);
        }
        ArtifactCommand::Show { id, json } => {
            let a = repo.get_artifact(id)?;
            let producer = repo.metadata_store().artifact_producer(id)?;
            let consumers = repo.metadata_store().artifact_consumers(id)?;
            if json.json {
                json_out(
                    out,
                    &json::ArtifactShow {
                        artifact: json::Artifact::from(&a),
                        producer: producer.as_ref().map(json::Execution::from),
                        consumers: consumers.iter().map(json::Execution::from).collect(),
                    },
                )?;
                return Ok(());
            }
            writeln!(out, "artifact {}", a.id)?;
            writeln!(out, "  type:         {}", a.type_name)?;
            writeln!(out, "  size:         {}", size(a.size))?;
            writeln!(out, "  hash:         {}", a.hash)?;
            writeln!(out, "  uri:          {}", redact_url(&a.uri))?;
            writeln!(out, "  materializer: {}", a.materializer)?;
            writeln!(out, "  created:      {}", date(a.created_ms))?;
            match &producer {
                Some(p) => writeln!(
                    out,
                    "  produced by:  {} (execution {}, {})",
                    p.step_name, p.id, p.source
                )?,
                None => writeln!(out, "  produced by:  -")?,
            }
            for c in &consumers {
                writeln!(
                    out,
                    "  read by:      {} (execution {}, {})",
                    c.step_name, c.id, c.state
                )?;
            }
        }
        ArtifactCommand::Lineage { id, json } => {
            let lineage = repo.lineage(id)?;
            if json.json {
                json_out(out, &json::Lineage::from(&lineage))?;
            } else {
                lineage_text(&lineage, "", None, out)?;
            }
        }
    }
    Ok(())
}

fn lineage_text(
    l: &Lineage,
    indent: &str,
    input: Option<&str>,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let label = input.map(|i| format!("{i} ← ")).unwrap_or_default();
    let producer = match &l.producer {
        Some(p) => format!(
            "from step `{}` (execution {}, {}@{}) {}",
            p.step_name,
            p.id,
            p.source,
            p.version,
            params_text(&p.params)
        ),
        None => "(no producer recorded)".to_owned(),
    };
    writeln!(
        out,
        "{indent}{label}artifact {} {} [{}] {}",
        l.artifact.id,
        l.artifact.type_name,
        size(l.artifact.size),
        producer.trim_end()
    )?;
    let deeper = format!("{indent}    ");
    for (name, sub) in &l.inputs {
        lineage_text(sub, &deeper, Some(name), out)?;
    }
    Ok(())
}

fn repair(repo: &Repository, as_json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    let sweep = repo.sweep()?;
    if as_json {
        let interrupted = sweep
            .interrupted
            .iter()
            .map(|r| json::Interrupted {
                run: r.run.name.clone(),
                id: r.run.id,
                executions: r.executions,
                reason: r.reason.clone(),
            })
            .collect();
        json_out(
            out,
            &json::Repair {
                interrupted,
                staging_removed: sweep.staging_removed,
            },
        )?;
        return Ok(());
    }
    if sweep.interrupted.is_empty() {
        writeln!(out, "No run was left behind by a process that is gone.")?;
    }
    for r in &sweep.interrupted {
        writeln!(
            out,
            "Closed run `{}` as interrupted ({} unfinished step(s)): {}",
            r.run.name,
            r.executions,
            r.reason.strip_prefix("interrupted: ").unwrap_or(&r.reason)
        )?;
    }
    writeln!(
        out,
        "Removed {} stale file(s) from the artifact store's staging area.",
        sweep.staging_removed
    )?;
    Ok(())
}

fn artifact_verify(
    repo: &Repository,
    repair: bool,
    as_json: bool,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    use std::io::IsTerminal;
    let live = std::io::stderr().is_terminal();
    let report = repo.verify_artifacts(repair, |p| {
        if live {
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\rverifying: {} object(s), {} read, {} damaged ",
                p.objects,
                size(p.bytes),
                p.damaged
            );
            let _ = err.flush();
        }
    })?;
    if live {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err);
    }
    if as_json {
        let damaged = report
            .damaged
            .iter()
            .map(|d| json::Damaged {
                artifact: json::Artifact::from(&d.artifact),
                producer: d.producer.as_ref().map(json::Execution::from),
                damage: d.damage.to_string(),
                repair: d.repair.as_ref().map(ToString::to_string),
            })
            .collect();
        json_out(
            out,
            &json::VerifyReport {
                artifacts: report.artifacts,
                objects: report.objects,
                bytes: report.bytes,
                damaged,
            },
        )?;
    } else {
        writeln!(
            out,
            "Checked {} artifact(s) in {} object(s), {} read.",
            report.artifacts,
            report.objects,
            size(report.bytes)
        )?;
        for d in &report.damaged {
            let producer = match &d.producer {
                Some(p) => {
                    let output = p
                        .outputs
                        .iter()
                        .find(|(_, id)| *id == d.artifact.id)
                        .map_or("an output", |(name, _)| name.as_str());
                    format!(
                        "output `{output}` of step `{}` (execution {}, {}@{})",
                        p.step_name, p.id, p.source, p.version
                    )
                }
                None => "no producer recorded".to_owned(),
            };
            let after = match (&d.damage, &d.repair) {
                (Damage::Missing, _) => {
                    "; it is computed again the next time its step runs".to_owned()
                }
                (_, Some(r)) => {
                    format!("; {r}: it is computed again the next time its step runs")
                }
                (_, None) => String::new(),
            };
            writeln!(
                out,
                "artifact {}, {producer}, at {}: {}{after}",
                d.artifact.id,
                redact_url(&d.artifact.uri),
                d.damage
            )?;
        }
    }
    let unrepaired = report
        .damaged
        .iter()
        .filter(|d| d.damage != Damage::Missing)
        .count();
    if unrepaired == 0 || repair {
        return Ok(());
    }
    Err(CliError::Invalid(format!(
        "{unrepaired} damaged artifact(s); `zenml artifact verify --repair` removes the damaged \
         objects so that the steps that produced them are computed again"
    )))
}
