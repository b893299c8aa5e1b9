//! The SQLite metadata store in the ML Metadata schema (version 10).
