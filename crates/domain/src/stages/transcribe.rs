//! Speech: transcribe-start asks for the transcript, transcribe-store reads it.

use super::{claim, modify_record, read_record, record_failure, Handled};
use crate::error::{InputError, PortError, StageError};
use crate::events::PipelineMessage;
use crate::keys::{PlanKeys, VideoId};
use crate::ports::{
    MessageBus, Notifier, ObjectReader, ObjectWriter, Submission, Transcriber, VideoRecords,
};
use crate::record::{Speech, Stage, StageStatus, VideoRecord, VideoStatus};
use crate::transcript::Transcript;
use crate::understanding::{self, UnderstandingConfig};

/// Transcribe-start, on the MP3 created: starts the transcription once (job named
/// after the video and its plan's generation; an MP3 of a superseded plan is
/// ignored). A transcriber that finishes during the call (local) has its
/// transcript written here, as `transcript.json` (Amazon Transcribe's shape) under
/// `transcripts/<id>/`, whose creation runs transcribe-store as Transcribe's does.
///
/// # Errors
/// The transcriber's and the store's: a retryable one gives the claim back, any other
/// fails the video.
pub async fn transcribe_start<S, R, T, N>(
    store: &S,
    records: &R,
    transcriber: &T,
    notifier: &N,
    audio_key: &str,
) -> Result<Handled, StageError>
where
    S: ObjectWriter,
    R: VideoRecords,
    T: Transcriber,
    N: Notifier,
{
    let plan = plan_of_key(audio_key)?;
    let id = plan.id.clone();
    let stage = Stage::TranscribeStart;
    let current = |r: &VideoRecord| r.generation == plan.generation;
    if claim(records, &id, stage, current).await?.is_none() {
        return Ok(Handled::Skipped(
            id,
            "transcription already started, skipped, not wanted or of a superseded plan".into(),
        ));
    }
    let job_name = plan.transcription_job_name();
    let result = async {
        match transcriber.transcribe(audio_key, &job_name).await? {
            Submission::Submitted { job_id } => Ok(format!("job {job_id} started")),
            Submission::Finished { outcome, .. } => {
                // Its creation triggers transcribe-store, which writes the captions.
                store
                    .put(
                        &plan.transcript_json(),
                        outcome.to_transcribe_json(),
                        "application/json",
                    )
                    .await?;
                Ok::<_, PortError>(format!("{} words", outcome.words().count()))
            }
        }
    }
    .await;
    let detail = match result {
        Ok(detail) => detail,
        Err(e) => return Err(record_failure(records, notifier, &id, stage, e.into()).await),
    };
    modify_record(records, &id, |r| {
        r.set_stage(stage, StageStatus::Done, Some(detail.clone()));
        Some(())
    })
    .await?;
    Ok(Handled::Done(id))
}

fn plan_of_key(key: &str) -> Result<PlanKeys, InputError> {
    PlanKeys::of_key(key).ok_or_else(|| InputError::Other(format!("{key}: not a key of a video")))
}

/// The clip's length, seconds (captions are kept inside it).
fn clip_duration_s(record: &VideoRecord) -> f64 {
    record
        .plan
        .as_ref()
        .map_or(f64::MAX, |p| p.clip.duration_s())
}

/// Writes `transcript.txt`, `captions.srt` and `captions.vtt` under
/// `transcripts/<id>/` from `transcript`, cues kept inside `duration_s`.
async fn write_transcript_files<S: ObjectWriter>(
    store: &S,
    plan: &PlanKeys,
    transcript: &Transcript,
    duration_s: f64,
) -> Result<(), PortError> {
    let cues = crate::captions::cues(transcript, duration_s);
    let files = [
        (
            "transcript.txt",
            transcript.text() + "\n",
            "text/plain; charset=utf-8",
        ),
        (
            "captions.srt",
            crate::captions::to_srt(&cues),
            "application/x-subrip",
        ),
        ("captions.vtt", crate::captions::to_vtt(&cues), "text/vtt"),
    ];
    for (name, text, content_type) in files {
        store
            .put(&plan.transcript_file(name), text.into_bytes(), content_type)
            .await?;
    }
    Ok(())
}

/// Transcribe-store, on `transcript.json` created (by either backend): parses it,
/// derives keywords, the summary and the promo plan, records them and announces the
/// part. A malformed document or one with status `FAILED` fails the video with the
/// reason. A silent or empty transcript succeeds with no keywords; a low-confidence
/// one (speech the model does not know) is kept, marked, and gives no keywords.
///
/// # Errors
/// [`InputError`] for a transcript that does not parse (recorded on the video); the
/// ports' errors.
pub async fn transcribe_store<S, R, B, N>(
    store: &S,
    records: &R,
    bus: &B,
    notifier: &N,
    config: &UnderstandingConfig,
    transcript_key: &str,
) -> Result<Handled, StageError>
where
    S: ObjectReader + ObjectWriter,
    R: VideoRecords,
    B: MessageBus,
    N: Notifier,
{
    let plan = plan_of_key(transcript_key)?;
    let id = plan.id.clone();
    let stage = Stage::TranscribeStore;
    let record = read_record(records, &id).await?;
    if record.status != VideoStatus::Processing || record.stage(stage).is_settled() {
        return Ok(Handled::Skipped(
            id,
            "transcript already stored or not wanted".into(),
        ));
    }
    if record.generation != plan.generation {
        return Ok(Handled::Skipped(
            id,
            "transcript of a superseded plan".into(),
        ));
    }
    let parsed = async {
        let bytes = store.get(transcript_key).await?;
        Ok::<_, StageError>(Transcript::from_transcribe_json(transcript_key, &bytes)?)
    }
    .await;
    let transcript = match parsed {
        Ok(t) => t,
        Err(e) => return Err(record_failure(records, notifier, &id, stage, e).await),
    };
    // Amazon Transcribe writes its own subtitles (`transcript.srt`, `.vtt`); the
    // captions vidpipe publishes are the same everywhere, made here from the
    // transcript. Written every time rather than when absent: asking S3 whether an
    // object exists needs `s3:ListBucket`, without which a missing key answers 403
    // (S3 API Reference, HeadObject), and the same transcript gives the same files.
    let written = write_transcript_files(store, &plan, &transcript, clip_duration_s(&record)).await;
    if let Err(e) = written {
        return Err(record_failure(records, notifier, &id, stage, e.into()).await);
    }
    let speech = understand(&record, transcript_key, &transcript, config);
    let stored = modify_record(records, &id, |r| {
        (!r.stage(stage).is_settled() && r.generation == plan.generation).then(|| {
            if speech.promo.is_some() {
                r.set_promo_render(StageStatus::Pending, None);
            }
            r.speech = Some(speech.clone());
            let words = format!("{} words", speech.word_count);
            r.set_stage(stage, StageStatus::Done, Some(words));
        })
    })
    .await?;
    if stored.is_none() {
        return Ok(Handled::Skipped(
            id,
            "another delivery stored the transcript".into(),
        ));
    }
    if speech.promo.is_some() {
        bus.send(PipelineMessage::PromoRequested {
            video_id: id.clone(),
        })
        .await?;
    }
    bus.send(PipelineMessage::PartRecorded {
        video_id: id.clone(),
        stage,
    })
    .await?;
    Ok(Handled::Done(id))
}

/// What the transcript gives: keywords, the summary and the promo plan (none from
/// low-confidence speech), chosen outside the fades of `record`'s plan.
fn understand(
    record: &VideoRecord,
    transcript_key: &str,
    transcript: &Transcript,
    config: &UnderstandingConfig,
) -> Speech {
    let keywords = if transcript.low_confidence {
        Vec::new()
    } else {
        understanding::keywords(&transcript.text(), 15)
    };
    let (fade_in_end_s, fade_out_start_s) = record.plan.as_ref().map_or((0.0, f64::MAX), |p| {
        (p.fades.fade_in_s, p.fades.fade_out_start_s)
    });
    let (summary, promo) = if keywords.is_empty() {
        (Vec::new(), None)
    } else {
        (
            understanding::summary(transcript, &keywords, config.summary_sentences),
            understanding::promo_plan(
                transcript,
                &keywords,
                fade_in_end_s,
                fade_out_start_s,
                config,
            ),
        )
    };
    Speech {
        transcript_key: transcript_key.to_string(),
        word_count: transcript.words().count(),
        language_code: transcript.language_code.clone(),
        mean_confidence: transcript.mean_confidence(),
        low_confidence: transcript.low_confidence,
        summary,
        promo,
        keywords: keywords.into_iter().map(|(k, _)| k).collect(),
    }
}

/// Transcribe-store, on a transcription job that ended FAILED: no transcript will be
/// written, so the failure is recorded on the video (with its notice) unless the
/// stage has settled already (a late or repeated event) or the job was a superseded
/// plan's.
///
/// # Errors
/// The recorded failure (not retryable), or the record table's error when the record
/// cannot be read.
pub async fn transcription_failed<R, N>(
    records: &R,
    notifier: &N,
    id: &VideoId,
    job_name: &str,
    reason: &str,
) -> Result<Handled, StageError>
where
    R: VideoRecords,
    N: Notifier,
{
    let stage = Stage::TranscribeStore;
    let record = read_record(records, id).await?;
    if record.stage(stage).is_settled() || record.status != VideoStatus::Processing {
        return Ok(Handled::Skipped(
            id.clone(),
            format!("transcription job {job_name} failed after the video settled"),
        ));
    }
    if PlanKeys::of_job_name(job_name).is_some_and(|p| p.generation != record.generation) {
        return Ok(Handled::Skipped(
            id.clone(),
            format!("transcription job {job_name} of a superseded plan failed"),
        ));
    }
    let error = InputError::Other(format!("transcription job {job_name} failed: {reason}"));
    Err(record_failure(records, notifier, id, stage, error.into()).await)
}

#[cfg(test)]
mod tests;
