//! The promo clip: the transcode stage renders the segments the transcript chose.

use tracing::warn;

use super::transcode::announce_part;
use super::{modify_record, Handled};
use crate::cover::choose_cover;
use crate::destinations::vertical::vertical_crop;
use crate::error::StageError;
use crate::events::{JobKind, JobOutcome, JobStateChange};
use crate::keys::VideoId;
use crate::plan::PROMO_FADE_S;
use crate::ports::{MessageBus, PromoJob, Submission, Transcoder, VideoRecords};
use crate::record::{OutputKind, StageStatus, VideoStatus};

/// Transcode, on a promo request: renders the promo clip from the recorded promo
/// plan, once, faded over [`PROMO_FADE_S`] at every join. A promo that cannot be made
/// is recorded (with its reason) and does not stop the video from being published.
/// `deployment`: the deployment's destinations, for a video whose sidecar names none.
///
/// # Errors
/// A retryable transcoder error (the promo is pending again); the record's errors.
pub async fn render_promo<R: VideoRecords, T: Transcoder, B: MessageBus>(
    records: &R,
    transcoder: &T,
    bus: &B,
    deployment: &[crate::destinations::DestinationRequest],
    video_id: &VideoId,
) -> Result<Handled, StageError> {
    let claimed = modify_record(records, video_id, |r| {
        let pending = r
            .promo_render
            .as_ref()
            .is_some_and(|p| p.status == StageStatus::Pending);
        (r.status == VideoStatus::Processing && pending)
            .then(|| r.set_promo_render(StageStatus::Running, None))
    })
    .await?;
    let job = claimed.and_then(|(record, ())| {
        let plan = record.plan.clone()?;
        // A destination that asks for the vertical cut: the window, centred on the
        // faces in the cover's frame where the cover stage found some.
        let wants_vertical = record
            .destination_requests(deployment)
            .iter()
            .any(|d| d.vertical);
        let vertical = plan.progressive().filter(|_| wants_vertical).map(|top| {
            let faces = choose_cover(&record.frames)
                .map(|i| record.frames[i].faces.as_slice())
                .unwrap_or_default();
            vertical_crop(top.width_px, top.height_px, faces)
        });
        Some(PromoJob {
            video_id: video_id.clone(),
            generation: record.generation,
            source_key: record.source_key.clone(),
            segments: record.speech.as_ref()?.promo.clone()?.segments,
            plan,
            fade_s: PROMO_FADE_S,
            vertical,
        })
    });
    let Some(job) = job else {
        return Ok(Handled::Skipped(
            video_id.clone(),
            "promo already rendered, rendering or not planned".into(),
        ));
    };
    let (job_id, outcome) = match transcoder.submit_promo(&job).await {
        Ok(Submission::Submitted { job_id }) => {
            modify_record(records, video_id, |r| {
                r.set_promo_render(StageStatus::Running, Some(format!("job {job_id}")));
                Some(())
            })
            .await?;
            return Ok(Handled::Done(video_id.clone()));
        }
        Ok(Submission::Finished { job_id, outcome }) => (job_id, outcome),
        Err(e) if e.is_retryable() => {
            modify_record(records, video_id, |r| {
                r.set_promo_render(StageStatus::Pending, Some(e.to_string()));
                Some(())
            })
            .await?;
            return Err(e.into());
        }
        Err(e) => (
            String::new(),
            JobOutcome::Error {
                code: None,
                message: e.to_string(),
            },
        ),
    };
    let change = JobStateChange {
        video_id: video_id.clone(),
        job_id,
        outcome,
        job: JobKind::Promo,
        generation: job.generation,
    };
    promo_job_state_changed(records, bus, &change).await
}

/// Records how the promo job ended: its output, or why there is none; either way the
/// part is announced so that publishing goes on. A superseded plan's job is ignored.
pub(super) async fn promo_job_state_changed<R: VideoRecords, B: MessageBus>(
    records: &R,
    bus: &B,
    change: &JobStateChange,
) -> Result<Handled, StageError> {
    let id = &change.video_id;
    let stored = modify_record(records, id, |r| {
        let open = r
            .promo_render
            .as_ref()
            .is_some_and(|p| matches!(p.status, StageStatus::Running | StageStatus::Pending));
        let current = r.generation == change.generation;
        (open && current).then(|| match &change.outcome {
            JobOutcome::Complete { outputs } => {
                r.outputs.retain(|o| o.kind != OutputKind::Promo);
                r.outputs.extend(outputs.iter().cloned());
                r.set_promo_render(StageStatus::Done, None);
            }
            JobOutcome::Error { message, .. } => {
                warn!(video_id = %id, %message, "promo clip not made; publishing without it");
                r.set_promo_render(StageStatus::Failed, Some(message.clone()));
            }
        })
    })
    .await?;
    if stored.is_none() {
        return Ok(Handled::Skipped(
            id.clone(),
            "promo already recorded, or of a superseded plan".into(),
        ));
    }
    announce_part(bus, id).await?;
    Ok(Handled::Done(id.clone()))
}

#[cfg(test)]
mod tests;
