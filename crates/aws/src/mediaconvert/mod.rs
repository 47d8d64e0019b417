//! The cloud transcoder: the plan as AWS Elemental MediaConvert jobs, and the jobs'
//! state changes (EventBridge "MediaConvert Job State Change") as the domain's
//! [`JobStateChange`](vidpipe_domain::events::JobStateChange).
//!
//! One job a video makes every rendition from the same plan the local mode uses:
//! - the cut: one `InputClipping`, timecodes `HH:MM:SS:FF` at the plan's timecode
//!   frame rate on a zero-based input timecode (`TimecodeSource: ZEROBASED`), so
//!   00:00:00:00 is the source's first frame;
//! - the fades: MediaConvert has no video fade, so a full-frame black PNG is laid over
//!   the input by the image inserter twice: opaque at the in point, fading out over
//!   the fade (`FadeOut`), and fading in over the last seconds (`FadeIn`) to opaque at
//!   the out point. Overlay times are input timecodes, like the clipping. MediaConvert
//!   has no audio fade either: in the cloud the sound starts and ends at full level,
//!   where the local mode fades it (a documented difference);
//! - a File group of MP4 renditions (H.264 QVBR capped at the rung's maxrate, AAC),
//!   an HLS group of the same ladder, an MP3 (File group, raw container), and frame
//!   captures (File group, JPEG every `interval_s`, at most `count`);
//! - `UserMetadata` carries the video id and which job this is, so the state change
//!   finds its video; a `ClientRequestToken` from the video id and the plan makes a
//!   retried submit return the first job instead of starting a second.
//!
//! The animated GIF preview is a job of its own, submitted with the renditions job: it
//! is a window of the clip (5 s by default), and MediaConvert clips per input, not per
//! output. One `InputClipping` for the window, one output (GIF container and codec,
//! the plan's size and frame rate) to `media/<id>/preview.gif`.
//!
//! The promo job is another: one input with an `InputClipping` per promo window, the
//! black overlay fading at every join and both ends, one MP4 at the largest
//! rendition's size.
//!
//! The settings are pure functions of the plan and the bucket ([`settings`], one per
//! output group); [`event`] reads the state changes.

pub mod event;
mod overlay;
pub mod settings;

use aws_sdk_mediaconvert::types::{JobSettings, StatusUpdateInterval};
use sha2::{Digest, Sha256};
use vidpipe_domain::events::JobKind;
use vidpipe_domain::keys::PlanKeys;
use vidpipe_domain::plan::Plan;
use vidpipe_domain::ports::{ObjectWriter, PromoJob, Submission, TranscodeJob, Transcoder};
use vidpipe_domain::PortError;

pub use event::{job_state_change, JobEventError, JobStateEvent};
pub use overlay::black_png;
pub use settings::{gif_job_settings, job_settings, overlay_size, promo_job_settings};

use crate::error::port_error;
use crate::s3::S3Store;

/// The SDK client the adapter takes, re-exported for the function binaries.
pub use aws_sdk_mediaconvert::Client;

/// The client request token: up to 64 ASCII characters (MediaConvert API Reference,
/// CreateJob, `clientRequestToken`), the same for the same video, generation, job and
/// plan: `vidpipe-<id>-<generation>-<job>-<plan hash>`, at most 63 characters.
pub fn request_token(at: &PlanKeys, job: JobKind, plan: &impl serde::Serialize) -> String {
    let digest = Sha256::digest(serde_json::to_vec(plan).unwrap_or_default());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("vidpipe-{}-{}-{}-{hex}", at.id, at.generation, job.as_str())
}

/// MediaConvert behind the [`Transcoder`] port.
pub struct MediaConvertTranscoder<'a> {
    pub client: aws_sdk_mediaconvert::Client,
    /// The role MediaConvert assumes to read the source and write outputs.
    pub role_arn: String,
    pub store: &'a S3Store,
}

impl MediaConvertTranscoder<'_> {
    async fn create(
        &self,
        at: &PlanKeys,
        job: JobKind,
        token: String,
        settings: JobSettings,
    ) -> Result<Submission, PortError> {
        let id = &at.id;
        let out = self
            .client
            .create_job()
            .role(&self.role_arn)
            .settings(settings)
            .user_metadata("video_id", id.as_str())
            .user_metadata("job", job.as_str())
            .user_metadata("generation", at.generation.to_string())
            .client_request_token(token)
            .status_update_interval(StatusUpdateInterval::Seconds60)
            .send()
            .await
            .map_err(|e| port_error(&format!("mediaconvert CreateJob {id} {}", job.as_str()), e))?;
        let job_id = out.job.and_then(|j| j.id).ok_or_else(|| {
            PortError::Failed("mediaconvert CreateJob answered without a job id".into())
        })?;
        Ok(Submission::Submitted { job_id })
    }

    async fn put_overlay(&self, at: &PlanKeys, plan: &Plan) -> Result<(), PortError> {
        if plan.renditions.is_empty() {
            return Ok(());
        }
        // Written every time, not when absent: this function's role has no
        // `s3:ListBucket`, without which S3 answers a HEAD of a missing key with 403
        // (S3 API Reference, HeadObject). The same plan gives the same image.
        let (w, h) = overlay_size(plan);
        self.store
            .put(&at.fade_overlay(), black_png(w, h)?, "image/png")
            .await
    }
}

impl Transcoder for MediaConvertTranscoder<'_> {
    async fn submit(&self, job: &TranscodeJob) -> Result<Submission, PortError> {
        let at = job.keys();
        self.put_overlay(&at, &job.plan).await?;
        let bucket = &self.store.bucket;
        let token = request_token(&at, JobKind::Renditions, &job.plan);
        let submitted = self
            .create(&at, JobKind::Renditions, token, job_settings(bucket, job))
            .await?;
        // The renditions job exists now, and its id must reach the record: the client
        // request token finds it again only within a minute (MediaConvert API
        // Reference, "Preventing duplicate jobs"), so an error here would let a retry
        // make a second renditions job. A GIF that cannot be made (after the SDK's
        // own retries of throttling) is left out, never the video failed for it.
        if let Some(settings) = gif_job_settings(bucket, job) {
            let token = request_token(&at, JobKind::Gif, &job.plan);
            if let Err(e) = self.create(&at, JobKind::Gif, token, settings).await {
                tracing::warn!(video_id = %job.video_id, error = %e, "the GIF job was not created; the video goes on without its GIF");
            }
        }
        Ok(submitted)
    }

    async fn submit_promo(&self, job: &PromoJob) -> Result<Submission, PortError> {
        let at = job.keys();
        self.put_overlay(&at, &job.plan).await?;
        let settings = promo_job_settings(&self.store.bucket, job)?;
        let token = request_token(&at, JobKind::Promo, &(&job.plan, &job.segments));
        self.create(&at, JobKind::Promo, token, settings).await
    }

    /// CancelJob. MediaConvert cancels only a job that is SUBMITTED or PROGRESSING
    /// (MediaConvert API Reference, CancelJob); one that has ended answers a
    /// `ConflictException` (or `BadRequestException`), which is what was wanted.
    async fn cancel(&self, job_id: &str) -> Result<(), PortError> {
        match self.client.cancel_job().id(job_id).send().await {
            Ok(_) => Ok(()),
            Err(e) => match crate::error::service_code(&e) {
                Some("ConflictException" | "BadRequestException" | "NotFoundException") => {
                    tracing::info!(%job_id, "the superseded job had already ended");
                    Ok(())
                }
                _ => Err(port_error(&format!("mediaconvert CancelJob {job_id}"), e)),
            },
        }
    }
}
