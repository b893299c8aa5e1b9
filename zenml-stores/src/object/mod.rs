//! Artifact stores over [`object_store`]: a local folder, memory, and buckets (`s3://`, `gs://`,
//! `az://`, with the features `aws`, `gcp` and `azure`; see [`bucket`]), all through one type.
//!
//! [`ObjectArtifactStore`] implements the core's synchronous [`ArtifactStore`] over any
//! [`ObjectStore`]; content addressing and verified reads are the core's
//! ([`zenml_core::artifact::io::ContentStore`]), the same for every backend.
//!
//! - **Runtime.** `object_store` is async; the store owns a small tokio runtime, spawns every
//!   operation onto it and waits for the result with a plain executor, so it can be called from any
//!   thread, including one that runs a tokio runtime of its own.
//! - **Writes stream.** In a bucket (or memory), a writer fills a buffer of one part (8 MiB by
//!   default) and hands each full part to a multipart upload, with at most two parts in flight: a
//!   writer holds at most (parts in flight + 2) parts, 32 MiB by default, whatever the artifact's
//!   size. In a local folder, every write goes straight to a staged file.
//! - **Small objects in a bucket** (or in memory), those that fit in one part, are published with
//!   one conditional put at their content key ("create only if absent": S3's and Azure's
//!   `If-None-Match: *`, GCS's `x-goog-if-generation-match: 0`), after a `HEAD` that finds an
//!   object already there, in which case nothing is uploaded. A put that finds the key taken
//!   keeps the object there.
//! - **Larger objects are staged**: the parts go to a multipart upload of an object of their own
//!   under `.staging/` in the store's root, never under a content key, because the content key is
//!   the hash of the whole object, known only after its last byte, while a multipart upload is
//!   addressed when it begins. The upload is completed only once every byte was written and
//!   hashed, and aborted if the writer fails, is aborted or is dropped, so no reader sees part of
//!   an object.
//! - **Publishing** a staged object copies it to its key only if the key is free (in a bucket, a
//!   server-side copy: no byte passes through the client; in a local folder, a hard link: atomic,
//!   and no byte is copied), then removes the staged object. Where the service has no
//!   copy-if-absent (S3 unless `AWS_COPY_IF_NOT_EXISTS` names one), the key is checked, then
//!   copied: writers racing through that window copy the same bytes, as keys are content hashes.
//!   If the key is taken, the object there is kept and the new bytes are discarded, so concurrent
//!   publishers of the same content, in threads, processes or machines, all succeed.
//! - **Reads stream**: a local file is read directly; other stores' byte streams are forwarded
//!   through a channel of a few chunks. A local folder also names its files
//!   ([`ArtifactStore::local_path`]), so that a file artifact is copied inside the kernel.
//! - **ETags** come from the backend: a bucket's change whenever an object is rewritten; a local
//!   file's is derived from its inode, modification time and size, so a rewritten file gets a new
//!   one.
//!
//! A process that dies while writing leaves its staged bytes under `.staging/`; they are never visible under a content key, and a later run removes
//! them once they are older than a grace period ([`ArtifactStore::remove_stale_staging`], which
//! lists the staging area of a bucket the same way). A multipart upload that was begun and never
//! completed or aborted is not an object and cannot be listed through `object_store`: give the
//! bucket a lifecycle rule that aborts incomplete multipart uploads after a day (S3 and GCS; Azure
//! discards uncommitted blocks after a week by itself).
//!
//! In a local folder, something that is not a file where an object should be (a folder, say) is
//! reported as [`ArtifactStoreError::NotAnObject`]; [`ArtifactStore::move_aside`] moves it into
//! `.damaged/` in the store's root, where it is kept. A bucket holds only objects: there,
//! nothing needs moving aside, and a damaged object is removed and written again.

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
pub mod bucket;
mod local;
mod reader;
mod runtime;
mod url;
mod writer;

use std::fmt;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::Duration;

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::{Path, PathPart};
use object_store::{CopyMode, CopyOptions, GetResultPayload, ObjectStore, ObjectStoreExt};
use zenml_core::store::{
    ArtifactBackend, ArtifactStore, ArtifactStoreError, ArtifactWriter, ObjectInfo,
};

use self::runtime::StoreRuntime;

/// The first segment of every staged object's path, under the store's root. Keys may not start
/// with it.
pub const STAGING_PREFIX: &str = ".staging";

/// Where a local store keeps what it moved aside (a folder found where an object should be).
/// Keys may not start with it.
pub const DAMAGED_PREFIX: &str = ".damaged";

/// The default size of one part of a multipart upload: the most a writer buffers per part.
pub const DEFAULT_PART_SIZE: usize = 8 << 20;

/// The default number of parts a writer has in flight while it fills the next one.
pub const DEFAULT_PARTS_IN_FLIGHT: usize = 2;

/// An artifact store over an [`ObjectStore`]: a local folder, memory, or a bucket.
///
/// ```
/// use std::io::{Read, Write};
/// use zenml_core::store::ArtifactStore;
/// use zenml_stores::object::ObjectArtifactStore;
///
/// let dir = tempfile::tempdir()?;
/// let store = ObjectArtifactStore::local(dir.path().join("artifacts"))?;
/// let mut writer = store.create()?;
/// writer.write_all(b"some bytes")?;
/// let info = writer.publish("ab/abcdef")?;
/// assert_eq!(info.size, 10);
/// let mut back = String::new();
/// store.open("ab/abcdef")?.read_to_string(&mut back)?;
/// assert_eq!(back, "some bytes");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ObjectArtifactStore {
    shared: Arc<Shared>,
    part_size: usize,
    parts_in_flight: usize,
}

/// What the store, its writers and its readers share.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn ObjectStore>,
    /// The store's root inside `store`.
    prefix: Path,
    /// `uri_base` without its trailing `/`.
    describe: String,
    /// Ends with `/`.
    uri_base: String,
    pub(crate) runtime: StoreRuntime,
    /// For a local folder, the folder: what is known of an object without reading it is then
    /// asked of the file system directly, on the caller's thread.
    local_root: Option<std::path::PathBuf>,
    /// For a bucket, a client of the same bucket that gives up quickly, for [`ArtifactStore::probe`].
    probe: Option<Arc<dyn ObjectStore>>,
    /// Values no error may show (the bucket's credentials), replaced by `***`.
    secrets: Vec<String>,
    /// A local folder's objects are flushed to disk before they are published.
    fsync: bool,
}

impl fmt::Debug for Shared {
    /// The store as people know it: no client internals, no credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("store", &self.describe)
            .field("prefix", &self.prefix)
            .field("local_root", &self.local_root)
            .field("secrets", &format_args!("{} hidden", self.secrets.len()))
            .finish_non_exhaustive()
    }
}

impl ObjectArtifactStore {
    /// An artifact store rooted at `prefix` in `store`; the URI of the object at `key` is
    /// `uri_base/key` (for instance `s3://bucket/artifacts`). Give `uri_base` without secrets:
    /// it is how the store describes itself.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        prefix: Path,
        uri_base: impl Into<String>,
    ) -> Result<Self, ArtifactStoreError> {
        let given = uri_base.into();
        let trimmed = given.trim_end_matches('/');
        // `memory://` is a scheme with an empty authority: its objects are `memory:///key`.
        let (describe, uri_base) = if trimmed.ends_with(':') {
            (format!("{trimmed}//"), format!("{trimmed}///"))
        } else {
            (trimmed.to_owned(), format!("{trimmed}/"))
        };
        let runtime = StoreRuntime::new(2).map_err(|e| ArtifactStoreError::Backend {
            store: describe.clone(),
            source: format!("cannot start the artifact store's runtime: {e}").into(),
        })?;
        Ok(ObjectArtifactStore {
            shared: Arc::new(Shared {
                store,
                prefix,
                uri_base,
                describe,
                runtime,
                local_root: None,
                probe: None,
                secrets: Vec::new(),
                fsync: false,
            }),
            part_size: DEFAULT_PART_SIZE,
            parts_in_flight: DEFAULT_PARTS_IN_FLIGHT,
        })
    }

    /// Artifacts in the folder `root`, created if missing. Published objects are not flushed to
    /// disk: a crashed process never leaves a partial object under a content key, but a power
    /// loss may (reads would then fail verification); see [`ObjectArtifactStore::local_durable`].
    pub fn local(root: impl AsRef<std::path::Path>) -> Result<Self, ArtifactStoreError> {
        Self::local_with(root.as_ref(), false)
    }

    /// Like [`ObjectArtifactStore::local`], but every object and the folder entries pointing to
    /// it are flushed to disk before `publish` returns, so published artifacts survive a power
    /// loss. Writing is then bounded by the disk's speed.
    pub fn local_durable(root: impl AsRef<std::path::Path>) -> Result<Self, ArtifactStoreError> {
        Self::local_with(root.as_ref(), true)
    }

    fn local_with(root: &std::path::Path, fsync: bool) -> Result<Self, ArtifactStoreError> {
        let config = |what: &str, e: &dyn fmt::Display| {
            ArtifactStoreError::Config(format!(
                "cannot {what} the artifact folder `{}`: {e}",
                root.display()
            ))
        };
        std::fs::create_dir_all(root).map_err(|e| config("create", &e))?;
        let canonical = std::fs::canonicalize(root).map_err(|e| config("open", &e))?;
        let url = ::url::Url::from_directory_path(&canonical)
            .map_err(|()| config("address", &"not an absolute path"))?;
        let fs = LocalFileSystem::new_with_prefix(&canonical)
            .map_err(|e| config("open", &e))?
            .with_fsync(fsync);
        let mut store = Self::new(Arc::new(fs), Path::default(), url.as_str())?;
        if let Some(shared) = Arc::get_mut(&mut store.shared) {
            shared.local_root = Some(canonical);
            shared.fsync = fsync;
        }
        Ok(store)
    }

    /// Artifacts in memory, for tests and throwaway runs; they go with the last handle on the
    /// store.
    pub fn memory() -> Result<Self, ArtifactStoreError> {
        Self::new(Arc::new(InMemory::new()), Path::default(), "memory://")
    }

    /// Opens the store at `url`: a plain path or `file:///` URL (a local folder, created if
    /// missing; a relative path is relative to `base`), `memory://` (a new, empty store) or
    /// `memory://name` (the in-memory store of that name, shared by everything in the process
    /// that opens it).
    pub fn open_url(url: &str, base: &std::path::Path) -> Result<Self, ArtifactStoreError> {
        url::open(url, base)
    }

    /// Marks the store as a bucket: `probe` is a client of it that gives up quickly, `secrets`
    /// are values no error may show.
    #[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
    fn set_bucket(&mut self, probe: Arc<dyn ObjectStore>, secrets: Vec<String>) {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.probe = Some(probe);
            shared.secrets = secrets;
        }
    }

    /// Opens the bucket at `url` (`s3://bucket/prefix`, `gs://bucket/prefix`,
    /// `az://container/prefix`), configured by the cloud's standard variables and files (see
    /// [`bucket`]), then by `settings`: `object_store` configuration keys with their values,
    /// which win over the environment (`("aws_endpoint", "http://127.0.0.1:9000")`,
    /// `("aws_access_key_id", …)`, `("google_base_url", …)`, `("azure_storage_use_emulator",
    /// "true")`). Their secret values never appear in an error.
    ///
    /// Nothing is requested from the bucket here; [`ArtifactStore::probe`] checks that it can be
    /// reached.
    #[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
    pub fn open_bucket(url: &str, settings: &[(&str, &str)]) -> Result<Self, ArtifactStoreError> {
        zenml_core::store::check_url_credentials(url)?;
        bucket::open(url, settings)
    }

    /// Sets the size of one part of a multipart upload (the most a writer buffers per part).
    /// Buckets need at least 5 MiB (S3 refuses smaller parts but the last); a local folder writes
    /// without parts. At least 1.
    #[must_use]
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(1);
        self
    }

    /// Sets how many parts a writer keeps in flight while it fills the next one. At least 1.
    #[must_use]
    pub fn with_parts_in_flight(mut self, parts: usize) -> Self {
        self.parts_in_flight = parts.max(1);
        self
    }

    /// The underlying object store.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.shared.store
    }

    /// The store's root inside the object store.
    pub fn prefix(&self) -> &Path {
        &self.shared.prefix
    }
}

impl Shared {
    pub(crate) fn backend(
        &self,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> ArtifactStoreError {
        let source = source.into();
        let source = if self.secrets.is_empty() {
            source
        } else {
            // A backend's message may quote what it was sent: show none of the credentials.
            redact_secrets(&one_line(source.as_ref()), &self.secrets).into()
        };
        ArtifactStoreError::Backend {
            store: self.describe.clone(),
            source,
        }
    }

    /// Whether objects are published with one conditional put when the whole object fits in one
    /// part (buckets and memory), rather than staged and then copied (a local folder, where
    /// staging and a hard link cost nothing and keep unfinished files in one place).
    pub(crate) fn puts_directly(&self) -> bool {
        self.local_root.is_none()
    }

    /// The location of `key`, refusing keys that would leave the store's root or reach into the
    /// staging area.
    pub(crate) fn location(&self, key: &str) -> Result<Path, ArtifactStoreError> {
        let invalid = |reason: String| ArtifactStoreError::InvalidKey {
            store: self.describe.clone(),
            key: key.to_owned(),
            reason,
        };
        if key.is_empty() {
            return Err(invalid("the key is empty".to_owned()));
        }
        let mut parts = Vec::new();
        for segment in key.split('/') {
            if segment.is_empty() {
                return Err(invalid(
                    "keys are relative paths without empty segments".to_owned(),
                ));
            }
            parts.push(PathPart::parse(segment).map_err(|e| invalid(e.to_string()))?);
        }
        if key.split('/').next() == Some(STAGING_PREFIX) {
            return Err(invalid(format!(
                "`{STAGING_PREFIX}/` is reserved for objects being written"
            )));
        }
        if key.split('/').next() == Some(DAMAGED_PREFIX) {
            return Err(invalid(format!(
                "`{DAMAGED_PREFIX}/` is reserved for what was moved out of the way"
            )));
        }
        Ok(self.prefix.parts().chain(parts).collect())
    }

    /// A fresh location for a staged object.
    pub(crate) fn staging_location(&self) -> Path {
        self.prefix
            .clone()
            .join(STAGING_PREFIX)
            .join(writer::unique_name().as_str())
    }

    /// Runs `future` on the store's runtime; a panicked task is a backend failure.
    pub(crate) fn run<F, T>(&self, future: F) -> Result<T, ArtifactStoreError>
    where
        F: Future<Output = object_store::Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        match self.runtime.run(future) {
            Ok(result) => result.map_err(|e| self.backend(e)),
            Err(join) => Err(self.backend(join)),
        }
    }

    /// Makes the staged object at `staged` visible at `dest`, unless `dest` exists.
    pub(crate) fn publish_staged(
        &self,
        staged: &Path,
        dest: &Path,
    ) -> Result<(), ArtifactStoreError> {
        let (store, from, to) = (self.store.clone(), staged.clone(), dest.clone());
        let copied = self.runtime.run(async move {
            let create = CopyOptions::new().with_mode(CopyMode::Create);
            match store.copy_opts(&from, &to, create).await {
                Err(object_store::Error::NotSupported { .. })
                | Err(object_store::Error::NotImplemented { .. }) => {
                    // No atomic copy-if-absent here: check, then copy. Two publishers racing
                    // through this window write the same bytes, as keys are content hashes.
                    match store.head(&to).await {
                        Ok(_) => Ok(()),
                        Err(object_store::Error::NotFound { .. }) => store.copy(&from, &to).await,
                        Err(e) => Err(e),
                    }
                }
                Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
                other => other,
            }
        });
        match copied {
            Ok(result) => result.map_err(|e| self.backend(e)),
            Err(join) => Err(self.backend(join)),
        }
    }

    /// Removes the object at `location`, if any.
    pub(crate) fn delete_location(&self, location: &Path) -> Result<(), ArtifactStoreError> {
        let (store, location) = (self.store.clone(), location.clone());
        self.run(async move {
            match store.delete(&location).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                other => other,
            }
        })
    }

    fn head_location(&self, location: &Path) -> Result<Option<ObjectInfo>, ArtifactStoreError> {
        if let Some(root) = &self.local_root {
            return match local_head(&root.join(location.as_ref())) {
                Ok(Ok(info)) => Ok(info),
                Ok(Err(found)) => Err(self.not_an_object(location, found)),
                Err(e) => Err(self.backend(e)),
            };
        }
        let (store, location) = (self.store.clone(), location.clone());
        self.run(async move {
            match store.head(&location).await {
                Ok(meta) => Ok(Some(ObjectInfo {
                    size: meta.size,
                    etag: meta.e_tag,
                })),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    /// What is at `location`, which must exist.
    pub(crate) fn head_published(
        &self,
        location: &Path,
        key: &str,
    ) -> Result<ObjectInfo, ArtifactStoreError> {
        self.head_location(location)?
            .ok_or_else(|| self.not_found(key))
    }

    fn not_found(&self, key: &str) -> ArtifactStoreError {
        ArtifactStoreError::NotFound {
            store: self.describe.clone(),
            key: key.to_owned(),
        }
    }

    fn not_an_object(&self, location: &Path, found: &str) -> ArtifactStoreError {
        let key = location
            .as_ref()
            .strip_prefix(self.prefix.as_ref())
            .map_or(location.as_ref(), |k| k.trim_start_matches('/'));
        ArtifactStoreError::NotAnObject {
            store: self.describe.clone(),
            key: key.to_owned(),
            found: found.to_owned(),
        }
    }

    /// In a local folder, what stands at `location` if it is not a file.
    fn local_non_object(&self, location: &Path) -> Option<&'static str> {
        let root = self.local_root.as_ref()?;
        let meta = std::fs::symlink_metadata(root.join(location.as_ref())).ok()?;
        non_object(&meta)
    }
}

/// An error and its sources on one line, whitespace runs collapsed, cut short at 400 characters
/// (a server's answer may be a page of XML).
pub(crate) fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    let mut line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 400 {
        line = line.chars().take(399).collect::<String>() + "…";
    }
    line
}

/// The HTTP status an `object_store` error message reports (`… status code: 403 Forbidden …`).
fn http_status(message: &str) -> Option<u16> {
    let (_, after) = message.split_once("status code: ")?;
    after.get(..3)?.parse().ok()
}

/// `text` with every one of `secrets` replaced by `***`.
pub(crate) fn redact_secrets(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in secrets {
        if !secret.is_empty() && text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), "***");
        }
    }
    text
}

/// What an entry that is not a regular file is, for people.
fn non_object(meta: &std::fs::Metadata) -> Option<&'static str> {
    let ty = meta.file_type();
    if ty.is_file() {
        None
    } else if ty.is_dir() {
        Some("a folder")
    } else if ty.is_symlink() {
        Some("a symbolic link")
    } else {
        Some("a special file")
    }
}

impl ArtifactStore for ObjectArtifactStore {
    fn describe(&self) -> String {
        self.shared.describe.clone()
    }

    fn uri(&self, key: &str) -> String {
        format!("{}{key}", self.shared.uri_base)
    }

    fn create(&self) -> Result<Box<dyn ArtifactWriter>, ArtifactStoreError> {
        if let Some(root) = &self.shared.local_root {
            return Ok(Box::new(local::LocalWriter::new(
                Arc::clone(&self.shared),
                root.clone(),
            )));
        }
        Ok(Box::new(writer::ObjectWriter::new(
            Arc::clone(&self.shared),
            self.part_size,
            self.parts_in_flight,
        )))
    }

    fn open(&self, key: &str) -> Result<Box<dyn Read + Send>, ArtifactStoreError> {
        let location = self.shared.location(key)?;
        let store = self.shared.store.clone();
        let got = self
            .shared
            .runtime
            .run(async move { store.get(&location).await })
            .map_err(|e| self.shared.backend(e))?;
        let got = match got {
            Ok(got) => got,
            Err(e) => {
                let location = self.shared.location(key)?;
                if let Some(found) = self.shared.local_non_object(&location) {
                    return Err(self.shared.not_an_object(&location, found));
                }
                return Err(match e {
                    object_store::Error::NotFound { .. } => self.shared.not_found(key),
                    e => self.shared.backend(e),
                });
            }
        };
        let len = got.range.end - got.range.start;
        match got.payload {
            GetResultPayload::File(mut file, _) => {
                // A local file: read it on the caller's thread, no runtime involved.
                if got.range.start > 0 {
                    file.seek(SeekFrom::Start(got.range.start))
                        .map_err(|e| self.shared.backend(e))?;
                }
                Ok(Box::new(file.take(len)))
            }
            GetResultPayload::Stream(stream) => Ok(Box::new(reader::StreamReader::new(
                Arc::clone(&self.shared),
                stream,
            ))),
        }
    }

    fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ArtifactStoreError> {
        let location = self.shared.location(key)?;
        self.shared.head_location(&location)
    }

    fn local_path(&self, key: &str) -> Result<Option<std::path::PathBuf>, ArtifactStoreError> {
        let location = self.shared.location(key)?;
        Ok(self
            .shared
            .local_root
            .as_ref()
            .map(|root| root.join(location.as_ref())))
    }

    fn delete(&self, key: &str) -> Result<(), ArtifactStoreError> {
        let location = self.shared.location(key)?;
        self.shared.delete_location(&location)
    }

    fn probe(&self) -> Result<(), ArtifactStoreError> {
        let Some(probe) = self.shared.probe.clone() else {
            return Ok(());
        };
        let prefix = self.shared.prefix.clone();
        let listed = self.shared.runtime.run(async move {
            let prefix = (!prefix.as_ref().is_empty()).then_some(prefix);
            probe.list_with_delimiter(prefix.as_ref()).await.map(|_| ())
        });
        let error = match listed {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e,
            Err(join) => return Err(self.shared.backend(join)),
        };
        let store = &self.shared.describe;
        let detail = redact_secrets(&one_line(&error), &self.shared.secrets);
        // Some backends report a listing's failure as a generic error that names the status.
        let status = match &error {
            object_store::Error::NotFound { .. } => Some(404),
            object_store::Error::PermissionDenied { .. } => Some(403),
            object_store::Error::Unauthenticated { .. } => Some(401),
            _ => http_status(&detail),
        };
        Err(ArtifactStoreError::Config(match status {
            Some(404) => format!(
                "{store}: the bucket does not exist, or these credentials cannot see it ({detail})"
            ),
            Some(401 | 403) => format!("{store}: the credentials were refused ({detail})"),
            _ => format!("{store}: cannot reach the bucket ({detail})"),
        }))
    }

    fn move_aside(&self, key: &str) -> Result<Option<String>, ArtifactStoreError> {
        let location = self.shared.location(key)?;
        let Some(root) = &self.shared.local_root else {
            return Ok(None);
        };
        if self.shared.local_non_object(&location).is_none() {
            return Ok(None);
        }
        let from = root.join(location.as_ref());
        let aside = root.join(DAMAGED_PREFIX);
        let to = aside.join(format!(
            "{}-{}",
            key.replace('/', "_"),
            writer::unique_name()
        ));
        std::fs::create_dir_all(&aside)
            .and_then(|()| std::fs::rename(&from, &to))
            .map_err(|e| {
                self.shared
                    .backend(format!("cannot move {} aside: {e}", from.display()))
            })?;
        Ok(Some(to.display().to_string()))
    }

    fn remove_stale_staging(&self, older_than: Duration) -> Result<u64, ArtifactStoreError> {
        let cutoff = std::time::SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(std::time::UNIX_EPOCH);
        if let Some(root) = &self.shared.local_root {
            return remove_stale_files(
                &root.join(self.shared.prefix.as_ref()).join(STAGING_PREFIX),
                cutoff,
            )
            .map_err(|e| {
                self.shared
                    .backend(format!("cannot clean the staging area: {e}"))
            });
        }
        let (store, prefix) = (
            self.shared.store.clone(),
            self.shared.prefix.clone().join(STAGING_PREFIX),
        );
        let cutoff_ms = cutoff
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.shared.run(async move {
            use futures::TryStreamExt;
            let stale: Vec<Path> = store
                .list(Some(&prefix))
                .try_filter_map(|meta| {
                    let old = meta.last_modified.timestamp_millis() < cutoff_ms;
                    async move { Ok(old.then_some(meta.location)) }
                })
                .try_collect()
                .await?;
            let mut removed = 0u64;
            for location in stale {
                match store.delete(&location).await {
                    Ok(()) => removed += 1,
                    Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(removed)
        })
    }
}

/// Removes the files in `dir` last modified before `cutoff`; a missing folder holds nothing.
fn remove_stale_files(
    dir: &std::path::Path,
    cutoff: std::time::SystemTime,
) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            // Published or removed by its writer meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !meta.is_file() || meta.modified()? >= cutoff {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// What the file system knows of the object at `path`, with the ETag `object_store` gives a
/// local file (inode, modification time in microseconds and size), so that tags recorded through
/// either agree; or what stands there instead of a file.
fn local_head(path: &std::path::Path) -> std::io::Result<Result<Option<ObjectInfo>, &'static str>> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => match non_object(&meta) {
            None => meta,
            Some(found) => return Ok(Err(found)),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(None)),
        Err(e) => return Err(e),
    };
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0u64;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::SystemTime::UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_micros();
    let size = meta.len();
    Ok(Ok(Some(ObjectInfo {
        size,
        etag: Some(format!("\"{inode:x}-{mtime:x}-{size:x}\"")),
    })))
}

fn open_backend(
    url: &str,
    base: &std::path::Path,
) -> Result<Arc<dyn ArtifactStore>, ArtifactStoreError> {
    Ok(Arc::new(ObjectArtifactStore::open_url(url, base)?))
}

inventory::submit! {
    ArtifactBackend {
        schemes: &["file", "memory"],
        feature: "object-store",
        open: open_backend,
    }
}

#[cfg(feature = "aws")]
inventory::submit! {
    ArtifactBackend {
        schemes: &["s3"],
        feature: "aws",
        open: open_backend,
    }
}

#[cfg(feature = "gcp")]
inventory::submit! {
    ArtifactBackend {
        schemes: &["gs"],
        feature: "gcp",
        open: open_backend,
    }
}

#[cfg(feature = "azure")]
inventory::submit! {
    ArtifactBackend {
        schemes: &["az"],
        feature: "azure",
        open: open_backend,
    }
}
