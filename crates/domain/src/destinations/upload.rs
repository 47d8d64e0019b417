//! The port the publish stage moves a destination through, one step at a time: start
//! an upload session, send the file from the platform's own offset, ask whether the
//! platform has finished processing, and the finishing touches (thumbnail, captions,
//! playlist). `vidpipe-platforms` implements it over each platform's HTTP API; the
//! stage records every step's result before the next, so a crash, a replayed event or
//! a timeout goes on from the record instead of uploading twice.

use std::future::Future;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::answers::{self, Answer, Verdict};
use super::{DestinationRequest, Platform};
use crate::record::{OutputKind, VideoRecord};

/// Which file of the video a destination gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cut {
    /// The video: the top rendition's progressive MP4.
    #[default]
    Full,
    /// The promo's vertical 9:16 cut (`promo-vertical.mp4`), for Shorts and Reels.
    Vertical,
}

/// A finishing step after the upload, each recorded once made so that none is made
/// twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Extra {
    /// The cover as the video's thumbnail (YouTube `thumbnails.set`; Vimeo's active
    /// picture).
    Thumbnail,
    /// The transcript's captions (YouTube `captions.insert`; a Vimeo text track; a
    /// Facebook video's captions).
    Captions,
    /// YouTube `playlistItems.insert` into the destination's playlist.
    Playlist,
}

impl Extra {
    pub fn as_str(self) -> &'static str {
        match self {
            Extra::Thumbnail => "thumbnail",
            Extra::Captions => "captions",
            Extra::Playlist => "playlist",
        }
    }
}

/// What is uploaded to one destination: a file of the store and the words that go
/// with it.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadItem {
    pub cut: Cut,
    /// The file's key in the store (`media/<id>/video_1080p.mp4`).
    pub key: String,
    /// Its name, as some platforms show it (`talk.mp4`).
    pub file_name: String,
    /// Length in bytes, as recorded when the file was measured.
    pub bytes: u64,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    /// The cover (JPEG) for the thumbnail, when there is one.
    pub cover_key: Option<String>,
    /// WebVTT and SubRip captions, when there is a transcript.
    pub captions_vtt_key: Option<String>,
    pub captions_srt_key: Option<String>,
    /// The transcript's language (`en-US`), when known.
    pub language: Option<String>,
}

impl UploadItem {
    /// The file `cut` of `video` and its words, or why there is none to upload (the
    /// vertical cut was not made; no progressive rendition).
    ///
    /// # Errors
    /// A sentence naming the file that is missing.
    pub fn of(video: &VideoRecord, cut: Cut) -> Result<UploadItem, String> {
        let keys = video.keys();
        let file = match cut {
            Cut::Full => video
                .outputs_of(OutputKind::Rendition)
                .max_by_key(|o| o.height_px.unwrap_or(0))
                .ok_or("the video has no MP4 rendition to upload")?,
            Cut::Vertical => video
                .outputs_of(OutputKind::Promo)
                .find(|o| o.key == keys.promo_vertical())
                .ok_or("the vertical cut of the promo was not made (the video has no promo)")?,
        };
        let speech = video.speech.is_some() && cut == Cut::Full;
        let title = video.title();
        Ok(UploadItem {
            cut,
            key: file.key.clone(),
            file_name: file.key.rsplit('/').next().unwrap_or(&file.key).to_string(),
            bytes: file.bytes,
            title: match cut {
                Cut::Full => title,
                Cut::Vertical => format!("{title} (short)"),
            },
            description: video.description.clone().unwrap_or_default(),
            tags: video.hashtags.clone(),
            cover_key: video.cover_key.clone().filter(|_| cut == Cut::Full),
            captions_vtt_key: speech.then(|| keys.transcript_file("captions.vtt")),
            captions_srt_key: speech.then(|| keys.transcript_file("captions.srt")),
            language: video.speech.as_ref().and_then(|s| s.language_code.clone()),
        })
    }

    /// The finishing steps `request` calls for with this item, in the order they are
    /// made. The vertical cut gets none: the cover and captions are the full video's.
    pub fn extras(&self, request: &DestinationRequest) -> Vec<Extra> {
        if self.cut == Cut::Vertical {
            return Vec::new();
        }
        let mut extras = Vec::new();
        if self.cover_key.is_some() && request.to != Platform::Facebook {
            extras.push(Extra::Thumbnail);
        }
        if self.captions_vtt_key.is_some() {
            extras.push(Extra::Captions);
        }
        if request.playlist.is_some() && request.to == Platform::YouTube {
            extras.push(Extra::Playlist);
        }
        extras
    }
}

/// How far a send got.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    /// Every byte is in: the platform's id of the video.
    Complete { platform_id: String },
    /// Stopped at the caller's deadline (a Lambda near its timeout) with `offset`
    /// bytes confirmed; the next run resumes there.
    Paused { offset: u64 },
    /// Every byte is in, but the video is not made yet: record `session` (which now
    /// carries what finishing needs, Facebook's file handle) and send again to
    /// finish, so that a refusal of the finishing request never sends the bytes
    /// twice.
    Transferred { session: String, offset: u64 },
}

/// Whether the platform has finished with an uploaded video.
#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    /// Watchable at `url`.
    Ready { url: String },
    /// Still processing: ask again later.
    Processing,
    /// The platform could not process it (a corrupt file, a refused format).
    Failed { reason: String },
}

/// Why a step did not happen.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadFailure {
    /// The platform answered no: its status, headers and body, for
    /// [`answers::classify`].
    Answered {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// No answer (the connection failed or dropped): try again from the platform's
    /// offset.
    Transport(String),
    /// The upload session is gone: start a new one.
    SessionExpired,
    /// The platform said something its protocol does not allow.
    Protocol(String),
    /// The file could not be read.
    Unreadable(String),
    /// No credentials for the platform in this deployment.
    NotConfigured(String),
}

/// After this many protocol surprises in a row, a destination fails.
pub const MAX_PROTOCOL_ATTEMPTS: u32 = 5;

impl UploadFailure {
    /// What to do about it at `now_unix_s` on the `attempt`-th try; `None` for an
    /// expired session (start again now).
    pub fn verdict(&self, platform: Platform, now_unix_s: i64, attempt: u32) -> Option<Verdict> {
        let retry = |reason: String| Verdict::Retry {
            at_unix_s: answers::backoff(now_unix_s, attempt),
            reason,
        };
        Some(match self {
            UploadFailure::Answered {
                status,
                headers,
                body,
            } => {
                let answer = Answer {
                    status: *status,
                    headers: headers
                        .iter()
                        .map(|(n, v)| (n.as_str(), v.as_str()))
                        .collect(),
                    body,
                };
                answers::classify(platform, &answer, now_unix_s, attempt)
            }
            UploadFailure::Transport(why) => {
                retry(format!("no answer from {}: {why}", platform.name()))
            }
            UploadFailure::SessionExpired => return None,
            UploadFailure::Protocol(why) if attempt < MAX_PROTOCOL_ATTEMPTS => {
                retry(format!("{}: {why}", platform.name()))
            }
            UploadFailure::Protocol(why) => Verdict::Permanent {
                reason: format!("{}: {why} ({attempt} times in a row)", platform.name()),
            },
            UploadFailure::Unreadable(why) => Verdict::Permanent {
                reason: format!("the file to upload cannot be read: {why}"),
            },
            UploadFailure::NotConfigured(why) => Verdict::NeedsAuth {
                reason: why.clone(),
            },
        })
    }
}

/// The platforms, as one deployment reaches them. Each method is one step; none
/// retries on its own (the stage records the verdict and comes back).
pub trait Platforms: Send + Sync {
    /// Makes an upload session for `item` (YouTube's session URI, Vimeo's video and
    /// upload link, Facebook's `upload:` id) and returns it as one string, which the
    /// stage records before any byte is sent. Creating the session sends none.
    fn start(
        &self,
        request: &DestinationRequest,
        item: &UploadItem,
    ) -> impl Future<Output = Result<String, UploadFailure>> + Send;

    /// Sends the file from the offset the platform confirms for `session` to the end
    /// (or until `stop_at`), in chunks of the size the platform requires, reading the
    /// file chunk by chunk.
    fn send(
        &self,
        request: &DestinationRequest,
        item: &UploadItem,
        session: &str,
        stop_at: Option<Instant>,
    ) -> impl Future<Output = Result<Sent, UploadFailure>> + Send;

    /// Whether the platform has finished processing the video `platform_id`.
    fn status(
        &self,
        request: &DestinationRequest,
        platform_id: &str,
    ) -> impl Future<Output = Result<Readiness, UploadFailure>> + Send;

    /// Makes one finishing step for the uploaded video `platform_id`.
    fn extra(
        &self,
        request: &DestinationRequest,
        item: &UploadItem,
        platform_id: &str,
        extra: Extra,
    ) -> impl Future<Output = Result<(), UploadFailure>> + Send;
}
