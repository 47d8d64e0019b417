//! The object store on S3: one bucket holds `uploads/`, `media/<id>/` and
//! `transcripts/<id>/`. Writes announce themselves through the bucket's own event
//! notifications (configured in `template.yaml`), not through this adapter.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use vidpipe_domain::ports::{ObjectInfo, ObjectReader, ObjectWriter};
use vidpipe_domain::PortError;

use crate::error::port_error;

/// Characters a `CopySource` leaves as they are: S3 wants the key URL-encoded, with
/// `/` kept as the separator.
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Clone, Debug)]
pub struct S3Store {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
}

/// `s3://<bucket>/<key>`, as MediaConvert and Transcribe name objects.
pub fn s3_uri(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3Store {
            client,
            bucket: bucket.into(),
        }
    }

    /// `s3://bucket/key`, as MediaConvert and Transcribe name objects.
    pub fn uri(&self, key: &str) -> String {
        s3_uri(&self.bucket, key)
    }

    /// Bytes `start..end` (end exclusive) of the object; fewer at its end.
    pub async fn get_range(&self, key: &str, start: u64, end: u64) -> Result<Vec<u8>, PortError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .range(format!("bytes={start}-{}", end.saturating_sub(1)))
            .send()
            .await
            .map_err(|e| port_error(&format!("s3 GetObject {key} (range)"), e))?;
        collect(key, out.body).await
    }

    /// A GET link that works without credentials until `expires_in` (at most 7 days:
    /// SigV4 presigned URLs, Amazon S3 User Guide, "Sharing objects with presigned
    /// URLs"), and no longer than the credentials that signed it.
    pub async fn presigned_get(
        &self,
        key: &str,
        expires_in: Duration,
    ) -> Result<String, PortError> {
        let config = PresigningConfig::expires_in(expires_in)
            .map_err(|e| PortError::Failed(format!("presigning {key}: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| port_error(&format!("s3 presign {key}"), e))?;
        Ok(request.uri().to_string())
    }
}

/// An object's bytes and ETag, in any bucket (a catalog, a time-lapse's frames).
///
/// # Errors
/// [`PortError`] from S3 ([`port_error`]'s classes), or the body cut short.
pub async fn get_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<(Vec<u8>, Option<String>), PortError> {
    let out = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| port_error(&format!("s3 GetObject {key}"), e))?;
    let e_tag = out.e_tag().map(str::to_string);
    Ok((collect(key, out.body).await?, e_tag))
}

async fn collect(key: &str, body: ByteStream) -> Result<Vec<u8>, PortError> {
    body.collect()
        .await
        .map(|b| b.into_bytes().to_vec())
        .map_err(|e| PortError::Unavailable(format!("s3 reading {key}: {e}")))
}

impl ObjectReader for S3Store {
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, PortError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectInfo {
                key: key.to_string(),
                size_bytes: out.content_length.unwrap_or(0).max(0) as u64,
                etag: out.e_tag.map(|e| e.trim_matches('"').to_string()),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => match port_error(&format!("s3 HeadObject {key}"), e) {
                PortError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError> {
        Ok(get_object(&self.client, &self.bucket, key).await?.0)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, PortError> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut objects = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error(&format!("s3 ListObjectsV2 {prefix}"), e))?;
            for o in page.contents.unwrap_or_default() {
                if let Some(key) = o.key {
                    objects.push(ObjectInfo {
                        key,
                        size_bytes: o.size.unwrap_or(0).max(0) as u64,
                        etag: o.e_tag.map(|e| e.trim_matches('"').to_string()),
                    });
                }
            }
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }
}

impl ObjectWriter for S3Store {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<(), PortError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| port_error(&format!("s3 PutObject {key}"), e))?;
        Ok(())
    }

    async fn copy(&self, from: &str, to: &str) -> Result<(), PortError> {
        let source = format!("{}/{}", self.bucket, utf8_percent_encode(from, COPY_SOURCE));
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(to)
            .copy_source(source)
            .send()
            .await
            .map_err(
                |e| match port_error(&format!("s3 CopyObject {from} → {to}"), e) {
                    PortError::Failed(m) if m.contains("NoSuchKey") => PortError::NotFound(m),
                    other => other,
                },
            )?;
        Ok(())
    }
}
