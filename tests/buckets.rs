//! A bucket as the artifact store, as people use it: `zenml config artifacts set s3://…` with the
//! endpoint and credentials in the environment, the quickstart run twice, and two repositories
//! sharing one cache through one bucket and one metadata store. Against the S3-compatible server
//! (and Azurite, for refused credentials) that `.ci/run` starts: `ZENML_TEST_S3_ENDPOINT`,
//! `ZENML_TEST_S3_BUCKET`, `ZENML_TEST_AZURE_ENDPOINT`, `ZENML_TEST_AZURE_CONTAINER`; without
//! them the tests skip (and fail when `CI` is set).
#![cfg(all(feature = "cli", feature = "aws", feature = "azure"))]

mod common;
#[path = "common/process.rs"]
mod process;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use process::{Out, quickstart, workspace};
use serde_json::Value as J;
use zenml::backends::object::ObjectArtifactStore;
use zenml::store::ArtifactStore;
use zenml_core::store::conformance::skip;

/// Azurite's documented development account (public, not a secret).
const AZURITE_ACCOUNT: &str = "devstoreaccount1";

/// The S3 server's endpoint and bucket, or `None` after skipping `test`.
fn s3(test: &str) -> Option<(String, String)> {
    match (
        std::env::var("ZENML_TEST_S3_ENDPOINT"),
        std::env::var("ZENML_TEST_S3_BUCKET"),
    ) {
        (Ok(endpoint), Ok(bucket)) => Some((endpoint, bucket)),
        _ => {
            skip(
                test,
                "set ZENML_TEST_S3_ENDPOINT and ZENML_TEST_S3_BUCKET to an S3-compatible server \
                 on 127.0.0.1 and a bucket there (`.ci/run` starts one)",
            );
            None
        }
    }
}

/// What a user exports to reach the S3 server: its endpoint and explicit credentials.
fn s3_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_owned()),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
        ("AWS_ACCESS_KEY_ID", "zenml-test".to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY",
            "zenml-test-secret-value".to_owned(),
        ),
        ("AWS_REGION", "us-east-1".to_owned()),
    ]
}

/// A prefix of its own in the bucket, for one test.
fn unique_prefix(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{what}-{}-{nanos:x}", std::process::id())
}

/// `quickstart <args>` in `dir` with `env` (`args` starting with `zenml` for the CLI).
fn run(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Out {
    let mut cmd = Command::new(quickstart());
    cmd.args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the binary starts");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn json(out: &Out) -> J {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {out:#?}"))
}

/// The steps of `run show NAME --json`: (step, state, outputs).
fn steps(dir: &Path, run_name: &str, env: &[(&str, String)]) -> Vec<(String, String, J)> {
    let shown = json(&run(dir, &["zenml", "run", "show", run_name, "--json"], env).ok());
    shown["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["step"].as_str().expect("a step").to_owned(),
                s["state"].as_str().expect("a state").to_owned(),
                s["outputs"].clone(),
            )
        })
        .collect()
}

fn states(steps: &[(String, String, J)]) -> Vec<&str> {
    steps.iter().map(|(_, state, _)| state.as_str()).collect()
}

#[test]
fn an_s3_bucket_as_a_new_user_sets_it_up() {
    let Some((endpoint, bucket)) = s3("an_s3_bucket_as_a_new_user_sets_it_up") else {
        return;
    };
    let env = s3_env(&endpoint);
    let ws = workspace();
    let dir = ws.path();
    run(dir, &["zenml", "init"], &env).ok();
    let url = format!("s3://{bucket}/{}/artifacts", unique_prefix("new-user"));
    let saved = run(dir, &["zenml", "config", "artifacts", "set", &url], &env).ok();
    assert!(
        saved.stdout.contains(&format!("artifacts: {url}\n")),
        "{saved:#?}"
    );

    // The quickstart twice: the second time, every step of both pipelines is reused.
    run(dir, &[], &env).ok();
    run(dir, &[], &env).ok();
    for name in ["Pipeline A#2", "Pipeline B#2"] {
        let second = steps(dir, name, &env);
        assert_eq!(states(&second), ["cached"; 5], "{name}: {second:?}");
    }

    // An artifact shows its object's s3:// URI, and the object is in the bucket.
    let first = steps(dir, "Pipeline A#1", &env);
    let model = first
        .iter()
        .find(|(step, _, _)| step == "trainer")
        .and_then(|(_, _, outputs)| outputs.as_object()?.values().next()?.as_i64())
        .expect("the trainer's output");
    let shown = run(
        dir,
        &["zenml", "artifact", "show", &model.to_string()],
        &env,
    )
    .ok();
    let uri_line = shown
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("uri:"))
        .unwrap_or_else(|| panic!("no uri line: {shown:#?}"));
    let uri = uri_line.trim_start().trim_start_matches("uri:").trim();
    assert!(uri.starts_with(&format!("{url}/")), "{uri_line}");
    assert!(
        !shown.stdout.contains("zenml-test-secret-value"),
        "{shown:#?}"
    );
}

#[test]
fn bucket_settings_are_checked_before_they_are_saved() {
    let Some((endpoint, bucket)) = s3("bucket_settings_are_checked_before_they_are_saved") else {
        return;
    };
    let env = s3_env(&endpoint);
    let ws = workspace();
    let dir = ws.path();
    run(dir, &["zenml", "init"], &env).ok();
    let before = std::fs::read_to_string(dir.join(".zenml/config.yaml")).expect("the config");
    let set = |url: &str, env: &[(&str, String)]| {
        run(dir, &["zenml", "config", "artifacts", "set", url], env)
    };

    let unknown = set("ftp://example.org/x", &env);
    assert!(
        unknown
            .one_error()
            .contains("unknown artifact store scheme `ftp://`"),
        "{unknown:#?}"
    );
    let malformed = set("s3://Not_A_Bucket/x", &env);
    assert!(
        malformed.one_error().contains("is not a bucket URL"),
        "{malformed:#?}"
    );
    let missing = set("s3://no-such-bucket-for-zenml/x", &env);
    let line = missing.one_error();
    assert!(
        line.contains("s3://no-such-bucket-for-zenml/x") && line.contains("does not exist"),
        "{missing:#?}"
    );
    let unreachable = set(
        &format!("s3://{bucket}/x"),
        &[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
            ("AWS_ACCESS_KEY_ID", "zenml-test".to_owned()),
            (
                "AWS_SECRET_ACCESS_KEY",
                "zenml-test-secret-value".to_owned(),
            ),
            ("AWS_REGION", "us-east-1".to_owned()),
        ],
    );
    assert!(
        unreachable.one_error().contains("cannot reach the bucket"),
        "{unreachable:#?}"
    );

    // Refused credentials (Azurite checks signatures): one line, no key in it.
    if let (Ok(azure), Ok(container)) = (
        std::env::var("ZENML_TEST_AZURE_ENDPOINT"),
        std::env::var("ZENML_TEST_AZURE_CONTAINER"),
    ) {
        let wrong = "V3JvbmcgYnV0IHdlbGwtZm9ybWVkIGtleSBmb3IgdGhlIHRlc3Qgb25seSEhISE=";
        let refused = set(
            &format!("az://{container}/x"),
            &[
                (
                    "AZURE_STORAGE_ENDPOINT",
                    format!("{}/{AZURITE_ACCOUNT}", azure.trim_end_matches('/')),
                ),
                ("AZURE_ALLOW_HTTP", "true".to_owned()),
                ("AZURE_STORAGE_ACCOUNT_NAME", AZURITE_ACCOUNT.to_owned()),
                ("AZURE_STORAGE_ACCOUNT_KEY", wrong.to_owned()),
            ],
        );
        let line = refused.one_error();
        assert!(line.contains("credentials were refused"), "{refused:#?}");
        assert!(!refused.stderr.contains(wrong), "{refused:#?}");
    } else {
        skip(
            "bucket_settings_are_checked_before_they_are_saved",
            "set ZENML_TEST_AZURE_ENDPOINT and ZENML_TEST_AZURE_CONTAINER for the refused \
             credentials case",
        );
    }
    let after = std::fs::read_to_string(dir.join(".zenml/config.yaml")).expect("the config");
    assert_eq!(after, before, "a refused setting is not saved");
}

#[test]
fn two_repositories_share_a_cache_through_one_bucket() {
    let Some((endpoint, bucket)) = s3("two_repositories_share_a_cache_through_one_bucket") else {
        return;
    };
    let env = s3_env(&endpoint);
    let (a, b) = (workspace(), workspace());
    let url = format!("s3://{bucket}/{}", unique_prefix("shared"));
    run(a.path(), &["zenml", "init"], &env).ok();
    run(
        a.path(),
        &["zenml", "config", "artifacts", "set", &url],
        &env,
    )
    .ok();
    // B: its own folder, the same metadata store (until a database server serves it) and bucket.
    let shared_db = std::fs::canonicalize(a.path().join(".zenml/metadata.db")).expect("A's store");
    run(b.path(), &["zenml", "init"], &env).ok();
    run(
        b.path(),
        &[
            "zenml",
            "config",
            "metadata",
            "set",
            "sqlite",
            &shared_db.display().to_string(),
        ],
        &env,
    )
    .ok();
    run(
        b.path(),
        &["zenml", "config", "artifacts", "set", &url],
        &env,
    )
    .ok();
    // B has no local artifacts: everything it reuses comes from the bucket.
    assert!(!b.path().join(".zenml/artifacts").join("00").exists());

    run(a.path(), &[], &env).ok();
    run(b.path(), &[], &env).ok();
    for name in ["Pipeline A#2", "Pipeline B#2"] {
        let reused = steps(b.path(), name, &env);
        assert_eq!(states(&reused), ["cached"; 5], "{name}: {reused:?}");
    }

    // Damage the preprocesser's output in the bucket, keeping its size: B notices (the object's
    // tag changed), does not trust it, and computes it again.
    let first = steps(a.path(), "Pipeline A#1", &env);
    let table = first
        .iter()
        .find(|(step, _, _)| step == "preprocesser")
        .and_then(|(_, _, outputs)| outputs.as_object()?.values().next()?.as_i64())
        .expect("the preprocesser's output");
    let shown = json(
        &run(
            a.path(),
            &["zenml", "artifact", "show", &table.to_string(), "--json"],
            &env,
        )
        .ok(),
    );
    let uri = shown["artifact"]["uri"].as_str().expect("a uri").to_owned();
    let key = uri
        .strip_prefix(&format!("{url}/"))
        .expect("the object is in the bucket")
        .to_owned();
    let settings = [
        ("aws_endpoint", endpoint.as_str()),
        ("aws_allow_http", "true"),
        ("aws_access_key_id", "zenml-test"),
        ("aws_secret_access_key", "zenml-test-secret-value"),
        ("aws_region", "us-east-1"),
    ];
    let store = ObjectArtifactStore::open_bucket(&url, &settings).expect("the bucket opens");
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut store.open(&key).expect("the object"), &mut bytes)
        .expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x04;
    store.delete(&key).expect("delete");
    let mut w = store.create().expect("create");
    w.write_all(&bytes).expect("write");
    w.publish(&key).expect("the damaged bytes are put back");

    let again = run(b.path(), &[], &env).ok();
    let third = steps(b.path(), "Pipeline A#3", &env);
    let state = |name: &str| {
        third
            .iter()
            .find(|(step, _, _)| step == name)
            .map(|(_, s, _)| s.clone())
            .unwrap_or_default()
    };
    assert_eq!(state("datasource"), "cached", "{third:?}");
    assert_eq!(state("split"), "cached", "{third:?}");
    assert_eq!(
        state("preprocesser"),
        "complete",
        "the damaged output is computed again: {third:?} {again:#?}"
    );
    // The same bytes again: what depends on them is reused.
    assert_eq!(state("trainer"), "cached", "{third:?}");
    // The object in the bucket is whole again.
    let mut back = Vec::new();
    std::io::Read::read_to_end(&mut store.open(&key).expect("the object"), &mut back)
        .expect("read");
    assert_eq!(
        zenml::hash::Hash128::of(&back).to_hex(),
        shown["artifact"]["hash"].as_str().expect("a hash")
    );
}
