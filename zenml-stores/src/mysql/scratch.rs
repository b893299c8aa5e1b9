//! Throw-away databases on a MySQL or MariaDB server, for the tests of code that uses the store
//! (feature `conformance`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use mysql::prelude::Queryable;

use super::MysqlOptions;

/// Fresh, empty databases on the server [`URL_VAR`](Self::URL_VAR) names, one per call of
/// [`create`](Self::create), each dropped when this value is dropped.
///
/// The URL names an account and a database; the databases made are named after that database
/// (`<database>_<process>_<n>`), so the account needs the right to create and drop databases of
/// that prefix, and to see and end its own connections:
///
/// ```sql
/// CREATE USER 'zenml_ci'@'127.0.0.1' IDENTIFIED BY '…';
/// GRANT ALL ON `zenml\_ci%`.* TO 'zenml_ci'@'127.0.0.1';
/// ```
///
/// ```no_run
/// use zenml_stores::mysql::{MysqlMetadataStore, ScratchDatabases};
///
/// let Ok(server) = ScratchDatabases::from_env() else { return Ok(()) };
/// let store = MysqlMetadataStore::open(&server.create())?;
/// # Ok::<(), zenml_core::store::MetadataError>(())
/// ```
#[derive(Debug)]
pub struct ScratchDatabases {
    admin: MysqlOptions,
    made: Mutex<Vec<String>>,
}

/// The number of the next database this process makes (tests in one process share it).
static NEXT: AtomicU32 = AtomicU32::new(0);

impl ScratchDatabases {
    /// The environment variable naming the server: `mysql://user[:password]@host[:port]/db`.
    pub const URL_VAR: &'static str = "ZENML_TEST_MYSQL_URL";

    /// The server the environment names; `Err` says why there is none, for a test to print as
    /// its reason to skip.
    pub fn from_env() -> Result<ScratchDatabases, String> {
        let url = std::env::var(Self::URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                format!(
                    "set {} to mysql://user[:password]@127.0.0.1:3306/database (an account \
                     that may create databases named after that one) to test on MySQL or \
                     MariaDB",
                    Self::URL_VAR
                )
            })?;
        ScratchDatabases::from_url(&url).map_err(|e| format!("{}: {e}", Self::URL_VAR))
    }

    /// The server `url` names (`mysql://user[:password]@host[:port]/db`); `Err` says why the URL
    /// is not usable (without showing it).
    pub fn from_url(url: &str) -> Result<ScratchDatabases, String> {
        let admin = MysqlOptions::from_url(url).map_err(|e| e.to_string())?;
        Ok(ScratchDatabases {
            admin,
            made: Mutex::new(Vec::new()),
        })
    }

    /// The options of the server's account, on the database the URL names.
    pub fn server(&self) -> &MysqlOptions {
        &self.admin
    }

    /// A new, empty database, and the options that open it.
    ///
    /// # Panics
    ///
    /// If the server refuses (this is for tests).
    pub fn create(&self) -> MysqlOptions {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}_{}_{n}", self.admin.database, std::process::id());
        self.admin(&format!(
            "DROP DATABASE IF EXISTS `{name}`; \
             CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ));
        self.made
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(name.clone());
        MysqlOptions {
            database: name,
            ..self.admin.clone()
        }
    }

    /// Ends, from the server's side (`KILL`), every connection of the account to `database`
    /// except this call's own, as a server restart or an administrator would; returns how many.
    ///
    /// # Panics
    ///
    /// If the server refuses.
    pub fn kill_connections(&self, database: &str) -> usize {
        let mut conn = self.connect();
        let ids: Vec<u64> = conn
            .exec(
                "SELECT id FROM information_schema.processlist \
                 WHERE db = ? AND id <> CONNECTION_ID()",
                (database,),
            )
            .unwrap_or_else(|e| panic!("listing connections: {e}"));
        for id in &ids {
            // A connection that ended meanwhile is not an error.
            let _ = conn.query_drop(format!("KILL CONNECTION {id}"));
        }
        ids.len()
    }

    /// Runs `sql` on the server, on the database the URL names.
    ///
    /// # Panics
    ///
    /// If the server refuses.
    pub fn admin(&self, sql: &str) {
        self.connect()
            .query_drop(sql)
            .unwrap_or_else(|e| panic!("{}: {sql}: {e}", self.admin.describe()));
    }

    fn connect(&self) -> mysql::Conn {
        let opts = self
            .admin
            .opts()
            .unwrap_or_else(|e| panic!("{}: {e}", self.admin.describe()));
        mysql::Conn::new(opts).unwrap_or_else(|e| panic!("{}: {e}", self.admin.describe()))
    }
}

impl Drop for ScratchDatabases {
    fn drop(&mut self) {
        let made = std::mem::take(
            self.made
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if made.is_empty() {
            return;
        }
        if let Ok(Ok(mut conn)) = self.admin.opts().map(mysql::Conn::new) {
            for name in made {
                let _ = conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"));
            }
        }
    }
}
