//! Writing artifacts into an artifact store and reading them back, hashing as the bytes stream.

use std::io::{self, BufWriter, Read, Write};

use crate::hash::{Hash128, HashMismatch, HashingWriter, VerifyingReader};
use crate::store::{ArtifactRecord, ArtifactStore, ArtifactStoreError, NewArtifact, ObjectInfo};

use super::{AnyValue, ArtifactKind, MaterializeError};

/// A failure to write or read an artifact.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// The artifact store failed.
    #[error(transparent)]
    Store(#[from] ArtifactStoreError),
    /// The materializer failed.
    #[error("artifact {what}: {source}")]
    Materialize {
        /// The artifact (its URI, or "new artifact").
        what: String,
        /// The failure.
        #[source]
        source: MaterializeError,
    },
    /// The stored bytes do not match the recorded hash: the artifact was altered or damaged.
    #[error("artifact {uri} is corrupted: {mismatch}")]
    Corrupted {
        /// The artifact's URI.
        uri: String,
        /// The hashes.
        mismatch: HashMismatch,
    },
}

/// The key under which bytes with `hash` are stored: `ab/ab12…` (the first two hex digits fan the
/// objects out over 256 folders).
pub fn content_key(hash: Hash128) -> String {
    let hex = hash.to_hex();
    format!("{}/{}", &hex[..2], hex)
}

const BUF: usize = 256 * 1024;

/// Writes `value` of `kind` into `store`, hashing the bytes as they stream, and publishes them
/// content-addressed. Returns the artifact to record.
///
/// Publishing keeps an object that already sits at the content key, so that object is checked
/// first: one of another size, or whose bytes do not hash to the key, was damaged (truncated or
/// altered in place, for instance) and is replaced, so that writing the artifact again repairs
/// the store. Checking an existing object of the right size reads it once.
pub fn write_artifact(
    store: &dyn ArtifactStore,
    kind: &ArtifactKind,
    value: &(dyn std::any::Any + Send + Sync),
) -> Result<NewArtifact, ArtifactError> {
    let (artifact, stored_size) = publish_value(store, kind, value)?;
    if stored_size == artifact.size {
        return Ok(artifact);
    }
    store.delete(&content_key(artifact.hash))?;
    Ok(publish_value(store, kind, value)?.0)
}

/// Writes and publishes `value`; returns the artifact and the size of the object now at its key.
fn publish_value(
    store: &dyn ArtifactStore,
    kind: &ArtifactKind,
    value: &(dyn std::any::Any + Send + Sync),
) -> Result<(NewArtifact, u64), ArtifactError> {
    let writer = store.create()?;
    let mut hashing = HashingWriter::new(BufWriter::with_capacity(BUF, writer));
    let materialize = |source| ArtifactError::Materialize {
        what: format!("of type {}", kind.type_name()),
        source,
    };
    kind.write(value, &mut hashing).map_err(materialize)?;
    let (buffered, hash, size) = hashing.into_parts();
    let writer = buffered
        .into_inner()
        .map_err(|e| materialize(MaterializeError::Io(e.into_error())))?;
    let key = content_key(hash);
    drop_if_damaged(store, &key, hash, size)?;
    let info: ObjectInfo = writer.publish(&key)?;
    let artifact = NewArtifact {
        uri: store.uri(&key),
        hash,
        size,
        type_name: kind.type_name().into_owned(),
        base_type: kind.base_type(),
        materializer: kind.materializer_tag(),
        etag: info.etag,
    };
    Ok((artifact, info.size))
}

/// Removes the object at `key` if there is one whose bytes are not `size` bytes hashing to
/// `hash`, so that publishing those bytes puts a sound object there.
fn drop_if_damaged(
    store: &dyn ArtifactStore,
    key: &str,
    hash: Hash128,
    size: u64,
) -> Result<(), ArtifactError> {
    let Some(info) = store.head(key)? else {
        return Ok(());
    };
    if info.size == size {
        let reader = match store.open(key) {
            Ok(r) => r,
            // Removed meanwhile (by another writer that found it damaged): nothing to check.
            Err(ArtifactStoreError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let checked =
            VerifyingReader::new(io::BufReader::with_capacity(BUF, reader), hash, Some(size))
                .finish();
        match checked {
            Ok(()) => return Ok(()),
            Err(e) if hash_mismatch(&e).is_none() => {
                return Err(ArtifactError::Materialize {
                    what: store.uri(key),
                    source: MaterializeError::Io(e),
                });
            }
            Err(_) => {}
        }
    }
    store.delete(key)?;
    Ok(())
}

/// Reads the artifact `record` as `kind`, verifying its hash while it streams.
pub fn read_artifact(
    store: &dyn ArtifactStore,
    kind: &ArtifactKind,
    record: &ArtifactRecord,
) -> Result<AnyValue, ArtifactError> {
    let key = content_key(record.hash);
    let reader = store.open(&key)?;
    let mut verifying = VerifyingReader::new(
        io::BufReader::with_capacity(BUF, reader),
        record.hash,
        Some(record.size),
    );
    let value = kind.read(&mut verifying);
    // Whatever the materializer did, the bytes must hash right: read what it left and check.
    let checked = verifying.finish();
    match (value, checked) {
        (_, Err(e)) | (Err(MaterializeError::Io(e)), Ok(())) => Err(io_to_artifact(record, e)),
        (Err(source), Ok(())) => Err(ArtifactError::Materialize {
            what: record.uri.clone(),
            source,
        }),
        (Ok(v), Ok(())) => Ok(v),
    }
}

/// Reads all bytes of the artifact `record` and checks them against its hash.
pub fn verify_artifact(
    store: &dyn ArtifactStore,
    record: &ArtifactRecord,
) -> Result<(), ArtifactError> {
    let reader = store.open(&content_key(record.hash))?;
    VerifyingReader::new(
        io::BufReader::with_capacity(BUF, reader),
        record.hash,
        Some(record.size),
    )
    .finish()
    .map_err(|e| io_to_artifact(record, e))
}

/// The hash mismatch a verifying read failed with, if that is why it failed.
fn hash_mismatch(e: &io::Error) -> Option<&HashMismatch> {
    if e.kind() != io::ErrorKind::InvalidData {
        return None;
    }
    e.get_ref().and_then(|i| i.downcast_ref::<HashMismatch>())
}

fn io_to_artifact(record: &ArtifactRecord, e: io::Error) -> ArtifactError {
    if let Some(m) = hash_mismatch(&e) {
        return ArtifactError::Corrupted {
            uri: record.uri.clone(),
            mismatch: m.clone(),
        };
    }
    ArtifactError::Materialize {
        what: record.uri.clone(),
        source: MaterializeError::Io(e),
    }
}

/// Copies `reader` into `writer` with a large buffer; for benchmarks and tools.
pub fn copy_stream(reader: &mut dyn Read, writer: &mut dyn Write) -> io::Result<u64> {
    let mut buf = vec![0u8; BUF];
    let mut n = 0u64;
    loop {
        let k = reader.read(&mut buf)?;
        if k == 0 {
            return Ok(n);
        }
        writer.write_all(&buf[..k])?;
        n += k as u64;
    }
}
