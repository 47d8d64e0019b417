//! Where the dataset catalog lives and how it is written without losing a concurrent
//! change: a local file is written to a temporary file and renamed over the original
//! (atomic on one filesystem); on S3 the write is conditional on the ETag that was read
//! (`If-Match`, S3 conditional writes, Amazon S3 User Guide "Conditional requests"),
//! and read again and redone when another writer came first.

use std::path::{Path, PathBuf};

use object_store::aws::AmazonS3Builder;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use thiserror::Error;
use tracing::{info, warn};
use vidpipe_domain::catalog::{set_entry, CatalogError, CatalogUpdate};

/// Times a write is redone after another writer changed the catalog first.
pub const MAX_ATTEMPTS: usize = 10;

/// The wait before attempt `attempt` (from 2): 25 ms more each time, plus up to 25 ms
/// of jitter, so that writers that collided do not collide again in step.
fn backoff(attempt: usize) -> std::time::Duration {
    let jitter_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() % 25_000_000 / 1_000_000);
    std::time::Duration::from_millis(25 * (attempt as u64 - 1) + u64::from(jitter_ms))
}

/// A catalog: a path, or `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq)]
pub enum CatalogLocation {
    File(PathBuf),
    S3 { bucket: String, key: String },
}

impl CatalogLocation {
    /// # Errors
    /// [`CatalogStoreError::BadLocation`] for an `s3://` URL without a bucket or key.
    pub fn parse(text: &str) -> Result<CatalogLocation, CatalogStoreError> {
        match text.strip_prefix("s3://") {
            Some(rest) => match rest.split_once('/') {
                Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
                    Ok(CatalogLocation::S3 {
                        bucket: bucket.to_string(),
                        key: key.to_string(),
                    })
                }
                _ => Err(CatalogStoreError::BadLocation(format!(
                    "{text}: an S3 catalog is s3://bucket/key"
                ))),
            },
            None => Ok(CatalogLocation::File(PathBuf::from(text))),
        }
    }
}

#[derive(Debug, Error)]
pub enum CatalogStoreError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    BadLocation(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}: another writer kept changing it; gave up after {MAX_ATTEMPTS} attempts")]
    Contended(String),
}

/// What [`set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogOutcome {
    Written,
    /// The entry held these values already; nothing was written.
    Unchanged,
}

/// Sets `id`'s entry in the catalog at `location` (see
/// `vidpipe_domain::catalog::set_entry`). S3 is reached with the credentials, region
/// and endpoint of the usual `AWS_*` environment variables.
///
/// # Errors
/// [`CatalogStoreError::Catalog`] for a document that is not JSON or lacks the id;
/// `Io` when it cannot be read or written; `Contended` after [`MAX_ATTEMPTS`]
/// concurrent changes.
pub async fn set(
    location: &CatalogLocation,
    id: &str,
    update: &CatalogUpdate,
) -> Result<CatalogOutcome, CatalogStoreError> {
    match location {
        CatalogLocation::File(path) => set_in_file(path, id, update),
        CatalogLocation::S3 { bucket, key } => {
            let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
                .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
                .ok();
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(e) = endpoint.filter(|e| e.starts_with("http://")) {
                builder = builder.with_endpoint(e).with_allow_http(true);
            }
            let store = builder
                .build()
                .map_err(|e| CatalogStoreError::Io(format!("s3://{bucket}: {e}")))?;
            set_in_store(&store, &format!("s3://{bucket}/{key}"), key, id, update).await
        }
    }
}

fn set_in_file(
    path: &Path,
    id: &str,
    update: &CatalogUpdate,
) -> Result<CatalogOutcome, CatalogStoreError> {
    let name = path.display().to_string();
    let io = |e: std::io::Error| CatalogStoreError::Io(format!("{name}: {e}"));
    for attempt in 1..=MAX_ATTEMPTS {
        let before = crate::fingerprint(path).map_err(io)?;
        let bytes = std::fs::read(path).map_err(io)?;
        let Some(new) = set_entry(&name, &bytes, id, update)? else {
            return Ok(CatalogOutcome::Unchanged);
        };
        let temp = crate::temp_beside(path, &new).map_err(io)?;
        if crate::fingerprint(path).map_err(io)? != before {
            warn!(catalog = %name, attempt, "the catalog changed while it was written; reading it again");
            continue;
        }
        temp.persist(path).map_err(|e| io(e.error))?;
        info!(catalog = %name, id, "catalog entry written");
        return Ok(CatalogOutcome::Written);
    }
    Err(CatalogStoreError::Contended(name))
}

/// The read-modify-conditional-write loop on any object store.
pub async fn set_in_store<S: ObjectStore>(
    store: &S,
    name: &str,
    key: &str,
    id: &str,
    update: &CatalogUpdate,
) -> Result<CatalogOutcome, CatalogStoreError> {
    let path = object_store::path::Path::from(key);
    let io = |e: object_store::Error| CatalogStoreError::Io(format!("{name}: {e}"));
    for attempt in 1..=MAX_ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(backoff(attempt)).await;
        }
        let got = store.get(&path).await.map_err(io)?;
        let e_tag = got.meta.e_tag.clone();
        let bytes = got.bytes().await.map_err(io)?;
        let Some(new) = set_entry(name, &bytes, id, update)? else {
            return Ok(CatalogOutcome::Unchanged);
        };
        let options = PutOptions {
            mode: PutMode::Update(UpdateVersion {
                e_tag,
                version: None,
            }),
            ..PutOptions::default()
        };
        match store.put_opts(&path, PutPayload::from(new), options).await {
            Ok(_) => {
                info!(catalog = %name, id, attempt, "catalog entry written");
                return Ok(CatalogOutcome::Written);
            }
            Err(object_store::Error::Precondition { .. }) => {
                warn!(catalog = %name, attempt, "another writer changed the catalog first; reading it again");
            }
            Err(e) => return Err(io(e)),
        }
    }
    Err(CatalogStoreError::Contended(name.to_string()))
}
