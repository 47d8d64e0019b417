//! The record of one video: what was asked, what each stage did, what was produced.
//! SQLite holds it locally and DynamoDB in the cloud; both update it conditionally on
//! `version` (optimistic concurrency), so two deliveries of one event cannot both win.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::cover::FrameScore;
use crate::keys::VideoId;
use crate::media::MediaInfo;
use crate::plan::Plan;
use crate::sidecar::Sidecar;

/// The pipeline's stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Ingest,
    Transcode,
    TranscribeStart,
    TranscribeStore,
    /// Chooses the cover from the frame captures (in the cloud, the `rekognition`
    /// function runs it). Records written before the rename say `rekognition`.
    #[serde(alias = "rekognition")]
    Cover,
    Publish,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Ingest,
        Stage::Transcode,
        Stage::TranscribeStart,
        Stage::TranscribeStore,
        Stage::Cover,
        Stage::Publish,
    ];

    /// The name used in logs, records and the template (`transcribe-start`).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Ingest => "ingest",
            Stage::Transcode => "transcode",
            Stage::TranscribeStart => "transcribe-start",
            Stage::TranscribeStore => "transcribe-store",
            Stage::Cover => "cover",
            Stage::Publish => "publish",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    Pending,
    Running,
    Done,
    Skipped,
    Failed,
}

impl StageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Pending => "pending",
            StageStatus::Running => "running",
            StageStatus::Done => "done",
            StageStatus::Skipped => "skipped",
            StageStatus::Failed => "failed",
        }
    }
    /// Done or skipped: nothing more will happen in this stage.
    pub fn is_settled(self) -> bool {
        matches!(self, StageStatus::Done | StageStatus::Skipped)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageState {
    pub status: StageStatus,
    /// Why it was skipped or failed, or what it is waiting for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub updated_at_unix_s: u64,
    /// Who holds a running stage, and until when: set by the claim; none while a
    /// job outside vidpipe holds it (a MediaConvert job, until its state change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<Lease>,
}

/// A claim's lease: an invocation or process that dies holding a stage leaves it
/// running, and once the lease has expired the stage may be claimed again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Who claimed it, for people and for the local check of dead runs
    /// (`pid 4242 on host`, or a Lambda function's name and its execution
    /// environment's log stream).
    pub holder: String,
    /// Seconds since the Unix epoch after which the claim may be taken again.
    pub expires_unix_s: u64,
}

impl Lease {
    /// Whether the lease has run out at `now_unix_s`.
    pub fn expired_at(&self, now_unix_s: u64) -> bool {
        self.expires_unix_s <= now_unix_s
    }
}

/// The video's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoStatus {
    Processing,
    Published,
    Failed,
}

impl VideoStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            VideoStatus::Processing => "processing",
            VideoStatus::Published => "published",
            VideoStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    Rendition,
    HlsMaster,
    HlsVariant,
    Mp3,
    Gif,
    FrameCapture,
    Cover,
    Promo,
}

/// One produced file, measured after it was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFile {
    pub key: String,
    pub kind: OutputKind,
    /// Rendition name (`720p`) where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Codecs, video first (`h264+aac`, `mp3`, `gif`).
    pub codec: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width_px: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height_px: Option<u32>,
    /// Overall bitrate in bits per second, as measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitrate_bps: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    pub bytes: u64,
}

/// The transcript's key and what was derived from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speech {
    /// `transcripts/<id>/transcript.json`
    pub transcript_key: String,
    pub word_count: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
    /// 0–1, the mean of the words'.
    pub mean_confidence: f64,
    /// The transcriber doubts it (another language, noise): no tags are taken from it.
    pub low_confidence: bool,
    /// Key phrases, best first (none from a low-confidence or empty transcript).
    pub keywords: Vec<String>,
    /// The extractive summary's sentences.
    pub summary: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promo: Option<crate::understanding::PromoPlan>,
}

/// A failure as recorded on the video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedFailure {
    pub stage: Stage,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoRecord {
    pub id: VideoId,
    /// The upload's key (`uploads/talk.mp4`).
    pub source_key: String,
    /// Where the upload came from, for people (a local path, `s3://bucket/key`).
    pub source: String,
    /// Bumped by every successful write; a write names the version it read.
    pub version: u64,
    pub status: VideoStatus,
    pub stages: BTreeMap<Stage, StageState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar: Option<Sidecar>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The plan's generation: 0 for the first plan, one more for each replan. Jobs,
    /// job names and output prefixes carry it ([`crate::keys::PlanKeys`]), and an
    /// event of another generation is ignored.
    #[serde(default)]
    pub generation: u32,
    /// Jobs of superseded plans that may still be running: the transcode stage
    /// cancels them before it submits the current plan's job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub superseded_jobs: Vec<String>,
    #[serde(default)]
    pub outputs: Vec<OutputFile>,
    #[serde(default)]
    pub frames: Vec<FrameScore>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cover_key: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub links: Vec<String>,
    /// What transcribe-store found in the transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech: Option<Speech>,
    /// Hashtags and description, composed when publishing.
    #[serde(default)]
    pub hashtags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The promo clip's rendering (by the transcode stage), once there is a promo plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promo_render: Option<StageState>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<RecordedFailure>,
    /// The talk-sheet row the video was matched to at ingest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub talk: Option<crate::talks::TalkRef>,
    /// Emails and sheet writes for the published video, recorded before they are made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbox: Vec<crate::outbox::Delivery>,
    /// The platforms the video is published to, each with its own state
    /// ([`crate::destinations::state`]); empty when none is configured.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<crate::destinations::state::Destination>,
    pub created_at_unix_s: u64,
    pub updated_at_unix_s: u64,
}

/// Seconds since the Unix epoch, now.
pub fn now_unix_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl VideoRecord {
    /// A new record with every stage pending.
    pub fn new(id: VideoId, source_key: &str, source: &str) -> VideoRecord {
        let now = now_unix_s();
        VideoRecord {
            id,
            source_key: source_key.to_string(),
            source: source.to_string(),
            version: 0,
            status: VideoStatus::Processing,
            stages: Stage::ALL
                .iter()
                .map(|s| {
                    (
                        *s,
                        StageState {
                            status: StageStatus::Pending,
                            detail: None,
                            updated_at_unix_s: now,
                            lease: None,
                        },
                    )
                })
                .collect(),
            media: None,
            sidecar: None,
            plan: None,
            job_id: None,
            generation: 0,
            superseded_jobs: Vec::new(),
            outputs: Vec::new(),
            frames: Vec::new(),
            cover_key: None,
            labels: Vec::new(),
            links: Vec::new(),
            talk: None,
            outbox: Vec::new(),
            destinations: Vec::new(),
            speech: None,
            hashtags: Vec::new(),
            description: None,
            promo_render: None,
            failure: None,
            created_at_unix_s: now,
            updated_at_unix_s: now,
        }
    }

    /// Where the current plan writes.
    pub fn keys(&self) -> crate::keys::PlanKeys {
        crate::keys::PlanKeys::new(&self.id, self.generation)
    }

    pub fn stage(&self, stage: Stage) -> StageStatus {
        self.stages
            .get(&stage)
            .map_or(StageStatus::Pending, |s| s.status)
    }

    pub fn set_stage(&mut self, stage: Stage, status: StageStatus, detail: Option<String>) {
        self.stages.insert(
            stage,
            StageState {
                status,
                detail,
                updated_at_unix_s: now_unix_s(),
                lease: None,
            },
        );
    }

    /// Marks `stage` running, held by `lease`.
    pub fn claim_stage(&mut self, stage: Stage, lease: Lease) {
        self.set_stage(stage, StageStatus::Running, None);
        if let Some(state) = self.stages.get_mut(&stage) {
            state.lease = Some(lease);
        }
    }

    /// The lease of `stage` when it is running, else `None`.
    pub fn lease(&self, stage: Stage) -> Option<&Lease> {
        self.stages
            .get(&stage)
            .filter(|s| s.status == StageStatus::Running)
            .and_then(|s| s.lease.as_ref())
    }

    /// Whether `stage` may be claimed at `now_unix_s`: pending, or running under a
    /// lease that has expired (its holder died or timed out).
    pub fn claimable(&self, stage: Stage, now_unix_s: u64) -> bool {
        match self.stage(stage) {
            StageStatus::Pending => true,
            StageStatus::Running => self.lease(stage).is_some_and(|l| l.expired_at(now_unix_s)),
            _ => false,
        }
    }

    /// Records a failure: the stage and the video are failed, with the reason.
    pub fn fail(&mut self, stage: Stage, reason: &str) {
        self.set_stage(stage, StageStatus::Failed, Some(reason.to_string()));
        self.status = VideoStatus::Failed;
        self.failure = Some(RecordedFailure {
            stage,
            reason: reason.to_string(),
        });
    }

    /// The stages that must be settled before publishing and are not yet.
    /// A promo clip being rendered counts as the transcode stage not being settled.
    pub fn unsettled_parts(&self) -> Vec<Stage> {
        let promo_open = self
            .promo_render
            .as_ref()
            .is_some_and(|p| matches!(p.status, StageStatus::Pending | StageStatus::Running));
        [Stage::Transcode, Stage::TranscribeStore, Stage::Cover]
            .into_iter()
            .filter(|s| !self.stage(*s).is_settled() || (*s == Stage::Transcode && promo_open))
            .collect()
    }

    pub fn set_promo_render(&mut self, status: StageStatus, detail: Option<String>) {
        self.promo_render = Some(StageState {
            status,
            detail,
            updated_at_unix_s: now_unix_s(),
            lease: None,
        });
    }

    /// Outputs of one kind.
    pub fn outputs_of(&self, kind: OutputKind) -> impl Iterator<Item = &OutputFile> {
        self.outputs.iter().filter(move |o| o.kind == kind)
    }

    /// Where the video is to be published: the sidecar's `publish` list when it has
    /// one (an empty list: nowhere), else the deployment's.
    pub fn destination_requests(
        &self,
        deployment: &[crate::destinations::DestinationRequest],
    ) -> Vec<crate::destinations::DestinationRequest> {
        match self.sidecar.as_ref().and_then(|s| s.publish.as_ref()) {
            Some(own) => own.clone(),
            None => deployment.to_vec(),
        }
    }

    /// The title to show: the sidecar's, else the upload's file name without extension.
    pub fn title(&self) -> String {
        if let Some(t) = self.sidecar.as_ref().and_then(|s| s.title.clone()) {
            return t;
        }
        let file = self
            .source_key
            .rsplit('/')
            .next()
            .unwrap_or(&self.source_key);
        file.rsplit_once('.')
            .map_or(file, |(stem, _)| stem)
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_written_before_the_cover_stage_had_its_name_still_read() {
        let id = VideoId::parse("0123456789abcdef").unwrap();
        let mut record = VideoRecord::new(id, "uploads/a.mp4", "a.mp4");
        record.fail(Stage::Cover, "unreadable frames");
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains("\"cover\"") && !json.contains("rekognition"));
        let old = json.replace("\"cover\"", "\"rekognition\"");
        let back: VideoRecord = serde_json::from_str(&old).unwrap();
        assert_eq!(back.stage(Stage::Cover), StageStatus::Failed);
        assert_eq!(back.failure.unwrap().stage, Stage::Cover);
        assert_eq!(Stage::Cover.as_str(), "cover");
    }
}
