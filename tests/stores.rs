//! The default stores under load and stores chosen in code: two processes running pipelines
//! against one repository at once, and a repository or a runner given store objects that
//! override `.zenml/config.yaml`.

mod common;
#[path = "common/disk.rs"]
mod disk;
#[cfg(feature = "mysql")]
#[path = "common/mysql.rs"]
mod mysql;
#[path = "common/process.rs"]
mod process;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::*;
use disk::*;
#[cfg(unix)]
use process::*;
use zenml::Runner;
use zenml::artifact::io::{ContentStore, content_key};
use zenml::backends::object::ObjectArtifactStore;
use zenml::backends::sqlite::SqliteMetadataStore;
use zenml::hash::Hash128;
use zenml::prelude::*;
use zenml::store::memory::MemoryMetadataStore;
use zenml::store::{ArtifactStore, ExecutionRecord, ExecutionState, MetadataQuery, RunStatus};

// ---------------------------------------------------------------------------------------------
// Two processes, one repository

/// How many times each process runs its pipelines.
const ROUNDS: usize = 6;

/// The configs one process runs each round, with whether their cache is on: one the other
/// process runs too (same name, same definition), one never cached that the other runs too,
/// and one of its own that shares its first steps with the shared one.
fn child_configs(role: &str) -> Vec<(String, String, bool)> {
    let alpha = if role == "a" { 0.25 } else { 0.75 };
    vec![
        ("shared.yaml".into(), iris_config("shared iris", 1.0), true),
        (
            "never.yaml".into(),
            format!("{}cache: false\n", iris_config("shared never cached", 1.0)),
            false,
        ),
        (
            format!("own-{role}.yaml"),
            iris_config(&format!("iris {role}"), alpha),
            true,
        ),
    ]
}

#[cfg(unix)]
#[test]
fn two_processes_run_pipelines_against_one_repository_at_once() {
    let ws = workspace();
    let root = std::fs::canonicalize(ws.path()).expect("canonical");
    zenml(&root, &["init"]).ok();
    let q = quickstart();
    // Each process is a shell loop of `quickstart zenml pipeline run`, and both start together
    // at a gate.
    let commands = ["a", "b"]
        .into_iter()
        .map(|role| {
            let files: Vec<String> = child_configs(role)
                .into_iter()
                .map(|(file, text, _)| {
                    std::fs::write(root.join(&file), text).expect("write a config");
                    file
                })
                .collect();
            let script = format!(
                "for round in $(seq {ROUNDS}); do for c in {}; do \
                 '{}' zenml pipeline run \"$c\" --quiet > /dev/null || exit 1; done; done",
                files.join(" "),
                q.display()
            );
            let mut c = Command::new("sh");
            c.arg("-c").arg(script).current_dir(&root);
            c
        })
        .collect();
    for (role, out) in ["a", "b"].iter().zip(Gate::hold(commands).open()) {
        assert_eq!(out.code, Some(0), "process {role} failed: {out:#?}");
        assert!(!out.stderr.contains("database is locked"), "{out:#?}");
    }

    // The store is consistent.
    let repo = Repository::open(&root).unwrap();
    let md = repo.metadata_store();
    let content = ContentStore::new(repo.artifact_store().as_ref());
    let mut expected_runs: BTreeMap<String, usize> = BTreeMap::new();
    for role in ["a", "b"] {
        for (_, text, _) in child_configs(role) {
            let name = text
                .lines()
                .find_map(|l| l.strip_prefix("name: "))
                .expect("a name")
                .to_owned();
            *expected_runs.entry(name).or_default() += ROUNDS;
        }
    }
    let runs = md.runs(None).unwrap();
    assert_eq!(runs.len(), expected_runs.values().sum::<usize>());
    let mut executions: Vec<ExecutionRecord> = Vec::new();
    for (pipeline, count) in &expected_runs {
        let of_pipeline: Vec<_> = runs
            .iter()
            .filter(|r| &r.pipeline_name == pipeline)
            .collect();
        let numbers: BTreeSet<String> = of_pipeline.iter().map(|r| r.name.clone()).collect();
        let want: BTreeSet<String> = (1..=*count).map(|n| format!("{pipeline}#{n}")).collect();
        assert_eq!(
            numbers, want,
            "runs of `{pipeline}` are numbered 1..={count}, each once"
        );
        for run in of_pipeline {
            assert_eq!(run.status, RunStatus::Completed, "{run:?}");
            let steps_of_run = md.executions(run.id).unwrap();
            assert_eq!(steps_of_run.len(), 5, "executions of {}", run.name);
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
                    content
                        .verify(&record)
                        .unwrap_or_else(|err| panic!("output `{name}` of {}: {err}", e.id));
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

    // And the repository goes on: every cacheable pipeline is now reused entirely.
    let again = zenml(&root, &["pipeline", "run", "shared.yaml", "--json"]).ok();
    assert_eq!(step_states(&again), ["cached"; 5], "{again:#?}");
}

// ---------------------------------------------------------------------------------------------
// Two machines, one MySQL store and one artifact folder

/// The runs `zenml run list --json` lists in `dir`, as (name, status).
#[cfg(feature = "mysql")]
fn listed_runs(dir: &Path) -> BTreeSet<(String, String)> {
    let out = zenml(dir, &["run", "list", "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    json.as_array()
        .expect("an array of runs")
        .iter()
        .map(|r| {
            (
                r["name"].as_str().expect("a name").to_owned(),
                r["status"].as_str().expect("a status").to_owned(),
            )
        })
        .collect()
}

#[cfg(all(unix, feature = "mysql"))]
#[test]
fn two_machines_share_one_mysql_store_and_one_artifact_folder() {
    let Some(server) =
        mysql::mysql_server("two_machines_share_one_mysql_store_and_one_artifact_folder")
    else {
        return;
    };
    let db = server.create();
    let shared = tempfile::tempdir().expect("a temporary directory");
    let folder = shared.path().to_str().expect("a UTF-8 path").to_owned();
    // Two working directories, each with a repository of its own pointing at the shared stores.
    let machines = [workspace(), workspace()];
    for m in &machines {
        zenml(m.path(), &["init"]).ok();
        let mut set = mysql::set_mysql(&db);
        if let Some(p) = &db.password {
            set.extend(["--password".to_owned(), p.clone()]);
        }
        let set: Vec<&str> = set.iter().map(String::as_str).collect();
        zenml(m.path(), &set).ok();
        zenml(m.path(), &["config", "artifacts", "set", &folder]).ok();
    }

    // At the same time: both run the quickstart (pipelines A and B).
    let commands = machines
        .iter()
        .map(|m| quickstart_command(m.path(), &[]))
        .collect();
    for (i, out) in Gate::hold(commands).open().into_iter().enumerate() {
        assert_eq!(out.code, Some(0), "machine {i}: {out:#?}");
    }
    // One after the other: everything is reused, whoever computed it.
    for m in &machines {
        let out = run_quickstart(m.path()).ok();
        assert_eq!(
            out.stderr.matches(": 0 ran, 5 cached\n").count(),
            2,
            "{out:#?}"
        );
    }

    // Either machine lists every run, each once, numbered without gaps.
    let listed = listed_runs(machines[0].path());
    assert_eq!(listed, listed_runs(machines[1].path()));
    let expected: BTreeSet<(String, String)> = ["Pipeline A", "Pipeline B"]
        .into_iter()
        .flat_map(|p| (1..=4).map(move |n| (format!("{p}#{n}"), "completed".to_owned())))
        .collect();
    assert_eq!(listed, expected);

    // Nothing is corrupted or duplicated: every output verifies, every reuse points at a
    // computation of its key, and a key is computed at most once per machine.
    let md = zenml::backends::mysql::MysqlMetadataStore::open(&db).expect("open the store");
    let art = ObjectArtifactStore::local(shared.path()).expect("the shared folder");
    let content = ContentStore::new(&art);
    let mut computed: HashMap<Hash128, usize> = HashMap::new();
    for run in md.runs(None).expect("runs") {
        let steps = md.executions(run.id).expect("executions");
        assert_eq!(steps.len(), 5, "{}", run.name);
        for e in &steps {
            match e.state {
                ExecutionState::Complete => {
                    for (name, id) in &e.outputs {
                        let record = md.artifact(*id).expect("artifact");
                        content
                            .verify(&record)
                            .unwrap_or_else(|err| panic!("`{name}` of {}: {err}", e.id));
                    }
                    *computed.entry(e.cache_key.expect("a key")).or_default() += 1;
                }
                ExecutionState::Cached => {
                    let from = md
                        .execution(e.cached_from.expect("a source"))
                        .expect("source");
                    assert_eq!(from.state, ExecutionState::Complete);
                    assert_eq!(from.cache_key, e.cache_key);
                }
                other => panic!("`{}` of {} is {other}", e.step_name, run.name),
            }
        }
        let number: usize = run
            .name
            .rsplit('#')
            .next()
            .and_then(|n| n.parse().ok())
            .expect("n");
        if number > 2 {
            assert!(
                steps.iter().all(|e| e.state == ExecutionState::Cached),
                "{}",
                run.name
            );
        }
    }
    assert!(
        computed.values().all(|n| (1..=2).contains(n)),
        "{computed:?}"
    );
    // Pipeline A's five steps and B's trainer and evaluator.
    assert_eq!(computed.len(), 7, "{computed:?}");
}

// ---------------------------------------------------------------------------------------------
// Stores chosen in code

/// A table of `n` numbers and their sum.
fn pair(name: &str, n: u32) -> Pipeline {
    Pipeline::new(name)
        .add_step("numbers", Numbers { n, scale: 1.0 }, [])
        .add_step("sum", Sum {}, [("numbers", "numbers.numbers")])
}

fn names(md: &dyn MetadataQuery) -> Vec<String> {
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
    let memory_md: Arc<dyn MetadataQuery> = Arc::new(MemoryMetadataStore::new());
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
    let md: Arc<dyn MetadataQuery> = Arc::new(SqliteMetadataStore::open(&db).unwrap());
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
