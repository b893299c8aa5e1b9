//! Store backends of zenml-rs.
//!
//! | feature | backend |
//! |---|---|
//! | `sqlite` (default) | [`sqlite::SqliteMetadataStore`]: the metadata store in a SQLite file, in the ML Metadata schema |
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

#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(feature = "object-store")]
pub mod object;
