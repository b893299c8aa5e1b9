//! Store backends of zenml-rs.
//!
//! | feature | backend |
//! |---|---|
//! | `sqlite` (default) | [`sqlite::SqliteMetadataStore`]: the metadata store in a SQLite file, in the ML Metadata schema |
//! | `mysql` | `mysql::MysqlMetadataStore`: the metadata store a team shares, in a MySQL (5.6 or later) or MariaDB database, in the same schema |
//! | `mysql-tls` | TLS for the MySQL store's connections |
//! | `object-store` (default) | [`object::ObjectArtifactStore`]: artifacts in a local folder or in memory, over `object_store` |
//! | `aws` | the same store in an Amazon S3 or S3-compatible bucket (`s3://`), see `object::bucket` |
//! | `gcp` | the same store in a Google Cloud Storage bucket (`gs://`) |
//! | `azure` | the same store in an Azure Blob Storage container (`az://`) |
//!
//! The bucket features are off by default here and on by default in the `zenml` crate, whose
//! command line serves every scheme.
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
