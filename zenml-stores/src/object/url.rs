//! Opening a store from the URL in a repository's configuration.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use object_store::memory::InMemory;
use object_store::path::Path;
use zenml_core::store::{ArtifactStoreError, check_url_credentials, redact_url, url_scheme};

use super::ObjectArtifactStore;

/// In-memory stores opened by name (`memory://name`), kept for the life of the process.
static NAMED_MEMORY: LazyLock<Mutex<HashMap<String, Arc<InMemory>>>> =
    LazyLock::new(Default::default);

/// Errors show the URL redacted ([`redact_url`]); one with credentials in it is refused.
pub(super) fn open(url: &str, base: &FsPath) -> Result<ObjectArtifactStore, ArtifactStoreError> {
    check_url_credentials(url)?;
    match url_scheme(url) {
        "file" => ObjectArtifactStore::local(local_path(url, base)?),
        "memory" => open_memory(url),
        #[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
        scheme if super::bucket::SCHEMES.contains(&scheme) => super::bucket::open(url, &[]),
        scheme => Err(ArtifactStoreError::Config(match bucket_feature(scheme) {
            Some(feature) => format!(
                "`{}`: this build of zenml cannot open `{scheme}://` buckets; build it with the \
                 `{feature}` feature",
                redact_url(url)
            ),
            None => format!(
                "`{}`: the object_store artifact backend serves file, memory, s3, gs and az \
                 URLs, not `{scheme}://`",
                redact_url(url)
            ),
        })),
    }
}

/// The cargo feature that serves the bucket scheme `scheme`.
fn bucket_feature(scheme: &str) -> Option<&'static str> {
    match scheme {
        "s3" => Some("aws"),
        "gs" => Some("gcp"),
        "az" => Some("azure"),
        _ => None,
    }
}

/// The folder a plain path or `file://` URL names.
fn local_path(url: &str, base: &FsPath) -> Result<PathBuf, ArtifactStoreError> {
    let path = if url.starts_with("file://") {
        ::url::Url::parse(url)
            .ok()
            .and_then(|u| u.to_file_path().ok())
            .ok_or_else(|| {
                ArtifactStoreError::Config(format!(
                    "`{}` is not a local folder: a file URL is absolute (file:///path/to/folder); \
                     write a plain path for a folder relative to the repository",
                    redact_url(url)
                ))
            })?
    } else {
        PathBuf::from(url)
    };
    if path.as_os_str().is_empty() {
        return Err(ArtifactStoreError::Config(
            "the artifact store path is empty".to_owned(),
        ));
    }
    Ok(if path.is_relative() {
        base.join(path)
    } else {
        path
    })
}

fn open_memory(url: &str) -> Result<ObjectArtifactStore, ArtifactStoreError> {
    let rest = url.strip_prefix("memory://").unwrap_or_default();
    let name = rest.trim_end_matches('/');
    if name.is_empty() {
        return ObjectArtifactStore::memory();
    }
    if name.contains('/') || name.contains(['?', '#']) {
        return Err(ArtifactStoreError::Config(format!(
            "`{}`: an in-memory store is named by one word (memory://name)",
            redact_url(url)
        )));
    }
    let store = {
        let mut named = NAMED_MEMORY
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(named.entry(name.to_owned()).or_default())
    };
    ObjectArtifactStore::new(store, Path::default(), format!("memory://{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths() -> Result<(), ArtifactStoreError> {
        let base = FsPath::new("/repo/.zenml");
        assert_eq!(
            local_path("artifacts", base)?,
            PathBuf::from("/repo/.zenml/artifacts")
        );
        assert_eq!(local_path("/data/a", base)?, PathBuf::from("/data/a"));
        assert_eq!(
            local_path("file:///data/a%20b", base)?,
            PathBuf::from("/data/a b")
        );
        assert!(local_path("file://relative/dir", base).is_err());
        assert!(local_path("", base).is_err());
        Ok(())
    }

    #[test]
    fn other_schemes_are_refused() {
        let err = open("ftp://host/x", FsPath::new("/")).err();
        assert!(
            matches!(&err, Some(ArtifactStoreError::Config(m)) if m.contains("ftp://")),
            "{err:?}"
        );
        assert!(open("memory://a/b", FsPath::new("/")).is_err());
    }

    #[test]
    fn credentials_are_refused_and_never_shown() {
        for (url, secret) in [
            ("file://me:SECRET-1@localhost/data", "SECRET-1"),
            ("memory://me:SECRET-2@name", "SECRET-2"),
            ("s3://AKIA:SECRET/3+x@bucket/p", "SECRET/3"),
            ("https://user:SECRET-4@host/x", "SECRET-4"),
        ] {
            let err = open(url, FsPath::new("/")).err();
            let Some(ArtifactStoreError::Config(message)) = &err else {
                panic!("{url} was not refused: {err:?}");
            };
            assert!(message.contains("has credentials in it"), "{message}");
            assert!(!message.contains(secret), "{message}");
            assert!(!format!("{err:?}").contains(secret), "{err:?}");
        }
    }
}
