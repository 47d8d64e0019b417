//! Object keys and video ids. Everything a video produces lives under its id, outside
//! `uploads/`, so that no output can re-trigger ingest. Output names come from the one
//! table in [`crate::layout`], so both modes leave the same keys.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::layout;

/// Where uploads land; the only prefix that triggers ingest.
pub const UPLOADS_PREFIX: &str = "uploads/";
pub const MEDIA_PREFIX: &str = "media/";
pub const TRANSCRIPTS_PREFIX: &str = "transcripts/";

/// A video's id: 16 lowercase hex characters (64 bits of SHA-256 of its identity).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VideoId(String);

/// What makes an upload the same upload when its event arrives again.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadIdentity<'a> {
    /// Locally: the SHA-256 of the content (hex), so the same file run again is the
    /// same video whatever its name.
    Content { sha256_hex: &'a str },
    /// In S3: bucket, key and version id (or ETag when the bucket is unversioned).
    Object {
        bucket: &'a str,
        key: &'a str,
        version_or_etag: &'a str,
    },
}

impl VideoId {
    /// Derives the id from an upload's identity (stable across runs and releases).
    pub fn derive(identity: &UploadIdentity<'_>) -> VideoId {
        let text = match identity {
            UploadIdentity::Content { sha256_hex } => format!("content:sha256:{sha256_hex}"),
            UploadIdentity::Object {
                bucket,
                key,
                version_or_etag,
            } => {
                format!("s3://{bucket}/{key}#{version_or_etag}")
            }
        };
        let digest = Sha256::digest(text.as_bytes());
        VideoId(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
    }

    /// Parses an id as it appears in keys and on the command line.
    pub fn parse(text: &str) -> Option<VideoId> {
        (text.len() == 16
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| VideoId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VideoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a key is refused.
pub fn unsafe_key_reason(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("empty key")
    } else if key.starts_with('/') {
        Some("key starts with '/'")
    } else if key.split('/').any(|part| part == ".." || part == ".") {
        Some("key has a '.' or '..' path segment")
    } else if key.contains('\0') || key.contains('\\') {
        Some("key has a NUL or backslash")
    } else {
        None
    }
}

/// The sidecar key beside an upload: `uploads/talk.mp4` → `uploads/talk.json`.
pub fn sidecar_key_for(upload_key: &str) -> String {
    let (dir, file) = upload_key.rsplit_once('/').unwrap_or(("", upload_key));
    let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem);
    if dir.is_empty() {
        format!("{stem}.json")
    } else {
        format!("{dir}/{stem}.json")
    }
}

/// The extension of a key's file name, lowercased (`"mp4"`), if any.
pub fn extension_of(key: &str) -> Option<String> {
    let file = key.rsplit('/').next().unwrap_or(key);
    file.rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .filter(|e| !e.is_empty())
}

/// `media/<id>/`
pub fn media_dir(id: &VideoId) -> String {
    format!("{MEDIA_PREFIX}{id}/")
}
/// The MP4 rendition named `name` (e.g. `720p`): `media/<id>/video_720p.mp4`.
pub fn rendition(id: &VideoId, name: &str) -> String {
    media_dir(id) + &layout::rendition(name)
}
/// The HLS master playlist: `media/<id>/hls/video.m3u8`.
pub fn hls_master(id: &VideoId) -> String {
    media_dir(id) + &layout::hls_master()
}
/// One HLS variant playlist: `media/<id>/hls/video_720p.m3u8`.
pub fn hls_variant(id: &VideoId, name: &str) -> String {
    media_dir(id) + &layout::hls_variant(name)
}
/// `media/<id>/audio.mp3`
pub fn audio_mp3(id: &VideoId) -> String {
    media_dir(id) + &layout::mp3()
}
/// `media/<id>/preview.gif`
pub fn preview_gif(id: &VideoId) -> String {
    media_dir(id) + &layout::gif()
}
/// `media/<id>/frames/`
pub fn frames_dir(id: &VideoId) -> String {
    media_dir(id) + layout::FRAMES_DIR
}
/// Frame capture `index` (0-based), named as MediaConvert's frame capture group names
/// them: `media/<id>/frames/frame.0000000.jpg`.
pub fn frame_capture(id: &VideoId, index: u32) -> String {
    media_dir(id) + &layout::frame_capture(index)
}
/// The 0-based index in a frame capture key, if it is one.
pub fn frame_capture_index(key: &str) -> Option<u32> {
    layout::frame_capture_index(key.rsplit('/').next()?)
}
/// `media/<id>/cover.jpg`
pub fn cover(id: &VideoId) -> String {
    media_dir(id) + layout::COVER
}
/// `media/<id>/promo.mp4`
pub fn promo(id: &VideoId) -> String {
    media_dir(id) + &layout::promo()
}
/// `media/<id>/manifest.json`
pub fn manifest(id: &VideoId) -> String {
    media_dir(id) + layout::MANIFEST
}
/// `media/<id>/report.html`
pub fn report(id: &VideoId) -> String {
    media_dir(id) + layout::REPORT
}
/// `media/<id>/fade-black.png`: the overlay MediaConvert fades with.
pub fn fade_overlay(id: &VideoId) -> String {
    media_dir(id) + layout::FADE_OVERLAY
}
/// `media/<id>/<stem>`: a MediaConvert destination base (see [`crate::layout`]).
pub fn media_stem(id: &VideoId, stem: &str) -> String {
    media_dir(id) + stem
}
/// `transcripts/<id>/transcript.json` (Amazon Transcribe's output shape).
pub fn transcript_json(id: &VideoId) -> String {
    format!("{TRANSCRIPTS_PREFIX}{id}/transcript.json")
}
/// `transcripts/<id>/<name>` for `transcript.txt`, `captions.srt`, `captions.vtt`.
pub fn transcript_file(id: &VideoId, name: &str) -> String {
    format!("{TRANSCRIPTS_PREFIX}{id}/{name}")
}
/// The transcription job's name: `vidpipe-<id>`. Amazon Transcribe job names are
/// unique per account and Region (`[0-9a-zA-Z._-]+`, at most 200 characters), so a
/// repeated start for the same video is refused instead of making a second job.
pub fn transcription_job_name(id: &VideoId) -> String {
    format!("vidpipe-{id}")
}

/// The video id in a key under `media/<id>/` or `transcripts/<id>/`.
pub fn video_id_in(key: &str) -> Option<VideoId> {
    let rest = key
        .strip_prefix(MEDIA_PREFIX)
        .or_else(|| key.strip_prefix(TRANSCRIPTS_PREFIX))?;
    VideoId::parse(rest.split('/').next()?)
}

/// The path from the folder `from_dir` (a key ending in `/`) to `key`, as keys are
/// paths in S3: `media/<id>/` → `media/<id>/hls/x.m3u8` is `hls/x.m3u8`, and
/// `transcripts/<id>/t.json` is `../../transcripts/<id>/t.json`.
pub fn relative_key_path(from_dir: &str, key: &str) -> String {
    let from: Vec<&str> = from_dir
        .trim_end_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let to: Vec<&str> = key.split('/').collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(&to[common..]);
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_depend_on_identity() {
        let a = VideoId::derive(&UploadIdentity::Content { sha256_hex: "ab" });
        assert_eq!(
            a,
            VideoId::derive(&UploadIdentity::Content { sha256_hex: "ab" })
        );
        assert_ne!(
            a,
            VideoId::derive(&UploadIdentity::Content { sha256_hex: "ac" })
        );
        let o = VideoId::derive(&UploadIdentity::Object {
            bucket: "b",
            key: "uploads/x.mp4",
            version_or_etag: "v1",
        });
        assert_ne!(
            o,
            VideoId::derive(&UploadIdentity::Object {
                bucket: "b",
                key: "uploads/x.mp4",
                version_or_etag: "v2"
            })
        );
        assert_eq!(a.as_str().len(), 16);
        assert_eq!(VideoId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(VideoId::parse("XYZ"), None);
    }

    #[test]
    fn output_keys_live_under_the_id_and_parse_back() {
        let id = VideoId::parse("0123456789abcdef").unwrap();
        for key in [
            rendition(&id, "720p"),
            hls_master(&id),
            audio_mp3(&id),
            frame_capture(&id, 7),
            cover(&id),
        ] {
            assert!(!key.starts_with(UPLOADS_PREFIX));
            assert_eq!(video_id_in(&key), Some(id.clone()), "{key}");
        }
        assert_eq!(frame_capture_index(&frame_capture(&id, 12)), Some(12));
        assert_eq!(frame_capture_index("media/x/frames/other.jpg"), None);
    }

    #[test]
    fn sidecar_and_extension_follow_the_upload_name() {
        assert_eq!(
            sidecar_key_for("uploads/Marketing in 2018: What to expect?.mp4"),
            "uploads/Marketing in 2018: What to expect?.json"
        );
        assert_eq!(sidecar_key_for("uploads/a.b.MOV"), "uploads/a.b.json");
        assert_eq!(extension_of("uploads/a.b.MOV").as_deref(), Some("mov"));
        assert_eq!(extension_of("uploads/noext"), None);
    }

    #[test]
    fn unsafe_keys_are_named() {
        assert!(unsafe_key_reason("uploads/../etc/passwd").is_some());
        assert!(unsafe_key_reason("/uploads/a.mp4").is_some());
        assert!(unsafe_key_reason("uploads/ok ünïcode?.mp4").is_none());
    }

    #[test]
    fn key_paths_are_relative_like_file_paths() {
        assert_eq!(
            relative_key_path("media/ab/", "media/ab/hls/x.m3u8"),
            "hls/x.m3u8"
        );
        assert_eq!(
            relative_key_path("media/ab/", "transcripts/ab/t.json"),
            "../../transcripts/ab/t.json"
        );
        assert_eq!(
            relative_key_path("media/ab", "media/ab/cover.jpg"),
            "cover.jpg"
        );
    }
}
