//! Transcode: the plan's job submitted once, and the job's state change recorded.
//! The promo clip's job is the same stage's ([`super::promo`]).

use tracing::{info, warn};

use super::{claim, modify_record, record_failure, Handled};
use crate::error::{InputError, StageError};
use crate::events::{JobKind, JobOutcome, JobStateChange, PipelineMessage};
use crate::keys::VideoId;
use crate::ports::{MessageBus, Notifier, Submission, TranscodeJob, Transcoder, VideoRecords};
use crate::record::{OutputFile, OutputKind, Stage, StageStatus, VideoStatus};

/// Transcode, on a transcode request: turns the recorded plan into one job and
/// submits it, once. A request for a video whose transcode is running or done does
/// nothing. Jobs of superseded plans that may still run are cancelled first (a
/// failed cancel is logged: such a job writes under its own generation's prefix and
/// its state change is ignored). A job that finishes during the call (local) is
/// recorded at once.
///
/// # Errors
/// The transcoder's errors: a retryable one gives the claim back, any other fails the
/// video.
pub async fn transcode<R, T, B, N>(
    records: &R,
    transcoder: &T,
    bus: &B,
    notifier: &N,
    video_id: &VideoId,
) -> Result<Handled, StageError>
where
    R: VideoRecords,
    T: Transcoder,
    B: MessageBus,
    N: Notifier,
{
    let claimed = claim(records, video_id, Stage::Transcode, |r| r.plan.is_some()).await?;
    let Some((record, plan)) = claimed.and_then(|r| r.plan.clone().map(|p| (r, p))) else {
        return Ok(Handled::Skipped(
            video_id.clone(),
            "transcode already running, done or not planned".into(),
        ));
    };
    cancel_superseded(records, transcoder, &record).await?;
    let job = TranscodeJob {
        video_id: video_id.clone(),
        generation: record.generation,
        source_key: record.source_key.clone(),
        plan,
    };
    match transcoder.submit(&job).await {
        Ok(Submission::Submitted { job_id }) => {
            modify_record(records, video_id, |r| {
                r.job_id = Some(job_id.clone());
                // The job holds the stage now, until its state change: a lease that
                // ran out while MediaConvert works must not start a second job.
                if let Some(state) = r.stages.get_mut(&Stage::Transcode) {
                    state.lease = None;
                }
                Some(())
            })
            .await?;
            info!(video_id = %video_id, %job_id, "transcode job submitted");
            Ok(Handled::Done(video_id.clone()))
        }
        Ok(Submission::Finished { job_id, outcome }) => {
            let change = JobStateChange {
                video_id: video_id.clone(),
                job_id,
                outcome,
                job: JobKind::Renditions,
                generation: job.generation,
            };
            job_state_changed(records, bus, notifier, &change).await
        }
        Err(e) => {
            Err(record_failure(records, notifier, video_id, Stage::Transcode, e.into()).await)
        }
    }
}

/// Cancels the jobs of superseded plans recorded on `record`, and forgets them.
async fn cancel_superseded<R: VideoRecords, T: Transcoder>(
    records: &R,
    transcoder: &T,
    record: &crate::record::VideoRecord,
) -> Result<(), StageError> {
    if record.superseded_jobs.is_empty() {
        return Ok(());
    }
    for job_id in &record.superseded_jobs {
        match transcoder.cancel(job_id).await {
            Ok(()) => info!(video_id = %record.id, %job_id, "superseded job cancelled"),
            Err(e) => {
                warn!(video_id = %record.id, %job_id, error = %e, "superseded job not cancelled; its outputs stay under its own generation")
            }
        }
    }
    let asked = record.superseded_jobs.clone();
    modify_record(records, &record.id, |r| {
        r.superseded_jobs.retain(|j| !asked.contains(j));
        Some(())
    })
    .await?;
    Ok(())
}

/// Transcode, on a job state change: records the outputs and announces the part, or
/// records the failure. A change for another job than the recorded one, for a
/// superseded plan's job (another generation), or for a transcode already settled,
/// is ignored. The GIF's job (cloud) and the promo's are
/// recorded apart: neither fails the video.
pub async fn job_state_changed<R, B, N>(
    records: &R,
    bus: &B,
    notifier: &N,
    change: &JobStateChange,
) -> Result<Handled, StageError>
where
    R: VideoRecords,
    B: MessageBus,
    N: Notifier,
{
    match (change.job, &change.outcome) {
        (JobKind::Promo, _) => super::promo::promo_job_state_changed(records, bus, change).await,
        (JobKind::Gif, _) => gif_job_state_changed(records, change).await,
        (JobKind::Renditions, JobOutcome::Complete { outputs }) => {
            renditions_complete(records, bus, change, outputs).await
        }
        (JobKind::Renditions, JobOutcome::Error { code, message }) => {
            let id = &change.video_id;
            let current = records.get(id).await?;
            if current.is_some_and(|r| {
                r.generation != change.generation
                    || r.job_id.as_deref().is_some_and(|j| j != change.job_id)
            }) {
                return Ok(Handled::Skipped(
                    id.clone(),
                    "error from a superseded job".into(),
                ));
            }
            let code = code
                .map(|c| format!(" (error code {c})"))
                .unwrap_or_default();
            let error = InputError::Other(format!(
                "transcode job {} failed{code}: {message}",
                change.job_id
            ));
            Err(record_failure(records, notifier, id, Stage::Transcode, error.into()).await)
        }
    }
}

/// Records the renditions job's outputs, once, announces the part and, when the plan
/// has frame captures, asks for the cover.
async fn renditions_complete<R: VideoRecords, B: MessageBus>(
    records: &R,
    bus: &B,
    change: &JobStateChange,
    outputs: &[OutputFile],
) -> Result<Handled, StageError> {
    let id = &change.video_id;
    let stored = modify_record(records, id, |r| {
        let ours = r.generation == change.generation
            && r.job_id.as_deref().is_none_or(|j| j == change.job_id);
        let open = r.status == VideoStatus::Processing
            && r.stage(Stage::Transcode) == StageStatus::Running;
        (ours && open).then(|| {
            r.job_id = Some(change.job_id.clone());
            // Keep the cover and a GIF its own job made (cloud), unless this job made
            // the same file again.
            r.outputs.retain(|o| {
                matches!(o.kind, OutputKind::Cover | OutputKind::Gif)
                    && !outputs.iter().any(|n| n.key == o.key)
            });
            r.outputs.extend(outputs.iter().cloned());
            r.set_stage(Stage::Transcode, StageStatus::Done, None);
        })
    })
    .await?;
    let record = match stored {
        Some((record, ())) => record,
        None => match records.get(id).await? {
            // Recorded by an earlier delivery, which may have failed to send what
            // follows: sending it again is harmless, as every stage is idempotent.
            Some(r)
                if r.generation == change.generation
                    && r.job_id.as_deref() == Some(change.job_id.as_str())
                    && r.status == VideoStatus::Processing
                    && r.stage(Stage::Transcode) == StageStatus::Done =>
            {
                r
            }
            _ => {
                return Ok(Handled::Skipped(
                    id.clone(),
                    "job state change of a superseded plan, or of a settled video".into(),
                ))
            }
        },
    };
    info!(video_id = %id, job_id = %change.job_id, outputs = outputs.len(), "transcode complete");
    if record.stage(Stage::Cover) == StageStatus::Pending {
        bus.send(PipelineMessage::CoverRequested {
            video_id: id.clone(),
        })
        .await?;
    }
    announce_part(bus, id).await?;
    Ok(Handled::Done(id.clone()))
}

/// Tells publish that the transcode's part (renditions, or the promo) is recorded.
pub(super) async fn announce_part<B: MessageBus>(
    bus: &B,
    id: &VideoId,
) -> Result<(), crate::error::PortError> {
    bus.send(PipelineMessage::PartRecorded {
        video_id: id.clone(),
        stage: Stage::Transcode,
    })
    .await
}

/// Records how the GIF job (cloud) ended. The GIF is a nicety: publishing does not
/// wait for it, and a failed GIF job is logged, not a failed video. A late or repeated
/// event changes nothing once the GIF is recorded, nor on a failed video.
async fn gif_job_state_changed<R: VideoRecords>(
    records: &R,
    change: &JobStateChange,
) -> Result<Handled, StageError> {
    let id = &change.video_id;
    let JobOutcome::Complete { outputs } = &change.outcome else {
        warn!(video_id = %id, job_id = %change.job_id, outcome = ?change.outcome, "GIF preview not made");
        return Ok(Handled::Skipped(id.clone(), "GIF job failed".into()));
    };
    let stored = modify_record(records, id, |r| {
        let new = outputs
            .iter()
            .filter(|n| !r.outputs.iter().any(|o| o.key == n.key))
            .cloned()
            .collect::<Vec<_>>();
        let current = r.generation == change.generation;
        (current && r.status != VideoStatus::Failed && !new.is_empty())
            .then(|| r.outputs.extend(new))
    })
    .await?;
    match stored {
        Some(_) => Ok(Handled::Done(id.clone())),
        None => Ok(Handled::Skipped(
            id.clone(),
            "GIF already recorded, of a superseded plan, or the video failed".into(),
        )),
    }
}

#[cfg(test)]
mod tests;
