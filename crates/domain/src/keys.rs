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

/// Where one plan of a video writes. A video's first plan is generation 0; every
/// replan (a sidecar that arrives or changes, a forced run) makes the next, and each
/// generation's jobs write under their own prefix, so a superseded job that is still
/// running can never write over the current plan's files, and an event about its
/// files names the generation it belongs to:
/// - generation 0: `media/<id>/…` and `transcripts/<id>/…`;
/// - generation N ≥ 1: `media/<id>/g<N>/…` and `transcripts/<id>/g<N>/…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanKeys {
    pub id: VideoId,
    pub generation: u32,
}

impl PlanKeys {
    pub fn new(id: &VideoId, generation: u32) -> PlanKeys {
        PlanKeys {
            id: id.clone(),
            generation,
        }
    }

    /// The plan and generation of a key under `media/` or `transcripts/`, if it is
    /// one of a video's.
    pub fn of_key(key: &str) -> Option<PlanKeys> {
        let rest = key
            .strip_prefix(MEDIA_PREFIX)
            .or_else(|| key.strip_prefix(TRANSCRIPTS_PREFIX))?;
        let mut parts = rest.split('/');
        let id = VideoId::parse(parts.next()?)?;
        let generation = match (parts.next(), parts.next()) {
            (Some(dir), Some(_)) => dir
                .strip_prefix('g')
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && !n.starts_with('0'))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            _ => 0,
        };
        Some(PlanKeys { id, generation })
    }

    /// `g<N>/`, or nothing for generation 0.
    fn generation_dir(&self) -> String {
        match self.generation {
            0 => String::new(),
            n => format!("g{n}/"),
        }
    }

    /// `media/<id>/` (generation 0) or `media/<id>/g<N>/`.
    pub fn media_dir(&self) -> String {
        format!("{MEDIA_PREFIX}{}/{}", self.id, self.generation_dir())
    }
    /// The MP4 rendition named `name` (e.g. `720p`): `…/video_720p.mp4`.
    pub fn rendition(&self, name: &str) -> String {
        self.media_dir() + &layout::rendition(name)
    }
    /// The HLS master playlist: `…/hls/video.m3u8`.
    pub fn hls_master(&self) -> String {
        self.media_dir() + &layout::hls_master()
    }
    /// One HLS variant playlist: `…/hls/video_720p.m3u8`.
    pub fn hls_variant(&self, name: &str) -> String {
        self.media_dir() + &layout::hls_variant(name)
    }
    /// `…/audio.mp3`
    pub fn audio_mp3(&self) -> String {
        self.media_dir() + &layout::mp3()
    }
    /// `…/preview.gif`
    pub fn preview_gif(&self) -> String {
        self.media_dir() + &layout::gif()
    }
    /// `…/frames/`
    pub fn frames_dir(&self) -> String {
        self.media_dir() + layout::FRAMES_DIR
    }
    /// Frame capture `index` (0-based), named as MediaConvert's frame capture group
    /// names them: `…/frames/frame.0000000.jpg`.
    pub fn frame_capture(&self, index: u32) -> String {
        self.media_dir() + &layout::frame_capture(index)
    }
    /// `…/cover.jpg`
    pub fn cover(&self) -> String {
        self.media_dir() + layout::COVER
    }
    /// `…/promo.mp4`
    pub fn promo(&self) -> String {
        self.media_dir() + &layout::promo()
    }
    /// `…/promo-vertical.mp4`
    pub fn promo_vertical(&self) -> String {
        self.media_dir() + &layout::promo_vertical()
    }
    /// `…/manifest.json`
    pub fn manifest(&self) -> String {
        self.media_dir() + layout::MANIFEST
    }
    /// `…/report.html`
    pub fn report(&self) -> String {
        self.media_dir() + layout::REPORT
    }
    /// `…/fade-black.png`: the overlay MediaConvert fades with.
    pub fn fade_overlay(&self) -> String {
        self.media_dir() + layout::FADE_OVERLAY
    }
    /// `…/<stem>`: a MediaConvert destination base (see [`crate::layout`]).
    pub fn media_stem(&self, stem: &str) -> String {
        self.media_dir() + stem
    }
    /// `transcripts/<id>/` (generation 0) or `transcripts/<id>/g<N>/`.
    pub fn transcripts_dir(&self) -> String {
        format!("{TRANSCRIPTS_PREFIX}{}/{}", self.id, self.generation_dir())
    }
    /// `…/transcript.json` (Amazon Transcribe's output shape).
    pub fn transcript_json(&self) -> String {
        self.transcript_file("transcript.json")
    }
    /// `…/<name>` for `transcript.txt`, `captions.srt`, `captions.vtt`.
    pub fn transcript_file(&self, name: &str) -> String {
        self.transcripts_dir() + name
    }
    /// The transcription job's name: `vidpipe-<id>` (generation 0) or
    /// `vidpipe-<id>-g<N>`. Amazon Transcribe job names are unique per account and
    /// Region (`[0-9a-zA-Z._-]+`, at most 200 characters), so a repeated start of one
    /// plan is refused instead of making a second job, and each replan has its own.
    pub fn transcription_job_name(&self) -> String {
        match self.generation {
            0 => format!("vidpipe-{}", self.id),
            n => format!("vidpipe-{}-g{n}", self.id),
        }
    }

    /// The plan a transcription job name names ([`PlanKeys::transcription_job_name`]).
    pub fn of_job_name(name: &str) -> Option<PlanKeys> {
        let rest = name.strip_prefix("vidpipe-")?;
        let (id, generation) = match rest.split_once("-g") {
            Some((id, n)) if !n.starts_with('0') => (id, n.parse().ok()?),
            Some(_) => return None,
            None => (rest, 0),
        };
        Some(PlanKeys {
            id: VideoId::parse(id)?,
            generation,
        })
    }
}

/// `transcripts/<id>/<name>`: a file of the video rather than of one of its plans
/// (a link's own subtitles, downloaded with it, kept across replans).
pub fn video_transcript_file(id: &VideoId, name: &str) -> String {
    format!("{TRANSCRIPTS_PREFIX}{id}/{name}")
}

/// The 0-based index in a frame capture key, if it is one.
pub fn frame_capture_index(key: &str) -> Option<u32> {
    layout::frame_capture_index(key.rsplit('/').next()?)
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
    fn output_keys_live_under_the_id_and_generation_and_parse_back() {
        let id = VideoId::parse("0123456789abcdef").unwrap();
        for generation in [0, 1, 12] {
            let plan = PlanKeys::new(&id, generation);
            for key in [
                plan.rendition("720p"),
                plan.hls_master(),
                plan.audio_mp3(),
                plan.frame_capture(7),
                plan.cover(),
                plan.transcript_json(),
            ] {
                assert!(!key.starts_with(UPLOADS_PREFIX));
                assert_eq!(video_id_in(&key), Some(id.clone()), "{key}");
                assert_eq!(PlanKeys::of_key(&key), Some(plan.clone()), "{key}");
            }
            let name = plan.transcription_job_name();
            assert_eq!(PlanKeys::of_job_name(&name), Some(plan.clone()), "{name}");
            assert_eq!(frame_capture_index(&plan.frame_capture(12)), Some(12));
        }
        assert_eq!(
            PlanKeys::new(&id, 3).rendition("720p"),
            "media/0123456789abcdef/g3/video_720p.mp4"
        );
        assert_eq!(
            PlanKeys::new(&id, 0).transcript_json(),
            "transcripts/0123456789abcdef/transcript.json"
        );
        // Only `g<N>` folders name a generation; the layout's own folders do not.
        for gen0 in [
            "media/0123456789abcdef/hls/video.m3u8",
            "media/0123456789abcdef/g0/x",
        ] {
            assert_eq!(PlanKeys::of_key(gen0).unwrap().generation, 0, "{gen0}");
        }
        assert_eq!(PlanKeys::of_job_name("vidpipe-0123456789abcdef-g01"), None);
        assert_eq!(PlanKeys::of_job_name("other-0123456789abcdef"), None);
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
