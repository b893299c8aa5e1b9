//! Progress reports while a pipeline runs.

use std::io::Write;
use std::time::Duration;

use crate::step::StepLog;

use super::Repaired;

/// Something that happened during a run.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProgressEvent<'a> {
    /// The run started.
    RunStarted {
        /// The pipeline.
        pipeline: &'a str,
        /// The run's name.
        run: &'a str,
        /// How many steps it has.
        steps: usize,
    },
    /// A step started to execute (it was not cached).
    StepStarted {
        /// The step.
        step: &'a str,
    },
    /// A step was handed to an orchestrator that runs it elsewhere (a Slurm job).
    StepSubmitted {
        /// The step.
        step: &'a str,
        /// The orchestrator's id for it (the job id).
        job: &'a str,
    },
    /// A step reused the outputs of an earlier execution.
    StepCached {
        /// The step.
        step: &'a str,
        /// The execution whose outputs were reused.
        from_execution: i64,
        /// How long the cache check took.
        elapsed: Duration,
    },
    /// A step executed and published its outputs.
    StepDone {
        /// The step.
        step: &'a str,
        /// How long it took.
        elapsed: Duration,
    },
    /// A step failed.
    StepFailed {
        /// The step.
        step: &'a str,
        /// The error.
        error: &'a str,
        /// How long it ran.
        elapsed: Duration,
    },
    /// A step did not run because a step it depends on (or another branch) failed.
    StepSkipped {
        /// The step.
        step: &'a str,
    },
    /// Damage was found in the artifact store, reported here by artifact and producing step;
    /// the damaged object was removed (or what stood in its place moved aside) and the step is
    /// computed again.
    ArtifactRepaired {
        /// What was found and done.
        repaired: &'a Repaired,
    },
    /// Before the run started, a run whose process is gone was closed as interrupted.
    RunInterrupted {
        /// The run's name.
        run: &'a str,
        /// How many of its executions were still RUNNING.
        executions: u64,
        /// Why its process is known to be gone.
        reason: &'a str,
    },
    /// A step logged a line through its context.
    StepLog {
        /// The step.
        step: &'a str,
        /// The line.
        message: &'a str,
    },
    /// The run ended.
    RunFinished {
        /// The run's name.
        run: &'a str,
        /// Did every step complete or come from the cache?
        success: bool,
        /// Steps that executed.
        executed: usize,
        /// Steps that were cached.
        cached: usize,
        /// The whole run's time.
        elapsed: Duration,
    },
}

impl ProgressEvent<'_> {
    /// For [`ProgressEvent::RunFinished`], how the run ended, for people: `` `A#1` completed in
    /// 12 ms: 2 ran, 3 cached``; `None` for other events.
    pub fn run_outcome(&self) -> Option<String> {
        let ProgressEvent::RunFinished {
            run,
            success,
            executed,
            cached,
            elapsed,
        } = self
        else {
            return None;
        };
        Some(format!(
            "`{run}` {} in {}: {executed} ran, {cached} cached",
            if *success { "completed" } else { "failed" },
            human_duration(*elapsed)
        ))
    }
}

/// Receives [`ProgressEvent`]s; must be callable from several threads at once.
pub trait Progress: Send + Sync {
    /// One event.
    fn event(&self, event: &ProgressEvent<'_>);
}

/// Prints progress to standard error, a line per event.
#[derive(Debug, Default, Clone, Copy)]
pub struct ConsoleProgress;

/// Prints nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct QuietProgress;

impl Progress for QuietProgress {
    fn event(&self, _: &ProgressEvent<'_>) {}
}

/// A duration as a person reads it: `0.4 ms`, `12 ms`, `1.23 s`, `2m 05s`.
pub fn human_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        let s = d.as_secs();
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

impl Progress for ConsoleProgress {
    fn event(&self, event: &ProgressEvent<'_>) {
        let line = match event {
            ProgressEvent::RunStarted {
                pipeline,
                run,
                steps,
            } => format!("Running pipeline `{pipeline}` as run `{run}` ({steps} steps)"),
            ProgressEvent::StepStarted { step } => format!("  {step:<14} started"),
            ProgressEvent::StepSubmitted { step, job } => {
                format!("  {step:<14} submitted (job {job})")
            }
            ProgressEvent::StepCached {
                step,
                from_execution,
                elapsed,
            } => format!(
                "  {step:<14} cached    {:>9}  (outputs of execution {from_execution})",
                human_duration(*elapsed)
            ),
            ProgressEvent::StepDone { step, elapsed } => {
                format!("  {step:<14} done      {:>9}", human_duration(*elapsed))
            }
            ProgressEvent::StepFailed {
                step,
                error,
                elapsed,
            } => format!(
                "  {step:<14} FAILED    {:>9}  {error}",
                human_duration(*elapsed)
            ),
            ProgressEvent::StepSkipped { step } => format!("  {step:<14} skipped"),
            ProgressEvent::StepLog { step, message } => format!("  [{step}] {message}"),
            ProgressEvent::ArtifactRepaired { repaired } => format!("  warning: {repaired}"),
            ProgressEvent::RunInterrupted {
                run,
                executions,
                reason,
            } => format!(
                "Closed run `{run}` as interrupted ({executions} unfinished step(s)): {}",
                reason.strip_prefix("interrupted: ").unwrap_or(reason)
            ),
            ProgressEvent::RunFinished { .. } => {
                format!("Run {}", event.run_outcome().unwrap_or_default())
            }
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

/// Routes a step's log lines to a [`Progress`].
pub(crate) struct ProgressLog(pub(crate) std::sync::Arc<dyn Progress>);

impl StepLog for ProgressLog {
    fn log(&self, step: &str, message: &str) {
        self.0.event(&ProgressEvent::StepLog { step, message });
    }
}

#[cfg(test)]
mod tests {
    use super::human_duration;
    use std::time::Duration;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_micros(400)), "0.4 ms");
        assert_eq!(human_duration(Duration::from_millis(12)), "12 ms");
        assert_eq!(human_duration(Duration::from_millis(1234)), "1.23 s");
        assert_eq!(human_duration(Duration::from_secs(125)), "2m 05s");
    }
}
