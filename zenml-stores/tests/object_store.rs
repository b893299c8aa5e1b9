//! The artifact stores over `object_store`: the shared conformance suite on a local folder and in
//! memory, plus what is particular to them (URLs, runtimes, crashes).
#![cfg(feature = "object-store")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::memory::InMemory;
use zenml_core::artifact::io::content_key;
use zenml_core::hash::Hash128;
use zenml_core::store::conformance::artifact::{
    ArtifactStoreFixture, CHECKS, pseudo_random, run_all,
};
use zenml_core::store::{ArtifactStore, ArtifactStoreError, open_artifact_store};
use zenml_stores::object::{ObjectArtifactStore, STAGING_PREFIX};

/// A local folder in a temporary directory; sees every file in it.
struct Local {
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: ObjectArtifactStore,
}

impl Local {
    fn new() -> Self {
        Self::with(|s| s)
    }

    fn with(tune: impl FnOnce(ObjectArtifactStore) -> ObjectArtifactStore) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path().join("nested").join("artifacts");
        let store = tune(ObjectArtifactStore::local(&root).expect("a local store"));
        Local {
            _dir: dir,
            root,
            store,
        }
    }
}

/// Every file below `root`, as a `/`-separated path relative to it.
fn files_below(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if let Ok(rel) = path.strip_prefix(root) {
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

impl ArtifactStoreFixture for Local {
    fn store(&self) -> &dyn ArtifactStore {
        &self.store
    }

    fn raw_objects(&self) -> Option<Vec<String>> {
        Some(files_below(&self.root))
    }
}

/// An in-memory store whose objects the fixture lists.
struct Memory {
    objects: Arc<InMemory>,
    /// The store's root in `objects`.
    prefix: object_store::path::Path,
    store: ObjectArtifactStore,
}

impl Memory {
    fn new() -> Self {
        Self::with(|s| s)
    }

    fn with(tune: impl FnOnce(ObjectArtifactStore) -> ObjectArtifactStore) -> Self {
        let objects = Arc::new(InMemory::new());
        let store = ObjectArtifactStore::new(
            objects.clone(),
            object_store::path::Path::default(),
            "memory://",
        )
        .expect("a memory store");
        Memory {
            objects,
            prefix: object_store::path::Path::default(),
            store: tune(store),
        }
    }

    /// A store rooted below a prefix, beside objects that are not its own.
    fn with_prefix() -> Self {
        let objects = Arc::new(InMemory::new());
        let prefix = object_store::path::Path::from("team/artifacts");
        let neighbour = object_store::path::Path::from("team/other/file");
        futures::executor::block_on(object_store::ObjectStoreExt::put(
            objects.as_ref(),
            &neighbour,
            b"not an artifact".to_vec().into(),
        ))
        .expect("a neighbouring object");
        let store = ObjectArtifactStore::new(
            objects.clone(),
            prefix.clone(),
            "memory://bucket/team/artifacts",
        )
        .expect("a memory store");
        Memory {
            objects,
            prefix,
            store,
        }
    }
}

impl ArtifactStoreFixture for Memory {
    fn store(&self) -> &dyn ArtifactStore {
        &self.store
    }

    fn raw_objects(&self) -> Option<Vec<String>> {
        let listed = futures::executor::block_on(
            self.objects
                .list(Some(&self.prefix))
                .map_ok(|meta| {
                    meta.location
                        .prefix_match(&self.prefix)
                        .map(|parts| parts.map(|p| p.as_ref().to_owned()).collect::<Vec<_>>())
                        .unwrap_or_default()
                        .join("/")
                })
                .try_collect::<Vec<_>>(),
        );
        Some(listed.expect("listing the memory store"))
    }
}

#[test]
fn conformance_local() {
    run_all(Local::new);
}

#[test]
fn conformance_memory() {
    run_all(Memory::new);
}

#[test]
fn conformance_below_a_prefix() {
    run_all(Memory::with_prefix);
    let memory = Memory::with_prefix();
    memory
        .store
        .create()
        .and_then(|w| w.publish("ab/key"))
        .expect("publish");
    assert_eq!(
        memory.store.uri("ab/key"),
        "memory://bucket/team/artifacts/ab/key"
    );
    let all = futures::executor::block_on(
        memory
            .objects
            .list(None)
            .map_ok(|meta| meta.location.to_string())
            .try_collect::<Vec<_>>(),
    )
    .expect("list");
    assert!(all.contains(&"team/artifacts/ab/key".to_owned()), "{all:?}");
    assert!(all.contains(&"team/other/file".to_owned()), "{all:?}");
}

#[test]
fn conformance_with_small_parts() {
    // Many parts per object, one or several in flight.
    run_all(|| Local::with(|s| s.with_part_size(64 * 1024).with_parts_in_flight(1)));
    run_all(|| Memory::with(|s| s.with_part_size(100_000).with_parts_in_flight(3)));
}

#[test]
fn conformance_durable_local_folder() {
    let durable = || {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = dir.path().join("artifacts");
        let store = ObjectArtifactStore::local_durable(&root).expect("a durable local store");
        Local {
            _dir: dir,
            root,
            store,
        }
    };
    for (name, check) in CHECKS {
        if [
            "round_trip_small",
            "write_once",
            "concurrent_publishers",
            "abort_leaves_nothing",
        ]
        .contains(name)
        {
            check(&durable());
        }
    }
}

// The store is synchronous; callers inside a tokio runtime (of either flavour) must be able to
// use it, and drop it, without a panic.
#[tokio::test(flavor = "current_thread")]
async fn conformance_inside_a_current_thread_runtime() {
    run_all(Local::new);
    run_all(Memory::new);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_inside_a_multi_thread_runtime() {
    run_all(Memory::new);
    let local = Local::new();
    let moved = local.store.clone();
    // From a task of the caller's runtime, too.
    let published = tokio::spawn(async move {
        let mut w = moved.create()?;
        w.write_all(b"from a task")
            .map_err(|e| ArtifactStoreError::Config(e.to_string()))?;
        w.publish("ab/from-a-task")
    })
    .await
    .expect("the task");
    assert_eq!(published.expect("publish").size, 11);
    drop(local);
}

#[test]
fn a_crash_leaves_staged_bytes_only_under_the_staging_prefix() {
    let local = Local::new();
    let data = pseudo_random((20 << 20) + 1, 7);
    let mut w = local.store.create().expect("create");
    w.write_all(&data).expect("write");
    // A process that dies mid-write runs no destructor.
    std::mem::forget(w);
    let files = files_below(&local.root);
    assert!(!files.is_empty(), "the multipart upload has begun");
    for f in &files {
        assert!(
            f.starts_with(&format!("{STAGING_PREFIX}/")),
            "`{f}` is outside the staging area"
        );
    }
    let key = content_key(Hash128::of(&data));
    assert_eq!(local.store.head(&key).expect("head"), None);
}

#[test]
fn keys_in_the_staging_area_are_refused() {
    let local = Local::new();
    let key = format!("{STAGING_PREFIX}/x");
    assert!(matches!(
        local.store.open(&key),
        Err(ArtifactStoreError::InvalidKey { .. })
    ));
    let w = local.store.create().expect("create");
    assert!(matches!(
        w.publish(&key),
        Err(ArtifactStoreError::InvalidKey { .. })
    ));
}

#[test]
fn local_uri_and_description() {
    let local = Local::new();
    let canonical = std::fs::canonicalize(&local.root).expect("the folder exists");
    let expected = format!("file://{}", canonical.display());
    assert_eq!(local.store.describe(), expected);
    assert_eq!(local.store.uri("ab/abc"), format!("{expected}/ab/abc"));
}

#[test]
fn opened_through_the_backend_registry() -> Result<(), ArtifactStoreError> {
    let dir = tempfile::tempdir().map_err(|e| ArtifactStoreError::Config(e.to_string()))?;
    let base = dir.path();

    // A plain relative path is relative to `base`, and created.
    let relative = open_artifact_store("artifacts", base)?;
    let mut w = relative.create()?;
    w.write_all(b"bytes")
        .map_err(|e| ArtifactStoreError::Config(e.to_string()))?;
    w.publish("ab/one")?;
    assert!(base.join("artifacts/ab/one").is_file());

    // A file URL names the same folder.
    let canonical = std::fs::canonicalize(base.join("artifacts"))
        .map_err(|e| ArtifactStoreError::Config(e.to_string()))?;
    let url = format!("file://{}", canonical.display());
    let by_url = open_artifact_store(&url, Path::new("/elsewhere"))?;
    assert_eq!(by_url.head("ab/one")?.map(|i| i.size), Some(5));
    assert_eq!(by_url.describe(), relative.describe());

    // `memory://` is new each time; `memory://name` is shared in the process.
    let a = open_artifact_store("memory://", base)?;
    a.create()?.publish("ab/x")?;
    assert_eq!(open_artifact_store("memory://", base)?.head("ab/x")?, None);
    let named = open_artifact_store("memory://registry-test", base)?;
    named.create()?.publish("ab/y")?;
    let again = open_artifact_store("memory://registry-test/", base)?;
    assert!(again.head("ab/y")?.is_some());
    assert_eq!(again.uri("ab/y"), "memory://registry-test/ab/y");

    // An unknown scheme is a clear error that lists what is known.
    match open_artifact_store("ftp://host/x", base) {
        Err(ArtifactStoreError::Config(m)) => {
            assert!(
                m.contains("ftp") && m.contains("file") && m.contains("memory"),
                "{m}"
            )
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    // A file URL with a host is refused rather than misread.
    assert!(matches!(
        open_artifact_store("file://relative/dir", base),
        Err(ArtifactStoreError::Config(_))
    ));
    Ok(())
}

#[test]
fn an_unusable_folder_is_a_configuration_error() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a folder")?;
    match ObjectArtifactStore::local(file.join("artifacts")) {
        Err(ArtifactStoreError::Config(m)) => assert!(m.contains("a-file"), "{m}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
    Ok(())
}

#[test]
fn the_store_is_send_sync_clone_and_debug() {
    fn check<T: Send + Sync + Clone + std::fmt::Debug + 'static>() {}
    check::<ObjectArtifactStore>();
}

/// A store that counts what its writers publish and how many bytes they are given.
#[derive(Debug)]
struct Counting {
    inner: ObjectArtifactStore,
    published: Arc<std::sync::atomic::AtomicU64>,
    written: Arc<std::sync::atomic::AtomicU64>,
}

struct CountingWriter {
    inner: Box<dyn zenml_core::store::ArtifactWriter>,
    published: Arc<std::sync::atomic::AtomicU64>,
    written: Arc<std::sync::atomic::AtomicU64>,
}

impl Write for CountingWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(data)?;
        self.written
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl zenml_core::store::ArtifactWriter for CountingWriter {
    fn publish(
        self: Box<Self>,
        key: &str,
    ) -> Result<zenml_core::store::ObjectInfo, ArtifactStoreError> {
        self.published
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.publish(key)
    }

    fn abort(self: Box<Self>) -> Result<(), ArtifactStoreError> {
        self.inner.abort()
    }
}

impl ArtifactStore for Counting {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn uri(&self, key: &str) -> String {
        self.inner.uri(key)
    }

    fn create(&self) -> Result<Box<dyn zenml_core::store::ArtifactWriter>, ArtifactStoreError> {
        Ok(Box::new(CountingWriter {
            inner: self.inner.create()?,
            published: self.published.clone(),
            written: self.written.clone(),
        }))
    }

    fn open(&self, key: &str) -> Result<Box<dyn std::io::Read + Send>, ArtifactStoreError> {
        self.inner.open(key)
    }

    fn head(&self, key: &str) -> Result<Option<zenml_core::store::ObjectInfo>, ArtifactStoreError> {
        self.inner.head(key)
    }

    fn delete(&self, key: &str) -> Result<(), ArtifactStoreError> {
        self.inner.delete(key)
    }
}

#[test]
fn content_already_stored_is_not_published_again() {
    use std::sync::atomic::Ordering::Relaxed;
    use zenml_core::artifact::io::ContentStore;
    use zenml_core::artifact::{ArtifactKind, FileArtifact};

    let local = Local::new();
    let store = Counting {
        inner: local.store.clone(),
        published: Default::default(),
        written: Default::default(),
    };
    let data = pseudo_random((24 << 20) + 3, 21);
    let (value, mut file) = FileArtifact::create_temp().expect("a temporary file");
    file.write_all(&data).expect("write");
    drop(file);
    let kind = ArtifactKind::of::<FileArtifact>();
    let content = ContentStore::new(&store);
    let first = content.write(&kind, &value).expect("first write").artifact;
    assert_eq!(store.published.load(Relaxed), 1);
    assert_eq!(store.written.load(Relaxed), data.len() as u64);
    assert_eq!(first.hash, Hash128::of(&data));

    // The same bytes again, as a file and as an encoded value: found, verified, not published.
    let again = content.write(&kind, &value).expect("second write").artifact;
    assert_eq!(again, first);
    let bytes = ArtifactKind::of::<Vec<u8>>();
    let encoded = content
        .write(&bytes, &data)
        .expect("an encoded value")
        .artifact;
    let encoded_again = content.write(&bytes, &data).expect("again").artifact;
    assert_eq!(encoded_again, encoded);
    assert_eq!(
        store.published.load(Relaxed),
        2,
        "only the first file and the first encoded value are published"
    );
    assert_eq!(
        files_below(&local.root).len(),
        2,
        "{:?}",
        files_below(&local.root)
    );

    // A damaged object is not reused: the file is written afresh.
    let key = content_key(first.hash);
    std::fs::write(local.root.join(&key), b"damaged").expect("damage");
    let repaired = content.write(&kind, &value).expect("repairing write");
    assert_eq!(repaired.artifact.hash, first.hash);
    assert!(repaired.repaired.is_some(), "the damage is reported");
    assert_eq!(
        std::fs::read(local.root.join(&key)).expect("the object"),
        data
    );
}
