//! A large artifact streams through the local store: memory does not grow with its size.
//!
//! This file holds one test so that it has its process to itself: it measures the process's peak
//! resident set. `ZENML_TEST_LARGE_ARTIFACT` sets the size (default 1G; `256M`, bytes, …).
#![cfg(all(feature = "object-store", target_os = "linux"))]

use std::io::{Read, Write};

use zenml_core::artifact::io::ContentStore;
use zenml_core::artifact::{ArtifactKind, FileArtifact};
use zenml_core::store::ArtifactStore;
use zenml_stores::object::ObjectArtifactStore;

mod rss;

use rss::{LIMIT, peak_growth, requested_size};

#[test]
fn a_large_file_artifact_streams_in_bounded_memory() {
    let size = requested_size();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let source = dir.path().join("large.bin");
    {
        // Non-zero bytes, written a MiB at a time, so that nothing here holds the whole file.
        let mut out = std::fs::File::create(&source).expect("create the source");
        let block: Vec<u8> = (0..1u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let mut left = size;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            out.write_all(&block[..n]).expect("write the source");
            left -= n as u64;
        }
    }
    let store = ObjectArtifactStore::local(dir.path().join("artifacts")).expect("a local store");
    let kind = ArtifactKind::of::<FileArtifact>();

    let (artifact, write_growth) = peak_growth(|| {
        ContentStore::new(&store)
            .write(&kind, &FileArtifact::new(&source))
            .map(|w| w.artifact)
    });
    let artifact = artifact.expect("writing the artifact");
    assert_eq!(artifact.size, size);
    assert!(
        write_growth < LIMIT,
        "writing a {size}-byte artifact grew the resident set by {write_growth} bytes"
    );

    let record = artifact.recorded(1, 0);
    let (back, read_growth) = peak_growth(|| ContentStore::new(&store).read(&kind, &record));
    let back = back.expect("reading the artifact");
    assert!(
        read_growth < LIMIT,
        "reading a {size}-byte artifact grew the resident set by {read_growth} bytes"
    );
    let file = back
        .downcast_ref::<FileArtifact>()
        .expect("a file artifact");
    assert_eq!(file.size().expect("the file read back"), size);

    // The bytes are the source's: compare the first and last MiB, and the whole through the hash.
    let mut head = vec![0u8; 1 << 20];
    file.open()
        .expect("open")
        .read_exact(&mut head)
        .expect("read");
    let mut expected = vec![0u8; 1 << 20];
    std::fs::File::open(&source)
        .expect("open")
        .read_exact(&mut expected)
        .expect("read");
    assert_eq!(head, expected);
    ContentStore::new(&store)
        .verify(&record)
        .expect("the stored object verifies");
    assert!(
        store
            .head(&zenml_core::artifact::io::content_key(record.hash))
            .expect("head")
            .is_some()
    );
}
