//! The scheduler: which steps of a plan are ready, given how the others went; and the in-memory
//! handoff of values between steps of one process.
//!
//! The scheduler knows nothing of stores or step code: it is told how each dispatched step
//! ended (published its outputs, failed, or found an input damaged) and answers with the steps
//! that may start next, in plan order.

use std::collections::HashMap;

use crate::artifact::AnyValue;
use crate::pipeline::{Plan, PlannedStep};
use crate::store::ArtifactRecord;

use super::executor::{Mode, ResolvedInput};

/// Whether a step runs again in a run because an output of its was found damaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Again {
    /// It does not (yet).
    No,
    /// It is to run again, or running again.
    Pending,
    /// It ran again.
    Done,
}

/// A step to start.
#[derive(Debug)]
pub(crate) struct Dispatch {
    /// Its index in the plan.
    pub(crate) step: usize,
    /// How the executor is to take it.
    pub(crate) mode: Mode,
    /// Producers whose consumers have all started now: their values need not be kept.
    pub(crate) released: Vec<usize>,
}

/// Decides what is ready in one run of a plan.
#[derive(Debug)]
pub(crate) struct Scheduler<'p> {
    plan: &'p Plan,
    /// Per step, how many of its producers have not published their outputs yet.
    pending_upstream: Vec<usize>,
    /// Per step, how many of its consumers have not started yet.
    consumers_left: Vec<usize>,
    /// Steps that may start, in plan order.
    ready: Vec<usize>,
    again: Vec<Again>,
    /// Per step running again, the consumers waiting for it.
    waiting: Vec<Vec<usize>>,
    /// A step failed: nothing more starts.
    stopped: bool,
}

impl<'p> Scheduler<'p> {
    /// A scheduler with every step of `plan` still to run.
    pub(crate) fn new(plan: &'p Plan) -> Self {
        let n = plan.steps.len();
        let pending_upstream: Vec<usize> = plan.steps.iter().map(|s| s.upstream.len()).collect();
        Scheduler {
            plan,
            ready: (0..n).filter(|&i| pending_upstream[i] == 0).collect(),
            pending_upstream,
            consumers_left: plan.steps.iter().map(|s| s.consumers.len()).collect(),
            again: vec![Again::No; n],
            waiting: vec![Vec::new(); n],
            stopped: false,
        }
    }

    /// Is some step ready to start?
    pub(crate) fn has_ready(&self) -> bool {
        !self.stopped && !self.ready.is_empty()
    }

    /// The next step to start, if one is ready and no step failed.
    pub(crate) fn next(&mut self) -> Option<Dispatch> {
        if self.stopped || self.ready.is_empty() {
            return None;
        }
        let step = self.ready.remove(0);
        // A step that runs again does not look in the cache: its cached outputs are what was
        // found damaged. (It started once already: its inputs' values are counted as taken.)
        let force = self.again[step] == Again::Pending;
        let mut released = Vec::new();
        if !force {
            for &u in &self.plan.steps[step].upstream {
                self.consumers_left[u] -= 1;
                if self.consumers_left[u] == 0 {
                    released.push(u);
                }
            }
        }
        Some(Dispatch {
            step,
            mode: if force { Mode::Force } else { Mode::Execute },
            released,
        })
    }

    /// Must the values of step `step`'s outputs be kept for a consumer that has not started?
    /// (Asked before [`Scheduler::published`].)
    pub(crate) fn keeps_values(&self, step: usize) -> bool {
        self.consumers_left[step] > 0
            || (self.again[step] == Again::Pending && !self.waiting[step].is_empty())
    }

    /// Step `step` published its outputs (executed or cached): its consumers may become ready.
    pub(crate) fn published(&mut self, step: usize) {
        if self.again[step] == Again::Pending {
            // Its consumers were all started before; the ones that found its output damaged
            // start again.
            self.again[step] = Again::Done;
            self.ready.append(&mut self.waiting[step]);
        } else {
            for &d in &self.plan.steps[step].consumers {
                self.pending_upstream[d] -= 1;
                if self.pending_upstream[d] == 0 {
                    self.ready.push(d);
                }
            }
        }
        self.ready.sort_unstable();
    }

    /// A step failed: nothing more starts.
    pub(crate) fn failed(&mut self) {
        self.stopped = true;
    }

    /// Step `step` did not start because an output of `producer` was damaged. Returns whether
    /// it waits for the producer to run again; `false` when the producer ran again already
    /// (the step fails).
    pub(crate) fn needs_producer(&mut self, step: usize, producer: usize) -> bool {
        // Undo the start: the step starts again once its producer has run again.
        for &u in &self.plan.steps[step].upstream {
            self.consumers_left[u] += 1;
        }
        match self.again[producer] {
            Again::Done => false,
            Again::Pending => {
                self.waiting[producer].push(step);
                true
            }
            Again::No => {
                self.again[producer] = Again::Pending;
                self.waiting[producer].push(step);
                self.ready.push(producer);
                self.ready.sort_unstable();
                true
            }
        }
    }
}

/// An output published in this run: its record, and its value while a consumer may need it.
struct Produced {
    record: ArtifactRecord,
    value: Option<AnyValue>,
}

/// The outputs published in one run of a plan, by producing step and output index: what the
/// next steps' inputs resolve to, with their values kept in memory while a consumer in this
/// process may need them.
#[derive(Default)]
pub(crate) struct Handoff {
    produced: HashMap<(usize, usize), Produced>,
}

impl Handoff {
    /// The inputs of `planned`, resolved to what its producers published.
    pub(crate) fn inputs(&self, planned: &PlannedStep) -> Vec<ResolvedInput> {
        planned
            .inputs
            .iter()
            .filter_map(|input| {
                let p = self.produced.get(&(input.producer, input.output))?;
                Some(ResolvedInput {
                    record: p.record.clone(),
                    value: p.value.clone(),
                })
            })
            .collect()
    }

    /// Step `step` published `outputs` (named as in `planned.outputs`); `values` are kept when
    /// `keep` says so.
    pub(crate) fn publish(
        &mut self,
        step: usize,
        planned: &PlannedStep,
        outputs: &[(String, ArtifactRecord)],
        values: Vec<(String, AnyValue)>,
        keep: bool,
    ) {
        let mut values: HashMap<String, AnyValue> = values.into_iter().collect();
        for (name, record) in outputs {
            let Some(index) = planned.outputs.iter().position(|o| o.name == name.as_str()) else {
                continue;
            };
            self.produced.insert(
                (step, index),
                Produced {
                    record: record.clone(),
                    value: if keep { values.remove(name) } else { None },
                },
            );
        }
    }

    /// Drops the values of step `step`'s outputs (their records stay).
    pub(crate) fn release(&mut self, step: usize) {
        for ((producer, _), p) in &mut self.produced {
            if *producer == step {
                p.value = None;
            }
        }
    }
}
