//! Faults injected from outside, as bad luck or a careless user would: processes started at the
//! same moment in a folder without a repository, two definitions racing for one name, processes
//! killed at random moments, stored artifacts altered behind the store's back, a metadata
//! database deleted, emptied or damaged, a read-only repository, a full disk, and inputs that ML
//! Metadata would misread. Each case checks what the user must see, through the quickstart's
//! binary (which serves the whole CLI as `quickstart zenml …`) and the library.
//!
//! Processes that must run at the same moment wait at a gate (a pipe they all read one line
//! from) until every one is started. Cases that need the ML Metadata reader, or mounts of their
//! own (a read-only or a full file system, made in a private mount namespace with `unshare`, as
//! root), skip with a printed reason without them, and fail when `CI` is set.
#![cfg(all(unix, feature = "cli"))]

mod common;
#[path = "common/disk.rs"]
mod disk;
#[path = "common/process.rs"]
mod process;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::*;
use disk::*;
use process::*;
use zenml::Repository;
use zenml::artifact::io::ContentStore;
use zenml::prelude::*;
use zenml::store::{ArtifactRecord, ExecutionState, RunStatus};
use zenml_core::store::conformance::skip;

/// Every recorded artifact of the repository at `root` (read-only).
fn artifacts(root: &Path) -> Vec<ArtifactRecord> {
    let repo = Repository::open_read_only(root).expect("open the repository");
    repo.metadata_store()
        .artifacts(0, 1_000_000)
        .expect("the artifacts")
}

/// The run names of the repository at `root`, and their statuses.
fn runs(root: &Path) -> Vec<(String, RunStatus)> {
    let repo = Repository::open_read_only(root).expect("open the repository");
    repo.get_runs(None)
        .expect("the runs")
        .into_iter()
        .map(|r| (r.name, r.status))
        .collect()
}

/// Reads the store of `root` with Google's ML Metadata library, or skips the check (failing
/// under CI).
fn ml_metadata_reads(test: &str, root: &Path) -> Option<serde_json::Value> {
    match mlmd_reader() {
        Ok(reader) => Some(mlmd_read(&reader, &root.join(".zenml/metadata.db"))),
        Err(why) => {
            skip(test, &why);
            None
        }
    }
}

/// Flips one byte of the file at `path` and puts its modification time back, as bit rot would.
fn rot(path: &Path) {
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("the file's modification time");
    let mut bytes = std::fs::read(path).expect("the file's bytes");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    let mut file = std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open the file");
    std::io::Write::write_all(&mut file, &bytes).expect("alter the file in place");
    file.set_modified(mtime)
        .expect("put the modification time back");
}

/// The object files of the local artifact store at `root`.
fn object_files(root: &Path) -> Vec<PathBuf> {
    let store = root.join(".zenml/artifacts");
    let mut files = Vec::new();
    for fan in std::fs::read_dir(&store).expect("the artifact folder") {
        let fan = fan.expect("an entry").path();
        let name = fan.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || !fan.is_dir() {
            continue;
        }
        for object in std::fs::read_dir(&fan).expect("a fan-out folder") {
            files.push(object.expect("an entry").path());
        }
    }
    files.sort();
    files
}

// ---------------------------------------------------------------------------------------------
// Concurrent first use

#[test]
fn sixteen_processes_run_the_quickstart_at_once_in_a_fresh_folder() {
    const PROCESSES: usize = 16;
    const ROUNDS: usize = 5;
    for round in 0..ROUNDS {
        let ws = workspace();
        let dir = ws.path();
        let gate = Gate::hold(
            (0..PROCESSES)
                .map(|_| quickstart_command(dir, &[]))
                .collect(),
        );
        let outs = gate.open();
        for (i, out) in outs.iter().enumerate() {
            assert_eq!(
                out.code,
                Some(0),
                "round {round}, process {i} failed: {out:#?}"
            );
        }
        // Exactly one config, nothing half-made beside it.
        let zdir = dir.join(".zenml");
        let entries: BTreeSet<String> = std::fs::read_dir(&zdir)
            .expect(".zenml")
            .map(|e| {
                e.expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|n| !n.starts_with("metadata.db-"))
            .collect();
        assert_eq!(
            entries,
            ["artifacts", "config.yaml", "metadata.db"]
                .into_iter()
                .map(String::from)
                .collect(),
            "round {round}"
        );
        // Every run is recorded once, numbered without gaps, and completed.
        let recorded = runs(dir);
        let expected: BTreeSet<String> = ["Pipeline A", "Pipeline B"]
            .iter()
            .flat_map(|p| (1..=PROCESSES).map(move |n| format!("{p}#{n}")))
            .collect();
        let names: BTreeSet<String> = recorded.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names, expected, "round {round}");
        assert!(
            recorded.iter().all(|(_, s)| *s == RunStatus::Completed),
            "round {round}: {recorded:?}"
        );
        if let Some(json) = ml_metadata_reads("sixteen_processes_run_the_quickstart_at_once", dir) {
            let contexts = json["contexts"].as_array().expect("contexts").len();
            assert_eq!(
                contexts,
                2 + 2 * PROCESSES,
                "round {round}: pipelines and runs"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Two definitions, one new name

#[test]
fn two_processes_starting_different_definitions_under_one_new_name_exactly_one_wins() {
    const ROUNDS: usize = 20;
    for round in 0..ROUNDS {
        let ws = workspace();
        let dir = ws.path();
        zenml(dir, &["init"]).ok();
        std::fs::write(dir.join("a.yaml"), iris_config("Raced", 0.5)).expect("a.yaml");
        std::fs::write(dir.join("b.yaml"), iris_config("Raced", 2.0)).expect("b.yaml");
        let gate = Gate::hold(vec![
            quickstart_command(dir, &["zenml", "pipeline", "run", "a.yaml", "--quiet"]),
            quickstart_command(dir, &["zenml", "pipeline", "run", "b.yaml", "--quiet"]),
        ]);
        let outs = gate.open();
        let won: Vec<usize> = (0..2).filter(|&i| outs[i].code == Some(0)).collect();
        assert_eq!(won.len(), 1, "round {round}: exactly one wins: {outs:#?}");
        let lost = &outs[1 - won[0]];
        assert!(
            lost.one_error().contains(
                "pipeline `Raced` has already run with another definition, and a pipeline that \
                 has run is immutable: run a copy under a new name"
            ),
            "round {round}: {lost:#?}"
        );
        // The recorded definition is the winner's, and only the winner ran.
        let repo = Repository::open_read_only(dir).expect("open");
        let recorded = repo
            .metadata_store()
            .pipeline_by_name("Raced")
            .expect("read")
            .expect("recorded");
        let winner_alpha = if won[0] == 0 {
            "alpha: 0.5"
        } else {
            "alpha: 2.0"
        };
        assert!(
            recorded.config.contains(winner_alpha),
            "round {round}: {}",
            recorded.config
        );
        assert_eq!(runs(dir), [("Raced#1".to_owned(), RunStatus::Completed)]);
    }
}

// ---------------------------------------------------------------------------------------------
// Killed at random moments

/// A small xorshift generator: reproducible from its printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Checks what must hold after any crash: no execution or run is left running once a sweep
/// ran, every COMPLETE execution's outputs are stored and intact, every CACHED execution reused
/// a COMPLETE one.
fn assert_consistent(root: &Path) {
    let repo = Repository::open_read_only(root).expect("open");
    let md = repo.metadata_store();
    let content = ContentStore::new(repo.artifact_store().as_ref());
    for run in md.runs(None).expect("runs") {
        assert_ne!(
            run.status,
            RunStatus::Running,
            "{} is left running",
            run.name
        );
        for e in md.executions(run.id).expect("executions") {
            match e.state {
                ExecutionState::Complete => {
                    assert!(!e.outputs.is_empty(), "execution {} has outputs", e.id);
                    for (name, id) in &e.outputs {
                        let record = md.artifact(*id).expect("the output's record");
                        content.verify(&record).unwrap_or_else(|err| {
                            panic!("output `{name}` of COMPLETE execution {}: {err}", e.id)
                        });
                    }
                }
                ExecutionState::Cached => {
                    let from = md
                        .execution(e.cached_from.expect("a cached execution names its source"))
                        .expect("the reused execution");
                    assert_eq!(from.state, ExecutionState::Complete);
                }
                ExecutionState::Failed => {}
                other => panic!("execution {} of {} is {other}", e.id, run.name),
            }
        }
    }
}

#[test]
fn killed_at_random_moments_the_store_stays_consistent_and_a_rerun_is_fully_cached() {
    const KILLS: usize = 100;
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    println!("kill moments from seed {seed}");
    let mut rng = Rng(seed);
    let ws = workspace();
    let dir = ws.path();
    zenml(dir, &["init"]).ok();
    std::fs::write(dir.join("iris.yaml"), iris_config("Killed", 1.0)).expect("iris.yaml");
    // How long a whole run takes here: kills are spread over that span and a little beyond.
    let started = std::time::Instant::now();
    zenml(
        dir,
        &["pipeline", "run", "iris.yaml", "--quiet", "--no-cache"],
    )
    .ok();
    let span = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX) * 6 / 5 + 1;
    println!("a whole run takes about {span} ms");
    let mut finished = 0;
    for i in 0..KILLS {
        // Without the cache every step executes, so that most kills land inside a step; every
        // fourth run may reuse what earlier ones completed.
        let mut args = vec!["zenml", "pipeline", "run", "iris.yaml", "--quiet"];
        if i % 4 != 0 {
            args.push("--no-cache");
        }
        let mut child = quickstart_command(dir, &args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the binary starts");
        // Fault injection: the moment is random on purpose.
        std::thread::sleep(Duration::from_millis(rng.below(span)));
        let _ = child.kill();
        let status = child.wait().expect("the process ends");
        if status.success() {
            finished += 1;
        }
    }
    println!("{finished} of {KILLS} runs finished before their kill");

    // What the dead left behind is closed by the next command that runs, or by `zenml repair`.
    let repair = zenml(dir, &["repair"]).ok();
    let closed = repair.stdout.matches("as interrupted").count();
    assert!(
        runs(dir).iter().all(|(_, s)| *s != RunStatus::Running),
        "{}",
        repair.stdout
    );
    println!("`zenml repair` closed {closed} run(s)");
    let interrupted = runs(dir)
        .iter()
        .filter(|(_, s)| *s == RunStatus::Interrupted)
        .count();
    println!("{interrupted} run(s) were interrupted in all");
    assert!(
        interrupted > 0,
        "kills inside runs leave runs that a later process closes as interrupted"
    );
    assert_consistent(dir);
    ml_metadata_reads("killed_at_random_moments", dir);

    // The pipeline completes, then reruns fully cached.
    zenml(dir, &["pipeline", "run", "iris.yaml", "--quiet"]).ok();
    let again = zenml(dir, &["pipeline", "run", "iris.yaml", "--json"]).ok();
    assert_eq!(step_states(&again), ["cached"; 5], "{again:#?}");
    assert_consistent(dir);

    // Staged bytes of killed writers are removed once older than the grace period; what a live
    // writer is writing (recent) is left alone.
    let staging = dir.join(".zenml/artifacts/.staging");
    std::fs::create_dir_all(&staging).expect("the staging area");
    std::fs::write(
        staging.join("0123456789abcdef-1-0"),
        b"a dead writer's bytes",
    )
    .expect("a staged file");
    let left: Vec<PathBuf> = std::fs::read_dir(&staging)
        .map(|d| d.map(|e| e.expect("an entry").path()).collect())
        .unwrap_or_default();
    let old = SystemTime::now() - Duration::from_secs(2 * 60 * 60);
    for f in &left {
        std::fs::File::options()
            .write(true)
            .open(f)
            .and_then(|f| f.set_modified(old))
            .expect("age a staged file");
    }
    let live = staging.join("fedcba9876543210-2-0");
    std::fs::write(&live, b"a live writer's bytes").expect("a fresh staged file");
    let repair = zenml(dir, &["repair"]).ok();
    assert!(
        repair.stdout.contains(&format!(
            "Removed {} stale file(s) from the artifact store's staging area.",
            left.len()
        )),
        "{repair:#?}"
    );
    let remaining: Vec<PathBuf> = std::fs::read_dir(&staging)
        .map(|d| d.map(|e| e.expect("an entry").path()).collect())
        .unwrap_or_default();
    assert_eq!(remaining, [live], "only the live writer's file is left");
}

#[cfg(target_os = "linux")]
#[test]
fn a_run_whose_process_is_gone_is_closed_by_the_next_run_and_a_live_one_is_left_alone() {
    let r = DiskRepo::new();
    let next = Pipeline::new("next").add_step(
        "nap",
        Sleep {
            label: "nap".into(),
            ms: 0,
        },
        [],
    );
    let md = r.repo.metadata_store();
    let record = md
        .register_pipeline("mine", "version: 1\nname: mine\n")
        .expect("register");
    // A run on another machine that beat just now: alive as far as anyone here can tell.
    let alive = md
        .begin_run(record.id, "", "host=elsewhere boot=b pid=7 start=7")
        .expect("begin a run of another machine");
    // A run whose process is gone: its owner is a process of this host that has ended.
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("start a process");
    let gone_pid = child.id();
    child.wait().expect("it ends");
    let owner_of_gone = {
        // The same host and boot as this process, the pid of a process that ended.
        let me = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|b| b.trim().to_owned())
            .unwrap_or_default();
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        format!("host={host} boot={me} pid={gone_pid} start=1")
    };
    let dead = md
        .begin_run(record.id, "", &owner_of_gone)
        .expect("begin a run of a gone process");

    let summary = r.repo.run(&next).expect("the next run");
    assert_eq!(summary.run.status, RunStatus::Completed);
    let status = |id| md.run(id).expect("the run").status;
    assert_eq!(status(dead.id), RunStatus::Interrupted);
    assert_eq!(
        status(alive.id),
        RunStatus::Running,
        "a run whose process may be alive elsewhere is left alone"
    );
}

// ---------------------------------------------------------------------------------------------
// Tampering

#[test]
fn altered_deleted_and_replaced_objects_are_reported_by_name_and_recomputed() {
    let ws = workspace();
    let dir = ws.path();
    run_quickstart(dir).ok();
    let objects = object_files(dir);
    let recorded = artifacts(dir);
    assert!(objects.len() >= 8, "{objects:?}");

    // Bit rot in every object: the quick check cannot see it...
    for f in &objects {
        rot(f);
    }
    let quick = run_quickstart(dir).ok();
    assert!(!quick.stderr.contains("warning"), "{}", quick.stderr);
    // ...a scrub finds every one, naming each artifact and its step...
    let verify = zenml(dir, &["artifact", "verify"]);
    let error = verify.one_error().to_owned();
    assert!(error.contains("damaged artifact(s)"), "{error}");
    for a in &recorded {
        assert!(
            verify
                .stdout
                .contains(&format!("artifact {}, output `", a.id)),
            "artifact {} is named: {}",
            a.id,
            verify.stdout
        );
    }
    assert_eq!(
        verify.stdout.matches("its bytes were altered").count(),
        recorded.len(),
        "{}",
        verify.stdout
    );
    // ...and with full verification no damaged output is ever a cache hit: every step is
    // computed again, each repair reported.
    zenml(dir, &["config", "cache", "verify", "full"]).ok();
    let full = run_quickstart(dir).ok();
    assert_eq!(
        full.stderr.matches("warning: ").count(),
        objects.len(),
        "one report per damaged object: {}",
        full.stderr
    );
    assert!(full.stderr.contains("computed it again"), "{}", full.stderr);
    assert!(
        full.stderr.contains("Run `Pipeline A#3` completed")
            && full.stderr.contains("5 ran, 0 cached"),
        "{}",
        full.stderr
    );
    zenml(dir, &["artifact", "verify"]).ok();
    zenml(dir, &["config", "cache", "verify", "quick"]).ok();

    // Rot in the preprocesser's output, read by a trainer with a new parameter: detected on
    // read, reported, the preprocesser computed again in the same run.
    let repo = Repository::open_read_only(dir).expect("open");
    let last_a = repo.get_run("Pipeline A#3").expect("the run");
    let steps = repo.get_run_steps(&last_a).expect("its steps");
    let train_id = steps
        .iter()
        .find(|e| e.step_name == "preprocesser")
        .and_then(|e| e.outputs.iter().find(|(n, _)| n == "train"))
        .map(|(_, id)| *id)
        .expect("the preprocesser's train output");
    let train = repo.get_artifact(train_id).expect("its record");
    drop(repo);
    rot(&artifact_file(dir, &train));
    std::fs::write(dir.join("c.yaml"), iris_config("Pipeline C", 0.25)).expect("c.yaml");
    let c = zenml(dir, &["pipeline", "run", "c.yaml"]).ok();
    assert!(
        c.stderr.contains(&format!(
            "warning: artifact {} (output `train` of step `preprocesser`)",
            train.id
        )) && c.stderr.contains("its bytes were altered")
            && c.stderr.contains("step `preprocesser` computed it again"),
        "{}",
        c.stderr
    );

    // A truncated object, a deleted one, a folder where one should be: each reported and
    // recomputed; what was moved aside is kept.
    let repo = Repository::open_read_only(dir).expect("open");
    let c1 = repo.get_run("Pipeline C#1").expect("the run");
    let model_id = repo
        .get_run_steps(&c1)
        .expect("its steps")
        .iter()
        .find(|e| e.step_name == "trainer")
        .and_then(|e| e.outputs.first().map(|(_, id)| *id))
        .expect("the trainer's model");
    let model = repo.get_artifact(model_id).expect("its record");
    drop(repo);
    let model_file = artifact_file(dir, &model);
    type Damage<'a> = &'a dyn Fn(&Path);
    let cases: [(&str, Damage<'_>); 3] = [
        ("stored object has", &|p: &Path| {
            let len = std::fs::metadata(p).expect("stat").len();
            std::fs::File::options()
                .write(true)
                .open(p)
                .and_then(|f| f.set_len(len / 2))
                .expect("truncate");
        }),
        ("missing from the artifact store", &|p: &Path| {
            std::fs::remove_file(p).expect("delete")
        }),
        ("a folder stands where its bytes should be", &|p: &Path| {
            std::fs::remove_file(p).expect("delete");
            std::fs::create_dir(p).expect("a folder in its place");
        }),
    ];
    for (what, damage) in cases {
        damage(&model_file);
        let out = zenml(dir, &["pipeline", "run", "c.yaml"]).ok();
        assert!(
            out.stderr.contains("warning: artifact") && out.stderr.contains(what),
            "{what}: {}",
            out.stderr
        );
        assert!(
            std::fs::metadata(&model_file).is_ok_and(|m| m.is_file()),
            "{what}: the model is stored again"
        );
    }
    let aside = dir.join(".zenml/artifacts/.damaged");
    assert_eq!(
        std::fs::read_dir(&aside).map_or(0, |d| d.count()),
        1,
        "the folder was moved aside, not deleted"
    );
    zenml(dir, &["artifact", "verify"]).ok();
}

// ---------------------------------------------------------------------------------------------
// A metadata database deleted, emptied or damaged

#[test]
fn a_lost_metadata_database_is_refused_with_the_command_that_starts_afresh() {
    let ws = workspace();
    let dir = ws.path();
    run_quickstart(dir).ok();
    let root = std::fs::canonicalize(dir).expect("canonical");
    let db = root.join(".zenml/metadata.db");
    let saved = std::fs::read(&db).expect("the database");
    let command = format!("`zenml init --new-metadata-store {}`", root.display());

    let cases: [(&str, &dyn Fn(), &str); 3] = [
        (
            "deleted",
            &|| std::fs::remove_file(&db).expect("delete"),
            "does not exist (its database was deleted or moved)",
        ),
        (
            "truncated",
            &|| std::fs::write(&db, b"").expect("truncate"),
            "is empty (its database holds no store: it was emptied, or never made one)",
        ),
        (
            "damaged",
            &|| std::fs::write(&db, b"these bytes are no database at all").expect("damage"),
            "is damaged: the file is not a SQLite database",
        ),
    ];
    for (what, damage, says) in cases {
        damage();
        let before = std::fs::read(&db).ok();
        for out in [zenml(dir, &["run", "list"]), run_quickstart(dir)] {
            let line = out.one_error();
            assert!(line.contains(says), "{what}: {line}");
            assert!(line.contains(&command), "{what}: {line}");
            assert!(line.contains("runs, lineage and cache"), "{what}: {line}");
        }
        assert_eq!(
            std::fs::read(&db).ok(),
            before,
            "{what}: nothing was created or changed"
        );
        std::fs::write(&db, &saved).expect("restore the database");
        assert_eq!(runs(dir).len(), 2, "{what}: restored, the history is back");
    }

    // Starting afresh is deliberate: a store that holds a history is never replaced...
    let refused = zenml(dir, &["init", "--new-metadata-store"]);
    assert!(refused.one_error().contains("exists and holds its history"));
    // ...a missing one is.
    std::fs::remove_file(&db).expect("delete");
    zenml(dir, &["init", "--new-metadata-store"]).ok();
    run_quickstart(dir).ok();
    let names: Vec<String> = runs(dir).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["Pipeline A#1", "Pipeline B#1"]);
}

// ---------------------------------------------------------------------------------------------
// Read-only repositories and full disks

#[test]
fn a_read_only_repository_can_be_listed_and_inspected_but_not_run() {
    let ws = workspace();
    let dir = std::fs::canonicalize(ws.path()).expect("canonical");
    run_quickstart(&dir).ok();
    let q = quickstart();
    let (d, q) = (dir.display(), q.display());
    let commands = [
        "run list",
        "run show 'Pipeline A#1'",
        "pipeline list",
        "pipeline get 'Pipeline B'",
        "pipeline compare",
        "artifact show 1",
        "artifact lineage 1",
        "step versions quickstart::LogisticTrainer",
        "config show",
        "artifact verify",
    ];
    let checks: String = commands
        .iter()
        .map(|c| {
            format!(
                "err=$('{q}' zenml {c} 2>&1 > /dev/null) || {{ echo 'FAILED: {c}'; echo \"$err\"; }}\n"
            )
        })
        .collect();
    let script = format!(
        "mount --bind '{d}' '{d}' && mount -o remount,bind,ro '{d}' || exit 99\n\
         cd '{d}'\n\
         touch written 2> /dev/null && echo 'FAILED: the repository is writable'\n\
         {checks}\
         '{q}' 2>&1 | tail -1"
    );
    let out = match in_private_mounts(&script) {
        Ok(out) if out.code == Some(99) => {
            skip(
                "a_read_only_repository",
                &format!("cannot mount: {}", out.stderr),
            );
            return;
        }
        Ok(out) => out,
        Err(why) => {
            skip("a_read_only_repository", &why);
            return;
        }
    };
    assert!(!out.stdout.contains("FAILED"), "{out:#?}");
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: metadata store sqlite:")
            && last.contains("is read-only: its folder")
            && last.contains("read-only file system")
            && last.contains("commands that only read"),
        "{out:#?}"
    );
}

#[test]
fn a_full_disk_is_named_as_such_and_loses_nothing() {
    let ws = workspace();
    let q = quickstart();
    let mnt = ws.path().join("small");
    std::fs::create_dir(&mnt).expect("a mount point");
    let iris = iris_path();
    let (m, q) = (mnt.display(), q.display());
    let script = format!(
        "mount -t tmpfs -o size=3m tmpfs '{m}' || exit 99
         mkdir -p '{m}/examples/data' && cp '{iris}' '{m}/examples/data/' && cd '{m}'
         '{q}' > /dev/null 2>&1 || {{ echo 'the first run failed'; exit 1; }}
         '{q}' zenml run list | tail -n +2 | wc -l
         dd if=/dev/zero of='{m}/fill' bs=4k > /dev/null 2>&1
         '{q}' 2>&1 | tail -1
         '{q}' zenml run list | tail -n +2 | wc -l
         rm '{m}/fill'
         '{q}' > /dev/null 2>&1 && '{q}' zenml run list | tail -n +2 | wc -l"
    );
    let out = match in_private_mounts(&script) {
        Ok(out) if out.code == Some(99) => {
            skip("a_full_disk", &format!("cannot mount: {}", out.stderr));
            return;
        }
        Ok(out) => out,
        Err(why) => {
            skip("a_full_disk", &why);
            return;
        }
    };
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{out:#?}");
    assert_eq!(lines[0].trim(), "2", "two runs: {out:#?}");
    assert!(
        lines[1].starts_with("error: ")
            && lines[1].contains("the file system holding the database is full")
            && !lines[1].ends_with("disk I/O error"),
        "{out:#?}"
    );
    assert_eq!(
        lines[2].trim(),
        "2",
        "on a full disk the runs are still listed: {out:#?}"
    );
    assert_eq!(
        lines[3].trim(),
        "4",
        "with space again, the next run works and nothing was lost: {out:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Inputs ML Metadata would misread, and `-C` naming a file

#[test]
fn ml_metadata_reads_a_store_whose_names_and_parameters_are_its_null_sentinel() {
    const NULL: &str = "__MLMD_NULL__";
    let r = DiskRepo::new();
    let pipeline = Pipeline::new(NULL)
        .add_step(
            NULL,
            Sleep {
                label: NULL.into(),
                ms: 0,
            },
            [],
        )
        .add_step(
            "mlmd-struct__x",
            Sleep {
                label: "mlmd-struct::not a struct".into(),
                ms: 0,
            },
            [],
        );
    let summary = r.repo.run(&pipeline).expect("the run");
    assert_eq!(summary.run.name, format!("{NULL}#1"));
    // Read back exactly by zenml…
    let steps = r.repo.get_run_steps(&summary.run).expect("steps");
    let names: BTreeSet<&str> = steps.iter().map(|e| e.step_name.as_str()).collect();
    assert_eq!(names, BTreeSet::from([NULL, "mlmd-struct__x"]));
    let labels: BTreeSet<String> = steps
        .iter()
        .map(|e| {
            e.params
                .get("label")
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect();
    assert!(labels.contains(&format!("\"{NULL}\"")), "{labels:?}");
    assert_eq!(
        r.repo
            .metadata_store()
            .pipeline_by_name(NULL)
            .expect("read")
            .map(|p| p.name),
        Some(NULL.to_owned())
    );
    // …and readable by ML Metadata.
    if let Some(json) =
        ml_metadata_reads("ml_metadata_reads_a_store_with_its_null_sentinel", r.root())
    {
        let executions = json["executions"].as_array().expect("executions");
        assert_eq!(executions.len(), 2, "{json:#}");
        for e in executions {
            let step = e["custom_properties"]["step_name"].as_str().unwrap_or("");
            assert!(!step.is_empty(), "{e:#}");
        }
    }
}

#[test]
fn a_file_given_as_the_repository_directory_is_refused() {
    let ws = workspace();
    let dir = ws.path();
    run_quickstart(dir).ok();
    let file = dir.join("examples/data/iris.csv");
    let file_arg = file.to_string_lossy().into_owned();
    for args in [
        vec!["-C", file_arg.as_str(), "run", "list"],
        vec!["-C", file_arg.as_str(), "init"],
    ] {
        let out = zenml(dir, &args);
        let line = out.one_error();
        assert!(
            line.contains("iris.csv is not a directory"),
            "{args:?}: {line}"
        );
    }
}

#[test]
fn a_store_removed_while_a_process_uses_it_is_not_written_into() {
    let r = DiskRepo::new();
    let p = iris_pipeline("first", 0.0);
    r.repo.run(&p).expect("a first run");
    std::fs::remove_file(r.metadata_db()).expect("remove the database");
    let err = r.repo.run(&p).expect_err("the store is gone");
    let message = zenml::runner::error_chain(&err);
    assert!(
        message.contains("was removed while this process was using it"),
        "{message}"
    );
    assert!(
        !r.metadata_db().exists(),
        "nothing was written where it was"
    );
    let reopened = Repository::open(r.root()).expect_err("the repository has lost its store");
    assert!(
        reopened
            .to_string()
            .contains("zenml init --new-metadata-store")
    );
}
