//! What each command does.

use std::io::Write;
use std::sync::Arc;

use serde_json::{Value as J, json};
use zenml_core::artifact::io::Damage;
use zenml_core::hash::Hash128;
use zenml_core::orchestrator::{KubernetesExport, Local, Orchestrator, OrchestratorError, Slurm};
use zenml_core::param::Value;
use zenml_core::pipeline::{Pipeline, elide};
use zenml_core::registry::Registry;
use zenml_core::repository::{Lineage, Repository, RepositoryConfig};
use zenml_core::runner::{QuietProgress, RunError, StepStatus, Verify, human_duration};
use zenml_core::store::{
    ExecutionRecord, MetadataConfig, OpenMode, RunStatus, open_artifact_store, open_metadata_store,
    redact_host, redact_url,
};

use super::format::{
    artifact_json, date, execution_json, header, json_out, metrics_json, params_json, params_text,
    run_json, size, table, value_json,
};
use super::{
    ArtifactCommand, ArtifactsCommand, CacheCommand, CacheSettingCommand, Cli, CliError, Command,
    ConfigCommand, ExportFormat, MetadataCommand, MetadataTarget, OrchestratorKind,
    PipelineCommand, RunCommand, StepCommand,
};

pub(super) fn dispatch(cli: Cli, out: &mut dyn Write) -> Result<(), CliError> {
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
        Command::Config(c) => config(c, &cli.repo, out),
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

fn config(c: ConfigCommand, dir: &std::path::Path, out: &mut dyn Write) -> Result<(), CliError> {
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
                } => json!({
                    "type": "mysql", "host": redact_host(host), "port": port, "user": user,
                    "database": database,
                    "password": password.as_ref().map(|_| "(set in config.yaml)"),
                    "password_env": password_env,
                    "tls": tls,
                }),
                MetadataConfig::Sqlite { path } => json!({"type": "sqlite", "path": path}),
                _ => json!({"type": config.metadata.backend()}),
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
            if j.json {
                json_out(
                    out,
                    &json!({
                        "root": root,
                        "metadata": metadata,
                        "metadata_store": metadata_store,
                        "artifacts": {"url": artifacts_url},
                        "artifact_store": artifact_store,
                        "error": problem,
                    }),
                )?;
            } else {
                writeln!(out, "repository: {}", root.display())?;
                writeln!(out, "metadata:   {metadata_store}")?;
                writeln!(out, "artifacts:  {artifact_store}")?;
                if let Some(problem) = problem {
                    writeln!(out, "warning:    the stores cannot be opened: {problem}")?;
                }
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
            let mut rows = vec![header(&[
                "pipeline", "runs", "last run", "status", "started",
            ])];
            let mut items = Vec::new();
            for p in &pipelines {
                let mine: Vec<_> = runs.iter().filter(|r| r.pipeline_id == p.id).collect();
                let last = mine.last();
                items.push(json!({
                    "name": p.name,
                    "runs": mine.len(),
                    "last_run": last.map(|r| run_json(r)),
                    "created_ms": p.created_ms,
                }));
                rows.push(vec![
                    p.name.clone(),
                    mine.len().to_string(),
                    last.map(|r| r.name.clone()).unwrap_or_default(),
                    last.map(|r| r.status.to_string()).unwrap_or_default(),
                    last.map(|r| date(r.started_ms)).unwrap_or_default(),
                ]);
            }
            if j.json {
                json_out(out, &J::Array(items))?;
            } else if pipelines.is_empty() {
                writeln!(out, "No pipelines recorded yet.")?;
            } else {
                table(out, &rows)?;
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
            if quiet || json.json {
                options = options.with_progress(Arc::new(QuietProgress));
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
                let steps: Vec<J> = summary
                    .steps
                    .iter()
                    .map(|s| {
                        json!({
                            "step": s.name,
                            "status": format!("{:?}", s.status).to_lowercase(),
                            "execution_id": s.execution_id,
                            "cached_from": s.cached_from,
                            "elapsed_ms": s.elapsed.as_secs_f64() * 1000.0,
                        })
                    })
                    .collect();
                json_out(out, &json!({"run": run_json(&summary.run), "steps": steps}))?;
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
        PipelineCommand::Compare(j) => {
            let c = repo.compare_training_runs()?;
            if j.json {
                let rows: Vec<J> = c
                    .rows
                    .iter()
                    .map(|r| {
                        json!({
                            "run": r.run,
                            "pipeline": r.pipeline,
                            "status": r.status.as_str(),
                            "trainer": r.trainer,
                            "trainer_cached": r.trainer_cached,
                            "params": J::Object(r.params.iter().map(|(k, v)| (k.clone(), value_json(v))).collect()),
                            "metrics": J::Object(r.metrics.iter().map(|(k, v)| (k.clone(), value_json(&Value::Float(*v)))).collect()),
                        })
                    })
                    .collect();
                json_out(out, &J::Array(rows))?;
            } else if c.rows.is_empty() {
                writeln!(out, "No training runs recorded yet.")?;
            } else {
                write!(out, "{c}")?;
            }
        }
    }
    Ok(())
}

fn run(c: RunCommand, repo: &Repository, out: &mut dyn Write) -> Result<(), CliError> {
    match c {
        RunCommand::List { pipeline, json } => {
            let runs = repo.get_runs(pipeline.as_deref())?;
            if json.json {
                json_out(out, &J::Array(runs.iter().map(run_json).collect()))?;
                return Ok(());
            }
            if runs.is_empty() {
                writeln!(out, "No runs recorded yet.")?;
                return Ok(());
            }
            let mut rows = vec![header(&[
                "id", "run", "pipeline", "status", "started", "took",
            ])];
            for r in &runs {
                rows.push(vec![
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
                ]);
            }
            table(out, &rows)?;
        }
        RunCommand::Show { run, json } => {
            let run = repo.settle(&repo.get_run(&run)?)?;
            let steps = repo.get_run_steps(&run)?;
            if json.json {
                json_out(
                    out,
                    &json!({
                        "run": run_json(&run),
                        "steps": steps.iter().map(execution_json).collect::<Vec<_>>(),
                    }),
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
            let mut rows = vec![header(&[
                "step",
                "state",
                "took",
                "source",
                "parameters",
                "metrics",
                "outputs",
            ])];
            for e in &steps {
                rows.push(step_row(e));
            }
            table(out, &rows)?;
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
        let items: Vec<J> = registry
            .iter()
            .map(|r| {
                let info = r.info();
                json!({
                    "source": info.source,
                    "version": info.version,
                    "kind": info.kind.as_str(),
                    "doc": info.doc,
                    "params": info.params.iter().map(|p| json!({
                        "name": p.name,
                        "type": p.ty.to_string(),
                        "default": p.default_value().map(|v| value_json(&v)),
                        "required": p.is_required(),
                        "doc": p.doc,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        json_out(out, &J::Array(items))?;
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
    let versions = repo.get_step_versions(source)?;
    if as_json {
        let items: Vec<J> = versions
            .iter()
            .map(|v| {
                json!({
                    "version": v.version,
                    "code_fingerprints": v.code_fingerprints.iter().map(|f| f.to_hex()).collect::<Vec<_>>(),
                    "executions": v.executions,
                    "last_used_ms": v.last_used_ms,
                })
            })
            .collect();
        json_out(out, &J::Array(items))?;
        return Ok(());
    }
    if versions.is_empty() {
        writeln!(out, "Step `{source}` has not run in this repository.")?;
        return Ok(());
    }
    let mut rows = vec![header(&[
        "version",
        "executions",
        "last used",
        "code fingerprints",
    ])];
    for v in &versions {
        rows.push(vec![
            v.version.to_string(),
            v.executions.to_string(),
            v.last_used_ms.map(date).unwrap_or_default(),
            v.code_fingerprints
                .iter()
                .map(|f| f.to_hex()[..12].to_owned())
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    table(out, &rows)?;
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
                    &json!({
                        "artifact": artifact_json(&a),
                        "producer": producer.as_ref().map(execution_json),
                        "consumers": consumers.iter().map(execution_json).collect::<Vec<_>>(),
                    }),
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
                json_out(out, &lineage_json(&lineage))?;
            } else {
                lineage_text(&lineage, "", None, out)?;
            }
        }
    }
    Ok(())
}

fn lineage_json(l: &Lineage) -> J {
    json!({
        "artifact": artifact_json(&l.artifact),
        "producer": l.producer.as_deref().map(|p| json!({
            "execution_id": p.id,
            "step": p.step_name,
            "source": p.source,
            "version": p.version,
            "params": params_json(&p.params),
            "metrics": metrics_json(&p.metrics),
        })),
        "inputs": J::Object(l.inputs.iter().map(|(k, v)| (k.clone(), lineage_json(v))).collect()),
    })
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
        let runs: Vec<J> = sweep
            .interrupted
            .iter()
            .map(|r| {
                json!({
                    "run": r.run.name,
                    "id": r.run.id,
                    "executions": r.executions,
                    "reason": r.reason,
                })
            })
            .collect();
        json_out(
            out,
            &json!({"interrupted": runs, "staging_removed": sweep.staging_removed}),
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
        let damaged: Vec<J> = report
            .damaged
            .iter()
            .map(|d| {
                json!({
                    "artifact": artifact_json(&d.artifact),
                    "producer": d.producer.as_ref().map(execution_json),
                    "damage": d.damage.to_string(),
                    "repair": d.repair.as_ref().map(ToString::to_string),
                })
            })
            .collect();
        json_out(
            out,
            &json!({
                "artifacts": report.artifacts,
                "objects": report.objects,
                "bytes": report.bytes,
                "damaged": damaged,
            }),
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
