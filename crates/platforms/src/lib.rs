//! The publishing platforms' upload protocols, spoken over reqwest (no maintained
//! client crate covers them; the generated Google crates are very large). Each upload
//! reads its file in chunks from a [`ByteSource`], never the whole video at once, and
//! reports every offset the platform confirms, so that its caller can record it before
//! more bytes move and a later run resumes there.
//!
//! What a refusal means (retry, defer, new credentials, give up) is
//! [`vidpipe_domain::destinations::answers::classify`]'s to say, from the [`Refusal`]
//! kept here.

pub mod auth;
pub mod clients;
pub mod facebook;
#[cfg(feature = "test-util")]
pub mod stand_in;
pub mod vimeo;
pub mod youtube;

use std::path::PathBuf;

use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// A platform's answer that was not what the protocol expects next.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Refusal {
    async fn of(response: reqwest::Response) -> Refusal {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = response.text().await.unwrap_or_default();
        Refusal {
            status,
            headers,
            body,
        }
    }

    /// The refusal as the answer classification reads it.
    pub fn answer(&self) -> vidpipe_domain::destinations::answers::Answer<'_> {
        vidpipe_domain::destinations::answers::Answer {
            status: self.status,
            headers: self
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect(),
            body: &self.body,
        }
    }
}

/// Why an upload step did not finish.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The platform answered, but not as the protocol goes on: see [`Refusal`].
    #[error("HTTP {}: {}", .0.status, .0.body)]
    Refused(Refusal),
    /// No answer: the connection failed or dropped. The upload resumes from the
    /// offset the platform confirms.
    #[error("no answer: {0}")]
    Transport(String),
    /// The upload session is gone (YouTube answers 404 to an expired session URI):
    /// start a new upload.
    #[error("the upload session expired")]
    SessionExpired,
    /// The platform said something the protocol does not allow (a missing header, an
    /// offset past the end).
    #[error("protocol: {0}")]
    Protocol(String),
    /// The file could not be read.
    #[error("reading the video: {0}")]
    Source(String),
    /// The caller's deadline came ([`DeadlineSource`]): `offset` bytes are confirmed
    /// and the next run goes on from there.
    #[error("paused at byte {offset} (the run's time is up)")]
    Paused { offset: u64 },
}

impl From<reqwest::Error> for UploadError {
    /// Without the request's URL: some carry a token in their query (the Graph API's
    /// `access_token`), and the reason is recorded on the video.
    fn from(e: reqwest::Error) -> UploadError {
        UploadError::Transport(e.without_url().to_string())
    }
}

/// Where an upload's bytes come from: a file locally, an S3 object by ranged GETs in
/// the cloud.
pub trait ByteSource: Send + Sync {
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Whether there is nothing to send.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// `length` bytes from `offset` (fewer at the end).
    fn read(
        &self,
        offset: u64,
        length: usize,
    ) -> impl std::future::Future<Output = Result<Vec<u8>, UploadError>> + Send;
}

/// A source that stops the upload once `stop_at` has come: its next read, which is
/// always at the offset the platform last confirmed, answers [`UploadError::Paused`]
/// with that offset. The first read always goes through, so that every run sends at
/// least one chunk. A Lambda function near its timeout uses it to hand the upload
/// over to the next invocation.
pub struct DeadlineSource<'a, S> {
    source: &'a S,
    stop_at: Option<std::time::Instant>,
    read_once: std::sync::atomic::AtomicBool,
}

impl<'a, S: ByteSource> DeadlineSource<'a, S> {
    pub fn new(source: &'a S, stop_at: Option<std::time::Instant>) -> Self {
        DeadlineSource {
            source,
            stop_at,
            read_once: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl<S: ByteSource> ByteSource for DeadlineSource<'_, S> {
    fn len(&self) -> u64 {
        self.source.len()
    }

    async fn read(&self, offset: u64, length: usize) -> Result<Vec<u8>, UploadError> {
        let again = self
            .read_once
            .swap(true, std::sync::atomic::Ordering::SeqCst);
        if again && self.stop_at.is_some_and(|t| std::time::Instant::now() >= t) {
            return Err(UploadError::Paused { offset });
        }
        self.source.read(offset, length).await
    }
}

/// A file on this machine.
#[derive(Debug, Clone)]
pub struct FileSource {
    path: PathBuf,
    len: u64,
}

impl FileSource {
    /// # Errors
    /// [`UploadError::Source`] naming the file when it cannot be read.
    pub fn open(path: impl Into<PathBuf>) -> Result<FileSource, UploadError> {
        let path = path.into();
        let len = std::fs::metadata(&path)
            .map_err(|e| UploadError::Source(format!("{}: {e}", path.display())))?
            .len();
        Ok(FileSource { path, len })
    }
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    async fn read(&self, offset: u64, length: usize) -> Result<Vec<u8>, UploadError> {
        let fail = |e: std::io::Error| UploadError::Source(format!("{}: {e}", self.path.display()));
        let mut file = tokio::fs::File::open(&self.path).await.map_err(fail)?;
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(fail)?;
        let wanted = length.min(self.len.saturating_sub(offset) as usize);
        let mut bytes = vec![0u8; wanted];
        file.read_exact(&mut bytes).await.map_err(fail)?;
        Ok(bytes)
    }
}
