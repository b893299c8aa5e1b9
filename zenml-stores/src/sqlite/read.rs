//! The reads: records assembled from ML Metadata's rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use rusqlite::{OptionalExtension, Row, params};
use zenml_core::hash::Hash128;
use zenml_core::param::{Params, Value};
use zenml_core::step::StepKind;
use zenml_core::store::{
    ArtifactRecord, CacheHit, ExecutionRecord, ExecutionState, Id, PipelineRecord, PropertyType,
    RunRecord, RunStatus, RunningRun, StepTypeRecord,
};

use super::error::{Error, Result, not_found};
use super::schema::{EVENT_INPUT, EVENT_OUTPUT, EXECUTION_TYPE};
use super::value::{escape, read_double, read_value, unescape, unescape_opt};
use super::write::prop;
use super::{StepTypeDecl, Tx};

/// The columns of an artifact record, from `Artifact a JOIN Type t ON t.id = a.type_id`
/// (read by [`artifact_from_row`]).
macro_rules! artifact_columns {
    () => {
        "a.id, a.uri, a.create_time_since_epoch, t.name, \
         (SELECT string_value FROM ArtifactProperty \
          WHERE artifact_id = a.id AND name = 'hash' AND is_custom_property = 0), \
         (SELECT int_value FROM ArtifactProperty \
          WHERE artifact_id = a.id AND name = 'size' AND is_custom_property = 0), \
         (SELECT string_value FROM ArtifactProperty \
          WHERE artifact_id = a.id AND name = 'materializer' AND is_custom_property = 0), \
         (SELECT string_value FROM ArtifactProperty \
          WHERE artifact_id = a.id AND name = 'etag' AND is_custom_property = 1)"
    };
}

/// An artifact record from the columns of [`artifact_columns!`], starting at `first`.
fn artifact_from_row(row: &Row<'_>, first: usize) -> Result<ArtifactRecord> {
    let id: Id = row.get(first)?;
    let hash = unescape_opt(row.get(first + 4)?);
    let hash = hash
        .as_deref()
        .and_then(|h| h.parse::<Hash128>().ok())
        .ok_or_else(|| Error::Corrupt(format!("artifact {id} has no valid hash")))?;
    let size: Option<i64> = row.get(first + 5)?;
    let size = size
        .and_then(|s| u64::try_from(s).ok())
        .ok_or_else(|| Error::Corrupt(format!("artifact {id} has no valid size")))?;
    Ok(ArtifactRecord {
        id,
        uri: row.get::<_, Option<String>>(first + 1)?.unwrap_or_default(),
        hash,
        size,
        type_name: row.get(first + 3)?,
        materializer: unescape_opt(row.get(first + 6)?).unwrap_or_default(),
        etag: unescape_opt(row.get(first + 7)?),
        created_ms: row.get(first + 2)?,
    })
}

fn parse_hash(value: &Value) -> Option<Hash128> {
    match value {
        Value::Str(s) => s.parse().ok(),
        _ => None,
    }
}

impl Tx<'_> {
    // -----------------------------------------------------------------------------------------
    // Step types

    /// The step type `id`, remembered once read.
    pub(crate) fn step_type(&mut self, id: Id) -> Result<Arc<StepTypeDecl>> {
        if let Some(decl) = self.cache.step_types.get(&id) {
            return Ok(Arc::clone(decl));
        }
        let mut decl = self
            .conn
            .prepare_cached(
                "SELECT t.name, t.version, t.description, z.kind \
                 FROM Type t LEFT JOIN zenml_step_type z ON z.type_id = t.id \
                 WHERE t.id = ?1 AND t.type_kind = ?2",
            )?
            .query_row(params![id, EXECUTION_TYPE], |r| {
                let version: Option<String> = r.get(1)?;
                let kind: Option<String> = r.get(3)?;
                Ok(StepTypeDecl {
                    source: r.get(0)?,
                    version: version.and_then(|v| v.parse().ok()).unwrap_or(0),
                    kind: kind.as_deref().and_then(StepKind::parse),
                    doc: r.get(2)?,
                    params: BTreeMap::new(),
                })
            })
            .optional()?
            .ok_or_else(|| not_found("step type", id))?;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name, data_type FROM TypeProperty WHERE type_id = ?1")?;
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            let data_type: Option<i64> = row.get(1)?;
            if let Some(ty) = data_type.and_then(PropertyType::from_mlmd) {
                decl.params.insert(row.get(0)?, ty);
            }
        }
        let decl = Arc::new(decl);
        self.cache.step_types.insert(id, Arc::clone(&decl));
        Ok(decl)
    }

    /// The names of the parameters a step type declares now, sorted.
    fn declared_param_names(&self, type_id: Id) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT name FROM TypeProperty WHERE type_id = ?1 ORDER BY name")?;
        let names = stmt
            .query_map([type_id], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(names)
    }

    pub(crate) fn step_types(&mut self, source: Option<&str>) -> Result<Vec<StepTypeRecord>> {
        let ids: Vec<Id> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT t.id FROM Type t JOIN zenml_step_type z ON z.type_id = t.id \
                 WHERE t.type_kind = ?1 AND (?2 IS NULL OR t.name = ?2)",
            )?;
            stmt.query_map(params![EXECUTION_TYPE, source], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let decl = self.step_type(id)?;
            out.push(StepTypeRecord {
                id,
                source: decl.source.clone(),
                version: decl.version,
                param_names: self.declared_param_names(id)?,
            });
        }
        out.sort_by(|a, b| (&a.source, a.version).cmp(&(&b.source, b.version)));
        Ok(out)
    }

    // -----------------------------------------------------------------------------------------
    // Pipelines and runs

    /// The name of pipeline `id` ([`not_found`] for anything else).
    pub(crate) fn pipeline_name(&mut self, id: Id) -> Result<Arc<str>> {
        if let Some(name) = self.cache.pipeline_names.get(&id) {
            return Ok(Arc::clone(name));
        }
        let name: String = self
            .conn
            .prepare_cached("SELECT name FROM Context WHERE id = ?1 AND type_id = ?2")?
            .query_row(params![id, self.types.pipeline], |r| r.get(0))
            .optional()?
            .ok_or_else(|| not_found("pipeline", id))?;
        let name: Arc<str> = unescape(name).into();
        self.cache.pipeline_names.insert(id, Arc::clone(&name));
        Ok(name)
    }

    pub(crate) fn pipeline_id_by_name(&self, name: &str) -> Result<Option<Id>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM Context WHERE type_id = ?1 AND name = ?2")?
            .query_row(params![self.types.pipeline, escape(name)], |r| r.get(0))
            .optional()?)
    }

    pub(crate) fn pipeline_ids(&self) -> Result<Vec<Id>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id FROM Context WHERE type_id = ?1 ORDER BY name")?;
        let ids = stmt
            .query_map([self.types.pipeline], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    pub(crate) fn pipeline_record(&self, id: Id) -> Result<PipelineRecord> {
        let record = self
            .conn
            .prepare_cached(
                "SELECT c.name, c.create_time_since_epoch, c.last_update_time_since_epoch, \
                 (SELECT string_value FROM ContextProperty \
                  WHERE context_id = c.id AND name = 'config' AND is_custom_property = 0) \
                 FROM Context c WHERE c.id = ?1 AND c.type_id = ?2",
            )?
            .query_row(params![id, self.types.pipeline], |r| {
                Ok(PipelineRecord {
                    id,
                    name: unescape(r.get(0)?),
                    created_ms: r.get(1)?,
                    updated_ms: r.get(2)?,
                    config: unescape_opt(r.get(3)?).unwrap_or_default(),
                })
            })
            .optional()?;
        record.ok_or_else(|| not_found("pipeline", id))
    }

    /// The pipeline of run `id` ([`not_found`] for anything but a run).
    pub(crate) fn run_pipeline(&mut self, id: Id) -> Result<Id> {
        if let Some(pipeline) = self.cache.run_pipelines.get(&id) {
            return Ok(*pipeline);
        }
        let pipeline: Id = self
            .conn
            .prepare_cached(
                "SELECT pc.parent_context_id FROM Context c \
                 JOIN ParentContext pc ON pc.context_id = c.id \
                 WHERE c.id = ?1 AND c.type_id = ?2",
            )?
            .query_row(params![id, self.types.run], |r| r.get(0))
            .optional()?
            .ok_or_else(|| not_found("run", id))?;
        self.cache.run_pipelines.insert(id, pipeline);
        Ok(pipeline)
    }

    pub(crate) fn run_ids(&mut self, pipeline: Option<Id>) -> Result<Vec<Id>> {
        let ids = match pipeline {
            Some(p) => {
                self.pipeline_name(p)?;
                let mut stmt = self.conn.prepare_cached(
                    "SELECT context_id FROM ParentContext \
                     WHERE parent_context_id = ?1 ORDER BY context_id",
                )?;
                stmt.query_map([p], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            }
            None => {
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT id FROM Context WHERE type_id = ?1 ORDER BY id")?;
                stmt.query_map([self.types.run], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            }
        };
        Ok(ids)
    }

    pub(crate) fn run_id_by_name(&self, name: &str) -> Result<Option<Id>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM Context WHERE type_id = ?1 AND name = ?2")?
            .query_row(params![self.types.run, escape(name)], |r| r.get(0))
            .optional()?)
    }

    pub(crate) fn run_record(&mut self, id: Id) -> Result<RunRecord> {
        let row: Option<(String, i64, Id)> = self
            .conn
            .prepare_cached(
                "SELECT c.name, c.create_time_since_epoch, pc.parent_context_id FROM Context c \
                 JOIN ParentContext pc ON pc.context_id = c.id \
                 WHERE c.id = ?1 AND c.type_id = ?2",
            )?
            .query_row(params![id, self.types.run], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let (name, created, pipeline_id) = row.ok_or_else(|| not_found("run", id))?;
        let name = unescape(name);
        let pipeline_name = self.pipeline_name(pipeline_id)?;
        let mut record = RunRecord {
            id,
            name,
            pipeline_id,
            pipeline_name: pipeline_name.to_string(),
            status: RunStatus::Running,
            config: String::new(),
            started_ms: created,
            finished_ms: None,
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, int_value, string_value FROM ContextProperty \
             WHERE context_id = ?1 AND is_custom_property = 0",
        )?;
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            let name: String = row.get(0)?;
            match name.as_str() {
                "config" => record.config = unescape_opt(row.get(2)?).unwrap_or_default(),
                "status" => {
                    let status = unescape_opt(row.get(2)?);
                    record.status =
                        status
                            .as_deref()
                            .and_then(RunStatus::parse)
                            .ok_or_else(|| {
                                Error::Corrupt(format!("run {id} has an unknown status {status:?}"))
                            })?;
                }
                "started_ms" => {
                    record.started_ms = row.get::<_, Option<i64>>(1)?.unwrap_or(created)
                }
                "finished_ms" => record.finished_ms = row.get(1)?,
                _ => {}
            }
        }
        Ok(record)
    }

    /// The runs still `running`, with their owners: the rows of the owner table, which holds a
    /// row for every run while its status is `running`.
    pub(crate) fn running_runs(&mut self) -> Result<Vec<RunningRun>> {
        let rows: Vec<(Id, String, i64)> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT run_id, owner, heartbeat_ms FROM zenml_run_owner ORDER BY run_id",
            )?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::with_capacity(rows.len());
        for (id, owner, heartbeat_ms) in rows {
            let run = self.run_record(id)?;
            if run.status == RunStatus::Running {
                out.push(RunningRun {
                    run,
                    owner,
                    heartbeat_ms,
                });
            }
        }
        Ok(out)
    }

    // -----------------------------------------------------------------------------------------
    // Executions

    pub(crate) fn execution_ids_of_run(&mut self, run: Id) -> Result<Vec<Id>> {
        self.run_pipeline(run)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT execution_id FROM Association WHERE context_id = ?1 ORDER BY execution_id",
        )?;
        let ids = stmt
            .query_map([run], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    pub(crate) fn execution_ids_of_step(&self, source: &str, limit: usize) -> Result<Vec<Id>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM Execution WHERE type_id IN \
             (SELECT id FROM Type WHERE name = ?1 AND type_kind = ?2) \
             ORDER BY id DESC LIMIT ?3",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let ids = stmt
            .query_map(params![source, EXECUTION_TYPE, limit], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    pub(crate) fn execution_record(&mut self, id: Id) -> Result<ExecutionRecord> {
        let row: Option<(Id, Option<i64>, i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT type_id, last_known_state, create_time_since_epoch, \
                 last_update_time_since_epoch FROM Execution WHERE id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        let (type_id, state, created_ms, updated_ms) =
            row.ok_or_else(|| not_found("execution", id))?;
        let decl = self.step_type(type_id)?;
        let mut record = ExecutionRecord {
            id,
            run_id: None,
            step_name: String::new(),
            source: decl.source.clone(),
            version: decl.version,
            kind: decl.kind,
            state: ExecutionState::from_mlmd(state.unwrap_or(0)),
            params: Params::new(),
            cache_key: None,
            code_fingerprint: None,
            cached_from: None,
            metrics: Vec::new(),
            duration_ms: None,
            error: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
            created_ms,
            updated_ms,
        };

        let mut params: BTreeMap<String, Value> = self
            .declared_param_names(type_id)?
            .into_iter()
            .map(|n| (n, Value::Null))
            .collect();
        let mut metrics = BTreeMap::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, is_custom_property, int_value, double_value, string_value, bool_value \
             FROM ExecutionProperty WHERE execution_id = ?1",
        )?;
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            let name: String = row.get(0)?;
            let custom: bool = row.get(1)?;
            if !custom {
                if let Some(value) = read_value(row, 2)? {
                    params.insert(name, value);
                }
                continue;
            }
            if let Some(metric) = name.strip_prefix(prop::METRIC_PREFIX) {
                let value = match read_double(row.get_ref(3)?)? {
                    Some(x) => Some(x),
                    #[allow(clippy::cast_precision_loss)]
                    None => row.get::<_, Option<i64>>(2)?.map(|i| i as f64),
                };
                if let Some(x) = value {
                    metrics.insert(metric.to_owned(), x);
                }
                continue;
            }
            let Some(value) = read_value(row, 2)? else {
                continue;
            };
            match (name.as_str(), value) {
                (prop::STEP_NAME, Value::Str(s)) => record.step_name = s,
                (prop::KIND, Value::Str(s)) => record.kind = StepKind::parse(&s).or(record.kind),
                (prop::CACHE_KEY, v) => record.cache_key = parse_hash(&v),
                (prop::CODE_FINGERPRINT, v) => record.code_fingerprint = parse_hash(&v),
                (prop::DURATION_MS, Value::Int(i)) => record.duration_ms = Some(i),
                (prop::ERROR, Value::Str(s)) => record.error = Some(s),
                (prop::CACHED_FROM, Value::Int(i)) => record.cached_from = Some(i),
                _ => {}
            }
        }
        drop(rows);
        drop(stmt);
        record.params = params.into_iter().collect();
        record.metrics = metrics.into_iter().collect();

        let mut stmt = self.conn.prepare_cached(
            "SELECT ev.type, ev.artifact_id, p.step_key FROM Event ev \
             JOIN EventPath p ON p.event_id = ev.id \
             WHERE ev.execution_id = ?1 AND p.is_index_step = 0 ORDER BY p.step_key",
        )?;
        let mut rows = stmt.query([id])?;
        while let Some(row) = rows.next()? {
            let event_type: i64 = row.get(0)?;
            let entry = (
                row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                row.get::<_, Id>(1)?,
            );
            match event_type {
                EVENT_INPUT => record.inputs.push(entry),
                EVENT_OUTPUT => record.outputs.push(entry),
                _ => {}
            }
        }
        drop(rows);
        drop(stmt);

        record.run_id = self
            .conn
            .prepare_cached(
                "SELECT a.context_id FROM Association a JOIN Context c ON c.id = a.context_id \
                 WHERE a.execution_id = ?1 AND c.type_id = ?2 LIMIT 1",
            )?
            .query_row(params![id, self.types.run], |r| r.get(0))
            .optional()?;
        Ok(record)
    }

    // -----------------------------------------------------------------------------------------
    // Artifacts and caching

    pub(crate) fn artifact_record(&self, id: Id) -> Result<ArtifactRecord> {
        let mut stmt = self.conn.prepare_cached(concat!(
            "SELECT ",
            artifact_columns!(),
            " FROM Artifact a JOIN Type t ON t.id = a.type_id WHERE a.id = ?1"
        ))?;
        let mut rows = stmt.query([id])?;
        match rows.next()? {
            Some(row) => artifact_from_row(row, 0),
            None => Err(not_found("artifact", id)),
        }
    }

    pub(crate) fn artifacts_after(&self, after: Id, limit: usize) -> Result<Vec<ArtifactRecord>> {
        let mut stmt = self.conn.prepare_cached(concat!(
            "SELECT ",
            artifact_columns!(),
            " FROM Artifact a JOIN Type t ON t.id = a.type_id WHERE a.id > ?1 \
             ORDER BY a.id LIMIT ?2"
        ))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![after, limit])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(artifact_from_row(row, 0)?);
        }
        Ok(out)
    }

    pub(crate) fn require_artifact(&self, id: Id) -> Result<()> {
        let found = self
            .conn
            .prepare_cached("SELECT 1 FROM Artifact WHERE id = ?1")?
            .exists([id])?;
        if found {
            Ok(())
        } else {
            Err(not_found("artifact", id))
        }
    }

    pub(crate) fn artifact_producer(&self, artifact: Id) -> Result<Option<Id>> {
        self.require_artifact(artifact)?;
        Ok(self
            .conn
            .prepare_cached(
                "SELECT ev.execution_id FROM Event ev JOIN Execution e ON e.id = ev.execution_id \
                 WHERE ev.artifact_id = ?1 AND ev.type = ?2 AND e.last_known_state = ?3 \
                 ORDER BY ev.execution_id LIMIT 1",
            )?
            .query_row(
                params![
                    artifact,
                    EVENT_OUTPUT,
                    ExecutionState::Complete.mlmd_value()
                ],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub(crate) fn artifact_consumers(&self, artifact: Id) -> Result<Vec<Id>> {
        self.require_artifact(artifact)?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT execution_id FROM Event WHERE artifact_id = ?1 AND type = ?2 \
             ORDER BY execution_id",
        )?;
        let ids = stmt
            .query_map(params![artifact, EVENT_INPUT], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    pub(crate) fn find_cached(&self, key: Hash128) -> Result<Option<CacheHit>> {
        let execution: Option<Id> = self
            .conn
            .prepare_cached(
                "SELECT z.execution_id FROM zenml_cache z \
                 JOIN Execution e ON e.id = z.execution_id \
                 WHERE z.cache_key = ?1 AND e.last_known_state = ?2",
            )?
            .query_row(
                params![key.to_hex(), ExecutionState::Complete.mlmd_value()],
                |r| r.get(0),
            )
            .optional()?;
        let Some(execution_id) = execution else {
            return Ok(None);
        };
        let mut stmt = self.conn.prepare_cached(concat!(
            "SELECT p.step_key, ",
            artifact_columns!(),
            " FROM Event ev JOIN EventPath p ON p.event_id = ev.id AND p.is_index_step = 0 \
             JOIN Artifact a ON a.id = ev.artifact_id JOIN Type t ON t.id = a.type_id \
             WHERE ev.execution_id = ?1 AND ev.type = ?2 ORDER BY p.step_key"
        ))?;
        let mut rows = stmt.query(params![execution_id, EVENT_OUTPUT])?;
        let mut outputs = Vec::new();
        while let Some(row) = rows.next()? {
            let name: Option<String> = row.get(0)?;
            outputs.push((name.unwrap_or_default(), artifact_from_row(row, 1)?));
        }
        Ok(Some(CacheHit {
            execution_id,
            outputs,
        }))
    }
}
