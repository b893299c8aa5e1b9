//! Bucket servers for the tests: which one a test variable names, and fresh stores in it.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU64, Ordering};

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use zenml_core::store::ArtifactStore;
use zenml_core::store::conformance::artifact::ArtifactStoreFixture;
use zenml_core::store::conformance::skip;
use zenml_stores::object::ObjectArtifactStore;

/// Azurite's documented development account (public, not a secret).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cloud {
    S3,
    Azure,
    Gcs,
}

impl Cloud {
    pub fn scheme(self) -> &'static str {
        match self {
            Cloud::S3 => "s3://",
            Cloud::Azure => "az://",
            Cloud::Gcs => "gs://",
        }
    }

    fn vars(self) -> (&'static str, &'static str) {
        match self {
            Cloud::S3 => ("ZENML_TEST_S3_ENDPOINT", "ZENML_TEST_S3_BUCKET"),
            Cloud::Azure => ("ZENML_TEST_AZURE_ENDPOINT", "ZENML_TEST_AZURE_CONTAINER"),
            Cloud::Gcs => ("ZENML_TEST_GCS_ENDPOINT", "ZENML_TEST_GCS_BUCKET"),
        }
    }

    /// A setting that replaces the secret with a wrong one, where the server checks it.
    pub fn wrong_secret(self) -> Option<(&'static str, &'static str)> {
        match self {
            // Azurite checks SharedKey signatures.
            Cloud::Azure => Some((
                "azure_storage_account_key",
                "V3JvbmcgYnV0IHdlbGwtZm9ybWVkIGtleSBmb3IgdGhlIHRlc3Qgb25seSEhISE=",
            )),
            // The S3 server of the tests and fake-gcs-server accept any signature.
            Cloud::S3 | Cloud::Gcs => None,
        }
    }
}

/// A bucket on a server named by the test variables.
#[derive(Debug)]
pub struct Server {
    pub cloud: Cloud,
    pub endpoint: String,
    pub bucket: String,
    settings: Vec<(String, String)>,
}

static FRESH: AtomicU64 = AtomicU64::new(0);

impl Server {
    /// The server the variables name, or `None` after skipping `test` (failing it in CI).
    pub fn from_env(cloud: Cloud, test: &str) -> Option<Server> {
        let (endpoint_var, bucket_var) = cloud.vars();
        let (Ok(endpoint), Ok(bucket)) = (std::env::var(endpoint_var), std::env::var(bucket_var))
        else {
            skip(
                test,
                &format!(
                    "set {endpoint_var} and {bucket_var} to a {cloud:?} server's endpoint on \
                     127.0.0.1 and a bucket there (`.ci/run` starts one)"
                ),
            );
            return None;
        };
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let settings: Vec<(String, String)> = match cloud {
            Cloud::S3 => vec![
                ("aws_endpoint".into(), endpoint.clone()),
                ("aws_allow_http".into(), "true".into()),
                (
                    "aws_access_key_id".into(),
                    std::env::var("ZENML_TEST_S3_ACCESS_KEY_ID")
                        .unwrap_or_else(|_| "zenml-test".into()),
                ),
                (
                    "aws_secret_access_key".into(),
                    std::env::var("ZENML_TEST_S3_SECRET_ACCESS_KEY")
                        .unwrap_or_else(|_| "zenml-test-secret".into()),
                ),
                ("aws_region".into(), "us-east-1".into()),
            ],
            Cloud::Azure => vec![
                (
                    "azure_storage_endpoint".into(),
                    format!("{endpoint}/{AZURITE_ACCOUNT}"),
                ),
                ("azure_allow_http".into(), "true".into()),
                ("azure_storage_account_name".into(), AZURITE_ACCOUNT.into()),
                ("azure_storage_account_key".into(), AZURITE_KEY.into()),
            ],
            Cloud::Gcs => vec![
                (
                    "google_service_account_key".into(),
                    format!(
                        r#"{{"private_key": "unused", "private_key_id": "unused",
                            "client_email": "test@zenml-test.iam.gserviceaccount.com",
                            "disable_oauth": true, "gcs_base_url": "{endpoint}"}}"#
                    ),
                ),
                ("allow_http".into(), "true".into()),
            ],
        };
        Some(Server {
            cloud,
            endpoint,
            bucket,
            settings,
        })
    }

    /// The settings that reach this server, as `open_bucket` takes them.
    pub fn settings(&self) -> Vec<(&str, &str)> {
        self.settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// The store at `bucket/prefix`, with `extra` settings over this server's.
    pub fn open_with(
        &self,
        bucket_and_prefix: &str,
        extra: &[(&str, &str)],
    ) -> Result<ObjectArtifactStore, zenml_core::store::ArtifactStoreError> {
        let mut settings = self.settings();
        settings.extend_from_slice(extra);
        ObjectArtifactStore::open_bucket(
            &format!("{}{bucket_and_prefix}", self.cloud.scheme()),
            &settings,
        )
    }

    /// A store under a prefix of its own in the bucket, empty.
    pub fn fresh(&self) -> BucketFixture {
        self.fresh_tuned(|s| s)
    }

    /// Like [`Server::fresh`], the store tuned by `tune`.
    pub fn fresh_tuned(
        &self,
        tune: impl FnOnce(ObjectArtifactStore) -> ObjectArtifactStore,
    ) -> BucketFixture {
        let n = FRESH.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let prefix = format!("tests/{}-{nanos:x}-{n}", std::process::id());
        let url = format!("{}{}/{prefix}", self.cloud.scheme(), self.bucket);
        let store = tune(
            self.open_with(&format!("{}/{prefix}", self.bucket), &[])
                .unwrap_or_else(|e| panic!("opening {url}: {e}")),
        );
        BucketFixture {
            prefix: Path::from(prefix),
            url,
            store,
        }
    }

    /// Puts `bytes` at `key` below the fixture's root, bypassing the artifact store.
    pub fn put_raw(&self, fixture: &BucketFixture, key: &str, bytes: &[u8]) {
        let location = Path::from(format!("{}/{key}", fixture.prefix));
        let store = fixture.store.object_store().clone();
        let bytes = bytes.to_vec();
        block_on(async move { store.put(&location, bytes.into()).await }).expect("a raw put");
    }
}

/// Runs `future` on a runtime of its own (the clients need tokio).
pub fn block_on<T: Send + 'static>(
    future: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(future)
    })
    .join()
    .expect("the runtime's thread")
}

/// A store under a fresh prefix of a bucket; lists every object under it.
#[derive(Debug)]
pub struct BucketFixture {
    pub prefix: Path,
    pub url: String,
    pub store: ObjectArtifactStore,
}

impl ArtifactStoreFixture for BucketFixture {
    fn store(&self) -> &dyn ArtifactStore {
        &self.store
    }

    fn raw_objects(&self) -> Option<Vec<String>> {
        let store = self.store.object_store().clone();
        let prefix = self.prefix.clone();
        let listed = block_on(async move {
            store
                .list(Some(&prefix))
                .map_ok(|meta| {
                    meta.location
                        .prefix_match(&prefix)
                        .map(|parts| parts.map(|p| p.as_ref().to_owned()).collect::<Vec<_>>())
                        .unwrap_or_default()
                        .join("/")
                })
                .try_collect::<Vec<_>>()
                .await
        });
        Some(listed.expect("listing the bucket"))
    }
}
