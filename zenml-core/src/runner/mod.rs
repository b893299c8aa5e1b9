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

mod progress;

pub use progress::{ConsoleProgress, Progress, ProgressEvent, QuietProgress, human_duration};

use std::any::Any;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::artifact::io::{
    ArtifactError, content_key, read_artifact, verify_artifact, write_artifact,
};
use crate::artifact::{AnyValue, Inputs};
use crate::cache::CacheKeyInput;
use crate::hash::Hash128;
use crate::pipeline::{Pipeline, PipelineError, PlannedStep};
use crate::step::{IoSpec, StepContext, StepKind};
use crate::store::{
    ArtifactRecord, ArtifactStore, CacheHit, Id, MetadataError, MetadataStore, NewArtifact,
    NewExecution, RunRecord, RunStatus, StepTypeSpec,
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
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("cache", &self.cache)
            .field("max_parallel", &self.max_parallel)
            .field("scratch_dir", &self.scratch_dir)
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

/// What a run did.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// The run as recorded.
    pub run: RunRecord,
    /// Every step, in execution-plan order.
    pub steps: Vec<StepSummary>,
    /// The whole run's time.
    pub elapsed: Duration,
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
    /// A pipeline of this name ran before with another definition; nothing ran.
    #[error(
        "pipeline `{0}` has already run with another definition, and a pipeline that has run is \
         immutable: run a copy under a new name (`pipeline.copy(\"{0} v2\")`)"
    )]
    Immutable(String),
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

/// What executing (or reusing) one step gave.
struct Outcome {
    summary: StepSummary,
    values: Vec<(String, AnyValue)>,
    failure: Option<StepFailure>,
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

    /// Validates and runs `pipeline`, recording everything in the metadata store.
    pub fn run(&self, pipeline: &Pipeline) -> Result<RunSummary, RunError> {
        let started = Instant::now();
        let plan = pipeline.validate()?;
        let config = pipeline.to_yaml();
        if let Some(existing) = self.metadata.pipeline_by_name(pipeline.name())?
            && existing.config != config
            && !same_definition(&existing.config, pipeline)
        {
            return Err(RunError::Immutable(pipeline.name().to_owned()));
        }
        let record = self.metadata.register_pipeline(pipeline.name(), &config)?;
        let run = self.metadata.begin_run(record.id, &config)?;
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
        // How many consumers of a step have not started yet; its values are dropped at zero.
        let mut consumers_left: Vec<usize> = downstream.iter().map(Vec::len).collect();
        let mut produced: HashMap<(usize, String), Produced> = HashMap::new();
        let mut summaries: Vec<Option<StepSummary>> = vec![None; n];
        let mut failure: Option<(String, StepFailure)> = None;
        let mut ready: Vec<usize> = (0..n).filter(|&i| pending_upstream[i] == 0).collect();
        let max_parallel = self.options.max_parallel.max(1);
        let env = RunEnv {
            runner: self,
            pipeline,
            run: &run,
            deferred: Mutex::new(Vec::new()),
            recorded: Mutex::new(HashMap::new()),
        };

        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
            let mut running = 0usize;
            loop {
                while failure.is_none() && running < max_parallel && !ready.is_empty() {
                    let i = ready.remove(0);
                    let planned = &plan.steps[i];
                    let inputs: Vec<(IoSpec, ArtifactRecord, Option<AnyValue>)> = planned
                        .inputs
                        .iter()
                        .filter_map(|(spec, r)| {
                            let up = plan.steps.iter().position(|s| s.name == r.step)?;
                            let p = produced.get(&(up, r.output.clone()))?;
                            Some((spec.clone(), p.record.clone(), p.value.clone()))
                        })
                        .collect();
                    for &u in &planned.upstream {
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
                        let _ = tx.send((i, env.execute(planned, inputs)));
                    } else {
                        scope.spawn(move || {
                            let outcome = env.execute(planned, inputs);
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
                } = outcome;
                if let Some(f) = failed {
                    if failure.is_none() {
                        failure = Some((summary.name.clone(), f));
                    }
                } else {
                    let keep = consumers_left[i] > 0;
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
                    for &d in &downstream[i] {
                        pending_upstream[d] -= 1;
                        if pending_upstream[d] == 0 {
                            ready.push(d);
                        }
                    }
                    ready.sort_unstable();
                }
                summaries[i] = Some(summary);
            }
        });
        env.record_deferred()?;
        let recorded = std::mem::take(&mut *locked(&env.recorded));
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
        self.metadata.finish_run(run.id, status)?;
        let run = self.metadata.run(run.id).unwrap_or(run);
        let summary = RunSummary {
            run,
            elapsed: started.elapsed(),
            steps,
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

/// What every step of one run shares.
struct RunEnv<'a> {
    runner: &'a Runner,
    pipeline: &'a Pipeline,
    run: &'a RunRecord,
    /// Cache hits whose CACHED executions are not recorded yet, by step name. They are recorded
    /// together, in one call, before any step starts to execute and when the run ends: a fully
    /// cached run writes its record in one transaction instead of one per step. (Lost in a crash,
    /// they leave nothing inconsistent: they only record reuse.)
    deferred: Mutex<Vec<(String, NewExecution, CacheHit)>>,
    /// The ids the deferred executions were recorded under, by step name.
    recorded: Mutex<HashMap<String, Id>>,
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

    fn execute(
        &self,
        planned: &PlannedStep,
        inputs: Vec<(IoSpec, ArtifactRecord, Option<AnyValue>)>,
    ) -> Outcome {
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
        let result = self.execute_inner(planned, inputs, &mut summary, &mut values, started);
        summary.elapsed = started.elapsed();
        let progress = &self.runner.options.progress;
        match result {
            Ok(()) => {
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
                }
            }
        }
    }

    fn execute_inner(
        &self,
        planned: &PlannedStep,
        inputs: Vec<(IoSpec, ArtifactRecord, Option<AnyValue>)>,
        summary: &mut StepSummary,
        values: &mut Vec<(String, AnyValue)>,
        started: Instant,
    ) -> Result<(), StepFailure> {
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
                .map(|(spec, record, _)| (spec.name.to_string(), record.id))
                .collect(),
        };

        // The fingerprint of external data is taken by the step's own code: guard it like `run`.
        let external = match guarded(|| step.external_fingerprint(&ctx)) {
            Ok(x) => x,
            Err(failure) => {
                self.record_deferred()?;
                let id = md.begin_execution(&new_execution)?;
                summary.execution_id = Some(id);
                md.fail_execution(id, &failure.to_string(), &[], elapsed_ms(started))?;
                return Err(failure);
            }
        };
        let key = CacheKeyInput {
            source: info.source,
            version: info.version,
            code_fingerprint: info.code_fingerprint,
            params: &new_execution.params,
            inputs: inputs
                .iter()
                .map(|(spec, record, _)| (spec.name.as_ref(), record.hash))
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
            && !blind_source;
        if cache
            && let Some(hit) = md.find_cached(key)?
            && self.outputs_intact(&hit, &planned.outputs)?
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
            return Ok(());
        }

        // Executions are recorded in the order steps finished with them.
        self.record_deferred()?;
        let id = md.begin_execution(&new_execution)?;
        summary.execution_id = Some(id);
        runner.options.progress.event(&ProgressEvent::StepStarted {
            step: &planned.name,
        });
        match self.run_step(&mut ctx, planned, inputs, values) {
            Ok(outputs) => {
                let metrics = ctx.take_metrics();
                let records = md.complete_execution(id, &outputs, &metrics, elapsed_ms(started))?;
                summary.outputs = outputs
                    .into_iter()
                    .map(|(name, _)| name)
                    .zip(records)
                    .collect();
                summary.status = StepStatus::Completed;
                Ok(())
            }
            Err(failure) => {
                values.clear();
                let metrics = ctx.take_metrics();
                md.fail_execution(id, &failure.to_string(), &metrics, elapsed_ms(started))?;
                Err(failure)
            }
        }
    }

    /// Reads the inputs, runs the step's code, checks and writes its outputs.
    fn run_step(
        &self,
        ctx: &mut StepContext,
        planned: &PlannedStep,
        inputs: Vec<(IoSpec, ArtifactRecord, Option<AnyValue>)>,
        values: &mut Vec<(String, AnyValue)>,
    ) -> Result<Vec<(String, NewArtifact)>, StepFailure> {
        let store = self.runner.artifacts.as_ref();
        let mut step_inputs = Inputs::new();
        for (spec, record, value) in inputs {
            let value = match value {
                Some(v) => v,
                None => read_artifact(store, &spec.kind, &record).inspect_err(|e| {
                    if matches!(e, ArtifactError::Corrupted { .. }) {
                        // Its version tag did not change with its bytes, so the cache check of
                        // the step that produced it still trusts it: remove it, so that the
                        // next run recomputes it rather than failing here again. The step
                        // fails either way; a failure to remove adds nothing to its error.
                        let _ = store.delete(&content_key(record.hash));
                    }
                })?,
            };
            step_inputs.insert(spec.name.to_string(), value);
        }
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
            written.push((
                spec.name.to_string(),
                write_artifact(store, &spec.kind, any)?,
            ));
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

    /// Are the cached outputs all there, with the declared names and intact bytes?
    ///
    /// A missing object or one of the wrong size fails at once. An object whose version tag
    /// (ETag) still equals the one recorded when it was published is trusted; otherwise its bytes
    /// are read and hashed. An object whose bytes no longer match its content address is deleted,
    /// so that recomputing the step can publish it afresh.
    fn outputs_intact(&self, hit: &CacheHit, declared: &[IoSpec]) -> Result<bool, StepFailure> {
        if hit.outputs.len() != declared.len()
            || !declared
                .iter()
                .all(|d| hit.outputs.iter().any(|(n, _)| n == d.name.as_ref()))
        {
            return Ok(false);
        }
        let store = self.runner.artifacts.as_ref();
        for (_, record) in &hit.outputs {
            let key = content_key(record.hash);
            let Some(info) = store.head(&key).map_err(ArtifactError::from)? else {
                return Ok(false);
            };
            if info.size != record.size {
                store.delete(&key).map_err(ArtifactError::from)?;
                return Ok(false);
            }
            if info.etag.is_some() && info.etag == record.etag {
                continue;
            }
            match verify_artifact(store, record) {
                Ok(()) => {
                    self.runner
                        .metadata
                        .set_artifact_etag(record.id, info.etag.as_deref())?;
                }
                Err(ArtifactError::Corrupted { .. }) => {
                    store.delete(&key).map_err(ArtifactError::from)?;
                    return Ok(false);
                }
                Err(e) => return Err(e.into()),
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
