//! The ports: what the stages need from the world, as narrow traits. Adapters in
//! `vidpipe-local` (filesystem, ffmpeg, SQLite) and `vidpipe-aws` (S3, MediaConvert,
//! DynamoDB, …) implement them. Futures are `Send` so that Lambda handlers on a
//! multi-threaded runtime can hold them.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::cover::FrameMeasures;
use crate::error::PortError;
use crate::events::{JobOutcome, PipelineMessage};
use crate::keys::VideoId;
use crate::media::MediaInfo;
use crate::plan::Plan;
use crate::record::{Stage, VideoRecord};
use crate::transcript::Transcript;

/// An object as listed or headed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectInfo {
    pub key: String,
    pub size_bytes: u64,
    #[serde(default)]
    pub etag: Option<String>,
}

/// Reads an object store (S3 bucket; a directory locally).
pub trait ObjectReader: Send + Sync {
    /// `Ok(None)` when there is no object at `key`.
    fn head(&self, key: &str)
        -> impl Future<Output = Result<Option<ObjectInfo>, PortError>> + Send;
    /// The whole object. [`PortError::NotFound`] when absent.
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, PortError>> + Send;
    /// Objects whose key starts with `prefix`, in key order.
    fn list(&self, prefix: &str)
        -> impl Future<Output = Result<Vec<ObjectInfo>, PortError>> + Send;
}

/// Writes an object store. A write announces an object-created event, as S3 does.
pub trait ObjectWriter: Send + Sync {
    fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Server-side copy. [`PortError::NotFound`] when `from` is absent.
    fn copy(&self, from: &str, to: &str) -> impl Future<Output = Result<(), PortError>> + Send;
    /// How a page or manifest stored in the folder `from_dir` (a key ending in `/`)
    /// links to `key`. In S3, keys are paths ([`crate::keys::relative_key_path`]);
    /// a store that lays keys out otherwise overrides this.
    fn relative_path(&self, from_dir: &str, key: &str) -> String {
        crate::keys::relative_key_path(from_dir, key)
    }
}

/// Reads a source's streams and duration.
pub trait MediaProber: Send + Sync {
    /// # Errors
    /// [`PortError::Invalid`] with the prober's reason when the object is not readable
    /// media (not a container, truncated, no streams).
    ///
    /// `object` is the source as its store's HEAD described it (key and size), so that
    /// a prober reading byte ranges need not ask again.
    fn probe(
        &self,
        object: &ObjectInfo,
    ) -> impl Future<Output = Result<MediaInfo, PortError>> + Send;
}

/// Whether a conditional create made the record.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    Created,
    /// A record with that id was there already: here it is.
    Existing(Box<VideoRecord>),
}

/// The table of video records (SQLite; DynamoDB).
pub trait VideoRecords: Send + Sync {
    /// Creates the record unless one with its id exists (a conditional put).
    fn create(
        &self,
        record: &VideoRecord,
    ) -> impl Future<Output = Result<Created, PortError>> + Send;
    fn get(
        &self,
        id: &VideoId,
    ) -> impl Future<Output = Result<Option<VideoRecord>, PortError>> + Send;
    /// Stores `record` (with `version` bumped by one) if the stored version is still
    /// `record.version`; [`UpdateResult::Conflict`] otherwise (the caller reads again
    /// and retries).
    fn update(
        &self,
        record: &VideoRecord,
    ) -> impl Future<Output = Result<UpdateResult, PortError>> + Send;
    /// The lease a claim made through this table takes: who holds it and for how many
    /// seconds. The default, [`DEFAULT_LEASE_S`] by an unnamed holder, is Lambda's
    /// longest timeout; adapters name the holder, and a local run, which may
    /// transcode for hours, takes a longer lease and checks its holder's process.
    fn lease_terms(&self) -> LeaseTerms {
        LeaseTerms {
            holder: "unnamed".into(),
            lease_s: DEFAULT_LEASE_S,
        }
    }
    /// Whether `lease`'s holder is known to have ended before its lease ran out (a
    /// local vidpipe process that was killed). The default knows of none: the lease's
    /// time decides.
    fn holder_gone(&self, lease: &crate::record::Lease) -> bool {
        let _ = lease;
        false
    }
}

/// 15 minutes: no Lambda invocation runs longer (AWS Lambda Developer Guide,
/// "Configure Lambda function timeout": at most 900 seconds), so a claim older than
/// that is held by an invocation that has ended.
pub const DEFAULT_LEASE_S: u64 = 900;

/// Who claims, and for how long; see [`VideoRecords::lease_terms`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseTerms {
    pub holder: String,
    pub lease_s: u64,
}

/// The result of a conditional update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateResult {
    Stored,
    /// Someone else wrote first; read again and redo.
    Conflict,
}

/// What one transcode makes, for one video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscodeJob {
    pub video_id: VideoId,
    /// The plan's generation: the job writes under its prefix
    /// ([`crate::keys::PlanKeys`]) and its state change carries it.
    pub generation: u32,
    pub source_key: String,
    pub plan: Plan,
}

impl TranscodeJob {
    /// Where this job writes.
    pub fn keys(&self) -> crate::keys::PlanKeys {
        crate::keys::PlanKeys::new(&self.video_id, self.generation)
    }
}

/// What submitting a job gave: a transcode job ([`JobOutcome`]) or a transcription
/// ([`Transcript`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Submission<T = JobOutcome> {
    /// The job runs elsewhere (MediaConvert, Amazon Transcribe); how it ends arrives
    /// later as an event (a job state change; `transcript.json` written).
    Submitted { job_id: String },
    /// The job ran to its end during the call (ffmpeg, Whisper).
    Finished { job_id: String, outcome: T },
}

/// The promo clip: segments of the source joined, at the largest rendition's size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromoJob {
    pub video_id: VideoId,
    /// The plan's generation, as [`TranscodeJob::generation`].
    pub generation: u32,
    pub source_key: String,
    /// The video's plan (clip window, renditions, source frame rate).
    pub plan: Plan,
    /// Seconds from the clip's start (not the source's).
    pub segments: Vec<crate::understanding::PromoSegment>,
    /// Fade at every join and at both ends, seconds.
    pub fade_s: f64,
    /// The window of the vertical 9:16 cut, made beside the promo clip
    /// (`promo-vertical.mp4`) when a destination asks for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertical: Option<crate::destinations::vertical::Crop>,
}

impl PromoJob {
    /// Where this job writes.
    pub fn keys(&self) -> crate::keys::PlanKeys {
        crate::keys::PlanKeys::new(&self.video_id, self.generation)
    }
}

/// Runs transcode jobs (MediaConvert; ffmpeg).
pub trait Transcoder: Send + Sync {
    /// Submits the job. Must be idempotent per video id (a client request token in
    /// the cloud), so a retried submit makes no second job.
    fn submit(
        &self,
        job: &TranscodeJob,
    ) -> impl Future<Output = Result<Submission, PortError>> + Send;
    /// Submits the promo job (in the cloud, a second MediaConvert job with one
    /// InputClipping per segment). Idempotent per video id, as [`Transcoder::submit`].
    fn submit_promo(
        &self,
        job: &PromoJob,
    ) -> impl Future<Output = Result<Submission, PortError>> + Send;
    /// Cancels a job of a superseded plan that may still be running, so that it
    /// stops costing. A job that has already ended is not an error. Jobs that run
    /// to their end within [`Transcoder::submit`] (ffmpeg) have nothing to cancel.
    fn cancel(&self, job_id: &str) -> impl Future<Output = Result<(), PortError>> + Send {
        let _ = job_id;
        async { Ok(()) }
    }
}

/// What looking at one frame capture found.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameAnalysis {
    pub measures: FrameMeasures,
    /// Extra score from face and label detection (0 where there is none).
    pub detection_bonus: f64,
    pub labels: Vec<String>,
    /// The faces found (Rekognition DetectFaces boxes at 90 % confidence or more;
    /// none locally): what the vertical cut centres on.
    pub faces: Vec<crate::destinations::vertical::FaceBox>,
}

/// Looks at frame captures (local image measures; Rekognition plus the same measures).
pub trait FrameAnalyzer: Send + Sync {
    fn analyze(&self, key: &str) -> impl Future<Output = Result<FrameAnalysis, PortError>> + Send;
}

/// Puts a finished video where people see it. Returns the links.
pub trait Publisher: Send + Sync {
    fn publish(
        &self,
        record: &VideoRecord,
    ) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;
}

/// Tells people what happened (SNS and SES; the terminal locally).
pub trait Notifier: Send + Sync {
    fn published(&self, record: &VideoRecord)
        -> impl Future<Output = Result<(), PortError>> + Send;
    fn failed(
        &self,
        record: &VideoRecord,
        stage: Stage,
        reason: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Sends pipeline messages to the stage that takes them (SQS; the local router).
pub trait MessageBus: Send + Sync {
    fn send(&self, message: PipelineMessage) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Speech to text (Amazon Transcribe; Whisper locally).
pub trait Transcriber: Send + Sync {
    /// Transcribes the audio at `audio_key` as job `job_name`. Idempotent per job name:
    /// a second call with the same name starts no second job. `Submitted`: the job runs
    /// elsewhere (Amazon Transcribe) and writes `transcript.json` itself; `Finished`:
    /// the transcript was made during the call (Whisper).
    ///
    /// # Errors
    /// [`PortError::Invalid`] when the audio cannot be read; [`PortError::Failed`]
    /// when the model or service cannot be used.
    fn transcribe(
        &self,
        audio_key: &str,
        job_name: &str,
    ) -> impl Future<Output = Result<Submission<Transcript>, PortError>> + Send;
}

/// Sends one email (SMTP locally with lettre; SES in the cloud), from the sender the
/// adapter was configured with.
pub trait Mailer: Send + Sync {
    /// # Errors
    /// [`PortError::Invalid`] when the address or a recipient is refused for good (a
    /// malformed address, a 5xx reply to RCPT TO): recorded on the delivery, never
    /// retried. [`PortError::Unavailable`] when the server cannot be reached or
    /// answers 4xx: the delivery stays pending for the next run.
    fn send(
        &self,
        email: &crate::outbox::Email,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Writes a published video's link into its talk-sheet row (a local xlsx, ods or CSV
/// file; a Google Sheet).
pub trait LinkWriter: Send + Sync {
    /// Writes `link` into the link column of `talk`'s row (found again by its title),
    /// creating the column if the sheet has none, and leaves every other cell as it
    /// was.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the sheet is open elsewhere (an office lock
    /// file) or kept changing while written: deferred to the next run.
    /// [`PortError::NotFound`] when the row is gone; [`PortError::Invalid`] when the
    /// file is no longer a readable sheet.
    fn write_link(
        &self,
        talk: &crate::talks::TalkRef,
        link: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Sets `target`'s dataset entry: `startTime`, `endTime`, and `dataLink` when
    /// `link` is given; every other field kept.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the catalog cannot be reached or kept changing
    /// while written; [`PortError::NotFound`] when the catalog or the dataset is not
    /// there; [`PortError::Invalid`] when it is not a catalog, or this writer writes
    /// none (the default).
    fn write_catalog(
        &self,
        target: &crate::catalog::CatalogTarget,
        link: Option<&str>,
    ) -> impl Future<Output = Result<(), PortError>> + Send {
        let _ = link;
        let catalog = target.catalog.clone();
        async move {
            Err(PortError::Invalid(format!(
                "{catalog}: no catalog writer is configured here"
            )))
        }
    }
}
