//! The floor of a fully cached rerun on SQLite: what any tool that records its cache hits in a
//! SQLite file must at least do, as a process of its own.
//!
//! ```text
//! zenml-bench-floor --init DB ROWS        # a database of ROWS recorded executions
//! zenml-bench-floor DB STEPS [--keep-wal] # open, then per step: one indexed lookup, one recorded execution
//! zenml-bench-floor --hold DB             # keep any SQLite database open until standard input closes
//! ```
//!
//! A run opens the database with the metadata store's settings (WAL, `synchronous = NORMAL`, a
//! busy timeout), and for each of STEPS steps looks an earlier execution up by its cache key
//! (an indexed lookup that hits) and records a new execution in a transaction of its own, then
//! exits. `--keep-wal` leaves the write-ahead log in place when the process closes the database
//! (no checkpoint on close), as the metadata store does; without it SQLite checkpoints the log
//! into the database and deletes it at close. `cargo bench --bench pipeline_overhead` times this
//! binary beside the framework's cached reruns, round by round.

use std::process::ExitCode;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, TransactionBehavior, params};

const USAGE: &str = "usage: zenml-bench-floor --init DB ROWS | zenml-bench-floor DB STEPS \
                     [--keep-wal] | zenml-bench-floor --hold DB";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag, db] if flag == "--hold" => hold(db),
        [flag, db, rows] if flag == "--init" => match rows.parse() {
            Ok(rows) => init(db, rows),
            Err(e) => Err(format!("ROWS: {e}")),
        },
        [db, steps, rest @ ..] => match (steps.parse(), rest) {
            (Ok(steps), []) => rerun(db, steps, false),
            (Ok(steps), [flag]) if flag == "--keep-wal" => rerun(db, steps, true),
            (Err(e), _) => Err(format!("STEPS: {e}")),
            _ => Err(USAGE.to_owned()),
        },
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zenml-bench-floor: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The cache key of execution `i`: what a step's cache key looks like (32 hex digits).
fn key(i: u64) -> String {
    format!(
        "{:032x}",
        u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
    )
}

fn init(db: &str, rows: u64) -> Result<(), String> {
    let mut conn = Connection::open(db).map_err(|e| e.to_string())?;
    let _mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS execution (
             id INTEGER PRIMARY KEY,
             step INTEGER NOT NULL,
             cache_key TEXT NOT NULL,
             state INTEGER NOT NULL,
             created INTEGER NOT NULL);
         CREATE INDEX IF NOT EXISTS execution_by_key ON execution (cache_key);",
    )
    .map_err(|e| e.to_string())?;
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO execution (step, cache_key, state, created) VALUES (?1, ?2, 3, 0)",
            )
            .map_err(|e| e.to_string())?;
        for i in 0..rows {
            insert
                .execute(params![i64::try_from(i % 50).unwrap_or(0), key(i)])
                .map_err(|e| e.to_string())?;
        }
    }
    tx.commit().map_err(|e| e.to_string())
}

fn rerun(db: &str, steps: u64, keep_wal: bool) -> Result<(), String> {
    let mut conn = Connection::open(db).map_err(|e| e.to_string())?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(|e| e.to_string())?;
    if keep_wal {
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(|e| e.to_string())?;
    }
    for step in 0..steps {
        let found: i64 = conn
            .prepare_cached("SELECT id FROM execution WHERE cache_key = ?1 AND state = 3 LIMIT 1")
            .and_then(|mut lookup| lookup.query_row([key(step)], |r| r.get(0)))
            .map_err(|e| format!("step {step}: {e} (was the database made with --init?)"))?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| e.to_string())?;
        tx.prepare_cached(
            "INSERT INTO execution (step, cache_key, state, created) VALUES (?1, ?2, 4, ?3)",
        )
        .and_then(|mut insert| insert.execute(params![found, key(step), 1]))
        .map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
    }
    conn.close().map_err(|(_, e)| e.to_string())
}

/// Keeps `db` open (its WAL index mapped) until standard input closes, so that the processes
/// timed meanwhile neither open it first nor close it last; says `holding` once it holds it.
fn hold(db: &str) -> Result<(), String> {
    let conn = Connection::open(db).map_err(|e| e.to_string())?;
    let _tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    println!("holding");
    std::io::Write::flush(&mut std::io::stdout()).map_err(|e| e.to_string())?;
    let mut sink = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink).map_err(|e| e.to_string())?;
    drop(conn);
    Ok(())
}
