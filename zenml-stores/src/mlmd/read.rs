//! The reads: records assembled from ML Metadata's rows.

use std::collections::BTreeMap;
use std::sync::Arc;

use zenml_core::hash::Hash128;
use zenml_core::param::{Params, Value};
use zenml_core::step::StepKind;
use zenml_core::store::{
    ArtifactRecord, CacheHit, ExecutionRecord, ExecutionState, Id, PipelineRecord, PropertyType,
    RunRecord, RunStatus, RunningRun, StepTypeRecord, StepTypeSpec,
};

use super::value::{as_double, escape, read_double, read_value, text, unescape};
use super::write::prop;
use super::{
    Cell, EVENT_INPUT, EVENT_OUTPUT, EXECUTION_TYPE, Error, ROWS_PER_STATEMENT, Result,
    StepTypeDecl, Tx, cells, not_found,
};

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
fn artifact_from_row(row: &[Cell], first: usize) -> Result<ArtifactRecord> {
    let cell = |i: usize| row.get(first + i).unwrap_or(&Cell::Null);
    let id = cell(0).req_int()?;
    let hash = text(cell(4))?
        .as_deref()
        .and_then(|h| h.parse::<Hash128>().ok())
        .ok_or_else(|| Error::Corrupt(format!("artifact {id} has no valid hash")))?;
    let size = cell(5)
        .int()?
        .and_then(|s| u64::try_from(s).ok())
        .ok_or_else(|| Error::Corrupt(format!("artifact {id} has no valid size")))?;
    Ok(ArtifactRecord {
        id,
        uri: cell(1).text()?.unwrap_or_default(),
        hash,
        size,
        type_name: cell(3).req_text()?,
        materializer: text(cell(6))?.unwrap_or_default(),
        etag: text(cell(7))?,
        created_ms: cell(2).req_int()?,
    })
}

fn parse_hash(value: &Value) -> Option<Hash128> {
    match value {
        Value::Str(s) => s.parse().ok(),
        _ => None,
    }
}

/// The ids in the first column of `rows`.
fn ids(rows: Vec<Vec<Cell>>) -> Result<Vec<Id>> {
    rows.iter()
        .map(|r| r.first().unwrap_or(&Cell::Null).req_int())
        .collect()
}

impl Tx<'_> {
    // -----------------------------------------------------------------------------------------
    // Step types

    /// The step type `id`, remembered once read.
    pub(crate) fn step_type(&mut self, id: Id) -> Result<Arc<StepTypeDecl>> {
        if let Some(decl) = self.cache.step_types.get(&id) {
            return Ok(Arc::clone(decl));
        }
        let row = self
            .conn
            .query_first(
                "SELECT t.name, t.version, t.description, z.kind \
                 FROM Type t LEFT JOIN zenml_step_type z ON z.type_id = t.id \
                 WHERE t.id = ? AND t.type_kind = ?",
                &cells![id, EXECUTION_TYPE],
            )?
            .ok_or_else(|| not_found("step type", id))?;
        let version = row[1].text()?;
        let kind = row[3].text()?;
        let mut decl = StepTypeDecl {
            source: row[0].req_text()?,
            version: version.and_then(|v| v.parse().ok()).unwrap_or(0),
            kind: kind.as_deref().and_then(StepKind::parse),
            doc: row[2].text()?,
            params: BTreeMap::new(),
        };
        for row in self.conn.query(
            "SELECT name, data_type FROM TypeProperty WHERE type_id = ?",
            &cells![id],
        )? {
            if let Some(ty) = row[1].int()?.and_then(PropertyType::from_mlmd) {
                decl.params.insert(row[0].req_text()?, ty);
            }
        }
        let decl = Arc::new(decl);
        self.cache.step_types.insert(id, Arc::clone(&decl));
        Ok(decl)
    }

    /// The id of `spec`'s step type if it is recorded exactly as `spec` describes it, read in
    /// one statement without locks (the common case: a step type registered before), and
    /// remembered; `None` if it is missing or differs, for the write path to settle.
    pub(crate) fn registered_step_type(&mut self, spec: &StepTypeSpec) -> Result<Option<Id>> {
        let version = spec.version.to_string();
        let rows = self.conn.query(
            "SELECT t.id, t.description, z.kind, p.name, p.data_type \
             FROM Type t LEFT JOIN zenml_step_type z ON z.type_id = t.id \
             LEFT JOIN TypeProperty p ON p.type_id = t.id \
             WHERE t.name = ? AND t.version = ? AND t.type_kind = ?",
            &cells![spec.source.as_str(), version.as_str(), EXECUTION_TYPE],
        )?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let id = first[0].req_int()?;
        let kind = first[2].text()?;
        let mut decl = StepTypeDecl {
            source: spec.source.clone(),
            version: spec.version,
            kind: kind.as_deref().and_then(StepKind::parse),
            doc: first[1].text()?,
            params: BTreeMap::new(),
        };
        for row in &rows {
            if let (Some(name), Some(ty)) = (
                row[3].text()?,
                row[4].int()?.and_then(PropertyType::from_mlmd),
            ) {
                decl.params.insert(name, ty);
            }
        }
        self.cache.step_types.insert(id, Arc::new(decl));
        self.cache
            .step_type_ids
            .insert((spec.source.clone(), spec.version), id);
        Ok(self.cache.step_type_unchanged(spec))
    }

    /// The names of the parameters a step type declares now, sorted.
    fn declared_param_names(&mut self, type_id: Id) -> Result<Vec<String>> {
        self.conn
            .query(
                "SELECT name FROM TypeProperty WHERE type_id = ? ORDER BY name",
                &cells![type_id],
            )?
            .iter()
            .map(|r| r[0].req_text())
            .collect()
    }

    pub(crate) fn step_types(&mut self, source: Option<&str>) -> Result<Vec<StepTypeRecord>> {
        let rows = match source {
            Some(source) => self.conn.query(
                "SELECT t.id FROM Type t JOIN zenml_step_type z ON z.type_id = t.id \
                 WHERE t.type_kind = ? AND t.name = ?",
                &cells![EXECUTION_TYPE, source],
            )?,
            None => self.conn.query(
                "SELECT t.id FROM Type t JOIN zenml_step_type z ON z.type_id = t.id \
                 WHERE t.type_kind = ?",
                &cells![EXECUTION_TYPE],
            )?,
        };
        let mut out = Vec::with_capacity(rows.len());
        for id in ids(rows)? {
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
        let pipeline = self.types.pipeline;
        let row = self
            .conn
            .query_first(
                "SELECT name FROM Context WHERE id = ? AND type_id = ?",
                &cells![id, pipeline],
            )?
            .ok_or_else(|| not_found("pipeline", id))?;
        let name: Arc<str> = unescape(row[0].req_text()?).into();
        self.cache.pipeline_names.insert(id, Arc::clone(&name));
        Ok(name)
    }

    pub(crate) fn pipeline_id_by_name(&mut self, name: &str) -> Result<Option<Id>> {
        let pipeline = self.types.pipeline;
        self.conn
            .query_first(
                "SELECT id FROM Context WHERE type_id = ? AND name = ?",
                &cells![pipeline, escape(name).as_ref()],
            )?
            .map(|r| r[0].req_int())
            .transpose()
    }

    pub(crate) fn pipeline_ids(&mut self) -> Result<Vec<Id>> {
        let pipeline = self.types.pipeline;
        let rows = self.conn.query(
            "SELECT id, name FROM Context WHERE type_id = ?",
            &cells![pipeline],
        )?;
        // By name as zenml sees it (escaped names would sort elsewhere), byte order.
        let mut named = rows
            .iter()
            .map(|r| Ok((unescape(r[1].req_text()?), r[0].req_int()?)))
            .collect::<Result<Vec<(String, Id)>>>()?;
        named.sort();
        Ok(named.into_iter().map(|(_, id)| id).collect())
    }

    pub(crate) fn pipeline_record(&mut self, id: Id) -> Result<PipelineRecord> {
        let pipeline = self.types.pipeline;
        let row = self
            .conn
            .query_first(
                "SELECT c.name, c.create_time_since_epoch, c.last_update_time_since_epoch, \
                 (SELECT string_value FROM ContextProperty \
                  WHERE context_id = c.id AND name = 'config' AND is_custom_property = 0) \
                 FROM Context c WHERE c.id = ? AND c.type_id = ?",
                &cells![id, pipeline],
            )?
            .ok_or_else(|| not_found("pipeline", id))?;
        Ok(PipelineRecord {
            id,
            name: unescape(row[0].req_text()?),
            created_ms: row[1].req_int()?,
            updated_ms: row[2].req_int()?,
            config: text(&row[3])?.unwrap_or_default(),
        })
    }

    /// The pipeline of run `id` ([`not_found`] for anything but a run).
    pub(crate) fn run_pipeline(&mut self, id: Id) -> Result<Id> {
        if let Some(pipeline) = self.cache.run_pipelines.get(&id) {
            return Ok(*pipeline);
        }
        let run = self.types.run;
        let pipeline = self
            .conn
            .query_first(
                "SELECT pc.parent_context_id FROM Context c \
                 JOIN ParentContext pc ON pc.context_id = c.id \
                 WHERE c.id = ? AND c.type_id = ?",
                &cells![id, run],
            )?
            .ok_or_else(|| not_found("run", id))?[0]
            .req_int()?;
        self.cache.run_pipelines.insert(id, pipeline);
        Ok(pipeline)
    }

    pub(crate) fn run_ids(&mut self, pipeline: Option<Id>) -> Result<Vec<Id>> {
        let rows = match pipeline {
            Some(p) => {
                self.pipeline_name(p)?;
                self.conn.query(
                    "SELECT context_id FROM ParentContext \
                     WHERE parent_context_id = ? ORDER BY context_id",
                    &cells![p],
                )?
            }
            None => {
                let run = self.types.run;
                self.conn.query(
                    "SELECT id FROM Context WHERE type_id = ? ORDER BY id",
                    &cells![run],
                )?
            }
        };
        ids(rows)
    }

    pub(crate) fn run_id_by_name(&mut self, name: &str) -> Result<Option<Id>> {
        let run = self.types.run;
        self.conn
            .query_first(
                "SELECT id FROM Context WHERE type_id = ? AND name = ?",
                &cells![run, escape(name).as_ref()],
            )?
            .map(|r| r[0].req_int())
            .transpose()
    }

    pub(crate) fn run_record(&mut self, id: Id) -> Result<RunRecord> {
        let run = self.types.run;
        let row = self
            .conn
            .query_first(
                "SELECT c.name, c.create_time_since_epoch, pc.parent_context_id FROM Context c \
                 JOIN ParentContext pc ON pc.context_id = c.id \
                 WHERE c.id = ? AND c.type_id = ?",
                &cells![id, run],
            )?
            .ok_or_else(|| not_found("run", id))?;
        let (name, created, pipeline_id) = (
            unescape(row[0].req_text()?),
            row[1].req_int()?,
            row[2].req_int()?,
        );
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
        for row in self.conn.query(
            "SELECT name, int_value, string_value FROM ContextProperty \
             WHERE context_id = ? AND is_custom_property = 0",
            &cells![id],
        )? {
            match row[0].req_text()?.as_str() {
                "config" => record.config = text(&row[2])?.unwrap_or_default(),
                "status" => {
                    let status = text(&row[2])?;
                    record.status =
                        status
                            .as_deref()
                            .and_then(RunStatus::parse)
                            .ok_or_else(|| {
                                Error::Corrupt(format!("run {id} has an unknown status {status:?}"))
                            })?;
                }
                "started_ms" => record.started_ms = row[1].int()?.unwrap_or(created),
                "finished_ms" => record.finished_ms = row[1].int()?,
                _ => {}
            }
        }
        Ok(record)
    }

    /// The runs still `running`, with their owners: the rows of the owner table, which holds a
    /// row for every run while its status is `running`.
    pub(crate) fn running_runs(&mut self) -> Result<Vec<RunningRun>> {
        let rows = self.conn.query(
            "SELECT run_id, owner, heartbeat_ms FROM zenml_run_owner ORDER BY run_id",
            &[],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let run = self.run_record(row[0].req_int()?)?;
            if run.status == RunStatus::Running {
                out.push(RunningRun {
                    run,
                    owner: row[1].req_text()?,
                    heartbeat_ms: row[2].req_int()?,
                });
            }
        }
        Ok(out)
    }

    // -----------------------------------------------------------------------------------------
    // Executions

    pub(crate) fn execution_ids_of_run(&mut self, run: Id) -> Result<Vec<Id>> {
        self.run_pipeline(run)?;
        let rows = self.conn.query(
            "SELECT execution_id FROM Association WHERE context_id = ? ORDER BY execution_id",
            &cells![run],
        )?;
        ids(rows)
    }

    pub(crate) fn execution_ids_of_step(&mut self, source: &str, limit: usize) -> Result<Vec<Id>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.conn.query(
            "SELECT id FROM Execution WHERE type_id IN \
             (SELECT id FROM Type WHERE name = ? AND type_kind = ?) \
             ORDER BY id DESC LIMIT ?",
            &cells![source, EXECUTION_TYPE, limit],
        )?;
        ids(rows)
    }

    pub(crate) fn execution_record(&mut self, id: Id) -> Result<ExecutionRecord> {
        let row = self
            .conn
            .query_first(
                "SELECT type_id, last_known_state, create_time_since_epoch, \
                 last_update_time_since_epoch FROM Execution WHERE id = ?",
                &cells![id],
            )?
            .ok_or_else(|| not_found("execution", id))?;
        let type_id = row[0].req_int()?;
        let decl = self.step_type(type_id)?;
        let mut record = ExecutionRecord {
            id,
            run_id: None,
            step_name: String::new(),
            source: decl.source.clone(),
            version: decl.version,
            kind: decl.kind,
            state: ExecutionState::from_mlmd(row[1].int()?.unwrap_or(0)),
            params: Params::new(),
            cache_key: None,
            code_fingerprint: None,
            cached_from: None,
            metrics: Vec::new(),
            duration_ms: None,
            error: None,
            inputs: Vec::new(),
            outputs: Vec::new(),
            created_ms: row[2].req_int()?,
            updated_ms: row[3].req_int()?,
        };

        let mut params: BTreeMap<String, Value> = self
            .declared_param_names(type_id)?
            .into_iter()
            .map(|n| (n, Value::Null))
            .collect();
        let mut metrics = BTreeMap::new();
        for row in self.conn.query(
            "SELECT name, is_custom_property, int_value, double_value, string_value, bool_value \
             FROM ExecutionProperty WHERE execution_id = ?",
            &cells![id],
        )? {
            let name = row[0].req_text()?;
            let custom = row[1].int()? == Some(1);
            if !custom {
                if let Some(value) = read_value(&row, 2)? {
                    // A double the database cannot hold is spelled out: read it as declared.
                    let value = match (decl.params.get(&name), as_double(&value)) {
                        (Some(PropertyType::Double), Some(x)) => Value::Float(x),
                        _ => value,
                    };
                    params.insert(name, value);
                }
                continue;
            }
            if let Some(metric) = name.strip_prefix(prop::METRIC_PREFIX) {
                let value = match read_double(&row[3])? {
                    Some(x) => Some(x),
                    None => match read_value(&row, 2)? {
                        #[allow(clippy::cast_precision_loss)]
                        Some(Value::Int(i)) => Some(i as f64),
                        Some(v) => as_double(&v),
                        None => None,
                    },
                };
                if let Some(x) = value {
                    metrics.insert(metric.to_owned(), x);
                }
                continue;
            }
            let Some(value) = read_value(&row, 2)? else {
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
        record.params = params.into_iter().collect();
        record.metrics = metrics.into_iter().collect();

        for row in self.conn.query(
            "SELECT ev.type, ev.artifact_id, p.step_key FROM Event ev \
             JOIN EventPath p ON p.event_id = ev.id \
             WHERE ev.execution_id = ? AND p.is_index_step = 0 ORDER BY p.step_key",
            &cells![id],
        )? {
            let entry = (row[2].text()?.unwrap_or_default(), row[1].req_int()?);
            match row[0].req_int()? {
                EVENT_INPUT => record.inputs.push(entry),
                EVENT_OUTPUT => record.outputs.push(entry),
                _ => {}
            }
        }

        let run = self.types.run;
        record.run_id = self
            .conn
            .query_first(
                "SELECT a.context_id FROM Association a JOIN Context c ON c.id = a.context_id \
                 WHERE a.execution_id = ? AND c.type_id = ? LIMIT 1",
                &cells![id, run],
            )?
            .map(|r| r[0].req_int())
            .transpose()?;
        Ok(record)
    }

    // -----------------------------------------------------------------------------------------
    // Artifacts and caching

    pub(crate) fn artifact_record(&mut self, id: Id) -> Result<ArtifactRecord> {
        let row = self
            .conn
            .query_first(
                concat!(
                    "SELECT ",
                    artifact_columns!(),
                    " FROM Artifact a JOIN Type t ON t.id = a.type_id WHERE a.id = ?"
                ),
                &cells![id],
            )?
            .ok_or_else(|| not_found("artifact", id))?;
        artifact_from_row(&row, 0)
    }

    pub(crate) fn artifacts_after(
        &mut self,
        after: Id,
        limit: usize,
    ) -> Result<Vec<ArtifactRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.conn
            .query(
                concat!(
                    "SELECT ",
                    artifact_columns!(),
                    " FROM Artifact a JOIN Type t ON t.id = a.type_id WHERE a.id > ? \
                     ORDER BY a.id LIMIT ?"
                ),
                &cells![after, limit],
            )?
            .iter()
            .map(|row| artifact_from_row(row, 0))
            .collect()
    }

    /// Checks that every artifact of `ids` exists, in a query per hundred (naming one that does
    /// not).
    pub(crate) fn require_artifacts(&mut self, ids: &[Id]) -> Result<()> {
        let distinct: Vec<Id> = ids
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<Id>>()
            .into_iter()
            .collect();
        for chunk in distinct.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT count(*) FROM Artifact WHERE id IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let bound: Vec<Cell> = chunk.iter().map(|id| Cell::Int(*id)).collect();
            let found = match self.conn.query_first(&sql, &bound)? {
                Some(row) => row[0].req_int()?,
                None => 0,
            };
            if usize::try_from(found).ok() != Some(chunk.len()) {
                for id in chunk {
                    self.require_artifact(*id)?;
                }
            }
        }
        Ok(())
    }

    pub(crate) fn require_artifact(&mut self, id: Id) -> Result<()> {
        match self
            .conn
            .query_first("SELECT 1 FROM Artifact WHERE id = ?", &cells![id])?
        {
            Some(_) => Ok(()),
            None => Err(not_found("artifact", id)),
        }
    }

    pub(crate) fn artifact_producer(&mut self, artifact: Id) -> Result<Option<Id>> {
        self.require_artifact(artifact)?;
        self.conn
            .query_first(
                "SELECT ev.execution_id FROM Event ev JOIN Execution e ON e.id = ev.execution_id \
                 WHERE ev.artifact_id = ? AND ev.type = ? AND e.last_known_state = ? \
                 ORDER BY ev.execution_id LIMIT 1",
                &cells![
                    artifact,
                    EVENT_OUTPUT,
                    ExecutionState::Complete.mlmd_value()
                ],
            )?
            .map(|r| r[0].req_int())
            .transpose()
    }

    pub(crate) fn artifact_consumers(&mut self, artifact: Id) -> Result<Vec<Id>> {
        self.require_artifact(artifact)?;
        let rows = self.conn.query(
            "SELECT execution_id FROM Event WHERE artifact_id = ? AND type = ? \
             ORDER BY execution_id",
            &cells![artifact, EVENT_INPUT],
        )?;
        ids(rows)
    }

    /// The cache hit of `key`: the COMPLETE execution recorded under it and its outputs, in one
    /// statement (an execution without outputs gives one row without an artifact).
    pub(crate) fn find_cached(&mut self, key: Hash128) -> Result<Option<CacheHit>> {
        let rows = self.conn.query(
            concat!(
                "SELECT z.execution_id, p.step_key, ",
                artifact_columns!(),
                " FROM zenml_cache z JOIN Execution e ON e.id = z.execution_id \
                 LEFT JOIN Event ev ON ev.execution_id = e.id AND ev.type = ? \
                 LEFT JOIN EventPath p ON p.event_id = ev.id AND p.is_index_step = 0 \
                 LEFT JOIN Artifact a ON a.id = ev.artifact_id \
                 LEFT JOIN Type t ON t.id = a.type_id \
                 WHERE z.cache_key = ? AND e.last_known_state = ? ORDER BY p.step_key"
            ),
            &cells![
                EVENT_OUTPUT,
                key.to_hex(),
                ExecutionState::Complete.mlmd_value()
            ],
        )?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let execution_id = first[0].req_int()?;
        let mut outputs = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(name) = row[1].text()? {
                outputs.push((name, artifact_from_row(row, 2)?));
            }
        }
        Ok(Some(CacheHit {
            execution_id,
            outputs,
        }))
    }
}
