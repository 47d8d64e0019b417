//! The events that drive the stages, and the routing rules that say which stage takes
//! which event. `template.yaml` wires the same rules into S3 notifications, SQS and
//! EventBridge; the local router applies them in-process.

use serde::{Deserialize, Serialize};

use crate::keys::{self, VideoId};
use crate::record::{OutputFile, Stage};

/// An object was written (S3's `ObjectCreated:*`). `key` is decoded (S3 sends it
/// URL-encoded with spaces as `+`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectCreated {
    pub bucket: String,
    pub key: String,
    pub size_bytes: u64,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub version_id: Option<String>,
}

/// A transcode job changed state (MediaConvert's "Job State Change", or the local
/// transcoder finishing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStateChange {
    pub video_id: VideoId,
    pub job_id: String,
    pub outcome: JobOutcome,
    /// Which of the video's jobs this is.
    #[serde(default)]
    pub job: JobKind,
    /// The generation of the plan the job was made for (MediaConvert
    /// `UserMetadata["generation"]`; absent on jobs made before generations: 0).
    #[serde(default)]
    pub generation: u32,
}

/// How a finished job ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "UPPERCASE")]
pub enum JobOutcome {
    Complete { outputs: Vec<OutputFile> },
    Error { code: Option<i64>, message: String },
}

/// The jobs a video may have. Locally one ffmpeg run makes the renditions and the GIF;
/// MediaConvert clips per input, not per output, so in the cloud the GIF's window is a
/// job of its own, as is the promo clip's list of segments.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    /// Renditions, HLS, MP3 and frame captures (and locally the GIF).
    #[default]
    Renditions,
    /// The promo clip.
    Promo,
    /// The animated GIF preview alone (cloud).
    Gif,
}

impl JobKind {
    /// The name carried in a job's metadata (MediaConvert `UserMetadata["job"]`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Renditions => "renditions",
            JobKind::Promo => "promo",
            JobKind::Gif => "gif",
        }
    }

    /// The kind a metadata name names; `None` for a name vidpipe does not give.
    pub fn parse(name: &str) -> Option<JobKind> {
        [JobKind::Renditions, JobKind::Promo, JobKind::Gif]
            .into_iter()
            .find(|k| k.as_str() == name)
    }
}

/// Messages between stages (SQS bodies in the cloud).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum PipelineMessage {
    /// Ingest made the plan; transcode it.
    TranscodeRequested {
        video_id: VideoId,
    },
    JobStateChanged(JobStateChange),
    /// transcribe-store chose the promo segments; render the promo clip.
    PromoRequested {
        video_id: VideoId,
    },
    /// The renditions job's outputs are recorded, its frame captures with them:
    /// choose the cover.
    CoverRequested {
        video_id: VideoId,
    },
    /// A stage recorded its part; publish checks whether the video is complete.
    PartRecorded {
        video_id: VideoId,
        stage: Stage,
    },
    /// The transcription job ended FAILED (Amazon Transcribe's job state change):
    /// no transcript will come, so transcribe-store records the failure.
    TranscriptionFailed {
        video_id: VideoId,
        job_name: String,
        /// Transcribe's `FailureReason`.
        reason: String,
    },
}

impl PipelineMessage {
    pub fn video_id(&self) -> &VideoId {
        match self {
            PipelineMessage::TranscodeRequested { video_id }
            | PipelineMessage::PromoRequested { video_id }
            | PipelineMessage::CoverRequested { video_id }
            | PipelineMessage::PartRecorded { video_id, .. }
            | PipelineMessage::TranscriptionFailed { video_id, .. } => video_id,
            PipelineMessage::JobStateChanged(change) => &change.video_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PipelineEvent {
    ObjectCreated(ObjectCreated),
    Message(PipelineMessage),
}

/// The upload extensions ingest takes as video.
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "mts", "m2ts", "wmv", "flv",
    "3gp", "mxf", "y4m",
];
/// The upload extensions ingest takes as audio only.
pub const AUDIO_EXTENSIONS: &[&str] = &["wav", "mp3", "m4a", "aac", "flac", "ogg", "opus"];

/// Which stage takes an event, if any. The rules, as in `template.yaml`:
/// - object created under `uploads/` → ingest (videos, and sidecars `*.json`);
/// - `media/<id>/audio.mp3` created → transcribe-start;
/// - `transcripts/<id>/transcript.json` created → transcribe-store;
/// - transcode requested, promo requested, and job state changes → transcode;
/// - cover requested (the renditions job's outputs recorded) → cover;
/// - part recorded → publish;
/// - a transcription job failed (Transcribe's state change) → transcribe-store.
///
/// (`<id>/` stands for the plan's folder, `<id>/g<N>/` after a replan: see
/// [`keys::PlanKeys`].) Anything else (renditions, HLS segments, frame captures, the
/// cover, the manifest) triggers nothing, which is what keeps outputs from looping
/// back into the pipeline.
pub fn route(event: &PipelineEvent) -> Option<Stage> {
    match event {
        PipelineEvent::Message(PipelineMessage::TranscodeRequested { .. })
        | PipelineEvent::Message(PipelineMessage::PromoRequested { .. })
        | PipelineEvent::Message(PipelineMessage::JobStateChanged(_)) => Some(Stage::Transcode),
        PipelineEvent::Message(PipelineMessage::PartRecorded { .. }) => Some(Stage::Publish),
        PipelineEvent::Message(PipelineMessage::CoverRequested { .. }) => Some(Stage::Cover),
        PipelineEvent::Message(PipelineMessage::TranscriptionFailed { .. }) => {
            Some(Stage::TranscribeStore)
        }
        PipelineEvent::ObjectCreated(o) => route_key(&o.key),
    }
}

/// Which stage takes an object created at `key` ([`route`]'s rule for objects).
pub fn route_key(key: &str) -> Option<Stage> {
    if key.starts_with(keys::UPLOADS_PREFIX) {
        return Some(Stage::Ingest);
    }
    let plan = keys::PlanKeys::of_key(key)?;
    if key == plan.audio_mp3() {
        Some(Stage::TranscribeStart)
    } else if key == plan.transcript_json() {
        Some(Stage::TranscribeStore)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created(key: &str) -> PipelineEvent {
        PipelineEvent::ObjectCreated(ObjectCreated {
            bucket: "b".into(),
            key: key.into(),
            size_bytes: 1,
            etag: None,
            version_id: None,
        })
    }

    #[test]
    fn routes_follow_the_template_rules() {
        let id = VideoId::parse("0123456789abcdef").unwrap();
        assert_eq!(route(&created("uploads/talk.mp4")), Some(Stage::Ingest));
        assert_eq!(route(&created("uploads/talk.json")), Some(Stage::Ingest));
        assert_eq!(
            route(&created(&keys::PlanKeys::new(&id, 0).audio_mp3())),
            Some(Stage::TranscribeStart)
        );
        assert_eq!(
            route(&created(&format!("transcripts/{id}/transcript.json"))),
            Some(Stage::TranscribeStore)
        );
        let replanned = keys::PlanKeys::new(&id, 2);
        assert_eq!(
            route(&created(&replanned.audio_mp3())),
            Some(Stage::TranscribeStart)
        );
        assert_eq!(
            route(&created(&replanned.transcript_json())),
            Some(Stage::TranscribeStore)
        );
        let cover = PipelineMessage::CoverRequested {
            video_id: id.clone(),
        };
        assert_eq!(route(&PipelineEvent::Message(cover)), Some(Stage::Cover));
        for quiet in [
            keys::PlanKeys::new(&id, 0).frame_capture(3),
            replanned.frame_capture(3),
            keys::PlanKeys::new(&id, 0).rendition("720p"),
            keys::PlanKeys::new(&id, 0).cover(),
            keys::PlanKeys::new(&id, 0).hls_master(),
            keys::PlanKeys::new(&id, 0).manifest(),
            "elsewhere/x.mp4".into(),
        ] {
            assert_eq!(route(&created(&quiet)), None, "{quiet}");
        }
        let msg = PipelineEvent::Message(PipelineMessage::PartRecorded {
            video_id: id.clone(),
            stage: Stage::Cover,
        });
        assert_eq!(route(&msg), Some(Stage::Publish));
        assert_eq!(
            route(&PipelineEvent::Message(
                PipelineMessage::TranscodeRequested { video_id: id }
            )),
            Some(Stage::Transcode)
        );
    }

    #[test]
    fn messages_round_trip_as_json() {
        let id = VideoId::parse("0123456789abcdef").unwrap();
        let m = PipelineMessage::JobStateChanged(JobStateChange {
            video_id: id,
            job_id: "j".into(),
            outcome: JobOutcome::Error {
                code: Some(1010),
                message: "bad input".into(),
            },
            job: JobKind::Renditions,
            generation: 2,
        });
        let text = serde_json::to_string(&m).unwrap();
        assert!(
            text.contains("\"type\":\"job-state-changed\"")
                && text.contains("\"status\":\"ERROR\""),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<PipelineMessage>(&text).unwrap(), m);
    }
}
