//! Artifact stores over `object_store`: a local folder and memory.
