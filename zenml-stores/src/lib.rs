//! Store backends of zenml-rs.
//!
//! | feature | backend |
//! |---|---|
//! | `sqlite` (default) | [`sqlite::SqliteMetadataStore`]: the metadata store in a SQLite file, in the ML Metadata schema |
//! | `object-store` (default) | [`object::ObjectArtifactStore`]: artifacts in a local folder or in memory, over `object_store` |
//!
//! Each backend registers itself with the core's backend registry, so a repository's
//! `config.yaml` can name it.

#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(feature = "object-store")]
pub mod object;
