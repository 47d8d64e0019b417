//! The time-lapse's S3 side: frames kept under a prefix (a `FrameStore` the FTP sync
//! writes through), and the movie streamed to an object by multipart upload. Both are
//! called from the blocking thread the run is on, and run the SDK's futures on the
//! runtime's handle.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::time::SystemTime;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::runtime::Handle;
use tracing::warn;
use vidpipe_timelapse::ftp::{FrameStore, Held, Remote, SyncError};

use super::{get, TimelapseRunError};
use crate::error::port_error;

/// The upload part size: 64 MiB (S3 multipart parts are 5 MiB to 5 GiB, at most
/// 10 000 of them; Amazon S3 User Guide, "Amazon S3 multipart upload limits").
pub const PART_BYTES: usize = 64 << 20;

/// Frames kept in the bucket under a prefix; the blocking calls of the sync run the
/// SDK's futures on `rt`.
pub struct S3Frames<'a> {
    pub s3: &'a aws_sdk_s3::Client,
    pub bucket: &'a str,
    /// `timelapse/<id>/frames/`.
    pub prefix: String,
    pub rt: Handle,
}

impl S3Frames<'_> {
    fn local(&self, what: &str, reason: impl std::fmt::Display) -> SyncError {
        SyncError::Local {
            path: format!("s3://{}/{}{what}", self.bucket, self.prefix),
            reason: reason.to_string(),
        }
    }

    /// A frame's bytes.
    ///
    /// # Errors
    /// The object cannot be read.
    pub fn read(&self, name: &str) -> Result<Vec<u8>, TimelapseRunError> {
        self.rt
            .block_on(get(self.s3, self.bucket, &format!("{}{name}", self.prefix)))
    }
}

impl FrameStore for S3Frames<'_> {
    fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    /// The frames' sizes and upload times (S3 `LastModified`): a frame changed on the
    /// server after it was stored here is newer than that, and fetched again.
    fn held(&mut self) -> Result<BTreeMap<String, Held>, SyncError> {
        let mut held = BTreeMap::new();
        let mut token = None;
        loop {
            let page = self
                .rt
                .block_on(
                    self.s3
                        .list_objects_v2()
                        .bucket(self.bucket)
                        .prefix(&self.prefix)
                        .set_continuation_token(token.take())
                        .send(),
                )
                .map_err(|e| self.local("", port_error("s3 ListObjectsV2", e)))?;
            for o in page.contents() {
                let Some(name) = o.key().and_then(|k| k.strip_prefix(&self.prefix)) else {
                    continue;
                };
                let modified = o
                    .last_modified()
                    .and_then(|t| SystemTime::try_from(*t).ok());
                let size = o.size().unwrap_or(0).max(0) as u64;
                held.insert(name.to_string(), Held { size, modified });
            }
            match page.next_continuation_token() {
                Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => return Ok(held),
            }
        }
    }

    fn receive(
        &mut self,
        name: &str,
        remote: &Remote,
        reader: &mut dyn Read,
    ) -> Result<u64, SyncError> {
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(|e| SyncError::Transfer {
                server: name.to_string(),
                reason: e.to_string(),
            })?;
        let n = bytes.len() as u64;
        if let Some(size) = remote.size.filter(|&s| s != n) {
            return Err(SyncError::Transfer {
                server: name.to_string(),
                reason: format!("{n} of {size} bytes arrived"),
            });
        }
        self.rt
            .block_on(
                self.s3
                    .put_object()
                    .bucket(self.bucket)
                    .key(format!("{}{name}", self.prefix))
                    .body(bytes.into())
                    .send(),
            )
            .map_err(|e| self.local(name, port_error("s3 PutObject", e)))?;
        Ok(n)
    }

    fn remove(&mut self, name: &str) -> Result<(), SyncError> {
        self.rt
            .block_on(
                self.s3
                    .delete_object()
                    .bucket(self.bucket)
                    .key(format!("{}{name}", self.prefix))
                    .send(),
            )
            .map_err(|e| self.local(name, port_error("s3 DeleteObject", e)))?;
        Ok(())
    }
}

/// An object written as a stream: parts of [`PART_BYTES`] by S3 multipart upload, or
/// one `PutObject` when the whole fits in one part. [`MultipartUpload::abort`] (or a
/// drop without [`MultipartUpload::complete`]) leaves no object and no parts.
pub struct MultipartUpload<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    key: String,
    rt: Handle,
    part_bytes: usize,
    upload_id: Option<String>,
    buffer: Vec<u8>,
    parts: Vec<CompletedPart>,
    total: u64,
}

impl<'a> MultipartUpload<'a> {
    pub fn new(
        s3: &'a aws_sdk_s3::Client,
        bucket: &'a str,
        key: &str,
        rt: Handle,
        part_bytes: usize,
    ) -> Self {
        MultipartUpload {
            s3,
            bucket,
            key: key.to_string(),
            rt,
            part_bytes: part_bytes.max(5 << 20),
            upload_id: None,
            buffer: Vec::new(),
            parts: Vec::new(),
            total: 0,
        }
    }

    fn io(&self, what: &str, e: impl std::fmt::Display) -> io::Error {
        io::Error::other(format!("s3://{}/{}: {what}: {e}", self.bucket, self.key))
    }

    fn send_part(&mut self) -> io::Result<()> {
        if self.upload_id.is_none() {
            let created = self
                .rt
                .block_on(
                    self.s3
                        .create_multipart_upload()
                        .bucket(self.bucket)
                        .key(&self.key)
                        .content_type("video/x-yuv4mpeg")
                        .send(),
                )
                .map_err(|e| self.io("CreateMultipartUpload", port_error("s3", e)))?;
            self.upload_id = created.upload_id().map(str::to_string);
        }
        let number = self.parts.len() as i32 + 1;
        let body = std::mem::take(&mut self.buffer);
        let sent = self
            .rt
            .block_on(
                self.s3
                    .upload_part()
                    .bucket(self.bucket)
                    .key(&self.key)
                    .upload_id(self.upload_id.clone().unwrap_or_default())
                    .part_number(number)
                    .body(body.into())
                    .send(),
            )
            .map_err(|e| self.io("UploadPart", port_error("s3", e)))?;
        // The SDK sends each part with a CRC32 (its default data-integrity
        // protection); the completion names it with the part's ETag.
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(sent.e_tag().map(str::to_string))
                .set_checksum_crc32(sent.checksum_crc32().map(str::to_string))
                .build(),
        );
        Ok(())
    }

    /// Sends what is left and completes the object; returns its size in bytes.
    ///
    /// # Errors
    /// S3's; the upload is then aborted.
    pub fn complete(mut self) -> io::Result<u64> {
        let result = self.finish();
        if result.is_err() {
            self.abort_in_place();
        }
        result
    }

    fn finish(&mut self) -> io::Result<u64> {
        if self.upload_id.is_none() {
            let body = std::mem::take(&mut self.buffer);
            self.rt
                .block_on(
                    self.s3
                        .put_object()
                        .bucket(self.bucket)
                        .key(&self.key)
                        .content_type("video/x-yuv4mpeg")
                        .body(body.into())
                        .send(),
                )
                .map_err(|e| self.io("PutObject", port_error("s3", e)))?;
            return Ok(self.total);
        }
        if !self.buffer.is_empty() {
            self.send_part()?;
        }
        let parts = CompletedMultipartUpload::builder()
            .set_parts(Some(self.parts.clone()))
            .build();
        self.rt
            .block_on(
                self.s3
                    .complete_multipart_upload()
                    .bucket(self.bucket)
                    .key(&self.key)
                    .upload_id(self.upload_id.clone().unwrap_or_default())
                    .multipart_upload(parts)
                    .send(),
            )
            .map_err(|e| self.io("CompleteMultipartUpload", port_error("s3", e)))?;
        self.upload_id = None;
        Ok(self.total)
    }

    /// Abandons the object: the parts sent are deleted.
    pub fn abort(mut self) {
        self.abort_in_place();
    }

    fn abort_in_place(&mut self) {
        if let Some(id) = self.upload_id.take() {
            let aborted = self.rt.block_on(
                self.s3
                    .abort_multipart_upload()
                    .bucket(self.bucket)
                    .key(&self.key)
                    .upload_id(id)
                    .send(),
            );
            if let Err(e) = aborted {
                warn!(key = %self.key, error = %port_error("s3 AbortMultipartUpload", e), "parts left behind; the bucket's lifecycle rule removes them");
            }
        }
    }
}

impl Write for MultipartUpload<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = self.part_bytes - self.buffer.len();
        let n = buf.len().min(room);
        self.buffer.extend_from_slice(&buf[..n]);
        self.total += n as u64;
        if self.buffer.len() == self.part_bytes {
            self.send_part()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
