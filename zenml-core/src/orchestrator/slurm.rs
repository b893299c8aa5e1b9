//! Slurm: each step that is not cached becomes an `sbatch` job running the step entrypoint.
//!
//! Submitting a run records it, reuses what is cached right away (those steps get no job), and
//! submits every other step at once, in plan order, each with `--dependency=afterok:<the jobs of
//! the steps it reads from>` and `--kill-on-invalid-dep=yes`: Slurm holds the whole DAG, starts a
//! step when its producers succeeded, and cancels the steps downstream of a failure. Each job
//! runs `<binary> [args] -C <repository> step exec --run <run> --step <step>` in the working
//! directory of the submission, with the submitting environment (`sbatch`'s default
//! `--export=ALL`), so a job finds the binary, the repository's `.zenml/config.yaml` and the store
//! settings there. That needs a file system the nodes share, as Slurm clusters have; the stores
//! themselves may be shared ones (a MySQL metadata store and a bucket).
//!
//! Jobs are named `zenml.<tag>.<step>`, where the tag is recorded with the run as its owner
//! (`orchestrator=slurm tag=<tag>`): any process can find a run's jobs with `squeue` and settle
//! the run ([`settle`](super::settle)), however the submitting process ended. A step whose job
//! ended without recording its end (killed for its time limit, cancelled, or forgotten by Slurm)
//! is marked failed, so that no run stays `running` forever. Job states are read from
//! `squeue -h -t all -o '%i|%j|%T|%r'` text, which is stable across Slurm versions (its JSON is
//! not).
//!
//! A step's [`Resources`](crate::pipeline::Resources) become its job's `--cpus-per-task`,
//! `--mem`, `--gres=gpu:N` and `--time`; every job is `--requeue`d should its node fail, and
//! the step entrypoint tries a failed step again as its resources say.
//!
//! Each job's output goes to `.zenml/slurm/<run id>/<step>-<job id>.out` in the repository.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::pipeline::{Pipeline, Plan};
use crate::runner::{ProgressEvent, RunSummary, Runner, orchestrated};
use crate::store::{ExecutionState, RunRecord, RunStatus};

use super::{
    Orchestrator, OrchestratorError, Steps, done, latest_executions, outcome, report_progress,
    summary_of,
};

/// Runs each step that is not cached as a Slurm job (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct Slurm {
    command: Vec<OsString>,
    repository: PathBuf,
    workdir: Option<PathBuf>,
    partition: Option<String>,
    sbatch_args: Vec<String>,
    detach: bool,
    poll_interval: Duration,
}

/// The state of a Slurm job, as `squeue` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobState {
    /// Waiting for resources or its dependencies.
    Pending,
    /// Running.
    Running,
    /// Ended with exit code 0.
    Completed,
    /// Cancelled (by a user, or because a dependency can never be satisfied).
    Cancelled,
    /// Ended with a non-zero exit code.
    Failed,
    /// Killed at its time limit.
    Timeout,
    /// Killed for using more memory than it asked for.
    OutOfMemory,
    /// Its node failed.
    NodeFail,
    /// Another state (`CONFIGURING`, `COMPLETING`, `SUSPENDED`, `REQUEUED`, `PREEMPTED`, …).
    Other(String),
}

impl JobState {
    /// Reads `squeue`'s `%T` (`PENDING`, `COMPLETED`, …).
    pub fn parse(text: &str) -> JobState {
        match text {
            "PENDING" => JobState::Pending,
            "RUNNING" => JobState::Running,
            "COMPLETED" => JobState::Completed,
            "CANCELLED" => JobState::Cancelled,
            "FAILED" => JobState::Failed,
            "TIMEOUT" => JobState::Timeout,
            "OUT_OF_MEMORY" => JobState::OutOfMemory,
            "NODE_FAIL" => JobState::NodeFail,
            other => JobState::Other(other.to_owned()),
        }
    }

    /// May the job still run (or is it running)?
    pub fn is_active(&self) -> bool {
        match self {
            JobState::Pending | JobState::Running => true,
            JobState::Other(s) => matches!(
                s.as_str(),
                "CONFIGURING"
                    | "COMPLETING"
                    | "SUSPENDED"
                    | "REQUEUED"
                    | "REQUEUE_HOLD"
                    | "REQUEUE_FED"
                    | "RESIZING"
                    | "SIGNALING"
                    | "STAGE_OUT"
                    | "STOPPED"
                    | "RESV_DEL_HOLD"
            ),
            _ => false,
        }
    }
}

/// One job, as `squeue -h -t all -o '%i|%j|%T|%r'` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlurmJob {
    /// The job id.
    pub id: u64,
    /// The job name.
    pub name: String,
    /// The state.
    pub state: JobState,
    /// Why it is in that state (`None`, `Dependency`, `DependencyNeverSatisfied`, …).
    pub reason: String,
}

/// Reads the lines of `squeue -h -t all -o '%i|%j|%T|%r'`; lines of another shape are skipped.
pub fn parse_squeue(text: &str) -> Vec<SlurmJob> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().splitn(4, '|');
            let id = fields.next()?.parse().ok()?;
            let name = fields.next()?.to_owned();
            let state = JobState::parse(fields.next()?);
            let reason = fields.next().unwrap_or("").to_owned();
            Some(SlurmJob {
                id,
                name,
                state,
                reason,
            })
        })
        .collect()
}

/// The tag in a Slurm run's owner details (`tag=<tag>`).
pub(super) fn tag_of(details: &str) -> &str {
    details
        .split(' ')
        .find_map(|f| f.strip_prefix("tag="))
        .unwrap_or("")
}

/// The name of the job of step `step` of the run tagged `tag`.
fn job_name(tag: &str, step: &str) -> String {
    format!("zenml.{tag}.{step}")
}

/// A tag no other run has: this process and this moment.
fn new_tag() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{}-{nanos}", std::process::id());
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(seed.as_bytes()))
}

/// `text` quoted for `sh`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A command as people type it.
fn command_text(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd`, and returns its standard output; a failure names the command.
fn output(cmd: &mut Command) -> Result<String, OrchestratorError> {
    let result = cmd.output();
    let failed = |message: String| OrchestratorError::Command {
        command: command_text(cmd),
        message,
    };
    let out = result.map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        return Err(failed(format!("{} ({})", stderr, out.status)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn utf8(path: &Path) -> Result<&str, OrchestratorError> {
    path.to_str().ok_or_else(|| OrchestratorError::Command {
        command: "sbatch".to_owned(),
        message: format!(
            "{} is not valid UTF-8, and a job's script must name it",
            path.display()
        ),
    })
}

impl Slurm {
    /// Runs steps through `command` (the program that serves the zenml command line, and the
    /// arguments before the command line's own: `["/path/my-binary"]`, or
    /// `["/path/quickstart", "zenml"]`), on the repository whose `.zenml/` is in `repository`.
    /// Jobs run in the current working directory, on the cluster's default partition.
    pub fn new(
        command: impl IntoIterator<Item = impl Into<OsString>>,
        repository: impl Into<PathBuf>,
    ) -> Self {
        Slurm {
            command: command.into_iter().map(Into::into).collect(),
            repository: repository.into(),
            workdir: None,
            partition: None,
            sbatch_args: Vec::new(),
            detach: false,
            poll_interval: Duration::from_secs(2),
        }
    }

    /// Submits to partition `partition`.
    #[must_use]
    pub fn with_partition(mut self, partition: impl Into<String>) -> Self {
        self.partition = Some(partition.into());
        self
    }

    /// Adds arguments to every `sbatch` (`--account=…`, `--qos=…`).
    #[must_use]
    pub fn with_sbatch_args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.sbatch_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Runs the jobs in `dir` (the current working directory by default).
    #[must_use]
    pub fn with_workdir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.workdir = Some(dir.into());
        self
    }

    /// Returns as soon as every job is submitted, instead of following them until they end.
    /// The run stays `running` until [`settle`](super::settle) (or `zenml run show`) finds its
    /// jobs ended.
    #[must_use]
    pub fn detached(mut self, detach: bool) -> Self {
        self.detach = detach;
        self
    }

    /// How often the jobs are looked at while they are followed (every 2 s by default).
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// The script of step `step`'s job.
    fn script(&self, run: &RunRecord, step: &str) -> Result<String, OrchestratorError> {
        let mut words = Vec::with_capacity(self.command.len() + 7);
        for word in &self.command {
            words.push(shell_quote(utf8(Path::new(word))?));
        }
        words.push("-C".to_owned());
        words.push(shell_quote(utf8(&self.repository)?));
        words.extend(["step", "exec", "--run"].map(str::to_owned));
        words.push(shell_quote(&run.name));
        words.push("--step".to_owned());
        words.push(shell_quote(step));
        Ok(format!("exec {}", words.join(" ")))
    }

    /// Submits a job for each step marked in `submit`, in plan order; the job ids by plan index.
    /// Should a submission fail, the jobs submitted before it are cancelled.
    fn submit(
        &self,
        runner: &Runner,
        pipeline: &Pipeline,
        plan: &Plan,
        run: &RunRecord,
        tag: &str,
        submit: &[bool],
    ) -> Result<Vec<Option<u64>>, OrchestratorError> {
        let logs = self
            .repository
            .join(".zenml")
            .join("slurm")
            .join(run.id.to_string());
        std::fs::create_dir_all(&logs).map_err(|e| OrchestratorError::Command {
            command: format!("mkdir -p {}", logs.display()),
            message: e.to_string(),
        })?;
        let workdir = match &self.workdir {
            Some(dir) => dir.clone(),
            None => std::env::current_dir().map_err(|e| OrchestratorError::Command {
                command: "sbatch".to_owned(),
                message: format!("the working directory cannot be read: {e}"),
            })?,
        };
        let mut jobs: Vec<Option<u64>> = vec![None; plan.steps.len()];
        for (k, planned) in plan.steps.iter().enumerate() {
            if !submit[k] {
                continue;
            }
            let deps: Vec<String> = planned
                .upstream
                .iter()
                .filter_map(|&u| jobs[u])
                .map(|j| j.to_string())
                .collect();
            let mut cmd = Command::new("sbatch");
            cmd.arg("--parsable")
                .arg(format!("--job-name={}", job_name(tag, &planned.name)))
                .arg(format!("--chdir={}", utf8(&workdir)?))
                .arg(format!("--output={}/{}-%j.out", utf8(&logs)?, planned.name));
            if let Some(p) = &self.partition {
                cmd.arg(format!("--partition={p}"));
            }
            if !deps.is_empty() {
                cmd.arg(format!("--dependency=afterok:{}", deps.join(":")))
                    .arg("--kill-on-invalid-dep=yes");
            }
            cmd.args(pipeline.steps()[planned.index].resources().sbatch_args())
                .args(&self.sbatch_args)
                .arg(format!("--wrap={}", self.script(run, &planned.name)?));
            let submitted = output(&mut cmd).and_then(|out| {
                // `<id>` or `<id>;<cluster>`.
                let id = out.trim().split(';').next().unwrap_or("");
                id.parse::<u64>().map_err(|_| OrchestratorError::Command {
                    command: command_text(&cmd),
                    message: format!("printed `{}`, not a job id", out.trim()),
                })
            });
            match submitted {
                Ok(id) => {
                    jobs[k] = Some(id);
                    runner
                        .options()
                        .progress
                        .event(&ProgressEvent::StepSubmitted {
                            step: &planned.name,
                            job: &id.to_string(),
                        });
                }
                Err(e) => {
                    let ids: Vec<String> = jobs.iter().flatten().map(u64::to_string).collect();
                    if !ids.is_empty() {
                        let _ = Command::new("scancel").args(&ids).output();
                    }
                    return Err(e);
                }
            }
        }
        Ok(jobs)
    }

    /// The jobs of the steps of the run tagged `tag`, by step name (the newest job of each).
    fn jobs(steps: &Steps, tag: &str) -> Result<HashMap<String, SlurmJob>, OrchestratorError> {
        let names: Vec<String> = steps.names().map(|s| job_name(tag, s)).collect();
        let text = output(
            Command::new("squeue")
                .args(["-h", "-t", "all", "-o", "%i|%j|%T|%r"])
                .arg(format!("--name={}", names.join(","))),
        )?;
        let prefix = job_name(tag, "");
        let mut jobs: HashMap<String, SlurmJob> = HashMap::new();
        for job in parse_squeue(&text) {
            let Some(step) = job.name.strip_prefix(&prefix) else {
                continue;
            };
            if jobs.get(step).is_none_or(|j| j.id < job.id) {
                jobs.insert(step.to_owned(), job);
            }
        }
        Ok(jobs)
    }

    /// Brings a Slurm run's record up to date from its jobs (see [`settle`](super::settle)), and
    /// finishes it when every step has ended; `None` while some job may still run.
    pub(super) fn settle(
        runner: &Runner,
        run: &RunRecord,
        steps: &Steps,
        tag: &str,
    ) -> Result<Option<RunRecord>, OrchestratorError> {
        // Jobs first: an execution read afterwards is at least as new as the job's state.
        let jobs = Self::jobs(steps, tag)?;
        let latest = latest_executions(runner, run)?;
        let mut all_done = true;
        for step in steps.names() {
            let execution = latest.get(step);
            if execution.is_some_and(done) {
                continue;
            }
            all_done = false;
            let job = jobs.get(step);
            if job.is_some_and(|j| j.state.is_active()) {
                return Ok(None);
            }
            // The job ended without the step completing, or Slurm does not know it: an
            // execution it left RUNNING will never end by itself.
            if let Some(e) = execution.filter(|e| e.state == ExecutionState::Running) {
                let why = match job {
                    Some(j) => format!(
                        "Slurm job {} ended {:?} ({}) before the step finished",
                        j.id, j.state, j.reason
                    ),
                    None => "Slurm no longer knows the step's job".to_owned(),
                };
                runner.metadata().fail_execution(e.id, &why, &[], 0)?;
            }
        }
        let status = if all_done {
            RunStatus::Completed
        } else {
            RunStatus::Failed
        };
        Ok(Some(runner.metadata().finish_run(run.id, status)?))
    }
}

impl Orchestrator for Slurm {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn run(&self, runner: &Runner, pipeline: &Pipeline) -> Result<RunSummary, OrchestratorError> {
        let started = Instant::now();
        let tag = new_tag();
        let owner = orchestrated("slurm", &format!("tag={tag}"));
        let (plan, run) = runner.begin(pipeline, &owner)?;
        let fail = |e: OrchestratorError| {
            let _ = runner.metadata().finish_run(run.id, RunStatus::Failed);
            e
        };
        let submit = runner
            .check_cache(pipeline, &plan, &run)
            .map_err(|e| fail(e.into()))?;
        let mut reported: Vec<String> = plan
            .steps
            .iter()
            .zip(&submit)
            .filter(|(_, s)| !**s)
            .map(|(p, _)| p.name.clone())
            .collect();
        if submit.iter().any(|s| *s) {
            self.submit(runner, pipeline, &plan, &run, &tag, &submit)
                .map_err(fail)?;
        } else {
            let run = runner.metadata().finish_run(run.id, RunStatus::Completed)?;
            let summary = summary_of(runner, &plan, run, started.elapsed())?;
            report_progress(runner, &summary, &mut reported);
            return outcome(summary);
        }
        if self.detach {
            return Ok(summary_of(runner, &plan, run, started.elapsed())?);
        }
        let steps = Steps::of_plan(&plan);
        loop {
            let settled = Self::settle(runner, &run, &steps, &tag)?;
            let finished = settled.is_some();
            let record = settled.unwrap_or_else(|| run.clone());
            let summary = summary_of(runner, &plan, record, started.elapsed())?;
            report_progress(runner, &summary, &mut reported);
            if finished {
                return outcome(summary);
            }
            std::thread::sleep(self.poll_interval);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_are_read() {
        let jobs = parse_squeue(
            "2|zenml.ab.train|CANCELLED|DependencyNeverSatisfied\n\
             1|zenml.ab.load|FAILED|NonZeroExitCode\n\
             3|zenml.ab.eval|PENDING|Dependency\n\
             garbage\n",
        );
        assert_eq!(jobs.len(), 3);
        assert_eq!(jobs[0].id, 2);
        assert_eq!(jobs[0].name, "zenml.ab.train");
        assert_eq!(jobs[0].state, JobState::Cancelled);
        assert_eq!(jobs[0].reason, "DependencyNeverSatisfied");
        assert!(!jobs[1].state.is_active());
        assert!(jobs[2].state.is_active());
        assert!(JobState::parse("COMPLETING").is_active());
        assert!(!JobState::parse("PREEMPTED").is_active());
    }

    #[test]
    fn scripts_quote_every_word() {
        let slurm = Slurm::new(["/opt/my bin/app", "zenml"], "/data/it's here");
        let run = RunRecord {
            id: 1,
            name: "Pipeline A#2".to_owned(),
            pipeline_id: 1,
            pipeline_name: "Pipeline A".to_owned(),
            status: RunStatus::Running,
            config: String::new(),
            started_ms: 0,
            finished_ms: None,
        };
        assert_eq!(
            slurm.script(&run, "train").unwrap_or_default(),
            r"exec '/opt/my bin/app' 'zenml' -C '/data/it'\''s here' step exec --run 'Pipeline A#2' --step 'train'"
        );
        assert_eq!(tag_of("tag=00ff other=1"), "00ff");
    }
}
