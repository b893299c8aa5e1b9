//! Comparing training runs: every run's trainer parameters beside its evaluator's metrics.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::param::Value;
use crate::step::StepKind;
use crate::store::{ExecutionRecord, ExecutionState, Id, RunStatus};

use super::{Repository, RepositoryError};

/// Training runs side by side: one row per run that has a trainer, with the union of the
/// trainers' parameters and of the evaluators' metrics as columns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Comparison {
    /// The parameter columns, sorted.
    pub param_names: Vec<String>,
    /// The metric columns, sorted.
    pub metric_names: Vec<String>,
    /// One row per training run, oldest first.
    pub rows: Vec<ComparisonRow>,
}

/// One training run in a [`Comparison`].
#[derive(Clone, Debug, PartialEq)]
pub struct ComparisonRow {
    /// The pipeline's name.
    pub pipeline: String,
    /// The run's name.
    pub run: String,
    /// The run's id.
    pub run_id: Id,
    /// The run's status.
    pub status: RunStatus,
    /// When the run started (milliseconds since the Unix epoch).
    pub started_ms: i64,
    /// The trainer's source path and version (`path@1`).
    pub trainer: String,
    /// Was the trainer's output reused from the cache?
    pub trainer_cached: bool,
    /// The trainer's parameters.
    pub params: BTreeMap<String, Value>,
    /// The evaluator's metrics (and any the trainer recorded), by name.
    pub metrics: BTreeMap<String, f64>,
}

impl ComparisonRow {
    /// The value of parameter `name`, if the run's trainer has it.
    pub fn param(&self, name: &str) -> Option<&Value> {
        self.params.get(name)
    }

    /// The value of metric `name`, if recorded.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).copied()
    }
}

impl Repository {
    /// Every training run (a run with a trainer step) with its trainer's parameters and its
    /// evaluator's metrics, aligned in one table. Metrics of a cached step are those of the
    /// execution it reused.
    pub fn compare_training_runs(&self) -> Result<Comparison, RepositoryError> {
        let mut rows = Vec::new();
        let mut param_names = BTreeSet::new();
        let mut metric_names = BTreeSet::new();
        for run in self.metadata.runs(None)? {
            let executions = self.metadata.executions(run.id)?;
            let Some(trainer) = executions
                .iter()
                .find(|e| e.kind == Some(StepKind::Trainer))
            else {
                continue;
            };
            let mut metrics = BTreeMap::new();
            for e in executions
                .iter()
                .filter(|e| matches!(e.kind, Some(StepKind::Trainer | StepKind::Evaluator)))
            {
                for (name, value) in self.metrics_of(e)? {
                    metrics.insert(name, value);
                }
            }
            let params: BTreeMap<String, Value> = trainer
                .params
                .iter()
                .map(|(k, v)| (k.to_owned(), v.clone()))
                .collect();
            param_names.extend(params.keys().cloned());
            metric_names.extend(metrics.keys().cloned());
            rows.push(ComparisonRow {
                pipeline: run.pipeline_name.clone(),
                run: run.name.clone(),
                run_id: run.id,
                status: run.status,
                started_ms: run.started_ms,
                trainer: format!("{}@{}", trainer.source, trainer.version),
                trainer_cached: trainer.state == ExecutionState::Cached,
                params,
                metrics,
            });
        }
        Ok(Comparison {
            param_names: param_names.into_iter().collect(),
            metric_names: metric_names.into_iter().collect(),
            rows,
        })
    }

    /// An execution's metrics; a cached execution's are those of the execution it reused.
    pub(super) fn metrics_of(
        &self,
        e: &ExecutionRecord,
    ) -> Result<Vec<(String, f64)>, RepositoryError> {
        match (e.state, e.cached_from) {
            (ExecutionState::Cached, Some(from)) if e.metrics.is_empty() => {
                Ok(self.metadata.execution(from)?.metrics)
            }
            _ => Ok(e.metrics.clone()),
        }
    }
}

impl fmt::Display for Comparison {
    /// A plain-text table: run, pipeline, then parameters, then metrics.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut header: Vec<String> = vec!["run".into(), "pipeline".into()];
        header.extend(self.param_names.iter().cloned());
        header.extend(self.metric_names.iter().cloned());
        let mut table: Vec<Vec<String>> = vec![header];
        for r in &self.rows {
            let mut row = vec![r.run.clone(), r.pipeline.clone()];
            row.extend(self.param_names.iter().map(|p| {
                r.params
                    .get(p)
                    .map_or_else(|| "-".to_owned(), ToString::to_string)
            }));
            row.extend(self.metric_names.iter().map(|m| {
                r.metrics
                    .get(m)
                    .map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"))
            }));
            table.push(row);
        }
        let widths: Vec<usize> = (0..table[0].len())
            .map(|c| {
                table
                    .iter()
                    .map(|r| r[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &table {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            writeln!(f, "{}", line.join("  ").trim_end())?;
        }
        Ok(())
    }
}
