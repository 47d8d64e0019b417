//! YouTube's resumable upload protocol (YouTube Data API v3, "Upload videos using the
//! resumable upload protocol"):
//!
//! 1. **Start**: `POST {base}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status`
//!    with the video resource as JSON and `X-Upload-Content-Length` /
//!    `X-Upload-Content-Type`; the answer's `Location` is the session URI.
//! 2. **Send**: `PUT <session URI>` in chunks, each with `Content-Range: bytes
//!    a-b/total`; every chunk but the last a multiple of 256 KiB ([`CHUNK_QUANTUM`]).
//!    308 Resume Incomplete with `Range: bytes=0-N` confirms N + 1 bytes; 200 or 201
//!    ends it with the video resource.
//! 3. **Resume**: an empty `PUT` with `Content-Range: bytes */total` answers the same
//!    308 (no `Range`: nothing kept, start at 0) or the finished resource; 404 means
//!    the session expired.

use serde_json::Value;
use tracing::debug;

use crate::{ByteSource, Refusal, UploadError};

/// Chunks are multiples of this many bytes, but the last (the protocol's rule).
pub const CHUNK_QUANTUM: usize = 256 * 1024;
/// The chunk vidpipe sends: 16 MiB, what well-known uploaders use; at most this much
/// is in memory at once.
pub const DEFAULT_CHUNK: usize = 64 * CHUNK_QUANTUM;

/// Where YouTube's API is (`https://www.googleapis.com`), or a stand-in's address in
/// tests.
#[derive(Debug, Clone)]
pub struct YouTubeUploads {
    pub client: reqwest::Client,
    pub base_url: String,
    /// Bytes per PUT: a multiple of [`CHUNK_QUANTUM`].
    pub chunk: usize,
}

/// An upload session: its URI and the file's length. Record it before sending bytes;
/// it is what resumes the upload after a crash.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub uri: String,
    pub total: u64,
}

/// Where an upload stands, as YouTube confirms it.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// The next byte YouTube wants (all before it are kept).
    Next(u64),
    /// Every byte is in: the video resource YouTube made (`id`, `snippet`, `status`).
    Done(Value),
}

impl YouTubeUploads {
    /// Step 1: a session for a `total`-byte file of `content_type`, with `video` (the
    /// videos resource: `snippet.title`, `snippet.description`, `snippet.tags`,
    /// `status.privacyStatus`, …).
    ///
    /// # Errors
    /// [`UploadError::Refused`] with YouTube's answer; [`UploadError::Protocol`] when
    /// the answer has no `Location`.
    pub async fn start(
        &self,
        token: &str,
        video: &Value,
        total: u64,
        content_type: &str,
    ) -> Result<Session, UploadError> {
        let url = format!(
            "{}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
            self.base_url
        );
        let response = self
            .client
            .post(url)
            .bearer_auth(token)
            .header("X-Upload-Content-Length", total)
            .header("X-Upload-Content-Type", content_type)
            .json(video)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(UploadError::Refused(Refusal::of(response).await));
        }
        let uri = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| UploadError::Protocol("no Location for the upload session".into()))?;
        Ok(Session {
            uri: uri.to_string(),
            total,
        })
    }

    /// Step 3: how far YouTube has the file.
    ///
    /// # Errors
    /// [`UploadError::SessionExpired`] on 404; [`UploadError::Refused`] otherwise.
    pub async fn progress(&self, token: &str, session: &Session) -> Result<Progress, UploadError> {
        let response = self
            .client
            .put(&session.uri)
            .bearer_auth(token)
            .header("Content-Range", format!("bytes */{}", session.total))
            .header("Content-Length", 0)
            .send()
            .await?;
        progress_of(response, session).await
    }

    /// Step 2: sends the file from `from` to the end, one chunk per PUT, calling
    /// `confirmed` with every offset YouTube confirms (record it: it is where a later
    /// run resumes). A chunk YouTube keeps only partly is continued from where it
    /// stopped.
    ///
    /// # Errors
    /// As [`YouTubeUploads::progress`]; [`UploadError::Transport`] when the
    /// connection fails (ask [`YouTubeUploads::progress`] where to go on).
    pub async fn send<S: ByteSource>(
        &self,
        token: &str,
        session: &Session,
        source: &S,
        from: u64,
        mut confirmed: impl FnMut(u64),
    ) -> Result<Value, UploadError> {
        let chunk = (self.chunk / CHUNK_QUANTUM).max(1) * CHUNK_QUANTUM;
        let mut offset = from;
        loop {
            if offset > session.total {
                return Err(UploadError::Protocol(format!(
                    "offset {offset} is past the file's {} bytes",
                    session.total
                )));
            }
            let bytes = source.read(offset, chunk).await?;
            if bytes.is_empty() && session.total > 0 {
                return Err(UploadError::Protocol(format!(
                    "YouTube wants byte {offset} of {}, but the session did not end",
                    session.total
                )));
            }
            let last = offset + bytes.len() as u64;
            debug!(offset, bytes = bytes.len(), "youtube chunk");
            let range = if bytes.is_empty() {
                format!("bytes */{}", session.total)
            } else {
                format!("bytes {offset}-{}/{}", last - 1, session.total)
            };
            let response = self
                .client
                .put(&session.uri)
                .bearer_auth(token)
                .header("Content-Range", range)
                .body(bytes)
                .send()
                .await?;
            match progress_of(response, session).await? {
                Progress::Done(video) => {
                    confirmed(session.total);
                    return Ok(video);
                }
                Progress::Next(next) => {
                    if next > last || next < offset {
                        return Err(UploadError::Protocol(format!(
                            "YouTube confirms {next} bytes after a chunk ending at {last}"
                        )));
                    }
                    confirmed(next);
                    offset = next;
                }
            }
        }
    }
}

/// A 308's `Range: bytes=0-N` as the next offset (N + 1); none means 0. 200/201 are
/// the end; 404 the session's.
async fn progress_of(
    response: reqwest::Response,
    session: &Session,
) -> Result<Progress, UploadError> {
    match response.status().as_u16() {
        200 | 201 => {
            let video: Value = response.json().await?;
            Ok(Progress::Done(video))
        }
        308 => {
            let range = response
                .headers()
                .get(reqwest::header::RANGE)
                .and_then(|v| v.to_str().ok());
            match range {
                None => Ok(Progress::Next(0)),
                Some(r) => {
                    let end = r
                        .strip_prefix("bytes=0-")
                        .and_then(|n| n.trim().parse::<u64>().ok())
                        .ok_or_else(|| UploadError::Protocol(format!("Range {r:?}")))?;
                    if end >= session.total {
                        return Err(UploadError::Protocol(format!(
                            "Range {r:?} is past the file's {} bytes",
                            session.total
                        )));
                    }
                    Ok(Progress::Next(end + 1))
                }
            }
        }
        404 => Err(UploadError::SessionExpired),
        _ => Err(UploadError::Refused(Refusal::of(response).await)),
    }
}
