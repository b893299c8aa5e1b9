//! The database layout on MySQL: ML Metadata's schema version 10 as ML Metadata lays it out on
//! MySQL, with `int_value` widened to 64 bits and strings in binary columns, plus zenml's own
//! tables; and the check made when a store is opened.

use mysql::prelude::Queryable;
use zenml_core::store::{Incompatibility, MetadataError, MissingStore, OpenMode};

use crate::mlmd::{
    ContextTypes, Error, MLMD_SCHEMA_VERSION, OLDEST_READABLE_VERSION, PROBE_SQL, Probe, Result,
    ZENML_SCHEMA_VERSION, damaged, incompatible,
};

/// The options of every table zenml creates: InnoDB, and strings as binary columns (a `VARCHAR`
/// is made a `VARBINARY`, a `TEXT` a `BLOB`): no client's character set converts them, and names
/// compare byte for byte (`Pipeline A` and `pipeline a` are two pipelines, as on SQLite).
const TABLE_OPTIONS: &str = "ENGINE=InnoDB DEFAULT CHARSET=binary";

/// ML Metadata's 15 tables, as its MySQL source creates them (ids `INT`, timestamps `BIGINT`,
/// strings `MEDIUMTEXT`, the named unique constraints), except that every `int_value` is a
/// `BIGINT` (ML Metadata's `INT` cannot hold a Rust `i64`, and its reader reads the wider column
/// all the same) and that strings are binary ([`TABLE_OPTIONS`]).
const MLMD_TABLES: [&str; 15] = [
    "CREATE TABLE IF NOT EXISTS `Type` (
        `id` INT PRIMARY KEY AUTO_INCREMENT,
        `name` VARCHAR(255) NOT NULL,
        `version` VARCHAR(255),
        `type_kind` TINYINT(1) NOT NULL,
        `description` TEXT,
        `input_type` TEXT,
        `output_type` TEXT,
        `external_id` VARCHAR(255) UNIQUE,
        UNIQUE KEY `idx_type_identity` (`name`, `version`, `type_kind`)
    )",
    "CREATE TABLE IF NOT EXISTS `TypeProperty` (
        `type_id` INT NOT NULL,
        `name` VARCHAR(255) NOT NULL,
        `data_type` INT NULL,
        PRIMARY KEY (`type_id`, `name`)
    )",
    "CREATE TABLE IF NOT EXISTS `ParentType` (
        `type_id` INT NOT NULL,
        `parent_type_id` INT NOT NULL,
        PRIMARY KEY (`type_id`, `parent_type_id`)
    )",
    "CREATE TABLE IF NOT EXISTS `Artifact` (
        `id` INTEGER PRIMARY KEY AUTO_INCREMENT,
        `type_id` INT NOT NULL,
        `uri` TEXT,
        `state` INT,
        `name` VARCHAR(255),
        `external_id` VARCHAR(255) UNIQUE,
        `create_time_since_epoch` BIGINT NOT NULL DEFAULT 0,
        `last_update_time_since_epoch` BIGINT NOT NULL DEFAULT 0,
        CONSTRAINT UniqueArtifactTypeName UNIQUE (`type_id`, `name`)
    )",
    "CREATE TABLE IF NOT EXISTS `ArtifactProperty` (
        `artifact_id` INT NOT NULL,
        `name` VARCHAR(255) NOT NULL,
        `is_custom_property` TINYINT(1) NOT NULL,
        `int_value` BIGINT,
        `double_value` DOUBLE,
        `string_value` MEDIUMTEXT,
        `byte_value` MEDIUMBLOB,
        `proto_value` MEDIUMBLOB,
        `bool_value` BOOLEAN,
        PRIMARY KEY (`artifact_id`, `name`, `is_custom_property`)
    )",
    "CREATE TABLE IF NOT EXISTS `Execution` (
        `id` INTEGER PRIMARY KEY AUTO_INCREMENT,
        `type_id` INT NOT NULL,
        `last_known_state` INT,
        `name` VARCHAR(255),
        `external_id` VARCHAR(255) UNIQUE,
        `create_time_since_epoch` BIGINT NOT NULL DEFAULT 0,
        `last_update_time_since_epoch` BIGINT NOT NULL DEFAULT 0,
        CONSTRAINT UniqueExecutionTypeName UNIQUE (`type_id`, `name`)
    )",
    "CREATE TABLE IF NOT EXISTS `ExecutionProperty` (
        `execution_id` INT NOT NULL,
        `name` VARCHAR(255) NOT NULL,
        `is_custom_property` TINYINT(1) NOT NULL,
        `int_value` BIGINT,
        `double_value` DOUBLE,
        `string_value` MEDIUMTEXT,
        `byte_value` MEDIUMBLOB,
        `proto_value` MEDIUMBLOB,
        `bool_value` BOOLEAN,
        PRIMARY KEY (`execution_id`, `name`, `is_custom_property`)
    )",
    "CREATE TABLE IF NOT EXISTS `Context` (
        `id` INTEGER PRIMARY KEY AUTO_INCREMENT,
        `type_id` INT NOT NULL,
        `name` VARCHAR(255) NOT NULL,
        `external_id` VARCHAR(255) UNIQUE,
        `create_time_since_epoch` BIGINT NOT NULL DEFAULT 0,
        `last_update_time_since_epoch` BIGINT NOT NULL DEFAULT 0,
        UNIQUE (`type_id`, `name`)
    )",
    "CREATE TABLE IF NOT EXISTS `ContextProperty` (
        `context_id` INT NOT NULL,
        `name` VARCHAR(255) NOT NULL,
        `is_custom_property` TINYINT(1) NOT NULL,
        `int_value` BIGINT,
        `double_value` DOUBLE,
        `string_value` MEDIUMTEXT,
        `byte_value` MEDIUMBLOB,
        `proto_value` MEDIUMBLOB,
        `bool_value` BOOLEAN,
        PRIMARY KEY (`context_id`, `name`, `is_custom_property`)
    )",
    "CREATE TABLE IF NOT EXISTS `ParentContext` (
        `context_id` INT NOT NULL,
        `parent_context_id` INT NOT NULL,
        PRIMARY KEY (`context_id`, `parent_context_id`)
    )",
    "CREATE TABLE IF NOT EXISTS `Event` (
        `id` INTEGER PRIMARY KEY AUTO_INCREMENT,
        `artifact_id` INT NOT NULL,
        `execution_id` INT NOT NULL,
        `type` INT NOT NULL,
        `milliseconds_since_epoch` BIGINT,
        CONSTRAINT UniqueEvent UNIQUE (`artifact_id`, `execution_id`, `type`)
    )",
    "CREATE TABLE IF NOT EXISTS `EventPath` (
        `event_id` INT NOT NULL,
        `is_index_step` TINYINT(1) NOT NULL,
        `step_index` INT,
        `step_key` TEXT
    )",
    "CREATE TABLE IF NOT EXISTS `Association` (
        `id` INTEGER PRIMARY KEY AUTO_INCREMENT,
        `context_id` INT NOT NULL,
        `execution_id` INT NOT NULL,
        UNIQUE (`context_id`, `execution_id`)
    )",
    "CREATE TABLE IF NOT EXISTS `Attribution` (
        `id` INTEGER PRIMARY KEY AUTO_INCREMENT,
        `context_id` INT NOT NULL,
        `artifact_id` INT NOT NULL,
        UNIQUE (`context_id`, `artifact_id`)
    )",
    "CREATE TABLE IF NOT EXISTS `MLMDEnv` (
        `schema_version` INTEGER PRIMARY KEY
    )",
];

/// The secondary indexes zenml's queries use (the string-property index also serves ML
/// Metadata's `filter_query` on string properties).
const INDEXES: [&str; 7] = [
    "CREATE INDEX `idx_execution_type` ON `Execution` (`type_id`)",
    "CREATE INDEX `idx_event_execution` ON `Event` (`execution_id`)",
    "CREATE INDEX `idx_eventpath_event` ON `EventPath` (`event_id`)",
    "CREATE INDEX `idx_association_execution` ON `Association` (`execution_id`)",
    "CREATE INDEX `idx_attribution_artifact` ON `Attribution` (`artifact_id`)",
    "CREATE INDEX `idx_parentcontext_parent` ON `ParentContext` (`parent_context_id`)",
    "CREATE INDEX `idx_execution_property_string` \
     ON `ExecutionProperty` (`name`, `is_custom_property`, `string_value`(255))",
];

/// zenml's own tables (see the `mlmd` module docs).
const ZENML_TABLES: [&str; 4] = [
    "CREATE TABLE IF NOT EXISTS `zenml_schema` (`version` INT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS `zenml_step_type` (
        `type_id` INT PRIMARY KEY,
        `kind` VARCHAR(32) NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS `zenml_cache` (
        `cache_key` VARCHAR(64) PRIMARY KEY,
        `execution_id` INT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS `zenml_run_owner` (
        `run_id` INT PRIMARY KEY,
        `owner` TEXT NOT NULL,
        `heartbeat_ms` BIGINT NOT NULL
    )",
];

/// ML Metadata's nine built-in simple types, which its read-only clients require.
const SIMPLE_TYPES: &str = "INSERT INTO `Type` (`id`, `name`, `type_kind`) VALUES
    (1, 'mlmd.Dataset', 1), (2, 'mlmd.Model', 1), (3, 'mlmd.Metrics', 1), (4, 'mlmd.Statistics', 1),
    (5, 'mlmd.Train', 0), (6, 'mlmd.Transform', 0), (7, 'mlmd.Process', 0), (8, 'mlmd.Evaluate', 0),
    (9, 'mlmd.Deploy', 0)";

/// zenml's two context types and their declared properties (`PropertyType`: 1 INT, 3 STRING).
const CONTEXT_TYPES: [&str; 4] = [
    "INSERT INTO `Type` (`name`, `type_kind`, `description`) SELECT 'zenml.pipeline', 2, \
     'A zenml pipeline: its declarative config and its run count.' FROM DUAL WHERE NOT EXISTS \
     (SELECT 1 FROM `Type` WHERE `name` = 'zenml.pipeline' AND `type_kind` = 2)",
    "INSERT INTO `Type` (`name`, `type_kind`, `description`) SELECT 'zenml.pipeline_run', 2, \
     'A run of a zenml pipeline: the config it ran with, and its status.' FROM DUAL WHERE NOT \
     EXISTS (SELECT 1 FROM `Type` WHERE `name` = 'zenml.pipeline_run' AND `type_kind` = 2)",
    "INSERT IGNORE INTO `TypeProperty` (`type_id`, `name`, `data_type`) \
     SELECT `id`, p.`name`, p.`data_type` FROM `Type`, \
     (SELECT 'config' AS `name`, 3 AS `data_type` UNION ALL SELECT 'run_count', 1) AS p \
     WHERE `Type`.`name` = 'zenml.pipeline' AND `Type`.`type_kind` = 2",
    "INSERT IGNORE INTO `TypeProperty` (`type_id`, `name`, `data_type`) \
     SELECT `id`, p.`name`, p.`data_type` FROM `Type`, \
     (SELECT 'config' AS `name`, 3 AS `data_type` UNION ALL SELECT 'status', 3 \
      UNION ALL SELECT 'run_number', 1 UNION ALL SELECT 'started_ms', 1 \
      UNION ALL SELECT 'finished_ms', 1) AS p \
     WHERE `Type`.`name` = 'zenml.pipeline_run' AND `Type`.`type_kind` = 2",
];

/// How long opening waits for another process that is creating the schema.
const SCHEMA_LOCK_SECONDS: u32 = 60;

fn tables(conn: &mut mysql::Conn) -> Result<Vec<String>> {
    Ok(conn.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() \
         ORDER BY table_name",
    )?)
}

fn probe(conn: &mut mysql::Conn) -> Result<Probe> {
    let row: Option<Probe> = conn.query_first(PROBE_SQL)?;
    Ok(row.unwrap_or((None, None, None, None)))
}

/// Checks that the database holds a zenml store this version can use as `mode` says: creating
/// one in an empty database ([`OpenMode::Create`]), adding zenml's tables to an ML Metadata
/// store of schema version 10 that ML Metadata itself created (never changing what is in it),
/// migrating an older zenml store; anything else is refused without writing to it. An existing,
/// current store costs one query; the rest happens under a server-wide lock, so that processes
/// opening one new database at once create it once.
pub(crate) fn open(conn: &mut mysql::Conn, location: &str, mode: OpenMode) -> Result<ContextTypes> {
    if let Ok(p @ (Some(ZENML_SCHEMA_VERSION), Some(MLMD_SCHEMA_VERSION), Some(_), Some(_))) =
        probe(conn)
    {
        return check(p, location);
    }
    if mode == OpenMode::ReadOnly {
        return inspect(conn, location, mode);
    }
    let lock: Option<i64> = conn.exec_first(
        "SELECT GET_LOCK(CONCAT('zenml-schema-', DATABASE()), ?)",
        (SCHEMA_LOCK_SECONDS,),
    )?;
    if lock != Some(1) {
        return Err(Error::Store(MetadataError::backend(
            super::error::STORE,
            format!("{location}: another process held the schema lock for {SCHEMA_LOCK_SECONDS} s"),
        )));
    }
    let result = inspect(conn, location, mode);
    let _: Option<Option<i64>> =
        conn.query_first("SELECT RELEASE_LOCK(CONCAT('zenml-schema-', DATABASE()))")?;
    result
}

/// What the database holds, made usable as `mode` allows.
fn inspect(conn: &mut mysql::Conn, location: &str, mode: OpenMode) -> Result<ContextTypes> {
    let tables = tables(conn)?;
    let has = |t: &str| tables.iter().any(|x| x == t);
    if tables.is_empty() {
        if mode != OpenMode::Create {
            // A store that existed is never re-created empty: that would start its history
            // afresh without a word.
            return Err(Error::Store(MetadataError::Missing {
                store: location.to_owned(),
                problem: MissingStore::Empty,
            }));
        }
        create(conn)?;
        return check(probe(conn)?, location);
    }
    if !has("MLMDEnv") {
        return Err(incompatible(location, Incompatibility::Foreign { tables }));
    }
    let mlmd: Option<i64> = conn.query_first("SELECT max(schema_version) FROM MLMDEnv")?;
    if mlmd != Some(MLMD_SCHEMA_VERSION) {
        return match mlmd {
            Some(found) => Err(incompatible(
                location,
                Incompatibility::MlmdVersion {
                    found,
                    expected: MLMD_SCHEMA_VERSION,
                },
            )),
            None => Err(damaged(location, "its MLMDEnv table is empty")),
        };
    }
    if !has("zenml_schema") {
        // ML Metadata's own store: zenml adds its tables and context types beside ML
        // Metadata's records, and changes none of them.
        if mode == OpenMode::ReadOnly {
            return Err(incompatible(location, Incompatibility::ForeignMlmd));
        }
        adopt(conn)?;
        return check(probe(conn)?, location);
    }
    let p = probe(conn)?;
    match p.0 {
        Some(v) if v > ZENML_SCHEMA_VERSION => check(p, location),
        Some(v) if (OLDEST_READABLE_VERSION..ZENML_SCHEMA_VERSION).contains(&v) => {
            if mode == OpenMode::ReadOnly {
                return check_readable(p, location);
            }
            for ddl in ZENML_TABLES {
                conn.query_drop(format!("{ddl} {TABLE_OPTIONS}"))?;
            }
            conn.exec_drop(
                "UPDATE zenml_schema SET version = ?",
                (ZENML_SCHEMA_VERSION,),
            )?;
            check(probe(conn)?, location)
        }
        _ => check(p, location),
    }
}

fn create(conn: &mut mysql::Conn) -> Result<()> {
    // DDL commits on its own in MySQL: the tables are made first, the rows that say the store
    // is complete (MLMDEnv, zenml_schema) last, so a store cut short is seen as damaged.
    for ddl in MLMD_TABLES.iter().chain(&ZENML_TABLES) {
        conn.query_drop(format!("{ddl} {TABLE_OPTIONS}"))?;
    }
    for ddl in INDEXES {
        conn.query_drop(ddl)?;
    }
    let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
    tx.query_drop(SIMPLE_TYPES)?;
    for dml in CONTEXT_TYPES {
        tx.query_drop(dml)?;
    }
    tx.exec_drop(
        "INSERT INTO MLMDEnv (schema_version) VALUES (?)",
        (MLMD_SCHEMA_VERSION,),
    )?;
    tx.exec_drop(
        "INSERT INTO zenml_schema (version) VALUES (?)",
        (ZENML_SCHEMA_VERSION,),
    )?;
    tx.commit()?;
    Ok(())
}

/// The columns ML Metadata creates as 32-bit `INT`s that zenml widens in a store ML Metadata
/// created.
const WIDEN: [&str; 3] = [
    "ALTER TABLE `ArtifactProperty` MODIFY `int_value` BIGINT",
    "ALTER TABLE `ExecutionProperty` MODIFY `int_value` BIGINT",
    "ALTER TABLE `ContextProperty` MODIFY `int_value` BIGINT",
];

/// Adds zenml's tables and context types to a store ML Metadata created, and widens its integer
/// columns (every value is kept; ML Metadata reads the wider columns all the same).
fn adopt(conn: &mut mysql::Conn) -> Result<()> {
    for ddl in WIDEN {
        conn.query_drop(ddl)?;
    }
    for ddl in ZENML_TABLES {
        conn.query_drop(format!("{ddl} {TABLE_OPTIONS}"))?;
    }
    let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
    for dml in CONTEXT_TYPES {
        tx.query_drop(dml)?;
    }
    tx.exec_drop(
        "INSERT INTO zenml_schema (version) VALUES (?)",
        (ZENML_SCHEMA_VERSION,),
    )?;
    tx.commit()?;
    Ok(())
}

fn check(p: Probe, location: &str) -> Result<ContextTypes> {
    match p {
        (Some(ZENML_SCHEMA_VERSION), Some(MLMD_SCHEMA_VERSION), Some(pipeline), Some(run)) => {
            Ok(ContextTypes { pipeline, run })
        }
        (Some(v), ..) if v > ZENML_SCHEMA_VERSION => Err(incompatible(
            location,
            Incompatibility::Newer {
                found: v,
                supported: ZENML_SCHEMA_VERSION,
            },
        )),
        (Some(v), ..) if v < OLDEST_READABLE_VERSION => Err(incompatible(
            location,
            Incompatibility::UnknownVersion {
                found: v,
                oldest: OLDEST_READABLE_VERSION,
                supported: ZENML_SCHEMA_VERSION,
            },
        )),
        _ => Err(damaged(
            location,
            "zenml's schema version or context types are missing",
        )),
    }
}

/// The context types of an older store, read as it is.
fn check_readable(p: Probe, location: &str) -> Result<ContextTypes> {
    match p {
        (Some(_), Some(MLMD_SCHEMA_VERSION), Some(pipeline), Some(run)) => {
            Ok(ContextTypes { pipeline, run })
        }
        _ => check(p, location),
    }
}
