//! What a step asks of the machine that runs it, and how often it is tried.

use std::time::Duration;

/// What a step asks of the machine that runs it (CPUs, memory, GPUs, a time limit) and how
/// often it is tried again when it fails. Declared per step of a pipeline
/// ([`Pipeline::step_resources`](super::Pipeline::step_resources)) or in its config:
///
/// ```yaml
/// steps:
///   trainer:
///     source: my_crate::MyTrainer@1
///     resources: { cpus: 4, memory_mb: 8192, gpus: 1, time_limit_s: 3600, retries: 2, backoff_ms: 5000 }
/// ```
///
/// Resources are not part of a step's cache key, nor of its pipeline's identity: a pipeline run
/// again with other resources reuses its cached steps.
///
/// Every orchestrator honours the time limit and the retries: a failed attempt (an error, a
/// panic, or the time limit reached) is tried again after `backoff_ms`, doubled for each further
/// attempt, up to `retries` times. In this process, a step that reaches its time limit is
/// failed at once; its code cannot be stopped, so it finishes in the background and what it
/// returns is discarded. Slurm receives them as `--cpus-per-task`, `--mem`, `--gres=gpu:N` and
/// `--time` (covering every attempt), and `--requeue` (a job whose node fails runs again).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "resources: a mapping with any of `cpus`, `memory_mb`, `gpus`, `time_limit_s`, \
                 `retries` and `backoff_ms`"
)]
pub struct Resources {
    /// CPUs (cores) for the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<u32>,
    /// Memory for the step, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// GPUs for the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<u32>,
    /// How long one attempt may take, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_s: Option<u64>,
    /// How many times a failed attempt is tried again (none by default).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// How long to wait before the first retry, in milliseconds (1000 by default); each further
    /// retry waits twice as long as the one before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_ms: Option<u64>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The wait before the first retry when none is given.
const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);

impl Resources {
    /// Nothing asked for, no retries.
    pub fn is_default(&self) -> bool {
        *self == Resources::default()
    }

    /// Asks for `n` CPUs.
    #[must_use]
    pub fn with_cpus(mut self, n: u32) -> Self {
        self.cpus = Some(n);
        self
    }

    /// Asks for `mb` MiB of memory.
    #[must_use]
    pub fn with_memory_mb(mut self, mb: u64) -> Self {
        self.memory_mb = Some(mb);
        self
    }

    /// Asks for `n` GPUs.
    #[must_use]
    pub fn with_gpus(mut self, n: u32) -> Self {
        self.gpus = Some(n);
        self
    }

    /// Limits each attempt to `limit` (whole seconds, rounded up).
    #[must_use]
    pub fn with_time_limit(mut self, limit: Duration) -> Self {
        self.time_limit_s = Some(limit.as_secs() + u64::from(limit.subsec_nanos() > 0));
        self
    }

    /// Tries a failed step again up to `retries` times, waiting `backoff` before the first
    /// retry and twice as long before each further one.
    #[must_use]
    pub fn with_retries(mut self, retries: u32, backoff: Duration) -> Self {
        self.retries = retries;
        self.backoff_ms = Some(u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// How long one attempt may take.
    pub fn time_limit(&self) -> Option<Duration> {
        self.time_limit_s.map(Duration::from_secs)
    }

    /// The wait before retry `retry` (from 0).
    pub fn backoff(&self, retry: u32) -> Duration {
        let first = self
            .backoff_ms
            .map_or(DEFAULT_BACKOFF, Duration::from_millis);
        first.saturating_mul(2u32.saturating_pow(retry.min(31)))
    }

    /// The `sbatch` arguments that ask Slurm for these resources. The job's time limit covers
    /// every attempt and the waits between them, in whole minutes.
    pub fn sbatch_args(&self) -> Vec<String> {
        let mut args = vec!["--requeue".to_owned()];
        if let Some(n) = self.cpus {
            args.push(format!("--cpus-per-task={n}"));
        }
        if let Some(mb) = self.memory_mb {
            args.push(format!("--mem={mb}M"));
        }
        if let Some(n) = self.gpus {
            args.push(format!("--gres=gpu:{n}"));
        }
        if let Some(limit) = self.time_limit() {
            let attempts = limit.saturating_mul(self.retries.saturating_add(1));
            let waits =
                (0..self.retries).fold(Duration::ZERO, |t, r| t.saturating_add(self.backoff(r)));
            let total = attempts.saturating_add(waits).as_secs();
            args.push(format!("--time={}", total.div_ceil(60).max(1)));
        }
        args
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_is_asked_for_what_is_declared() {
        assert_eq!(Resources::default().sbatch_args(), ["--requeue"]);
        let r = Resources::default()
            .with_cpus(4)
            .with_memory_mb(2048)
            .with_gpus(1)
            .with_time_limit(Duration::from_secs(90))
            .with_retries(2, Duration::from_secs(30));
        // Three attempts of 90 s and waits of 30 s and 60 s: 6 min.
        assert_eq!(
            r.sbatch_args(),
            [
                "--requeue",
                "--cpus-per-task=4",
                "--mem=2048M",
                "--gres=gpu:1",
                "--time=6"
            ]
        );
        assert_eq!(r.backoff(0), Duration::from_secs(30));
        assert_eq!(r.backoff(2), Duration::from_secs(120));
        assert_eq!(Resources::default().backoff(1), Duration::from_secs(2));
    }
}
