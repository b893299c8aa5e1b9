//! Conformance tests for [`ArtifactStore`](crate::store::ArtifactStore) backends.
