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
//! # Damage in the artifact store
//!
//! Every byte a step reads is verified against its hash ([`ContentStore`]), and a cache hit
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

mod owner;
mod progress;

pub use crate::artifact::io::Verify;
pub use owner::{HEARTBEAT_INTERVAL, LEASE};
pub use progress::{ConsoleProgress, Progress, ProgressEvent, QuietProgress, human_duration};

use std::any::Any;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::artifact::io::{ArtifactError, Checked, ContentStore, DamageReport, Repair};
use crate::artifact::{AnyValue, Inputs};
use crate::cache::CacheKeyInput;
use crate::hash::Hash128;
use crate::pipeline::{Pipeline, PipelineError, PlannedStep};
use crate::step::{IoSpec, StepContext, StepKind};
use crate::store::{
    ArtifactRecord, ArtifactStore, ArtifactStoreError, CacheHit, Id, MetadataError, MetadataStore,
    NewArtifact, NewExecution, RunRecord, RunStatus, StepTypeSpec,
};

use progress::ProgressLog;

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
    metadata: Arc<dyn MetadataStore>,
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

/// An output produced in this run: its record, and its value while a consumer may need it.
struct Produced {
    record: ArtifactRecord,
    value: Option<AnyValue>,
}

/// An input of a step about to run: where it comes from, and its value when the producing step
/// ran in this process.
struct Input {
    spec: IoSpec,
    record: ArtifactRecord,
    value: Option<AnyValue>,
    /// The producing step's index in the plan.
    producer: usize,
    /// The producing step's name.
    producer_name: String,
    /// The producing step's output.
    output: String,
}

/// What executing (or reusing) one step gave.
struct Outcome {
    summary: StepSummary,
    values: Vec<(String, AnyValue)>,
    failure: Option<StepFailure>,
    /// The step did not start: an input it had to read was damaged (and is reported). The
    /// producing step (its index in the plan) must run again first; the error is what the step
    /// fails with if that does not help.
    retry_after: Option<(usize, ArtifactError)>,
}

/// Whether a step runs again in a run because an output of its was found damaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Again {
    /// It does not (yet).
    No,
    /// It is to run again, or running again.
    Pending,
    /// It ran again.
    Done,
}

/// How an attempt to execute a step ended, short of failing.
enum Attempt {
    /// Done: executed or cached.
    Done,
    /// Not started: the output of the producing step (its index in the plan) it needs was
    /// damaged.
    Retry(usize, ArtifactError),
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
    pub fn new(metadata: Arc<dyn MetadataStore>, artifacts: Arc<dyn ArtifactStore>) -> Self {
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
    pub fn metadata(&self) -> &Arc<dyn MetadataStore> {
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

    /// Validates and runs `pipeline`, recording everything in the metadata store.
    pub fn run(&self, pipeline: &Pipeline) -> Result<RunSummary, RunError> {
        let started = Instant::now();
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
        let run =
            self.metadata
                .begin_run(record.id, &config, &owner::Owner::current().to_record())?;
        let progress = &self.options.progress;
        progress.event(&ProgressEvent::RunStarted {
            pipeline: pipeline.name(),
            run: &run.name,
            steps: plan.steps.len(),
        });

        let n = plan.steps.len();
        let mut pending_upstream: Vec<usize> =
            plan.steps.iter().map(|s| s.upstream.len()).collect();
        let mut downstream: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, s) in plan.steps.iter().enumerate() {
            for &u in &s.upstream {
                downstream[u].push(i);
            }
        }
        // Where each input comes from: the producing step's index in the plan.
        let sources: Vec<Vec<usize>> = plan
            .steps
            .iter()
            .map(|s| {
                s.inputs
                    .iter()
                    .map(|(_, r)| {
                        let up = plan.steps.iter().position(|p| p.name == r.step);
                        up.unwrap_or(usize::MAX)
                    })
                    .collect()
            })
            .collect();
        // How many consumers of a step have not started yet; its values are dropped at zero.
        let mut consumers_left: Vec<usize> = downstream.iter().map(Vec::len).collect();
        let mut produced: HashMap<(usize, String), Produced> = HashMap::new();
        let mut summaries: Vec<Option<StepSummary>> = vec![None; n];
        let mut failure: Option<(String, StepFailure)> = None;
        let mut ready: Vec<usize> = (0..n).filter(|&i| pending_upstream[i] == 0).collect();
        // Steps that run again because an output of theirs was found damaged, and the steps
        // waiting for them.
        let mut again: Vec<Again> = vec![Again::No; n];
        let mut waiting: Vec<Vec<usize>> = vec![Vec::new(); n];
        let max_parallel = self.options.max_parallel.max(1);
        let env = RunEnv {
            runner: self,
            pipeline,
            run: &run,
            content: ContentStore::new(self.artifacts.as_ref()),
            deferred: Mutex::new(Vec::new()),
            recorded: Mutex::new(HashMap::new()),
            repairs: Mutex::new(Vec::new()),
            heartbeat: Mutex::new(None),
        };

        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
            let mut running = 0usize;
            loop {
                while failure.is_none() && running < max_parallel && !ready.is_empty() {
                    let i = ready.remove(0);
                    let planned = &plan.steps[i];
                    let inputs: Vec<Input> = planned
                        .inputs
                        .iter()
                        .zip(&sources[i])
                        .filter_map(|((spec, r), &up)| {
                            let p = produced.get(&(up, r.output.clone()))?;
                            Some(Input {
                                spec: spec.clone(),
                                record: p.record.clone(),
                                value: p.value.clone(),
                                producer: up,
                                producer_name: r.step.clone(),
                                output: r.output.clone(),
                            })
                        })
                        .collect();
                    // A step that runs again does not look in the cache: its cached outputs
                    // are what was found damaged. (It started once already: its inputs' values
                    // are counted as taken.)
                    let force = again[i] == Again::Pending;
                    for &u in planned.upstream.iter().filter(|_| !force) {
                        consumers_left[u] -= 1;
                        if consumers_left[u] == 0 {
                            for ((step, _), p) in produced.iter_mut() {
                                if *step == u {
                                    p.value = None;
                                }
                            }
                        }
                    }
                    let tx = tx.clone();
                    let env = &env;
                    running += 1;
                    if running == 1 && ready.is_empty() {
                        // Nothing else could run now: no thread needed (a chain never spawns).
                        let _ = tx.send((i, env.execute(planned, inputs, force)));
                    } else {
                        scope.spawn(move || {
                            let outcome = env.execute(planned, inputs, force);
                            let _ = tx.send((i, outcome));
                        });
                    }
                }
                if running == 0 {
                    break;
                }
                let Ok((i, outcome)) = rx.recv() else { break };
                running -= 1;
                let Outcome {
                    summary,
                    values,
                    failure: failed,
                    retry_after,
                } = outcome;
                if let Some((p, error)) = retry_after {
                    // Undo the start: the step starts again once its producer has run again.
                    for &u in &plan.steps[i].upstream {
                        consumers_left[u] += 1;
                    }
                    match again[p] {
                        Again::Done => {
                            // It ran again already, and its output is still damaged.
                            let message = error.to_string();
                            progress.event(&ProgressEvent::StepFailed {
                                step: &summary.name,
                                error: &message,
                                elapsed: summary.elapsed,
                            });
                            if failure.is_none() {
                                failure =
                                    Some((summary.name.clone(), StepFailure::Artifact(error)));
                            }
                            summaries[i] = Some(StepSummary {
                                status: StepStatus::Failed,
                                error: Some(message),
                                ..summary
                            });
                        }
                        Again::Pending => waiting[p].push(i),
                        Again::No => {
                            again[p] = Again::Pending;
                            waiting[p].push(i);
                            ready.push(p);
                            ready.sort_unstable();
                        }
                    }
                    continue;
                }
                if let Some(f) = failed {
                    if failure.is_none() {
                        failure = Some((summary.name.clone(), f));
                    }
                } else {
                    let rerun = again[i] == Again::Pending;
                    let keep = consumers_left[i] > 0 || (rerun && !waiting[i].is_empty());
                    let mut values: HashMap<String, AnyValue> = values.into_iter().collect();
                    for (name, record) in &summary.outputs {
                        produced.insert(
                            (i, name.clone()),
                            Produced {
                                record: record.clone(),
                                value: if keep { values.remove(name) } else { None },
                            },
                        );
                    }
                    if rerun {
                        // Its consumers were all started before; the ones that found its
                        // output damaged start again.
                        again[i] = Again::Done;
                        ready.append(&mut waiting[i]);
                    } else {
                        for &d in &downstream[i] {
                            pending_upstream[d] -= 1;
                            if pending_upstream[d] == 0 {
                                ready.push(d);
                            }
                        }
                    }
                    ready.sort_unstable();
                }
                summaries[i] = Some(summary);
            }
        });
        env.stop_heartbeat();
        env.record_deferred()?;
        let recorded = std::mem::take(&mut *locked(&env.recorded));
        let repairs = std::mem::take(&mut *locked(&env.repairs));
        drop(env);
        for s in summaries.iter_mut().flatten() {
            if s.status == StepStatus::Cached {
                s.execution_id = recorded.get(&s.name).copied();
            }
        }

        let steps: Vec<StepSummary> = summaries
            .into_iter()
            .zip(&plan.steps)
            .map(|(s, planned)| {
                s.unwrap_or_else(|| {
                    progress.event(&ProgressEvent::StepSkipped {
                        step: &planned.name,
                    });
                    StepSummary {
                        name: planned.name.clone(),
                        status: StepStatus::Skipped,
                        execution_id: None,
                        cache_key: None,
                        cached_from: None,
                        elapsed: Duration::ZERO,
                        outputs: Vec::new(),
                        error: None,
                    }
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
}

/// The thread that beats for a run while its steps execute.
struct Heartbeat {
    stop: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// What every step of one run shares.
struct RunEnv<'a> {
    runner: &'a Runner,
    pipeline: &'a Pipeline,
    run: &'a RunRecord,
    content: ContentStore<'a>,
    /// Cache hits whose CACHED executions are not recorded yet, by step name. They are recorded
    /// together, in one call, before any step starts to execute and when the run ends: a fully
    /// cached run writes its record in one transaction instead of one per step. (Lost in a crash,
    /// they leave nothing inconsistent: they only record reuse.)
    deferred: Mutex<Vec<(String, NewExecution, CacheHit)>>,
    /// The ids the deferred executions were recorded under, by step name.
    recorded: Mutex<HashMap<String, Id>>,
    /// Damage found and repaired so far.
    repairs: Mutex<Vec<Repaired>>,
    /// Started with the first step that executes: a fully cached run is over before it would
    /// beat once.
    heartbeat: Mutex<Option<Heartbeat>>,
}

/// How many deferred cached executions are recorded at once at most.
const DEFERRED_BATCH: usize = 64;

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RunEnv<'_> {
    /// Records the deferred cached executions.
    fn record_deferred(&self) -> Result<(), MetadataError> {
        let batch = std::mem::take(&mut *locked(&self.deferred));
        if batch.is_empty() {
            return Ok(());
        }
        let (names, executions): (Vec<String>, Vec<(NewExecution, CacheHit)>) = batch
            .into_iter()
            .map(|(name, execution, hit)| (name, (execution, hit)))
            .unzip();
        let ids = self.runner.metadata.record_cached_executions(&executions)?;
        locked(&self.recorded).extend(names.into_iter().zip(ids));
        Ok(())
    }

    /// Starts beating for the run, once.
    fn start_heartbeat(&self) {
        let mut heartbeat = locked(&self.heartbeat);
        if heartbeat.is_some() {
            return;
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let metadata = Arc::clone(&self.runner.metadata);
        let run = self.run.id;
        let interval = self.runner.options.heartbeat_interval;
        let spawned = std::thread::Builder::new()
            .name("zenml-heartbeat".to_owned())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    // A missed beat is made up by the next; a store that fails for longer
                    // fails the run's own writes too.
                    let _ = metadata.heartbeat(run);
                }
            });
        // Without a thread the run goes on; only its liveness is judged by its start.
        if let Ok(thread) = spawned {
            *heartbeat = Some(Heartbeat { stop, thread });
        }
    }

    fn stop_heartbeat(&self) {
        if let Some(Heartbeat { stop, thread }) = locked(&self.heartbeat).take() {
            drop(stop);
            let _ = thread.join();
        }
    }

    /// Reports damage found in the store.
    fn report(&self, step: &str, output: &str, artifact_id: Option<Id>, report: DamageReport) {
        let repaired = Repaired {
            step: step.to_owned(),
            output: output.to_owned(),
            artifact_id,
            report,
        };
        self.runner
            .options
            .progress
            .event(&ProgressEvent::ArtifactRepaired {
                repaired: &repaired,
            });
        locked(&self.repairs).push(repaired);
    }

    fn execute(&self, planned: &PlannedStep, inputs: Vec<Input>, force: bool) -> Outcome {
        let started = Instant::now();
        let mut summary = StepSummary {
            name: planned.name.clone(),
            status: StepStatus::Failed,
            execution_id: None,
            cache_key: None,
            cached_from: None,
            elapsed: Duration::ZERO,
            outputs: Vec::new(),
            error: None,
        };
        let mut values = Vec::new();
        let result = self.execute_inner(planned, inputs, force, &mut summary, &mut values, started);
        summary.elapsed = started.elapsed();
        let progress = &self.runner.options.progress;
        match result {
            Ok(Attempt::Retry(producer, error)) => Outcome {
                summary,
                values: Vec::new(),
                failure: None,
                retry_after: Some((producer, error)),
            },
            Ok(Attempt::Done) => {
                match summary.status {
                    StepStatus::Cached => progress.event(&ProgressEvent::StepCached {
                        step: &planned.name,
                        from_execution: summary.cached_from.unwrap_or_default(),
                        elapsed: summary.elapsed,
                    }),
                    _ => progress.event(&ProgressEvent::StepDone {
                        step: &planned.name,
                        elapsed: summary.elapsed,
                    }),
                }
                Outcome {
                    summary,
                    values,
                    failure: None,
                    retry_after: None,
                }
            }
            Err(failure) => {
                let message = failure.to_string();
                progress.event(&ProgressEvent::StepFailed {
                    step: &planned.name,
                    error: &message,
                    elapsed: summary.elapsed,
                });
                summary.status = StepStatus::Failed;
                summary.error = Some(message);
                Outcome {
                    summary,
                    values: Vec::new(),
                    failure: Some(failure),
                    retry_after: None,
                }
            }
        }
    }

    fn execute_inner(
        &self,
        planned: &PlannedStep,
        inputs: Vec<Input>,
        force: bool,
        summary: &mut StepSummary,
        values: &mut Vec<(String, AnyValue)>,
        started: Instant,
    ) -> Result<Attempt, StepFailure> {
        let runner = self.runner;
        let md = runner.metadata.as_ref();
        let node = &self.pipeline.steps()[planned.index];
        let step = node.step();
        let info = step.info();
        let params = step.params();
        let step_type_id = md.register_step_type(&StepTypeSpec {
            source: info.source.to_owned(),
            version: info.version,
            kind: info.kind,
            doc: info.doc.to_owned(),
            params: info
                .params
                .iter()
                .map(|p| (p.name.to_owned(), p.ty))
                .collect(),
        })?;
        let mut ctx = StepContext::new(
            self.pipeline.name(),
            &self.run.name,
            self.run.id,
            &planned.name,
            &runner.options.scratch_dir,
            Arc::new(ProgressLog(runner.options.progress.clone())),
        );

        let mut new_execution = NewExecution {
            run_id: self.run.id,
            step_type_id,
            step_name: planned.name.clone(),
            params,
            cache_key: None,
            code_fingerprint: info.code_fingerprint,
            inputs: inputs
                .iter()
                .map(|input| (input.spec.name.to_string(), input.record.id))
                .collect(),
        };

        // The fingerprint of external data is taken by the step's own code: guard it like `run`.
        let external = match guarded(|| step.external_fingerprint(&ctx)) {
            Ok(x) => x,
            Err(failure) => return self.fail_unstarted(&new_execution, summary, failure, started),
        };
        let key = CacheKeyInput {
            source: info.source,
            version: info.version,
            code_fingerprint: info.code_fingerprint,
            params: &new_execution.params,
            inputs: inputs
                .iter()
                .map(|input| (input.spec.name.as_ref(), input.record.hash))
                .collect(),
            outputs: planned
                .outputs
                .iter()
                .map(|o| {
                    (
                        o.name.as_ref(),
                        o.kind.materializer(),
                        o.kind.materializer_version(),
                    )
                })
                .collect(),
            external,
        }
        .key();
        new_execution.cache_key = Some(key);
        summary.cache_key = Some(key);

        // A datasource that cannot fingerprint what it reads may read something new every time:
        // it always runs (its downstream steps are still reused when it reads identical data).
        let blind_source = info.kind == StepKind::Datasource && external.is_none();
        let cache = runner.options.cache
            && self.pipeline.cache_enabled()
            && node.cache_enabled()
            && !blind_source
            && !force;
        if cache
            && let Some(hit) = md.find_cached(key)?
            && self.outputs_intact(planned, &hit)?
        {
            summary.status = StepStatus::Cached;
            summary.cached_from = Some(hit.execution_id);
            // In declared order, as for an executed step.
            let mut outputs = hit.outputs.clone();
            outputs.sort_by_key(|(name, _)| {
                planned.outputs.iter().position(|o| o.name == name.as_str())
            });
            summary.outputs = outputs;
            let full = {
                let mut deferred = locked(&self.deferred);
                deferred.push((planned.name.clone(), new_execution, hit));
                deferred.len() >= DEFERRED_BATCH
            };
            if full {
                self.record_deferred()?;
            }
            return Ok(Attempt::Done);
        }

        // The inputs are read before anything is recorded, so that a damaged one sends its
        // producer back to run instead of failing this step.
        let mut step_inputs = Inputs::new();
        for input in inputs {
            let value = match input.value {
                Some(v) => v,
                None => match self.content.read(&input.spec.kind, &input.record) {
                    Ok(v) => v,
                    Err(e) => {
                        let Some(damage) = e.damage().cloned() else {
                            return self.fail_unstarted(&new_execution, summary, e.into(), started);
                        };
                        let repair = self.content.repair(input.record.hash, &damage)?;
                        self.report(
                            &input.producer_name,
                            &input.output,
                            Some(input.record.id),
                            DamageReport {
                                uri: input.record.uri.clone(),
                                hash: input.record.hash,
                                damage,
                                repair,
                            },
                        );
                        return Ok(Attempt::Retry(input.producer, e));
                    }
                },
            };
            step_inputs.insert(input.spec.name.to_string(), value);
        }

        // Executions are recorded in the order steps finished with them.
        self.record_deferred()?;
        let id = md.begin_execution(&new_execution)?;
        summary.execution_id = Some(id);
        self.start_heartbeat();
        runner.options.progress.event(&ProgressEvent::StepStarted {
            step: &planned.name,
        });
        match self.run_step(&mut ctx, planned, step_inputs, values) {
            Ok(outputs) => {
                let metrics = ctx.take_metrics();
                let records = md.complete_execution(id, &outputs, &metrics, elapsed_ms(started))?;
                summary.outputs = outputs
                    .into_iter()
                    .map(|(name, _)| name)
                    .zip(records)
                    .collect();
                summary.status = StepStatus::Completed;
                Ok(Attempt::Done)
            }
            Err(failure) => {
                values.clear();
                let metrics = ctx.take_metrics();
                md.fail_execution(id, &failure.to_string(), &metrics, elapsed_ms(started))?;
                Err(failure)
            }
        }
    }

    /// Records a step that failed before it started as a FAILED execution.
    fn fail_unstarted(
        &self,
        execution: &NewExecution,
        summary: &mut StepSummary,
        failure: StepFailure,
        started: Instant,
    ) -> Result<Attempt, StepFailure> {
        let md = self.runner.metadata.as_ref();
        self.record_deferred()?;
        let id = md.begin_execution(execution)?;
        summary.execution_id = Some(id);
        md.fail_execution(id, &failure.to_string(), &[], elapsed_ms(started))?;
        Err(failure)
    }

    /// Runs the step's code on its inputs, checks and writes its outputs.
    fn run_step(
        &self,
        ctx: &mut StepContext,
        planned: &PlannedStep,
        step_inputs: Inputs,
        values: &mut Vec<(String, AnyValue)>,
    ) -> Result<Vec<(String, NewArtifact)>, StepFailure> {
        let step = self.pipeline.steps()[planned.index].step();
        let mut outputs = guarded(|| step.run(ctx, &step_inputs))?;
        drop(step_inputs);

        let mut written = Vec::with_capacity(planned.outputs.len());
        for spec in &planned.outputs {
            let value = outputs.take(&spec.name).ok_or_else(|| {
                StepFailure::Outputs(format!("the step did not set its output `{}`", spec.name))
            })?;
            let any: &(dyn Any + Send + Sync) = value.as_ref();
            if any.type_id() != spec.kind.type_id() {
                return Err(StepFailure::Outputs(format!(
                    "output `{}` must be a {}",
                    spec.name,
                    spec.kind.type_name()
                )));
            }
            let out = self.content.write(&spec.kind, any)?;
            if let Some(report) = out.repaired {
                self.report(&planned.name, &spec.name, None, report);
            }
            written.push((spec.name.to_string(), out.artifact));
            values.push((spec.name.to_string(), value));
        }
        let extra: Vec<&str> = outputs.names().collect();
        if !extra.is_empty() {
            return Err(StepFailure::Outputs(format!(
                "the step set outputs it does not declare: {}",
                extra.join(", ")
            )));
        }
        Ok(written)
    }

    /// Are the cached outputs all there, with the declared names and intact bytes (checked as
    /// [`RunOptions::verify`] says)? Damage is reported and cleared, so that executing the step
    /// publishes its outputs afresh.
    fn outputs_intact(&self, planned: &PlannedStep, hit: &CacheHit) -> Result<bool, StepFailure> {
        let declared = &planned.outputs;
        if hit.outputs.len() != declared.len()
            || !declared
                .iter()
                .all(|d| hit.outputs.iter().any(|(n, _)| n == d.name.as_ref()))
        {
            return Ok(false);
        }
        for (name, record) in &hit.outputs {
            match self.content.check(record, self.runner.options.verify)? {
                Checked::Intact { retag: None } => {}
                Checked::Intact { retag: Some(etag) } => {
                    self.runner
                        .metadata
                        .set_artifact_etag(record.id, etag.as_deref())?;
                }
                Checked::Damaged(damage) => {
                    let repair = self.content.repair(record.hash, &damage)?;
                    self.report(
                        &planned.name,
                        name,
                        Some(record.id),
                        DamageReport {
                            uri: record.uri.clone(),
                            hash: record.hash,
                            damage,
                            repair,
                        },
                    );
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}

/// Does the recorded config describe `pipeline`, though its text differs (written by another
/// version of the config writer, or by hand)? Compared as parsed configs.
fn same_definition(recorded: &str, pipeline: &Pipeline) -> bool {
    crate::pipeline::PipelineConfig::from_yaml(recorded).is_ok_and(|c| c == pipeline.to_config())
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
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
