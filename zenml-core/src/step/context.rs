//! What a running step can see and record.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a step's log lines go. The runner supplies one that prefixes each line with the step's
/// name, or drops them in quiet mode.
pub trait StepLog: Send + Sync {
    /// One line from `step`.
    fn log(&self, step: &str, message: &str);
}

/// The step's view of its run: its identity, a place to record metrics, a scratch directory and
/// logging.
pub struct StepContext {
    pipeline: String,
    run_name: String,
    run_id: i64,
    step: String,
    metrics: Vec<(String, f64)>,
    scratch_root: PathBuf,
    scratch: Option<PathBuf>,
    log: Arc<dyn StepLog>,
}

impl fmt::Debug for StepContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepContext")
            .field("pipeline", &self.pipeline)
            .field("run", &self.run_name)
            .field("step", &self.step)
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

impl StepContext {
    /// A context for step `step` of run `run_name` (id `run_id`) of `pipeline`. Scratch
    /// directories are made under `scratch_root`.
    pub fn new(
        pipeline: impl Into<String>,
        run_name: impl Into<String>,
        run_id: i64,
        step: impl Into<String>,
        scratch_root: impl Into<PathBuf>,
        log: Arc<dyn StepLog>,
    ) -> Self {
        StepContext {
            pipeline: pipeline.into(),
            run_name: run_name.into(),
            run_id,
            step: step.into(),
            metrics: Vec::new(),
            scratch_root: scratch_root.into(),
            scratch: None,
            log,
        }
    }

    /// The pipeline's name.
    pub fn pipeline_name(&self) -> &str {
        &self.pipeline
    }

    /// The run's name.
    pub fn run_name(&self) -> &str {
        &self.run_name
    }

    /// The run's id in the metadata store.
    pub fn run_id(&self) -> i64 {
        self.run_id
    }

    /// The step's name in the pipeline.
    pub fn step_name(&self) -> &str {
        &self.step
    }

    /// Records a number on this step's execution (a loss, an accuracy). Recording a name again
    /// replaces its value. Metrics feed run comparison.
    pub fn record_metric(&mut self, name: impl Into<String>, value: f64) {
        let name = name.into();
        match self.metrics.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.metrics.push((name, value)),
        }
    }

    /// The metrics recorded so far, in the order first recorded.
    pub fn metrics(&self) -> &[(String, f64)] {
        &self.metrics
    }

    /// Takes the recorded metrics out of the context.
    pub fn take_metrics(&mut self) -> Vec<(String, f64)> {
        std::mem::take(&mut self.metrics)
    }

    /// A directory of this step's own for temporary files, made on first use and removed when the
    /// step ends.
    pub fn scratch_dir(&mut self) -> io::Result<&Path> {
        if self.scratch.is_none() {
            let unique = format!(
                "{}-{}-{}",
                sanitize(&self.step),
                self.run_id,
                std::process::id()
            );
            let dir = self.scratch_root.join(unique);
            std::fs::create_dir_all(&dir)?;
            self.scratch = Some(dir);
        }
        Ok(self.scratch.as_deref().unwrap_or(Path::new(".")))
    }

    /// Writes a log line, prefixed with the step's name.
    pub fn log(&self, message: impl fmt::Display) {
        self.log.log(&self.step, &message.to_string());
    }
}

impl Drop for StepContext {
    fn drop(&mut self) {
        if let Some(dir) = self.scratch.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
