//! The stages, one file each. A stage takes its event and the ports it needs and
//! returns a typed outcome ([`Handled`]); the dispatcher (`dispatch.rs`) maps a pipeline
//! event to its stage for the local router and the Lambda handlers alike. Every stage is
//! idempotent: an event delivered twice, late or out of order leaves the record as
//! one delivery would.
//!
//! What every stage shares lives here: the settings, the conditional update of the
//! record ([`modify_record`]), claims, and failures ([`record_failure`]): a
//! non-retryable failure is recorded on the video (stage and reason, status failed, a
//! failure notification) before it is returned; a retryable one gives the stage's
//! claim back and is returned for the queue to deliver again.

use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::error::{InputError, PortError, StageError};
use crate::keys::VideoId;
use crate::plan::{ClipRequest, PlanConfig};
use crate::ports::{Notifier, UpdateResult, VideoRecords};
use crate::record::{Stage, StageStatus, VideoRecord};
use crate::understanding::UnderstandingConfig;

pub mod cover;
pub mod destinations;
pub mod ingest;
pub mod notify;
pub mod promo;
pub mod publish;
pub mod reconcile;
pub mod transcode;
pub mod transcribe;

#[cfg(test)]
mod superseded_tests;
#[cfg(test)]
mod test_world;

pub use cover::{cover, FRAMES_AT_ONCE};
pub use destinations::{publish_to_destinations, DestinationsReport};
pub use ingest::{ingest, video_id_for};
pub use notify::{notify, NotifyReport};
pub use promo::render_promo;
pub use publish::{compose_tags_and_description, publish};
pub use reconcile::{reconcile, ProcessingVideos, ReconcileConfig, Reconciled};
pub use transcode::{job_state_changed, transcode};
pub use transcribe::{transcribe_start, transcribe_store, transcription_failed};

/// How ingest derives video ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdScheme {
    /// From the content's SHA-256, carried as the object's ETag (local store).
    Content,
    /// From bucket, key and version id or ETag (S3).
    Object,
}

/// Settings every stage reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineConfig {
    pub plan: PlanConfig,
    pub id_scheme: IdScheme,
    /// Uploads larger than this are refused. Default 50 GiB.
    pub max_upload_bytes: u64,
    /// Whether a transcriber is configured; without one the transcribe stages are
    /// recorded as skipped.
    pub transcription: bool,
    /// What the transcriber takes, checked at ingest: audio outside them skips the
    /// transcribe stages with the reason. `None`: no limits (local Whisper). Set by
    /// the adapter, never read from a stored configuration.
    #[serde(skip)]
    pub transcription_limits: Option<TranscriptionLimits>,
    pub understanding: UnderstandingConfig,
    /// The deployment's destinations (a config file locally, the template's
    /// `PublishTo` in the cloud), for every video whose sidecar names none.
    #[serde(default)]
    pub publish: Vec<crate::destinations::DestinationRequest>,
}

/// A transcriber's input limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TranscriptionLimits {
    /// Who sets them, for the reason a person reads.
    pub service: &'static str,
    pub min_duration_s: f64,
    pub max_duration_s: f64,
    pub max_bytes: u64,
}

impl TranscriptionLimits {
    /// Amazon Transcribe's batch limits (Amazon Transcribe Developer Guide,
    /// "Guidelines and quotas"): audio from 500 ms to 4 hours (14,400 s), files up
    /// to 2 GB.
    pub const AMAZON_TRANSCRIBE: TranscriptionLimits = TranscriptionLimits {
        service: "Amazon Transcribe",
        min_duration_s: 0.5,
        max_duration_s: 14_400.0,
        max_bytes: 2_000_000_000,
    };

    /// Why an MP3 of `duration_s` seconds at `bitrate_bps` cannot be transcribed, or
    /// `None` when it can.
    pub fn refusal(&self, duration_s: f64, bitrate_bps: u64) -> Option<String> {
        let bytes = (duration_s * bitrate_bps as f64 / 8.0).ceil() as u64;
        let clock = crate::time::hhmmss_mmm;
        if duration_s > self.max_duration_s {
            Some(format!(
                "the audio is {}, longer than {}'s limit of {}",
                clock(duration_s),
                self.service,
                clock(self.max_duration_s)
            ))
        } else if duration_s < self.min_duration_s {
            Some(format!(
                "the audio is {duration_s:.3} s, shorter than {}'s minimum of {} s",
                self.service, self.min_duration_s
            ))
        } else if bytes > self.max_bytes {
            Some(format!(
                "the MP3 would be about {bytes} bytes, over {}'s limit of {} bytes",
                self.service, self.max_bytes
            ))
        } else {
            None
        }
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            plan: PlanConfig::default(),
            id_scheme: IdScheme::Object,
            max_upload_bytes: 50 << 30,
            transcription: false,
            transcription_limits: None,
            understanding: UnderstandingConfig::default(),
            publish: Vec::new(),
        }
    }
}

/// What a person asked for on top of the upload (local mode's command line).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestOptions {
    /// Overrides the sidecar's start/end where set.
    pub clip: ClipRequest,
    /// Redo every stage even if the record says it is done.
    pub force: bool,
    /// How to name the source for people; defaults to `bucket/key`.
    pub source_label: Option<String>,
    /// The video's talk-sheet row, looked up before ingest: it fills what the sidecar
    /// leaves out, and its link is written back after publishing. An error (no row,
    /// an unreadable sheet) fails the video at ingest with its reason.
    pub talk: Option<Result<TalkMatch, crate::talks::SheetError>>,
}

/// A talk-sheet row matched to the upload, with the speaker sheet to find addresses in.
#[derive(Debug, Clone, PartialEq)]
pub struct TalkMatch {
    pub reference: crate::talks::TalkRef,
    pub row: crate::talks::TalkRow,
    pub directory: crate::talks::SpeakerDirectory,
}

/// What a stage did with its event.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    /// The stage did its part for the video.
    Done(VideoId),
    /// Ingest recorded a new plan and requested the transcode; the notes say how the
    /// plan departs from what was asked (a clamped out point, shortened fades).
    Planned(VideoId, Vec<String>),
    /// Nothing to do: already done, in flight elsewhere, or not applicable.
    Skipped(VideoId, String),
    /// Waiting for other parts before this stage can run (publish).
    Waiting(VideoId, Vec<Stage>),
    /// Nothing of a video: a sidecar noted before its video, an event no stage here
    /// takes.
    Noted(String),
}

impl Handled {
    /// The video the outcome is about, if any.
    pub fn video_id(&self) -> Option<&VideoId> {
        match self {
            Handled::Done(id)
            | Handled::Planned(id, _)
            | Handled::Skipped(id, _)
            | Handled::Waiting(id, _) => Some(id),
            Handled::Noted(_) => None,
        }
    }
}

/// `<id> done`, `planned <id>; <note>`, `<id> skipped: <why>`, `<id> waiting for
/// <stage>, <stage>`, or the note.
impl std::fmt::Display for Handled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handled::Done(id) => write!(f, "{id} done"),
            Handled::Planned(id, notes) => {
                write!(f, "planned {id}")?;
                notes.iter().try_for_each(|n| write!(f, "; {n}"))
            }
            Handled::Skipped(id, why) => write!(f, "{id} skipped: {why}"),
            Handled::Waiting(id, parts) => {
                let parts: Vec<&str> = parts.iter().map(|s| s.as_str()).collect();
                write!(f, "{id} waiting for {}", parts.join(", "))
            }
            Handled::Noted(what) => f.write_str(what),
        }
    }
}

/// Reads the record, applies `change`, and stores it conditionally on its version,
/// reading again after a conflicting write (up to 8 times). `change` returns `None`
/// to leave the record as it is. Returns the stored record and `change`'s value.
///
/// # Errors
/// [`InputError::Other`] when there is no record; [`PortError::Unavailable`] after 8
/// conflicts; the port's own errors.
pub async fn modify_record<R: VideoRecords, T>(
    records: &R,
    id: &VideoId,
    mut change: impl FnMut(&mut VideoRecord) -> Option<T>,
) -> Result<Option<(VideoRecord, T)>, StageError> {
    for _ in 0..8 {
        let mut record = read_record(records, id).await?;
        let Some(value) = change(&mut record) else {
            return Ok(None);
        };
        record.updated_at_unix_s = crate::record::now_unix_s();
        match records.update(&record).await? {
            UpdateResult::Stored => {
                record.version += 1;
                return Ok(Some((record, value)));
            }
            UpdateResult::Conflict => continue,
        }
    }
    Err(PortError::Unavailable(format!(
        "video {id}: the record kept changing under 8 writes"
    ))
    .into())
}

/// The video's record.
///
/// # Errors
/// [`InputError::Other`] when there is none; the port's own errors.
pub async fn read_record<R: VideoRecords>(
    records: &R,
    id: &VideoId,
) -> Result<VideoRecord, StageError> {
    Ok(records
        .get(id)
        .await?
        .ok_or_else(|| InputError::Other(format!("no record for video {id}")))?)
}

/// Claims `stage` of a processing video (pending → running, under a lease from
/// [`VideoRecords::lease_terms`]) when `ready` holds for the record: the claimed
/// record, or `None` when the stage is not pending, the video is not processing, or
/// `ready` says no (another delivery has it, or it is done). A stage still running
/// under an expired lease is claimed again: its holder died or timed out.
async fn claim<R: VideoRecords>(
    records: &R,
    id: &VideoId,
    stage: Stage,
    ready: impl Fn(&VideoRecord) -> bool,
) -> Result<Option<VideoRecord>, StageError> {
    let terms = records.lease_terms();
    let now = crate::record::now_unix_s();
    let claimed = modify_record(records, id, |r| {
        (r.status == crate::record::VideoStatus::Processing
            && r.claimable(stage, now)
            && ready(r))
        .then(|| {
            if let Some(lease) = r.lease(stage) {
                warn!(video_id = %r.id, stage = %stage, holder = %lease.holder, "the claim's lease expired; claiming it again");
            }
            r.claim_stage(
                stage,
                crate::record::Lease {
                    holder: terms.holder.clone(),
                    expires_unix_s: now.saturating_add(terms.lease_s),
                },
            )
        })
    })
    .await?;
    Ok(claimed.map(|(record, ())| record))
}

/// Settles a stage's failure. A retryable `error` is not recorded: the stage's claim
/// is given back (running → pending, the error as detail) so that the redelivered
/// event can run it. Any other is recorded on the video as the failure of `stage`,
/// with the failure notification, unless the same failure is already recorded (a
/// repeated event). Returns `error` for the caller to pass on.
pub async fn record_failure<R: VideoRecords, N: Notifier>(
    records: &R,
    notifier: &N,
    id: &VideoId,
    stage: Stage,
    error: StageError,
) -> StageError {
    if error.is_retryable() {
        let released = modify_record(records, id, |r| {
            (r.stage(stage) == StageStatus::Running)
                .then(|| r.set_stage(stage, StageStatus::Pending, Some(error.to_string())))
        })
        .await;
        if let Err(e) = released {
            warn!(video_id = %id, stage = %stage, error = %e, "could not give the claim back");
        }
        return error;
    }
    let reason = error.to_string();
    let stored = modify_record(records, id, |r| {
        let same = r
            .failure
            .as_ref()
            .is_some_and(|f| f.stage == stage && f.reason == reason);
        (!same).then(|| r.fail(stage, &reason))
    })
    .await;
    match stored {
        Ok(Some((record, ()))) => {
            warn!(video_id = %id, stage = %stage, %reason, "stage failed");
            if let Err(e) = notifier.failed(&record, stage, &reason).await {
                warn!(video_id = %id, error = %e, "failure notification not sent");
            }
        }
        Ok(None) => {}
        Err(e) => warn!(video_id = %id, error = %e, "could not record the failure"),
    }
    error
}
