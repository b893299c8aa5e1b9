//! Conformance tests for [`ArtifactStore`] backends, and for the content-addressed artifact I/O
//! the runtime does through them ([`ContentStore`]).
//!
//! A backend's tests implement [`ArtifactStoreFixture`] for a fresh, empty store and call
//! [`run_all`]:
//!
//! ```ignore
//! #[test]
//! fn conformance() {
//!     zenml_core::store::conformance::artifact::run_all(|| MyFixture::new());
//! }
//! ```
//!
//! Every check panics with a message on the first behaviour that breaks the contract.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use crate::artifact::io::{ArtifactError, Checked, ContentStore, Damage, Verify, content_key};
use crate::artifact::{Artifact, ArtifactKind, FileArtifact, Json, Metrics, Table};
use crate::hash::Hash128;
use crate::store::{ArtifactRecord, ArtifactStore, ArtifactStoreError, NewArtifact, ObjectInfo};

/// A store under test, with an optional view of everything its backend holds.
pub trait ArtifactStoreFixture {
    /// The store under test: the same, initially empty store on every call.
    fn store(&self) -> &dyn ArtifactStore;

    /// Every object the backend holds (staged objects and a local folder's temporary files
    /// included), as paths relative to the store's root; `None` if the fixture cannot see them.
    /// With it, the suite also checks that nothing is left behind.
    fn raw_objects(&self) -> Option<Vec<String>> {
        None
    }
}

/// One check of the suite.
pub type Check = fn(&dyn ArtifactStoreFixture);

/// Every check, by name.
pub const CHECKS: &[(&str, Check)] = &[
    ("round_trip_small", round_trip_small),
    ("round_trip_empty", round_trip_empty),
    ("round_trip_large", round_trip_large),
    ("head_size_and_etag", head_size_and_etag),
    ("write_once", write_once),
    (
        "identical_content_stored_once",
        identical_content_stored_once,
    ),
    ("abort_leaves_nothing", abort_leaves_nothing),
    ("drop_leaves_nothing", drop_leaves_nothing),
    ("not_found", not_found),
    ("delete", delete),
    ("concurrent_publishers", concurrent_publishers),
    (
        "concurrent_publishers_of_other_bytes",
        concurrent_publishers_of_other_bytes,
    ),
    ("uri_shape", uri_shape),
    ("invalid_keys", invalid_keys),
    ("msgpack_artifact_round_trip", msgpack_artifact_round_trip),
    ("json_artifact_round_trip", json_artifact_round_trip),
    ("metrics_artifact_round_trip", metrics_artifact_round_trip),
    ("table_artifact_round_trip", table_artifact_round_trip),
    ("file_artifact_round_trip", file_artifact_round_trip),
    ("artifacts_are_deduplicated", artifacts_are_deduplicated),
    ("corrupted_artifact_detected", corrupted_artifact_detected),
    ("truncated_artifact_detected", truncated_artifact_detected),
    (
        "damaged_object_replaced_on_rewrite",
        damaged_object_replaced_on_rewrite,
    ),
    ("missing_artifact_detected", missing_artifact_detected),
    (
        "replaced_object_detected_by_a_quick_check",
        replaced_object_detected_by_a_quick_check,
    ),
    ("concurrent_artifact_writers", concurrent_artifact_writers),
    (
        "nothing_visible_while_writing",
        nothing_visible_while_writing,
    ),
];

/// Runs every check, each on a fresh fixture from `fresh`.
pub fn run_all<F: ArtifactStoreFixture>(fresh: impl Fn() -> F) {
    for (name, check) in CHECKS {
        let fixture = fresh();
        let store = fixture.store().describe();
        eprintln!("artifact store conformance: {name} on {store}");
        check(&fixture);
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// `len` reproducible pseudo-random bytes (xorshift64*).
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `data` in chunks of irregular sizes (1 byte to a few hundred KiB).
fn write_irregular(w: &mut dyn Write, data: &[u8], seed: u64) {
    const SIZES: [usize; 7] = [1, 7, 4096, 65_537, 3, 300_001, 1 << 20];
    let mut rest = data;
    let mut i = seed as usize;
    while !rest.is_empty() {
        let n = SIZES[i % SIZES.len()].min(rest.len());
        w.write_all(&rest[..n])
            .expect("writing to an artifact writer");
        rest = &rest[n..];
        i += 1;
    }
}

/// Publishes `data` at `key`.
fn publish(store: &dyn ArtifactStore, data: &[u8], key: &str) -> ObjectInfo {
    let mut w = store.create().expect("create");
    write_irregular(&mut w, data, data.len() as u64);
    w.publish(key)
        .unwrap_or_else(|e| panic!("publishing {} bytes at `{key}`: {e}", data.len()))
}

/// Reads the whole object at `key`, in reads of irregular sizes.
fn read_all(store: &dyn ArtifactStore, key: &str) -> Vec<u8> {
    let mut r = store
        .open(key)
        .unwrap_or_else(|e| panic!("opening `{key}`: {e}"));
    let mut out = Vec::new();
    let mut buf = vec![0u8; 100_003];
    let sizes = [1usize, 10, 100_003, 4096, 77];
    let mut i = 0;
    loop {
        let want = sizes[i % sizes.len()];
        i += 1;
        let n = r
            .read(&mut buf[..want])
            .unwrap_or_else(|e| panic!("reading `{key}`: {e}"));
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn key_of(data: &[u8]) -> String {
    content_key(Hash128::of(data))
}

/// Checks that the backend holds exactly `keys` (when the fixture can tell).
fn assert_holds_only(fixture: &dyn ArtifactStoreFixture, keys: &[&str], after: &str) {
    if let Some(mut raw) = fixture.raw_objects() {
        raw.sort();
        let mut expected: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        expected.sort();
        expected.dedup();
        assert_eq!(
            raw, expected,
            "after {after}, the backend should hold exactly the published objects"
        );
    }
}

fn assert_same(got: &[u8], expected: &[u8], what: &str) {
    assert!(
        got.len() == expected.len() && got == expected,
        "{what}: read {} bytes (hash {}), expected {} bytes (hash {})",
        got.len(),
        Hash128::of(got),
        expected.len(),
        Hash128::of(expected)
    );
}

fn record(artifact: NewArtifact) -> ArtifactRecord {
    artifact.recorded(1, 0)
}

/// Writes `value` through the glue, checks what it reports against the store, reads it back.
fn artifact_round_trip<T: Artifact>(fixture: &dyn ArtifactStoreFixture, value: &T) -> Arc<T> {
    let store = fixture.store();
    let kind = ArtifactKind::of::<T>();
    let artifact = write_artifact(store, &kind, value)
        .unwrap_or_else(|e| panic!("writing a {} artifact: {e}", kind.type_name()));
    let key = content_key(artifact.hash);
    assert_eq!(artifact.uri, store.uri(&key), "the artifact's URI");
    assert_eq!(artifact.materializer, kind.materializer_tag());
    let info = store
        .head(&key)
        .expect("head")
        .expect("the artifact is published at its content key");
    assert_eq!(info.size, artifact.size, "stored size of the artifact");
    assert_eq!(
        Hash128::of(&read_all(store, &key)),
        artifact.hash,
        "the stored bytes hash to the artifact's hash"
    );
    let record = record(artifact);
    verify_artifact(store, &record).expect("verify_artifact on an intact artifact");
    let value = read_artifact(store, &kind, &record)
        .unwrap_or_else(|e| panic!("reading a {} artifact: {e}", kind.type_name()));
    value.downcast::<T>().unwrap_or_else(|_| {
        panic!(
            "read_artifact returned another type than {}",
            kind.type_name()
        )
    })
}

/// A serde type, stored as MessagePack.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Sample {
    name: String,
    weights: Vec<f64>,
    counts: BTreeMap<String, u32>,
    note: Option<String>,
    nested: Vec<(i64, bool)>,
}

fn sample() -> Sample {
    Sample {
        name: "logistic regression — é".to_owned(),
        weights: (0..1000).map(|i| f64::from(i) * 0.25 - 3.0).collect(),
        counts: [("setosa".to_owned(), 50), ("virginica".to_owned(), 49)]
            .into_iter()
            .collect(),
        note: None,
        nested: vec![(-1, true), (i64::MAX, false)],
    }
}

fn sample_table() -> Table {
    let schema = Arc::new(Schema::new(vec![
        Field::new("x", DataType::Float64, false),
        Field::new("n", DataType::Int64, true),
        Field::new("label", DataType::Utf8, false),
    ]));
    let batch = |start: i64, len: i64| {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from_iter_values(
                (start..start + len).map(|i| i as f64 / 7.0),
            )),
            Arc::new(Int64Array::from_iter(
                (start..start + len).map(|i| (i % 5 != 0).then_some(i)),
            )),
            Arc::new(StringArray::from_iter_values(
                (start..start + len).map(|i| format!("row-{i}")),
            )),
        ];
        RecordBatch::try_new(schema.clone(), columns).expect("a valid batch")
    };
    Table::try_new(schema.clone(), vec![batch(0, 1000), batch(1000, 257)]).expect("a valid table")
}

// ---------------------------------------------------------------------------------------------
// The store

/// Small objects round-trip, and `publish` reports what `head` reports.
pub fn round_trip_small(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let data = b"a small artifact".to_vec();
    let key = key_of(&data);
    let info = publish(store, &data, &key);
    assert_eq!(info.size, data.len() as u64, "publish reports the size");
    assert_eq!(
        store.head(&key).expect("head"),
        Some(info),
        "head reports what publish did"
    );
    assert_same(&read_all(store, &key), &data, "small object");
    assert_holds_only(fixture, &[&key], "publishing one object");
}

/// An empty object round-trips.
pub fn round_trip_empty(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let key = key_of(b"");
    let info = store
        .create()
        .expect("create")
        .publish(&key)
        .expect("publishing an empty object");
    assert_eq!(info.size, 0);
    assert_same(&read_all(store, &key), b"", "empty object");
}

/// A multi-MiB object, written and read in irregular pieces, round-trips.
pub fn round_trip_large(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let data = pseudo_random((20 << 20) + 12_345, 1);
    let key = key_of(&data);
    let info = publish(store, &data, &key);
    assert_eq!(info.size, data.len() as u64);
    assert_same(&read_all(store, &key), &data, "multi-MiB object");
    assert_holds_only(fixture, &[&key], "publishing a multi-MiB object");
}

/// `head` is `None` for a missing key and reports size and tag for a published one; an object
/// published again after a delete gets another tag, when the backend has tags.
pub fn head_size_and_etag(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let key = "aa/head-check";
    assert_eq!(store.head(key).expect("head of a missing key"), None);
    let first = publish(store, b"first version", key);
    let head = store.head(key).expect("head").expect("a published object");
    assert_eq!(head.size, 13);
    assert_eq!(head.etag, first.etag, "head and publish agree on the tag");
    assert_eq!(
        store.head(key).expect("head").expect("still there").etag,
        first.etag,
        "the tag is stable while the object is unchanged"
    );
    store.delete(key).expect("delete");
    let second = publish(store, b"the second, longer version", key);
    assert_eq!(second.size, 26);
    if first.etag.is_some() {
        assert!(
            second.etag.is_some(),
            "a backend with tags tags every object"
        );
        assert_ne!(
            first.etag, second.etag,
            "a rewritten object gets another tag"
        );
    }
}

/// Publishing other bytes at a taken key succeeds and keeps the first object.
pub fn write_once(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let key = "bb/write-once";
    let first = publish(store, b"the first bytes", key);
    let second = publish(store, b"other bytes, longer than the first", key);
    assert_eq!(
        second, first,
        "publishing at a taken key reports the object already there"
    );
    assert_same(
        &read_all(store, key),
        b"the first bytes",
        "a taken key keeps its first object",
    );
    assert_holds_only(fixture, &[key], "publishing twice at one key");
}

/// Identical content published twice is stored once.
pub fn identical_content_stored_once(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let data = pseudo_random(3 << 20, 2);
    let key = key_of(&data);
    let first = publish(store, &data, &key);
    let second = publish(store, &data, &key);
    assert_eq!(first, second);
    assert_same(&read_all(store, &key), &data, "deduplicated object");
    assert_holds_only(fixture, &[&key], "publishing the same content twice");
}

/// An aborted writer leaves nothing, whether it wrote a little or many MiB.
pub fn abort_leaves_nothing(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    for len in [10, (18 << 20) + 3] {
        let data = pseudo_random(len, 3);
        let mut w = store.create().expect("create");
        write_irregular(&mut w, &data, 0);
        w.abort().expect("abort");
        assert_eq!(
            store.head(&key_of(&data)).expect("head"),
            None,
            "aborted bytes are not visible"
        );
        assert_holds_only(fixture, &[], "aborting a writer");
    }
}

/// A writer dropped without publishing leaves nothing.
pub fn drop_leaves_nothing(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    for len in [0, 1000, (18 << 20) + 5] {
        let data = pseudo_random(len, 4);
        let mut w = store.create().expect("create");
        write_irregular(&mut w, &data, 1);
        drop(w);
        assert_eq!(store.head(&key_of(&data)).expect("head"), None);
        assert_holds_only(fixture, &[], "dropping a writer");
    }
}

/// A missing key: `open` fails with `NotFound` naming it, `head` is `None`, `delete` is fine.
pub fn not_found(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let key = "cc/missing";
    match store.open(key) {
        Err(ArtifactStoreError::NotFound { key: k, .. }) => assert_eq!(k, key),
        Err(e) => panic!("opening a missing key should be NotFound, got {e:?}"),
        Ok(_) => panic!("opening a missing key should fail"),
    }
    assert_eq!(store.head(key).expect("head"), None);
    store
        .delete(key)
        .expect("deleting a missing key is not an error");
    publish(store, b"x", "cc/present");
    assert!(
        store.open("cc/present/below").is_err(),
        "a key below an object's key is not that object"
    );
}

/// `delete` removes an object; the key can be published again.
pub fn delete(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let key = "dd/deleted";
    publish(store, b"to be deleted", key);
    publish(store, b"to be kept", "dd/kept");
    store.delete(key).expect("delete");
    assert_eq!(store.head(key).expect("head"), None);
    assert!(matches!(
        store.open(key),
        Err(ArtifactStoreError::NotFound { .. })
    ));
    assert_same(&read_all(store, "dd/kept"), b"to be kept", "a neighbour");
    publish(store, b"new bytes", key);
    assert_same(&read_all(store, key), b"new bytes", "republished object");
    assert_holds_only(fixture, &[key, "dd/kept"], "delete and republish");
}

/// Threads publishing the same content at once all succeed, and one object remains.
pub fn concurrent_publishers(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let data = pseudo_random((2 << 20) + 99, 5);
    let key = key_of(&data);
    let infos: Vec<ObjectInfo> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8u64)
            .map(|i| {
                let (data, key) = (&data, &key);
                s.spawn(move || {
                    let mut w = store.create().expect("create");
                    write_irregular(&mut w, data, i);
                    w.publish(key).expect("a concurrent publisher succeeds")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("publisher thread"))
            .collect()
    });
    for info in &infos {
        assert_eq!(info.size, data.len() as u64);
    }
    assert_same(
        &read_all(store, &key),
        &data,
        "concurrently published object",
    );
    assert_holds_only(fixture, &[&key], "concurrent publishers");
}

/// Threads publishing different bytes at one key all succeed; the key then holds exactly one of
/// them, whole.
pub fn concurrent_publishers_of_other_bytes(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let key = "ee/contended";
    let versions: Vec<Vec<u8>> = (0..6u64)
        .map(|i| pseudo_random((1 << 20) + i as usize * 1000, 10 + i))
        .collect();
    std::thread::scope(|s| {
        for (i, data) in versions.iter().enumerate() {
            s.spawn(move || {
                let mut w = store.create().expect("create");
                write_irregular(&mut w, data, i as u64);
                w.publish(key).expect("a concurrent publisher succeeds");
            });
        }
    });
    let got = read_all(store, key);
    assert!(
        versions.contains(&got),
        "the contended key holds one published version, whole ({} bytes read)",
        got.len()
    );
    assert_holds_only(fixture, &[key], "concurrent publishers of other bytes");
}

/// `uri` is a URI ending with the key, distinct per key and stable; `describe` says something.
pub fn uri_shape(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let key = "ab/ab0123456789abcdef0123456789abcd";
    let uri = store.uri(key);
    assert!(uri.contains("://"), "`{uri}` has a scheme");
    assert!(
        uri.ends_with(&format!("/{key}")),
        "`{uri}` ends with `/{key}`"
    );
    assert_eq!(store.uri(key), uri, "uri is stable");
    assert_ne!(store.uri("ab/other"), uri, "uri is distinct per key");
    assert!(!store.describe().is_empty());
}

/// Keys that are not relative paths are refused, with an error rather than a panic, and
/// nothing is written outside the store.
pub fn invalid_keys(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    for key in ["", "/abs", "a//b", "a/", "../escape", "a/../../b", "./a"] {
        assert!(store.open(key).is_err(), "open(`{key}`) is refused");
        assert!(store.head(key).is_err(), "head(`{key}`) is refused");
        assert!(store.delete(key).is_err(), "delete(`{key}`) is refused");
        let mut w = store.create().expect("create");
        w.write_all(b"stray bytes").expect("write");
        assert!(w.publish(key).is_err(), "publish(`{key}`) is refused");
    }
    assert_holds_only(fixture, &[], "refused keys");
}

// ---------------------------------------------------------------------------------------------
// Artifacts through the store

/// A serde value round-trips as MessagePack.
pub fn msgpack_artifact_round_trip(fixture: &dyn ArtifactStoreFixture) {
    let back = artifact_round_trip(fixture, &sample());
    assert_eq!(*back, sample());
}

/// A `Json<T>` value round-trips.
pub fn json_artifact_round_trip(fixture: &dyn ArtifactStoreFixture) {
    let value = Json(sample());
    let back = artifact_round_trip(fixture, &value);
    assert_eq!(*back, value);
}

/// `Metrics` round-trip (non-finite values come back as NaN).
pub fn metrics_artifact_round_trip(fixture: &dyn ArtifactStoreFixture) {
    let value = Metrics::new()
        .with("accuracy", 0.953)
        .with("loss", 1e-12)
        .with("broken", f64::INFINITY);
    let back = artifact_round_trip(fixture, &value);
    assert_eq!(back.get("accuracy"), Some(0.953));
    assert_eq!(back.get("loss"), Some(1e-12));
    assert!(back.get("broken").is_some_and(f64::is_nan));
    assert_eq!(back.len(), 3);
}

/// A `Table` of several batches round-trips.
pub fn table_artifact_round_trip(fixture: &dyn ArtifactStoreFixture) {
    let value = sample_table();
    let back = artifact_round_trip(fixture, &value);
    assert_eq!(back.num_rows(), 1257);
    assert_eq!(*back, value);
}

/// A temporary file of a few pseudo-random bytes.
fn sample_file() -> FileArtifact {
    let (value, mut file) = FileArtifact::create_temp().expect("a temporary file");
    file.write_all(&pseudo_random(70_000, 8))
        .expect("writing the file");
    value
}

/// A `FileArtifact` round-trips into a temporary file holding the same bytes.
pub fn file_artifact_round_trip(fixture: &dyn ArtifactStoreFixture) {
    let data = pseudo_random((9 << 20) + 17, 6);
    let (value, mut file) = FileArtifact::create_temp().expect("a temporary file");
    file.write_all(&data).expect("writing the file");
    drop(file);
    let back = artifact_round_trip(fixture, &value);
    assert!(
        back.is_temporary(),
        "a read file artifact is a temporary file"
    );
    assert_ne!(back.path(), value.path());
    let got = std::fs::read(back.path()).expect("reading the materialized file");
    assert_same(&got, &data, "file artifact");
}

/// Writing the same value twice gives the same artifact, stored once.
pub fn artifacts_are_deduplicated(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let kind = ArtifactKind::of::<Table>();
    let a = write_artifact(store, &kind, &sample_table()).expect("first write");
    let b = write_artifact(store, &kind, &sample_table()).expect("second write");
    assert_eq!((a.hash, &a.uri, a.size), (b.hash, &b.uri, b.size));
    let key = content_key(a.hash);
    assert_holds_only(fixture, &[&key], "writing one artifact twice");
}

/// Replaces the object at `key` with `bytes`, through the store's own API.
fn overwrite(store: &dyn ArtifactStore, key: &str, bytes: &[u8]) {
    store.delete(key).expect("delete");
    publish(store, bytes, key);
}

fn expect_corrupted(
    result: Result<impl Sized, ArtifactError>,
    record: &ArtifactRecord,
    what: &str,
) {
    match result {
        Err(ArtifactError::Damaged {
            uri,
            hash,
            damage: Damage::Altered(mismatch),
        }) => {
            assert_eq!(uri, record.uri, "{what}: the error names the artifact");
            assert_eq!(hash, record.hash);
            assert_eq!(mismatch.expected, record.hash);
        }
        Err(e) => panic!("{what}: expected ArtifactError::Damaged (altered), got {e:?}"),
        Ok(_) => panic!("{what}: damaged bytes were used as if intact"),
    }
}

fn write_artifact(
    store: &dyn ArtifactStore,
    kind: &ArtifactKind,
    value: &(dyn std::any::Any + Send + Sync),
) -> Result<NewArtifact, ArtifactError> {
    ContentStore::new(store)
        .write(kind, value)
        .map(|w| w.artifact)
}

fn read_artifact(
    store: &dyn ArtifactStore,
    kind: &ArtifactKind,
    record: &ArtifactRecord,
) -> Result<crate::artifact::AnyValue, ArtifactError> {
    ContentStore::new(store).read(kind, record)
}

fn verify_artifact(
    store: &dyn ArtifactStore,
    record: &ArtifactRecord,
) -> Result<(), ArtifactError> {
    ContentStore::new(store).verify(record)
}

/// Writes a few artifacts and damages each stored object with `damage`; reading and verifying
/// each must fail with `Corrupted`.
fn detect_damage(fixture: &dyn ArtifactStoreFixture, damage: fn(&mut Vec<u8>), what: &str) {
    let store = fixture.store();
    let kinds_and_values: Vec<(ArtifactKind, Box<dyn std::any::Any + Send + Sync>)> = vec![
        (ArtifactKind::of::<Sample>(), Box::new(sample())),
        (ArtifactKind::of::<Json<Sample>>(), Box::new(Json(sample()))),
        (
            ArtifactKind::of::<Metrics>(),
            Box::new(Metrics::new().with("accuracy", 0.5)),
        ),
        (ArtifactKind::of::<Table>(), Box::new(sample_table())),
        (ArtifactKind::of::<FileArtifact>(), Box::new(sample_file())),
    ];
    for (kind, value) in &kinds_and_values {
        let record = record(write_artifact(store, kind, value.as_ref()).expect("write"));
        let key = content_key(record.hash);
        let mut bytes = read_all(store, &key);
        damage(&mut bytes);
        overwrite(store, &key, &bytes);
        let what = format!("{what} {}", kind.type_name());
        expect_corrupted(read_artifact(store, kind, &record), &record, &what);
        expect_corrupted(verify_artifact(store, &record), &record, &what);
        let message = read_artifact(store, kind, &record)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.contains(&record.uri),
            "{what}: the message `{message}` names the artifact"
        );
    }
}

/// A stored object with a changed byte is detected on read as `Corrupted`, naming the artifact.
pub fn corrupted_artifact_detected(fixture: &dyn ArtifactStoreFixture) {
    detect_damage(
        fixture,
        |bytes| {
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x20;
        },
        "corrupted",
    );
}

/// A truncated stored object is detected on read as `Corrupted`.
pub fn truncated_artifact_detected(fixture: &dyn ArtifactStoreFixture) {
    detect_damage(
        fixture,
        |bytes| bytes.truncate(bytes.len() * 2 / 3),
        "truncated",
    );
}

/// Writing an artifact again replaces a damaged object of another size at its content key.
pub fn damaged_object_replaced_on_rewrite(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let kind = ArtifactKind::of::<Sample>();
    let record = record(write_artifact(store, &kind, &sample()).expect("write"));
    let key = content_key(record.hash);
    let bytes = read_all(store, &key);
    overwrite(store, &key, &bytes[..bytes.len() - 1]);
    expect_corrupted(
        read_artifact(store, &kind, &record),
        &record,
        "truncated object",
    );
    let again = write_artifact(store, &kind, &sample()).expect("rewrite");
    assert_eq!(again.hash, record.hash);
    let back = read_artifact(store, &kind, &record).expect("the rewrite repaired the object");
    assert_eq!(back.downcast_ref::<Sample>(), Some(&sample()));
}

/// An artifact whose object is gone: reading, verifying and checking it report it missing.
pub fn missing_artifact_detected(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let kind = ArtifactKind::of::<Sample>();
    let file_kind = ArtifactKind::of::<FileArtifact>();
    let file = record(write_artifact(store, &file_kind, &sample_file()).expect("write a file"));
    let record = record(write_artifact(store, &kind, &sample()).expect("write"));
    store.delete(&content_key(record.hash)).expect("delete");
    store.delete(&content_key(file.hash)).expect("delete");
    for (what, result, record) in [
        (
            "read",
            read_artifact(store, &kind, &record).map(|_| ()),
            &record,
        ),
        ("verify", verify_artifact(store, &record), &record),
        (
            "read as a file",
            read_artifact(store, &file_kind, &file).map(|_| ()),
            &file,
        ),
    ] {
        match result {
            Err(ArtifactError::Damaged {
                uri,
                damage: Damage::Missing,
                ..
            }) => assert_eq!(uri, record.uri, "{what}: the error names the artifact"),
            other => panic!("{what} of a missing object: expected Damage::Missing, got {other:?}"),
        }
    }
    for verify in [Verify::Quick, Verify::Full] {
        assert_eq!(
            ContentStore::new(store)
                .check(&record, verify)
                .expect("check"),
            Checked::Damaged(Damage::Missing),
            "a {verify} check of a missing object"
        );
    }
    assert_holds_only(fixture, &[], "deleting the only object");
}

/// An object replaced by other bytes of the same size is not trusted by a quick check (its tag
/// changed, so the bytes are read), and a full check finds it too.
pub fn replaced_object_detected_by_a_quick_check(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let kind = ArtifactKind::of::<Sample>();
    let record = record(write_artifact(store, &kind, &sample()).expect("write"));
    let content = ContentStore::new(store);
    assert_eq!(
        content.check(&record, Verify::Quick).expect("check"),
        Checked::Intact { retag: None },
        "an intact object passes the quick check without being read"
    );
    let key = content_key(record.hash);
    let mut bytes = read_all(store, &key);
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    overwrite(store, &key, &bytes);
    for verify in [Verify::Quick, Verify::Full] {
        match content.check(&record, verify).expect("check") {
            Checked::Damaged(Damage::Altered(_)) => {}
            other => panic!("a {verify} check of a replaced object: {other:?}"),
        }
    }
}

/// Threads writing the same artifact through the content store at once all succeed with the
/// same record, and one object remains.
pub fn concurrent_artifact_writers(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let data = pseudo_random((9 << 20) + 321, 8);
    let (value, mut file) = FileArtifact::create_temp().expect("a temporary file");
    file.write_all(&data).expect("writing the file");
    drop(file);
    let kind = ArtifactKind::of::<FileArtifact>();
    let barrier = std::sync::Barrier::new(6);
    let written: Vec<NewArtifact> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (kind, value, barrier) = (&kind, &value, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    write_artifact(store, kind, value).expect("a concurrent writer succeeds")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread"))
            .collect()
    });
    let first = &written[0];
    for w in &written {
        assert_eq!(
            (w.hash, &w.uri, w.size),
            (first.hash, &first.uri, first.size)
        );
    }
    assert_eq!(first.hash, Hash128::of(&data));
    let key = content_key(first.hash);
    assert_same(
        &read_all(store, &key),
        &data,
        "concurrently written artifact",
    );
    assert_holds_only(fixture, &[&key], "concurrent artifact writers");
}

/// While a large object is being written (several parts sent), nothing is visible at its
/// content key; once published, all of it is.
pub fn nothing_visible_while_writing(fixture: &dyn ArtifactStoreFixture) {
    let store = fixture.store();
    let data = pseudo_random((17 << 20) + 11, 12);
    let key = key_of(&data);
    let mut w = store.create().expect("create");
    write_irregular(&mut w, &data, 2);
    assert_eq!(store.head(&key).expect("head"), None, "head while writing");
    assert!(
        matches!(store.open(&key), Err(ArtifactStoreError::NotFound { .. })),
        "open while writing"
    );
    if let Some(raw) = fixture.raw_objects() {
        assert!(
            !raw.contains(&key),
            "the content key is not an object yet: {raw:?}"
        );
    }
    w.publish(&key).expect("publish");
    assert_same(&read_all(store, &key), &data, "published after writing");
    assert_holds_only(fixture, &[&key], "publishing a written object");
}
