//! Buckets: `s3://`, `gs://` and `az://` artifact stores, configured from the URL and the cloud's
//! standard credential sources.
//!
//! | URL | service | configured by |
//! |---|---|---|
//! | `s3://bucket/prefix` | Amazon S3, or an S3-compatible server | `AWS_*` variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL`/`AWS_ENDPOINT` for another server, `AWS_ALLOW_HTTP=true` for a plain-HTTP one, `AWS_PROFILE`); else the shared credentials and config files (`~/.aws/credentials`, `~/.aws/config`, or `AWS_SHARED_CREDENTIALS_FILE`/`AWS_CONFIG_FILE`); else the instance's role |
//! | `gs://bucket/prefix` | Google Cloud Storage | `GOOGLE_APPLICATION_CREDENTIALS` or `GOOGLE_SERVICE_ACCOUNT` (a service account key file; its `gcs_base_url` names another server), `GOOGLE_SERVICE_ACCOUNT_KEY` (the key itself), `GOOGLE_BASE_URL`; else gcloud's application default credentials; else the instance's account |
//! | `az://container/prefix` | Azure Blob Storage | `AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY`, a SAS (`AZURE_STORAGE_SAS_KEY`) or a service principal (`AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`, `AZURE_TENANT_ID`); `AZURE_STORAGE_ENDPOINT` for another server; `AZURE_STORAGE_USE_EMULATOR=true` for Azurite (at `AZURITE_BLOB_STORAGE_URL`, default `http://127.0.0.1:10000`) |
//!
//! Every variable `object_store`'s builders know (`AWS_*`, `GOOGLE_*`, `AZURE_*`) is applied. A
//! request that fails for a transient reason (a dropped connection, a timeout, a 5xx answer, a
//! throttling answer) is retried with exponential backoff ([`BUCKET_RETRIES`] times within
//! [`BUCKET_RETRY_TIMEOUT`]); every retried request is idempotent (a part, a conditional put, a
//! copy, a read, a delete). Requests time out after [`BUCKET_REQUEST_TIMEOUT`], connections
//! after [`BUCKET_CONNECT_TIMEOUT`]; the `*_TIMEOUT` and `*_CONNECT_TIMEOUT` variables of each
//! cloud (`AWS_TIMEOUT=120s`) override them.
//!
//! Secrets never appear in what the store reports: the values of the credential variables are
//! replaced by `***` in every error message.

use std::sync::Arc;
use std::time::Duration;

use object_store::path::{Path, PathPart};
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use zenml_core::store::{ArtifactStoreError, redact_url};

use super::ObjectArtifactStore;

/// How many times a failed request is retried.
pub const BUCKET_RETRIES: usize = 8;
/// How long a request is retried for, at most.
pub const BUCKET_RETRY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one request may take (a part of a multipart upload included).
pub const BUCKET_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long connecting may take.
pub const BUCKET_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long `probe` waits: one retry, so that a mistyped endpoint is reported in seconds.
const PROBE_RETRIES: usize = 1;
const PROBE_RETRY_TIMEOUT: Duration = Duration::from_secs(15);

/// The bucket URL schemes this build serves.
pub(crate) const SCHEMES: &[&str] = &[
    #[cfg(feature = "aws")]
    "s3",
    #[cfg(feature = "gcp")]
    "gs",
    #[cfg(feature = "azure")]
    "az",
];

/// A bucket URL, taken apart.
#[derive(Debug, PartialEq, Eq)]
struct BucketUrl {
    scheme: String,
    bucket: String,
    prefix: Path,
}

fn malformed(url: &str, why: &str) -> ArtifactStoreError {
    ArtifactStoreError::Config(format!(
        "`{}` is not a bucket URL: {why} (write scheme://bucket/prefix, like s3://team-artifacts/zenml)",
        redact_url(url)
    ))
}

fn parse(url: &str) -> Result<BucketUrl, ArtifactStoreError> {
    let parsed = ::url::Url::parse(url).map_err(|e| malformed(url, &e.to_string()))?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(malformed(url, "it has a query or a fragment"));
    }
    if parsed.port().is_some() {
        return Err(malformed(
            url,
            "it has a port; name another server in the cloud's endpoint variable instead \
             (AWS_ENDPOINT_URL, GOOGLE_BASE_URL, AZURE_STORAGE_ENDPOINT)",
        ));
    }
    let bucket = parsed.host_str().unwrap_or_default().to_owned();
    if bucket.is_empty() {
        return Err(malformed(url, "the bucket name is missing"));
    }
    let scheme = parsed.scheme().to_owned();
    let allowed = |c: char| match scheme.as_str() {
        "az" => c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
        "gs" => c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.' | '_'),
        _ => c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'),
    };
    if !(3..=63).contains(&bucket.len()) || !bucket.chars().all(allowed) {
        return Err(malformed(
            url,
            &format!(
                "`{bucket}` is not a valid {} name (3 to 63 lower-case letters, digits and \
                 hyphens{})",
                if scheme == "az" {
                    "container"
                } else {
                    "bucket"
                },
                if scheme == "az" { "" } else { ", dots" }
            ),
        ));
    }
    let mut parts = Vec::new();
    let path = parsed.path().trim_end_matches('/');
    for segment in path.split('/').skip(1) {
        if segment.is_empty() {
            return Err(malformed(url, "its path has an empty segment"));
        }
        let decoded = percent_decode(segment).ok_or_else(|| {
            malformed(
                url,
                &format!("`{segment}` is not valid percent-encoded UTF-8"),
            )
        })?;
        let part =
            PathPart::parse(&decoded).map_err(|e| malformed(url, &format!("`{decoded}`: {e}")))?;
        parts.push(PathPart::from(part.as_ref().to_owned()));
    }
    Ok(BucketUrl {
        scheme,
        bucket,
        prefix: parts.into_iter().collect(),
    })
}

fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The timeouts and retries of one client.
fn client_settings(probe: bool) -> (ClientOptions, RetryConfig) {
    let options = ClientOptions::new()
        .with_timeout(BUCKET_REQUEST_TIMEOUT)
        .with_connect_timeout(BUCKET_CONNECT_TIMEOUT);
    let retry = RetryConfig {
        max_retries: if probe { PROBE_RETRIES } else { BUCKET_RETRIES },
        retry_timeout: if probe {
            PROBE_RETRY_TIMEOUT
        } else {
            BUCKET_RETRY_TIMEOUT
        },
        ..RetryConfig::default()
    };
    (options, retry)
}

/// The environment's variables whose names start with `prefix`, lower-cased as the builders'
/// configuration keys are.
fn env_with_prefix(prefix: &str) -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

/// The values an error must never show: those of the credential variables of every cloud.
fn secrets() -> Vec<String> {
    let mut secrets: Vec<String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| {
            ["AWS_", "AZURE_", "GOOGLE_"]
                .iter()
                .any(|p| k.starts_with(p))
                && is_secret_name(k)
        })
        .map(|(_, v)| v)
        .filter(|v| v.len() >= 4)
        .collect();
    #[cfg(feature = "aws")]
    secrets.extend(aws_files::secrets());
    secrets.sort_unstable_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

/// Opens the bucket store at `url` (`s3://`, `gs://` or `az://`, with the cargo feature that
/// serves it), configured by the environment, then by `settings` (`object_store` configuration
/// keys and values, such as `("aws_endpoint", "http://127.0.0.1:9000")`).
pub(super) fn open(
    url: &str,
    settings: &[(&str, &str)],
) -> Result<ObjectArtifactStore, ArtifactStoreError> {
    let parsed = parse(url)?;
    let mut secrets = secrets();
    secrets.extend(
        settings
            .iter()
            .filter(|(k, v)| is_secret_name(&k.to_ascii_uppercase()) && v.len() >= 4)
            .map(|(_, v)| (*v).to_owned()),
    );
    let config_error = |e: object_store::Error| {
        ArtifactStoreError::Config(format!(
            "cannot set up the artifact store `{}`: {}",
            redact_url(url),
            super::redact_secrets(&super::one_line(&e), &secrets)
        ))
    };
    let store = build(&parsed, false, settings).map_err(config_error)?;
    let probe = build(&parsed, true, settings).map_err(config_error)?;
    let mut base = format!("{}://{}", parsed.scheme, parsed.bucket);
    if !parsed.prefix.as_ref().is_empty() {
        base.push('/');
        base.push_str(parsed.prefix.as_ref());
    }
    let mut opened = ObjectArtifactStore::new(store, parsed.prefix, base)?;
    opened.set_bucket(probe, secrets);
    Ok(opened)
}

/// Does a variable or key of this (upper-case) name hold a secret?
fn is_secret_name(name: &str) -> bool {
    ["SECRET", "KEY", "TOKEN", "PASSWORD", "SAS"]
        .iter()
        .any(|w| name.contains(w))
        && !name.ends_with("_FILE")
        && !name.ends_with("_PATH")
        && !name.ends_with("KEY_ID")
}

fn build(
    url: &BucketUrl,
    probe: bool,
    settings: &[(&str, &str)],
) -> object_store::Result<Arc<dyn ObjectStore>> {
    let settings = settings
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()));
    let (options, retry) = client_settings(probe);
    match url.scheme.as_str() {
        #[cfg(feature = "aws")]
        "s3" => {
            use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
            let mut builder = AmazonS3Builder::new()
                .with_client_options(options)
                .with_retry(retry);
            let env = env_with_prefix("AWS_");
            let has = |key: &str| env.iter().any(|(k, _)| k == key);
            let from_files = aws_files::settings(
                has("aws_access_key_id"),
                has("aws_region") || has("aws_default_region"),
            );
            for (key, value) in from_files.into_iter().chain(env).chain(settings) {
                if let Ok(key) = key.parse::<AmazonS3ConfigKey>() {
                    builder = builder.with_config(key, value);
                }
            }
            Ok(Arc::new(builder.with_bucket_name(&url.bucket).build()?))
        }
        #[cfg(feature = "gcp")]
        "gs" => {
            use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
            let mut builder = GoogleCloudStorageBuilder::new()
                .with_client_options(options)
                .with_retry(retry);
            for (key, value) in env_with_prefix("GOOGLE_").into_iter().chain(settings) {
                if let Ok(key) = key.parse::<GoogleConfigKey>() {
                    builder = builder.with_config(key, value);
                }
            }
            if let Ok(path) = std::env::var("GOOGLE_APPLICATION_CREDENTIALS")
                && std::env::var_os("GOOGLE_SERVICE_ACCOUNT").is_none()
                && std::env::var_os("GOOGLE_SERVICE_ACCOUNT_PATH").is_none()
                && std::env::var_os("GOOGLE_SERVICE_ACCOUNT_KEY").is_none()
            {
                builder = builder.with_application_credentials(path);
            }
            Ok(Arc::new(builder.with_bucket_name(&url.bucket).build()?))
        }
        #[cfg(feature = "azure")]
        "az" => {
            use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
            let mut builder = MicrosoftAzureBuilder::new()
                .with_client_options(options)
                .with_retry(retry);
            for (key, value) in env_with_prefix("AZURE_").into_iter().chain(settings) {
                if let Ok(key) = key.parse::<AzureConfigKey>() {
                    builder = builder.with_config(key, value);
                }
            }
            Ok(Arc::new(builder.with_container_name(&url.bucket).build()?))
        }
        other => Err(object_store::Error::NotSupported {
            source: format!("this build does not serve `{other}://` buckets").into(),
        }),
    }
}

/// AWS's shared credentials and config files, for what the environment does not say.
#[cfg(feature = "aws")]
mod aws_files {
    use std::collections::HashMap;
    use std::path::PathBuf;

    fn home() -> Option<PathBuf> {
        std::env::var_os("HOME").map(PathBuf::from)
    }

    fn profile() -> String {
        std::env::var("AWS_PROFILE")
            .or_else(|_| std::env::var("AWS_DEFAULT_PROFILE"))
            .unwrap_or_else(|_| "default".to_owned())
    }

    /// The `[section]`'s `key = value` pairs of an INI file.
    fn section(path: Option<PathBuf>, names: &[String]) -> HashMap<String, String> {
        path.and_then(|p| std::fs::read_to_string(p).ok())
            .map(|text| parse_section(&text, names))
            .unwrap_or_default()
    }

    /// The `key = value` pairs of the first of `names` found among the `[sections]` of `text`.
    pub(super) fn parse_section(text: &str, names: &[String]) -> HashMap<String, String> {
        let mut found = HashMap::new();
        let mut inside = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                inside = names.iter().any(|n| n == name.trim());
                continue;
            }
            if inside && let Some((key, value)) = line.split_once('=') {
                found
                    .entry(key.trim().to_ascii_lowercase())
                    .or_insert_with(|| value.trim().to_owned());
            }
        }
        found
    }

    fn credentials() -> HashMap<String, String> {
        let path = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".aws").join("credentials")));
        section(path, &[profile()])
    }

    fn config() -> HashMap<String, String> {
        let path = std::env::var_os("AWS_CONFIG_FILE")
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".aws").join("config")));
        let profile = profile();
        let names = if profile == "default" {
            vec!["default".to_owned()]
        } else {
            vec![format!("profile {profile}"), profile]
        };
        section(path, &names)
    }

    /// Settings from the files, as builder keys: the keys when the environment has none, the
    /// region and endpoint when it has none.
    pub(super) fn settings(env_has_keys: bool, env_has_region: bool) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !env_has_keys {
            let creds = credentials();
            for (file_key, key) in [
                ("aws_access_key_id", "aws_access_key_id"),
                ("aws_secret_access_key", "aws_secret_access_key"),
                ("aws_session_token", "aws_session_token"),
            ] {
                if let Some(value) = creds.get(file_key) {
                    out.push((key.to_owned(), value.clone()));
                }
            }
        }
        let config = config();
        if !env_has_region && let Some(value) = config.get("region") {
            out.push(("aws_region".to_owned(), value.clone()));
        }
        if let Some(value) = config.get("endpoint_url") {
            // Before the environment's own, which wins.
            out.insert(0, ("aws_endpoint".to_owned(), value.clone()));
        }
        out
    }

    /// The secret values of the credentials file.
    pub(super) fn secrets() -> Vec<String> {
        let creds = credentials();
        ["aws_secret_access_key", "aws_session_token"]
            .iter()
            .filter_map(|k| creds.get(*k).cloned())
            .filter(|v| v.len() >= 4)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_urls_are_taken_apart() -> Result<(), ArtifactStoreError> {
        let u = parse("s3://team-artifacts/zenml/runs/")?;
        assert_eq!(
            (u.scheme.as_str(), u.bucket.as_str(), u.prefix.as_ref()),
            ("s3", "team-artifacts", "zenml/runs")
        );
        let u = parse("gs://my_bucket")?;
        assert_eq!((u.bucket.as_str(), u.prefix.as_ref()), ("my_bucket", ""));
        let u = parse("az://container/a%20b")?;
        assert_eq!(u.prefix.as_ref(), "a b");
        Ok(())
    }

    #[cfg(feature = "aws")]
    #[test]
    fn aws_profiles_are_read_from_the_shared_files() {
        let text = "\
# comment
[default]
aws_access_key_id = AKIADEFAULT
aws_secret_access_key = default-secret

[profile team]
region = eu-west-1
endpoint_url = http://127.0.0.1:9000

[team]
aws_access_key_id=AKIATEAM
";
        let default = aws_files::parse_section(text, &["default".to_owned()]);
        assert_eq!(default["aws_access_key_id"], "AKIADEFAULT");
        assert_eq!(default["aws_secret_access_key"], "default-secret");
        let team = aws_files::parse_section(text, &["profile team".to_owned(), "team".to_owned()]);
        assert_eq!(team["region"], "eu-west-1");
        assert_eq!(team["endpoint_url"], "http://127.0.0.1:9000");
        assert_eq!(team["aws_access_key_id"], "AKIATEAM");
        assert!(aws_files::parse_section(text, &["other".to_owned()]).is_empty());
    }

    #[test]
    fn malformed_bucket_urls_are_refused_in_one_line() {
        for (url, says) in [
            ("s3://", "bucket name is missing"),
            ("s3:///prefix", "bucket name is missing"),
            ("s3://Upper-Case/x", "not a valid bucket name"),
            ("s3://ab/x", "not a valid bucket name"),
            ("az://under_score/x", "not a valid container name"),
            ("s3://bucket//x", "empty segment"),
            ("s3://bucket/x?versionId=3", "query"),
            ("s3://bucket:9000/x", "port"),
        ] {
            match parse(url) {
                Err(ArtifactStoreError::Config(m)) => {
                    assert!(m.contains(says), "{url}: {m}");
                    assert!(!m.contains('\n'), "{url}: {m}");
                }
                other => panic!("{url} was not refused: {other:?}"),
            }
        }
    }
}
