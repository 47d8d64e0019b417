//! Vimeo's upload: the API makes the video (or a new version of an existing one) and
//! hands out an upload link; the bytes go to that link by tus 1.0.0 (tus.io,
//! "Resumable upload protocol 1.0.0"; Vimeo API reference, "Uploading videos", the
//! `tus` approach).
//!
//! - New video: `POST {base}/me/videos` with `{"upload": {"approach": "tus", "size":
//!   N}, "name", "description", "privacy": {"view"}}`.
//! - Replace the file of an existing one: `POST {base}/videos/{id}/versions` with
//!   `{"file_name", "upload": {"status": "in_progress", "size": N, "approach": "tus"}}`.
//! - Either answers `upload.upload_link`. `HEAD` it (`Tus-Resumable: 1.0.0`) for the
//!   `Upload-Offset` the server has; `PATCH` it from that offset (`Content-Type:
//!   application/offset+octet-stream`), answered 204 with the new `Upload-Offset`.
//!
//! Every request to the API sends `Accept: application/vnd.vimeo.*+json;version=3.4`.

use serde_json::{json, Value};
use tracing::debug;

use crate::{ByteSource, Refusal, UploadError};

/// The tus version both ends speak.
pub const TUS_VERSION: &str = "1.0.0";
/// The API version vidpipe asks for.
pub const ACCEPT: &str = "application/vnd.vimeo.*+json;version=3.4";
/// Bytes per PATCH: at most this much is in memory at once.
pub const DEFAULT_CHUNK: usize = 16 * 1024 * 1024;

/// Where Vimeo's API is (`https://api.vimeo.com`), or a stand-in's address in tests.
#[derive(Debug, Clone)]
pub struct VimeoUploads {
    pub client: reqwest::Client,
    pub base_url: String,
    pub chunk: usize,
}

/// What the API answered: the video's URI (`/videos/12345`) and where its bytes go.
/// Record it before sending bytes: it is what resumes the upload.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadTicket {
    pub video_uri: String,
    pub upload_link: String,
    pub size: u64,
}

impl VimeoUploads {
    async fn api(&self, token: &str, path: &str, body: &Value) -> Result<Value, UploadError> {
        let response = self
            .client
            .post(format!("{}{path}", self.base_url))
            .bearer_auth(token)
            .header("Accept", ACCEPT)
            .json(body)
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(UploadError::Refused(Refusal::of(response).await));
        }
        Ok(response.json().await?)
    }

    fn ticket(
        answer: &Value,
        video_uri: Option<String>,
        size: u64,
    ) -> Result<UploadTicket, UploadError> {
        let link = answer["upload"]["upload_link"].as_str().ok_or_else(|| {
            UploadError::Protocol("no upload.upload_link in Vimeo's answer".into())
        })?;
        let uri = video_uri
            .or_else(|| answer["uri"].as_str().map(str::to_string))
            .ok_or_else(|| UploadError::Protocol("no uri in Vimeo's answer".into()))?;
        Ok(UploadTicket {
            video_uri: uri,
            upload_link: link.to_string(),
            size,
        })
    }

    /// A new video of `size` bytes, with its name, description and `privacy.view`
    /// (`nobody`, `unlisted`, `anybody`).
    ///
    /// # Errors
    /// [`UploadError::Refused`] with Vimeo's answer; [`UploadError::Protocol`] when it
    /// names no upload link.
    pub async fn create(
        &self,
        token: &str,
        name: &str,
        description: &str,
        view: &str,
        size: u64,
    ) -> Result<UploadTicket, UploadError> {
        let body = json!({"upload": {"approach": "tus", "size": size},
            "name": name, "description": description, "privacy": {"view": view}});
        let answer = self.api(token, "/me/videos", &body).await?;
        VimeoUploads::ticket(&answer, None, size)
    }

    /// A new version of the video at `video_uri` (`/videos/12345`): its file is
    /// replaced once the upload ends; its link, name and statistics stay.
    ///
    /// # Errors
    /// As [`VimeoUploads::create`].
    pub async fn replace(
        &self,
        token: &str,
        video_uri: &str,
        file_name: &str,
        size: u64,
    ) -> Result<UploadTicket, UploadError> {
        let body = json!({"file_name": file_name,
            "upload": {"status": "in_progress", "size": size, "approach": "tus"}});
        let answer = self
            .api(token, &format!("{video_uri}/versions"), &body)
            .await?;
        VimeoUploads::ticket(&answer, Some(video_uri.to_string()), size)
    }

    /// How many bytes the upload link has (`HEAD`, `Upload-Offset`).
    ///
    /// # Errors
    /// [`UploadError::SessionExpired`] on 404 or 410 (the link is gone);
    /// [`UploadError::Refused`] otherwise.
    pub async fn offset(&self, ticket: &UploadTicket) -> Result<u64, UploadError> {
        let response = self
            .client
            .head(&ticket.upload_link)
            .header("Tus-Resumable", TUS_VERSION)
            .send()
            .await?;
        match response.status().as_u16() {
            200 | 204 => upload_offset(&response),
            404 | 410 => Err(UploadError::SessionExpired),
            _ => Err(UploadError::Refused(Refusal::of(response).await)),
        }
    }

    /// Sends the file from `from` to the end, one chunk per `PATCH`, calling
    /// `confirmed` with each offset the server confirms.
    ///
    /// # Errors
    /// [`UploadError::Transport`] when the connection drops (ask
    /// [`VimeoUploads::offset`] where to go on); [`UploadError::Refused`] (409: the
    /// offset was not the server's) and the rest as [`VimeoUploads::offset`].
    pub async fn send<S: ByteSource>(
        &self,
        ticket: &UploadTicket,
        source: &S,
        from: u64,
        mut confirmed: impl FnMut(u64),
    ) -> Result<(), UploadError> {
        let mut offset = from;
        while offset < ticket.size {
            let bytes = source.read(offset, self.chunk.max(1)).await?;
            if bytes.is_empty() {
                return Err(UploadError::Source(format!(
                    "the file ends at {offset} bytes, the upload expects {}",
                    ticket.size
                )));
            }
            debug!(offset, bytes = bytes.len(), "tus patch");
            let response = self
                .client
                .patch(&ticket.upload_link)
                .header("Tus-Resumable", TUS_VERSION)
                .header("Upload-Offset", offset)
                .header("Content-Type", "application/offset+octet-stream")
                .body(bytes)
                .send()
                .await?;
            match response.status().as_u16() {
                204 | 200 => {}
                404 | 410 => return Err(UploadError::SessionExpired),
                _ => return Err(UploadError::Refused(Refusal::of(response).await)),
            }
            let next = upload_offset(&response)?;
            if next <= offset || next > ticket.size {
                return Err(UploadError::Protocol(format!(
                    "Upload-Offset {next} after a PATCH at {offset} of {}",
                    ticket.size
                )));
            }
            confirmed(next);
            offset = next;
        }
        Ok(())
    }
}

fn upload_offset(response: &reqwest::Response) -> Result<u64, UploadError> {
    response
        .headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| UploadError::Protocol("no Upload-Offset in the tus answer".into()))
}

impl VimeoUploads {
    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, UploadError> {
        let response = request.send().await?;
        if !response.status().is_success() {
            return Err(UploadError::Refused(Refusal::of(response).await));
        }
        let text = response.text().await?;
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn api_call(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base_url))
            .bearer_auth(token)
            .header("Accept", ACCEPT)
    }

    /// Name, description and who may watch: `PATCH {video_uri}` with `{"name",
    /// "description", "privacy": {"view"}}`.
    ///
    /// # Errors
    /// [`UploadError::Refused`] with Vimeo's answer.
    pub async fn set_details(
        &self,
        token: &str,
        video_uri: &str,
        name: &str,
        description: &str,
        view: &str,
    ) -> Result<Value, UploadError> {
        let body = json!({"name": name, "description": description, "privacy": {"view": view}});
        self.call(
            self.api_call(reqwest::Method::PATCH, token, video_uri)
                .json(&body),
        )
        .await
    }

    /// A caption text track: `POST {video_uri}/texttracks` with `{"type": "captions",
    /// "language", "name"}` answers the track's `uri` and an upload `link`; the WebVTT
    /// file is `PUT` there, then the track is made active (`PATCH` its uri).
    ///
    /// # Errors
    /// [`UploadError::Refused`]; [`UploadError::Protocol`] without `link` or `uri`.
    pub async fn add_captions(
        &self,
        token: &str,
        video_uri: &str,
        language: &str,
        name: &str,
        vtt: Vec<u8>,
    ) -> Result<String, UploadError> {
        let body = json!({"type": "captions", "language": language, "name": name});
        let path = format!("{video_uri}/texttracks");
        let track = self
            .call(
                self.api_call(reqwest::Method::POST, token, &path)
                    .json(&body),
            )
            .await?;
        self.put_then_activate(token, &track, vtt, "text/vtt").await
    }

    /// The cover as the video's active picture: `POST {video_uri}/pictures` answers the
    /// picture's `uri` and an upload `link`; the image is `PUT` there, then `PATCH uri
    /// {"active": true}`.
    ///
    /// # Errors
    /// As [`VimeoUploads::add_captions`].
    pub async fn set_picture(
        &self,
        token: &str,
        video_uri: &str,
        image: Vec<u8>,
        content_type: &str,
    ) -> Result<String, UploadError> {
        let path = format!("{video_uri}/pictures");
        let picture = self
            .call(
                self.api_call(reqwest::Method::POST, token, &path)
                    .json(&json!({})),
            )
            .await?;
        self.put_then_activate(token, &picture, image, content_type)
            .await
    }

    async fn put_then_activate(
        &self,
        token: &str,
        made: &Value,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<String, UploadError> {
        let (Some(uri), Some(link)) = (made["uri"].as_str(), made["link"].as_str()) else {
            return Err(UploadError::Protocol(format!(
                "no uri and link in Vimeo's answer: {made}"
            )));
        };
        self.call(
            self.client
                .put(link)
                .header("Content-Type", content_type)
                .body(bytes),
        )
        .await?;
        self.call(
            self.api_call(reqwest::Method::PATCH, token, uri)
                .json(&json!({"active": true})),
        )
        .await?;
        Ok(uri.to_string())
    }
}
