//! The writes: each runs inside one write transaction of the backend (see [`Tx`]).

use std::collections::{BTreeMap, BTreeSet};

use zenml_core::hash::Hash128;
use zenml_core::param::Value;
use zenml_core::step::StepKind;
use zenml_core::store::backend::{
    check_step_type_change, declared_params, sorted_by_name, stored_params,
};
use zenml_core::store::{
    ArtifactRecord, BaseType, CacheHit, Conflict, ExecutionState, Id, MetadataError, NewArtifact,
    NewExecution, PropertyType, RunStatus, StepTypeSpec,
};

use super::value::{Declared, Node, escape, put, put_all, put_rows};
use super::{
    ARTIFACT_LIVE, ARTIFACT_TYPE, Cell, Dialect, EVENT_INPUT, EVENT_OUTPUT, EXECUTION_TYPE, Error,
    ROWS_PER_STATEMENT, Result, Tx, cells, not_found, simple_type_id,
};

/// Names of the custom properties of executions (documented in the module docs).
pub(crate) mod prop {
    pub(crate) const STEP_NAME: &str = "step_name";
    pub(crate) const KIND: &str = "kind";
    pub(crate) const CODE_FINGERPRINT: &str = "code_fingerprint";
    pub(crate) const CACHE_KEY: &str = "cache_key";
    pub(crate) const DURATION_MS: &str = "duration_ms";
    pub(crate) const ERROR: &str = "error";
    pub(crate) const CACHED_FROM: &str = "cached_from";
    pub(crate) const CACHE_INVALIDATED: &str = "cache_invalidated";
    pub(crate) const METRIC_PREFIX: &str = "metric.";
}

/// The ML Metadata base type of a step kind's execution type.
fn base_execution_type(kind: StepKind) -> Option<&'static str> {
    match kind {
        StepKind::Trainer => Some("mlmd.Train"),
        StepKind::Evaluator => Some("mlmd.Evaluate"),
        StepKind::Split | StepKind::Preprocesser => Some("mlmd.Transform"),
        StepKind::Datasource => Some("mlmd.Process"),
        _ => None,
    }
}

/// The ML Metadata base type of an artifact type.
fn base_artifact_type(base: BaseType) -> Option<&'static str> {
    match base {
        BaseType::Dataset => Some("mlmd.Dataset"),
        BaseType::Model => Some("mlmd.Model"),
        BaseType::Metrics => Some("mlmd.Metrics"),
        BaseType::Statistics => Some("mlmd.Statistics"),
        _ => None,
    }
}

impl Tx<'_> {
    /// A locking read where the backend needs one to serialise writers (MySQL: `FOR UPDATE`);
    /// SQLite's write transactions are serialised already.
    fn for_update(&self) -> &'static str {
        match self.dialect {
            Dialect::Sqlite => "",
            Dialect::Mysql => " FOR UPDATE",
        }
    }

    fn last_id(&mut self) -> Result<Id> {
        self.conn.last_id()
    }

    fn declare_property(&mut self, type_id: Id, name: &str, ty: PropertyType) -> Result<()> {
        self.conn.exec(
            "INSERT INTO TypeProperty (type_id, name, data_type) VALUES (?, ?, ?)",
            &cells![type_id, name, ty.mlmd_value()],
        )?;
        Ok(())
    }

    fn set_parent_type(&mut self, type_id: Id, parent: Option<&str>) -> Result<()> {
        if let Some(parent) = parent.and_then(simple_type_id) {
            self.conn.exec(
                "INSERT INTO ParentType (type_id, parent_type_id) VALUES (?, ?)",
                &cells![type_id, parent],
            )?;
        }
        Ok(())
    }

    fn put(
        &mut self,
        node: Node,
        owner: Id,
        name: &str,
        declared: Declared,
        value: &Value,
    ) -> Result<()> {
        put(self.conn, node, owner, name, declared, value)
    }

    // -----------------------------------------------------------------------------------------
    // Step types

    pub(crate) fn register_step_type(&mut self, spec: &StepTypeSpec) -> Result<Id> {
        let declared = declared_params(spec)?;
        let doc = (!spec.doc.is_empty()).then_some(spec.doc.as_str());
        let version = spec.version.to_string();
        let sql = format!(
            "SELECT id FROM Type WHERE name = ? AND version = ? AND type_kind = ?{}",
            self.for_update()
        );
        let existing = self
            .conn
            .query_first(
                &sql,
                &cells![spec.source.as_str(), version.as_str(), EXECUTION_TYPE],
            )?
            .map(|r| r[0].req_int())
            .transpose()?;
        let id = match existing {
            Some(id) => {
                self.cache.step_types.remove(&id);
                let decl = self.step_type(id)?;
                check_step_type_change(spec, &declared, decl.kind, |n| {
                    decl.params.get(n).copied()
                })?;
                for (name, ty) in &declared {
                    if !decl.params.contains_key(name) {
                        self.declare_property(id, name, *ty)?;
                    }
                }
                if decl.doc.as_deref() != doc {
                    self.conn.exec(
                        "UPDATE Type SET description = ? WHERE id = ?",
                        &cells![doc, id],
                    )?;
                }
                id
            }
            None => {
                self.conn.exec(
                    "INSERT INTO Type (name, version, type_kind, description) \
                     VALUES (?, ?, ?, ?)",
                    &cells![spec.source.as_str(), version.as_str(), EXECUTION_TYPE, doc],
                )?;
                let id = self.last_id()?;
                for (name, ty) in &declared {
                    self.declare_property(id, name, *ty)?;
                }
                self.set_parent_type(id, base_execution_type(spec.kind))?;
                self.conn.exec(
                    "INSERT INTO zenml_step_type (type_id, kind) VALUES (?, ?)",
                    &cells![id, spec.kind.as_str()],
                )?;
                id
            }
        };
        self.cache.step_types.remove(&id);
        self.step_type(id)?;
        self.cache
            .step_type_ids
            .insert((spec.source.clone(), spec.version), id);
        Ok(id)
    }

    // -----------------------------------------------------------------------------------------
    // Pipelines and runs

    /// Records the pipeline `name` with `config` unless one of that name exists (the write
    /// lock, or the unique name of a context of one type, makes the check and the insert one
    /// step); returns its id either way.
    pub(crate) fn register_pipeline(&mut self, name: &str, config: &str) -> Result<Id> {
        if let Some(id) = self.pipeline_id_by_name(name)? {
            return Ok(id);
        }
        let (pipeline, now) = (self.types.pipeline, self.now);
        self.conn.exec(
            "INSERT INTO Context (type_id, name, create_time_since_epoch, \
             last_update_time_since_epoch) VALUES (?, ?, ?, ?)",
            &cells![pipeline, escape(name).as_ref(), now, now],
        )?;
        let id = self.last_id()?;
        put_all(
            self.conn,
            Node::Context,
            id,
            &[
                ("run_count", Declared::Yes, &Value::Int(0)),
                ("config", Declared::Yes, &Value::Str(config.to_owned())),
            ],
        )?;
        Ok(id)
    }

    pub(crate) fn begin_run(&mut self, pipeline_id: Id, config: &str, owner: &str) -> Result<Id> {
        let pipeline_name = self.pipeline_name(pipeline_id)?;
        // The count is read with a lock (where the backend needs one), so that run numbers are
        // unique however many processes start runs of one pipeline at once.
        let sql = format!(
            "SELECT int_value FROM ContextProperty \
             WHERE context_id = ? AND name = 'run_count' AND is_custom_property = 0{}",
            self.for_update()
        );
        let count = match self.conn.query_first(&sql, &cells![pipeline_id])? {
            Some(row) => row[0].int()?,
            None => None,
        };
        let n = count.unwrap_or(0) + 1;
        self.put(
            Node::Context,
            pipeline_id,
            "run_count",
            Declared::Yes,
            &Value::Int(n),
        )?;
        let (run_type, now) = (self.types.run, self.now);
        let name = format!("{pipeline_name}#{n}");
        self.conn.exec(
            "INSERT INTO Context (type_id, name, create_time_since_epoch, \
             last_update_time_since_epoch) VALUES (?, ?, ?, ?)",
            &cells![run_type, escape(&name).as_ref(), now, now],
        )?;
        let run = self.last_id()?;
        self.conn.exec(
            "INSERT INTO ParentContext (context_id, parent_context_id) VALUES (?, ?)",
            &cells![run, pipeline_id],
        )?;
        let config = Value::Str(config.to_owned());
        let status = Value::Str(RunStatus::Running.as_str().to_owned());
        let (number, started) = (Value::Int(n), Value::Int(now));
        put_all(
            self.conn,
            Node::Context,
            run,
            &[
                ("config", Declared::Yes, &config),
                ("status", Declared::Yes, &status),
                ("run_number", Declared::Yes, &number),
                ("started_ms", Declared::Yes, &started),
            ],
        )?;
        self.conn.exec(
            "INSERT INTO zenml_run_owner (run_id, owner, heartbeat_ms) VALUES (?, ?, ?)",
            &cells![run, owner, now],
        )?;
        self.touch(pipeline_id, "Context")?;
        self.cache.run_pipelines.insert(run, pipeline_id);
        Ok(run)
    }

    /// Moves a node's `last_update_time_since_epoch` to now (never back).
    fn touch(&mut self, id: Id, table: &str) -> Result<()> {
        let sql = format!(
            "UPDATE {table} SET last_update_time_since_epoch = \
             {}(?, last_update_time_since_epoch) WHERE id = ?",
            self.dialect.greatest()
        );
        let now = self.now;
        self.conn.exec(&sql, &cells![now, id])?;
        Ok(())
    }

    pub(crate) fn finish_run(&mut self, run_id: Id, status: RunStatus) -> Result<()> {
        let run_type = self.types.run;
        let started = self
            .conn
            .query_first(
                "SELECT create_time_since_epoch FROM Context WHERE id = ? AND type_id = ?",
                &cells![run_id, run_type],
            )?
            .ok_or_else(|| not_found("run", run_id))?[0]
            .req_int()?;
        let finished = match status {
            RunStatus::Running => Value::Null,
            _ => Value::Int(self.now.max(started)),
        };
        let status = Value::Str(status.as_str().to_owned());
        self.put(Node::Context, run_id, "status", Declared::Yes, &status)?;
        self.put(
            Node::Context,
            run_id,
            "finished_ms",
            Declared::Yes,
            &finished,
        )?;
        // The owner table holds exactly the runs whose status is `running`.
        if matches!(finished, Value::Null) {
            let sql = format!(
                "{} zenml_run_owner (run_id, owner, heartbeat_ms) VALUES (?, '', ?)",
                self.dialect.insert_ignore()
            );
            let now = self.now;
            self.conn.exec(&sql, &cells![run_id, now])?;
        } else {
            self.conn.exec(
                "DELETE FROM zenml_run_owner WHERE run_id = ?",
                &cells![run_id],
            )?;
        }
        self.touch(run_id, "Context")
    }

    pub(crate) fn heartbeat(&mut self, run_id: Id) -> Result<()> {
        self.run_pipeline(run_id)?;
        let sql = format!(
            "UPDATE zenml_run_owner SET heartbeat_ms = {}(heartbeat_ms, ?) WHERE run_id = ?",
            self.dialect.greatest()
        );
        let now = self.now;
        self.conn.exec(&sql, &cells![now, run_id])?;
        Ok(())
    }

    pub(crate) fn interrupt_run(
        &mut self,
        run_id: Id,
        heartbeat_ms: i64,
        reason: &str,
    ) -> Result<Option<u64>> {
        let run = self.run_record(run_id)?;
        if run.status != RunStatus::Running {
            return Ok(None);
        }
        let sql = format!(
            "SELECT heartbeat_ms FROM zenml_run_owner WHERE run_id = ?{}",
            self.for_update()
        );
        let beat = match self.conn.query_first(&sql, &cells![run_id])? {
            Some(row) => row[0].int()?,
            None => None,
        };
        if beat.unwrap_or(run.started_ms) > heartbeat_ms {
            return Ok(None);
        }
        let running = self
            .conn
            .query(
                "SELECT e.id FROM Association a JOIN Execution e ON e.id = a.execution_id \
                 WHERE a.context_id = ? AND e.last_known_state = ? ORDER BY e.id",
                &cells![run_id, ExecutionState::Running.mlmd_value()],
            )?
            .iter()
            .map(|r| r[0].req_int())
            .collect::<Result<Vec<Id>>>()?;
        for id in &running {
            self.finish_execution(*id, ExecutionState::Failed, &[], None, Some(reason))?;
        }
        self.finish_run(run_id, RunStatus::Interrupted)?;
        Ok(Some(u64::try_from(running.len()).unwrap_or(u64::MAX)))
    }

    // -----------------------------------------------------------------------------------------
    // Executions

    fn execution_state(&mut self, id: Id) -> Result<ExecutionState> {
        let state = self
            .conn
            .query_first(
                "SELECT last_known_state FROM Execution WHERE id = ?",
                &cells![id],
            )?
            .ok_or_else(|| not_found("execution", id))?[0]
            .int()?;
        Ok(ExecutionState::from_mlmd(state.unwrap_or(0)))
    }

    /// The state of each execution of `ids` that exists.
    fn execution_states(&mut self, ids: &BTreeSet<Id>) -> Result<BTreeMap<Id, ExecutionState>> {
        let ids: Vec<Id> = ids.iter().copied().collect();
        let mut states = BTreeMap::new();
        for chunk in ids.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT id, last_known_state FROM Execution WHERE id IN ({})",
                vec!["?"; chunk.len()].join(", ")
            );
            let bound: Vec<Cell> = chunk.iter().map(|id| Cell::Int(*id)).collect();
            for row in self.conn.query(&sql, &bound)? {
                let state = ExecutionState::from_mlmd(row[1].int()?.unwrap_or(0));
                states.insert(row[0].req_int()?, state);
            }
        }
        Ok(states)
    }

    fn require_running(&mut self, id: Id) -> Result<()> {
        match self.execution_state(id)? {
            ExecutionState::Running => Ok(()),
            state => Err(Conflict::NotRunning {
                execution: id,
                state,
            }
            .into()),
        }
    }

    /// The parameter values to store, checked against the step type's declaration (read again
    /// from the database when the remembered one refuses them: another process may have added
    /// parameters).
    fn checked_params(
        &mut self,
        step_type_id: Id,
        params: &zenml_core::param::Params,
    ) -> Result<Vec<(String, Value)>> {
        let decl = self.step_type(step_type_id)?;
        match stored_params(&decl.source, params, |n| decl.params.get(n).copied()) {
            Ok(values) => return Ok(values),
            Err(MetadataError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        self.cache.step_types.remove(&step_type_id);
        let decl = self.step_type(step_type_id)?;
        Ok(stored_params(&decl.source, params, |n| {
            decl.params.get(n).copied()
        })?)
    }

    /// Records a new RUNNING execution.
    pub(crate) fn begin_execution(&mut self, new: &NewExecution) -> Result<Id> {
        let inputs: Vec<Id> = new.inputs.iter().map(|(_, a)| *a).collect();
        self.require_artifacts(&inputs)?;
        let mut rows = Rows::default();
        let id = self.execution_row(new, ExecutionState::Running, Vec::new(), &mut rows)?;
        self.flush(rows)?;
        Ok(id)
    }

    /// Inserts a new execution in `state` and gathers in `rows` its properties (with `extra`
    /// custom ones), its memberships and its INPUT events. The caller has checked that its
    /// inputs exist.
    fn execution_row(
        &mut self,
        new: &NewExecution,
        state: ExecutionState,
        extra: Vec<(&'static str, Value)>,
        rows: &mut Rows,
    ) -> Result<Id> {
        let pipeline_id = self.run_pipeline(new.run_id)?;
        let values = self.checked_params(new.step_type_id, &new.params)?;
        let Some(kind) = self.step_type(new.step_type_id)?.kind else {
            return Err(not_found("step type", new.step_type_id));
        };
        let inputs = sorted_by_name(&new.inputs, "input")?;

        let now = self.now;
        self.conn.exec(
            "INSERT INTO Execution (type_id, last_known_state, create_time_since_epoch, \
             last_update_time_since_epoch) VALUES (?, ?, ?, ?)",
            &cells![new.step_type_id, state.mlmd_value(), now, now],
        )?;
        let id = self.last_id()?;
        let custom = [
            (prop::STEP_NAME, Value::Str(new.step_name.clone())),
            (prop::KIND, Value::Str(kind.as_str().to_owned())),
            (
                prop::CODE_FINGERPRINT,
                Value::Str(new.code_fingerprint.to_hex()),
            ),
            (
                prop::CACHE_KEY,
                new.cache_key
                    .map_or(Value::Null, |key| Value::Str(key.to_hex())),
            ),
        ];
        rows.properties.extend(
            values
                .into_iter()
                .map(|(name, value)| (id, name, Declared::Yes, value)),
        );
        rows.properties.extend(
            custom
                .into_iter()
                .chain(extra)
                .map(|(name, value)| (id, name.to_owned(), Declared::Custom, value)),
        );
        rows.associations
            .extend([(new.run_id, id), (pipeline_id, id)]);
        rows.events(id, EVENT_INPUT, &inputs);
        Ok(id)
    }

    /// Writes what `rows` gathered: a few statements, however many executions it holds.
    fn flush(&mut self, rows: Rows) -> Result<()> {
        let properties: Vec<(Id, &str, Declared, &Value)> = rows
            .properties
            .iter()
            .map(|(owner, name, declared, value)| (*owner, name.as_str(), *declared, value))
            .collect();
        put_rows(self.conn, Node::Execution, &properties)?;
        for chunk in rows.associations.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO Association (context_id, execution_id) VALUES {}",
                vec!["(?, ?)"; chunk.len()].join(", ")
            );
            let bound: Vec<Cell> = chunk.iter().flat_map(|(c, e)| cells![*c, *e]).collect();
            self.conn.exec(&sql, &bound)?;
        }
        let now = self.now;
        for chunk in rows.events.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO Event (artifact_id, execution_id, type, milliseconds_since_epoch) \
                 VALUES {}",
                vec!["(?, ?, ?, ?)"; chunk.len()].join(", ")
            );
            let bound: Vec<Cell> = chunk
                .iter()
                .flat_map(|(e, t, a, _)| cells![*a, *e, *t, now])
                .collect();
            self.conn.exec(&sql, &bound)?;
        }
        // Each path finds its event by the event's unique (artifact, execution, type), and the
        // paths of an event keep their order.
        let paths: Vec<(Id, i64, Id, &str)> = rows
            .events
            .iter()
            .flat_map(|(e, t, a, names)| names.iter().map(move |n| (*e, *t, *a, n.as_str())))
            .collect();
        for (c, chunk) in paths.chunks(ROWS_PER_STATEMENT).enumerate() {
            let mut select = vec!["SELECT ?, ?, ?, ?, ?"; chunk.len()];
            select[0] = "SELECT ? AS n, ? AS e, ? AS t, ? AS a, ? AS k";
            let sql = format!(
                "INSERT INTO EventPath (event_id, is_index_step, step_index, step_key) \
                 SELECT ev.id, 0, NULL, v.k FROM ({}) AS v JOIN Event ev \
                 ON ev.execution_id = v.e AND ev.type = v.t AND ev.artifact_id = v.a \
                 ORDER BY v.n",
                select.join(" UNION ALL ")
            );
            let bound: Vec<Cell> = chunk
                .iter()
                .enumerate()
                .flat_map(|(i, (e, t, a, k))| {
                    let n = i64::try_from(c * ROWS_PER_STATEMENT + i).unwrap_or(i64::MAX);
                    cells![n, *e, *t, *a, *k]
                })
                .collect();
            self.conn.exec(&sql, &bound)?;
        }
        let attributions: Vec<(Id, Id)> = rows.attributions.into_iter().collect();
        for chunk in attributions.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "{} Attribution (context_id, artifact_id) VALUES {}",
                self.dialect.insert_ignore(),
                vec!["(?, ?)"; chunk.len()].join(", ")
            );
            let bound: Vec<Cell> = chunk.iter().flat_map(|(c, a)| cells![*c, *a]).collect();
            self.conn.exec(&sql, &bound)?;
        }
        Ok(())
    }

    /// Attributes artifacts to every context of an execution (its run and its pipeline).
    fn attribute(&mut self, execution: Id, artifacts: &[Id]) -> Result<()> {
        if artifacts.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "{} Attribution (context_id, artifact_id) \
             SELECT s.context_id, x.id FROM Association s JOIN Artifact x ON x.id IN ({}) \
             WHERE s.execution_id = ?",
            self.dialect.insert_ignore(),
            vec!["?"; artifacts.len()].join(", ")
        );
        let mut bound: Vec<Cell> = artifacts.iter().map(|a| Cell::Int(*a)).collect();
        bound.push(Cell::Int(execution));
        self.conn.exec(&sql, &bound)?;
        Ok(())
    }

    fn artifact_type(&mut self, name: &str, base: Option<BaseType>) -> Result<Id> {
        if let Some(id) = self.cache.artifact_types.get(name) {
            return Ok(*id);
        }
        let sql = format!(
            "SELECT id FROM Type WHERE name = ? AND type_kind = ? AND version IS NULL{}",
            self.for_update()
        );
        let existing = self
            .conn
            .query_first(&sql, &cells![name, ARTIFACT_TYPE])?
            .map(|r| r[0].req_int())
            .transpose()?;
        let id = match existing {
            Some(id) => id,
            None => {
                self.conn.exec(
                    "INSERT INTO Type (name, type_kind) VALUES (?, ?)",
                    &cells![name, ARTIFACT_TYPE],
                )?;
                let id = self.last_id()?;
                self.declare_property(id, "hash", PropertyType::String)?;
                self.declare_property(id, "size", PropertyType::Int)?;
                self.declare_property(id, "materializer", PropertyType::String)?;
                self.set_parent_type(id, base.and_then(base_artifact_type))?;
                id
            }
        };
        self.cache.artifact_types.insert(name.to_owned(), id);
        Ok(id)
    }

    fn insert_artifact(&mut self, a: &NewArtifact) -> Result<ArtifactRecord> {
        let size = i64::try_from(a.size).map_err(|_| {
            Error::from(Conflict::TooLarge {
                uri: a.uri.clone(),
                size: a.size,
            })
        })?;
        let type_id = self.artifact_type(&a.type_name, a.base_type)?;
        let now = self.now;
        self.conn.exec(
            "INSERT INTO Artifact (type_id, uri, state, create_time_since_epoch, \
             last_update_time_since_epoch) VALUES (?, ?, ?, ?, ?)",
            &cells![type_id, a.uri.as_str(), ARTIFACT_LIVE, now, now],
        )?;
        let id = self.last_id()?;
        let hash = Value::Str(a.hash.to_hex());
        let size = Value::Int(size);
        let materializer = Value::Str(a.materializer.clone());
        let etag = a.etag.clone().map_or(Value::Null, Value::Str);
        put_all(
            self.conn,
            Node::Artifact,
            id,
            &[
                ("hash", Declared::Yes, &hash),
                ("size", Declared::Yes, &size),
                ("materializer", Declared::Yes, &materializer),
                ("etag", Declared::Custom, &etag),
            ],
        )?;
        Ok(a.recorded(id, now))
    }

    /// Sets a finished execution's state, metrics, duration (when known) and error.
    fn finish_execution(
        &mut self,
        id: Id,
        state: ExecutionState,
        metrics: &[(String, f64)],
        duration_ms: Option<i64>,
        error: Option<&str>,
    ) -> Result<()> {
        let names: Vec<String> = metrics
            .iter()
            .map(|(name, _)| format!("{}{name}", prop::METRIC_PREFIX))
            .collect();
        let values: Vec<Value> = metrics.iter().map(|(_, v)| Value::Float(*v)).collect();
        let duration = duration_ms.map_or(Value::Null, Value::Int);
        let error = error.map_or(Value::Null, |e| Value::Str(e.to_owned()));
        let rows: Vec<(&str, Declared, &Value)> = names
            .iter()
            .zip(&values)
            .map(|(name, value)| (name.as_str(), Declared::Custom, value))
            .chain([
                (prop::DURATION_MS, Declared::Custom, &duration),
                (prop::ERROR, Declared::Custom, &error),
            ])
            .collect();
        put_all(self.conn, Node::Execution, id, &rows)?;
        let sql = format!(
            "UPDATE Execution SET last_known_state = ?, last_update_time_since_epoch = \
             {}(?, create_time_since_epoch) WHERE id = ?",
            self.dialect.greatest()
        );
        let now = self.now;
        self.conn.exec(&sql, &cells![state.mlmd_value(), now, id])?;
        Ok(())
    }

    pub(crate) fn complete_execution(
        &mut self,
        id: Id,
        outputs: &[(String, NewArtifact)],
        metrics: &[(String, f64)],
        duration_ms: i64,
    ) -> Result<Vec<ArtifactRecord>> {
        self.require_running(id)?;
        let names: Vec<(String, ())> = outputs.iter().map(|(n, _)| (n.clone(), ())).collect();
        sorted_by_name(&names, "output")?;
        let mut records = Vec::with_capacity(outputs.len());
        let mut events = Vec::with_capacity(outputs.len());
        for (name, artifact) in outputs {
            let record = self.insert_artifact(artifact)?;
            events.push((name.clone(), record.id));
            records.push(record);
        }
        let ids: Vec<Id> = records.iter().map(|r| r.id).collect();
        self.attribute(id, &ids)?;
        events.sort_by(|a, b| a.0.cmp(&b.0));
        let mut rows = Rows::default();
        rows.events(id, EVENT_OUTPUT, &events);
        self.flush(rows)?;
        self.finish_execution(
            id,
            ExecutionState::Complete,
            metrics,
            Some(duration_ms),
            None,
        )?;
        let key = match self.conn.query_first(
            "SELECT string_value FROM ExecutionProperty \
             WHERE execution_id = ? AND name = ? AND is_custom_property = 1",
            &cells![id, prop::CACHE_KEY],
        )? {
            Some(row) => row[0].text()?,
            None => None,
        };
        if let Some(key) = key {
            let sql = match self.dialect {
                Dialect::Sqlite => {
                    "INSERT INTO zenml_cache (cache_key, execution_id) VALUES (?, ?) \
                     ON CONFLICT (cache_key) DO UPDATE \
                     SET execution_id = max(execution_id, excluded.execution_id)"
                }
                Dialect::Mysql => {
                    "INSERT INTO zenml_cache (cache_key, execution_id) VALUES (?, ?) \
                     ON DUPLICATE KEY UPDATE \
                     execution_id = GREATEST(execution_id, VALUES(execution_id))"
                }
            };
            self.conn.exec(sql, &cells![key, id])?;
        }
        Ok(records)
    }

    pub(crate) fn fail_execution(
        &mut self,
        id: Id,
        error: &str,
        metrics: &[(String, f64)],
        duration_ms: i64,
    ) -> Result<()> {
        self.require_running(id)?;
        self.finish_execution(
            id,
            ExecutionState::Failed,
            metrics,
            Some(duration_ms),
            Some(error),
        )
    }

    /// Records executions that reuse the outputs of earlier ones, in a few statements however
    /// many there are (plus one per execution, for its id).
    pub(crate) fn record_cached_executions(
        &mut self,
        items: &[(&NewExecution, &CacheHit)],
    ) -> Result<Vec<Id>> {
        let mut outputs = Vec::with_capacity(items.len());
        let mut artifacts = BTreeSet::new();
        for (new, hit) in items {
            let named: Vec<(String, Id)> =
                hit.outputs.iter().map(|(n, a)| (n.clone(), a.id)).collect();
            let named = sorted_by_name(&named, "output")?;
            artifacts.extend(named.iter().map(|(_, a)| *a));
            artifacts.extend(new.inputs.iter().map(|(_, a)| *a));
            outputs.push(named);
        }
        // The executions reused, and every artifact named, checked up front.
        let reused: BTreeSet<Id> = items.iter().map(|(_, hit)| hit.execution_id).collect();
        let states = self.execution_states(&reused)?;
        for (_, hit) in items {
            match states.get(&hit.execution_id) {
                None => return Err(not_found("execution", hit.execution_id)),
                Some(ExecutionState::Complete) => {}
                Some(state) => {
                    return Err(Conflict::NotReusable {
                        execution: hit.execution_id,
                        state: *state,
                    }
                    .into());
                }
            }
        }
        let artifacts: Vec<Id> = artifacts.into_iter().collect();
        self.require_artifacts(&artifacts)?;

        let mut rows = Rows::default();
        let mut ids = Vec::with_capacity(items.len());
        for ((new, hit), named) in items.iter().zip(&outputs) {
            let extra = vec![
                (prop::CACHED_FROM, Value::Int(hit.execution_id)),
                (prop::DURATION_MS, Value::Int(0)),
            ];
            let id = self.execution_row(new, ExecutionState::Cached, extra, &mut rows)?;
            rows.events(id, EVENT_OUTPUT, named);
            let pipeline_id = self.run_pipeline(new.run_id)?;
            for (_, artifact) in named {
                rows.attributions.insert((new.run_id, *artifact));
                rows.attributions.insert((pipeline_id, *artifact));
            }
            ids.push(id);
        }
        self.flush(rows)?;
        Ok(ids)
    }

    pub(crate) fn invalidate_cache(&mut self, key: Option<Hash128>) -> Result<u64> {
        let mark = format!(
            "INSERT INTO ExecutionProperty (execution_id, name, is_custom_property, bool_value) \
             SELECT p.execution_id, '{invalidated}', 1, 1 \
             FROM ExecutionProperty p JOIN Execution e ON e.id = p.execution_id \
             WHERE p.name = '{key}' AND p.is_custom_property = 1 \
             AND p.string_value IS NOT NULL AND e.last_known_state = {complete} \
             AND NOT EXISTS (SELECT 1 FROM ExecutionProperty q \
             WHERE q.execution_id = p.execution_id AND q.name = '{invalidated}' \
             AND q.is_custom_property = 1)",
            invalidated = prop::CACHE_INVALIDATED,
            key = prop::CACHE_KEY,
            complete = ExecutionState::Complete.mlmd_value(),
        );
        let marked = match key {
            Some(key) => {
                let marked = self.conn.exec(
                    &format!("{mark} AND p.string_value = ?"),
                    &cells![key.to_hex()],
                )?;
                self.conn.exec(
                    "DELETE FROM zenml_cache WHERE cache_key = ?",
                    &cells![key.to_hex()],
                )?;
                marked
            }
            None => {
                let marked = self.conn.exec(&mark, &[])?;
                self.conn.exec("DELETE FROM zenml_cache", &[])?;
                marked
            }
        };
        Ok(marked)
    }

    pub(crate) fn set_artifact_etag(&mut self, id: Id, etag: Option<&str>) -> Result<()> {
        self.require_artifact(id)?;
        let value = etag.map_or(Value::Null, |e| Value::Str(e.to_owned()));
        self.put(Node::Artifact, id, "etag", Declared::Custom, &value)?;
        self.touch(id, "Artifact")
    }
}

/// The rows of executions recorded together, gathered so that [`Tx::flush`] writes each table's
/// in a few statements.
#[derive(Default)]
struct Rows {
    /// (execution, name, declared, value).
    properties: Vec<(Id, String, Declared, Value)>,
    /// (context, execution).
    associations: Vec<(Id, Id)>,
    /// (execution, event type, artifact, the names of the artifact's path).
    events: Vec<(Id, i64, Id, Vec<String>)>,
    /// (context, artifact), each once.
    attributions: BTreeSet<(Id, Id)>,
}

impl Rows {
    /// One event per artifact of `named` (sorted by name), its path holding the names it has.
    fn events(&mut self, execution: Id, event_type: i64, named: &[(String, Id)]) {
        let first = self.events.len();
        for (name, artifact) in named {
            let mine = &mut self.events[first..];
            match mine.iter_mut().find(|(_, _, a, _)| a == artifact) {
                Some((_, _, _, names)) => names.push(name.clone()),
                None => self
                    .events
                    .push((execution, event_type, *artifact, vec![name.clone()])),
            }
        }
    }
}
