//! The step executor: one planned step, its inputs resolved, to its outcome.
//!
//! The same executor serves the in-process runner (inputs handed over in memory), the per-step
//! entrypoint ([`Runner::exec_step`](super::Runner::exec_step), inputs read from the stores) and
//! every orchestrator (which only asks it whether a step is cached). It checks the cache,
//! records the execution, runs the step's code and publishes its outputs; it decides nothing
//! about what runs next: that is the [scheduler](super::scheduler).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::artifact::io::{ArtifactError, Checked, ContentStore, DamageReport};
use crate::artifact::{AnyValue, Inputs, Outputs};
use crate::cache::CacheKeyInput;
use crate::hash::Hash128;
use crate::pipeline::{Pipeline, Plan, PlannedStep};
use crate::step::{StepContext, StepKind};
use crate::store::{
    ArtifactRecord, CacheHit, Id, MetadataError, NewArtifact, NewExecution, RunRecord, StepTypeSpec,
};

use super::progress::ProgressLog;
use super::{
    ProgressEvent, Repaired, Runner, StepFailure, StepStatus, StepSummary, guarded, human_duration,
};

/// An input of a step about to run, resolved: the artifact it reads, and its value when the
/// producing step ran in this process. Inputs are given in the order of
/// [`PlannedStep::inputs`].
pub(crate) struct ResolvedInput {
    pub(crate) record: ArtifactRecord,
    pub(crate) value: Option<AnyValue>,
}

/// How far the executor may go with a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Reuse its cached outputs, or execute it.
    Execute,
    /// Reuse its cached outputs, or only say that it is not cached (an orchestrator that runs
    /// it elsewhere).
    CacheOnly,
    /// Execute it without looking in the cache (its cached outputs were found damaged).
    Force,
}

/// How one step went.
pub(crate) enum Outcome {
    /// Its outputs were reused; its CACHED execution is recorded with the next batch
    /// ([`StepExecutor::record_deferred`]).
    Cached(StepSummary),
    /// It executed and published its outputs; their values, for in-memory handoff.
    Completed(StepSummary, Vec<(String, AnyValue)>),
    /// It failed (its execution is recorded FAILED when it got that far).
    Failed(StepSummary, StepFailure),
    /// It did not start: an input it had to read was damaged (and is reported). The producing
    /// step (its index in the plan) must run again first; the error is what the step fails with
    /// if that does not help.
    NeedsProducer(StepSummary, usize, ArtifactError),
    /// [`Mode::CacheOnly`]: it is not cached, and nothing was recorded.
    NotCached(StepSummary),
}

/// The thread that beats for a run while its steps execute.
struct Heartbeat {
    stop: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// What every step of one run shares: the run, the stores, the step types (registered
/// once per run), cache hits not recorded yet, damage found so far.
pub(crate) struct StepExecutor<'a> {
    runner: &'a Runner,
    pipeline: &'a Pipeline,
    run: &'a RunRecord,
    content: ContentStore<'a>,
    /// The recorded step type of each step, by index in the pipeline.
    step_types: Vec<Option<Id>>,
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

pub(crate) fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// A step's summary before anything is known but its name.
fn summary(planned: &PlannedStep, status: StepStatus) -> StepSummary {
    StepSummary::new(&planned.name, status)
}

impl<'a> StepExecutor<'a> {
    /// An executor for the steps `steps` (indices into the plan) of `run`: their step types are
    /// registered now, once each.
    pub(crate) fn new(
        runner: &'a Runner,
        pipeline: &'a Pipeline,
        plan: &Plan,
        run: &'a RunRecord,
        steps: impl IntoIterator<Item = usize>,
    ) -> Result<Self, MetadataError> {
        let mut step_types = vec![None; pipeline.steps().len()];
        let mut by_type: HashMap<(&'static str, u32), Id> = HashMap::new();
        for k in steps {
            let index = plan.steps[k].index;
            let info = pipeline.steps()[index].step().info();
            let id = match by_type.get(&(info.source, info.version)) {
                Some(&id) => id,
                None => {
                    let id = runner.metadata.register_step_type(&StepTypeSpec {
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
                    by_type.insert((info.source, info.version), id);
                    id
                }
            };
            step_types[index] = Some(id);
        }
        Ok(StepExecutor {
            runner,
            pipeline,
            run,
            content: ContentStore::new(runner.artifacts.as_ref()),
            step_types,
            deferred: Mutex::new(Vec::new()),
            recorded: Mutex::new(HashMap::new()),
            repairs: Mutex::new(Vec::new()),
            heartbeat: Mutex::new(None),
        })
    }

    /// Takes one step with its resolved inputs to its outcome, and reports it.
    pub(crate) fn execute(
        &self,
        planned: &PlannedStep,
        inputs: Vec<ResolvedInput>,
        mode: Mode,
    ) -> Outcome {
        let started = Instant::now();
        let mut outcome = self.attempt(planned, inputs, mode, started);
        let progress = &self.runner.options.progress;
        match &mut outcome {
            Outcome::Cached(s) => {
                s.elapsed = started.elapsed();
                progress.event(&ProgressEvent::StepCached {
                    step: &planned.name,
                    from_execution: s.cached_from.unwrap_or_default(),
                    elapsed: s.elapsed,
                });
            }
            Outcome::Completed(s, _) => {
                s.elapsed = started.elapsed();
                progress.event(&ProgressEvent::StepDone {
                    step: &planned.name,
                    elapsed: s.elapsed,
                });
            }
            Outcome::Failed(s, failure) => {
                s.elapsed = started.elapsed();
                let message = failure.to_string();
                progress.event(&ProgressEvent::StepFailed {
                    step: &planned.name,
                    error: &message,
                    elapsed: s.elapsed,
                });
                s.error = Some(message);
            }
            Outcome::NeedsProducer(s, ..) | Outcome::NotCached(s) => {
                s.elapsed = started.elapsed();
            }
        }
        outcome
    }

    fn attempt(
        &self,
        planned: &PlannedStep,
        inputs: Vec<ResolvedInput>,
        mode: Mode,
        started: Instant,
    ) -> Outcome {
        let failed = |key: Option<Hash128>, id: Option<Id>, failure: StepFailure| {
            let mut s = summary(planned, StepStatus::Failed);
            s.cache_key = key;
            s.execution_id = id;
            Outcome::Failed(s, failure)
        };
        let node = &self.pipeline.steps()[planned.index];
        let step = node.step();
        let info = step.info();
        let Some(step_type_id) = self.step_types[planned.index] else {
            return failed(
                None,
                None,
                StepFailure::Error(format!(
                    "step `{}` is not part of what this process executes",
                    planned.name
                )),
            );
        };
        let ctx = self.context(planned);
        let mut execution = NewExecution {
            run_id: self.run.id,
            step_type_id,
            step_name: planned.name.clone(),
            params: step.params(),
            cache_key: None,
            code_fingerprint: info.code_fingerprint,
            inputs: planned
                .inputs
                .iter()
                .zip(&inputs)
                .map(|(p, input)| (p.spec.name.to_string(), input.record.id))
                .collect(),
        };

        // The fingerprint of external data is taken by the step's own code: guard it like `run`.
        let external = match guarded(|| step.external_fingerprint(&ctx)) {
            Ok(x) => x,
            // Where the step runs, it will fail the same way and record that.
            Err(_) if mode == Mode::CacheOnly => {
                return Outcome::NotCached(summary(planned, StepStatus::Skipped));
            }
            Err(failure) => {
                let id = self.fail_unstarted(&execution, &failure, started);
                return failed(None, id, failure);
            }
        };
        let key = CacheKeyInput {
            source: info.source,
            version: info.version,
            code_fingerprint: info.code_fingerprint,
            params: &execution.params,
            inputs: planned
                .inputs
                .iter()
                .zip(&inputs)
                .map(|(p, input)| (p.spec.name.as_ref(), input.record.hash))
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
        execution.cache_key = Some(key);

        // A datasource that cannot fingerprint what it reads may read something new every time:
        // it always runs (its downstream steps are still reused when it reads identical data).
        let blind_source = info.kind == StepKind::Datasource && external.is_none();
        let cache = self.runner.options.cache
            && self.pipeline.cache_enabled()
            && node.cache_enabled()
            && !blind_source
            && mode != Mode::Force;
        if cache {
            match self.reusable(planned, key) {
                Ok(Some(hit)) => return self.defer(planned, execution, hit),
                Ok(None) => {}
                Err(failure) => return failed(Some(key), None, failure),
            }
        }
        if mode == Mode::CacheOnly {
            let mut s = summary(planned, StepStatus::Skipped);
            s.cache_key = Some(key);
            return Outcome::NotCached(s);
        }

        // The inputs are read before anything is recorded, so that a damaged one sends its
        // producer back to run instead of failing this step.
        let step_inputs = match self.read_inputs(planned, inputs) {
            Ok(Ok(values)) => values,
            Ok(Err((producer, error))) => {
                let mut s = summary(planned, StepStatus::Failed);
                s.cache_key = Some(key);
                return Outcome::NeedsProducer(s, producer, error);
            }
            Err(failure) => {
                let id = self.fail_unstarted(&execution, &failure, started);
                return failed(Some(key), id, failure);
            }
        };

        // Executions are recorded in the order steps finished with them.
        let id = match self
            .record_deferred()
            .and_then(|()| self.runner.metadata.begin_execution(&execution))
        {
            Ok(id) => id,
            Err(e) => return failed(Some(key), None, e.into()),
        };
        self.start_heartbeat();
        self.runner
            .options
            .progress
            .event(&ProgressEvent::StepStarted {
                step: &planned.name,
            });
        let mut ctx = ctx;
        let md = self.runner.metadata.as_ref();
        match self.run_step(&mut ctx, planned, step_inputs) {
            Ok((outputs, values)) => {
                let metrics = ctx.take_metrics();
                match md.complete_execution(id, &outputs, &metrics, elapsed_ms(started)) {
                    Ok(records) => {
                        let mut s = summary(planned, StepStatus::Completed);
                        s.cache_key = Some(key);
                        s.execution_id = Some(id);
                        s.outputs = outputs
                            .into_iter()
                            .map(|(name, _)| name)
                            .zip(records)
                            .collect();
                        Outcome::Completed(s, values)
                    }
                    Err(e) => failed(Some(key), Some(id), e.into()),
                }
            }
            Err(failure) => {
                let metrics = ctx.take_metrics();
                let recorded =
                    md.fail_execution(id, &failure.to_string(), &metrics, elapsed_ms(started));
                let failure = match recorded {
                    Ok(()) => failure,
                    Err(e) => e.into(),
                };
                failed(Some(key), Some(id), failure)
            }
        }
    }

    fn context(&self, planned: &PlannedStep) -> StepContext {
        StepContext::new(
            self.pipeline.name(),
            &self.run.name,
            self.run.id,
            &planned.name,
            &self.runner.options.scratch_dir,
            Arc::new(ProgressLog(self.runner.options.progress.clone())),
        )
    }

    /// The earlier execution whose outputs the step may reuse, if any.
    fn reusable(
        &self,
        planned: &PlannedStep,
        key: Hash128,
    ) -> Result<Option<CacheHit>, StepFailure> {
        match self.runner.metadata.find_cached(key)? {
            Some(hit) if self.outputs_intact(planned, &hit)? => Ok(Some(hit)),
            _ => Ok(None),
        }
    }

    /// Queues the CACHED execution of a step that reuses `hit`.
    fn defer(&self, planned: &PlannedStep, execution: NewExecution, hit: CacheHit) -> Outcome {
        let key = execution.cache_key;
        let mut s = summary(planned, StepStatus::Cached);
        s.cache_key = key;
        s.cached_from = Some(hit.execution_id);
        // In declared order, as for an executed step.
        let mut outputs = hit.outputs.clone();
        outputs
            .sort_by_key(|(name, _)| planned.outputs.iter().position(|o| o.name == name.as_str()));
        s.outputs = outputs;
        let full = {
            let mut deferred = locked(&self.deferred);
            deferred.push((planned.name.clone(), execution, hit));
            deferred.len() >= DEFERRED_BATCH
        };
        if full && let Err(e) = self.record_deferred() {
            let mut s = summary(planned, StepStatus::Failed);
            s.cache_key = key;
            return Outcome::Failed(s, e.into());
        }
        Outcome::Cached(s)
    }

    /// The inputs' values, read from the store where they were not handed over; or the
    /// producer to run again (its index in the plan) when one was damaged.
    #[allow(clippy::type_complexity)]
    fn read_inputs(
        &self,
        planned: &PlannedStep,
        inputs: Vec<ResolvedInput>,
    ) -> Result<Result<Inputs, (usize, ArtifactError)>, StepFailure> {
        let mut step_inputs = Inputs::new();
        for (p, input) in planned.inputs.iter().zip(inputs) {
            let value = match input.value {
                Some(v) => v,
                None => match self.content.read(&p.spec.kind, &input.record) {
                    Ok(v) => v,
                    Err(e) => {
                        let Some(damage) = e.damage().cloned() else {
                            return Err(e.into());
                        };
                        let repair = self.content.repair(input.record.hash, &damage)?;
                        self.report(
                            &p.source.step,
                            &p.source.output,
                            Some(input.record.id),
                            DamageReport {
                                uri: input.record.uri.clone(),
                                hash: input.record.hash,
                                damage,
                                repair,
                            },
                        );
                        return Ok(Err((p.producer, e)));
                    }
                },
            };
            step_inputs.insert(p.spec.name.to_string(), value);
        }
        Ok(Ok(step_inputs))
    }

    /// Records a step that failed before it started as a FAILED execution; its id, when that
    /// could be recorded.
    fn fail_unstarted(
        &self,
        execution: &NewExecution,
        failure: &StepFailure,
        started: Instant,
    ) -> Option<Id> {
        let md = self.runner.metadata.as_ref();
        self.record_deferred().ok()?;
        let id = md.begin_execution(execution).ok()?;
        md.fail_execution(id, &failure.to_string(), &[], elapsed_ms(started))
            .ok()?;
        Some(id)
    }

    /// Runs the step's code on its inputs (tried again as its [`Resources`] say), checks and
    /// writes its outputs.
    #[allow(clippy::type_complexity)]
    fn run_step(
        &self,
        ctx: &mut StepContext,
        planned: &PlannedStep,
        step_inputs: Inputs,
    ) -> Result<(Vec<(String, NewArtifact)>, Vec<(String, AnyValue)>), StepFailure> {
        let node = &self.pipeline.steps()[planned.index];
        let resources = node.resources();
        let step_inputs = Arc::new(step_inputs);
        let mut retry = 0;
        let mut outputs = loop {
            match self.attempt_code(planned, ctx, &step_inputs, resources.time_limit()) {
                Ok(outputs) => break outputs,
                Err(failure) if retry < resources.retries && failure.is_retried() => {
                    let wait = resources.backoff(retry);
                    retry += 1;
                    // What the failed attempt recorded is not the step's.
                    ctx.take_metrics();
                    ctx.log(format_args!(
                        "attempt {retry} of {} failed: {failure}; trying again in {}",
                        resources.retries + 1,
                        human_duration(wait)
                    ));
                    std::thread::sleep(wait);
                }
                Err(failure) => return Err(failure),
            }
        };
        drop(step_inputs);

        let mut written = Vec::with_capacity(planned.outputs.len());
        let mut values = Vec::with_capacity(planned.outputs.len());
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
        Ok((written, values))
    }

    /// One attempt at the step's code. With a time limit it runs on a thread of its own, which
    /// is abandoned when the limit is reached (its code cannot be stopped; what it returns
    /// later is discarded).
    fn attempt_code(
        &self,
        planned: &PlannedStep,
        ctx: &mut StepContext,
        inputs: &Arc<Inputs>,
        limit: Option<Duration>,
    ) -> Result<Outputs, StepFailure> {
        let step = self.pipeline.steps()[planned.index].step();
        let Some(limit) = limit else {
            return guarded(|| step.run(ctx, inputs));
        };
        let step = step.clone_box();
        let inputs = Arc::clone(inputs);
        let mut moved = std::mem::replace(ctx, self.context(planned));
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("zenml-step-{}", planned.name))
            .spawn(move || {
                let result = guarded(|| step.run(&mut moved, &inputs));
                let _ = tx.send((moved, result));
            })
            .map_err(|e| StepFailure::Error(format!("the step's thread cannot start: {e}")))?;
        match rx.recv_timeout(limit) {
            Ok((back, result)) => {
                *ctx = back;
                result
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Err(StepFailure::TimedOut(limit)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(StepFailure::Panic(
                "the step's thread ended without a result".to_owned(),
            )),
        }
    }

    /// Are the cached outputs all there, with the declared names and intact bytes (checked as
    /// [`RunOptions::verify`](super::RunOptions::verify) says)? Damage is reported and cleared,
    /// so that executing the step publishes its outputs afresh.
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

    /// Records the deferred cached executions.
    pub(crate) fn record_deferred(&self) -> Result<(), MetadataError> {
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

    /// Ends the executor's part of the run: stops beating, records what is deferred, and gives
    /// the ids of the CACHED executions by step name and the damage found.
    pub(crate) fn finish(self) -> Result<(HashMap<String, Id>, Vec<Repaired>), MetadataError> {
        self.stop_heartbeat();
        self.record_deferred()?;
        let recorded = std::mem::take(&mut *locked(&self.recorded));
        let repairs = std::mem::take(&mut *locked(&self.repairs));
        Ok((recorded, repairs))
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
}
