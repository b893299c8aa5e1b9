//! The database layout: ML Metadata's schema version 10, plus zenml's own tables, and the check
//! made when a store is opened.

use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use zenml_core::store::{Incompatibility, MetadataError, MissingStore, OpenMode};

use crate::mlmd::{
    ContextTypes, Error, MLMD_SCHEMA_VERSION, OLDEST_READABLE_VERSION, PROBE_SQL, Probe, Result,
    ZENML_SCHEMA_VERSION, damaged, incompatible,
};

/// The 15 ML Metadata tables with every column ML Metadata reads, its unique constraints, the
/// secondary indexes zenml's queries use (the string-property index also serves ML Metadata's
/// `filter_query` on string properties, such as `custom_properties.cache_key.string_value`),
/// and zenml's own tables.
///
/// Besides ML Metadata's tables:
/// - `zenml_schema(version)`: one row, [`ZENML_SCHEMA_VERSION`].
/// - `zenml_step_type(type_id, kind)`: the step kind of each step type (ML Metadata's base type
///   cannot tell a split from a preprocesser).
/// - `zenml_cache(cache_key, execution_id)`: the reusable execution of each cache key (the
///   newest COMPLETE one that was not invalidated), so that a lookup is one primary-key read no
///   matter how many cached re-runs share the key.
/// - `zenml_run_owner(run_id, owner, heartbeat_ms)`: the process running each run whose status
///   is `running`, and when it last said it was alive (see [`V2`]).
const DDL: &str = "
CREATE TABLE Type (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(255) NOT NULL,
    version VARCHAR(255),
    type_kind TINYINT(1) NOT NULL,
    description TEXT,
    input_type TEXT,
    output_type TEXT,
    external_id VARCHAR(255) UNIQUE
);
CREATE TABLE TypeProperty (
    type_id INT NOT NULL,
    name VARCHAR(255) NOT NULL,
    data_type INT,
    PRIMARY KEY (type_id, name)
);
CREATE TABLE ParentType (
    type_id INT NOT NULL,
    parent_type_id INT NOT NULL,
    PRIMARY KEY (type_id, parent_type_id)
);
CREATE TABLE Artifact (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type_id INT NOT NULL,
    uri TEXT,
    state INT,
    name VARCHAR(255),
    external_id VARCHAR(255) UNIQUE,
    create_time_since_epoch INT NOT NULL DEFAULT 0,
    last_update_time_since_epoch INT NOT NULL DEFAULT 0,
    UNIQUE (type_id, name)
);
CREATE TABLE ArtifactProperty (
    artifact_id INT NOT NULL,
    name VARCHAR(255) NOT NULL,
    is_custom_property TINYINT(1) NOT NULL,
    int_value INT,
    double_value DOUBLE,
    string_value TEXT,
    byte_value BLOB,
    proto_value BLOB,
    bool_value BOOLEAN,
    PRIMARY KEY (artifact_id, name, is_custom_property)
);
CREATE TABLE Execution (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type_id INT NOT NULL,
    last_known_state INT,
    name VARCHAR(255),
    external_id VARCHAR(255) UNIQUE,
    create_time_since_epoch INT NOT NULL DEFAULT 0,
    last_update_time_since_epoch INT NOT NULL DEFAULT 0,
    UNIQUE (type_id, name)
);
CREATE TABLE ExecutionProperty (
    execution_id INT NOT NULL,
    name VARCHAR(255) NOT NULL,
    is_custom_property TINYINT(1) NOT NULL,
    int_value INT,
    double_value DOUBLE,
    string_value TEXT,
    byte_value BLOB,
    proto_value BLOB,
    bool_value BOOLEAN,
    PRIMARY KEY (execution_id, name, is_custom_property)
);
CREATE TABLE Context (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type_id INT NOT NULL,
    name VARCHAR(255) NOT NULL,
    external_id VARCHAR(255) UNIQUE,
    create_time_since_epoch INT NOT NULL DEFAULT 0,
    last_update_time_since_epoch INT NOT NULL DEFAULT 0,
    UNIQUE (type_id, name)
);
CREATE TABLE ContextProperty (
    context_id INT NOT NULL,
    name VARCHAR(255) NOT NULL,
    is_custom_property TINYINT(1) NOT NULL,
    int_value INT,
    double_value DOUBLE,
    string_value TEXT,
    byte_value BLOB,
    proto_value BLOB,
    bool_value BOOLEAN,
    PRIMARY KEY (context_id, name, is_custom_property)
);
CREATE TABLE ParentContext (
    context_id INT NOT NULL,
    parent_context_id INT NOT NULL,
    PRIMARY KEY (context_id, parent_context_id)
);
CREATE TABLE Event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    artifact_id INT NOT NULL,
    execution_id INT NOT NULL,
    type INT NOT NULL,
    milliseconds_since_epoch INT,
    UNIQUE (artifact_id, execution_id, type)
);
CREATE TABLE EventPath (
    event_id INT NOT NULL,
    is_index_step TINYINT(1) NOT NULL,
    step_index INT,
    step_key TEXT
);
CREATE TABLE Association (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    context_id INT NOT NULL,
    execution_id INT NOT NULL,
    UNIQUE (context_id, execution_id)
);
CREATE TABLE Attribution (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    context_id INT NOT NULL,
    artifact_id INT NOT NULL,
    UNIQUE (context_id, artifact_id)
);
CREATE TABLE MLMDEnv (
    schema_version INTEGER PRIMARY KEY
);

CREATE UNIQUE INDEX idx_type_identity ON Type (name, version, type_kind);
CREATE INDEX idx_execution_type ON Execution (type_id);
CREATE INDEX idx_event_execution ON Event (execution_id);
CREATE INDEX idx_eventpath_event ON EventPath (event_id);
CREATE INDEX idx_association_execution ON Association (execution_id);
CREATE INDEX idx_attribution_artifact ON Attribution (artifact_id);
CREATE INDEX idx_parentcontext_parent ON ParentContext (parent_context_id);
CREATE INDEX idx_execution_property_string
    ON ExecutionProperty (name, is_custom_property, string_value) WHERE string_value IS NOT NULL;

CREATE TABLE zenml_schema (version INTEGER NOT NULL);
CREATE TABLE zenml_step_type (type_id INTEGER PRIMARY KEY, kind TEXT NOT NULL);
CREATE TABLE zenml_cache (
    cache_key TEXT PRIMARY KEY,
    execution_id INTEGER NOT NULL
) WITHOUT ROWID;
";

/// What version 2 adds: the owner of each running run. A row is written when a run begins and
/// removed when it ends, so the table holds only the runs in progress (or left behind by a
/// process that died).
pub(crate) const V2: &str = "
CREATE TABLE zenml_run_owner (
    run_id INTEGER PRIMARY KEY,
    owner TEXT NOT NULL,
    heartbeat_ms INTEGER NOT NULL
);
";

/// Brings a version 1 store to version 2: the owner table, with the runs still `running` in it
/// under an unknown owner (their processes are judged by their heartbeat, which is now).
const MIGRATE_1_TO_2: &str = "
INSERT INTO zenml_run_owner (run_id, owner, heartbeat_ms)
    SELECT p.context_id, '', CAST(strftime('%s', 'now') AS INTEGER) * 1000
    FROM ContextProperty p JOIN Context c ON c.id = p.context_id
    JOIN Type t ON t.id = c.type_id
    WHERE t.name = 'zenml.pipeline_run' AND t.type_kind = 2
    AND p.name = 'status' AND p.is_custom_property = 0 AND p.string_value = 'running';
UPDATE zenml_schema SET version = 2;
";

/// The rows of a new store (besides the two schema versions): ML Metadata's nine built-in simple types (which
/// read-only ML Metadata clients require), and zenml's two context types with their declared
/// properties (`PropertyType`: 1 INT, 3 STRING).
const SEED: &str = "
INSERT INTO Type (id, name, type_kind) VALUES
    (1, 'mlmd.Dataset', 1), (2, 'mlmd.Model', 1), (3, 'mlmd.Metrics', 1), (4, 'mlmd.Statistics', 1),
    (5, 'mlmd.Train', 0), (6, 'mlmd.Transform', 0), (7, 'mlmd.Process', 0), (8, 'mlmd.Evaluate', 0),
    (9, 'mlmd.Deploy', 0);
INSERT INTO Type (name, type_kind, description) VALUES
    ('zenml.pipeline', 2, 'A zenml pipeline: its declarative config and its run count.'),
    ('zenml.pipeline_run', 2, 'A run of a zenml pipeline: the config it ran with, and its status.');
INSERT INTO TypeProperty (type_id, name, data_type)
    SELECT id, 'config', 3 FROM Type WHERE name = 'zenml.pipeline' AND type_kind = 2;
INSERT INTO TypeProperty (type_id, name, data_type)
    SELECT id, 'run_count', 1 FROM Type WHERE name = 'zenml.pipeline' AND type_kind = 2;
INSERT INTO TypeProperty (type_id, name, data_type)
    SELECT id, p.name, p.data_type FROM Type,
        (SELECT 'config' AS name, 3 AS data_type UNION ALL SELECT 'status', 3
         UNION ALL SELECT 'run_number', 1 UNION ALL SELECT 'started_ms', 1
         UNION ALL SELECT 'finished_ms', 1) AS p
    WHERE Type.name = 'zenml.pipeline_run' AND Type.type_kind = 2;
";

fn probe(conn: &Connection) -> rusqlite::Result<Probe> {
    conn.query_row(PROBE_SQL, [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })
}

fn missing(location: &str, problem: MissingStore) -> Error {
    Error::Store(MetadataError::Missing {
        store: location.to_owned(),
        problem,
    })
}

/// Checks that `conn` holds a zenml store this version can use as `mode` says: creating one in
/// an empty database ([`OpenMode::Create`]), migrating an older one (not when read-only). An
/// existing, current store costs one query; anything else is refused without writing to it.
///
/// Several processes may create one store at the same moment. Switching a new database to WAL
/// takes an exclusive lock, and SQLite reports a connection that meets another one's lock in
/// the middle of that as busy at once, without waiting: such an attempt is made again (it
/// changed nothing), for as long as the busy timeout.
pub(crate) fn open(conn: &mut Connection, location: &str, mode: OpenMode) -> Result<ContextTypes> {
    let deadline = Instant::now() + super::BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(1);
    loop {
        match open_once(conn, location, mode) {
            Err(Error::Sqlite(e)) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

fn open_once(conn: &mut Connection, location: &str, mode: OpenMode) -> Result<ContextTypes> {
    match probe(conn) {
        Ok(p) => check(conn, p, location, mode),
        Err(e) if is_not_a_database(&e) => Err(Error::Store(MetadataError::Damaged {
            store: location.to_owned(),
            detail: "the file is not a SQLite database".to_owned(),
        })),
        Err(e) if is_busy(&e) => Err(e.into()),
        // A missing table: an empty database, or one that is not a zenml store.
        Err(rusqlite::Error::SqliteFailure(_, _)) => create_or_refuse(conn, location, mode),
        Err(e) => Err(e.into()),
    }
}

fn is_not_a_database(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase)
}

fn check(conn: &mut Connection, p: Probe, location: &str, mode: OpenMode) -> Result<ContextTypes> {
    match p {
        (Some(ZENML_SCHEMA_VERSION), Some(MLMD_SCHEMA_VERSION), Some(pipeline), Some(run)) => {
            Ok(ContextTypes { pipeline, run })
        }
        (Some(v), _, _, _) if v > ZENML_SCHEMA_VERSION => Err(incompatible(
            location,
            Incompatibility::Newer {
                found: v,
                supported: ZENML_SCHEMA_VERSION,
            },
        )),
        (Some(v), Some(MLMD_SCHEMA_VERSION), Some(pipeline), Some(run))
            if v >= OLDEST_READABLE_VERSION =>
        {
            if mode == OpenMode::ReadOnly {
                return Ok(ContextTypes { pipeline, run });
            }
            migrate(conn, location)
        }
        (Some(v), _, _, _) if v < OLDEST_READABLE_VERSION => Err(incompatible(
            location,
            Incompatibility::UnknownVersion {
                found: v,
                oldest: OLDEST_READABLE_VERSION,
                supported: ZENML_SCHEMA_VERSION,
            },
        )),
        (None, _, _, _) => Err(damaged(location, "the zenml_schema table is empty")),
        (_, Some(m), _, _) if m != MLMD_SCHEMA_VERSION => Err(incompatible(
            location,
            Incompatibility::MlmdVersion {
                found: m,
                expected: MLMD_SCHEMA_VERSION,
            },
        )),
        _ => Err(damaged(
            location,
            "ML Metadata's version or zenml's context types are missing",
        )),
    }
}

/// Brings an older store to [`ZENML_SCHEMA_VERSION`], in one transaction (another process may
/// be doing the same: whichever comes second finds the work done).
fn migrate(conn: &mut Connection, location: &str) -> Result<ContextTypes> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: Option<i64> =
        tx.query_row("SELECT max(version) FROM zenml_schema", [], |r| r.get(0))?;
    if version == Some(1) {
        tx.execute_batch(V2)?;
        tx.execute_batch(MIGRATE_1_TO_2)?;
    }
    let p = probe(&tx)?;
    tx.commit()?;
    match p {
        (Some(ZENML_SCHEMA_VERSION), ..) => check_current(p, location),
        _ => Err(damaged(
            location,
            &format!("its store schema version {version:?} could not be brought up to date"),
        )),
    }
}

fn check_current(p: Probe, location: &str) -> Result<ContextTypes> {
    match p {
        (Some(ZENML_SCHEMA_VERSION), Some(MLMD_SCHEMA_VERSION), Some(pipeline), Some(run)) => {
            Ok(ContextTypes { pipeline, run })
        }
        _ => Err(damaged(
            location,
            "ML Metadata's version or zenml's context types are missing",
        )),
    }
}

fn create_or_refuse(conn: &mut Connection, location: &str, mode: OpenMode) -> Result<ContextTypes> {
    let tables = user_tables(conn)?;
    if tables.is_empty() && mode != OpenMode::Create {
        // A store that existed is never re-created empty: that would start its history afresh
        // without a word.
        return Err(missing(location, MissingStore::Empty));
    }
    // WAL is a property of the file: set it before the first table exists, outside any
    // transaction. On a database that turns out to be foreign, nothing else is written.
    if tables.is_empty() {
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have created the store while this one waited for the lock.
    let tables = user_tables(&tx)?;
    if tables.is_empty() {
        tx.execute_batch(DDL)?;
        tx.execute_batch(V2)?;
        tx.execute_batch(SEED)?;
        tx.execute(
            "INSERT INTO MLMDEnv (schema_version) VALUES (?1)",
            [MLMD_SCHEMA_VERSION],
        )?;
        tx.execute(
            "INSERT INTO zenml_schema (version) VALUES (?1)",
            [ZENML_SCHEMA_VERSION],
        )?;
        let p = probe(&tx)?;
        tx.commit()?;
        return check_current(p, location);
    }
    if tables.iter().any(|t| t == "zenml_schema") {
        let p = probe(&tx).optional()?;
        drop(tx);
        return match p {
            Some(p) => check(conn, p, location, mode),
            None => Err(damaged(location, "zenml's tables are incomplete")),
        };
    }
    if tables.iter().any(|t| t == "MLMDEnv") {
        return Err(incompatible(location, Incompatibility::ForeignMlmd));
    }
    Err(incompatible(location, Incompatibility::Foreign { tables }))
}

fn user_tables(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(names)
}
