//! Writing a new object: parts streamed into a staged object, then published write-once.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use object_store::path::Path;
use object_store::{MultipartUpload, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use tokio::task::JoinHandle;
use zenml_core::store::{ArtifactStoreError, ArtifactWriter, ObjectInfo};

use super::Shared;
use super::runtime::wait;

/// A name no other writer, in this process or another, uses: 64 bits seeded from the OS's
/// randomness once per process, the process id and a counter.
pub(crate) fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(n);
    format!("{:016x}-{:x}-{n:x}", hasher.finish(), std::process::id())
}

/// The smallest buffer a writer starts with.
const MIN_BUFFER: usize = 64 * 1024;

/// An object being written to the staging area of an [`ObjectArtifactStore`].
///
/// Bytes collect in a buffer of one part; each full part goes to a multipart upload (begun at
/// the first full part) while the next one fills, with a bounded number in flight. At publish,
/// whatever is left completes the upload, or, for an object smaller than a part, is put in one
/// request.
///
/// [`ObjectArtifactStore`]: super::ObjectArtifactStore
pub(crate) struct ObjectWriter {
    shared: Arc<Shared>,
    staging: Path,
    part_size: usize,
    parts_in_flight: usize,
    buffer: Vec<u8>,
    /// The multipart upload, once the first part is sent.
    upload: Option<Box<dyn MultipartUpload>>,
    in_flight: VecDeque<JoinHandle<object_store::Result<()>>>,
    parts_sent: u64,
    /// The whole object is at `staging`.
    staged: bool,
    /// A write failed; the object can no longer be published.
    failed: bool,
}

impl std::fmt::Debug for ObjectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectWriter")
            .field("staging", &self.staging)
            .field("buffered", &self.buffer.len())
            .field("parts_sent", &self.parts_sent)
            .finish_non_exhaustive()
    }
}

impl ObjectWriter {
    pub(crate) fn new(shared: Arc<Shared>, part_size: usize, parts_in_flight: usize) -> Self {
        ObjectWriter {
            staging: shared.staging_location(),
            shared,
            part_size,
            parts_in_flight,
            buffer: Vec::new(),
            upload: None,
            in_flight: VecDeque::new(),
            parts_sent: 0,
            staged: false,
            failed: false,
        }
    }

    /// Makes room for `n` more bytes, within one part. The first part's buffer grows as needed,
    /// so a small object never takes a whole part's memory; later parts get a whole part at once.
    fn reserve(&mut self, n: usize) {
        let (len, cap) = (self.buffer.len(), self.buffer.capacity());
        if cap - len >= n {
            return;
        }
        let target = if self.parts_sent > 0 {
            self.part_size
        } else {
            (len + n)
                .max(cap.saturating_mul(2))
                .max(MIN_BUFFER)
                .min(self.part_size)
        };
        self.buffer.reserve_exact(target - len);
    }

    /// Sends the buffer as the next part, beginning the upload if needed, and waits while too
    /// many parts are in flight.
    fn send_part(&mut self) -> Result<(), ArtifactStoreError> {
        if self.upload.is_none() {
            let (store, location) = (self.shared.store.clone(), self.staging.clone());
            let upload = self
                .shared
                .run(async move { store.put_multipart(&location).await })?;
            self.upload = Some(upload);
        }
        let data = std::mem::take(&mut self.buffer);
        if let Some(upload) = self.upload.as_mut() {
            let part = upload.put_part(PutPayload::from(data));
            self.in_flight.push_back(self.shared.runtime.spawn(part));
            self.parts_sent += 1;
        }
        while self.in_flight.len() > self.parts_in_flight {
            self.wait_oldest()?;
        }
        Ok(())
    }

    fn wait_oldest(&mut self) -> Result<(), ArtifactStoreError> {
        match self.in_flight.pop_front().map(wait) {
            None | Some(Ok(Ok(()))) => Ok(()),
            Some(Ok(Err(e))) => Err(self.shared.backend(e)),
            Some(Err(join)) => Err(self.shared.backend(join)),
        }
    }

    /// Puts everything written at the staging location.
    fn stage(&mut self) -> Result<(), ArtifactStoreError> {
        if self.failed {
            return Err(self
                .shared
                .backend("an earlier write to this object failed; it cannot be published"));
        }
        if self.upload.is_some() {
            if !self.buffer.is_empty() {
                self.send_part()?;
            }
            while !self.in_flight.is_empty() {
                self.wait_oldest()?;
            }
            if let Some(mut upload) = self.upload.take() {
                self.shared.run(async move {
                    let done = upload.complete().await;
                    if done.is_err() {
                        let _ = upload.abort().await;
                    }
                    done
                })?;
            }
        } else {
            let data = PutPayload::from(std::mem::take(&mut self.buffer));
            let (store, location) = (self.shared.store.clone(), self.staging.clone());
            self.shared
                .run(async move { store.put(&location, data).await })?;
        }
        self.staged = true;
        Ok(())
    }

    /// Publishes an object held whole in the buffer with one conditional put at `dest`, where
    /// the store [puts directly](Shared::puts_directly): nothing is uploaded when an object is
    /// there already, and a put that finds one there (created meanwhile by another writer)
    /// keeps it. Where the backend has no conditional put, a plain put follows the check:
    /// writers racing through that window write the same bytes, as keys are content hashes.
    fn put_at(&mut self, dest: &Path, key: &str) -> Result<ObjectInfo, ArtifactStoreError> {
        if self.failed {
            return Err(self
                .shared
                .backend("an earlier write to this object failed; it cannot be published"));
        }
        if let Some(info) = self.shared.head_location(dest)? {
            self.buffer = Vec::new();
            return Ok(info);
        }
        let data = PutPayload::from(std::mem::take(&mut self.buffer));
        let (store, location) = (self.shared.store.clone(), dest.clone());
        self.shared.run(async move {
            let create = PutOptions::from(PutMode::Create);
            match store.put_opts(&location, data.clone(), create).await {
                Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
                Err(object_store::Error::NotImplemented { .. })
                | Err(object_store::Error::NotSupported { .. }) => {
                    store.put(&location, data).await.map(|_| ())
                }
                Err(e) => Err(e),
            }
        })?;
        self.shared.head_published(dest, key)
    }

    /// Removes whatever this writer put in the staging area (best effort).
    fn discard(&mut self) {
        while !self.in_flight.is_empty() {
            let _ = self.wait_oldest();
        }
        if let Some(mut upload) = self.upload.take() {
            let _ = self.shared.runtime.run(async move { upload.abort().await });
        }
        if std::mem::take(&mut self.staged) {
            let _ = self.shared.delete_location(&self.staging);
        }
        self.buffer = Vec::new();
    }
}

impl Write for ObjectWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other(
                "an earlier write to this artifact store object failed",
            ));
        }
        let mut rest = data;
        while !rest.is_empty() {
            if self.buffer.len() >= self.part_size {
                // Sent only once more bytes come, so an object of exactly one part is one put.
                if let Err(e) = self.send_part() {
                    self.failed = true;
                    return Err(io::Error::other(e));
                }
            }
            let n = rest.len().min(self.part_size - self.buffer.len());
            self.reserve(n);
            self.buffer.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Parts have a minimum size in buckets: bytes are sent when a part is full, or at publish.
        Ok(())
    }
}

impl ArtifactWriter for ObjectWriter {
    fn publish(mut self: Box<Self>, key: &str) -> Result<ObjectInfo, ArtifactStoreError> {
        let dest = self.shared.location(key)?;
        if self.upload.is_none() && self.shared.puts_directly() {
            return self.put_at(&dest, key);
        }
        self.stage()?;
        let published = self.shared.publish_staged(&self.staging, &dest);
        self.discard();
        published?;
        self.shared.head_published(&dest, key)
    }

    fn abort(mut self: Box<Self>) -> Result<(), ArtifactStoreError> {
        self.discard();
        Ok(())
    }
}

impl Drop for ObjectWriter {
    fn drop(&mut self) {
        self.discard();
    }
}
