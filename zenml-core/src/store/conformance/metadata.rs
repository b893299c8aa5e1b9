//! Conformance tests for [`MetadataStore`](crate::store::MetadataStore) backends.
