//! Orchestrators: where and how the steps of a run execute.
//!
//! Every step can run in a process of its own, given only the run and the step's name
//! ([`Runner::exec_step`], `<binary> step exec --run RUN --step NAME`): it reads its inputs from
//! the stores and publishes its outputs there. An [`Orchestrator`] records a run and has its
//! steps executed:
//!
//! - [`Local`] executes them in this process ([`Runner::run`]), handing values over in memory;
//! - [`Slurm`] submits each step that is not cached as an `sbatch` job running the step
//!   entrypoint, chained by dependencies, so that the whole DAG is handed to Slurm at once.
//!
//! [`KubernetesExport`] writes a pipeline as Kubernetes Jobs or an Argo Workflow running the
//! same entrypoint, for a cluster to run (on paper so far: see its docs).
//!
//! A run whose steps execute elsewhere is recorded with its orchestrator as its owner; it is not
//! closed as interrupted when the process that submitted it ends. [`settle`] brings such a run's
//! record up to date (what its jobs did) and finishes it once every step has ended; `zenml run
//! show` does that before it shows a run.

pub mod kubernetes;
pub mod slurm;

pub use kubernetes::KubernetesExport;
pub use slurm::{JobState, Slurm, SlurmJob, parse_squeue};

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::pipeline::{ConfigError, OutputRef, Pipeline, PipelineConfig, Plan};
use crate::runner::{
    ProgressEvent, RunError, RunSummary, Runner, StepFailure, StepStatus, StepSummary,
};
use crate::store::{ExecutionRecord, ExecutionState, MetadataError, RunRecord, RunStatus};

/// Where and how the steps of a run execute.
pub trait Orchestrator: fmt::Debug + Send + Sync {
    /// A short name for people (`local`, `slurm`).
    fn name(&self) -> &'static str;

    /// Records a run of `pipeline` with `runner`'s stores and options, and has its steps
    /// executed. Returns the run as it ended, or, for an orchestrator that was asked not to
    /// wait, as it stands (steps still to run are [`StepStatus::Submitted`]).
    fn run(&self, runner: &Runner, pipeline: &Pipeline) -> Result<RunSummary, OrchestratorError>;
}

/// Executes every step in this process: [`Runner::run`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Local;

impl Orchestrator for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn run(&self, runner: &Runner, pipeline: &Pipeline) -> Result<RunSummary, OrchestratorError> {
        Ok(runner.run(pipeline)?)
    }
}

/// What went wrong while orchestrating a run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrchestratorError {
    /// The run could not be carried out, or a step failed (the run is recorded as failed).
    #[error(transparent)]
    Run(#[from] RunError),
    /// A command of the cluster (`sbatch`, `squeue`, `scancel`) could not be run or failed.
    #[error("`{command}` failed: {message}")]
    Command {
        /// The command, as it can be typed.
        command: String,
        /// What it said, or why it could not start.
        message: String,
    },
    /// The run's owner names an orchestrator this build does not know.
    #[error("run `{run}` is orchestrated by `{orchestrator}`, which this binary does not know")]
    UnknownOrchestrator {
        /// The run's name.
        run: String,
        /// The orchestrator named.
        orchestrator: String,
    },
}

impl From<MetadataError> for OrchestratorError {
    fn from(e: MetadataError) -> Self {
        OrchestratorError::Run(e.into())
    }
}

impl From<ConfigError> for OrchestratorError {
    fn from(e: ConfigError) -> Self {
        OrchestratorError::Run(e.into())
    }
}

/// Brings the record of a run whose steps execute elsewhere up to date, and finishes it once
/// every step has ended: steps whose jobs ended without recording their end are marked failed,
/// and the run becomes `completed` (every step completed or cached) or `failed`. A run that is
/// not running, or that runs in a process of this framework, is returned as it is.
pub fn settle(runner: &Runner, run: &RunRecord) -> Result<RunRecord, OrchestratorError> {
    if run.status != RunStatus::Running {
        return Ok(run.clone());
    }
    let owner = runner
        .metadata()
        .running_runs()?
        .into_iter()
        .find(|r| r.run.id == run.id)
        .map(|r| r.owner);
    let Some(owner) = owner else {
        // Finished meanwhile.
        return Ok(runner.metadata().run(run.id)?);
    };
    match crate::runner::orchestrator_of(&owner) {
        None => Ok(run.clone()),
        Some(("external", _)) => {
            let steps = Steps::of_config(&run.config)?;
            Ok(settle_by_records(runner, run, &steps)?.unwrap_or_else(|| run.clone()))
        }
        Some(("slurm", details)) => {
            let steps = Steps::of_config(&run.config)?;
            let tag = slurm::tag_of(details);
            Ok(Slurm::settle(runner, run, &steps, tag)?.unwrap_or_else(|| run.clone()))
        }
        Some((other, _)) => Err(OrchestratorError::UnknownOrchestrator {
            run: run.name.clone(),
            orchestrator: other.to_owned(),
        }),
    }
}

/// Finishes a run whose steps other processes execute once every step ended by its records:
/// completed or cached, failed, or not run because a step it reads from failed. `None` while a
/// step may still run.
fn settle_by_records(
    runner: &Runner,
    run: &RunRecord,
    steps: &Steps,
) -> Result<Option<RunRecord>, MetadataError> {
    let latest = latest_executions(runner, run)?;
    let failed: Vec<&str> = latest
        .values()
        .filter(|e| e.state == ExecutionState::Failed)
        .map(|e| e.step_name.as_str())
        .collect();
    let mut all_done = true;
    for step in steps.names() {
        match latest.get(step) {
            Some(e) if done(e) => {}
            Some(e) if e.state == ExecutionState::Failed => all_done = false,
            _ if steps.downstream_of(step, &failed) => all_done = false,
            _ => return Ok(None),
        }
    }
    let status = if all_done {
        RunStatus::Completed
    } else {
        RunStatus::Failed
    };
    Ok(Some(runner.metadata().finish_run(run.id, status)?))
}

/// A run's steps and who each reads from, as far as settling a run needs them: read from the
/// config recorded with the run, so that any binary can settle any run.
#[derive(Debug)]
pub(crate) struct Steps {
    /// The step names, in pipeline order, each with the steps it reads from.
    steps: Vec<(String, Vec<String>)>,
}

impl Steps {
    fn of_config(config: &str) -> Result<Steps, ConfigError> {
        let config = PipelineConfig::from_yaml(config)?;
        let steps = config
            .steps
            .iter()
            .map(|(name, step)| {
                let mut upstream: Vec<String> = step
                    .inputs
                    .values()
                    .filter_map(|target| OutputRef::parse(target).map(|r| r.step))
                    .collect();
                upstream.sort_unstable();
                upstream.dedup();
                (name.clone(), upstream)
            })
            .collect();
        Ok(Steps { steps })
    }

    pub(crate) fn of_plan(plan: &Plan) -> Steps {
        Steps {
            steps: plan
                .steps
                .iter()
                .map(|s| {
                    let upstream = s
                        .upstream
                        .iter()
                        .map(|&u| plan.steps[u].name.clone())
                        .collect();
                    (s.name.clone(), upstream)
                })
                .collect(),
        }
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().map(|(name, _)| name.as_str())
    }

    /// Does step `name` read, directly or not, from a step in `failed`?
    pub(crate) fn downstream_of(&self, name: &str, failed: &[&str]) -> bool {
        let mut stack = vec![name];
        let mut seen: Vec<&str> = Vec::new();
        while let Some(s) = stack.pop() {
            if seen.contains(&s) {
                continue;
            }
            seen.push(s);
            if let Some((_, ups)) = self.steps.iter().find(|(n, _)| n == s) {
                for u in ups {
                    if failed.contains(&u.as_str()) {
                        return true;
                    }
                    stack.push(u);
                }
            }
        }
        false
    }
}

/// The latest execution of each step of a run that ended (completed, cached or failed), or is
/// running, by step name.
pub(crate) fn latest_executions(
    runner: &Runner,
    run: &RunRecord,
) -> Result<BTreeMap<String, ExecutionRecord>, MetadataError> {
    let mut latest = BTreeMap::new();
    for e in runner.metadata().executions(run.id)? {
        latest.insert(e.step_name.clone(), e);
    }
    Ok(latest)
}

/// Is this execution's step done (its outputs published in the run)?
pub(crate) fn done(e: &ExecutionRecord) -> bool {
    matches!(e.state, ExecutionState::Complete | ExecutionState::Cached)
}

/// The summary of a run as its records tell it. Steps without an execution are
/// [`StepStatus::Submitted`] while the run is running, [`StepStatus::Skipped`] after.
pub(crate) fn summary_of(
    runner: &Runner,
    plan: &Plan,
    run: RunRecord,
    elapsed: Duration,
) -> Result<RunSummary, MetadataError> {
    let latest = latest_executions(runner, &run)?;
    let mut steps = Vec::with_capacity(plan.steps.len());
    for planned in &plan.steps {
        let mut s = StepSummary::new(
            &planned.name,
            if run.status == RunStatus::Running {
                StepStatus::Submitted
            } else {
                StepStatus::Skipped
            },
        );
        if let Some(e) = latest.get(&planned.name) {
            s.execution_id = Some(e.id);
            s.cache_key = e.cache_key;
            s.cached_from = e.cached_from;
            s.elapsed =
                Duration::from_millis(u64::try_from(e.duration_ms.unwrap_or(0)).unwrap_or(0));
            s.error = e.error.clone();
            s.status = match e.state {
                ExecutionState::Complete => StepStatus::Completed,
                ExecutionState::Cached => StepStatus::Cached,
                ExecutionState::Failed => StepStatus::Failed,
                _ => s.status,
            };
            if done(e) {
                for (name, id) in &e.outputs {
                    s.outputs
                        .push((name.clone(), runner.metadata().artifact(*id)?));
                }
                s.outputs.sort_by_key(|(name, _)| {
                    planned.outputs.iter().position(|o| o.name == name.as_str())
                });
            }
        }
        steps.push(s);
    }
    Ok(RunSummary {
        run,
        steps,
        elapsed,
        repairs: Vec::new(),
    })
}

/// A finished run's result: the summary, or the first failed step's error with it.
pub(crate) fn outcome(summary: RunSummary) -> Result<RunSummary, OrchestratorError> {
    if summary.run.status != RunStatus::Failed {
        return Ok(summary);
    }
    let failed = summary
        .steps
        .iter()
        .find(|s| s.status == StepStatus::Failed)
        .map(|s| (s.name.clone(), s.error.clone().unwrap_or_default()));
    let (step, error) = failed.unwrap_or_else(|| {
        (
            String::new(),
            "the run failed without a failed step".to_owned(),
        )
    });
    Err(RunError::Step {
        step,
        run: summary.run.name.clone(),
        failure: StepFailure::Error(error),
        summary: Box::new(summary),
    }
    .into())
}

/// Reports the steps of `summary` whose end was not reported yet (`reported` holds those that
/// were), and the run's end once it ended.
pub(crate) fn report_progress(runner: &Runner, summary: &RunSummary, reported: &mut Vec<String>) {
    let progress = &runner.options().progress;
    for s in &summary.steps {
        if reported.contains(&s.name) {
            continue;
        }
        let event = match s.status {
            StepStatus::Completed => ProgressEvent::StepDone {
                step: &s.name,
                elapsed: s.elapsed,
            },
            StepStatus::Cached => ProgressEvent::StepCached {
                step: &s.name,
                from_execution: s.cached_from.unwrap_or_default(),
                elapsed: s.elapsed,
            },
            StepStatus::Failed => ProgressEvent::StepFailed {
                step: &s.name,
                error: s.error.as_deref().unwrap_or(""),
                elapsed: s.elapsed,
            },
            StepStatus::Skipped if summary.run.status != RunStatus::Running => {
                ProgressEvent::StepSkipped { step: &s.name }
            }
            _ => continue,
        };
        progress.event(&event);
        reported.push(s.name.clone());
    }
    if summary.run.status != RunStatus::Running {
        progress.event(&ProgressEvent::RunFinished {
            run: &summary.run.name,
            success: summary.run.status == RunStatus::Completed,
            executed: summary.executed().len(),
            cached: summary.cached().len(),
            elapsed: summary.elapsed,
        });
    }
}
