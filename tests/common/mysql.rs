//! A MySQL or MariaDB server for the tests of the shared metadata store: throw-away databases on
//! the server `ZENML_TEST_MYSQL_URL` names, and the command that points a repository at one.
#![allow(dead_code, unreachable_pub)]

use zenml::backends::mysql::{MysqlOptions, ScratchDatabases};

/// The test server, or `None` after printing why the test skips (failing under CI).
#[track_caller]
pub fn mysql_server(test: &str) -> Option<ScratchDatabases> {
    match ScratchDatabases::from_env() {
        Ok(s) => Some(s),
        Err(why) => {
            zenml::store::conformance::skip(test, &why);
            None
        }
    }
}

/// `zenml config metadata set mysql …` for `db`, without a password option.
pub fn set_mysql(db: &MysqlOptions) -> Vec<String> {
    [
        "config",
        "metadata",
        "set",
        "mysql",
        "--host",
        &db.host,
        "--port",
        &db.port.to_string(),
        "--username",
        &db.user,
        "--database",
        &db.database,
    ]
    .map(str::to_owned)
    .to_vec()
}
