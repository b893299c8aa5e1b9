//! Whole-pipeline validation and the execution plan.

use std::collections::{BTreeMap, HashMap};

use crate::param::Value;
use crate::step::IoSpec;

use super::{
    MAX_NAME_BYTES, MAX_STRING_PARAM_BYTES, OutputRef, Pipeline, PipelineError, StepNode, Template,
};

/// A validated pipeline: its steps in an order where every step comes after the steps it reads
/// from, with the wiring resolved.
#[derive(Debug)]
pub struct Plan {
    /// The steps in execution order.
    pub steps: Vec<PlannedStep>,
}

impl Plan {
    /// The planned step named `name`, with its index in [`Plan::steps`].
    pub fn step(&self, name: &str) -> Option<(usize, &PlannedStep)> {
        self.steps.iter().enumerate().find(|(_, s)| s.name == name)
    }
}

/// One step of a [`Plan`].
#[derive(Debug)]
pub struct PlannedStep {
    /// The step's index in [`Pipeline::steps`].
    pub index: usize,
    /// Its name.
    pub name: String,
    /// Its declared inputs, each with the output it reads, sorted by input name.
    pub inputs: Vec<PlannedInput>,
    /// Its declared outputs.
    pub outputs: Vec<IoSpec>,
    /// Indices (into `Plan::steps`) of the steps it reads from, sorted, each once.
    pub upstream: Vec<usize>,
    /// Indices (into `Plan::steps`) of the steps that read from it, sorted, each once.
    pub consumers: Vec<usize>,
}

/// One input of a [`PlannedStep`], resolved: the output it reads and who produces it.
#[derive(Clone, Debug)]
pub struct PlannedInput {
    /// The input as the step declares it.
    pub spec: IoSpec,
    /// The output it reads, as wired (`step.output`).
    pub source: OutputRef,
    /// The producing step's index in `Plan::steps`.
    pub producer: usize,
    /// The output's index in the producing step's [`PlannedStep::outputs`].
    pub output: usize,
}

/// A step name is referred to in wiring (`step.output`): letters, digits, `_` and `-`.
fn valid_step_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// A pipeline name is free text for people, on one line and without `#` (run names are
/// `<pipeline>#<n>`).
fn valid_pipeline_name(name: &str) -> bool {
    !name.is_empty() && name.trim() == name && !name.chars().any(|c| c.is_control() || c == '#')
}

/// The problem with a name, if any: too long (checked first, so that the message need not show
/// it), or of the wrong form.
fn name_problem(what: &'static str, name: &str, valid: fn(&str) -> bool) -> Option<PipelineError> {
    if name.len() > MAX_NAME_BYTES {
        Some(PipelineError::NameTooLong {
            what,
            name: name.to_owned(),
            max: MAX_NAME_BYTES,
        })
    } else if !valid(name) {
        Some(PipelineError::InvalidName {
            what,
            name: name.to_owned(),
        })
    } else {
        None
    }
}

/// String parameters over [`MAX_STRING_PARAM_BYTES`].
fn oversized_params(s: &StepNode, errors: &mut Vec<PipelineError>) {
    for (param, value) in &s.step.params() {
        if let Value::Str(v) = value
            && v.len() > MAX_STRING_PARAM_BYTES
        {
            errors.push(PipelineError::ParamTooLarge {
                step: s.name.clone(),
                param: param.to_owned(),
                size: v.len(),
                max: MAX_STRING_PARAM_BYTES,
            });
        }
    }
}

/// An input as validation resolves it: declared, the output it is wired to, the producer's
/// index in the pipeline, the output's index among the producer's outputs.
type Resolved = (IoSpec, OutputRef, usize, usize);

pub(super) fn validate(p: &Pipeline) -> Result<Plan, PipelineError> {
    let mut errors: Vec<PipelineError> = p.problems().to_vec();
    errors.extend(name_problem("pipeline", &p.name, valid_pipeline_name));
    if p.steps.is_empty() && errors.is_empty() {
        errors.push(PipelineError::Empty(p.name.clone()));
    }
    if p.template == Template::Training {
        for slot in ["datasource", "split", "trainer"] {
            if p.step(slot).is_none() {
                errors.push(PipelineError::MissingSlot {
                    pipeline: p.name.clone(),
                    slot,
                });
            }
        }
        if !errors.is_empty() {
            // The fixed wiring refers to the missing slots; don't report it a second time.
            return Err(collapse(errors));
        }
    }

    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, s) in p.steps.iter().enumerate() {
        errors.extend(name_problem("step", &s.name, valid_step_name));
        oversized_params(s, &mut errors);
        if let Err(e) = s.step.check_params() {
            errors.push(PipelineError::InvalidParam {
                step: s.name.clone(),
                source_path: s.step.info().source.to_owned(),
                param: e.name,
                message: e.message,
            });
        }
        if index.insert(&s.name, i).is_some() {
            errors.push(PipelineError::DuplicateStep {
                pipeline: p.name.clone(),
                step: s.name.clone(),
            });
        }
    }

    let outputs: Vec<Vec<IoSpec>> = p.steps.iter().map(|s| s.step.outputs()).collect();
    let mut resolved: Vec<Vec<Resolved>> = Vec::with_capacity(p.steps.len());
    for s in &p.steps {
        let declared = s.step.inputs();
        let mut wired: BTreeMap<&str, &str> = BTreeMap::new();
        for (input, target) in &s.inputs {
            if let Some(first) = wired.insert(input, target) {
                errors.push(PipelineError::DoublyWired {
                    step: s.name.clone(),
                    input: input.clone(),
                    first: first.to_owned(),
                    second: target.clone(),
                });
            }
            if !declared.iter().any(|d| d.name == input.as_str()) {
                errors.push(PipelineError::UnknownInput {
                    step: s.name.clone(),
                    source_path: s.step.info().source.to_owned(),
                    input: input.clone(),
                    declared: declared.iter().map(|d| d.name.to_string()).collect(),
                });
            }
        }
        let mut ins = Vec::with_capacity(declared.len());
        for d in declared {
            let Some(target) = wired.get(d.name.as_ref()) else {
                errors.push(PipelineError::MissingInput {
                    step: s.name.clone(),
                    input: d.name.to_string(),
                    ty: d.kind.type_name().into_owned(),
                });
                continue;
            };
            let Some(r) = OutputRef::parse(target) else {
                errors.push(PipelineError::BadReference {
                    step: s.name.clone(),
                    input: d.name.to_string(),
                    target: (*target).to_owned(),
                });
                continue;
            };
            let Some(&producer) = index.get(r.step.as_str()) else {
                errors.push(PipelineError::UnknownStep {
                    step: s.name.clone(),
                    input: d.name.to_string(),
                    target: (*target).to_owned(),
                    missing: r.step.clone(),
                    available: p.steps.iter().map(|s| s.name.clone()).collect(),
                });
                continue;
            };
            let Some((out_index, out)) = outputs[producer]
                .iter()
                .enumerate()
                .find(|(_, o)| o.name == r.output.as_str())
            else {
                errors.push(PipelineError::UnknownOutput {
                    step: s.name.clone(),
                    input: d.name.to_string(),
                    target: (*target).to_owned(),
                    producer: r.step.clone(),
                    output: r.output.clone(),
                    available: outputs[producer]
                        .iter()
                        .map(|o| o.name.to_string())
                        .collect(),
                });
                continue;
            };
            if !out.kind.same_type(&d.kind) {
                errors.push(PipelineError::TypeMismatch {
                    step: s.name.clone(),
                    input: d.name.to_string(),
                    target: (*target).to_owned(),
                    expected: d.kind.type_name().into_owned(),
                    found: out.kind.type_name().into_owned(),
                });
                continue;
            }
            ins.push((d, r, producer, out_index));
        }
        ins.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        resolved.push(ins);
    }
    if !errors.is_empty() {
        return Err(collapse(errors));
    }

    // Kahn's algorithm, taking ready steps in the order they were added.
    let n = p.steps.len();
    let mut indegree = vec![0usize; n];
    let mut downstream: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ins) in resolved.iter().enumerate() {
        let mut ups: Vec<usize> = ins.iter().map(|(_, _, u, _)| *u).collect();
        ups.sort_unstable();
        ups.dedup();
        indegree[i] = ups.len();
        for u in ups {
            downstream[u].push(i);
        }
    }
    let mut order = Vec::with_capacity(n);
    let mut ready: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    while let Some(&i) = ready.iter().min() {
        ready.retain(|&r| r != i);
        order.push(i);
        for &d in &downstream[i] {
            indegree[d] -= 1;
            if indegree[d] == 0 {
                ready.push(d);
            }
        }
    }
    if order.len() < n {
        return Err(PipelineError::Cycle {
            pipeline: p.name.clone(),
            cycle: find_cycle(p, &resolved, &indegree),
        });
    }

    let position: Vec<usize> = {
        let mut pos = vec![0; n];
        for (k, &i) in order.iter().enumerate() {
            pos[i] = k;
        }
        pos
    };
    let mut resolved: Vec<Option<Vec<Resolved>>> = resolved.into_iter().map(Some).collect();
    let mut outputs: Vec<Option<Vec<IoSpec>>> = outputs.into_iter().map(Some).collect();
    let mut steps: Vec<PlannedStep> = order
        .iter()
        .map(|&i| {
            let inputs: Vec<PlannedInput> = resolved[i]
                .take()
                .unwrap_or_default()
                .into_iter()
                .map(|(spec, source, producer, output)| PlannedInput {
                    spec,
                    source,
                    producer: position[producer],
                    output,
                })
                .collect();
            let mut upstream: Vec<usize> = inputs.iter().map(|input| input.producer).collect();
            upstream.sort_unstable();
            upstream.dedup();
            PlannedStep {
                index: i,
                name: p.steps[i].name.clone(),
                inputs,
                outputs: outputs[i].take().unwrap_or_default(),
                upstream,
                consumers: Vec::new(),
            }
        })
        .collect();
    for k in 0..steps.len() {
        for u in steps[k].upstream.clone() {
            steps[u].consumers.push(k);
        }
    }
    Ok(Plan { steps })
}

/// One cycle among the steps Kahn's algorithm could not order.
fn find_cycle(p: &Pipeline, resolved: &[Vec<Resolved>], indegree: &[usize]) -> Vec<String> {
    // Walk upstream from a blocked step; every blocked step has a blocked producer, so the walk
    // must revisit a step, and the path from its first visit is a cycle.
    let Some(start) = (0..indegree.len()).find(|&i| indegree[i] > 0) else {
        return Vec::new();
    };
    let mut path = vec![start];
    let mut cur = start;
    loop {
        let Some(next) = resolved[cur]
            .iter()
            .map(|(_, _, u, _)| *u)
            .find(|&u| indegree[u] > 0)
        else {
            return path.iter().map(|&i| p.steps[i].name.clone()).collect();
        };
        if let Some(k) = path.iter().position(|&i| i == next) {
            let mut cycle: Vec<String> = path[k..]
                .iter()
                .rev()
                .map(|&i| p.steps[i].name.clone())
                .collect();
            // Reversed, the walk upstream reads in data-flow order; close the circle.
            if let Some(first) = cycle.first().cloned() {
                cycle.push(first);
            }
            return cycle;
        }
        path.push(next);
        cur = next;
    }
}

fn collapse(mut errors: Vec<PipelineError>) -> PipelineError {
    if errors.len() == 1 {
        errors.remove(0)
    } else {
        PipelineError::Many(errors)
    }
}
