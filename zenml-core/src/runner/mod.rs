//! The runner: executes a validated pipeline step by step, reusing cached outputs.
//!
//! Steps run in dependency order; steps that do not depend on each other run concurrently, up to
//! [`RunOptions::max_parallel`] at a time. For each step the runner computes its
//! [cache key](crate::cache) and, when caching is on, reuses the outputs of an earlier COMPLETE
//! execution with that key whose artifacts are still intact; the reuse is recorded as an
//! execution of its own in state CACHED. Otherwise the step executes: its execution is recorded
//! RUNNING, its inputs are read (handed over in memory when the producing step ran in this
//! process, read from the artifact store and verified otherwise), its outputs are written
//! content-addressed, and the execution is COMPLETE. A failing or panicking step is recorded
//! FAILED with its error and publishes no output; no further step starts, and the run fails.
//!
//! # Plan, scheduler, executor
//!
//! A run is three parts. The [plan](crate::pipeline::Plan) is the validated pipeline: per input,
//! its producer and output; per step, its consumers. The scheduler decides which steps are ready,
//! given how the others ended. The step executor takes one planned step with its resolved
//! inputs to its outcome (cached, completed with its outputs, or failed), recording its
//! execution. The same executor serves [`Runner::run`] (inputs handed over in memory where the
//! producer ran in this process), the per-step entrypoint [`Runner::exec_step`] (inputs read from
//! the stores), and the [orchestrators](crate::orchestrator) that run each step elsewhere. Step
//! types are registered once per run.
//!
//! # Damage in the artifact store
//!
//! Every byte a step reads is verified against its hash
//! ([`ContentStore`](crate::artifact::io::ContentStore)), and a cache hit
//! checks the outputs it reuses as [`RunOptions::verify`] says. Damage found on the way (a
//! missing object, altered bytes, a folder where an object should be) is never used and never
//! repaired silently: it is reported ([`ProgressEvent::ArtifactRepaired`],
//! [`RunSummary::repairs`]) by artifact and producing step, the damaged object is removed (or
//! what stands in its place moved aside), and the producing step is computed again in the same
//! run, before the step that needed its output.
//!
//! # Runs left behind
//!
//! A run records its owner (the process running it) and, while a step executes, a heartbeat.
//! Before it starts, a run closes what dead processes left behind ([`Runner::sweep`]): runs whose
//! process is gone become `interrupted`, their RUNNING executions FAILED; a live process, here or
//! on another machine sharing the store, is left alone. Staged bytes older than
//! [`RunOptions::staging_grace`] are removed from the artifact store.

mod executor;
mod owner;
mod progress;
mod scheduler;

pub use crate::artifact::io::Verify;
pub use owner::{HEARTBEAT_INTERVAL, LEASE};
pub(crate) use owner::{orchestrated, orchestrator_of};
pub use progress::{ConsoleProgress, Progress, ProgressEvent, QuietProgress, human_duration};

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::artifact::io::{ArtifactError, DamageReport, Repair};
use crate::hash::Hash128;
use crate::pipeline::{ConfigError, Pipeline, PipelineError, Plan};
use crate::store::{
    ArtifactRecord, ArtifactStore, ArtifactStoreError, ExecutionState, Id, MetadataError,
    MetadataQuery, RunRecord, RunStatus,
};

use executor::{Mode, Outcome, ResolvedInput, StepExecutor};
use scheduler::{Handoff, Scheduler};

/// How a run is carried out.
#[derive(Clone)]
pub struct RunOptions {
    /// Reuse cached outputs (on by default). Off, every step executes; its outputs are still
    /// recorded for later runs.
    pub cache: bool,
    /// How many steps may execute at once (at least 1; by default the number of CPUs).
    pub max_parallel: usize,
    /// Where progress goes ([`ConsoleProgress`] by default).
    pub progress: Arc<dyn Progress>,
    /// Where steps' scratch directories are made (the system's temporary directory by default).
    pub scratch_dir: PathBuf,
    /// How the outputs a cache hit reuses are checked ([`Verify::Quick`] by default).
    pub verify: Verify,
    /// How long bytes may sit in the artifact store's staging area before a run takes them for
    /// what a dead writer left behind and removes them (an hour by default).
    pub staging_grace: Duration,
    /// How often a run records that its process is alive while steps execute
    /// ([`HEARTBEAT_INTERVAL`] by default; keep it well under [`LEASE`]).
    pub heartbeat_interval: Duration,
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("cache", &self.cache)
            .field("max_parallel", &self.max_parallel)
            .field("scratch_dir", &self.scratch_dir)
            .field("verify", &self.verify)
            .field("staging_grace", &self.staging_grace)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .finish_non_exhaustive()
    }
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            cache: true,
            max_parallel: std::thread::available_parallelism().map_or(2, usize::from),
            progress: Arc::new(ConsoleProgress),
            scratch_dir: std::env::temp_dir().join("zenml-scratch"),
            verify: Verify::Quick,
            staging_grace: Duration::from_secs(60 * 60),
            heartbeat_interval: HEARTBEAT_INTERVAL,
        }
    }
}

impl RunOptions {
    /// Options that print nothing.
    pub fn quiet() -> Self {
        RunOptions {
            progress: Arc::new(QuietProgress),
            ..RunOptions::default()
        }
    }

    /// Switches caching for this run.
    #[must_use]
    pub fn with_cache(mut self, enabled: bool) -> Self {
        self.cache = enabled;
        self
    }

    /// Limits how many steps execute at once.
    #[must_use]
    pub fn with_max_parallel(mut self, n: usize) -> Self {
        self.max_parallel = n.max(1);
        self
    }

    /// Sends progress to `progress`.
    #[must_use]
    pub fn with_progress(mut self, progress: Arc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// Sets how reused outputs are checked.
    #[must_use]
    pub fn with_verify(mut self, verify: Verify) -> Self {
        self.verify = verify;
        self
    }
}

/// How one step of a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepStatus {
    /// It executed and published its outputs.
    Completed,
    /// It reused the outputs of an earlier execution.
    Cached,
    /// It failed.
    Failed,
    /// It did not run because the run failed first.
    Skipped,
    /// It was handed to an orchestrator that runs it elsewhere, and had not ended when the
    /// summary was taken.
    Submitted,
}

/// One step's part of a [`RunSummary`].
#[derive(Clone, Debug)]
pub struct StepSummary {
    /// The step's name.
    pub name: String,
    /// How it ended.
    pub status: StepStatus,
    /// Its execution, if one was recorded.
    pub execution_id: Option<Id>,
    /// Its cache key, if computed.
    pub cache_key: Option<Hash128>,
    /// For a cached step, the execution whose outputs it reused.
    pub cached_from: Option<Id>,
    /// How long it took.
    pub elapsed: Duration,
    /// Its outputs, by output name.
    pub outputs: Vec<(String, ArtifactRecord)>,
    /// Its error, if it failed.
    pub error: Option<String>,
}

/// Damage a run found in the artifact store: whose output it was, what was wrong and what was
/// done. The producing step was computed again in the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repaired {
    /// The step whose output it was.
    pub step: String,
    /// The output's name.
    pub output: String,
    /// The recorded artifact the damage was found through (`None` when it was found while the
    /// step wrote the output again).
    pub artifact_id: Option<Id>,
    /// What was wrong and what was done with the stored object.
    pub report: DamageReport,
}

impl std::fmt::Display for Repaired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (step, output, report) = (&self.step, &self.output, &self.report);
        match self.artifact_id {
            Some(id) => write!(f, "artifact {id} (output `{output}` of step `{step}`)")?,
            None => write!(f, "the stored output `{output}` of step `{step}`")?,
        }
        write!(f, " at {}: {}", report.uri, report.damage)?;
        if report.repair != Repair::Nothing {
            write!(f, "; {}", report.repair)?;
        }
        if report.repair != Repair::Rewritten {
            write!(f, "; step `{step}` computed it again")?;
        }
        Ok(())
    }
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// The run as recorded.
    pub run: RunRecord,
    /// Every step, in execution-plan order.
    pub steps: Vec<StepSummary>,
    /// The whole run's time.
    pub elapsed: Duration,
    /// Damage found in the artifact store, and repaired, in the order it was found.
    pub repairs: Vec<Repaired>,
}

impl StepSummary {
    /// The summary of a step that did not run.
    fn skipped(name: &str) -> Self {
        StepSummary::new(name, StepStatus::Skipped)
    }

    /// A step's summary when nothing is known but its name and status.
    pub(crate) fn new(name: &str, status: StepStatus) -> Self {
        StepSummary {
            name: name.to_owned(),
            status,
            execution_id: None,
            cache_key: None,
            cached_from: None,
            elapsed: Duration::ZERO,
            outputs: Vec::new(),
            error: None,
        }
    }
}

impl RunSummary {
    /// The summary of step `name`.
    pub fn step(&self, name: &str) -> Option<&StepSummary> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The names of the steps that executed.
    pub fn executed(&self) -> Vec<&str> {
        self.with_status(StepStatus::Completed)
    }

    /// The names of the steps that were cached.
    pub fn cached(&self) -> Vec<&str> {
        self.with_status(StepStatus::Cached)
    }

    fn with_status(&self, status: StepStatus) -> Vec<&str> {
        self.steps
            .iter()
            .filter(|s| s.status == status)
            .map(|s| s.name.as_str())
            .collect()
    }
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StepFailure {
    /// The step's code returned an error.
    #[error("{0}")]
    Error(String),
    /// The step's code panicked.
    #[error("panicked: {0}")]
    Panic(String),
    /// An attempt reached the step's time limit ([`Resources`](crate::pipeline::Resources)).
    #[error(
        "reached its time limit of {}; what its code does from here is discarded",
        human_duration(*.0)
    )]
    TimedOut(Duration),
    /// An input or output artifact could not be read or written.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
    /// The step did not produce its declared outputs.
    #[error("{0}")]
    Outputs(String),
    /// Recording the execution failed.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
}

impl StepFailure {
    /// Is a step that failed so tried again when its resources allow retries? Its code's errors,
    /// panics and time limits are; a broken promise about its outputs, or a store's failure,
    /// are not.
    pub fn is_retried(&self) -> bool {
        matches!(
            self,
            StepFailure::Error(_) | StepFailure::Panic(_) | StepFailure::TimedOut(_)
        )
    }
}

/// A run that could not be carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The pipeline is invalid; nothing ran.
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// A pipeline of this name is recorded with another definition (it ran with it, or another
    /// process is starting it now); nothing ran.
    #[error(
        "pipeline `{0}` has already run with another definition, and a pipeline that has run is \
         immutable: run a copy under a new name (`pipeline.copy(\"{0} v2\")`)"
    )]
    Immutable(String),
    /// The artifact store failed outside any step.
    #[error(transparent)]
    Artifacts(#[from] ArtifactStoreError),
    /// The metadata store failed.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The config recorded with a run cannot be rebuilt into a pipeline by this binary (it does
    /// not link the run's steps, or knows other versions of them).
    #[error("the config recorded with the run cannot be loaded: {0}")]
    Config(#[from] ConfigError),
    /// No run of that name is recorded.
    #[error("no run `{0}` is recorded (`zenml run list` lists the runs)")]
    UnknownRun(String),
    /// The run's pipeline has no step of that name.
    #[error("run `{run}` has no step `{step}`; its steps are: {}", steps.join(", "))]
    UnknownStep {
        /// The run's name.
        run: String,
        /// The step asked for.
        step: String,
        /// The steps it has.
        steps: Vec<String>,
    },
    /// A step cannot execute yet: steps it reads from have not completed in the run. Nothing
    /// was recorded.
    #[error(
        "step `{step}` of run `{run}` cannot run yet: {} not completed in the run",
        waiting.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ") +
            if waiting.len() == 1 { " has" } else { " have" }
    )]
    NotReady {
        /// The run's name.
        run: String,
        /// The step.
        step: String,
        /// The steps it reads from that have not completed.
        waiting: Vec<String>,
    },
    /// Checking whether a step is cached failed (a store's failure); nothing was executed.
    #[error("checking whether step `{step}` is cached failed: {failure}")]
    CacheCheck {
        /// The step.
        step: String,
        /// What happened.
        #[source]
        failure: StepFailure,
    },
    /// A step failed; the run is recorded as failed.
    #[error("step `{step}` failed in run `{run}`: {failure}")]
    Step {
        /// The step.
        step: String,
        /// The run's name.
        run: String,
        /// What happened.
        #[source]
        failure: StepFailure,
        /// What the run did before it stopped.
        summary: Box<RunSummary>,
    },
}

/// Runs pipelines against a metadata store and an artifact store.
#[derive(Clone)]
pub struct Runner {
    metadata: Arc<dyn MetadataQuery>,
    artifacts: Arc<dyn ArtifactStore>,
    options: RunOptions,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("metadata", &self.metadata.describe())
            .field("artifacts", &self.artifacts.describe())
            .field("options", &self.options)
            .finish()
    }
}

/// What a [`Runner::sweep`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sweep {
    /// The runs whose process was gone, now `interrupted`.
    pub interrupted: Vec<InterruptedRun>,
    /// How many entries left in the artifact store's staging area were removed.
    pub staging_removed: u64,
}

/// A run closed because its process was gone.
#[derive(Clone, Debug, PartialEq)]
pub struct InterruptedRun {
    /// The run, as it was before it was closed.
    pub run: RunRecord,
    /// How many of its executions were still RUNNING (now FAILED).
    pub executions: u64,
    /// Why its process is known to be gone.
    pub reason: String,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Runner {
    /// A runner over these stores, with default options.
    pub fn new(metadata: Arc<dyn MetadataQuery>, artifacts: Arc<dyn ArtifactStore>) -> Self {
        Runner {
            metadata,
            artifacts,
            options: RunOptions::default(),
        }
    }

    /// Replaces the options.
    #[must_use]
    pub fn with_options(mut self, options: RunOptions) -> Self {
        self.options = options;
        self
    }

    /// The options.
    pub fn options(&self) -> &RunOptions {
        &self.options
    }

    /// The metadata store.
    pub fn metadata(&self) -> &Arc<dyn MetadataQuery> {
        &self.metadata
    }

    /// The artifact store.
    pub fn artifacts(&self) -> &Arc<dyn ArtifactStore> {
        &self.artifacts
    }

    /// Closes what dead processes left behind: every run still `running` whose process is gone
    /// (see the [module docs](self#runs-left-behind)) becomes `interrupted`, with its RUNNING
    /// executions FAILED; a run whose process is alive, here or elsewhere, is left alone. Then
    /// removes what has sat in the artifact store's staging area longer than
    /// [`RunOptions::staging_grace`]. Every run does this before it starts;
    /// `zenml repair` does it on demand.
    pub fn sweep(&self) -> Result<Sweep, RunError> {
        let mut sweep = self.sweep_runs()?;
        sweep.staging_removed = self
            .artifacts
            .remove_stale_staging(self.options.staging_grace)?;
        Ok(sweep)
    }

    fn sweep_runs(&self) -> Result<Sweep, RunError> {
        let mut sweep = Sweep::default();
        let running = self.metadata.running_runs()?;
        if running.is_empty() {
            return Ok(sweep);
        }
        let now = now_ms();
        for r in running {
            let owner::Liveness::Gone(why) = owner::judge(&r.owner, r.heartbeat_ms, now) else {
                continue;
            };
            let reason = format!("interrupted: {why}");
            if let Some(executions) =
                self.metadata
                    .interrupt_run(r.run.id, r.heartbeat_ms, &reason)?
            {
                self.options.progress.event(&ProgressEvent::RunInterrupted {
                    run: &r.run.name,
                    executions,
                    reason: &reason,
                });
                sweep.interrupted.push(InterruptedRun {
                    run: r.run,
                    executions,
                    reason,
                });
            }
        }
        Ok(sweep)
    }

    /// Validates `pipeline` and records a new run of it, owned by `owner` (see
    /// [`owner`](self#runs-left-behind)): the pipeline is registered (or found with the same
    /// definition), runs left behind are closed, and stale staged bytes removed first.
    pub(crate) fn begin(
        &self,
        pipeline: &Pipeline,
        owner: &str,
    ) -> Result<(Plan, RunRecord), RunError> {
        let plan = pipeline.validate()?;
        let config = pipeline.to_yaml();
        // Registering is conditional and atomic: of several processes starting different
        // definitions under one new name, exactly one records its own.
        let record = self.metadata.register_pipeline(pipeline.name(), &config)?;
        if record.config != config && !same_definition(&record.config, pipeline) {
            return Err(RunError::Immutable(pipeline.name().to_owned()));
        }
        self.sweep_runs()?;
        // Leftovers are removed on the way; a staging area that cannot be cleaned is no reason
        // not to run (`zenml repair` reports why).
        let _ = self
            .artifacts
            .remove_stale_staging(self.options.staging_grace);
        let run = self.metadata.begin_run(record.id, &config, owner)?;
        self.options.progress.event(&ProgressEvent::RunStarted {
            pipeline: pipeline.name(),
            run: &run.name,
            steps: plan.steps.len(),
        });
        Ok((plan, run))
    }

    /// Validates and runs `pipeline` in this process, recording everything in the metadata
    /// store.
    pub fn run(&self, pipeline: &Pipeline) -> Result<RunSummary, RunError> {
        let started = Instant::now();
        let (plan, run) = self.begin(pipeline, &owner::Owner::current().to_record())?;
        let executor = match StepExecutor::new(self, pipeline, &plan, &run, 0..plan.steps.len()) {
            Ok(executor) => executor,
            Err(e) => {
                let _ = self.metadata.finish_run(run.id, RunStatus::Failed);
                return Err(e.into());
            }
        };
        let progress = &self.options.progress;
        let mut scheduler = Scheduler::new(&plan);
        let mut handoff = Handoff::default();
        let mut summaries: Vec<Option<StepSummary>> = vec![None; plan.steps.len()];
        let mut failure: Option<(String, StepFailure)> = None;
        let max_parallel = self.options.max_parallel.max(1);

        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
            let mut running = 0usize;
            loop {
                while running < max_parallel
                    && let Some(dispatch) = scheduler.next()
                {
                    for u in dispatch.released {
                        handoff.release(u);
                    }
                    let (i, mode) = (dispatch.step, dispatch.mode);
                    let planned = &plan.steps[i];
                    let inputs = handoff.inputs(planned);
                    let (tx, executor) = (tx.clone(), &executor);
                    running += 1;
                    if running == 1 && !scheduler.has_ready() {
                        // Nothing else could run now: no thread needed (a chain never spawns).
                        let _ = tx.send((i, executor.execute(planned, inputs, mode)));
                    } else {
                        scope.spawn(move || {
                            let outcome = executor.execute(planned, inputs, mode);
                            let _ = tx.send((i, outcome));
                        });
                    }
                }
                if running == 0 {
                    break;
                }
                let Ok((i, outcome)) = rx.recv() else { break };
                running -= 1;
                let summary = match outcome {
                    Outcome::Cached(summary) => {
                        scheduler.published(i);
                        handoff.publish(i, &plan.steps[i], &summary.outputs, Vec::new(), false);
                        summary
                    }
                    Outcome::Completed(summary, values) => {
                        let keep = scheduler.keeps_values(i);
                        handoff.publish(i, &plan.steps[i], &summary.outputs, values, keep);
                        scheduler.published(i);
                        summary
                    }
                    Outcome::Failed(summary, f) => {
                        scheduler.failed();
                        failure.get_or_insert((summary.name.clone(), f));
                        summary
                    }
                    Outcome::NeedsProducer(summary, producer, error) => {
                        if scheduler.needs_producer(i, producer) {
                            continue;
                        }
                        // Its producer ran again already, and its output is still damaged.
                        let message = error.to_string();
                        progress.event(&ProgressEvent::StepFailed {
                            step: &summary.name,
                            error: &message,
                            elapsed: summary.elapsed,
                        });
                        scheduler.failed();
                        failure.get_or_insert((summary.name.clone(), StepFailure::Artifact(error)));
                        StepSummary {
                            status: StepStatus::Failed,
                            error: Some(message),
                            ..summary
                        }
                    }
                    Outcome::NotCached(summary) => summary,
                };
                summaries[i] = Some(summary);
            }
        });
        let (recorded, repairs) = executor.finish()?;
        for s in summaries.iter_mut().flatten() {
            if s.status == StepStatus::Cached {
                s.execution_id = recorded.get(&s.name).copied();
            }
        }
        self.finish(&plan, run, summaries, repairs, failure, started)
    }

    /// Records a run's end and reports it: the steps without a summary were skipped.
    fn finish(
        &self,
        plan: &Plan,
        run: RunRecord,
        summaries: Vec<Option<StepSummary>>,
        repairs: Vec<Repaired>,
        failure: Option<(String, StepFailure)>,
        started: Instant,
    ) -> Result<RunSummary, RunError> {
        let progress = &self.options.progress;
        let steps: Vec<StepSummary> = summaries
            .into_iter()
            .zip(&plan.steps)
            .map(|(s, planned)| {
                s.unwrap_or_else(|| {
                    progress.event(&ProgressEvent::StepSkipped {
                        step: &planned.name,
                    });
                    StepSummary::skipped(&planned.name)
                })
            })
            .collect();
        let status = if failure.is_some() {
            RunStatus::Failed
        } else {
            RunStatus::Completed
        };
        let run = self.metadata.finish_run(run.id, status)?;
        let summary = RunSummary {
            run,
            elapsed: started.elapsed(),
            steps,
            repairs,
        };
        progress.event(&ProgressEvent::RunFinished {
            run: &summary.run.name,
            success: failure.is_none(),
            executed: summary.executed().len(),
            cached: summary.cached().len(),
            elapsed: summary.elapsed,
        });
        match failure {
            None => Ok(summary),
            Some((step, failure)) => Err(RunError::Step {
                step,
                run: summary.run.name.clone(),
                failure,
                summary: Box::new(summary),
            }),
        }
    }

    /// Records a run of `pipeline` whose steps other processes execute one by one with
    /// [`Runner::exec_step`] (an orchestrator of your own): nothing executes here. The run stays
    /// `running` until [`settle`](crate::orchestrator::settle) finds every step ended (completed
    /// or cached, or failed with what reads from it not run).
    pub fn record_run(&self, pipeline: &Pipeline) -> Result<RunRecord, RunError> {
        let (_, run) = self.begin(pipeline, &orchestrated("external", ""))?;
        Ok(run)
    }

    /// Which steps of a recorded run must execute: the plan is walked in order, and a step whose
    /// producers were all reused is looked up in the cache (a hit is recorded as a CACHED
    /// execution); every other step must execute. Returns, by plan index, whether it must.
    pub(crate) fn check_cache(
        &self,
        pipeline: &Pipeline,
        plan: &Plan,
        run: &RunRecord,
    ) -> Result<Vec<bool>, RunError> {
        let executor = StepExecutor::new(self, pipeline, plan, run, 0..plan.steps.len())?;
        let mut handoff = Handoff::default();
        let mut execute = vec![false; plan.steps.len()];
        for (k, planned) in plan.steps.iter().enumerate() {
            if planned.upstream.iter().any(|&u| execute[u]) {
                execute[k] = true;
                continue;
            }
            match executor.execute(planned, handoff.inputs(planned), Mode::CacheOnly) {
                Outcome::Cached(s) => {
                    handoff.publish(k, planned, &s.outputs, Vec::new(), false);
                }
                Outcome::Failed(s, failure) => {
                    return Err(RunError::CacheCheck {
                        step: s.name,
                        failure,
                    });
                }
                _ => execute[k] = true,
            }
        }
        executor.finish()?;
        Ok(execute)
    }

    /// Executes one step of a recorded run in this process, given only the run's and the
    /// step's names: the per-step entrypoint (`<binary> step exec --run RUN --step NAME`) that
    /// orchestrators start, wherever the stores can be reached.
    ///
    /// The run's pipeline is rebuilt from the config recorded with the run (through the steps
    /// this binary links), the step's inputs are read from the stores (the outputs its producers
    /// published in this run), its cache is checked first, and its execution is recorded in the
    /// run. The run's own status is left alone: whoever orchestrates the run finishes it.
    ///
    /// It is idempotent: a step that already completed (or was cached) in the run is not
    /// executed again, and its summary says [`StepStatus::Cached`] with that execution. A step
    /// whose producers have not completed in the run is [`RunError::NotReady`], and nothing is
    /// recorded.
    pub fn exec_step(&self, run_name: &str, step: &str) -> Result<StepSummary, RunError> {
        let run = self
            .metadata
            .run_by_name(run_name)?
            .ok_or_else(|| RunError::UnknownRun(run_name.to_owned()))?;
        let pipeline = Pipeline::from_yaml(&run.config)?;
        let plan = pipeline.validate()?;
        let Some((k, planned)) = plan.step(step) else {
            return Err(RunError::UnknownStep {
                run: run.name.clone(),
                step: step.to_owned(),
                steps: plan.steps.iter().map(|s| s.name.clone()).collect(),
            });
        };
        let executions = self.metadata.executions(run.id)?;
        let done = |name: &str| {
            executions.iter().rev().find(|e| {
                e.step_name == name
                    && matches!(e.state, ExecutionState::Complete | ExecutionState::Cached)
            })
        };
        if let Some(e) = done(step) {
            let mut summary = StepSummary::skipped(step);
            summary.status = StepStatus::Cached;
            summary.execution_id = Some(e.id);
            summary.cache_key = e.cache_key;
            summary.cached_from = Some(e.cached_from.unwrap_or(e.id));
            for (name, id) in &e.outputs {
                summary
                    .outputs
                    .push((name.clone(), self.metadata.artifact(*id)?));
            }
            self.options.progress.event(&ProgressEvent::StepCached {
                step,
                from_execution: e.id,
                elapsed: Duration::ZERO,
            });
            return Ok(summary);
        }
        let mut inputs = Vec::with_capacity(planned.inputs.len());
        let mut waiting: Vec<String> = Vec::new();
        for input in &planned.inputs {
            let producer = &plan.steps[input.producer];
            let output = &producer.outputs[input.output].name;
            let published = done(&producer.name)
                .and_then(|e| e.outputs.iter().find(|(name, _)| name == output.as_ref()));
            match published {
                Some((_, id)) => inputs.push(ResolvedInput {
                    record: self.metadata.artifact(*id)?,
                    value: None,
                }),
                None if !waiting.contains(&producer.name) => waiting.push(producer.name.clone()),
                None => {}
            }
        }
        if !waiting.is_empty() {
            return Err(RunError::NotReady {
                run: run.name.clone(),
                step: step.to_owned(),
                waiting,
            });
        }
        let started = Instant::now();
        let executor = StepExecutor::new(self, &pipeline, &plan, &run, [k])?;
        let outcome = executor.execute(planned, inputs, Mode::Execute);
        let (recorded, repairs) = executor.finish()?;
        let (summary, failure) = match outcome {
            Outcome::Cached(mut summary) => {
                summary.execution_id = recorded.get(step).copied();
                return Ok(summary);
            }
            Outcome::Completed(summary, _) | Outcome::NotCached(summary) => return Ok(summary),
            Outcome::Failed(summary, failure) => (summary, failure),
            Outcome::NeedsProducer(summary, _, error) => {
                let message = error.to_string();
                let summary = StepSummary {
                    status: StepStatus::Failed,
                    error: Some(message),
                    ..summary
                };
                (summary, StepFailure::Artifact(error))
            }
        };
        Err(RunError::Step {
            step: step.to_owned(),
            run: run.name.clone(),
            failure,
            summary: Box::new(RunSummary {
                run,
                steps: vec![summary],
                elapsed: started.elapsed(),
                repairs,
            }),
        })
    }
}

/// Does the recorded config describe `pipeline`, though its text differs (written by another
/// version of the config writer, or by hand, or with other resources, which are no part of a
/// pipeline's identity)? Compared as parsed configs.
fn same_definition(recorded: &str, pipeline: &Pipeline) -> bool {
    let identity = |mut c: crate::pipeline::PipelineConfig| {
        for step in c.steps.values_mut() {
            step.resources = crate::pipeline::Resources::default();
        }
        c
    };
    crate::pipeline::PipelineConfig::from_yaml(recorded)
        .is_ok_and(|c| identity(c) == identity(pipeline.to_config()))
}

/// Runs a step's own code, turning its errors and panics into a [`StepFailure`].
fn guarded<T>(f: impl FnOnce() -> Result<T, crate::step::BoxError>) -> Result<T, StepFailure> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(StepFailure::Error(error_chain(e.as_ref()))),
        Err(payload) => Err(StepFailure::Panic(panic_message(payload.as_ref()))),
    }
}

/// An error and its sources, `: `-separated, without repeating a source whose text is already
/// in the message: how failures are reported to people.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let next = c.to_string();
        if !s.contains(&next) {
            s.push_str(": ");
            s.push_str(&next);
        }
        cur = c.source();
    }
    s
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}
