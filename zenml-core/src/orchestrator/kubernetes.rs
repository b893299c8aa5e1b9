//! Kubernetes, on paper: a pipeline exported as manifests whose containers run the same step
//! entrypoint as every other orchestrator (`<binary> -C <repository> step exec --run RUN --step
//! NAME`), from an image that holds a binary linking the pipeline's steps.
//!
//! - [`KubernetesExport::jobs`]: one `batch/v1` Job per step, for a run recorded beforehand
//!   (`zenml pipeline record CONFIG` prints its name). Plain Jobs have no dependencies: a Job
//!   whose producers have not completed fails without recording anything
//!   ([`RunError::NotReady`](crate::runner::RunError::NotReady)) and Kubernetes starts it again
//!   (its `backoffLimit`), until its producers are done.
//! - [`KubernetesExport::argo`]: one Argo Workflow: a `record` task records the run and prints
//!   its name, and a task per step, depending on `record` and on the steps it reads from, runs
//!   the entrypoint with that name.
//!
//! The pods reach the stores through the repository's `.zenml/config.yaml`, which must be at the
//! repository directory in the container (a ConfigMap or a volume): on a cluster, a MySQL
//! metadata store and a bucket artifact store, whose credentials come from the environment (a
//! Secret). A step's [`Resources`] become the container's requests
//! and limits (`cpu`, `memory`, `nvidia.com/gpu`) and its `activeDeadlineSeconds`.

use std::fmt::Write as _;

use serde_json::{Value as J, json};

use crate::pipeline::{Pipeline, PipelineError, Plan, Resources};

/// Writes a pipeline's Kubernetes manifests (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct KubernetesExport {
    image: String,
    command: Vec<String>,
    repository: String,
    backoff_limit: u32,
}

/// A name Kubernetes accepts (RFC 1123: lowercase letters, digits and `-`, at most 63, starting
/// and ending with a letter or digit): other characters become `-`, and a name cut to length
/// keeps a hash of the whole so that names stay distinct.
fn dns_name(text: &str) -> String {
    let mut name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    let name = name.trim_matches('-');
    if name.len() <= 63 && !name.is_empty() {
        return name.to_owned();
    }
    let hash = format!("{:08x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()) as u32);
    let head = name.get(..54).unwrap_or(name).trim_end_matches('-');
    if head.is_empty() {
        format!("x-{hash}")
    } else {
        format!("{head}-{hash}")
    }
}

/// A container's `resources` for what a step asks for (`None` when it asks for nothing).
fn container_resources(r: &Resources) -> Option<J> {
    let mut requests = serde_json::Map::new();
    let mut limits = serde_json::Map::new();
    if let Some(n) = r.cpus {
        requests.insert("cpu".to_owned(), json!(n.to_string()));
    }
    if let Some(mb) = r.memory_mb {
        let mem = json!(format!("{mb}Mi"));
        requests.insert("memory".to_owned(), mem.clone());
        limits.insert("memory".to_owned(), mem);
    }
    if let Some(n) = r.gpus {
        limits.insert("nvidia.com/gpu".to_owned(), json!(n.to_string()));
    }
    if requests.is_empty() && limits.is_empty() {
        return None;
    }
    let mut out = serde_json::Map::new();
    if !requests.is_empty() {
        out.insert("requests".to_owned(), J::Object(requests));
    }
    if !limits.is_empty() {
        out.insert("limits".to_owned(), J::Object(limits));
    }
    Some(J::Object(out))
}

/// How long a step may take in all: every attempt and the waits between them.
fn deadline_s(r: &Resources) -> Option<u64> {
    let limit = r.time_limit()?;
    let attempts = limit.saturating_mul(r.retries.saturating_add(1));
    let waits = (0..r.retries)
        .map(|k| r.backoff(k))
        .sum::<std::time::Duration>();
    Some(attempts.saturating_add(waits).as_secs().max(1))
}

fn to_yaml(documents: &[J]) -> String {
    let mut out = String::new();
    for d in documents {
        out.push_str("---\n");
        // A `Value` always serializes.
        let _ = write!(out, "{}", serde_norway::to_string(d).unwrap_or_default());
    }
    out
}

impl KubernetesExport {
    /// Manifests whose containers run `image`, with the zenml command line as `zenml` and the
    /// repository (its `.zenml/config.yaml`) at `/zenml`; Jobs are started again up to 10 times.
    pub fn new(image: impl Into<String>) -> Self {
        KubernetesExport {
            image: image.into(),
            command: vec!["zenml".to_owned()],
            repository: "/zenml".to_owned(),
            backoff_limit: 10,
        }
    }

    /// How the container starts the command line: the program and the arguments before the
    /// command line's own (`["/app/my-pipelines"]`, or `["/app/quickstart", "zenml"]`).
    #[must_use]
    pub fn with_command(mut self, command: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.command = command.into_iter().map(Into::into).collect();
        self
    }

    /// Where the repository (the folder holding `.zenml/`) is in the container.
    #[must_use]
    pub fn with_repository_dir(mut self, dir: impl Into<String>) -> Self {
        self.repository = dir.into();
        self
    }

    /// How many times Kubernetes starts a Job again (each start of a step whose producers have
    /// not completed fails and counts).
    #[must_use]
    pub fn with_backoff_limit(mut self, limit: u32) -> Self {
        self.backoff_limit = limit;
        self
    }

    fn labels(pipeline: &Pipeline, step: Option<&str>) -> J {
        let mut labels = json!({
            "app.kubernetes.io/managed-by": "zenml",
            "zenml.io/pipeline": dns_name(pipeline.name()),
        });
        if let Some(step) = step {
            labels["zenml.io/step"] = json!(dns_name(step));
        }
        labels
    }

    fn container(&self, args: Vec<String>, resources: &Resources) -> J {
        let mut container = json!({
            "name": "step",
            "image": self.image,
            "command": [self.command.first().cloned().unwrap_or_default()],
            "args": self.command.iter().skip(1).cloned().chain(args).collect::<Vec<_>>(),
        });
        if let Some(r) = container_resources(resources) {
            container["resources"] = r;
        }
        container
    }

    fn step_args(&self, run: &str, step: &str) -> Vec<String> {
        [
            "-C",
            &self.repository,
            "step",
            "exec",
            "--run",
            run,
            "--step",
            step,
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// One `batch/v1` Job per step of `pipeline`, for its recorded run `run` (multi-document
    /// YAML, in plan order).
    pub fn jobs(&self, pipeline: &Pipeline, run: &str) -> Result<String, PipelineError> {
        let plan = pipeline.validate()?;
        let jobs: Vec<J> = plan
            .steps
            .iter()
            .map(|planned| {
                let node = &pipeline.steps()[planned.index];
                let labels = Self::labels(pipeline, Some(&planned.name));
                let mut spec = json!({
                    "backoffLimit": self.backoff_limit,
                    "template": {
                        "metadata": {"labels": labels.clone()},
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [self.container(
                                self.step_args(run, &planned.name),
                                node.resources(),
                            )],
                        },
                    },
                });
                if let Some(s) = deadline_s(node.resources()) {
                    spec["activeDeadlineSeconds"] = json!(s);
                }
                json!({
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": {
                        "name": dns_name(&format!("{}-{}", pipeline.name(), planned.name)),
                        "labels": labels,
                    },
                    "spec": spec,
                })
            })
            .collect();
        Ok(to_yaml(&jobs))
    }

    /// One Argo Workflow running the whole DAG of `pipeline`: a `record` task records a run of
    /// it (its config travels with the workflow) and prints the run's name; each step is a task
    /// after `record` and the steps it reads from.
    pub fn argo(&self, pipeline: &Pipeline) -> Result<String, PipelineError> {
        let plan: Plan = pipeline.validate()?;
        let config_path = "/tmp/zenml-pipeline.yaml";
        let mut tasks = vec![json!({"name": "record", "template": "record"})];
        let mut templates = vec![json!({
            "name": "record",
            "inputs": {"artifacts": [{
                "name": "config",
                "path": config_path,
                "raw": {"data": pipeline.to_yaml()},
            }]},
            "container": self.container(
                ["-C", &self.repository, "pipeline", "record", config_path]
                    .map(str::to_owned)
                    .to_vec(),
                &Resources::default(),
            ),
        })];
        for planned in &plan.steps {
            let node = &pipeline.steps()[planned.index];
            let task = dns_name(&planned.name);
            let mut dependencies = vec!["record".to_owned()];
            dependencies.extend(
                planned
                    .upstream
                    .iter()
                    .map(|&u| dns_name(&plan.steps[u].name)),
            );
            tasks.push(json!({
                "name": task,
                "template": format!("step-{task}"),
                "dependencies": dependencies,
                "arguments": {"parameters": [{
                    "name": "run",
                    "value": "{{tasks.record.outputs.result}}",
                }]},
            }));
            let mut template = json!({
                "name": format!("step-{task}"),
                "inputs": {"parameters": [{"name": "run"}]},
                "metadata": {"labels": Self::labels(pipeline, Some(&planned.name))},
                "container": self.container(
                    self.step_args("{{inputs.parameters.run}}", &planned.name),
                    node.resources(),
                ),
            });
            if let Some(s) = deadline_s(node.resources()) {
                template["activeDeadlineSeconds"] = json!(s);
            }
            templates.push(template);
        }
        templates.insert(0, json!({"name": "pipeline", "dag": {"tasks": tasks}}));
        let workflow = json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {
                "generateName": format!("{}-", dns_name(pipeline.name())),
                "labels": Self::labels(pipeline, None),
            },
            "spec": {"entrypoint": "pipeline", "templates": templates},
        });
        Ok(to_yaml(&[workflow]))
    }
}

#[cfg(test)]
mod tests {
    use super::dns_name;

    #[test]
    fn names_are_what_kubernetes_accepts() {
        assert_eq!(dns_name("Pipeline A"), "pipeline-a");
        assert_eq!(dns_name("train_model"), "train-model");
        assert_eq!(dns_name("--x__y--"), "x-y");
        let long = dns_name(&"a".repeat(100));
        assert_eq!(long.len(), 63);
        assert_ne!(long, dns_name(&"a".repeat(101)));
        assert!(dns_name("###").starts_with("x-"));
    }
}
