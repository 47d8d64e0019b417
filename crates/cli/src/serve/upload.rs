//! A file uploaded in the library (or by `curl -F file=@talk.mp4`): streamed to
//! `<out>/incoming/<random>/<name>` as it arrives, never held in memory, hashed on the
//! way (its SHA-256 is the video's id, as for `vidpipe process`), then queued.
//!
//! Limits: `--max-upload-mib` (413 beyond it, the part written removed); the disk must
//! keep [`FREE_MARGIN_BYTES`] free after the upload: checked against the request's
//! length before anything is written and again every [`RECHECK_BYTES`] (507 when short).

use std::path::{Path, PathBuf};

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use vidpipe_domain::keys::{UploadIdentity, VideoId};
use vidpipe_domain::sidecar::Sidecar;

use super::{refuse, Shared};
use crate::queue::{Input, JobOptions};

/// Free space the disk must keep beside an upload: the renditions are written next.
pub const FREE_MARGIN_BYTES: u64 = 512 << 20;
const RECHECK_BYTES: u64 = 64 << 20;
/// How much of an upload beyond the limit is read and dropped before the 413 (a
/// larger excess is refused from its `Content-Length` before anything is read).
const DRAIN_BYTES: u64 = 64 << 20;
/// The largest sidecar accepted.
const MAX_SIDECAR_BYTES: usize = 1 << 20;

/// Free bytes on the file system holding `dir` (statvfs: blocks available to an
/// unprivileged user × fragment size).
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let s = rustix::fs::statvfs(dir)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

/// A file name safe to write: the last component of what the browser sent, letters,
/// digits, `.`, `-` and `_` kept, anything else `_`; never empty, never hidden.
pub fn safe_name(given: &str) -> String {
    let last = given.rsplit(['/', '\\']).next().unwrap_or("");
    let mut name: String = last
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    while name.starts_with('.') {
        name.remove(0);
    }
    if name.is_empty() {
        name = "upload".into();
    }
    name
}

/// Handles `POST /api/videos` with a multipart body.
pub async fn receive(app: Shared, request: Request) -> Response {
    let length: Option<u64> = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    if let Some(length) = length {
        if length > app.max_upload_bytes.saturating_add(DRAIN_BYTES) {
            return too_large(&app);
        }
        if let Err(r) = check_room(&app.out, length) {
            return r;
        }
    }
    let mut multipart = match Multipart::from_request(request, &()).await {
        Ok(m) => m,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let dir = match super::random_token() {
        Ok(t) => app.out.join("incoming").join(t),
        Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let result = read_fields(&app, &mut multipart, &dir).await;
    let (video, sha, sidecar) = match result {
        Ok(got) => got,
        Err(r) => {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return r;
        }
    };
    if let Some(bytes) = sidecar {
        if let Err(e) = tokio::fs::write(video.with_extension("json"), bytes).await {
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        }
    }
    let id = VideoId::derive(&UploadIdentity::Content { sha256_hex: &sha });
    let options = JobOptions {
        content_sha256: Some(sha),
        ..JobOptions::default()
    };
    let job = app.queue.submit_with(Input::File(video), options);
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "id": id, "job": job })),
    )
        .into_response()
}

fn too_large(app: &super::App) -> Response {
    refuse(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the upload is larger than the limit of {} MiB (--max-upload-mib)",
            app.max_upload_bytes >> 20
        ),
    )
}

fn check_room(out: &Path, more_bytes: u64) -> Result<(), Response> {
    let free =
        free_bytes(out).map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    if free < more_bytes.saturating_add(FREE_MARGIN_BYTES) {
        return Err(refuse(
            StatusCode::INSUFFICIENT_STORAGE,
            format!("not enough free disk space in {}: {} MiB free, the upload needs {} MiB and {} MiB to spare", out.display(), free >> 20, more_bytes >> 20, FREE_MARGIN_BYTES >> 20),
        ));
    }
    Ok(())
}

type Received = (PathBuf, String, Option<Vec<u8>>);

/// Reads the `file` field to disk and the `sidecar` field to memory.
async fn read_fields(
    app: &super::App,
    multipart: &mut Multipart,
    dir: &Path,
) -> Result<Received, Response> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        refuse(StatusCode::BAD_REQUEST, e.body_text())
    };
    let mut file = None;
    let mut sidecar = None;
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        match field.name().unwrap_or("") {
            "file" => {
                let name = safe_name(field.file_name().unwrap_or("upload"));
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
                let path = dir.join(&name);
                let mut out = tokio::fs::File::create(&path)
                    .await
                    .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
                let (mut hasher, mut written, mut checked) = (Sha256::new(), 0u64, 0u64);
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    written += chunk.len() as u64;
                    if written > app.max_upload_bytes {
                        // Read on (to a point) so that the client, still sending, gets
                        // the answer rather than a reset connection.
                        let mut drained = 0u64;
                        while let Ok(Some(c)) = field.chunk().await {
                            drained += c.len() as u64;
                            if drained > DRAIN_BYTES {
                                break;
                            }
                        }
                        return Err(too_large(app));
                    }
                    if written - checked >= RECHECK_BYTES {
                        check_room(&app.out, 0)?;
                        checked = written;
                    }
                    hasher.update(&chunk);
                    out.write_all(&chunk)
                        .await
                        .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
                }
                out.flush()
                    .await
                    .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
                if written == 0 {
                    return Err(refuse(
                        StatusCode::BAD_REQUEST,
                        format!("{name}: the file is empty (0 bytes)"),
                    ));
                }
                let sha: String = hasher
                    .finalize()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                file = Some((path, sha));
            }
            "sidecar" => {
                let bytes = field.bytes().await.map_err(bad)?;
                if bytes.len() > MAX_SIDECAR_BYTES {
                    return Err(refuse(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "the sidecar is larger than 1 MiB",
                    ));
                }
                Sidecar::parse("sidecar", &bytes)
                    .map_err(|e| refuse(StatusCode::BAD_REQUEST, e.to_string()))?;
                sidecar = Some(bytes.to_vec());
            }
            // The page's form field; the header carried the same token.
            "csrf" => {}
            other => {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "unexpected form field {other:?}: send `file` and, optionally, `sidecar`"
                    ),
                ))
            }
        }
    }
    let (path, sha) =
        file.ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "no `file` field in the form"))?;
    Ok((path, sha, sidecar))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploaded_names_cannot_leave_their_folder() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(
            safe_name("C:\\talks\\My Talk (final).mp4"),
            "My_Talk__final_.mp4"
        );
        assert_eq!(safe_name(".hidden.mp4"), "hidden.mp4");
        assert_eq!(safe_name(".."), "upload");
        assert_eq!(safe_name(""), "upload");
    }

    #[test]
    fn free_space_is_measured() {
        let free = free_bytes(Path::new("/")).unwrap();
        assert!(free > 0);
        assert!(check_room(Path::new("/"), u64::MAX / 2).is_err());
    }
}
