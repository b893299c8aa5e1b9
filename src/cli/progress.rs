//! Live progress of a run on a terminal: a line per step (waiting, running, then done, cached or
//! failed with its duration) and an overall bar, drawn with indicatif from the runner's progress
//! events and redrawn at each. Off a terminal the runner's plain lines are used instead.
//!
//! No steady tick (yet): the lines change when events arrive, not in between, so a running
//! step's line says `running` without its elapsed time until the step ends.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use zenml_core::runner::{Progress, ProgressEvent, human_duration};

/// Draws a run's progress on the terminal (stderr).
pub(super) struct LiveProgress {
    multi: MultiProgress,
    overall: ProgressBar,
    steps: Mutex<HashMap<String, ProgressBar>>,
    width: usize,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl LiveProgress {
    /// A line per step of `steps`, waiting, under an overall bar.
    pub(super) fn new(steps: &[&str]) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let width = steps
            .iter()
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut lines = HashMap::new();
        for step in steps {
            let line = multi.add(ProgressBar::new_spinner());
            line.set_style(style(&format!("  {{prefix:<{width}}} {{msg}}")));
            line.set_prefix((*step).to_owned());
            line.set_message("waiting");
            lines.insert((*step).to_owned(), line);
        }
        let overall = multi.add(ProgressBar::new(steps.len() as u64));
        overall.set_style(style("{bar:30} {pos}/{len} steps  {elapsed}  {msg}"));
        LiveProgress {
            multi,
            overall,
            steps: Mutex::new(lines),
            width,
        }
    }

    /// The line of `step`, made if the plan did not name it.
    fn line(&self, step: &str) -> ProgressBar {
        let mut steps = self
            .steps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        steps
            .entry(step.to_owned())
            .or_insert_with(|| {
                let line = self
                    .multi
                    .insert_before(&self.overall, ProgressBar::new_spinner());
                line.set_style(style(&format!("  {{prefix:<{}}} {{msg}}", self.width)));
                line.set_prefix(step.to_owned());
                line
            })
            .clone()
    }

    /// Ends `step`'s line with `state` and how long it took.
    fn finish(&self, step: &str, state: &str, elapsed: Duration, detail: &str) {
        let line = self.line(step);
        line.finish_with_message(format!("{state:<7} {:>9}{detail}", human_duration(elapsed)));
        self.overall.inc(1);
    }
}

impl Progress for LiveProgress {
    fn event(&self, event: &ProgressEvent<'_>) {
        match event {
            ProgressEvent::RunStarted { run, steps, .. } => {
                self.overall.set_length(*steps as u64);
                self.overall.set_message(format!("run `{run}`"));
            }
            ProgressEvent::StepStarted { step } => {
                let line = self.line(step);
                line.reset_elapsed();
                line.set_message("running");
            }
            ProgressEvent::StepCached {
                step,
                from_execution,
                elapsed,
            } => self.finish(
                step,
                "cached",
                *elapsed,
                &format!("  (outputs of execution {from_execution})"),
            ),
            ProgressEvent::StepDone { step, elapsed } => self.finish(step, "done", *elapsed, ""),
            ProgressEvent::StepFailed {
                step,
                error,
                elapsed,
            } => self.finish(step, "failed", *elapsed, &format!("  {error}")),
            ProgressEvent::StepSkipped { step } => {
                self.line(step).finish_with_message("skipped");
                self.overall.inc(1);
            }
            ProgressEvent::StepLog { step, message } => {
                let _ = self.multi.println(format!("  [{step}] {message}"));
            }
            ProgressEvent::ArtifactRepaired { repaired } => {
                let _ = self.multi.println(format!("warning: {repaired}"));
            }
            ProgressEvent::RunInterrupted { run, reason, .. } => {
                let _ = self.multi.println(format!(
                    "warning: closed run `{run}`, whose process is gone: {reason}"
                ));
            }
            ProgressEvent::RunFinished { .. } => {
                let outcome = event.run_outcome().unwrap_or_default();
                self.overall.finish_with_message(format!("run {outcome}"));
            }
            _ => {}
        }
    }
}
