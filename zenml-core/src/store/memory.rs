//! An in-memory metadata store, for tests and throwaway runs.
//!
//! [`MemoryMetadataStore`] keeps everything in plain collections behind one mutex and follows the
//! same contract as the SQLite store (the conformance suite checks both): the same ids for the
//! same kinds of records, the same orders, the same errors. Every store opened through the
//! `memory` backend (`metadata: { type: memory }` in a config) is a new, empty one; it is gone
//! when the last handle to it is dropped.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::hash::Hash128;
use crate::param::Value;
use crate::step::StepKind;
use crate::store::backend::{
    check_step_type_change, declared_params, sorted_by_name, stored_params,
};
use crate::store::{
    ArtifactRecord, CacheHit, Conflict, ExecutionRecord, ExecutionState, Id, MetadataBackend,
    MetadataConfig, MetadataError, MetadataQuery, MetadataStore, NewArtifact, NewExecution,
    OpenMode, PipelineRecord, PropertyType, RunRecord, RunStatus, RunningRun, StepTypeRecord,
    StepTypeSpec,
};

/// A metadata store in memory. Cheap to create; safe to share between threads.
#[derive(Debug, Default)]
pub struct MemoryMetadataStore {
    inner: Mutex<Inner>,
}

impl MemoryMetadataStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryMetadataStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every method checks before it changes anything, so a panic elsewhere while the lock
        // was held cannot have left a half-made change behind.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn open_memory(
    _config: &MetadataConfig,
    _base: &Path,
    _mode: OpenMode,
) -> Result<Arc<dyn MetadataQuery>, MetadataError> {
    Ok(Arc::new(MemoryMetadataStore::new()))
}

inventory::submit! {
    MetadataBackend {
        name: "memory",
        feature: "zenml (always linked)",
        open: open_memory,
    }
}

#[derive(Debug)]
struct StepType {
    source: String,
    version: u32,
    kind: StepKind,
    params: BTreeMap<String, PropertyType>,
}

#[derive(Debug)]
struct Pipeline {
    name: String,
    config: String,
    created_ms: i64,
    updated_ms: i64,
    run_count: u64,
}

#[derive(Debug)]
struct Run {
    name: String,
    pipeline_id: Id,
    status: RunStatus,
    config: String,
    started_ms: i64,
    finished_ms: Option<i64>,
    /// While running: the owner and its last heartbeat.
    owner: Option<(String, i64)>,
}

#[derive(Debug)]
struct Execution {
    run_id: Id,
    step_type_id: Id,
    step_name: String,
    state: ExecutionState,
    /// Sorted by name, without nulls.
    params: Vec<(String, Value)>,
    cache_key: Option<Hash128>,
    cache_invalidated: bool,
    code_fingerprint: Hash128,
    cached_from: Option<Id>,
    metrics: BTreeMap<String, f64>,
    duration_ms: Option<i64>,
    error: Option<String>,
    /// Sorted by name.
    inputs: Vec<(String, Id)>,
    /// Sorted by name.
    outputs: Vec<(String, Id)>,
    created_ms: i64,
    updated_ms: i64,
}

#[derive(Debug, Default)]
struct Inner {
    /// One id sequence for every kind of record, so that an id of one kind is never found as
    /// another.
    last_id: Id,
    step_types: BTreeMap<Id, StepType>,
    pipelines: BTreeMap<Id, Pipeline>,
    runs: BTreeMap<Id, Run>,
    executions: BTreeMap<Id, Execution>,
    artifacts: BTreeMap<Id, ArtifactRecord>,
    /// The reusable execution of each cache key: the newest COMPLETE one not invalidated.
    cache: HashMap<Hash128, Id>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn not_found(what: &'static str, key: impl ToString) -> MetadataError {
    MetadataError::NotFound {
        what,
        key: key.to_string(),
    }
}

fn size_of(artifact: &NewArtifact) -> Result<u64, MetadataError> {
    if i64::try_from(artifact.size).is_err() {
        return Err(Conflict::TooLarge {
            uri: artifact.uri.clone(),
            size: artifact.size,
        }
        .into());
    }
    Ok(artifact.size)
}

impl Inner {
    fn next_id(&mut self) -> Id {
        self.last_id += 1;
        self.last_id
    }

    fn pipeline(&self, id: Id) -> Result<&Pipeline, MetadataError> {
        self.pipelines
            .get(&id)
            .ok_or_else(|| not_found("pipeline", id))
    }

    fn run_record(&self, id: Id) -> Result<RunRecord, MetadataError> {
        let run = self.runs.get(&id).ok_or_else(|| not_found("run", id))?;
        let pipeline = self.pipeline(run.pipeline_id)?;
        Ok(RunRecord {
            id,
            name: run.name.clone(),
            pipeline_id: run.pipeline_id,
            pipeline_name: pipeline.name.clone(),
            status: run.status,
            config: run.config.clone(),
            started_ms: run.started_ms,
            finished_ms: run.finished_ms,
        })
    }

    fn execution_record(&self, id: Id) -> Result<ExecutionRecord, MetadataError> {
        let e = self
            .executions
            .get(&id)
            .ok_or_else(|| not_found("execution", id))?;
        let ty = self
            .step_types
            .get(&e.step_type_id)
            .ok_or_else(|| not_found("step type", e.step_type_id))?;
        let mut params: BTreeMap<&str, Value> = ty
            .params
            .keys()
            .map(|n| (n.as_str(), Value::Null))
            .collect();
        for (name, value) in &e.params {
            params.insert(name, value.clone());
        }
        Ok(ExecutionRecord {
            id,
            run_id: Some(e.run_id),
            step_name: e.step_name.clone(),
            source: ty.source.clone(),
            version: ty.version,
            kind: Some(ty.kind),
            state: e.state,
            params: params.into_iter().map(|(n, v)| (n.to_owned(), v)).collect(),
            cache_key: e.cache_key,
            code_fingerprint: Some(e.code_fingerprint),
            cached_from: e.cached_from,
            metrics: e.metrics.iter().map(|(n, v)| (n.clone(), *v)).collect(),
            duration_ms: e.duration_ms,
            error: e.error.clone(),
            inputs: e.inputs.clone(),
            outputs: e.outputs.clone(),
            created_ms: e.created_ms,
            updated_ms: e.updated_ms,
        })
    }

    fn artifact(&self, id: Id) -> Result<&ArtifactRecord, MetadataError> {
        self.artifacts
            .get(&id)
            .ok_or_else(|| not_found("artifact", id))
    }

    /// Checks a new execution and turns it into one in `state`, without recording it.
    /// The CACHED execution that reuses `hit`, checked, not yet recorded.
    fn cached_execution(
        &self,
        execution: &NewExecution,
        hit: &CacheHit,
    ) -> Result<Execution, MetadataError> {
        let mut e = self.new_execution(execution, ExecutionState::Cached)?;
        let reused = self
            .executions
            .get(&hit.execution_id)
            .ok_or_else(|| not_found("execution", hit.execution_id))?;
        if reused.state != ExecutionState::Complete {
            return Err(Conflict::NotReusable {
                execution: hit.execution_id,
                state: reused.state,
            }
            .into());
        }
        for (_, a) in &hit.outputs {
            self.artifact(a.id)?;
        }
        let outputs: Vec<(String, Id)> =
            hit.outputs.iter().map(|(n, a)| (n.clone(), a.id)).collect();
        e.outputs = sorted_by_name(&outputs, "output")?;
        e.cached_from = Some(hit.execution_id);
        e.duration_ms = Some(0);
        Ok(e)
    }

    fn new_execution(
        &self,
        new: &NewExecution,
        state: ExecutionState,
    ) -> Result<Execution, MetadataError> {
        if !self.runs.contains_key(&new.run_id) {
            return Err(not_found("run", new.run_id));
        }
        let ty = self
            .step_types
            .get(&new.step_type_id)
            .ok_or_else(|| not_found("step type", new.step_type_id))?;
        let params = stored_params(&ty.source, &new.params, |n| ty.params.get(n).copied())?;
        for (_, artifact) in &new.inputs {
            self.artifact(*artifact)?;
        }
        let inputs = sorted_by_name(&new.inputs, "input")?;
        let now = now_ms();
        Ok(Execution {
            run_id: new.run_id,
            step_type_id: new.step_type_id,
            step_name: new.step_name.clone(),
            state,
            params,
            cache_key: new.cache_key,
            cache_invalidated: false,
            code_fingerprint: new.code_fingerprint,
            cached_from: None,
            metrics: BTreeMap::new(),
            duration_ms: None,
            error: None,
            inputs,
            outputs: Vec::new(),
            created_ms: now,
            updated_ms: now,
        })
    }

    fn running(&mut self, id: Id) -> Result<&mut Execution, MetadataError> {
        let e = self
            .executions
            .get_mut(&id)
            .ok_or_else(|| not_found("execution", id))?;
        if e.state != ExecutionState::Running {
            return Err(Conflict::NotRunning {
                execution: id,
                state: e.state,
            }
            .into());
        }
        Ok(e)
    }
}

impl MetadataStore for MemoryMetadataStore {
    fn describe(&self) -> String {
        "memory".to_owned()
    }

    fn register_step_type(&self, spec: &StepTypeSpec) -> Result<Id, MetadataError> {
        let mut inner = self.lock();
        let declared = declared_params(spec)?;
        let existing = inner
            .step_types
            .iter_mut()
            .find(|(_, t)| t.source == spec.source && t.version == spec.version);
        if let Some((id, ty)) = existing {
            check_step_type_change(spec, &declared, Some(ty.kind), |n| {
                ty.params.get(n).copied()
            })?;
            ty.params.extend(declared);
            return Ok(*id);
        }
        let id = inner.next_id();
        inner.step_types.insert(
            id,
            StepType {
                source: spec.source.clone(),
                version: spec.version,
                kind: spec.kind,
                params: declared,
            },
        );
        Ok(id)
    }

    fn register_pipeline(&self, name: &str, config: &str) -> Result<PipelineRecord, MetadataError> {
        let mut inner = self.lock();
        let now = now_ms();
        let existing = inner.pipelines.iter().find(|(_, p)| p.name == name);
        let id = match existing {
            Some((id, _)) => *id,
            None => {
                let id = inner.next_id();
                inner.pipelines.insert(
                    id,
                    Pipeline {
                        name: name.to_owned(),
                        config: config.to_owned(),
                        created_ms: now,
                        updated_ms: now,
                        run_count: 0,
                    },
                );
                id
            }
        };
        let p = inner.pipeline(id)?;
        Ok(pipeline_record(id, p))
    }

    fn begin_run(
        &self,
        pipeline_id: Id,
        config: &str,
        owner: &str,
    ) -> Result<RunRecord, MetadataError> {
        let mut inner = self.lock();
        if !inner.pipelines.contains_key(&pipeline_id) {
            return Err(not_found("pipeline", pipeline_id));
        }
        let id = inner.next_id();
        let now = now_ms();
        let pipeline = inner
            .pipelines
            .get_mut(&pipeline_id)
            .ok_or_else(|| not_found("pipeline", pipeline_id))?;
        pipeline.run_count += 1;
        pipeline.updated_ms = now.max(pipeline.updated_ms);
        let run = Run {
            name: format!("{}#{}", pipeline.name, pipeline.run_count),
            pipeline_id,
            status: RunStatus::Running,
            config: config.to_owned(),
            started_ms: now,
            finished_ms: None,
            owner: Some((owner.to_owned(), now)),
        };
        inner.runs.insert(id, run);
        inner.run_record(id)
    }

    fn finish_run(&self, run_id: Id, status: RunStatus) -> Result<RunRecord, MetadataError> {
        let mut inner = self.lock();
        let run = inner
            .runs
            .get_mut(&run_id)
            .ok_or_else(|| not_found("run", run_id))?;
        run.status = status;
        run.finished_ms = match status {
            RunStatus::Running => None,
            _ => Some(now_ms().max(run.started_ms)),
        };
        if status != RunStatus::Running {
            run.owner = None;
        }
        inner.run_record(run_id)
    }

    fn heartbeat(&self, run_id: Id) -> Result<(), MetadataError> {
        let mut inner = self.lock();
        let run = inner
            .runs
            .get_mut(&run_id)
            .ok_or_else(|| not_found("run", run_id))?;
        if let Some((_, beat)) = &mut run.owner {
            *beat = now_ms().max(*beat);
        }
        Ok(())
    }

    fn running_runs(&self) -> Result<Vec<RunningRun>, MetadataError> {
        let inner = self.lock();
        inner
            .runs
            .iter()
            .filter(|(_, r)| r.status == RunStatus::Running)
            .map(|(id, r)| {
                let (owner, heartbeat_ms) =
                    r.owner.clone().unwrap_or((String::new(), r.started_ms));
                Ok(RunningRun {
                    run: inner.run_record(*id)?,
                    owner,
                    heartbeat_ms,
                })
            })
            .collect()
    }

    fn interrupt_run(
        &self,
        run_id: Id,
        heartbeat_ms: i64,
        reason: &str,
    ) -> Result<Option<u64>, MetadataError> {
        let mut inner = self.lock();
        let run = inner
            .runs
            .get_mut(&run_id)
            .ok_or_else(|| not_found("run", run_id))?;
        let beat = run.owner.as_ref().map_or(run.started_ms, |(_, b)| *b);
        if run.status != RunStatus::Running || beat > heartbeat_ms {
            return Ok(None);
        }
        let now = now_ms();
        run.status = RunStatus::Interrupted;
        run.finished_ms = Some(now.max(run.started_ms));
        run.owner = None;
        let mut interrupted = 0;
        for e in inner.executions.values_mut() {
            if e.run_id == run_id && e.state == ExecutionState::Running {
                e.state = ExecutionState::Failed;
                e.error = Some(reason.to_owned());
                e.updated_ms = now.max(e.created_ms);
                interrupted += 1;
            }
        }
        Ok(Some(interrupted))
    }

    fn begin_execution(&self, execution: &NewExecution) -> Result<Id, MetadataError> {
        let mut inner = self.lock();
        let e = inner.new_execution(execution, ExecutionState::Running)?;
        let id = inner.next_id();
        inner.executions.insert(id, e);
        Ok(id)
    }

    fn complete_execution(
        &self,
        execution_id: Id,
        outputs: &[(String, NewArtifact)],
        metrics: &[(String, f64)],
        duration_ms: i64,
    ) -> Result<Vec<ArtifactRecord>, MetadataError> {
        let mut inner = self.lock();
        inner.running(execution_id)?;
        let names: Vec<(String, ())> = outputs.iter().map(|(n, _)| (n.clone(), ())).collect();
        sorted_by_name(&names, "output")?;
        for (_, a) in outputs {
            size_of(a)?;
        }
        let now = now_ms();
        let mut records = Vec::with_capacity(outputs.len());
        let mut events = Vec::with_capacity(outputs.len());
        for (name, a) in outputs {
            let id = inner.next_id();
            let record = a.recorded(id, now);
            inner.artifacts.insert(id, record.clone());
            records.push(record);
            events.push((name.clone(), id));
        }
        events.sort_by(|a, b| a.0.cmp(&b.0));
        let e = inner.running(execution_id)?;
        e.state = ExecutionState::Complete;
        e.outputs = events;
        e.metrics.extend(metrics.iter().cloned());
        e.duration_ms = Some(duration_ms);
        e.updated_ms = now.max(e.created_ms);
        if let Some(key) = e.cache_key {
            let newest = inner
                .cache
                .get(&key)
                .map_or(execution_id, |&old| old.max(execution_id));
            inner.cache.insert(key, newest);
        }
        Ok(records)
    }

    fn fail_execution(
        &self,
        execution_id: Id,
        error: &str,
        metrics: &[(String, f64)],
        duration_ms: i64,
    ) -> Result<(), MetadataError> {
        let mut inner = self.lock();
        let e = inner.running(execution_id)?;
        e.state = ExecutionState::Failed;
        e.error = Some(error.to_owned());
        e.metrics.extend(metrics.iter().cloned());
        e.duration_ms = Some(duration_ms);
        e.updated_ms = now_ms().max(e.created_ms);
        Ok(())
    }

    fn record_cached_execution(
        &self,
        execution: &NewExecution,
        hit: &CacheHit,
    ) -> Result<Id, MetadataError> {
        let mut inner = self.lock();
        let e = inner.cached_execution(execution, hit)?;
        let id = inner.next_id();
        inner.executions.insert(id, e);
        Ok(id)
    }

    fn record_cached_executions(
        &self,
        executions: &[(NewExecution, CacheHit)],
    ) -> Result<Vec<Id>, MetadataError> {
        let mut inner = self.lock();
        // All or none: check every one before recording any.
        let built = executions
            .iter()
            .map(|(execution, hit)| inner.cached_execution(execution, hit))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(built
            .into_iter()
            .map(|e| {
                let id = inner.next_id();
                inner.executions.insert(id, e);
                id
            })
            .collect())
    }

    fn find_cached(&self, cache_key: Hash128) -> Result<Option<CacheHit>, MetadataError> {
        let inner = self.lock();
        let Some(&id) = inner.cache.get(&cache_key) else {
            return Ok(None);
        };
        let Some(e) = inner.executions.get(&id) else {
            return Ok(None);
        };
        let outputs = e
            .outputs
            .iter()
            .map(|(name, a)| Ok((name.clone(), inner.artifact(*a)?.clone())))
            .collect::<Result<_, MetadataError>>()?;
        Ok(Some(CacheHit {
            execution_id: id,
            outputs,
        }))
    }

    fn invalidate_cache(&self, cache_key: Option<Hash128>) -> Result<u64, MetadataError> {
        let mut inner = self.lock();
        let mut count = 0;
        for e in inner.executions.values_mut() {
            let matches = match (cache_key, e.cache_key) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(wanted), Some(k)) => wanted == k,
            };
            if matches && e.state == ExecutionState::Complete && !e.cache_invalidated {
                e.cache_invalidated = true;
                count += 1;
            }
        }
        match cache_key {
            Some(k) => {
                inner.cache.remove(&k);
            }
            None => inner.cache.clear(),
        }
        Ok(count)
    }

    fn set_artifact_etag(&self, artifact_id: Id, etag: Option<&str>) -> Result<(), MetadataError> {
        let mut inner = self.lock();
        let a = inner
            .artifacts
            .get_mut(&artifact_id)
            .ok_or_else(|| not_found("artifact", artifact_id))?;
        a.etag = etag.map(str::to_owned);
        Ok(())
    }
}

impl MetadataQuery for MemoryMetadataStore {
    fn step_types(&self, source: Option<&str>) -> Result<Vec<StepTypeRecord>, MetadataError> {
        let inner = self.lock();
        let mut out: Vec<StepTypeRecord> = inner
            .step_types
            .iter()
            .filter(|(_, t)| source.is_none_or(|s| s == t.source))
            .map(|(id, t)| StepTypeRecord {
                id: *id,
                source: t.source.clone(),
                version: t.version,
                param_names: t.params.keys().cloned().collect(),
            })
            .collect();
        out.sort_by(|a, b| (&a.source, a.version).cmp(&(&b.source, b.version)));
        Ok(out)
    }

    fn pipelines(&self) -> Result<Vec<PipelineRecord>, MetadataError> {
        let inner = self.lock();
        let mut out: Vec<PipelineRecord> = inner
            .pipelines
            .iter()
            .map(|(id, p)| pipeline_record(*id, p))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn pipeline_by_name(&self, name: &str) -> Result<Option<PipelineRecord>, MetadataError> {
        let inner = self.lock();
        Ok(inner
            .pipelines
            .iter()
            .find(|(_, p)| p.name == name)
            .map(|(id, p)| pipeline_record(*id, p)))
    }

    fn runs(&self, pipeline_id: Option<Id>) -> Result<Vec<RunRecord>, MetadataError> {
        let inner = self.lock();
        if let Some(p) = pipeline_id {
            inner.pipeline(p)?;
        }
        inner
            .runs
            .iter()
            .filter(|(_, r)| pipeline_id.is_none_or(|p| p == r.pipeline_id))
            .map(|(id, _)| inner.run_record(*id))
            .collect()
    }

    fn run(&self, run_id: Id) -> Result<RunRecord, MetadataError> {
        self.lock().run_record(run_id)
    }

    fn run_by_name(&self, name: &str) -> Result<Option<RunRecord>, MetadataError> {
        let inner = self.lock();
        let found = inner.runs.iter().find(|(_, r)| r.name == name);
        found.map(|(id, _)| inner.run_record(*id)).transpose()
    }

    fn executions(&self, run_id: Id) -> Result<Vec<ExecutionRecord>, MetadataError> {
        let inner = self.lock();
        if !inner.runs.contains_key(&run_id) {
            return Err(not_found("run", run_id));
        }
        inner
            .executions
            .iter()
            .filter(|(_, e)| e.run_id == run_id)
            .map(|(id, _)| inner.execution_record(*id))
            .collect()
    }

    fn execution(&self, execution_id: Id) -> Result<ExecutionRecord, MetadataError> {
        self.lock().execution_record(execution_id)
    }

    fn executions_of_step(
        &self,
        source: &str,
        limit: usize,
    ) -> Result<Vec<ExecutionRecord>, MetadataError> {
        let inner = self.lock();
        let types: HashSet<Id> = inner
            .step_types
            .iter()
            .filter(|(_, t)| t.source == source)
            .map(|(id, _)| *id)
            .collect();
        inner
            .executions
            .iter()
            .rev()
            .filter(|(_, e)| types.contains(&e.step_type_id))
            .take(limit)
            .map(|(id, _)| inner.execution_record(*id))
            .collect()
    }

    fn artifact(&self, artifact_id: Id) -> Result<ArtifactRecord, MetadataError> {
        self.lock().artifact(artifact_id).cloned()
    }

    fn artifacts(&self, after: Id, limit: usize) -> Result<Vec<ArtifactRecord>, MetadataError> {
        let inner = self.lock();
        Ok(inner
            .artifacts
            .range(after.saturating_add(1)..)
            .take(limit)
            .map(|(_, a)| a.clone())
            .collect())
    }

    fn artifact_producer(&self, artifact_id: Id) -> Result<Option<ExecutionRecord>, MetadataError> {
        let inner = self.lock();
        inner.artifact(artifact_id)?;
        let producer = inner.executions.iter().find(|(_, e)| {
            e.state == ExecutionState::Complete && e.outputs.iter().any(|(_, a)| *a == artifact_id)
        });
        producer
            .map(|(id, _)| inner.execution_record(*id))
            .transpose()
    }

    fn artifact_consumers(&self, artifact_id: Id) -> Result<Vec<ExecutionRecord>, MetadataError> {
        let inner = self.lock();
        inner.artifact(artifact_id)?;
        inner
            .executions
            .iter()
            .filter(|(_, e)| e.inputs.iter().any(|(_, a)| *a == artifact_id))
            .map(|(id, _)| inner.execution_record(*id))
            .collect()
    }
}

fn pipeline_record(id: Id, p: &Pipeline) -> PipelineRecord {
    PipelineRecord {
        id,
        name: p.name.clone(),
        config: p.config.clone(),
        created_ms: p.created_ms,
        updated_ms: p.updated_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_send_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<MemoryMetadataStore>();
    }

    #[test]
    fn opens_through_the_backend_registry() {
        let store = crate::store::open_metadata_store(
            &MetadataConfig::Memory,
            Path::new("."),
            OpenMode::Existing,
        );
        assert!(store.is_ok_and(|s| s.describe() == "memory"));
    }

    mod conformance {
        use std::sync::Arc;

        use crate::store::MetadataQuery;
        use crate::store::conformance::metadata as suite;
        use crate::store::memory::MemoryMetadataStore;

        fn fresh() -> Arc<dyn MetadataQuery> {
            Arc::new(MemoryMetadataStore::new())
        }

        #[test]
        fn step_types() {
            suite::step_types(&fresh);
        }
        #[test]
        fn pipelines() {
            suite::pipelines(&fresh);
        }
        #[test]
        fn runs() {
            suite::runs(&fresh);
        }
        #[test]
        fn execution_lifecycle() {
            suite::execution_lifecycle(&fresh);
        }
        #[test]
        fn parameter_values() {
            suite::parameter_values(&fresh);
        }
        #[test]
        fn cached_executions() {
            suite::cached_executions(&fresh);
        }
        #[test]
        fn cached_execution_batches() {
            suite::cached_execution_batches(&fresh);
        }
        #[test]
        fn cache_lookup() {
            suite::cache_lookup(&fresh);
        }
        #[test]
        fn cache_invalidation() {
            suite::cache_invalidation(&fresh);
        }
        #[test]
        fn lineage() {
            suite::lineage(&fresh);
        }
        #[test]
        fn executions_of_step() {
            suite::executions_of_step(&fresh);
        }
        #[test]
        fn artifact_etag() {
            suite::artifact_etag(&fresh);
        }
        #[test]
        fn concurrent_writers() {
            suite::concurrent_writers(&fresh);
        }
        #[test]
        fn running_runs() {
            suite::running_runs(&fresh);
        }
        #[test]
        fn artifact_pages() {
            suite::artifact_pages(&fresh);
        }
        #[test]
        fn pipeline_name_race() {
            suite::pipeline_name_race(&fresh);
        }
        #[test]
        fn run_all() {
            suite::run_all(&fresh);
        }
    }
}
