//! The default stores under load and stores chosen in code: two processes running pipelines
//! against one repository at once, and a repository or a runner given store objects that
//! override `.zenml/config.yaml`.

mod common;
#[path = "common/disk.rs"]
mod disk;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use disk::*;
use zenml::artifact::io::{ContentStore, content_key};
use zenml::backends::object::ObjectArtifactStore;
use zenml::backends::sqlite::SqliteMetadataStore;
use zenml::hash::Hash128;
use zenml::prelude::*;
use zenml::store::memory::MemoryMetadataStore;
use zenml::store::{ArtifactStore, ExecutionRecord, ExecutionState, MetadataStore, RunStatus};
use zenml::{Runner, steps};

fn dag(name: &str, n: u32, scale: f64) -> Pipeline {
    Pipeline::new(name)
        .add_step("numbers", Numbers { n, scale }, [])
        .add_step("sum", Sum {}, [("numbers", "numbers.numbers")])
        .add_step("squares", Numbers { n: 10, scale: 2.0 }, [])
        .add_step("sum2", Sum {}, [("numbers", "squares.numbers")])
        .add_step(
            "add",
            Add { offset: 0.5 },
            [("a", "sum.total"), ("b", "sum2.total")],
        )
}

fn iris_on(csv: &Path, name: &str, shrink: f64) -> Pipeline {
    TrainingPipeline::new(name)
        .add_datasource(steps::CsvDatasource::new(csv.to_string_lossy()))
        .add_split(steps::RandomSplit::default())
        .add_preprocesser(steps::StandardScaler {
            exclude: "species".into(),
        })
        .add_trainer(CentroidTrainer {
            shrink,
            ..CentroidTrainer::default()
        })
        .add_evaluator(Accuracy {})
}

// ---------------------------------------------------------------------------------------------
// Two processes, one repository

/// Names the child's role (`a` or `b`); set only in the two child processes.
const ROLE_VAR: &str = "ZENML_TEST_CONCURRENT_ROLE";
/// The repository the children share.
const REPO_VAR: &str = "ZENML_TEST_CONCURRENT_REPO";
/// The test that is the child's body.
const CHILD_TEST: &str = "concurrent_child";
/// How many times each child runs its pipelines.
const ROUNDS: usize = 6;

/// What one child runs each round, with how many steps each pipeline has and whether its
/// cache is on. Some pipelines are the same in both children (same names, same cache keys),
/// some are the child's own, and the child's iris pipeline shares its first steps with the
/// shared one.
fn child_pipelines(role: &str, csv: &Path) -> Vec<Pipeline> {
    let shrink = if role == "a" { 0.25 } else { 0.75 };
    let scale = if role == "a" { 3.0 } else { 7.0 };
    vec![
        iris_on(csv, "shared iris", 0.0),
        dag("shared never cached", 40, 1.5).with_cache(false),
        iris_on(csv, &format!("iris {role}"), shrink),
        dag(&format!("own {role}"), 60, scale),
    ]
}

/// The child processes; any still running when the test ends (it failed) are stopped.
struct Children(Vec<(&'static str, std::process::Child)>);

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits until `file` exists.
fn wait_for(file: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !file.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            file.display()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The body of each child process; does nothing in a normal test run.
#[test]
fn concurrent_child() {
    let (Some(role), Some(dir)) = (std::env::var_os(ROLE_VAR), std::env::var_os(REPO_VAR)) else {
        return;
    };
    let (role, dir) = (role.to_string_lossy().into_owned(), PathBuf::from(dir));
    let repo = quiet_repo(Repository::open(&dir).expect("open the shared repository"));
    let pipelines = child_pipelines(&role, &dir.join("iris.csv"));
    // Both children start their runs at once, when the parent has seen both ready.
    std::fs::write(dir.join(format!("ready-{role}")), b"").expect("say ready");
    wait_for(&dir.join("go"));
    for round in 0..ROUNDS {
        for p in &pipelines {
            if let Err(e) = repo.run(p) {
                panic!("child {role}, round {round}, `{}`: {e}", p.name());
            }
        }
    }
}

#[test]
fn two_processes_run_pipelines_against_one_repository_at_once() {
    let r = DiskRepo::new();
    let root = r.root().to_owned();
    let csv = copy_iris(&root.join("iris.csv"));
    let exe = std::env::current_exe().expect("the test binary");
    let mut children = Children(
        ["a", "b"]
            .into_iter()
            .map(|role| {
                let child = Command::new(&exe)
                    .args([CHILD_TEST, "--exact", "--nocapture", "--test-threads", "1"])
                    .env(ROLE_VAR, role)
                    .env(REPO_VAR, &root)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start a child process");
                (role, child)
            })
            .collect(),
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while !["a", "b"]
        .iter()
        .all(|role| root.join(format!("ready-{role}")).exists())
    {
        // A child that ended before it was ready failed: show why.
        if let Some(i) = children
            .0
            .iter_mut()
            .position(|(_, c)| matches!(c.try_wait(), Ok(Some(_))))
        {
            let (role, child) = children.0.swap_remove(i);
            let out = child.wait_with_output().unwrap();
            panic!(
                "child {role} ended before it was ready ({}):\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(Instant::now() < deadline, "the children never got ready");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::fs::write(root.join("go"), b"").unwrap();
    let outputs: Vec<_> = std::mem::take(&mut children.0)
        .into_iter()
        .map(|(role, child)| (role, child.wait_with_output()))
        .collect();
    for (role, out) in outputs {
        let out = out.expect("wait for a child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "child {role} failed ({}):\n{stdout}\n{stderr}",
            out.status
        );
        assert!(
            stdout.contains("1 passed"),
            "child {role} did not run its test:\n{stdout}"
        );
        assert!(
            !stdout.contains("database is locked") && !stderr.contains("database is locked"),
            "{stdout}\n{stderr}"
        );
    }

    // The store is consistent.
    let repo = Repository::open(&root).unwrap();
    let md = repo.metadata_store();
    let artifacts = repo.artifact_store();
    let mut expected_runs: BTreeMap<String, (usize, usize)> = BTreeMap::new(); // runs, steps
    for role in ["a", "b"] {
        for p in child_pipelines(role, &csv) {
            let e = expected_runs.entry(p.name().to_owned()).or_default();
            e.0 += ROUNDS;
            e.1 = p.steps().len();
        }
    }
    let runs = md.runs(None).unwrap();
    assert_eq!(
        runs.len(),
        expected_runs.values().map(|(n, _)| n).sum::<usize>()
    );
    let names: BTreeSet<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names.len(), runs.len(), "run names are unique");
    let mut executions: Vec<ExecutionRecord> = Vec::new();
    for (pipeline, (count, steps)) in &expected_runs {
        let of_pipeline: Vec<_> = runs
            .iter()
            .filter(|r| &r.pipeline_name == pipeline)
            .collect();
        assert_eq!(of_pipeline.len(), *count, "runs of `{pipeline}`");
        let numbers: BTreeSet<String> = of_pipeline.iter().map(|r| r.name.clone()).collect();
        let want: BTreeSet<String> = (1..=*count).map(|n| format!("{pipeline}#{n}")).collect();
        assert_eq!(
            numbers, want,
            "runs of `{pipeline}` are numbered 1..={count}"
        );
        for run in of_pipeline {
            assert_eq!(run.status, RunStatus::Completed, "{run:?}");
            assert!(run.finished_ms.is_some());
            let steps_of_run = md.executions(run.id).unwrap();
            assert_eq!(steps_of_run.len(), *steps, "executions of {}", run.name);
            let never_cached = pipeline.contains("never cached");
            for e in &steps_of_run {
                match e.state {
                    ExecutionState::Complete => {}
                    ExecutionState::Cached if !never_cached => {}
                    other => panic!("`{}` of {} is {other}", e.step_name, run.name),
                }
            }
            executions.extend(steps_of_run);
        }
    }

    // Every computed output exists and verifies; every reuse points at a computation of its
    // key; and a key is computed at most once per process (unless its cache was off).
    let by_id: HashMap<i64, &ExecutionRecord> = executions.iter().map(|e| (e.id, e)).collect();
    let mut computed: HashMap<Hash128, usize> = HashMap::new();
    for e in &executions {
        match e.state {
            ExecutionState::Complete => {
                assert!(!e.outputs.is_empty());
                for (name, id) in &e.outputs {
                    let record = md.artifact(*id).unwrap();
                    assert!(
                        artifacts.head(&content_key(record.hash)).unwrap().is_some(),
                        "output `{name}` of execution {} is missing",
                        e.id
                    );
                    ContentStore::new(artifacts.as_ref())
                        .verify(&record)
                        .unwrap();
                }
                let run = md.run(e.run_id.unwrap()).unwrap();
                if !run.pipeline_name.contains("never cached") {
                    *computed.entry(e.cache_key.unwrap()).or_default() += 1;
                }
            }
            ExecutionState::Cached => {
                let from = by_id[&e.cached_from.unwrap()];
                assert_eq!(from.state, ExecutionState::Complete);
                assert_eq!(from.cache_key, e.cache_key);
                let outputs: Vec<&String> = e.outputs.iter().map(|(n, _)| n).collect();
                let from_outputs: Vec<&String> = from.outputs.iter().map(|(n, _)| n).collect();
                assert_eq!(outputs, from_outputs);
            }
            other => panic!("execution {} is {other}", e.id),
        }
    }
    assert!(
        computed.values().all(|n| (1..=2).contains(n)),
        "{computed:?}"
    );
    let staging = root.join(".zenml/artifacts/.staging");
    let leftovers = std::fs::read_dir(&staging).map_or(0, |d| d.count());
    assert_eq!(leftovers, 0, "nothing is left in {}", staging.display());

    // The two processes really ran at the same time.
    let interval = |name: &str| {
        runs.iter()
            .filter(|r| r.pipeline_name.ends_with(name))
            .map(|r| (r.started_ms, r.finished_ms.unwrap()))
            .fold((i64::MAX, i64::MIN), |(s, f), (a, b)| (s.min(a), f.max(b)))
    };
    let ((a_start, a_end), (b_start, b_end)) = (interval(" a"), interval(" b"));
    assert!(
        a_start <= b_end && b_start <= a_end,
        "the children's runs did not overlap: a {a_start}..{a_end}, b {b_start}..{b_end}"
    );

    // And the repository goes on: every cacheable pipeline is now reused entirely.
    let repo = quiet_repo(repo);
    let again = repo.run(&iris_on(&csv, "shared iris", 0.0)).unwrap();
    assert_eq!(again.cached().len(), 5);
}

// ---------------------------------------------------------------------------------------------
// Stores chosen in code

/// A table of `n` numbers and their sum.
fn pair(name: &str, n: u32) -> Pipeline {
    Pipeline::new(name)
        .add_step("numbers", Numbers { n, scale: 1.0 }, [])
        .add_step("sum", Sum {}, [("numbers", "numbers.numbers")])
}

fn names(md: &dyn MetadataStore) -> Vec<String> {
    md.pipelines()
        .expect("the recorded pipelines")
        .into_iter()
        .map(|p| p.name)
        .collect()
}

#[test]
fn stores_given_in_code_override_the_repository_config() {
    let r = DiskRepo::new();
    let root = r.root().to_owned();
    let config = std::fs::read_to_string(root.join(".zenml/config.yaml")).unwrap();
    let on_disk = || Repository::open(&root).unwrap();

    // Another metadata store; the config's artifact folder.
    let memory_md: Arc<dyn MetadataStore> = Arc::new(MemoryMetadataStore::new());
    let repo = quiet_repo(on_disk().with_metadata_store(memory_md.clone()));
    let s = repo.run(&pair("metadata in memory", 20)).unwrap();
    assert_eq!(names(memory_md.as_ref()), vec!["metadata in memory"]);
    assert!(names(on_disk().metadata_store().as_ref()).is_empty());
    for step in &s.steps {
        for (_, a) in &step.outputs {
            assert!(artifact_file(&root, a).is_file(), "{a:?}");
        }
    }

    // Another artifact store; the config's metadata store.
    let memory_art = zenml::store::open_artifact_store("memory://", Path::new(".")).unwrap();
    let repo = quiet_repo(on_disk().with_artifact_store(memory_art.clone()));
    let s = repo.run(&pair("artifacts in memory", 30)).unwrap();
    assert_eq!(
        names(on_disk().metadata_store().as_ref()),
        vec!["artifacts in memory"]
    );
    let total = &s.step("sum").unwrap().outputs[0].1;
    assert!(total.uri.starts_with("memory://"), "{}", total.uri);
    assert!(memory_art.head(&content_key(total.hash)).unwrap().is_some());
    assert!(
        !root
            .join(".zenml/artifacts")
            .join(content_key(total.hash))
            .exists()
    );
    let value: Arc<f64> = repo.load_artifact(total).unwrap();
    assert_eq!(*value, 435.0);

    // A runner over explicit stores, elsewhere: the repository's stores see nothing of it.
    let db = r.file("elsewhere.db");
    let folder = r.file("elsewhere-artifacts");
    let md: Arc<dyn MetadataStore> = Arc::new(SqliteMetadataStore::open(&db).unwrap());
    let art: Arc<dyn ArtifactStore> = Arc::new(ObjectArtifactStore::local(&folder).unwrap());
    let runner = Runner::new(md.clone(), art.clone()).with_options(RunOptions::quiet());
    let p = pair("explicit", 40);
    let s = runner.run(&p).unwrap();
    assert_eq!(s.executed().len(), 2);
    let total = &s.step("sum").unwrap().outputs[0].1;
    assert!(folder.join(content_key(total.hash)).is_file());
    assert!(
        !root
            .join(".zenml/artifacts")
            .join(content_key(total.hash))
            .exists()
    );
    drop((runner, md));
    let reopened = SqliteMetadataStore::open(&db).unwrap();
    assert_eq!(names(&reopened), vec!["explicit"]);
    assert_eq!(reopened.runs(None).unwrap().len(), 1);
    assert!(!names(on_disk().metadata_store().as_ref()).contains(&"explicit".to_owned()));
    // Its cache lives with its stores.
    let again = Runner::new(Arc::new(reopened), art)
        .with_options(RunOptions::quiet())
        .run(&p)
        .unwrap();
    assert_eq!(again.cached().len(), 2);
    let on_repo = quiet_repo(on_disk()).run(&p).unwrap();
    assert_eq!(on_repo.executed().len(), 2);

    // Nothing rewrote the config.
    assert_eq!(
        std::fs::read_to_string(root.join(".zenml/config.yaml")).unwrap(),
        config
    );
}
