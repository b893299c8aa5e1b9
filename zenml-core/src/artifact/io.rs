//! Content-addressed artifacts over any artifact store: [`ContentStore`].
//!
//! Every guarantee about an artifact's bytes lives here, so that every backend gets it without
//! repeating it: bytes are hashed (xxh3-128) while they stream in and published under a key
//! derived from the hash ([`content_key`]); every read verifies the bytes against the recorded
//! hash while they stream out; and damage found on the way (a missing object, altered bytes,
//! something that is not an object where one should be) is reported as a [`Damage`] and repaired
//! where that is possible, by removing what is damaged so that the artifact is published afresh
//! the next time it is computed.
//!
//! # What a cache hit checks
//!
//! Reading an artifact always verifies every byte. Reusing one (a cache hit) must stay cheap, so
//! by default ([`Verify::Quick`]) it checks what the store knows without reading the bytes: that
//! the object exists with its recorded size and, where the store has version tags (ETags; a
//! local file's is derived from its inode, modification time and size), that the tag is the one
//! recorded when the object was published or last verified. An object whose tag changed is read
//! and hashed before it is trusted. What the quick check cannot see is a change that keeps the
//! size and the tag: bytes altered in place with the modification time put back, which is what
//! bit rot on a disk looks like. Such damage is still caught the moment a step reads the bytes,
//! by `zenml artifact verify`, and, with [`Verify::Full`] (a repository setting), before every
//! cache hit, at the price of reading every reused output.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use crate::hash::{Hash128, HashMismatch, Hasher, HashingWriter, VerifyingReader};
use crate::store::{ArtifactRecord, ArtifactStore, ArtifactStoreError, NewArtifact};

use super::{AnyValue, ArtifactKind, FileReader, MaterializeError};

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
    /// The stored object is not what was recorded: missing, altered or damaged.
    #[error("artifact {uri} is damaged: {damage}")]
    Damaged {
        /// The artifact's URI.
        uri: String,
        /// Its recorded hash.
        hash: Hash128,
        /// What is wrong.
        damage: Damage,
    },
}

impl ArtifactError {
    /// The damage, if this is a damaged artifact.
    pub fn damage(&self) -> Option<&Damage> {
        match self {
            ArtifactError::Damaged { damage, .. } => Some(damage),
            _ => None,
        }
    }
}

/// What is wrong with a stored object.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Damage {
    /// There is no object where the artifact's bytes should be.
    Missing,
    /// Something that is not an object stands where the bytes should be (a folder, in a local
    /// store).
    NotAnObject {
        /// What stands there.
        found: String,
    },
    /// The object has another size than recorded (known without reading it).
    WrongSize {
        /// The recorded size.
        expected: u64,
        /// The object's size.
        found: u64,
    },
    /// The bytes do not hash to the recorded hash.
    Altered(HashMismatch),
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Damage::Missing => f.write_str("its bytes are missing from the artifact store"),
            Damage::NotAnObject { found } => {
                write!(f, "{found} stands where its bytes should be")
            }
            Damage::WrongSize { expected, found } => write!(
                f,
                "its stored object has {found} bytes where {expected} were recorded"
            ),
            Damage::Altered(m) => write!(f, "its bytes were altered ({m})"),
        }
    }
}

/// What was done about damage.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Repair {
    /// Nothing could be done here (a missing object is recomputed by the step that produces it).
    Nothing,
    /// The damaged object was removed, so that nothing can use it and the next write of the
    /// artifact publishes it afresh.
    Removed,
    /// What stood in the way was moved aside, to this place (kept, never deleted).
    MovedAside(String),
    /// The object was written again, intact, by the step that produced it.
    Rewritten,
}

impl fmt::Display for Repair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repair::Nothing => f.write_str("nothing to remove"),
            Repair::Removed => f.write_str("the damaged object was removed"),
            Repair::MovedAside(to) => write!(f, "it was moved aside to {to}"),
            Repair::Rewritten => f.write_str("the object was written again, intact"),
        }
    }
}

/// Damage found in the artifact store, and what was done about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamageReport {
    /// The URI of the damaged object.
    pub uri: String,
    /// The hash its bytes should have.
    pub hash: Hash128,
    /// What was wrong.
    pub damage: Damage,
    /// What was done.
    pub repair: Repair,
}

impl fmt::Display for DamageReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}; {}", self.uri, self.damage, self.repair)
    }
}

/// How reused outputs are checked before a cache hit is accepted (see the [module
/// docs](self#what-a-cache-hit-checks)).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Verify {
    /// Trust an object whose size and version tag are those recorded; read and hash the others.
    #[default]
    Quick,
    /// Read and hash every reused object.
    Full,
}

impl Verify {
    /// `"quick"` or `"full"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verify::Quick => "quick",
            Verify::Full => "full",
        }
    }
}

impl fmt::Display for Verify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What [`ContentStore::check`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Checked {
    /// The object is there and can be reused. `retag` is the object's current version tag when
    /// it differs from the recorded one and the bytes were verified: record it, so the next quick
    /// check need not read them.
    Intact {
        /// The tag to record, if it changed.
        retag: Option<Option<String>>,
    },
    /// The object is damaged.
    Damaged(Damage),
}

/// The key under which bytes with `hash` are stored: `ab/ab12…` (the first two hex digits fan the
/// objects out over 256 folders).
pub fn content_key(hash: Hash128) -> String {
    let hex = hash.to_hex();
    format!("{}/{}", &hex[..2], hex)
}

const BUF: usize = 256 * 1024;

/// An artifact just written: what to record, and damage that was repaired on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    /// The artifact to record.
    pub artifact: NewArtifact,
    /// A damaged object that stood at the artifact's content key and was replaced.
    pub repaired: Option<DamageReport>,
}

/// Content-addressed, verified artifacts over an [`ArtifactStore`] (see the [module
/// docs](self)).
#[derive(Clone, Copy)]
pub struct ContentStore<'a> {
    store: &'a dyn ArtifactStore,
}

impl fmt::Debug for ContentStore<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ContentStore")
            .field(&self.store.describe())
            .finish()
    }
}

impl<'a> ContentStore<'a> {
    /// Content addressing over `store`.
    pub fn new(store: &'a dyn ArtifactStore) -> Self {
        ContentStore { store }
    }

    /// The store underneath.
    pub fn store(&self) -> &'a dyn ArtifactStore {
        self.store
    }

    /// The URI of the object holding bytes with `hash`.
    pub fn uri(&self, hash: Hash128) -> String {
        self.store.uri(&content_key(hash))
    }

    fn damaged(&self, hash: Hash128, uri: &str, damage: Damage) -> ArtifactError {
        ArtifactError::Damaged {
            uri: uri.to_owned(),
            hash,
            damage,
        }
    }

    /// Writes `value` of `kind`, hashing the bytes as they stream, and publishes them at their
    /// content key. An object already there is kept when intact (identical content is stored
    /// once); a damaged one (of another size, altered, or something that is not an object) is
    /// replaced, and reported in [`Written::repaired`]. Checking an existing object of the right
    /// size reads it once.
    ///
    /// A value whose materializer names the file holding its bytes ([`FileArtifact`]) is read
    /// from that file directly: one thread hashes it ahead of the copy and looks for an object
    /// with that hash, so that bytes the store holds already are not written again (the copy
    /// stops, and the object there is verified instead), while the copy itself reads and hashes
    /// the file on one thread and writes it on another. The key is always the hash of the bytes
    /// written.
    ///
    /// [`FileArtifact`]: super::FileArtifact
    pub fn write(
        &self,
        kind: &ArtifactKind,
        value: &(dyn std::any::Any + Send + Sync),
    ) -> Result<Written, ArtifactError> {
        if let Some(path) = kind.source_file(value) {
            return self.write_file(kind, value, path);
        }
        self.write_encoded(kind, value)
    }

    /// Writes `value` through its materializer, hashing the bytes as they stream.
    fn write_encoded(
        &self,
        kind: &ArtifactKind,
        value: &(dyn std::any::Any + Send + Sync),
    ) -> Result<Written, ArtifactError> {
        let writer = self.store.create()?;
        let mut hashing = HashingWriter::new(BufWriter::with_capacity(BUF, writer));
        kind.write(value, &mut hashing)
            .map_err(|e| materialize_error(kind, e))?;
        let (buffered, hash, size) = hashing.into_parts();
        let writer = buffered
            .into_inner()
            .map_err(|e| materialize_error(kind, MaterializeError::Io(e.into_error())))?;
        self.publish(kind, writer, hash, size)
    }

    /// Publishes what `writer` holds, `size` bytes hashing to `hash`, at its content key,
    /// replacing a damaged object there.
    fn publish(
        &self,
        kind: &ArtifactKind,
        writer: Box<dyn crate::store::ArtifactWriter>,
        hash: Hash128,
        size: u64,
    ) -> Result<Written, ArtifactError> {
        let key = content_key(hash);
        let uri = self.store.uri(&key);
        let mut repaired = match self.existing(&key, hash, size)? {
            Existing::Absent => None,
            Existing::Intact(info) => {
                // Stored once already: the new bytes go.
                writer.abort()?;
                return Ok(Written {
                    artifact: self.new_artifact(kind, hash, size, info.etag),
                    repaired: None,
                });
            }
            Existing::Damaged(damage) => {
                let repair = self.repair(hash, &damage)?;
                Some(DamageReport {
                    uri: uri.clone(),
                    hash,
                    damage,
                    repair,
                })
            }
        };
        let info = writer.publish(&key)?;
        if info.size != size {
            // Another writer published a damaged object in between: it cannot be trusted.
            return Err(self.damaged(
                hash,
                &uri,
                Damage::WrongSize {
                    expected: size,
                    found: info.size,
                },
            ));
        }
        if let Some(report) = &mut repaired
            && report.repair == Repair::Removed
        {
            report.repair = Repair::Rewritten;
        }
        Ok(Written {
            artifact: self.new_artifact(kind, hash, size, info.etag),
            repaired,
        })
    }

    fn new_artifact(
        &self,
        kind: &ArtifactKind,
        hash: Hash128,
        size: u64,
        etag: Option<String>,
    ) -> NewArtifact {
        NewArtifact {
            uri: self.store.uri(&content_key(hash)),
            hash,
            size,
            type_name: kind.type_name().into_owned(),
            base_type: kind.base_type(),
            materializer: kind.materializer_tag(),
            etag,
        }
    }

    /// Writes the file at `path`, which holds `value`'s bytes verbatim (see [`ContentStore::write`]).
    fn write_file(
        &self,
        kind: &ArtifactKind,
        value: &(dyn std::any::Any + Send + Sync),
        path: &Path,
    ) -> Result<Written, ArtifactError> {
        let open = || {
            File::open(path).map_err(|e| {
                materialize_error(
                    kind,
                    MaterializeError::Io(io::Error::new(
                        e.kind(),
                        format!("cannot open `{}`: {e}", path.display()),
                    )),
                )
            })
        };
        let (mut copy_source, mut hash_source) = (open()?, open()?);
        // Set when the object is found in the store: the copy stops.
        let found = AtomicBool::new(false);
        // Set when the copy is over: the look-ahead stops.
        let copied = AtomicBool::new(false);
        let (ahead, copy) = std::thread::scope(|s| {
            let ahead = s.spawn(|| {
                let (hash, size) = hash_stream(&mut hash_source, &copied).ok()??;
                match self.store.head(&content_key(hash)) {
                    Ok(Some(info)) if info.size == size => {
                        found.store(true, Ordering::Relaxed);
                        Some((hash, size))
                    }
                    _ => None,
                }
            });
            let copy = self
                .store
                .create()
                .map_err(ArtifactError::from)
                .and_then(|writer| {
                    copy_hashing(&mut copy_source, writer, &found)
                        .map_err(|e| materialize_error(kind, MaterializeError::Io(e)))
                });
            copied.store(true, Ordering::Relaxed);
            (ahead.join().ok().flatten(), copy)
        });
        if let Some((hash, size)) = ahead {
            // The store holds these bytes: whatever was copied goes.
            if let Ok(Copied::Whole(writer, ..)) = copy {
                writer.abort()?;
            }
            if let Existing::Intact(info) = self.existing(&content_key(hash), hash, size)? {
                return Ok(Written {
                    artifact: self.new_artifact(kind, hash, size, info.etag),
                    repaired: None,
                });
            }
            // Damaged after all: write it afresh, which repairs it.
            return self.write_encoded(kind, value);
        }
        match copy? {
            Copied::Whole(writer, hash, size) => self.publish(kind, writer, hash, size),
            // Stopped for an object that then could not be used: write it the plain way.
            Copied::Stopped => self.write_encoded(kind, value),
        }
    }
    /// What is at `key`, which should hold `size` bytes hashing to `hash`: nothing, an intact
    /// object (read once to check it), or damage.
    fn existing(&self, key: &str, hash: Hash128, size: u64) -> Result<Existing, ArtifactError> {
        let info = match self.store.head(key) {
            Ok(Some(info)) => info,
            Ok(None) => return Ok(Existing::Absent),
            Err(ArtifactStoreError::NotAnObject { found, .. }) => {
                return Ok(Existing::Damaged(Damage::NotAnObject { found }));
            }
            Err(e) => return Err(e.into()),
        };
        if info.size != size {
            return Ok(Existing::Damaged(Damage::WrongSize {
                expected: size,
                found: info.size,
            }));
        }
        match self.verify_hash(key, hash, size) {
            Ok(()) => Ok(Existing::Intact(info)),
            // Removed meanwhile (by another writer that found it damaged): nothing to check.
            Err(ArtifactError::Damaged {
                damage: Damage::Missing,
                ..
            }) => Ok(Existing::Absent),
            Err(ArtifactError::Damaged { damage, .. }) => Ok(Existing::Damaged(damage)),
            Err(e) => Err(e),
        }
    }

    /// Opens the object holding `hash`, as a verifying stream of `size` bytes.
    fn open(
        &self,
        hash: Hash128,
        size: u64,
        uri: &str,
    ) -> Result<VerifyingReader<io::BufReader<Box<dyn Read + Send>>>, ArtifactError> {
        let reader = match self.store.open(&content_key(hash)) {
            Ok(r) => r,
            Err(ArtifactStoreError::NotFound { .. }) => {
                return Err(self.damaged(hash, uri, Damage::Missing));
            }
            Err(ArtifactStoreError::NotAnObject { found, .. }) => {
                return Err(self.damaged(hash, uri, Damage::NotAnObject { found }));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(VerifyingReader::new(
            io::BufReader::with_capacity(BUF, reader),
            hash,
            Some(size),
        ))
    }

    /// Reads every byte at `key` and checks it against `hash` and `size`.
    fn verify_hash(&self, key: &str, hash: Hash128, size: u64) -> Result<(), ArtifactError> {
        let uri = self.store.uri(key);
        let checked = self.open(hash, size, &uri)?.finish();
        checked.map_err(|e| self.io_error(hash, &uri, e))
    }

    /// Reads the artifact `record` as `kind`, verifying its hash while it streams. Damage is
    /// [`ArtifactError::Damaged`]; the bytes are never used unless they are intact.
    ///
    /// A materializer of files ([`Materializer::READS_FILES`]) reading from a store that keeps
    /// its objects as local files ([`ArtifactStore::local_path`]) gets the stored file itself, to
    /// copy inside the kernel, while another thread hashes it.
    ///
    /// [`Materializer::READS_FILES`]: super::Materializer::READS_FILES
    pub fn read(
        &self,
        kind: &ArtifactKind,
        record: &ArtifactRecord,
    ) -> Result<AnyValue, ArtifactError> {
        if let Some(read_file) = kind.file_reader() {
            let key = content_key(record.hash);
            if let Some(path) = self.store.local_path(&key)? {
                return self.read_local(read_file, record, &key, &path);
            }
        }
        let mut verifying = self.open(record.hash, record.size, &record.uri)?;
        let value = kind.read(&mut verifying);
        // Whatever the materializer did, the bytes must hash right: read what it left and check.
        let checked = verifying.finish();
        match (value, checked) {
            (_, Err(e)) | (Err(MaterializeError::Io(e)), Ok(())) => {
                Err(self.io_error(record.hash, &record.uri, e))
            }
            (Err(source), Ok(())) => Err(ArtifactError::Materialize {
                what: record.uri.clone(),
                source,
            }),
            (Ok(v), Ok(())) => Ok(v),
        }
    }

    /// Reads the artifact `record` from `path`, the local file at `key`, with `read_file` (a
    /// materializer of files, which copies it inside the kernel) while another thread hashes the
    /// same file: the value is dropped unless the bytes are intact. Objects are never modified
    /// once published, so the bytes hashed are the bytes copied.
    fn read_local(
        &self,
        read_file: FileReader,
        record: &ArtifactRecord,
        key: &str,
        path: &Path,
    ) -> Result<AnyValue, ArtifactError> {
        let damaged = |damage| self.damaged(record.hash, &record.uri, damage);
        // Damage is reported as a streamed read reports it: another size is found by hashing.
        match self.store.head(key) {
            Ok(Some(_)) => {}
            Ok(None) => return Err(damaged(Damage::Missing)),
            Err(ArtifactStoreError::NotAnObject { found, .. }) => {
                return Err(damaged(Damage::NotAnObject { found }));
            }
            Err(e) => return Err(e.into()),
        }
        let open = || {
            File::open(path).map_err(|e| match e.kind() {
                io::ErrorKind::NotFound => damaged(Damage::Missing),
                _ => ArtifactError::Materialize {
                    what: record.uri.clone(),
                    source: MaterializeError::Io(e),
                },
            })
        };
        let (mut copy_source, mut hash_source) = (open()?, open()?);
        // Set when the copy failed: the hashing stops.
        let failed = AtomicBool::new(false);
        let (value, hashed) = std::thread::scope(|s| {
            let hashing = s.spawn(|| hash_stream(&mut hash_source, &failed));
            let value = read_file(&mut copy_source);
            if value.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            let hashed = hashing
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the hashing thread panicked")));
            (value, hashed)
        });
        let hashed = hashed.map_err(|e| ArtifactError::Materialize {
            what: record.uri.clone(),
            source: MaterializeError::Io(e),
        })?;
        if let Some((actual, actual_len)) = hashed
            && (actual, actual_len) != (record.hash, record.size)
        {
            return Err(damaged(Damage::Altered(HashMismatch {
                expected: record.hash,
                actual,
                expected_len: Some(record.size),
                actual_len,
            })));
        }
        value.map_err(|source| ArtifactError::Materialize {
            what: record.uri.clone(),
            source,
        })
    }

    /// Reads all bytes of the artifact `record` and checks them against its hash.
    pub fn verify(&self, record: &ArtifactRecord) -> Result<(), ArtifactError> {
        let checked = self.open(record.hash, record.size, &record.uri)?.finish();
        checked.map_err(|e| self.io_error(record.hash, &record.uri, e))
    }

    /// Checks that the object of `record` can be reused, as `verify` says (see the [module
    /// docs](self#what-a-cache-hit-checks)). Damage is not repaired here: see
    /// [`ContentStore::repair`].
    pub fn check(&self, record: &ArtifactRecord, verify: Verify) -> Result<Checked, ArtifactError> {
        let key = content_key(record.hash);
        let info = match self.store.head(&key) {
            Ok(Some(info)) => info,
            Ok(None) => return Ok(Checked::Damaged(Damage::Missing)),
            Err(ArtifactStoreError::NotAnObject { found, .. }) => {
                return Ok(Checked::Damaged(Damage::NotAnObject { found }));
            }
            Err(e) => return Err(e.into()),
        };
        if info.size != record.size {
            return Ok(Checked::Damaged(Damage::WrongSize {
                expected: record.size,
                found: info.size,
            }));
        }
        let tagged = info.etag.is_some() && info.etag == record.etag;
        if tagged && verify == Verify::Quick {
            return Ok(Checked::Intact { retag: None });
        }
        match self.verify(record) {
            Ok(()) => Ok(Checked::Intact {
                retag: (!tagged).then_some(info.etag),
            }),
            Err(ArtifactError::Damaged { damage, .. }) => Ok(Checked::Damaged(damage)),
            Err(e) => Err(e),
        }
    }

    /// Clears damage at the content key of `hash`, so that nothing uses it and the artifact is
    /// published afresh the next time it is written: removes a damaged object, moves aside
    /// whatever else stands there. A missing object needs nothing.
    pub fn repair(&self, hash: Hash128, damage: &Damage) -> Result<Repair, ArtifactError> {
        let key = content_key(hash);
        Ok(match damage {
            Damage::Missing => Repair::Nothing,
            Damage::NotAnObject { .. } => match self.store.move_aside(&key)? {
                Some(to) => Repair::MovedAside(to),
                None => Repair::Nothing,
            },
            Damage::WrongSize { .. } | Damage::Altered(_) => {
                self.store.delete(&key)?;
                Repair::Removed
            }
        })
    }

    fn io_error(&self, hash: Hash128, uri: &str, e: io::Error) -> ArtifactError {
        if let Some(m) = hash_mismatch(&e) {
            return self.damaged(hash, uri, Damage::Altered(m.clone()));
        }
        ArtifactError::Materialize {
            what: uri.to_owned(),
            source: MaterializeError::Io(e),
        }
    }
}

fn materialize_error(kind: &ArtifactKind, source: MaterializeError) -> ArtifactError {
    ArtifactError::Materialize {
        what: format!("of type {}", kind.type_name()),
        source,
    }
}

/// The size of a page, to which [`PageAligned`] buffers are aligned.
const PAGE: usize = 4096;

/// A zeroed buffer that starts at a page boundary. The kernel copies file data into and out of
/// page-aligned memory several times faster than into a large allocation, which starts a few
/// bytes past a boundary.
pub(crate) struct PageAligned {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl PageAligned {
    /// A buffer of `len` bytes.
    pub(crate) fn new(len: usize) -> Self {
        let buf = vec![0u8; len + PAGE];
        let start = buf.as_ptr().align_offset(PAGE).min(PAGE);
        PageAligned { buf, start, len }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

/// The size of the chunks a file is read in, to hash it or to copy it.
const FILE_CHUNK: usize = 4 << 20;
/// How many chunks a copy has in memory at most.
const FILE_CHUNKS: usize = 3;

/// The hash and length of everything `r` holds, or `None` if `stop` was set first.
fn hash_stream(r: &mut dyn Read, stop: &AtomicBool) -> io::Result<Option<(Hash128, u64)>> {
    let mut buf = PageAligned::new(FILE_CHUNK);
    let mut hasher = Hasher::new();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let n = super::file::fill(r, buf.as_mut_slice())?;
        if n == 0 {
            return Ok(Some((hasher.finish(), hasher.len())));
        }
        hasher.update(&buf.as_slice()[..n]);
    }
}

/// What stands at a content key.
enum Existing {
    Absent,
    Intact(crate::store::ObjectInfo),
    Damaged(Damage),
}

/// What [`copy_hashing`] did.
enum Copied {
    /// Everything was written to the writer: so many bytes, hashing to this.
    Whole(Box<dyn crate::store::ArtifactWriter>, Hash128, u64),
    /// `stop` was set: the writer was aborted.
    Stopped,
}

/// Copies `r` into `writer`, reading and hashing on one thread while writing on this one, so that
/// reading and writing overlap; at most [`FILE_CHUNKS`] chunks are in memory. Stops, aborting the
/// writer, when `stop` is set.
fn copy_hashing(
    r: &mut (dyn Read + Send),
    mut writer: Box<dyn crate::store::ArtifactWriter>,
    stop: &AtomicBool,
) -> io::Result<Copied> {
    let (full_tx, full_rx) = mpsc::sync_channel::<(PageAligned, usize)>(FILE_CHUNKS);
    let (empty_tx, empty_rx) = mpsc::sync_channel::<PageAligned>(FILE_CHUNKS);
    for _ in 0..FILE_CHUNKS {
        let _ = empty_tx.send(PageAligned::new(FILE_CHUNK));
    }
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> io::Result<(Hash128, u64)> {
            let mut hasher = Hasher::new();
            // Ends when the writing side is gone (it failed or stopped).
            while let Ok(mut chunk) = empty_rx.recv() {
                let n = super::file::fill(r, chunk.as_mut_slice())?;
                if n == 0 {
                    break;
                }
                hasher.update(&chunk.as_slice()[..n]);
                if full_tx.send((chunk, n)).is_err() {
                    break;
                }
            }
            Ok((hasher.finish(), hasher.len()))
        });
        let mut written = Ok(());
        for (chunk, n) in &full_rx {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if let Err(e) = writer.write_all(&chunk.as_slice()[..n]) {
                written = Err(e);
                break;
            }
            // The reader may be done already; then the chunk is simply freed.
            let _ = empty_tx.send(chunk);
        }
        drop((full_rx, empty_tx));
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the file reader thread panicked")));
        written?;
        let (hash, size) = read?;
        if stop.load(Ordering::Relaxed) {
            let _ = writer.abort();
            return Ok(Copied::Stopped);
        }
        Ok(Copied::Whole(writer, hash, size))
    })
}

/// The hash mismatch a verifying read failed with, if that is why it failed.
fn hash_mismatch(e: &io::Error) -> Option<&HashMismatch> {
    if e.kind() != io::ErrorKind::InvalidData {
        return None;
    }
    e.get_ref().and_then(|i| i.downcast_ref::<HashMismatch>())
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
