//! What a repository can tell about its past: pipelines, runs, executions, step versions and
//! artifact lineage, all from the metadata store alone.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::artifact::{Artifact, ArtifactKind};
use crate::hash::Hash128;
use crate::pipeline::Pipeline;
use crate::store::{ArtifactRecord, ExecutionRecord, Id, MetadataError, PipelineRecord, RunRecord};

use super::{Repository, RepositoryError};

/// One version of a step type, as seen in the metadata store.
#[derive(Clone, Debug, PartialEq)]
pub struct StepVersion {
    /// The declared version.
    pub version: u32,
    /// The code fingerprints its executions were recorded with, oldest first.
    pub code_fingerprints: Vec<Hash128>,
    /// How many executions it has (of any state).
    pub executions: usize,
    /// When it last ran (milliseconds since the Unix epoch).
    pub last_used_ms: Option<i64>,
}

/// Where an artifact came from: the execution that produced it, and recursively where that
/// execution's inputs came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Lineage {
    /// The artifact.
    pub artifact: ArtifactRecord,
    /// The execution that produced it (`None` for an artifact recorded without one).
    pub producer: Option<Box<ExecutionRecord>>,
    /// The producer's inputs, by input name, with their own lineage.
    pub inputs: Vec<(String, Lineage)>,
}

impl Lineage {
    /// Every execution in the lineage, once each, depth first from the artifact's producer (an
    /// execution that produced several of the inputs, like a split's `train` and `eval`, is
    /// listed where it is first reached).
    pub fn executions(&self) -> Vec<&ExecutionRecord> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a ExecutionRecord>) {
        if let Some(p) = &self.producer {
            if out.iter().any(|e| e.id == p.id) {
                return;
            }
            out.push(p);
        }
        for (_, l) in &self.inputs {
            l.collect(out);
        }
    }
}

impl Repository {
    /// Every recorded pipeline, sorted by name.
    pub fn get_pipelines(&self) -> Result<Vec<PipelineRecord>, RepositoryError> {
        Ok(self.metadata.pipelines()?)
    }

    /// The recorded pipeline `name`, rebuilt from the config it last ran with through this
    /// binary's step registry. Running it again under its name reuses its recorded definition;
    /// to change it, [`Pipeline::copy`] it under a new name.
    pub fn get_pipeline_by_name(&self, name: &str) -> Result<Pipeline, RepositoryError> {
        let record =
            self.metadata
                .pipeline_by_name(name)?
                .ok_or_else(|| RepositoryError::Unknown {
                    what: "pipeline",
                    key: name.to_owned(),
                })?;
        Pipeline::from_yaml(&record.config).map_err(|source| RepositoryError::Rebuild {
            pipeline: name.to_owned(),
            source,
        })
    }

    /// The runs of pipeline `name` (of every pipeline when `None`), oldest first.
    pub fn get_runs(&self, pipeline: Option<&str>) -> Result<Vec<RunRecord>, RepositoryError> {
        let id = match pipeline {
            None => None,
            Some(name) => Some(
                self.metadata
                    .pipeline_by_name(name)?
                    .ok_or_else(|| RepositoryError::Unknown {
                        what: "pipeline",
                        key: name.to_owned(),
                    })?
                    .id,
            ),
        };
        Ok(self.metadata.runs(id)?)
    }

    /// The run named `key` (`"Pipeline A#2"`), or with id `key`.
    pub fn get_run(&self, key: &str) -> Result<RunRecord, RepositoryError> {
        if let Some(run) = self.metadata.run_by_name(key)? {
            return Ok(run);
        }
        let unknown = || RepositoryError::Unknown {
            what: "run",
            key: key.to_owned(),
        };
        let id: Id = key.parse().map_err(|_| unknown())?;
        match self.metadata.run(id) {
            Ok(run) => Ok(run),
            Err(MetadataError::NotFound { .. }) => Err(unknown()),
            Err(e) => Err(e.into()),
        }
    }

    /// The latest run of pipeline `name`.
    pub fn get_latest_run(&self, pipeline: &str) -> Result<RunRecord, RepositoryError> {
        self.get_runs(Some(pipeline))?
            .pop()
            .ok_or_else(|| RepositoryError::Unknown {
                what: "run of pipeline",
                key: pipeline.to_owned(),
            })
    }

    /// The step executions of a run, in the order they started: parameters, metrics, state
    /// (cached or not), durations, inputs and outputs. A cached execution's metrics are those of
    /// the execution it reused, as in [`Repository::compare_training_runs`].
    pub fn get_run_steps(&self, run: &RunRecord) -> Result<Vec<ExecutionRecord>, RepositoryError> {
        let mut executions = self.metadata.executions(run.id)?;
        for e in &mut executions {
            e.metrics = self.metrics_of(e)?;
        }
        Ok(executions)
    }

    /// The versions of the step type `source` that have run in this repository, oldest first.
    pub fn get_step_versions(&self, source: &str) -> Result<Vec<StepVersion>, RepositoryError> {
        let mut by_version: BTreeMap<u32, StepVersion> = BTreeMap::new();
        for t in self.metadata.step_types(Some(source))? {
            by_version.entry(t.version).or_insert(StepVersion {
                version: t.version,
                code_fingerprints: Vec::new(),
                executions: 0,
                last_used_ms: None,
            });
        }
        let mut executions = self.metadata.executions_of_step(source, usize::MAX)?;
        executions.sort_by_key(|e| e.id);
        for e in executions {
            let v = by_version.entry(e.version).or_insert(StepVersion {
                version: e.version,
                code_fingerprints: Vec::new(),
                executions: 0,
                last_used_ms: None,
            });
            v.executions += 1;
            v.last_used_ms = v.last_used_ms.max(Some(e.created_ms));
            if let Some(f) = e.code_fingerprint
                && !v.code_fingerprints.contains(&f)
            {
                v.code_fingerprints.push(f);
            }
        }
        Ok(by_version.into_values().collect())
    }

    /// The artifact with id `id`.
    pub fn get_artifact(&self, id: Id) -> Result<ArtifactRecord, RepositoryError> {
        match self.metadata.artifact(id) {
            Ok(a) => Ok(a),
            Err(MetadataError::NotFound { .. }) => Err(RepositoryError::Unknown {
                what: "artifact",
                key: id.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads an artifact's value, verifying its bytes.
    pub fn load_artifact<T: Artifact>(
        &self,
        record: &ArtifactRecord,
    ) -> Result<Arc<T>, RepositoryError> {
        let kind = ArtifactKind::of::<T>();
        let value = self.content().read(&kind, record)?;
        value.downcast::<T>().map_err(|_| RepositoryError::Unknown {
            what: "artifact of that type",
            key: record.id.to_string(),
        })
    }

    /// Where artifact `id` came from, recursively.
    pub fn lineage(&self, id: Id) -> Result<Lineage, RepositoryError> {
        let mut seen = HashSet::new();
        self.lineage_inner(id, &mut seen)
    }

    fn lineage_inner(&self, id: Id, seen: &mut HashSet<Id>) -> Result<Lineage, RepositoryError> {
        let artifact = self.get_artifact(id)?;
        let producer = self.metadata.artifact_producer(id)?;
        let mut inputs = Vec::new();
        if let Some(p) = &producer
            && seen.insert(p.id)
        {
            for (name, input) in &p.inputs {
                inputs.push((name.clone(), self.lineage_inner(*input, seen)?));
            }
        }
        Ok(Lineage {
            artifact,
            producer: producer.map(Box::new),
            inputs,
        })
    }
}
