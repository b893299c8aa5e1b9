//! The store traits, and how backends make themselves known.
//!
//! Core owns the traits ([`MetadataStore`], [`ArtifactStore`]); the `zenml-stores` crate
//! implements them (SQLite and MySQL in the ML Metadata schema; local folders and buckets over
//! `object_store`) and registers each backend with [`inventory`], so that a repository's
//! `config.yaml` can name a backend that core itself never links to.

mod artifact;
pub mod backend;
pub mod memory;
mod metadata;

// Core's own tests run the suite on the in-memory store, with or without the feature.
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use artifact::{ArtifactStore, ArtifactStoreError, ArtifactWriter, ObjectInfo};
pub use metadata::{
    ArtifactRecord, BaseType, CacheHit, Conflict, ExecutionRecord, ExecutionState, Id,
    Incompatibility, MetadataError, MetadataQuery, MetadataStore, MissingStore, NewArtifact,
    NewExecution, PipelineRecord, PropertyType, RunRecord, RunStatus, RunningRun, StepTypeRecord,
    StepTypeSpec,
};

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which metadata store a repository uses (the `metadata:` section of `.zenml/config.yaml`).
///
/// Its `Debug` shows neither the password nor credentials in the host: `password: Some("***")`.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
#[non_exhaustive]
pub enum MetadataConfig {
    /// A SQLite file; a relative path is relative to the `.zenml` folder.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A MySQL (≥ 5.6) or MariaDB database.
    Mysql {
        /// Host name or address.
        host: String,
        /// TCP port.
        #[serde(default = "default_mysql_port")]
        port: u16,
        /// User name.
        user: String,
        /// Database name.
        database: String,
        /// The password; prefer `password_env`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
        /// The name of an environment variable that holds the password.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password_env: Option<String>,
        /// Connect over TLS (a binary built with the `mysql-tls` feature).
        #[serde(default, skip_serializing_if = "is_false")]
        tls: bool,
    },
    /// An in-memory store that lives as long as the process (for tests).
    Memory,
}

fn default_mysql_port() -> u16 {
    3306
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl fmt::Debug for MetadataConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataConfig::Sqlite { path } => {
                f.debug_struct("Sqlite").field("path", path).finish()
            }
            MetadataConfig::Mysql {
                host,
                port,
                user,
                database,
                password,
                password_env,
                tls,
            } => f
                .debug_struct("Mysql")
                .field("host", &redact_host(host))
                .field("port", port)
                .field("user", user)
                .field("database", database)
                .field("password", &password.as_ref().map(|_| "***"))
                .field("password_env", password_env)
                .field("tls", tls)
                .finish(),
            MetadataConfig::Memory => f.write_str("Memory"),
        }
    }
}

impl MetadataConfig {
    /// The backend name (`"sqlite"`, `"mysql"`, `"memory"`).
    pub fn backend(&self) -> &'static str {
        match self {
            MetadataConfig::Sqlite { .. } => "sqlite",
            MetadataConfig::Mysql { .. } => "mysql",
            MetadataConfig::Memory => "memory",
        }
    }
}

/// How a metadata store is opened.
///
/// A repository's store is created once, when the repository (or a new store for it) is set up;
/// afterwards it is only ever opened, so that a store that disappeared is reported instead of
/// silently replaced by an empty one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpenMode {
    /// Open the store, creating it where there is none (a missing or empty database gets the
    /// schema).
    Create,
    /// Open an existing store to read and write it. A missing or empty database is
    /// [`MetadataError::Missing`]; nothing is created.
    Existing,
    /// Open an existing store to read it only: nothing is created or written, so a store on a
    /// read-only file system, or in files the user may only read, can be listed and inspected.
    /// Writes fail with [`MetadataError::ReadOnly`].
    ReadOnly,
}

/// A metadata store backend, registered with `inventory::submit!` by the crate implementing it.
#[derive(Debug)]
pub struct MetadataBackend {
    /// The backend name, as in [`MetadataConfig::backend`].
    pub name: &'static str,
    /// The cargo feature of `zenml` that links it, for error messages.
    pub feature: &'static str,
    /// Opens the store as `mode` says; relative paths are relative to `base`.
    #[allow(clippy::type_complexity)]
    pub open: fn(
        &MetadataConfig,
        base: &Path,
        mode: OpenMode,
    ) -> Result<Arc<dyn MetadataQuery>, MetadataError>,
}

inventory::collect!(MetadataBackend);

/// An artifact store backend, registered with `inventory::submit!` by the crate implementing it.
#[derive(Debug)]
pub struct ArtifactBackend {
    /// The URL schemes it serves (`"file"`, `"s3"`, `"gs"`, `"az"`, `"memory"`).
    pub schemes: &'static [&'static str],
    /// The cargo feature of `zenml` that links it, for error messages.
    pub feature: &'static str,
    /// Opens the store at `url`; a plain path (no scheme) is a local folder, relative to `base`.
    #[allow(clippy::type_complexity)]
    pub open: fn(url: &str, base: &Path) -> Result<Arc<dyn ArtifactStore>, ArtifactStoreError>,
}

inventory::collect!(ArtifactBackend);

/// Opens the metadata store `config` names, through the backend linked for it.
pub fn open_metadata_store(
    config: &MetadataConfig,
    base: &Path,
    mode: OpenMode,
) -> Result<Arc<dyn MetadataQuery>, MetadataError> {
    let name = config.backend();
    match inventory::iter::<MetadataBackend>().find(|b| b.name == name) {
        Some(b) => (b.open)(config, base, mode),
        None => {
            let mut linked: Vec<String> = inventory::iter::<MetadataBackend>()
                .map(|b| b.name.to_owned())
                .collect();
            linked.sort_unstable();
            Err(MetadataError::Incompatible {
                store: name.to_owned(),
                reason: Incompatibility::BackendNotLinked {
                    backend: name.to_owned(),
                    linked,
                },
            })
        }
    }
}

/// The scheme of an artifact store URL: `file` for a plain path.
pub fn url_scheme(url: &str) -> &str {
    match url.split_once("://") {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+') =>
        {
            scheme
        }
        _ => "file",
    }
}

/// The byte range of the credentials (the user info: `user`, `user:password`) in a URL
/// `scheme://user:password@host/…`, if it has any.
///
/// A password typed unescaped may hold `/`, `?` or `#` (cloud secrets often hold `/`), which
/// would end the URL's authority early; so an `@` further on also counts when the authority's
/// `:` is followed by something other than a port number (`s3://KEY:ab/cd@bucket`).
fn userinfo(url: &str) -> Option<Range<usize>> {
    let (scheme, _) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        // A plain path.
        return None;
    }
    let start = scheme.len() + "://".len();
    let rest = &url[start..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if let Some(at) = authority.rfind('@') {
        return Some(start..start + at);
    }
    let host_port = match authority.strip_prefix('[') {
        // An IPv6 address: `[::1]:9000`.
        Some(v6) => v6.split_once(']').map_or("", |(_, port)| port),
        None => authority,
    };
    let (_, after_colon) = host_port.split_once(':')?;
    if !after_colon.is_empty() && after_colon.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    rest.rfind('@').map(|at| start..start + at)
}

/// The URL as every output shows it: credentials in it (`user:password@`) replaced by `***`.
///
/// ```
/// # extern crate zenml_core as zenml;
/// use zenml::store::redact_url;
///
/// assert_eq!(redact_url("s3://KEY:SECRET@bucket/p"), "s3://***@bucket/p");
/// assert_eq!(redact_url("https://user@host/x"), "https://***@host/x");
/// assert_eq!(redact_url("s3://bucket/team@example.org"), "s3://bucket/team@example.org");
/// assert_eq!(redact_url("artifacts"), "artifacts");
/// ```
pub fn redact_url(url: &str) -> Cow<'_, str> {
    match userinfo(url) {
        Some(range) => Cow::Owned(format!("{}***{}", &url[..range.start], &url[range.end..])),
        None => Cow::Borrowed(url),
    }
}

/// A database host as every output shows it: credentials typed into it (`user:password@host`)
/// replaced by `***`.
///
/// ```
/// # extern crate zenml_core as zenml;
/// use zenml::store::redact_host;
///
/// assert_eq!(redact_host("ml:SECRET@db.example.org"), "***@db.example.org");
/// assert_eq!(redact_host("db.example.org"), "db.example.org");
/// ```
pub fn redact_host(host: &str) -> Cow<'_, str> {
    match host.rsplit_once('@') {
        Some((_, host)) => Cow::Owned(format!("***@{host}")),
        None => Cow::Borrowed(host),
    }
}

/// Refuses an artifact store URL with credentials in it (`s3://KEY:SECRET@bucket/p`,
/// `https://user:password@host/x`, `s3://KEY@bucket`): the URL is saved in `.zenml/config.yaml`,
/// which people read, copy and commit, and commands show it. The error shows the URL
/// redacted ([`redact_url`]) and says where the credentials belong: the cloud's standard
/// environment variables.
///
/// [`open_artifact_store`] calls it before anything else.
pub fn check_url_credentials(url: &str) -> Result<(), ArtifactStoreError> {
    if userinfo(url).is_none() {
        return Ok(());
    }
    let instead = match url_scheme(url) {
        "s3" | "s3a" => "give them in the AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment \
                         variables"
            .to_owned(),
        "gs" | "gcs" => "point the GOOGLE_APPLICATION_CREDENTIALS environment variable at a \
                         service account key file"
            .to_owned(),
        "az" | "azure" | "abfs" | "abfss" | "adl" => "give them in the \
                         AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY environment \
                         variables"
            .to_owned(),
        _ => "give a bucket's credentials in the cloud's standard environment variables \
              (s3://: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; gs://: \
              GOOGLE_APPLICATION_CREDENTIALS; az://: AZURE_STORAGE_ACCOUNT_NAME and \
              AZURE_STORAGE_ACCOUNT_KEY)"
            .to_owned(),
    };
    Err(ArtifactStoreError::Config(format!(
        "the artifact store URL `{}` has credentials in it; zenml keeps credentials out of \
         .zenml/config.yaml and out of its output: remove them from the URL and {instead}",
        redact_url(url)
    )))
}

/// Opens the artifact store at `url`, through the backend linked for its scheme. A URL with
/// credentials in it is refused ([`check_url_credentials`]).
pub fn open_artifact_store(
    url: &str,
    base: &Path,
) -> Result<Arc<dyn ArtifactStore>, ArtifactStoreError> {
    check_url_credentials(url)?;
    let scheme = url_scheme(url);
    match inventory::iter::<ArtifactBackend>().find(|b| b.schemes.contains(&scheme)) {
        Some(b) => (b.open)(url, base),
        None => {
            let mut known: Vec<&str> = inventory::iter::<ArtifactBackend>()
                .flat_map(|b| b.schemes.iter().copied())
                .collect();
            known.sort_unstable();
            Err(ArtifactStoreError::Config(format!(
                "unknown artifact store scheme `{scheme}://` in `{}`; this binary knows: {}",
                redact_url(url),
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repository::RepositoryConfig;

    #[test]
    fn credentials_in_urls_are_found_and_redacted() {
        // (URL, as shown); every secret is spelt `s3cr3t`.
        for (url, shown) in [
            ("s3://KEY:s3cr3t@bucket/p", "s3://***@bucket/p"),
            ("https://user:s3cr3t@host/x", "https://***@host/x"),
            ("s3://s3cr3t@bucket", "s3://***@bucket"),
            ("gs://a:s3cr3t@c@bucket", "gs://***@bucket"),
            // An unescaped `/`, `?` or `#` in the secret ends the authority early.
            ("s3://AKIA:ab/s3cr3t+ef@bucket/p", "s3://***@bucket/p"),
            ("s3://AKIA:ab?s3cr3t@bucket", "s3://***@bucket"),
            ("az://acct:#s3cr3t@container", "az://***@container"),
            ("file://s3cr3t@localhost/data", "file://***@localhost/data"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
            let err = check_url_credentials(url).expect_err(url);
            let message = err.to_string();
            assert!(message.contains(&format!("`{shown}`")), "{message}");
            assert!(!message.contains("s3cr3t"), "{message}");
            assert!(!format!("{err:?}").contains("s3cr3t"), "{err:?}");
        }
        // No credentials: a port, an `@` in the path or the query, a plain path.
        for url in [
            "s3://bucket/p",
            "http://localhost:9000/bucket/team@example.org",
            "http://[::1]:9000/bucket@x",
            "http://[::1]/bucket",
            "https://host/x?owner=a@b",
            "memory://name",
            "artifacts/me@work",
            "/data/a:b@c",
            "",
        ] {
            assert_eq!(redact_url(url), url, "{url}");
            assert!(check_url_credentials(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn the_refusal_says_where_credentials_belong() {
        let text = |url: &str| check_url_credentials(url).expect_err(url).to_string();
        assert!(text("s3://K:S@b").contains("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));
        assert!(text("gs://K:S@b").contains("GOOGLE_APPLICATION_CREDENTIALS"));
        assert!(text("az://K:S@b").contains("AZURE_STORAGE_ACCOUNT_KEY"));
        let other = text("https://K:S@b/x");
        for var in [
            "AWS_SECRET_ACCESS_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "AZURE_STORAGE_ACCOUNT_KEY",
        ] {
            assert!(other.contains(var), "{other}");
        }
        // Opening is refused before the scheme is looked at.
        let err = open_artifact_store("s3://K:s3cr3t@b", Path::new("/")).err();
        assert!(
            matches!(&err, Some(ArtifactStoreError::Config(m))
                if m.contains("has credentials") && !m.contains("s3cr3t")),
            "{err:?}"
        );
    }

    #[test]
    fn an_unknown_scheme_is_reported_with_the_url_redacted() {
        let err = open_artifact_store("ftp://example.org/x", Path::new("/")).err();
        let Some(ArtifactStoreError::Config(m)) = &err else {
            panic!("{err:?}");
        };
        assert!(
            m.starts_with(
                "unknown artifact store scheme `ftp://` in `ftp://example.org/x`; this binary \
                 knows: "
            ),
            "{m}"
        );
    }

    #[test]
    fn debug_shows_no_password_and_no_credentials_in_the_host() {
        let mysql = MetadataConfig::Mysql {
            host: "ml:s3cr3t-host@db.example.org".to_owned(),
            port: 3306,
            user: "ml".to_owned(),
            database: "zenml".to_owned(),
            password: Some("s3cr3t-password".to_owned()),
            password_env: None,
            tls: false,
        };
        let config = RepositoryConfig {
            metadata: mysql.clone(),
            ..RepositoryConfig::default()
        };
        for shown in [format!("{mysql:?}"), format!("{config:?}")] {
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(shown.contains(r#"password: Some("***")"#), "{shown}");
            assert!(shown.contains(r#"host: "***@db.example.org""#), "{shown}");
        }
        assert!(!format!("{config:#?}").contains("s3cr3t"));
        let without = MetadataConfig::Mysql {
            host: "db".to_owned(),
            port: 3306,
            user: "ml".to_owned(),
            database: "zenml".to_owned(),
            password: None,
            password_env: Some("DB_PASSWORD".to_owned()),
            tls: false,
        };
        assert_eq!(
            format!("{without:?}"),
            r#"Mysql { host: "db", port: 3306, user: "ml", database: "zenml", password: None, password_env: Some("DB_PASSWORD"), tls: false }"#
        );
        assert_eq!(
            format!("{:?}", RepositoryConfig::default().metadata),
            r#"Sqlite { path: "metadata.db" }"#
        );
    }
}
