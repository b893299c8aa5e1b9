//! The SQLite metadata store: the shared conformance suite, several writers (threads, stores and
//! processes) on one file, reopening, refusing databases that are not zenml stores, and the
//! reference ML Metadata reader on a realistic store.

#![cfg(feature = "sqlite")]

mod mlmd;
mod writers;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;

use tempfile::TempDir;
use writers::{assert_consistent, write_cycles, writer_key};
use zenml_core::store::conformance::metadata as suite;
use zenml_core::store::{
    Incompatibility, MetadataConfig, MetadataError, MetadataQuery, MetadataStore, MissingStore,
    OpenMode, RunStatus, open_metadata_store,
};
use zenml_stores::sqlite::SqliteMetadataStore;

/// Makes stores in fresh temporary files, keeping the folders until the factory is dropped.
#[derive(Default)]
struct TempStores {
    dirs: RefCell<Vec<TempDir>>,
}

impl TempStores {
    fn make(&self) -> Arc<dyn MetadataQuery> {
        let dir = tempfile::tempdir().expect("temporary folder");
        let store = SqliteMetadataStore::open(dir.path().join("metadata.db")).expect("open");
        self.dirs.borrow_mut().push(dir);
        Arc::new(store)
    }
}

/// One area of the conformance suite on stores in fresh temporary files.
fn conformance_area(_name: &str, area: fn(suite::StoreFactory<'_>)) {
    let stores = TempStores::default();
    area(&|| stores.make());
}

zenml_core::metadata_conformance_tests!(conformance_area);

#[test]
fn conformance_in_memory_database() {
    suite::run_all(&|| Arc::new(SqliteMetadataStore::open_in_memory().expect("open")));
}

// ---------------------------------------------------------------------------------------------
// Several writers on one file

#[test]
fn two_stores_on_one_file_write_concurrently() {
    const CYCLES: u32 = 40;
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("metadata.db");
    let tags: Vec<String> = (0..4).map(|t| format!("thread{t}")).collect();
    thread::scope(|scope| {
        for tag in &tags {
            let path = &path;
            scope.spawn(move || {
                // Each thread opens its own store: two or more connections on one file.
                let store = SqliteMetadataStore::open(path).expect("open");
                write_cycles(&store, tag, CYCLES);
            });
        }
    });
    let store = SqliteMetadataStore::open(&path).expect("reopen");
    assert_consistent(&store, &tags, CYCLES);
}

#[test]
fn stores_created_on_one_new_file_at_the_same_moment_all_open_it() {
    // Switching a new database to WAL takes an exclusive lock that SQLite does not wait for:
    // the store waits and tries again. (Processes doing the same, with the quickstart's binary,
    // are in the facade's fault tests.)
    const OPENERS: usize = 6;
    for round in 0..200 {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("metadata.db");
        let barrier = std::sync::Barrier::new(OPENERS);
        let failures: Vec<String> = thread::scope(|scope| {
            let handles: Vec<_> = (0..OPENERS)
                .map(|_| {
                    let (path, barrier) = (&path, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        SqliteMetadataStore::open(path)
                            .and_then(|s| s.register_pipeline("p", "c"))
                            .err()
                            .map(|e| e.to_string())
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().expect("an opener thread"))
                .collect()
        });
        assert!(failures.is_empty(), "round {round}: {failures:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Opening

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("raw connection")
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

#[test]
fn reopening_keeps_everything_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("metadata.db");
    let (pipeline, run) = {
        let store = SqliteMetadataStore::open(&path).expect("create");
        write_cycles(&store, "first", 3);
        let p = store
            .pipeline_by_name("shared")
            .expect("read")
            .expect("exists");
        let r = store
            .run_by_name("shared#3")
            .expect("read")
            .expect("exists");
        (p, r)
    };
    let before = std::fs::read(&path).expect("read the file");
    let store = SqliteMetadataStore::open(&path).expect("reopen");
    assert_eq!(
        std::fs::read(&path).expect("read the file"),
        before,
        "opening an existing store writes nothing"
    );
    assert_eq!(store.path(), Some(path.as_path()));
    assert_eq!(
        store.pipeline_by_name("shared").expect("read"),
        Some(pipeline)
    );
    assert_eq!(store.run(run.id).expect("read"), run);
    write_cycles(&store, "second", 2);
    assert_eq!(
        store.run_by_name("shared#5").expect("read").map(|r| r.name),
        Some("shared#5".to_owned()),
        "run numbering continues after a reopen"
    );
    drop(store);
    let conn = raw(&path);
    assert_eq!(count(&conn, "SELECT count(*) FROM MLMDEnv"), 1);
    assert_eq!(count(&conn, "SELECT count(*) FROM zenml_schema"), 1);
    assert_eq!(
        count(&conn, "SELECT count(*) FROM Type WHERE name LIKE 'mlmd.%'"),
        9
    );
}

#[test]
fn the_layout_is_ml_metadata_schema_10() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("metadata.db");
    drop(SqliteMetadataStore::open(&path).expect("create"));
    let conn = raw(&path);
    let columns = |table: &str| -> Vec<String> {
        let mut stmt = conn
            .prepare(&format!("PRAGMA table_info({table})"))
            .expect("table_info");
        stmt.query_map([], |r| r.get::<_, String>(1))
            .expect("columns")
            .collect::<Result<_, _>>()
            .expect("columns")
    };
    let node = |id: &str| {
        vec![
            id.to_owned(),
            "name".into(),
            "is_custom_property".into(),
            "int_value".into(),
            "double_value".into(),
            "string_value".into(),
            "byte_value".into(),
            "proto_value".into(),
            "bool_value".into(),
        ]
    };
    let expected: Vec<(&str, Vec<String>)> = vec![
        (
            "Type",
            vec![
                "id",
                "name",
                "version",
                "type_kind",
                "description",
                "input_type",
                "output_type",
                "external_id",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        ),
        (
            "TypeProperty",
            vec!["type_id".into(), "name".into(), "data_type".into()],
        ),
        (
            "ParentType",
            vec!["type_id".into(), "parent_type_id".into()],
        ),
        (
            "Artifact",
            vec![
                "id",
                "type_id",
                "uri",
                "state",
                "name",
                "external_id",
                "create_time_since_epoch",
                "last_update_time_since_epoch",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        ),
        ("ArtifactProperty", node("artifact_id")),
        (
            "Execution",
            vec![
                "id",
                "type_id",
                "last_known_state",
                "name",
                "external_id",
                "create_time_since_epoch",
                "last_update_time_since_epoch",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        ),
        ("ExecutionProperty", node("execution_id")),
        (
            "Context",
            vec![
                "id",
                "type_id",
                "name",
                "external_id",
                "create_time_since_epoch",
                "last_update_time_since_epoch",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        ),
        ("ContextProperty", node("context_id")),
        (
            "ParentContext",
            vec!["context_id".into(), "parent_context_id".into()],
        ),
        (
            "Event",
            vec![
                "id",
                "artifact_id",
                "execution_id",
                "type",
                "milliseconds_since_epoch",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
        ),
        (
            "EventPath",
            vec!["event_id", "is_index_step", "step_index", "step_key"]
                .into_iter()
                .map(String::from)
                .collect(),
        ),
        (
            "Association",
            vec!["id".into(), "context_id".into(), "execution_id".into()],
        ),
        (
            "Attribution",
            vec!["id".into(), "context_id".into(), "artifact_id".into()],
        ),
        ("MLMDEnv", vec!["schema_version".into()]),
    ];
    for (table, cols) in &expected {
        assert_eq!(&columns(table), cols, "the columns of {table}");
    }
    assert_eq!(count(&conn, "SELECT schema_version FROM MLMDEnv"), 10);
    assert_eq!(count(&conn, "SELECT count(*) FROM MLMDEnv"), 1);
    let simple: Vec<(i64, String, i64)> = conn
        .prepare("SELECT id, name, type_kind FROM Type WHERE id <= 9 ORDER BY id")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let names: Vec<&str> = simple.iter().map(|(_, n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "mlmd.Dataset",
            "mlmd.Model",
            "mlmd.Metrics",
            "mlmd.Statistics",
            "mlmd.Train",
            "mlmd.Transform",
            "mlmd.Process",
            "mlmd.Evaluate",
            "mlmd.Deploy"
        ]
    );
    assert!(simple.iter().take(4).all(|t| t.2 == 1) && simple.iter().skip(4).all(|t| t.2 == 0));
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
}

fn expect_incompatible(path: &Path, expected: fn(&Incompatibility) -> bool, mentions: &str) {
    match SqliteMetadataStore::open(path) {
        Err(e @ MetadataError::Incompatible { .. }) => {
            let MetadataError::Incompatible { reason, store } = &e else {
                unreachable!()
            };
            assert!(expected(reason), "{reason:?}");
            assert!(store.starts_with("sqlite:"), "{store}");
            let message = e.to_string();
            assert!(
                message.contains(mentions),
                "the error should mention `{mentions}`: {message}"
            );
        }
        other => panic!("expected an Incompatible error mentioning `{mentions}`, got {other:?}"),
    }
}

#[test]
fn refuses_a_foreign_database_without_touching_it() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("app.db");
    raw(&path)
        .execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada');")
        .expect("a foreign database");
    let before = std::fs::read(&path).expect("read");
    expect_incompatible(
        &path,
        |r| matches!(r, Incompatibility::Foreign { tables } if tables == &["users"]),
        "another application",
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "the foreign file is untouched"
    );
    let mode: String = raw(&path)
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(
        mode, "delete",
        "the journal mode of a foreign file is not changed"
    );

    let garbage = dir.path().join("garbage.db");
    std::fs::write(
        &garbage,
        b"this is not a database, just some bytes of text......",
    )
    .expect("write");
    match SqliteMetadataStore::open(&garbage) {
        Err(MetadataError::Damaged { detail, .. }) => {
            assert!(detail.contains("not a SQLite database"), "{detail}");
        }
        other => panic!("expected a Damaged error, got {other:?}"),
    }
}

#[test]
fn refuses_a_newer_or_foreign_ml_metadata_store() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let newer = dir.path().join("newer.db");
    drop(SqliteMetadataStore::open(&newer).expect("create"));
    raw(&newer)
        .execute("UPDATE zenml_schema SET version = 99", [])
        .expect("pretend a newer zenml wrote it");
    expect_incompatible(
        &newer,
        |r| {
            matches!(
                r,
                Incompatibility::Newer {
                    found: 99,
                    supported: 2
                }
            )
        },
        "store schema 99; this build knows up to 2",
    );

    let other_mlmd = dir.path().join("mlmd.db");
    drop(SqliteMetadataStore::open(&other_mlmd).expect("create"));
    raw(&other_mlmd)
        .execute_batch(
            "DROP TABLE zenml_schema; DROP TABLE zenml_cache; DROP TABLE zenml_step_type;",
        )
        .expect("an ML Metadata store of another writer");
    expect_incompatible(
        &other_mlmd,
        |r| matches!(r, Incompatibility::ForeignMlmd),
        "zenml did not create",
    );

    let old_mlmd = dir.path().join("mlmd9.db");
    drop(SqliteMetadataStore::open(&old_mlmd).expect("create"));
    raw(&old_mlmd)
        .execute("UPDATE MLMDEnv SET schema_version = 9", [])
        .expect("an older ML Metadata schema");
    expect_incompatible(
        &old_mlmd,
        |r| {
            matches!(
                r,
                Incompatibility::MlmdVersion {
                    found: 9,
                    expected: 10
                }
            )
        },
        "schema version 9",
    );
}

#[test]
fn opens_through_the_backend_registry_relative_to_base() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let config = MetadataConfig::Sqlite {
        path: PathBuf::from("metadata.db"),
    };
    let store = open_metadata_store(&config, dir.path(), OpenMode::Create)
        .expect("open through the registry");
    assert!(store.describe().starts_with("sqlite:"));
    store.register_pipeline("p", "").expect("write");
    assert!(dir.path().join("metadata.db").is_file());

    let missing = MetadataConfig::Sqlite {
        path: dir.path().join("no/such/folder/metadata.db"),
    };
    match open_metadata_store(&missing, dir.path(), OpenMode::Create) {
        Err(e @ MetadataError::Backend { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("cannot open") && message.contains("no/such/folder"),
                "{message}"
            );
        }
        other => panic!("expected an error for a missing folder, got {other:?}"),
    }
}

#[test]
fn bulk_loads_commit_together_or_not_at_all() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("metadata.db");
    let store = SqliteMetadataStore::open(&path).expect("create");
    store
        .bulk(|s| {
            write_cycles(s, "bulk", 3);
            // A failing call inside undoes only itself.
            assert!(s.begin_run(987_654_321, "", "bulk").is_err());
            Ok(())
        })
        .expect("bulk load");
    let other = SqliteMetadataStore::open(&path).expect("a second store");
    assert_consistent(&other, &["bulk".to_owned()], 3);

    let failed = store.bulk(|s| {
        write_cycles(s, "doomed", 2);
        s.bulk(|_| Ok(()))
    });
    assert!(
        matches!(failed, Err(MetadataError::Conflict(_))),
        "bulk loads do not nest: {failed:?}"
    );
    assert!(
        store
            .find_cached(writer_key("doomed", 0))
            .expect("find_cached")
            .is_none(),
        "a failed bulk load records nothing"
    );
    write_cycles(&store, "after", 1);
    assert_eq!(
        store.run_by_name("shared#4").expect("read").map(|r| r.name),
        Some("shared#4".to_owned()),
        "run numbers of a failed bulk load are not used up"
    );
}

// ---------------------------------------------------------------------------------------------
// ML Metadata's own reader

#[test]
fn ml_metadata_reads_the_store() {
    let reader = match mlmd::reader() {
        Ok(r) => r,
        Err(why) => {
            zenml_core::store::conformance::skip("ml_metadata_reads_the_store", &why);
            return;
        }
    };
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("metadata.db");
    let written = {
        let store = SqliteMetadataStore::open(&path).expect("create");
        mlmd::write_realistic_store(&store)
    };
    let json = mlmd::read(&reader, &path);
    mlmd::check(&json, &written, mlmd::Db::Sqlite);
}

// ---------------------------------------------------------------------------------------------
// A store that is missing, emptied, removed or replaced; read-only stores; older stores

#[track_caller]
fn expect_missing<T: std::fmt::Debug>(result: Result<T, MetadataError>, problem: MissingStore) {
    match result {
        Err(MetadataError::Missing { problem: p, store }) => {
            assert_eq!(p, problem, "{store}");
            assert!(store.starts_with("sqlite:"), "{store}");
        }
        other => panic!("expected a missing store ({problem:?}), got {other:?}"),
    }
}

#[test]
fn an_existing_store_is_opened_never_created() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("metadata.db");
    for mode in [OpenMode::Existing, OpenMode::ReadOnly] {
        expect_missing(
            SqliteMetadataStore::open_with(&path, mode),
            MissingStore::NoDatabase,
        );
        assert!(!path.exists(), "{mode:?} creates nothing");
    }
    std::fs::write(&path, b"").expect("an empty file");
    for mode in [OpenMode::Existing, OpenMode::ReadOnly] {
        expect_missing(
            SqliteMetadataStore::open_with(&path, mode),
            MissingStore::Empty,
        );
        assert_eq!(std::fs::metadata(&path).expect("stat").len(), 0);
    }
    // Create makes the store in the empty file; then every mode opens it.
    let store = SqliteMetadataStore::open_with(&path, OpenMode::Create).expect("create");
    write_cycles(&store, "x", 1);
    drop(store);
    for mode in [OpenMode::Existing, OpenMode::ReadOnly, OpenMode::Create] {
        let store = SqliteMetadataStore::open_with(&path, mode).expect("open");
        assert_eq!(store.runs(None).expect("read").len(), 1, "{mode:?}");
    }
}

#[test]
fn a_read_only_store_reads_and_refuses_every_write() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("metadata.db");
    write_cycles(&SqliteMetadataStore::open(&path).expect("create"), "r", 2);
    let before = std::fs::read(&path).expect("read");
    let store = SqliteMetadataStore::open_read_only(&path).expect("open read-only");
    assert_eq!(store.runs(None).expect("read").len(), 2);
    assert!(store.pipeline_by_name("shared").expect("read").is_some());
    match store.register_pipeline("new", "") {
        Err(MetadataError::ReadOnly { store, detail }) => {
            assert!(store.starts_with("sqlite:"), "{store}");
            assert!(detail.contains("register_pipeline"), "{detail}");
        }
        other => panic!("expected a read-only refusal, got {other:?}"),
    }
    assert!(matches!(
        store.invalidate_cache(None),
        Err(MetadataError::ReadOnly { .. })
    ));
    drop(store);
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[test]
fn a_database_removed_or_replaced_while_in_use_is_noticed_and_not_written() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("metadata.db");
    let store = SqliteMetadataStore::open(&path).expect("create");
    write_cycles(&store, "before", 1);

    std::fs::remove_file(&path).expect("remove the database");
    expect_missing(store.register_pipeline("p", ""), MissingStore::Removed);
    expect_missing(store.runs(None), MissingStore::Removed);
    assert!(!path.exists(), "nothing is written where the file was");

    // Another file appears under the name: still not this store's file.
    drop(SqliteMetadataStore::open(&path).expect("a new store at the same path"));
    expect_missing(store.register_pipeline("p", ""), MissingStore::Replaced);
    let other = SqliteMetadataStore::open(&path).expect("reopen the new one");
    assert!(
        other.pipelines().expect("read").is_empty(),
        "the store that was replaced wrote nothing into the new file"
    );
    drop(other);

    // Truncated in place.
    let store = SqliteMetadataStore::open(&path).expect("open");
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(0))
        .expect("truncate");
    expect_missing(store.pipelines(), MissingStore::Empty);
}

#[test]
fn an_older_store_is_migrated_and_a_read_only_open_leaves_it_as_it_is() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("metadata.db");
    let running = {
        let store = SqliteMetadataStore::open(&path).expect("create");
        write_cycles(&store, "old", 2);
        let p = store
            .register_pipeline("still running", "")
            .expect("register");
        store.begin_run(p.id, "", "old owner").expect("begin").id
    };
    // What version 1 looked like: no owner table.
    raw(&path)
        .execute_batch("DROP TABLE zenml_run_owner; UPDATE zenml_schema SET version = 1;")
        .expect("make it a version 1 store");

    let ro = SqliteMetadataStore::open_read_only(&path).expect("read a version 1 store");
    assert_eq!(ro.runs(None).expect("read").len(), 3);
    drop(ro);
    assert_eq!(
        count(&raw(&path), "SELECT max(version) FROM zenml_schema"),
        1,
        "reading does not migrate"
    );

    let store = SqliteMetadataStore::open_with(&path, OpenMode::Existing).expect("migrate");
    assert_eq!(
        count(&raw(&path), "SELECT max(version) FROM zenml_schema"),
        2
    );
    let listed = store.running_runs().expect("running runs");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].run.id, running);
    assert_eq!(listed[0].owner, "", "its owner is not known");
    assert!(
        store
            .interrupt_run(running, listed[0].heartbeat_ms, "gone")
            .expect("interrupt")
            .is_some()
    );
    assert_eq!(
        store.run(running).expect("read").status,
        RunStatus::Interrupted
    );
}

#[test]
fn strings_ml_metadata_would_misread_round_trip() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("metadata.db");
    let store = SqliteMetadataStore::open(&path).expect("create");
    for name in ["__MLMD_NULL__", "mlmd-struct::x", "zenml-escaped::y"] {
        let p = store.register_pipeline(name, name).expect("register");
        assert_eq!((p.name.as_str(), p.config.as_str()), (name, name));
        assert_eq!(
            store.pipeline_by_name(name).expect("read").map(|p| p.id),
            Some(p.id)
        );
        let run = store.begin_run(p.id, name, "o").expect("begin");
        assert_eq!(run.name, format!("{name}#1"));
        assert_eq!(
            store.run_by_name(&run.name).expect("read").map(|r| r.id),
            Some(run.id)
        );
        assert_eq!(store.run(run.id).expect("read").config, name);
    }
    let raw_names: Vec<String> = {
        let conn = raw(&path);
        let mut stmt = conn
            .prepare("SELECT name FROM Context ORDER BY id")
            .expect("prepare");
        stmt.query_map([], |r| r.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("names")
    };
    assert!(
        !raw_names.iter().any(|n| n == "__MLMD_NULL__"),
        "ML Metadata's NULL is never stored as a name: {raw_names:?}"
    );
}
