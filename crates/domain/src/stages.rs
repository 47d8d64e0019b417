//! The stages. Each takes its event and the ports it needs; a Lambda's `main.rs` and
//! the local router call these same functions. Every stage is idempotent: an event
//! delivered twice, late or out of order leaves the record as one delivery would.
//!
//! Errors: a non-retryable failure is recorded on the video (stage and reason, status
//! failed, a failure notification) before it is returned; a retryable one is returned
//! untouched for the queue to deliver again.

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::cover::{choose_cover, score_frame, FrameScore};
use crate::error::{InputError, PortError, StageError};
use crate::events::{
    JobKind, JobStateChange, ObjectCreated, PipelineMessage, AUDIO_EXTENSIONS, VIDEO_EXTENSIONS,
};
use crate::keys::{self, UploadIdentity, VideoId};
use crate::manifest::Manifest;
use crate::media::MediaInfo;
use crate::plan::{make_plan, ClipRequest, Plan, PlanConfig};
use crate::ports::*;
use crate::record::{OutputFile, OutputKind, Speech, Stage, StageStatus, VideoRecord, VideoStatus};
use crate::sidecar::Sidecar;
use crate::transcript::Transcript;
use crate::understanding::{self, UnderstandingConfig};

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
    pub understanding: UnderstandingConfig,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            plan: PlanConfig::default(),
            id_scheme: IdScheme::Object,
            max_upload_bytes: 50 << 30,
            transcription: false,
            understanding: UnderstandingConfig::default(),
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
}

#[derive(Debug, Clone, PartialEq)]
pub enum IngestOutcome {
    /// A new or changed upload: the plan is recorded and a transcode requested.
    Planned {
        video_id: VideoId,
        notes: Vec<String>,
    },
    /// The same upload again with the same plan: nothing new was done.
    AlreadyIngested { video_id: VideoId },
    /// A sidecar; it is read when its video is ingested.
    SidecarNoted { key: String },
}

/// What a stage did with its event, for logs and the local router.
#[derive(Debug, Clone, PartialEq)]
pub enum Handled {
    Done(VideoId),
    /// Nothing to do: already done, in flight elsewhere, or not applicable.
    Skipped(VideoId, String),
    /// Waiting for other parts before this stage can run (publish).
    Waiting(VideoId, Vec<Stage>),
}

/// `<id> done`, `<id> skipped: <why>`, `<id> waiting for <stage>, <stage>`.
impl std::fmt::Display for Handled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handled::Done(id) => write!(f, "{id} done"),
            Handled::Skipped(id, why) => write!(f, "{id} skipped: {why}"),
            Handled::Waiting(id, parts) => {
                let parts: Vec<&str> = parts.iter().map(|s| s.as_str()).collect();
                write!(f, "{id} waiting for {}", parts.join(", "))
            }
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
        let mut record = records
            .get(id)
            .await?
            .ok_or_else(|| InputError::Other(format!("no record for video {id}")))?;
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

/// Gives a stage's claim back after a retryable failure (status pending again, the
/// error as detail), so that the redelivered event can run it.
async fn release_claim<R: VideoRecords>(
    records: &R,
    id: &VideoId,
    stage: Stage,
    error: &impl std::fmt::Display,
) -> Result<(), StageError> {
    modify_record(records, id, |r| {
        (r.stage(stage) == StageStatus::Running)
            .then(|| r.set_stage(stage, StageStatus::Pending, Some(error.to_string())))
    })
    .await?;
    Ok(())
}

/// Records `error` on the video as the failure of `stage` and sends the failure
/// notification, unless the same failure is already recorded (a repeated event).
/// Retryable errors are not recorded. Returns `error` for the caller to pass on.
pub async fn record_failure<R: VideoRecords, N: Notifier>(
    records: &R,
    notifier: &N,
    id: &VideoId,
    stage: Stage,
    error: StageError,
) -> StageError {
    if error.is_retryable() {
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

// ---------------------------------------------------------------------------------
// ingest

/// Ingest: an object was created under `uploads/`.
///
/// Checks the key, type and size; probes the source; reads the sidecar beside it;
/// creates the record once (a conditional create, so a repeated event finds it);
/// computes the plan and requests the transcode. The same upload again with the same
/// plan does nothing new; a changed sidecar or `--start/--end` (or `force`) replans
/// and redoes every stage.
// Each port is its own narrow trait (as the Lambda runtime's examples take them), so
// ingest, which touches five of them, takes more than clippy's seven arguments.
#[allow(clippy::too_many_arguments)]
pub async fn ingest<S, P, R, B, N>(
    store: &S,
    prober: &P,
    records: &R,
    bus: &B,
    notifier: &N,
    config: &PipelineConfig,
    event: &ObjectCreated,
    options: &IngestOptions,
) -> Result<IngestOutcome, StageError>
where
    S: ObjectReader,
    P: MediaProber,
    R: VideoRecords,
    B: MessageBus,
    N: Notifier,
{
    if keys::extension_of(&event.key).as_deref() == Some("json") {
        return match sidecar_arrived(store, event).await? {
            // Content ids need the video's hash, which a listing does not give: the
            // local mode reads sidecars when it ingests the video.
            Some(video) if video.etag.is_some() || config.id_scheme == IdScheme::Object => {
                info!(sidecar = %event.key, video = %video.key, "sidecar arrived after its video; ingesting the video again");
                Box::pin(ingest(
                    store, prober, records, bus, notifier, config, &video, options,
                ))
                .await
            }
            _ => {
                info!(key = %event.key, "sidecar noted; it is read when its video is ingested");
                Ok(IngestOutcome::SidecarNoted {
                    key: event.key.clone(),
                })
            }
        };
    }
    let id = video_id_for(config.id_scheme, event);
    let label = options
        .source_label
        .clone()
        .unwrap_or_else(|| format!("{}/{}", event.bucket, event.key));
    let existing = match records
        .create(&VideoRecord::new(id.clone(), &event.key, &label))
        .await?
    {
        Created::Created => None,
        Created::Existing(record) => Some(*record),
    };
    let prepared = match prepare(store, prober, config, event, options).await {
        Ok(p) => p,
        Err(e) => return Err(record_failure(records, notifier, &id, Stage::Ingest, e).await),
    };

    if let Some(record) = existing.as_ref().filter(|r| {
        !options.force
            && r.stage(Stage::Ingest) == StageStatus::Done
            && r.plan.as_ref() == Some(&prepared.plan)
            && r.sidecar == prepared.sidecar
    }) {
        if record.stage(Stage::Transcode) == StageStatus::Pending
            && record.status == VideoStatus::Processing
        {
            // An earlier delivery recorded the plan but did not get to send the request.
            bus.send(PipelineMessage::TranscodeRequested {
                video_id: id.clone(),
            })
            .await?;
        }
        info!(video_id = %id, "already ingested with the same plan");
        return Ok(IngestOutcome::AlreadyIngested { video_id: id });
    }

    let notes = prepared.plan.notes.clone();
    modify_record(records, &id, |r| {
        reset_for_plan(r, &prepared, config, &label);
        Some(())
    })
    .await?;
    bus.send(PipelineMessage::TranscodeRequested {
        video_id: id.clone(),
    })
    .await?;
    info!(video_id = %id, renditions = prepared.plan.renditions.len(), "planned");
    Ok(IngestOutcome::Planned {
        video_id: id,
        notes,
    })
}

/// A sidecar was created: checks it parses, and finds the video beside it (same
/// name, a video or audio extension), which must be ingested again to read it. `None`
/// when the video has not arrived yet: its ingest will read the sidecar.
///
/// # Errors
/// [`InputError::BadSidecar`] for a sidecar that does not parse (there is no video
/// to record it on yet; its video's ingest will fail with the same reason).
async fn sidecar_arrived<S: ObjectReader>(
    store: &S,
    event: &ObjectCreated,
) -> Result<Option<ObjectCreated>, StageError> {
    let bytes = match store.get(&event.key).await {
        Ok(b) => b,
        Err(PortError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Sidecar::parse(&event.key, &bytes)?;
    let stem = event.key.strip_suffix(".json").unwrap_or(&event.key);
    let video = store
        .list(&format!("{stem}."))
        .await?
        .into_iter()
        .find(|o| {
            o.key.rsplit_once('.').is_some_and(|(rest, _)| rest == stem)
                && keys::extension_of(&o.key).is_some_and(|ext| {
                    VIDEO_EXTENSIONS.contains(&ext.as_str())
                        || AUDIO_EXTENSIONS.contains(&ext.as_str())
                })
        });
    Ok(video.map(|o| ObjectCreated {
        bucket: event.bucket.clone(),
        key: o.key,
        size_bytes: o.size_bytes,
        etag: o.etag,
        version_id: None,
    }))
}

/// The id ingest gives the upload an event names (see [`IdScheme`]). For S3 objects
/// the ETag comes first, as it is in both the event and a HEAD of the object (a
/// sidecar arriving later finds its video by HEAD, without the version id).
pub fn video_id_for(scheme: IdScheme, event: &ObjectCreated) -> VideoId {
    let identity = match (scheme, event.etag.as_deref()) {
        (IdScheme::Content, Some(sha)) => UploadIdentity::Content { sha256_hex: sha },
        _ => UploadIdentity::Object {
            bucket: &event.bucket,
            key: &event.key,
            version_or_etag: event
                .etag
                .as_deref()
                .or(event.version_id.as_deref())
                .unwrap_or(""),
        },
    };
    VideoId::derive(&identity)
}

struct Prepared {
    media: MediaInfo,
    sidecar: Option<Sidecar>,
    plan: Plan,
}

async fn prepare<S: ObjectReader, P: MediaProber>(
    store: &S,
    prober: &P,
    config: &PipelineConfig,
    event: &ObjectCreated,
    options: &IngestOptions,
) -> Result<Prepared, StageError> {
    let key = &event.key;
    let bad = |reason: String| InputError::BadUpload {
        key: key.clone(),
        reason,
    };
    if let Some(reason) = keys::unsafe_key_reason(key) {
        return Err(bad(reason.to_string()).into());
    }
    match keys::extension_of(key) {
        Some(ext)
            if VIDEO_EXTENSIONS.contains(&ext.as_str())
                || AUDIO_EXTENSIONS.contains(&ext.as_str()) => {}
        Some(ext) => {
            return Err(bad(format!("not a video or audio file (extension .{ext})")).into())
        }
        None => return Err(bad("not a video or audio file (no extension)".into()).into()),
    }
    let head = store
        .head(key)
        .await?
        .ok_or_else(|| bad("no such object (deleted, or never written)".into()))?;
    if head.size_bytes == 0 {
        return Err(bad("empty (0 bytes)".into()).into());
    }
    if head.size_bytes > config.max_upload_bytes {
        return Err(bad(format!(
            "{} bytes is over the upload limit of {} bytes",
            head.size_bytes, config.max_upload_bytes
        ))
        .into());
    }
    let media = prober.probe(&head).await.map_err(|e| match e {
        PortError::Invalid(reason) | PortError::NotFound(reason) => {
            StageError::from(InputError::NotMedia {
                key: key.clone(),
                reason,
            })
        }
        other => other.into(),
    })?;

    let sidecar_key = keys::sidecar_key_for(key);
    let sidecar = match store.head(&sidecar_key).await? {
        None => None,
        Some(_) => Some(Sidecar::parse(
            &sidecar_key,
            &store.get(&sidecar_key).await?,
        )?),
    };
    let (side_start, side_end) = sidecar
        .as_ref()
        .map(Sidecar::clip_s)
        .transpose()?
        .unwrap_or((None, None));
    let request = ClipRequest {
        start_s: options.clip.start_s.or(side_start),
        end_s: options.clip.end_s.or(side_end),
    };
    let mut plan = make_plan(&media, request, &config.plan).map_err(|e| bad(e.to_string()))?;
    if let Some(s) = &sidecar {
        for field in s.unknown.keys() {
            plan.notes.push(format!(
                "sidecar field '{field}' is not one vidpipe reads; ignored"
            ));
        }
    }
    Ok(Prepared {
        media,
        sidecar,
        plan,
    })
}

fn reset_for_plan(r: &mut VideoRecord, p: &Prepared, config: &PipelineConfig, label: &str) {
    let fresh = VideoRecord::new(r.id.clone(), &r.source_key, label);
    r.stages = fresh.stages;
    r.status = VideoStatus::Processing;
    r.source = label.to_string();
    r.failure = None;
    r.job_id = None;
    r.outputs.clear();
    r.frames.clear();
    r.cover_key = None;
    r.labels.clear();
    r.links.clear();
    r.media = Some(p.media.clone());
    r.sidecar = p.sidecar.clone();
    r.plan = Some(p.plan.clone());
    r.set_stage(Stage::Ingest, StageStatus::Done, None);
    let why_no_transcript = if p.plan.mp3_bitrate_bps.is_none() {
        Some("no audio stream")
    } else if !config.transcription {
        Some("no transcriber configured")
    } else {
        None
    };
    if let Some(why) = why_no_transcript {
        r.set_stage(
            Stage::TranscribeStart,
            StageStatus::Skipped,
            Some(why.into()),
        );
        r.set_stage(
            Stage::TranscribeStore,
            StageStatus::Skipped,
            Some(why.into()),
        );
    }
    if p.plan.frames.is_none() {
        r.set_stage(
            Stage::Rekognition,
            StageStatus::Skipped,
            Some("no video stream".into()),
        );
    }
}

// ---------------------------------------------------------------------------------
// transcode

/// Transcode, on a transcode request: turns the recorded plan into one job and
/// submits it, once. A request for a video whose transcode is running or done does
/// nothing. A job that finishes during the call (local) is recorded at once.
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
    let claimed = modify_record(records, video_id, |r| {
        (r.status == VideoStatus::Processing
            && r.stage(Stage::Transcode) == StageStatus::Pending
            && r.plan.is_some())
        .then(|| r.set_stage(Stage::Transcode, StageStatus::Running, None))
    })
    .await?;
    let Some((record, ())) = claimed else {
        return Ok(Handled::Skipped(
            video_id.clone(),
            "transcode already running, done or not planned".into(),
        ));
    };
    let Some(plan) = record.plan.clone() else {
        return Ok(Handled::Skipped(video_id.clone(), "no plan".into()));
    };
    let job = TranscodeJob {
        video_id: video_id.clone(),
        source_key: record.source_key.clone(),
        plan,
    };
    match transcoder.submit(&job).await {
        Ok(Submission::Submitted { job_id }) => {
            modify_record(records, video_id, |r| {
                r.job_id = Some(job_id.clone());
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
            };
            job_state_changed(records, bus, notifier, &change).await
        }
        Err(e) if e.is_retryable() => {
            release_claim(records, video_id, Stage::Transcode, &e).await?;
            Err(e.into())
        }
        Err(e) => {
            Err(record_failure(records, notifier, video_id, Stage::Transcode, e.into()).await)
        }
    }
}

/// Transcode, on a job state change: records the outputs and announces the part, or
/// records the failure. A change for another job than the recorded one, or for a
/// transcode already settled, is ignored.
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
    let id = &change.video_id;
    match change.job {
        JobKind::Promo => return promo_job_state_changed(records, bus, change).await,
        JobKind::Gif => return gif_job_state_changed(records, change).await,
        JobKind::Renditions => {}
    }
    match &change.outcome {
        JobOutcome::Complete { outputs } => {
            let stored = modify_record(records, id, |r| {
                let ours = r.job_id.as_deref().is_none_or(|j| j == change.job_id);
                let open = r.status == VideoStatus::Processing
                    && r.stage(Stage::Transcode) == StageStatus::Running;
                (ours && open).then(|| {
                    r.job_id = Some(change.job_id.clone());
                    // Keep the cover and a GIF its own job made (cloud), unless this
                    // job made the same file again.
                    r.outputs.retain(|o| {
                        matches!(o.kind, OutputKind::Cover | OutputKind::Gif)
                            && !outputs.iter().any(|n| n.key == o.key)
                    });
                    r.outputs.extend(outputs.iter().cloned());
                    r.set_stage(Stage::Transcode, StageStatus::Done, None);
                })
            })
            .await?;
            if stored.is_none() {
                return Ok(Handled::Skipped(
                    id.clone(),
                    "job state change already recorded or stale".into(),
                ));
            }
            info!(video_id = %id, job_id = %change.job_id, outputs = outputs.len(), "transcode complete");
            bus.send(PipelineMessage::PartRecorded {
                video_id: id.clone(),
                stage: Stage::Transcode,
            })
            .await?;
            Ok(Handled::Done(id.clone()))
        }
        JobOutcome::Error { code, message } => {
            let current = records.get(id).await?;
            if current.is_some_and(|r| r.job_id.as_deref().is_some_and(|j| j != change.job_id)) {
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

// ---------------------------------------------------------------------------------
// rekognition: the cover

/// Rekognition, on a frame capture created: once the transcode is recorded, analyses
/// every frame capture of the video, chooses the cover (see [`crate::cover`]), copies
/// it to `media/<id>/cover.jpg` and records the scores and labels. The first frame
/// event does the work; the others find it done.
///
/// # Errors
/// [`StageError::NotReady`] while the transcode is not yet recorded (the queue
/// redelivers).
pub async fn choose_cover_for<S, R, A, B, N>(
    store: &S,
    records: &R,
    analyzer: &A,
    bus: &B,
    notifier: &N,
    frame_key: &str,
) -> Result<Handled, StageError>
where
    S: ObjectReader + ObjectWriter,
    R: VideoRecords,
    A: FrameAnalyzer,
    B: MessageBus,
    N: Notifier,
{
    let id = keys::video_id_in(frame_key).ok_or_else(|| {
        InputError::Other(format!("{frame_key}: not a frame capture key of a video"))
    })?;
    let record = records
        .get(&id)
        .await?
        .ok_or_else(|| InputError::Other(format!("no record for video {id}")))?;
    if record.status != VideoStatus::Processing
        || record.stage(Stage::Rekognition) != StageStatus::Pending
    {
        return Ok(Handled::Skipped(
            id,
            "cover already chosen, in progress or not wanted".into(),
        ));
    }
    if record.stage(Stage::Transcode) != StageStatus::Done {
        return Err(StageError::NotReady(format!(
            "video {id}: transcode not yet recorded"
        )));
    }
    let claimed = modify_record(records, &id, |r| {
        (r.stage(Stage::Rekognition) == StageStatus::Pending)
            .then(|| r.set_stage(Stage::Rekognition, StageStatus::Running, None))
    })
    .await?;
    let Some((record, ())) = claimed else {
        return Ok(Handled::Skipped(
            id,
            "another delivery took the cover".into(),
        ));
    };
    match score_and_copy(store, analyzer, &record).await {
        Ok((frames, cover, labels)) => {
            modify_record(records, &id, |r| {
                r.frames = frames.clone();
                r.labels = labels.clone();
                r.outputs.retain(|o| o.kind != OutputKind::Cover);
                match &cover {
                    Some(c) => {
                        r.cover_key = Some(c.key.clone());
                        r.outputs.push(c.clone());
                        r.set_stage(Stage::Rekognition, StageStatus::Done, None);
                    }
                    None => r.set_stage(
                        Stage::Rekognition,
                        StageStatus::Skipped,
                        Some("no frame captures were written".into()),
                    ),
                }
                Some(())
            })
            .await?;
            bus.send(PipelineMessage::PartRecorded {
                video_id: id.clone(),
                stage: Stage::Rekognition,
            })
            .await?;
            Ok(Handled::Done(id))
        }
        Err(e) if e.is_retryable() => {
            release_claim(records, &id, Stage::Rekognition, &e).await?;
            Err(e)
        }
        Err(e) => Err(record_failure(records, notifier, &id, Stage::Rekognition, e).await),
    }
}

async fn score_and_copy<S: ObjectReader + ObjectWriter, A: FrameAnalyzer>(
    store: &S,
    analyzer: &A,
    record: &VideoRecord,
) -> Result<(Vec<FrameScore>, Option<OutputFile>, Vec<String>), StageError> {
    let plan = record
        .plan
        .as_ref()
        .ok_or_else(|| InputError::Other("no plan recorded".into()))?;
    let fade_in_end_s = plan.fades.fade_in_s;
    let fade_out_start_s = plan.fades.fade_out_start_s;
    let mut frames = Vec::new();
    let mut sizes = Vec::new();
    let mut label_counts: Vec<(String, usize)> = Vec::new();
    for object in store.list(&keys::frames_dir(&record.id)).await? {
        let Some(index) = keys::frame_capture_index(&object.key) else {
            continue;
        };
        let time_s = plan.frames.as_ref().map_or(0.0, |f| f.time_of_s(index));
        sizes.push(object.size_bytes);
        match analyzer.analyze(&object.key).await {
            Ok(a) => {
                for label in a.labels {
                    match label_counts.iter_mut().find(|(l, _)| *l == label) {
                        Some((_, n)) => *n += 1,
                        None => label_counts.push((label, 1)),
                    }
                }
                frames.push(score_frame(
                    &object.key,
                    time_s,
                    a.measures,
                    a.detection_bonus,
                    fade_in_end_s,
                    fade_out_start_s,
                ));
            }
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => {
                let zero = crate::cover::FrameMeasures {
                    mean_luma: 0.0,
                    luma_stddev: 0.0,
                    laplacian_variance: 0.0,
                };
                let mut f = score_frame(
                    &object.key,
                    time_s,
                    zero,
                    0.0,
                    fade_in_end_s,
                    fade_out_start_s,
                );
                f.score = 0.0;
                f.rejected = Some(format!("unreadable: {e}"));
                frames.push(f);
            }
        }
    }
    label_counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let labels = label_counts.into_iter().map(|(l, _)| l).collect();
    let Some(best) = choose_cover(&frames) else {
        return Ok((frames, None, labels));
    };
    let cover_key = keys::cover(&record.id);
    // A server-side copy: the cover is as large as the capture listed above.
    store.copy(&frames[best].key, &cover_key).await?;
    let cover = OutputFile {
        key: cover_key,
        kind: OutputKind::Cover,
        name: None,
        codec: "mjpeg".into(),
        width_px: plan.frames.as_ref().map(|f| f.width_px),
        height_px: plan.frames.as_ref().map(|f| f.height_px),
        bitrate_bps: None,
        duration_s: None,
        bytes: sizes[best],
    };
    Ok((frames, Some(cover), labels))
}

// ---------------------------------------------------------------------------------
// publish

/// Publish, on a part recorded: when transcode, transcript and cover are all settled,
/// claims the publish with a conditional update (so of several events exactly one
/// publishes), writes `manifest.json`, publishes, records the links and notifies.
pub async fn publish<S, R, P, N>(
    store: &S,
    records: &R,
    publisher: &P,
    notifier: &N,
    config: &UnderstandingConfig,
    video_id: &VideoId,
) -> Result<Handled, StageError>
where
    S: ObjectWriter,
    R: VideoRecords,
    P: Publisher,
    N: Notifier,
{
    let mut waiting = Vec::new();
    let claimed = modify_record(records, video_id, |r| {
        waiting = r.unsettled_parts();
        (r.status == VideoStatus::Processing
            && r.stage(Stage::Publish) == StageStatus::Pending
            && waiting.is_empty())
        .then(|| r.set_stage(Stage::Publish, StageStatus::Running, None))
    })
    .await?;
    let Some((record, ())) = claimed else {
        return Ok(if waiting.is_empty() {
            Handled::Skipped(
                video_id.clone(),
                "already published, publishing, or failed".into(),
            )
        } else {
            Handled::Waiting(video_id.clone(), waiting)
        });
    };
    // The manifest and the publisher see the record as it stands once published.
    let mut to_publish = record;
    compose_tags_and_description(&mut to_publish, config);
    to_publish.status = VideoStatus::Published;
    to_publish.set_stage(Stage::Publish, StageStatus::Done, None);
    let result = async {
        store
            .put(
                &keys::manifest(video_id),
                Manifest::of(&to_publish, &|key| {
                    store.relative_path(&keys::media_dir(video_id), key)
                })
                .to_json(),
                "application/json",
            )
            .await?;
        publisher.publish(&to_publish).await
    }
    .await;
    let links = match result {
        Ok(links) => links,
        Err(e) => {
            if e.is_retryable() {
                release_claim(records, video_id, Stage::Publish, &e).await?;
                return Err(e.into());
            }
            return Err(
                record_failure(records, notifier, video_id, Stage::Publish, e.into()).await,
            );
        }
    };
    let published = modify_record(records, video_id, |r| {
        r.links = links.clone();
        r.hashtags = to_publish.hashtags.clone();
        r.description = to_publish.description.clone();
        r.status = VideoStatus::Published;
        r.set_stage(Stage::Publish, StageStatus::Done, None);
        Some(())
    })
    .await?;
    if let Some((record, ())) = published {
        if let Err(e) = notifier.published(&record).await {
            warn!(video_id = %video_id, error = %e, "published, but the notification was not sent");
        }
    }
    Ok(Handled::Done(video_id.clone()))
}

/// Hashtags (sidecar tags, then transcript keywords, then visual labels) and the
/// description (the sidecar's, else title, summary, speakers and hashtags).
pub fn compose_tags_and_description(record: &mut VideoRecord, config: &UnderstandingConfig) {
    let sidecar_tags = record
        .sidecar
        .as_ref()
        .map(|s| s.tags.clone())
        .unwrap_or_default();
    let keywords = record
        .speech
        .as_ref()
        .map(|s| s.keywords.clone())
        .unwrap_or_default();
    record.hashtags =
        understanding::merge_tags(&sidecar_tags, &keywords, &record.labels, config.max_tags);
    let speakers: Vec<&str> = record.sidecar.as_ref().map_or(Vec::new(), |s| {
        s.speakers.iter().map(|p| p.name.as_str()).collect()
    });
    let summary = match record.sidecar.as_ref().and_then(|s| s.description.clone()) {
        Some(given) => vec![given],
        None => record
            .speech
            .as_ref()
            .map(|s| s.summary.clone())
            .unwrap_or_default(),
    };
    record.description = Some(understanding::description(
        &record.title(),
        &summary,
        &speakers,
        &record.hashtags,
    ));
}

// ---------------------------------------------------------------------------------
// transcribe-start and transcribe-store

/// Transcribe-start, on the MP3 created: starts the transcription once (job named
/// after the video). A transcriber that finishes during the call (local) has its
/// transcript written here: `transcript.json` (Amazon Transcribe's shape),
/// `transcript.txt`, `captions.srt` and `captions.vtt` under `transcripts/<id>/`.
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
    let id = keys::video_id_in(audio_key)
        .ok_or_else(|| InputError::Other(format!("{audio_key}: not a key of a video")))?;
    let claimed = modify_record(records, &id, |r| {
        (r.status == VideoStatus::Processing
            && r.stage(Stage::TranscribeStart) == StageStatus::Pending)
            .then(|| r.set_stage(Stage::TranscribeStart, StageStatus::Running, None))
    })
    .await?;
    let Some((record, ())) = claimed else {
        return Ok(Handled::Skipped(
            id,
            "transcription already started, skipped or not wanted".into(),
        ));
    };
    let job_name = keys::transcription_job_name(&id);
    let result: Result<String, PortError> = async {
        match transcriber.transcribe(audio_key, &job_name).await? {
            Transcription::Submitted { job_name } => Ok(format!("job {job_name} started")),
            Transcription::Finished(transcript) => {
                let duration_s = record
                    .plan
                    .as_ref()
                    .map_or(f64::MAX, |p| p.clip.duration_s());
                write_transcript_files(store, &id, &transcript, duration_s).await?;
                // Last: its creation triggers transcribe-store.
                store
                    .put(
                        &keys::transcript_json(&id),
                        transcript.to_transcribe_json(),
                        "application/json",
                    )
                    .await?;
                Ok(format!("{} words", transcript.words().count()))
            }
        }
    }
    .await;
    match result {
        Ok(detail) => {
            modify_record(records, &id, |r| {
                r.set_stage(
                    Stage::TranscribeStart,
                    StageStatus::Done,
                    Some(detail.clone()),
                );
                Some(())
            })
            .await?;
            Ok(Handled::Done(id))
        }
        Err(e) if e.is_retryable() => {
            release_claim(records, &id, Stage::TranscribeStart, &e).await?;
            Err(e.into())
        }
        Err(e) => {
            Err(record_failure(records, notifier, &id, Stage::TranscribeStart, e.into()).await)
        }
    }
}

/// Writes `transcript.txt`, `captions.srt` and `captions.vtt` under
/// `transcripts/<id>/` from `transcript`, cues kept inside `duration_s`.
async fn write_transcript_files<S: ObjectWriter>(
    store: &S,
    id: &VideoId,
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
            .put(
                &keys::transcript_file(id, name),
                text.into_bytes(),
                content_type,
            )
            .await?;
    }
    Ok(())
}

/// Transcribe-store, on `transcript.json` created (by either backend): parses it,
/// derives keywords, the summary and the promo plan, records them and announces the
/// part. A malformed document or one with status `FAILED` fails the video with the
/// reason. A silent or empty transcript succeeds with no keywords; a low-confidence
/// one (speech the model does not know) is kept, marked, and gives no keywords.
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
    let id = keys::video_id_in(transcript_key)
        .ok_or_else(|| InputError::Other(format!("{transcript_key}: not a key of a video")))?;
    let record = records
        .get(&id)
        .await?
        .ok_or_else(|| InputError::Other(format!("no record for video {id}")))?;
    if record.status != VideoStatus::Processing || record.stage(Stage::TranscribeStore).is_settled()
    {
        return Ok(Handled::Skipped(
            id,
            "transcript already stored or not wanted".into(),
        ));
    }
    let parsed = async {
        let bytes = store.get(transcript_key).await?;
        Ok::<_, StageError>(Transcript::from_transcribe_json(transcript_key, &bytes)?)
    }
    .await;
    let transcript = match parsed {
        Ok(t) => t,
        Err(e) => {
            return Err(record_failure(records, notifier, &id, Stage::TranscribeStore, e).await)
        }
    };
    // Amazon Transcribe writes its own subtitles (`transcript.srt`, `.vtt`); the
    // captions vidpipe publishes are the same everywhere, made here when absent.
    if store
        .head(&keys::transcript_file(&id, "captions.vtt"))
        .await?
        .is_none()
    {
        let duration_s = record
            .plan
            .as_ref()
            .map_or(f64::MAX, |p| p.clip.duration_s());
        write_transcript_files(store, &id, &transcript, duration_s).await?;
    }
    let text = transcript.text();
    let keywords = if transcript.low_confidence {
        Vec::new()
    } else {
        understanding::keywords(&text, 15)
    };
    let (fade_in_end_s, fade_out_start_s) = record.plan.as_ref().map_or((0.0, f64::MAX), |p| {
        (p.fades.fade_in_s, p.fades.fade_out_start_s)
    });
    let speech = Speech {
        transcript_key: transcript_key.to_string(),
        word_count: transcript.words().count(),
        language_code: transcript.language_code.clone(),
        mean_confidence: transcript.mean_confidence(),
        low_confidence: transcript.low_confidence,
        summary: if keywords.is_empty() {
            Vec::new()
        } else {
            understanding::summary(&transcript, &keywords, config.summary_sentences)
        },
        promo: if keywords.is_empty() {
            None
        } else {
            understanding::promo_plan(
                &transcript,
                &keywords,
                fade_in_end_s,
                fade_out_start_s,
                config,
            )
        },
        keywords: keywords.into_iter().map(|(k, _)| k).collect(),
    };
    let stored = modify_record(records, &id, |r| {
        (!r.stage(Stage::TranscribeStore).is_settled()).then(|| {
            if speech.promo.is_some() {
                r.set_promo_render(StageStatus::Pending, None);
            }
            r.speech = Some(speech.clone());
            r.set_stage(
                Stage::TranscribeStore,
                StageStatus::Done,
                Some(format!("{} words", speech.word_count)),
            );
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
        stage: Stage::TranscribeStore,
    })
    .await?;
    Ok(Handled::Done(id))
}

// ---------------------------------------------------------------------------------
// the promo clip (transcode stage)

/// Fade at every join of the promo clip and at its ends, seconds.
pub const PROMO_FADE_S: f64 = 0.3;

/// Transcode, on a promo request: renders the promo clip from the recorded promo
/// plan, once. A promo that cannot be made is recorded (with its reason) and does not
/// stop the video from being published.
pub async fn render_promo<R, T, B>(
    records: &R,
    transcoder: &T,
    bus: &B,
    video_id: &VideoId,
) -> Result<Handled, StageError>
where
    R: VideoRecords,
    T: Transcoder,
    B: MessageBus,
{
    let claimed = modify_record(records, video_id, |r| {
        let pending = r
            .promo_render
            .as_ref()
            .is_some_and(|p| p.status == StageStatus::Pending);
        (r.status == VideoStatus::Processing && pending)
            .then(|| r.set_promo_render(StageStatus::Running, None))
    })
    .await?;
    let Some((record, ())) = claimed else {
        return Ok(Handled::Skipped(
            video_id.clone(),
            "promo already rendered, rendering or not planned".into(),
        ));
    };
    let (Some(plan), Some(promo)) = (
        record.plan.clone(),
        record.speech.as_ref().and_then(|s| s.promo.clone()),
    ) else {
        return Ok(Handled::Skipped(video_id.clone(), "no promo plan".into()));
    };
    let job = PromoJob {
        video_id: video_id.clone(),
        source_key: record.source_key.clone(),
        plan,
        segments: promo.segments,
        fade_s: PROMO_FADE_S,
    };
    match transcoder.submit_promo(&job).await {
        Ok(Submission::Submitted { job_id }) => {
            modify_record(records, video_id, |r| {
                r.set_promo_render(StageStatus::Running, Some(format!("job {job_id}")));
                Some(())
            })
            .await?;
            Ok(Handled::Done(video_id.clone()))
        }
        Ok(Submission::Finished { job_id, outcome }) => {
            let change = JobStateChange {
                video_id: video_id.clone(),
                job_id,
                outcome,
                job: JobKind::Promo,
            };
            promo_job_state_changed(records, bus, &change).await
        }
        Err(e) if e.is_retryable() => {
            modify_record(records, video_id, |r| {
                r.set_promo_render(StageStatus::Pending, Some(e.to_string()));
                Some(())
            })
            .await?;
            Err(e.into())
        }
        Err(e) => {
            let change = JobStateChange {
                video_id: video_id.clone(),
                job_id: String::new(),
                outcome: JobOutcome::Error {
                    code: None,
                    message: e.to_string(),
                },
                job: JobKind::Promo,
            };
            promo_job_state_changed(records, bus, &change).await
        }
    }
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
        (r.status != VideoStatus::Failed && !new.is_empty()).then(|| r.outputs.extend(new))
    })
    .await?;
    match stored {
        Some(_) => Ok(Handled::Done(id.clone())),
        None => Ok(Handled::Skipped(
            id.clone(),
            "GIF already recorded, or the video failed".into(),
        )),
    }
}

/// Records how the promo job ended: its output, or why there is none; either way the
/// part is announced so that publishing goes on.
async fn promo_job_state_changed<R: VideoRecords, B: MessageBus>(
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
        open.then(|| match &change.outcome {
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
            "promo already recorded".into(),
        ));
    }
    bus.send(PipelineMessage::PartRecorded {
        video_id: id.clone(),
        stage: Stage::Transcode,
    })
    .await?;
    Ok(Handled::Done(id.clone()))
}
