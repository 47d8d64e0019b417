//! Amazon Transcribe behind the [`Transcriber`] port. The job is named after the video
//! ([`vidpipe_domain::keys::transcription_job_name`]), so a repeated event that
//! starts it again gets `ConflictException`, which is taken as "already started".
//! Transcribe writes `transcripts/<id>/transcript.json` itself (and `transcript.srt`,
//! `transcript.vtt` beside it); that object's creation triggers transcribe-store.

use aws_sdk_transcribe::types::{
    LanguageCode, Media, MediaFormat, Settings, SubtitleFormat, Subtitles,
};
use serde_json::Value;
use vidpipe_domain::events::PipelineMessage;
use vidpipe_domain::keys::PlanKeys;
use vidpipe_domain::ports::{Submission, Transcriber};
use vidpipe_domain::transcript::Transcript;
use vidpipe_domain::PortError;

use crate::error::{port_error, service_code};

/// The SDK client the adapter takes, re-exported for the function binaries.
pub use aws_sdk_transcribe::Client;

/// Speaker labels: Transcribe takes 2 to 30 speakers (Amazon Transcribe API
/// Reference, Settings, `MaxSpeakerLabels`).
pub const MAX_SPEAKER_LABELS: i32 = 10;

#[derive(Clone, Debug)]
pub struct TranscribeTranscriber {
    pub client: aws_sdk_transcribe::Client,
    pub bucket: String,
    pub language_code: String,
}

impl Transcriber for TranscribeTranscriber {
    async fn transcribe(
        &self,
        audio_key: &str,
        job_name: &str,
    ) -> Result<Submission<Transcript>, PortError> {
        let plan = PlanKeys::of_key(audio_key)
            .ok_or_else(|| PortError::Invalid(format!("{audio_key}: not a key of a video")))?;
        let subtitles = Subtitles::builder()
            .formats(SubtitleFormat::Srt)
            .formats(SubtitleFormat::Vtt)
            .output_start_index(1)
            .build();
        let result = self
            .client
            .start_transcription_job()
            .transcription_job_name(job_name)
            .language_code(LanguageCode::from(self.language_code.as_str()))
            .media_format(MediaFormat::Mp3)
            .media(
                Media::builder()
                    .media_file_uri(crate::s3::s3_uri(&self.bucket, audio_key))
                    .build(),
            )
            .output_bucket_name(&self.bucket)
            .output_key(plan.transcript_json())
            .settings(
                Settings::builder()
                    .show_speaker_labels(true)
                    .max_speaker_labels(MAX_SPEAKER_LABELS)
                    .build(),
            )
            .subtitles(subtitles)
            .send()
            .await;
        match result {
            // ConflictException: the job of that name was started before.
            Ok(_) => Ok(Submission::Submitted {
                job_id: job_name.to_string(),
            }),
            Err(e) if service_code(&e) == Some("ConflictException") => Ok(Submission::Submitted {
                job_id: job_name.to_string(),
            }),
            Err(e) => Err(port_error(
                &format!("transcribe StartTranscriptionJob {job_name}"),
                e,
            )),
        }
    }
}

/// What a "Transcribe Job State Change" event (EventBridge; Amazon Transcribe
/// Developer Guide, "Using Amazon EventBridge with Amazon Transcribe": `detail` has
/// `TranscriptionJobName` and `TranscriptionJobStatus`) asks of transcribe-store:
/// for one of vidpipe's jobs (named `vidpipe-<video id>`) that FAILED, the failure
/// with Transcribe's `FailureReason`, read with GetTranscriptionJob (the event does
/// not carry it). `Ok(None)` for any other state or job: a COMPLETED job's transcript
/// arrives as its object.
///
/// # Errors
/// A malformed event (`Err(false, why)`: not to be delivered again), or
/// GetTranscriptionJob's error (`Err(true, why)`: deliver again).
pub async fn failed_job(
    client: &aws_sdk_transcribe::Client,
    event: &Value,
) -> Result<Option<PipelineMessage>, (bool, String)> {
    let detail = &event["detail"];
    let (Some(name), Some(status)) = (
        detail["TranscriptionJobName"].as_str(),
        detail["TranscriptionJobStatus"].as_str(),
    ) else {
        return Err((
            false,
            "no TranscriptionJobName or TranscriptionJobStatus in detail".into(),
        ));
    };
    let Some(video_id) = PlanKeys::of_job_name(name).map(|p| p.id) else {
        return Ok(None);
    };
    if status != "FAILED" {
        return Ok(None);
    }
    let job = client
        .get_transcription_job()
        .transcription_job_name(name)
        .send()
        .await
        .map_err(|e| {
            (
                true,
                port_error(&format!("transcribe GetTranscriptionJob {name}"), e).to_string(),
            )
        })?;
    let reason = job
        .transcription_job
        .and_then(|j| j.failure_reason)
        .unwrap_or_else(|| "Amazon Transcribe gave no reason".into());
    Ok(Some(PipelineMessage::TranscriptionFailed {
        video_id,
        job_name: name.to_string(),
        reason,
    }))
}
