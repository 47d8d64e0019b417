//! A Facebook Page video by the Graph API's Resumable Upload API (Graph API, "Upload
//! API" and "Video API: Publishing"):
//!
//! 1. `POST {base}/{app-id}/uploads?file_name&file_length&file_type` (the user's token)
//!    answers `{"id": "upload:<session>"}`.
//! 2. `POST {base}/upload:<session>` with `Authorization: OAuth <token>` and a
//!    `file_offset` header, the bytes as the body; the answer names the file handle,
//!    `{"h": "…"}`.
//! 3. To resume, `GET {base}/upload:<session>` answers `{"file_offset": N}`.
//! 4. `POST {base}/{page-id}/videos` (the Page's token) with `title`, `description`
//!    and `fbuploader_video_file_chunk=<handle>` answers `{"id": <video id>}`;
//!    `GET {base}/{video-id}?fields=status,permalink_url` tells when it is ready and
//!    where it is.
//!
//! vidpipe sends the file in chunks and asks for the offset after each (step 3), so
//! what it records is always what Facebook confirms.

use serde_json::Value;
use tracing::debug;

use crate::{ByteSource, Refusal, UploadError};

/// Bytes per POST: at most this much is in memory at once.
pub const DEFAULT_CHUNK: usize = 16 * 1024 * 1024;

/// Where the Graph API is (`https://graph.facebook.com/v23.0`), or a stand-in's
/// address in tests.
#[derive(Debug, Clone)]
pub struct FacebookUploads {
    pub client: reqwest::Client,
    pub base_url: String,
    pub chunk: usize,
}

/// An upload session (`upload:<id>`) and the file's length: record it before sending
/// bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadSession {
    pub id: String,
    pub total: u64,
}

/// A Page video as Facebook reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageVideo {
    /// `status.video_status`: `processing`, `ready`, `error`, …
    pub status: String,
    pub permalink: Option<String>,
}

impl FacebookUploads {
    async fn json(response: reqwest::Response) -> Result<Value, UploadError> {
        if !response.status().is_success() {
            return Err(UploadError::Refused(Refusal::of(response).await));
        }
        Ok(response.json().await?)
    }

    fn field<'a>(answer: &'a Value, name: &str) -> Result<&'a Value, UploadError> {
        answer.get(name).filter(|v| !v.is_null()).ok_or_else(|| {
            UploadError::Protocol(format!("no {name:?} in Facebook's answer: {answer}"))
        })
    }

    /// Step 1: a session for a `total`-byte file.
    ///
    /// # Errors
    /// [`UploadError::Refused`] with the Graph API's error; [`UploadError::Protocol`]
    /// when the answer has no `id`.
    pub async fn start(
        &self,
        user_token: &str,
        app_id: &str,
        file_name: &str,
        total: u64,
        file_type: &str,
    ) -> Result<UploadSession, UploadError> {
        let response = self
            .client
            .post(format!("{}/{app_id}/uploads", self.base_url))
            .query(&[
                ("file_name", file_name),
                ("file_length", &total.to_string()),
                ("file_type", file_type),
                ("access_token", user_token),
            ])
            .send()
            .await?;
        let answer = FacebookUploads::json(response).await?;
        let id = FacebookUploads::field(&answer, "id")?
            .as_str()
            .filter(|id| id.starts_with("upload:"))
            .ok_or_else(|| UploadError::Protocol(format!("not an upload session: {answer}")))?;
        Ok(UploadSession {
            id: id.to_string(),
            total,
        })
    }

    /// Step 3: how many bytes Facebook has.
    ///
    /// # Errors
    /// [`UploadError::Refused`]; [`UploadError::Protocol`] without `file_offset`.
    pub async fn offset(
        &self,
        user_token: &str,
        session: &UploadSession,
    ) -> Result<u64, UploadError> {
        let response = self
            .client
            .get(format!("{}/{}", self.base_url, session.id))
            .header("Authorization", format!("OAuth {user_token}"))
            .send()
            .await?;
        let answer = FacebookUploads::json(response).await?;
        let offset = FacebookUploads::field(&answer, "file_offset")?;
        offset
            .as_u64()
            .or_else(|| offset.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| UploadError::Protocol(format!("file_offset {offset}")))
    }

    /// Step 2: the file from `from` to the end, one chunk per POST, each followed by
    /// step 3; `confirmed` gets every offset Facebook confirms. The file handle at the
    /// end.
    ///
    /// # Errors
    /// As [`FacebookUploads::offset`]; [`UploadError::Transport`] when the connection
    /// fails (ask [`FacebookUploads::offset`] where to go on).
    pub async fn send<S: ByteSource>(
        &self,
        user_token: &str,
        session: &UploadSession,
        source: &S,
        from: u64,
        mut confirmed: impl FnMut(u64),
    ) -> Result<String, UploadError> {
        let mut offset = from;
        loop {
            let bytes = source.read(offset, self.chunk.max(1)).await?;
            if bytes.is_empty() {
                return Err(UploadError::Source(format!(
                    "the file ends at {offset} bytes, the session expects {}",
                    session.total
                )));
            }
            let end = offset + bytes.len() as u64;
            debug!(offset, bytes = bytes.len(), "facebook chunk");
            let response = self
                .client
                .post(format!("{}/{}", self.base_url, session.id))
                .header("Authorization", format!("OAuth {user_token}"))
                .header("file_offset", offset)
                .body(bytes)
                .send()
                .await?;
            let answer = FacebookUploads::json(response).await?;
            let next = self.offset(user_token, session).await?;
            if next <= offset || next > end {
                return Err(UploadError::Protocol(format!(
                    "file_offset {next} after a chunk from {offset} to {end}: no progress, or past it"
                )));
            }
            confirmed(next);
            if next == session.total {
                let handle = FacebookUploads::field(&answer, "h")?;
                return handle
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| UploadError::Protocol(format!("file handle {handle}")));
            }
            offset = next;
        }
    }

    /// Step 4: the uploaded file as a video of the Page, with its title and
    /// description: the video's id.
    ///
    /// # Errors
    /// [`UploadError::Refused`] with the Graph API's error.
    pub async fn publish(
        &self,
        page_token: &str,
        page_id: &str,
        handle: &str,
        title: &str,
        description: &str,
    ) -> Result<String, UploadError> {
        self.publish_as(page_token, page_id, handle, title, description, true)
            .await
    }

    /// As [`FacebookUploads::publish`]; `published: false` keeps the video unpublished
    /// (only the Page's people see it until one publishes it: the Page video's
    /// `published` field).
    ///
    /// # Errors
    /// As [`FacebookUploads::publish`].
    pub async fn publish_as(
        &self,
        page_token: &str,
        page_id: &str,
        handle: &str,
        title: &str,
        description: &str,
        published: bool,
    ) -> Result<String, UploadError> {
        let response = self
            .client
            .post(format!("{}/{page_id}/videos", self.base_url))
            .form(&[
                ("access_token", page_token),
                ("title", title),
                ("description", description),
                ("fbuploader_video_file_chunk", handle),
                ("published", if published { "true" } else { "false" }),
            ])
            .send()
            .await?;
        let answer = FacebookUploads::json(response).await?;
        let id = FacebookUploads::field(&answer, "id")?;
        Ok(id
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| id.to_string()))
    }

    /// Where the Page video stands: its `status.video_status` and permalink.
    ///
    /// # Errors
    /// [`UploadError::Refused`] with the Graph API's error.
    pub async fn video(&self, page_token: &str, video_id: &str) -> Result<PageVideo, UploadError> {
        let response = self
            .client
            .get(format!("{}/{video_id}", self.base_url))
            .query(&[
                ("fields", "status,permalink_url"),
                ("access_token", page_token),
            ])
            .send()
            .await?;
        let answer = FacebookUploads::json(response).await?;
        Ok(PageVideo {
            status: answer["status"]["video_status"]
                .as_str()
                .unwrap_or("unknown")
                .to_string(),
            permalink: answer["permalink_url"].as_str().map(str::to_string),
        })
    }

    /// Captions for a Page video: `POST /{video-id}/captions`, a multipart form with
    /// the SubRip file as `captions_file` (named `<name>.<locale>.srt`, which is how
    /// the Graph API reads its language) and `default_locale` (Graph API reference,
    /// Video Captions).
    ///
    /// # Errors
    /// [`UploadError::Refused`] with the Graph API's error.
    pub async fn add_captions(
        &self,
        page_token: &str,
        video_id: &str,
        locale: &str,
        srt: &[u8],
    ) -> Result<(), UploadError> {
        let boundary = "vidpipe-captions-boundary-51c3";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"default_locale\"\r\n\r\n{locale}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"captions_file\"; filename=\"captions.{locale}.srt\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(srt);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let response = self
            .client
            .post(format!("{}/{video_id}/captions", self.base_url))
            .header("Authorization", format!("OAuth {page_token}"))
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await?;
        FacebookUploads::json(response).await.map(|_| ())
    }
}
