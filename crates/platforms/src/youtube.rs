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
                    if next > last || next <= offset {
                        return Err(UploadError::Protocol(format!(
                            "YouTube confirms {next} bytes after a chunk from {offset} to {last}: no progress, or past it"
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

/// An access token from Google's token endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessToken {
    pub token: String,
    /// Seconds it lasts from when it was given.
    pub expires_in_s: u64,
}

/// Google's OAuth 2.0 token endpoint (`https://oauth2.googleapis.com/token`), where a
/// stored refresh token buys access tokens (Google Identity, "Using OAuth 2.0 for
/// installed applications": refreshing an access token).
#[derive(Debug, Clone)]
pub struct GoogleTokens {
    pub client: reqwest::Client,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
}

impl GoogleTokens {
    /// A fresh access token for `refresh_token`.
    ///
    /// # Errors
    /// [`UploadError::Refused`] with Google's answer (`invalid_grant` when the refresh
    /// token is revoked or expired: see
    /// [`vidpipe_domain::destinations::answers::classify`]);
    /// [`UploadError::Protocol`] when the answer has no `access_token`.
    pub async fn refresh(&self, refresh_token: &str) -> Result<AccessToken, UploadError> {
        let response = self
            .client
            .post(&self.token_url)
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", &self.client_id),
                ("client_secret", &self.client_secret),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(UploadError::Refused(Refusal::of(response).await));
        }
        let answer: Value = response.json().await?;
        let token = answer["access_token"]
            .as_str()
            .ok_or_else(|| UploadError::Protocol("no access_token in Google's answer".into()))?;
        Ok(AccessToken {
            token: token.to_string(),
            expires_in_s: answer["expires_in"].as_u64().unwrap_or(3600),
        })
    }
}

impl YouTubeUploads {
    async fn answer(response: reqwest::Response) -> Result<Value, UploadError> {
        if !response.status().is_success() {
            return Err(UploadError::Refused(Refusal::of(response).await));
        }
        Ok(response.json().await?)
    }

    /// The video's custom thumbnail: `POST {base}/upload/youtube/v3/thumbnails/set?videoId=…`
    /// with the image (JPEG or PNG, at most 2 MB: videos resource, thumbnails.set).
    ///
    /// # Errors
    /// [`UploadError::Refused`] with YouTube's answer.
    pub async fn set_thumbnail(
        &self,
        token: &str,
        video_id: &str,
        image: Vec<u8>,
        content_type: &str,
    ) -> Result<Value, UploadError> {
        let response = self
            .client
            .post(format!(
                "{}/upload/youtube/v3/thumbnails/set",
                self.base_url
            ))
            .query(&[("videoId", video_id)])
            .bearer_auth(token)
            .header("Content-Type", content_type)
            .body(image)
            .send()
            .await?;
        YouTubeUploads::answer(response).await
    }

    /// A caption track: `POST {base}/upload/youtube/v3/captions?part=snippet&uploadType=multipart`,
    /// a `multipart/related` body of the caption resource (`snippet.videoId`,
    /// `snippet.language`, `snippet.name`) and the file (captions.insert; needs the
    /// `youtube.force-ssl` scope).
    ///
    /// # Errors
    /// [`UploadError::Refused`] with YouTube's answer.
    pub async fn insert_captions(
        &self,
        token: &str,
        video_id: &str,
        language: &str,
        name: &str,
        captions: &[u8],
    ) -> Result<Value, UploadError> {
        let boundary = "vidpipe-caption-boundary-7d1f";
        let metadata = serde_json::json!({"snippet": {"videoId": video_id, "language": language,
            "name": name, "isDraft": false}});
        let mut body = format!(
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{metadata}\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(captions);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let response = self
            .client
            .post(format!("{}/upload/youtube/v3/captions", self.base_url))
            .query(&[("part", "snippet"), ("uploadType", "multipart")])
            .bearer_auth(token)
            .header(
                "Content-Type",
                format!("multipart/related; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await?;
        YouTubeUploads::answer(response).await
    }

    /// Adds the video to a playlist: `POST {base}/youtube/v3/playlistItems?part=snippet`
    /// with `snippet.playlistId` and `snippet.resourceId` (`youtube#video`).
    ///
    /// # Errors
    /// [`UploadError::Refused`] with YouTube's answer.
    pub async fn add_to_playlist(
        &self,
        token: &str,
        playlist_id: &str,
        video_id: &str,
    ) -> Result<Value, UploadError> {
        let item = serde_json::json!({"snippet": {"playlistId": playlist_id,
            "resourceId": {"kind": "youtube#video", "videoId": video_id}}});
        let response = self
            .client
            .post(format!("{}/youtube/v3/playlistItems", self.base_url))
            .query(&[("part", "snippet")])
            .bearer_auth(token)
            .json(&item)
            .send()
            .await?;
        YouTubeUploads::answer(response).await
    }
}
