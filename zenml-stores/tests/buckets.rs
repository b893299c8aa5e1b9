//! The artifact store in buckets, against real servers on 127.0.0.1: the shared conformance suite
//! on S3 (an S3-compatible server), Azure Blob Storage (Azurite) and Google Cloud Storage
//! (fake-gcs-server), and what is particular to buckets (probing, errors, secrets).
//!
//! Each cloud's tests read its variables and skip, saying why, without them (they fail instead
//! when `CI` is set; `.ci/run` starts the servers and sets the variables):
//!
//! | cloud | variables |
//! |---|---|
//! | S3 | `ZENML_TEST_S3_ENDPOINT` (`http://127.0.0.1:9100`), `ZENML_TEST_S3_BUCKET`; `ZENML_TEST_S3_ACCESS_KEY_ID`, `ZENML_TEST_S3_SECRET_ACCESS_KEY` (default: test values) |
//! | Azure | `ZENML_TEST_AZURE_ENDPOINT` (`http://127.0.0.1:10000`), `ZENML_TEST_AZURE_CONTAINER`; the account is Azurite's development account |
//! | GCS | `ZENML_TEST_GCS_ENDPOINT` (`http://127.0.0.1:4443`), `ZENML_TEST_GCS_BUCKET` |
//!
//! Every client gets explicit credentials and a loopback endpoint, so none reaches for a cloud.
#![cfg(all(feature = "aws", feature = "gcp", feature = "azure"))]

mod support;

use std::io::Write;

use zenml_core::store::conformance::artifact::{ArtifactStoreFixture, pseudo_random, run_all};
use zenml_core::store::{ArtifactStore, ArtifactStoreError};
use zenml_stores::object::ObjectArtifactStore;

use support::{Cloud, Server};

fn conformance(cloud: Cloud, test: &str) {
    let Some(server) = Server::from_env(cloud, test) else {
        return;
    };
    run_all(|| server.fresh());
    // Many small parts, several in flight (S3 takes parts of 5 MiB at least).
    run_all(|| server.fresh_tuned(|s| s.with_part_size(5 << 20).with_parts_in_flight(3)));
}

#[test]
fn conformance_s3() {
    conformance(Cloud::S3, "conformance_s3");
}

#[test]
fn conformance_azure() {
    conformance(Cloud::Azure, "conformance_azure");
}

#[test]
fn conformance_gcs() {
    conformance(Cloud::Gcs, "conformance_gcs");
}

/// A store that opens: probing it succeeds, its URI is the bucket's, and objects staged by a
/// writer that died are removed once stale.
fn particulars(cloud: Cloud, test: &str) {
    let Some(server) = Server::from_env(cloud, test) else {
        return;
    };
    let fixture = server.fresh();
    fixture.store.probe().expect("the bucket can be reached");
    let uri = fixture.store.uri("ab/abc");
    assert_eq!(uri, format!("{}/ab/abc", fixture.url), "{uri}");
    assert!(uri.starts_with(cloud.scheme()), "{uri}");

    // A writer that dies mid-upload (no destructor runs) leaves no visible object; staged
    // objects it left are removed once stale.
    let data = pseudo_random((12 << 20) + 5, 9);
    let mut w = fixture.store.create().expect("create");
    w.write_all(&data).expect("write");
    std::mem::forget(w);
    assert_eq!(fixture.raw_objects(), Some(Vec::new()));
    let staged_key = format!(
        "{}/left-by-a-dead-writer",
        zenml_stores::object::STAGING_PREFIX
    );
    server.put_raw(&fixture, &staged_key, b"stale staged bytes");
    assert_eq!(
        fixture
            .store
            .remove_stale_staging(std::time::Duration::ZERO)
            .expect("cleaning the staging area"),
        1
    );
    assert_eq!(fixture.raw_objects(), Some(Vec::new()));
}

#[test]
fn particulars_s3() {
    particulars(Cloud::S3, "particulars_s3");
}

#[test]
fn particulars_azure() {
    particulars(Cloud::Azure, "particulars_azure");
}

#[test]
fn particulars_gcs() {
    particulars(Cloud::Gcs, "particulars_gcs");
}

/// A missing bucket and refused credentials are one-line errors from `probe`, naming the store
/// and never a secret.
fn refusals(cloud: Cloud, test: &str) {
    let Some(server) = Server::from_env(cloud, test) else {
        return;
    };
    let missing = server
        .open_with("no-such-bucket-here", &[])
        .expect("opening does not contact the bucket");
    let message = match missing.probe() {
        Err(ArtifactStoreError::Config(m)) => m,
        other => panic!("probing a missing bucket: {other:?}"),
    };
    assert!(message.contains("does not exist"), "{message}");
    assert!(message.contains("no-such-bucket-here"), "{message}");
    assert!(!message.contains('\n'), "{message}");

    if let Some((key, secret)) = cloud.wrong_secret() {
        let refused = server
            .open_with(&server.bucket, &[(key, secret)])
            .expect("opening does not contact the bucket");
        let message = match refused.probe() {
            Err(ArtifactStoreError::Config(m)) => m,
            other => panic!("probing with a wrong key: {other:?}"),
        };
        assert!(message.contains("credentials were refused"), "{message}");
        assert!(!message.contains(secret), "{message}");
        assert!(!message.contains('\n'), "{message}");
        // Nor in any operation's error.
        let failed = refused.head("ab/x").err().map(|e| format!("{e} {e:?}"));
        let failed = failed.expect("a refused head fails");
        assert!(!failed.contains(secret), "{failed}");
    }
}

#[test]
fn refusals_s3() {
    refusals(Cloud::S3, "refusals_s3");
}

#[test]
fn refusals_azure() {
    refusals(Cloud::Azure, "refusals_azure");
}

#[test]
fn refusals_gcs() {
    refusals(Cloud::Gcs, "refusals_gcs");
}

/// An endpoint where nothing answers is reported within seconds, as unreachable.
#[test]
fn an_endpoint_that_does_not_answer() {
    let store = ObjectArtifactStore::open_bucket(
        "s3://zenml-test/x",
        &[
            // A port of the loopback address where nothing listens (the discard port).
            ("aws_endpoint", "http://127.0.0.1:9"),
            ("aws_allow_http", "true"),
            ("aws_access_key_id", "zenml-test"),
            ("aws_secret_access_key", "zenml-test-secret"),
            ("aws_region", "us-east-1"),
        ],
    )
    .expect("opening does not contact the bucket");
    let started = std::time::Instant::now();
    match store.probe() {
        Err(ArtifactStoreError::Config(m)) => {
            assert!(m.contains("cannot reach"), "{m}");
            assert!(!m.contains('\n'), "{m}");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

/// No secret given to a bucket store shows in its `Debug` or in a failed operation's error.
#[test]
fn secrets_never_show() {
    let secret = "s3cr3t-value-that-must-not-show";
    for (url, settings) in [
        (
            "s3://zenml-test/x",
            vec![
                ("aws_endpoint", "http://127.0.0.1:9"),
                ("aws_allow_http", "true"),
                ("aws_access_key_id", "zenml-test"),
                ("aws_secret_access_key", secret),
                ("aws_session_token", secret),
                ("aws_region", "us-east-1"),
            ],
        ),
        (
            "az://zenml-test/x",
            vec![
                (
                    "azure_storage_endpoint",
                    "http://127.0.0.1:9/devstoreaccount1",
                ),
                ("azure_allow_http", "true"),
                ("azure_storage_account_name", "devstoreaccount1"),
                (
                    "azure_storage_account_key",
                    "czNjcjN0LXZhbHVlLXRoYXQtbXVzdC1ub3Qtc2hvdw==",
                ),
            ],
        ),
    ] {
        let store = ObjectArtifactStore::open_bucket(url, &settings).expect("opens");
        for shown in [format!("{store:?}"), format!("{store:#?}")] {
            assert!(!shown.contains(secret), "{shown}");
            assert!(!shown.contains("czNjcjN0"), "{shown}");
        }
    }
}

#[test]
fn malformed_bucket_urls_are_refused() {
    for url in [
        "s3://",
        "s3://Bad_Bucket/x",
        "gs://bucket//x",
        "az://c/x?y=1",
    ] {
        match ObjectArtifactStore::open_bucket(url, &[]) {
            Err(ArtifactStoreError::Config(m)) => {
                assert!(m.contains("is not a bucket URL"), "{url}: {m}")
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    match ObjectArtifactStore::open_bucket("s3://KEY:s3cr3t@bucket/x", &[]) {
        Err(ArtifactStoreError::Config(m)) => {
            assert!(
                m.contains("has credentials") && !m.contains("s3cr3t"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// A proxy on 127.0.0.1 in front of `upstream` that answers the first `failures` connections
/// with `503 Slow Down` (as a throttled service does) and then passes bytes through.
fn flaky_proxy(
    upstream: std::net::SocketAddr,
    failures: usize,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::Read;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = listener.local_addr().expect("its address");
    let refused = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = refused.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            if counter.load(Ordering::SeqCst) < failures {
                counter.fetch_add(1, Ordering::SeqCst);
                // Read the request's head, answer, close.
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && client.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let _ = client.write_all(
                    b"HTTP/1.1 503 Slow Down\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            }
            let Ok(server) = std::net::TcpStream::connect(upstream) else {
                return;
            };
            let (mut c2, mut s2) = (
                client.try_clone().expect("clone"),
                server.try_clone().expect("clone"),
            );
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c2, &mut s2);
                let _ = s2.shutdown(std::net::Shutdown::Write);
            });
            let (mut client, mut server) = (client, server);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut server, &mut client);
                let _ = client.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (format!("http://{address}"), refused)
}

/// Requests refused for a transient reason are retried, with backoff, and the write succeeds.
#[test]
fn transient_failures_are_retried() {
    let Some(server) = Server::from_env(Cloud::S3, "transient_failures_are_retried") else {
        return;
    };
    let upstream = server
        .endpoint
        .trim_start_matches("http://")
        .parse()
        .expect("the S3 endpoint is an address and port");
    let (endpoint, refused) = flaky_proxy(upstream, 3);
    let store = server
        .open_with(
            &format!("{}/retried-{}", server.bucket, std::process::id()),
            &[("aws_endpoint", &endpoint)],
        )
        .expect("opens");
    let data = pseudo_random(1000, 3);
    let key = zenml_core::artifact::io::content_key(zenml_core::hash::Hash128::of(&data));
    let mut w = store.create().expect("create");
    w.write_all(&data).expect("write");
    let info = w.publish(&key).expect("published despite three refusals");
    assert_eq!(info.size, 1000);
    assert_eq!(refused.load(std::sync::atomic::Ordering::SeqCst), 3);
    store.delete(&key).expect("delete");
}
