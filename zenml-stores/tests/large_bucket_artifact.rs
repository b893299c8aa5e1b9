//! A large artifact streams to and from an S3 bucket (the S3-compatible server `.ci/run` starts):
//! memory does not grow with its size.
//!
//! This file holds one test so that it has its process to itself: it measures the process's peak
//! resident set. `ZENML_TEST_LARGE_ARTIFACT` sets the size (default 1G; `256M`, bytes, …); the
//! server is named by `ZENML_TEST_S3_ENDPOINT` and `ZENML_TEST_S3_BUCKET` (without them the test
//! skips, and fails when `CI` is set).
#![cfg(all(
    feature = "aws",
    feature = "gcp",
    feature = "azure",
    target_os = "linux"
))]

mod rss;
mod support;

use std::io::Write;

use zenml_core::artifact::io::{ContentStore, content_key};
use zenml_core::artifact::{ArtifactKind, FileArtifact};
use zenml_core::store::ArtifactStore;

use rss::{LIMIT, peak_growth, requested_size};
use support::{Cloud, Server};

#[test]
fn a_large_file_artifact_streams_to_and_from_an_s3_bucket_in_bounded_memory() {
    let test = "a_large_file_artifact_streams_to_and_from_an_s3_bucket_in_bounded_memory";
    let Some(server) = Server::from_env(Cloud::S3, test) else {
        return;
    };
    let size = requested_size();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let source = dir.path().join("large.bin");
    {
        let mut out = std::fs::File::create(&source).expect("create the source");
        let block: Vec<u8> = (0..1u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let mut left = size;
        let mut n = 0u8;
        while left > 0 {
            let len = left.min(block.len() as u64) as usize;
            // Each MiB differs from the last, so that no two parts are alike.
            let mut chunk = block[..len].to_vec();
            chunk[0] = n;
            n = n.wrapping_add(1);
            out.write_all(&chunk).expect("write the source");
            left -= len as u64;
        }
    }
    let fixture = server.fresh();
    let store = &fixture.store;
    let kind = ArtifactKind::of::<FileArtifact>();

    let started = std::time::Instant::now();
    let (artifact, write_growth) = peak_growth(|| {
        ContentStore::new(store)
            .write(&kind, &FileArtifact::new(&source))
            .map(|w| w.artifact)
    });
    let wrote = started.elapsed();
    let artifact = artifact.expect("writing the artifact");
    assert_eq!(artifact.size, size);
    assert!(
        write_growth < LIMIT,
        "writing a {size}-byte artifact grew the resident set by {write_growth} bytes"
    );

    let record = artifact.recorded(1, 0);
    let started = std::time::Instant::now();
    let (back, read_growth) = peak_growth(|| ContentStore::new(store).read(&kind, &record));
    let read = started.elapsed();
    let back = back.expect("reading the artifact");
    assert!(
        read_growth < LIMIT,
        "reading a {size}-byte artifact grew the resident set by {read_growth} bytes"
    );
    let file = back
        .downcast_ref::<FileArtifact>()
        .expect("a file artifact");
    assert_eq!(file.size().expect("the file read back"), size);
    println!(
        "{size} bytes to {}: written in {wrote:.1?} (peak RSS growth {} KiB), read in \
         {read:.1?} (peak RSS growth {} KiB)",
        store.describe(),
        write_growth >> 10,
        read_growth >> 10
    );
    // Leave the server as it was.
    store
        .delete(&content_key(record.hash))
        .expect("removing the object");
}
