//! The MySQL / MariaDB metadata store: the shared conformance suite, several stores writing one
//! database, creating one new database from several openers at once, databases that are not
//! zenml stores (ML Metadata's own, other versions, other applications'), lost connections,
//! connection errors, and Google's ML Metadata reader over a MySQL connection.
//!
//! Every test runs on throw-away databases of the server `ZENML_TEST_MYSQL_URL` names (see
//! `ScratchDatabases`), and skips with a printed reason without it.

#![cfg(all(feature = "mysql", feature = "conformance"))]

mod mlmd;
mod writers;

use std::process::Command;
use std::sync::{Arc, Barrier};
use std::thread;

use writers::{assert_consistent, write_cycles};
use zenml_core::hash::Hash128;
use zenml_core::param::{ParamType, Params, ScalarType, Value};
use zenml_core::step::StepKind;
use zenml_core::store::conformance::{self, metadata as suite};
use zenml_core::store::{
    Incompatibility, MetadataConfig, MetadataError, MetadataQuery, MetadataStore, MissingStore,
    NewExecution, OpenMode, StepTypeSpec, open_metadata_store,
};
use zenml_stores::mysql::{MysqlMetadataStore, MysqlOptions, ScratchDatabases};

/// The test server, or `None` after printing why the test skips (failing under CI).
#[track_caller]
fn server(test: &str) -> Option<ScratchDatabases> {
    match ScratchDatabases::from_env() {
        Ok(s) => Some(s),
        Err(why) => {
            conformance::skip(test, &why);
            None
        }
    }
}

fn open(options: &MysqlOptions) -> MysqlMetadataStore {
    MysqlMetadataStore::open(options).unwrap_or_else(|e| panic!("{e}"))
}

/// The `mysql://` URL of `options`, password included, for ML Metadata's reader.
fn url(options: &MysqlOptions) -> String {
    let password = options
        .password
        .as_deref()
        .map(|p| {
            let encoded: String = p
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        char::from(b).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!(":{encoded}")
        })
        .unwrap_or_default();
    format!(
        "mysql://{}{password}@{}:{}/{}",
        options.user, options.host, options.port, options.database
    )
}

/// One area of the conformance suite, each store in a new database.
fn conformance_area(name: &str, area: fn(suite::StoreFactory<'_>)) {
    let Some(server) = server(name) else { return };
    area(&|| Arc::new(open(&server.create())));
}

zenml_core::metadata_conformance_tests!(conformance_area);

// ---------------------------------------------------------------------------------------------
// Several stores on one database

#[test]
fn several_stores_on_one_database_write_concurrently() {
    const CYCLES: u32 = 30;
    let Some(server) = server("several_stores_on_one_database_write_concurrently") else {
        return;
    };
    let options = server.create();
    drop(open(&options));
    let tags: Vec<String> = (0..4).map(|t| format!("writer{t}")).collect();
    let barrier = Barrier::new(tags.len());
    thread::scope(|scope| {
        for tag in &tags {
            let (options, barrier) = (&options, &barrier);
            scope.spawn(move || {
                // Each writer has its own store, so its own connection and transactions.
                let store = open(options);
                barrier.wait();
                write_cycles(&store, tag, CYCLES);
            });
        }
    });
    assert_consistent(&open(&options), &tags, CYCLES);
}

#[test]
fn stores_created_on_one_new_database_at_the_same_moment_all_open_it() {
    const OPENERS: usize = 6;
    let Some(server) = server("stores_created_on_one_new_database_at_the_same_moment_all_open_it")
    else {
        return;
    };
    for round in 0..5 {
        let options = server.create();
        let barrier = Barrier::new(OPENERS);
        let results: Vec<Result<Vec<String>, String>> = thread::scope(|scope| {
            let handles: Vec<_> = (0..OPENERS)
                .map(|i| {
                    let (options, barrier) = (&options, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        let store = MysqlMetadataStore::open(options).map_err(|e| e.to_string())?;
                        write_cycles(&store, &format!("opener{i}"), 1);
                        let types = store.step_types(None).map_err(|e| e.to_string())?;
                        Ok(types.into_iter().map(|t| t.source).collect())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("an opener thread"))
                .collect()
        });
        for r in &results {
            assert_eq!(
                r.as_deref(),
                Ok(&["tests::Writer".to_owned()][..]),
                "round {round}: every opener sees the one step type"
            );
        }
        let tags: Vec<String> = (0..OPENERS).map(|i| format!("opener{i}")).collect();
        assert_consistent(&open(&options), &tags, 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Opening: empty databases, ML Metadata's own stores, other versions, other applications

#[test]
fn an_empty_database_is_only_made_a_store_when_asked() {
    let Some(server) = server("an_empty_database_is_only_made_a_store_when_asked") else {
        return;
    };
    let options = server.create();
    for mode in [OpenMode::Existing, OpenMode::ReadOnly] {
        match MysqlMetadataStore::open_with(&options, mode) {
            Err(MetadataError::Missing { store, problem }) => {
                assert_eq!(problem, MissingStore::Empty);
                assert_eq!(store, options.describe());
            }
            other => panic!("{mode:?}: expected a missing store, got {other:?}"),
        }
    }
    let store = MysqlMetadataStore::open_with(&options, OpenMode::Create).expect("create");
    write_cycles(&store, "x", 2);
    for mode in [OpenMode::Existing, OpenMode::ReadOnly, OpenMode::Create] {
        let store = MysqlMetadataStore::open_with(&options, mode).expect("open");
        assert_eq!(store.runs(None).expect("runs").len(), 2, "{mode:?}");
    }
}

#[test]
fn a_read_only_store_reads_and_refuses_writes() {
    let Some(server) = server("a_read_only_store_reads_and_refuses_writes") else {
        return;
    };
    let options = server.create();
    write_cycles(&open(&options), "r", 2);
    let store = MysqlMetadataStore::open_with(&options, OpenMode::ReadOnly).expect("open");
    assert_eq!(store.runs(None).expect("runs").len(), 2);
    match store.register_pipeline("new", "") {
        Err(MetadataError::ReadOnly { store, detail }) => {
            assert_eq!(store, options.describe());
            assert!(detail.contains("register_pipeline"), "{detail}");
        }
        other => panic!("expected a read-only refusal, got {other:?}"),
    }
    assert!(store.pipeline_by_name("new").expect("read").is_none());
}

/// Runs `code` in the python that has ML Metadata, with `store` bound to a `MetadataStore` on
/// `options`' database (creating ML Metadata's schema in an empty one).
fn with_ml_metadata(options: &MysqlOptions, code: &str) -> Option<String> {
    let python = std::env::var_os(conformance::mlmd::PYTHON_VAR)?;
    let script = format!(
        "from ml_metadata.metadata_store import metadata_store\n\
         from ml_metadata.proto import metadata_store_pb2 as pb\n\
         c = pb.ConnectionConfig()\n\
         c.mysql.host = {host:?}\n\
         c.mysql.port = {port}\n\
         c.mysql.database = {db:?}\n\
         c.mysql.user = {user:?}\n\
         c.mysql.password = {password:?}\n\
         store = metadata_store.MetadataStore(c)\n\
         {code}\n",
        host = options.host,
        port = options.port,
        db = options.database,
        user = options.user,
        password = options.password.as_deref().unwrap_or(""),
    );
    let out = Command::new(python)
        .arg("-c")
        .arg(&script)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "ml_metadata failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn big_param_spec() -> StepTypeSpec {
    StepTypeSpec {
        source: "tests::Big".to_owned(),
        version: 1,
        kind: StepKind::Trainer,
        doc: "Counts far.".to_owned(),
        params: vec![("n".to_owned(), ParamType::scalar(ScalarType::I64))],
    }
}

fn begin_big(store: &dyn MetadataQuery, n: i64) -> Result<i64, MetadataError> {
    let pipeline = store.register_pipeline("big", "name: big\n")?;
    let ty = store.register_step_type(&big_param_spec())?;
    let run = store.begin_run(pipeline.id, "name: big\n", "tests")?;
    store.begin_execution(&NewExecution {
        run_id: run.id,
        step_type_id: ty,
        step_name: "big".to_owned(),
        params: Params::new().with("n", Value::Int(n)),
        cache_key: Some(Hash128::of(&n.to_le_bytes())),
        code_fingerprint: Hash128::of(b"big"),
        inputs: Vec::new(),
    })
}

#[test]
fn a_store_ml_metadata_created_is_used_and_its_records_left_as_they_were() {
    let test = "a_store_ml_metadata_created_is_used_and_its_records_left_as_they_were";
    let Some(server) = server(test) else { return };
    let options = server.create();
    let Some(_) = with_ml_metadata(
        &options,
        "t = pb.ExecutionType(name='their.Trainer')\n\
         t.properties['epochs'] = pb.INT\n\
         tid = store.put_execution_type(t)\n\
         e = pb.Execution(type_id=tid, name='theirs')\n\
         e.properties['epochs'].int_value = 7\n\
         store.put_executions([e])",
    ) else {
        conformance::skip(
            test,
            &format!(
                "set {} to a python with ml-metadata 1.17.1 to create a store with it",
                conformance::mlmd::PYTHON_VAR
            ),
        );
        return;
    };
    // Opened as it is (not only by `Create`): zenml adds its tables beside ML Metadata's, and
    // widens its 32-bit integer columns (a time in milliseconds does not fit in them).
    let store = MysqlMetadataStore::open_with(&options, OpenMode::Existing).expect("adopt");
    write_cycles(&store, "ours", 2);
    drop(store);
    let store = open(&options);
    assert_consistent(&store, &["ours".to_owned()], 2);
    begin_big(&store, 1 << 40).expect("beyond 32 bits");

    // ML Metadata still reads its own execution as it wrote it, and zenml's beside it.
    let listed = with_ml_metadata(
        &options,
        "print([(e.name, e.properties['epochs'].int_value) for e in store.get_executions() \
         if e.name == 'theirs'])\n\
         print([e.properties['n'].int_value for e in store.get_executions() if 'n' in \
         e.properties])\n\
         print(len(store.get_executions()))",
    )
    .expect("python");
    assert_eq!(listed, format!("[('theirs', 7)]\n[{}]\n4\n", 1_i64 << 40));
}

#[test]
fn other_versions_and_other_applications_databases_are_refused_untouched() {
    let test = "other_versions_and_other_applications_databases_are_refused_untouched";
    let Some(server) = server(test) else { return };
    let options = server.create();
    write_cycles(&open(&options), "v", 1);
    let db = &options.database;

    server.admin(&format!("UPDATE `{db}`.MLMDEnv SET schema_version = 9"));
    match MysqlMetadataStore::open(&options) {
        Err(e @ MetadataError::Incompatible { .. }) => {
            let MetadataError::Incompatible { reason, .. } = &e else {
                unreachable!()
            };
            assert_eq!(
                *reason,
                Incompatibility::MlmdVersion {
                    found: 9,
                    expected: 10
                }
            );
            let text = e.to_string();
            assert!(text.contains('9') && text.contains("10"), "{text}");
        }
        other => panic!("expected ML Metadata 9 to be refused, got {other:?}"),
    }
    server.admin(&format!("UPDATE `{db}`.MLMDEnv SET schema_version = 10"));
    server.admin(&format!("UPDATE `{db}`.zenml_schema SET version = 99"));
    match MysqlMetadataStore::open(&options) {
        Err(MetadataError::Incompatible {
            reason: Incompatibility::Newer { found: 99, .. },
            ..
        }) => {}
        other => panic!("expected a newer zenml schema to be refused, got {other:?}"),
    }
    server.admin(&format!("UPDATE `{db}`.zenml_schema SET version = 2"));
    assert_eq!(open(&options).runs(None).expect("runs").len(), 1);

    let other = server.create();
    let odb = &other.database;
    server.admin(&format!(
        "CREATE TABLE `{odb}`.invoices (id INT PRIMARY KEY); \
         INSERT INTO `{odb}`.invoices VALUES (1)"
    ));
    for mode in [OpenMode::Create, OpenMode::Existing, OpenMode::ReadOnly] {
        match MysqlMetadataStore::open_with(&other, mode) {
            Err(MetadataError::Incompatible {
                reason: Incompatibility::Foreign { tables },
                ..
            }) => assert_eq!(tables, ["invoices"]),
            other => panic!("{mode:?}: expected a foreign database to be refused, got {other:?}"),
        }
    }
    // Nothing was added to it.
    let probe = MysqlOptions {
        database: odb.clone(),
        ..server.server().clone()
    };
    let mut conn = mysql_conn(&probe);
    let tables: Vec<String> = mysql::prelude::Queryable::query(
        &mut conn,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
    )
    .expect("tables");
    assert_eq!(tables, ["invoices"]);
}

fn mysql_conn(options: &MysqlOptions) -> mysql::Conn {
    let opts = mysql::OptsBuilder::new()
        .ip_or_hostname(Some(options.host.clone()))
        .tcp_port(options.port)
        .user(Some(options.user.clone()))
        .pass(options.password.clone())
        .db_name(Some(options.database.clone()));
    mysql::Conn::new(opts).expect("connect")
}

// ---------------------------------------------------------------------------------------------
// Lost connections and connection errors

#[test]
fn a_connection_the_server_ended_is_replaced_by_the_next_operation() {
    let test = "a_connection_the_server_ended_is_replaced_by_the_next_operation";
    let Some(server) = server(test) else { return };
    let options = server.create();
    let store = open(&options);
    write_cycles(&store, "before", 2);
    assert!(server.kill_connections(&options.database) >= 1);
    // The next write and the next read each find the connection gone and connect again; what
    // the killed connection had committed is all there.
    write_cycles(&store, "after", 2);
    assert!(server.kill_connections(&options.database) >= 1);
    let runs = store.runs(None).expect("runs after the kill");
    assert_eq!(runs.len(), 4);
    assert_consistent(&store, &["before".to_owned(), "after".to_owned()], 2);
}

#[test]
fn connection_errors_are_one_line_naming_the_server_and_never_the_password() {
    let test = "connection_errors_are_one_line_naming_the_server_and_never_the_password";
    let Some(server) = server(test) else { return };
    let good = server.create();
    let refused_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("address").port()
    };
    let cases = [
        (
            "a wrong password",
            MysqlOptions {
                password: Some("not-the-Password-42".to_owned()),
                ..good.clone()
            },
            "access denied",
        ),
        (
            "an unknown database",
            MysqlOptions {
                database: format!("{}_missing", good.database),
                ..good.clone()
            },
            "no database",
        ),
        (
            "a refused port",
            MysqlOptions {
                port: refused_port,
                ..good.clone()
            },
            "cannot be reached",
        ),
    ];
    for (what, options, expected) in cases {
        let e = MysqlMetadataStore::open(&options).expect_err(what);
        let text = e.to_string();
        assert!(text.contains(&options.describe()), "{what}: {text}");
        assert!(text.contains(expected), "{what}: {text}");
        assert!(!text.contains('\n'), "{what}: one line: {text}");
        for secret in [&options.password, &good.password].into_iter().flatten() {
            assert!(!text.contains(secret.as_str()), "{what}: {text}");
            assert!(!format!("{e:?}").contains(secret.as_str()), "{what}");
        }
    }
}

#[test]
fn the_backend_registry_opens_the_store_from_a_config_without_showing_the_password() {
    let test = "the_backend_registry_opens_the_store_from_a_config_without_showing_the_password";
    let Some(server) = server(test) else { return };
    let options = server.create();
    let config = MetadataConfig::Mysql {
        host: options.host.clone(),
        port: options.port,
        user: options.user.clone(),
        database: options.database.clone(),
        password: None,
        password_env: Some("ZENML_TEST_MYSQL_PASSWORD_FOR_REGISTRY".to_owned()),
        tls: false,
    };
    let base = std::path::Path::new(".");
    // The variable is unset: the error names it.
    let e = open_metadata_store(&config, base, OpenMode::Create).expect_err("no password");
    assert!(
        e.to_string()
            .contains("ZENML_TEST_MYSQL_PASSWORD_FOR_REGISTRY"),
        "{e}"
    );
    let config = MetadataConfig::Mysql {
        host: options.host.clone(),
        port: options.port,
        user: options.user.clone(),
        database: options.database.clone(),
        password: options.password.clone(),
        password_env: None,
        tls: false,
    };
    let store = open_metadata_store(&config, base, OpenMode::Create).expect("open");
    assert_eq!(store.describe(), options.describe());
    if let Some(p) = &options.password {
        assert!(!format!("{config:?}").contains(p.as_str()));
        assert!(!format!("{store:?}").contains(p.as_str()));
    }
}

// ---------------------------------------------------------------------------------------------
// Google's ML Metadata reader, over a MySQL connection

#[test]
fn ml_metadata_reads_the_store() {
    let Some(server) = server("ml_metadata_reads_the_store") else {
        return;
    };
    let reader = match mlmd::reader() {
        Ok(r) => r,
        Err(why) => {
            conformance::skip("ml_metadata_reads_the_store", &why);
            return;
        }
    };
    let options = server.create();
    let written = mlmd::write_realistic_store(&open(&options));
    let json = mlmd::read(&reader, url(&options));
    // The realistic store holds an i64::MAX parameter, beyond ML Metadata's 32-bit MySQL
    // column: zenml's wider column is read all the same.
    mlmd::check(&json, &written, mlmd::Db::Mysql);
}
