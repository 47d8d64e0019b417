//! The reconciler: run on a schedule (the cloud's `reconcile` function), it finds
//! processing videos that nothing will move on and either drives them again or fails
//! them with the reason and a notice. Every stage is idempotent, so a message sent
//! again for a stage that is in fact running does nothing.
//!
//! - A stage still claimed under an expired lease (its invocation timed out or died,
//!   and its message was given up), or one whose turn came and that did not start
//!   within a lease's time (its message was lost), is driven again: the transcode
//!   and the cover by their request, publishing (every part settled) by a "part
//!   recorded".
//! - A video publishing to its platforms is driven again when a destination comes
//!   due (a rate limit's wait is over, a daily quota is back, a lease expired), and
//!   is never failed as stuck while one waits for its time.
//! - A video with no progress for [`ReconcileConfig::stuck_after_s`] (a job whose
//!   state change never came, a transcript never written) is failed, on its first
//!   unsettled stage, with how long it waited.

use super::record_failure;
use crate::error::{InputError, PortError, StageError};
use crate::events::PipelineMessage;
use crate::keys::VideoId;
use crate::ports::{MessageBus, Notifier, VideoRecords, DEFAULT_LEASE_S};
use crate::record::{Stage, StageStatus, VideoRecord, VideoStatus};

/// The reconciler's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconcileConfig {
    /// Seconds without a change to the record after which a processing video is
    /// failed. Default 12 hours: above MediaConvert's and Transcribe's time for the
    /// longest input vidpipe takes (Transcribe's 4-hour limit), with room for their
    /// queues.
    pub stuck_after_s: u64,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        ReconcileConfig {
            stuck_after_s: 12 * 3600,
        }
    }
}

/// Lists the videos still processing (a scan of the record table).
pub trait ProcessingVideos: Send + Sync {
    fn processing(
        &self,
    ) -> impl std::future::Future<Output = Result<Vec<VideoRecord>, PortError>> + Send;
}

/// What the reconciler did with one video.
#[derive(Debug, Clone, PartialEq)]
pub enum Reconciled {
    /// The message that starts `stage` was sent again.
    Driven(VideoId, Stage),
    /// The video was failed on `stage`, with the reason.
    Failed(VideoId, Stage, String),
}

/// Reconciles every processing video at `now_unix_s`; what it did, video by video.
/// A video it cannot reconcile (a message not sent, a record not written) is logged
/// and left for the next run.
///
/// # Errors
/// The listing's error.
pub async fn reconcile<R, B, N>(
    records: &R,
    bus: &B,
    notifier: &N,
    config: &ReconcileConfig,
    now_unix_s: u64,
) -> Result<Vec<Reconciled>, PortError>
where
    R: VideoRecords + ProcessingVideos,
    B: MessageBus,
    N: Notifier,
{
    let mut done = Vec::new();
    for record in records.processing().await? {
        if record.status != VideoStatus::Processing {
            continue;
        }
        match reconcile_one(records, bus, notifier, config, &record, now_unix_s).await {
            Ok(Some(r)) => done.push(r),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(video_id = %record.id, error = %e, "not reconciled; the next run tries again")
            }
        }
    }
    Ok(done)
}

async fn reconcile_one<R, B, N>(
    records: &R,
    bus: &B,
    notifier: &N,
    config: &ReconcileConfig,
    record: &VideoRecord,
    now: u64,
) -> Result<Option<Reconciled>, StageError>
where
    R: VideoRecords,
    B: MessageBus,
    N: Notifier,
{
    let id = &record.id;
    let idle_s = now.saturating_sub(record.updated_at_unix_s);
    if !record.destinations.is_empty() && record.stage(Stage::Publish) == StageStatus::Running {
        // Publishing to the platforms: never stuck while a destination waits for its
        // time (a quota back at midnight Pacific), driven again once one is due.
        let due = record
            .destinations
            .iter()
            .any(|d| d.is_due(now as i64) && d.lease.as_ref().is_none_or(|l| l.expired_at(now)));
        if !due {
            return Ok(None);
        }
        bus.send(PipelineMessage::PartRecorded {
            video_id: id.clone(),
            stage: Stage::Publish,
        })
        .await?;
        tracing::info!(video_id = %id, "a destination is due; publishing driven again");
        return Ok(Some(Reconciled::Driven(id.clone(), Stage::Publish)));
    }
    if idle_s >= config.stuck_after_s {
        let stage = first_unsettled(record);
        let status = record.stage(stage).as_str();
        let reason = format!(
            "no progress for {} (the {stage} stage {status} since {}); given up by the reconciler",
            crate::time::hhmmss_mmm(idle_s as f64),
            unix_time(record.updated_at_unix_s)
        );
        let error = StageError::from(InputError::Other(reason.clone()));
        record_failure(records, notifier, id, stage, error).await;
        return Ok(Some(Reconciled::Failed(id.clone(), stage, reason)));
    }
    let now_due = |stage: Stage| {
        let state = record.stage(stage);
        let expired = record.lease(stage).is_some_and(|l| l.expired_at(now));
        let turn = match stage {
            Stage::Transcode => record.stage(Stage::Ingest) == StageStatus::Done,
            Stage::Cover => record.stage(Stage::Transcode) == StageStatus::Done,
            _ => record.unsettled_parts().is_empty(),
        };
        expired || (turn && state == StageStatus::Pending && idle_s >= DEFAULT_LEASE_S)
    };
    let Some(stage) = [Stage::Transcode, Stage::Cover, Stage::Publish]
        .into_iter()
        .find(|s| now_due(*s))
    else {
        return Ok(None);
    };
    let message = match stage {
        Stage::Transcode => PipelineMessage::TranscodeRequested {
            video_id: id.clone(),
        },
        Stage::Cover => PipelineMessage::CoverRequested {
            video_id: id.clone(),
        },
        _ => PipelineMessage::PartRecorded {
            video_id: id.clone(),
            stage: Stage::Publish,
        },
    };
    bus.send(message).await?;
    tracing::info!(video_id = %id, stage = %stage, "driven again");
    Ok(Some(Reconciled::Driven(id.clone(), stage)))
}

/// The stage a stuck video waits in: the first of the pipeline's stages not settled.
fn first_unsettled(record: &VideoRecord) -> Stage {
    Stage::ALL
        .into_iter()
        .find(|s| !record.stage(*s).is_settled())
        .unwrap_or(Stage::Publish)
}

/// `2026-12-02T10:00:00Z`
fn unix_time(unix_s: u64) -> String {
    chrono::DateTime::from_timestamp(unix_s as i64, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| unix_s.to_string())
}

impl std::fmt::Display for Reconciled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reconciled::Driven(id, stage) => write!(f, "{id}: {stage} driven again"),
            Reconciled::Failed(id, stage, why) => write!(f, "{id}: failed in {stage}: {why}"),
        }
    }
}

#[cfg(test)]
mod tests;
