//! Store backends of zenml-rs.
//!
//! | feature | backend |
//! |---|---|
//! | `sqlite` (default) | [`sqlite::SqliteMetadataStore`]: the metadata store in a SQLite file, in the ML Metadata schema |
//! | `mysql` | `mysql::MysqlMetadataStore`: the metadata store a team shares, in a MySQL (5.6 or later) or MariaDB database, in the same schema |
//! | `mysql-tls` | TLS for the MySQL store's connections |
//! | `object-store` (default) | [`object::ObjectArtifactStore`]: artifacts in a local folder or in memory, over `object_store` |
//!
//! Each backend registers itself with the core's backend registry, so a repository's
//! `config.yaml` can name it.

#[cfg(any(feature = "sqlite", feature = "mysql"))]
mod mlmd;

#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(feature = "mysql")]
pub mod mysql;

#[cfg(feature = "object-store")]
pub mod object;
