//! Who runs a run, and whether that process is still alive.
//!
//! A run is recorded with its owner: the host, the host's boot, the process id and the process's
//! start time (`host=… boot=… pid=… start=…`). While it runs, the process also beats: it records
//! the time every [`HEARTBEAT_INTERVAL`] (see [`MetadataStore::heartbeat`]). A later process
//! judges a run whose status is still `running`:
//!
//! - on the same host, in the same boot, by asking the operating system whether that process
//!   (the same id, started at the same time, so a reused id is not mistaken for it) is alive;
//! - on the same host after a restart: its process is gone;
//! - anywhere else (another machine sharing the store), by its heartbeat: a run that has not
//!   beaten for [`LEASE`] is taken for dead. A live process beats far more often than that.
//!
//! [`MetadataStore::heartbeat`]: crate::store::MetadataStore::heartbeat

use std::sync::OnceLock;
use std::time::Duration;

/// How often a running process records that it is alive.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);

/// How long a run on another host may go without a heartbeat before it is taken for dead.
pub const LEASE: Duration = Duration::from_secs(10 * 60);

/// A process's identity, as recorded with the runs it owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    host: String,
    /// The boot's id (empty when unknown).
    boot: String,
    pid: u32,
    /// The process's start time, in clock ticks since boot (0 when unknown).
    start: u64,
}

impl Owner {
    /// This process.
    pub(crate) fn current() -> &'static Owner {
        static CURRENT: OnceLock<Owner> = OnceLock::new();
        CURRENT.get_or_init(|| {
            let pid = std::process::id();
            Owner {
                host: host_name(),
                boot: read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_default(),
                pid,
                start: process_start(pid).map_or(0, |(start, _)| start),
            }
        })
    }

    /// The text recorded with a run.
    pub(crate) fn to_record(&self) -> String {
        format!(
            "host={} boot={} pid={} start={}",
            self.host, self.boot, self.pid, self.start
        )
    }

    /// Reads [`Owner::to_record`]'s text (`None` for anything else, such as the empty owner of
    /// a run recorded before owners were).
    pub(crate) fn parse(text: &str) -> Option<Owner> {
        let (mut host, mut boot, mut pid, mut start) = (None, None, None, None);
        for field in text.split(' ') {
            match field.split_once('=')? {
                ("host", v) => host = Some(v.to_owned()),
                ("boot", v) => boot = Some(v.to_owned()),
                ("pid", v) => pid = v.parse().ok(),
                ("start", v) => start = v.parse().ok(),
                _ => {}
            }
        }
        Some(Owner {
            host: host?,
            boot: boot?,
            pid: pid?,
            start: start?,
        })
    }
}

/// Is the process that owns a run alive?
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// Alive, or not known to be gone.
    Alive,
    /// Gone, and why we know.
    Gone(String),
}

/// The owner recorded with a run that an orchestrator follows instead of a process of this
/// framework: `orchestrator=<name> <what it needs to find the run's jobs>`.
pub(crate) fn orchestrated(name: &str, details: &str) -> String {
    format!("orchestrator={name} {details}")
}

/// The orchestrator and its details, for an owner recorded by [`orchestrated`].
pub(crate) fn orchestrator_of(owner: &str) -> Option<(&str, &str)> {
    let rest = owner.strip_prefix("orchestrator=")?;
    Some(rest.split_once(' ').unwrap_or((rest, "")))
}

/// Judges the owner of a run whose last heartbeat was at `heartbeat_ms`, at `now_ms` (see the
/// [module docs](self)). A run an orchestrator follows is alive: the orchestrator settles it
/// (see [`crate::orchestrator::settle`]).
pub(crate) fn judge(owner: &str, heartbeat_ms: i64, now_ms: i64) -> Liveness {
    if orchestrator_of(owner).is_some() {
        return Liveness::Alive;
    }
    let me = Owner::current();
    if let Some(o) = Owner::parse(owner)
        && o.host == me.host
        && !o.boot.is_empty()
        && !me.boot.is_empty()
    {
        if o.boot != me.boot {
            return Liveness::Gone(format!(
                "its process ({}) ran before {} restarted",
                o.pid, o.host
            ));
        }
        if me.start != 0 {
            return match process_start(o.pid) {
                Some((start, alive)) if start == o.start && alive => Liveness::Alive,
                _ => Liveness::Gone(format!("its process ({}) on {} has ended", o.pid, o.host)),
            };
        }
    }
    let silent = Duration::from_millis(u64::try_from(now_ms - heartbeat_ms).unwrap_or(0));
    if silent > LEASE {
        Liveness::Gone(format!(
            "its process has not reported for {} min",
            silent.as_secs() / 60
        ))
    } else {
        Liveness::Alive
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// This machine's name, without spaces (it is one field of an owner's record).
fn host_name() -> String {
    read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| read_trimmed("/etc/hostname"))
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
        .replace([' ', '='], "_")
}

/// The start time (clock ticks since boot) of process `pid`, and whether it is still running
/// (not a zombie waiting to be reaped), from `/proc`; `None` when there is no such process or
/// no `/proc` to ask.
fn process_start(pid: u32) -> Option<(u64, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`: the command may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = *fields.first()?;
    // Field 22 of the file is the start time; `fields` begins at field 3.
    let start = fields.get(19)?.parse().ok()?;
    Some((start, !matches!(state, "Z" | "X" | "x")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_owner_round_trips_through_its_record() {
        let me = Owner::current();
        assert_eq!(Owner::parse(&me.to_record()).as_ref(), Some(me));
        assert_eq!(Owner::parse(""), None);
        assert_eq!(Owner::parse("host=a boot=b pid=x start=1"), None);
    }

    #[test]
    fn this_process_is_alive() {
        let me = Owner::current();
        assert_eq!(judge(&me.to_record(), 0, i64::MAX / 2), Liveness::Alive);
    }

    #[test]
    fn an_unknown_owner_is_judged_by_its_heartbeat() {
        let lease = i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX);
        assert_eq!(judge("", 1_000, 1_000 + lease), Liveness::Alive);
        assert!(matches!(judge("", 1_000, 2_000 + lease), Liveness::Gone(_)));
        let elsewhere = "host=elsewhere-0 boot=1 pid=1 start=1";
        assert_eq!(judge(elsewhere, 5_000, 6_000), Liveness::Alive);
        assert!(matches!(
            judge(elsewhere, 5_000, 6_000 + lease),
            Liveness::Gone(_)
        ));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_of_this_host_that_ended_or_was_replaced_is_gone() {
        let me = Owner::current();
        assert!(me.start != 0 && !me.boot.is_empty(), "{me:?}");
        // The same process id with another start time: the id was reused.
        let reused = Owner {
            start: me.start + 1,
            ..me.clone()
        };
        assert!(matches!(
            judge(&reused.to_record(), 0, 0),
            Liveness::Gone(_)
        ));
        let rebooted = Owner {
            boot: format!("{}-before", me.boot),
            ..me.clone()
        };
        assert!(matches!(
            judge(&rebooted.to_record(), 0, 0),
            Liveness::Gone(m) if m.contains("restarted")
        ));
    }
}
