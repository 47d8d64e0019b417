//! Ingest: an object was created under `uploads/`.

use tracing::info;

use super::{modify_record, record_failure, Handled, IdScheme, IngestOptions, PipelineConfig};
use crate::error::{InputError, PortError, StageError};
use crate::events::{ObjectCreated, PipelineMessage, AUDIO_EXTENSIONS, VIDEO_EXTENSIONS};
use crate::keys::{self, UploadIdentity, VideoId};
use crate::media::MediaInfo;
use crate::plan::{make_plan, ClipRequest, Plan};
use crate::ports::{Created, MediaProber, MessageBus, Notifier, ObjectReader, VideoRecords};
use crate::record::{Stage, StageStatus, VideoRecord, VideoStatus};
use crate::sidecar::Sidecar;

/// Ingest, on an object created under `uploads/`.
///
/// Checks the key, type and size; probes the source; reads the sidecar beside it;
/// creates the record once (a conditional create, so a repeated event finds it);
/// computes the plan and requests the transcode: [`Handled::Planned`]. The same
/// upload again with the same plan does nothing new ([`Handled::Skipped`]); a changed
/// sidecar or `--start/--end` (or `force`) replans and redoes every stage. A sidecar
/// (`*.json`) is checked and, when its video is already there, that video is ingested
/// again to read it; else [`Handled::Noted`].
///
/// # Errors
/// [`InputError`] for a bad upload or sidecar (recorded on the video); the ports'
/// errors.
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
) -> Result<Handled, StageError>
where
    S: ObjectReader,
    P: MediaProber,
    R: VideoRecords,
    B: MessageBus,
    N: Notifier,
{
    if keys::extension_of(&event.key).as_deref() == Some("json") {
        // Content ids need the video's hash, which a listing does not give: the local
        // mode reads sidecars when it ingests the video.
        return match sidecar_arrived(store, event).await? {
            Some(video) if video.etag.is_some() || config.id_scheme == IdScheme::Object => {
                info!(sidecar = %event.key, video = %video.key, "sidecar arrived after its video; ingesting the video again");
                Box::pin(ingest(
                    store, prober, records, bus, notifier, config, &video, options,
                ))
                .await
            }
            _ => {
                info!(key = %event.key, "sidecar noted; it is read when its video is ingested");
                Ok(Handled::Noted(format!("sidecar {} noted", event.key)))
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
    if let Some(record) = existing.filter(|r| !options.force && prepared.is_recorded_in(r)) {
        if record.claimable(Stage::Transcode, crate::record::now_unix_s())
            && record.status == VideoStatus::Processing
        {
            // An earlier delivery recorded the plan but did not get to send the
            // request, or the transcode's claim outlived its holder.
            request_transcode(bus, &id).await?;
        }
        info!(video_id = %id, "already ingested with the same plan");
        return Ok(Handled::Skipped(
            id,
            "already ingested with the same plan".into(),
        ));
    }
    modify_record(records, &id, |r| {
        reset_for_plan(r, &prepared, config, &label);
        Some(())
    })
    .await?;
    request_transcode(bus, &id).await?;
    info!(video_id = %id, renditions = prepared.plan.renditions.len(), "planned");
    Ok(Handled::Planned(id, prepared.plan.notes))
}

async fn request_transcode<B: MessageBus>(bus: &B, id: &VideoId) -> Result<(), PortError> {
    bus.send(PipelineMessage::TranscodeRequested {
        video_id: id.clone(),
    })
    .await
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
                && keys::extension_of(&o.key).is_some_and(|ext| is_media_extension(&ext))
        });
    Ok(video.map(|o| ObjectCreated {
        bucket: event.bucket.clone(),
        key: o.key,
        size_bytes: o.size_bytes,
        etag: o.etag,
        version_id: None,
    }))
}

fn is_media_extension(ext: &str) -> bool {
    VIDEO_EXTENSIONS.contains(&ext) || AUDIO_EXTENSIONS.contains(&ext)
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
    talk: Option<crate::talks::TalkRef>,
    media: MediaInfo,
    sidecar: Option<Sidecar>,
    plan: Plan,
}

impl Prepared {
    /// Whether `record` was ingested with this very plan and sidecar.
    fn is_recorded_in(&self, record: &VideoRecord) -> bool {
        record.stage(Stage::Ingest) == StageStatus::Done
            && record.plan.as_ref() == Some(&self.plan)
            && record.sidecar == self.sidecar
            && record.talk == self.talk
    }
}

/// Checks the upload's key, type and size, probes it, reads its sidecar and plans.
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
    check_key(key).map_err(bad)?;
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
    let mut sidecar = read_sidecar(store, &keys::sidecar_key_for(key)).await?;
    let mut talk_notes = Vec::new();
    match &options.talk {
        Some(Ok(talk)) => {
            let (filled, notes) = talk.row.fill(sidecar, &talk.directory);
            (sidecar, talk_notes) = (Some(filled), notes);
        }
        Some(Err(e @ crate::talks::SheetError::Unavailable { .. })) => {
            return Err(PortError::Unavailable(format!("talk sheet: {e}")).into())
        }
        Some(Err(e)) => return Err(InputError::TalkSheet(e.to_string()).into()),
        None => {}
    }
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
    plan.notes.extend(talk_notes);
    for field in sidecar.iter().flat_map(|s| s.unknown.keys()) {
        plan.notes.push(format!(
            "sidecar field '{field}' is not one vidpipe reads; ignored"
        ));
    }
    Ok(Prepared {
        talk: options
            .talk
            .as_ref()
            .and_then(|t| t.as_ref().ok())
            .map(|t| t.reference.clone()),
        media,
        sidecar,
        plan,
    })
}

/// Why an upload key is refused: unsafe, or not a video or audio file.
fn check_key(key: &str) -> Result<(), String> {
    if let Some(reason) = keys::unsafe_key_reason(key) {
        return Err(reason.to_string());
    }
    match keys::extension_of(key) {
        Some(ext) if is_media_extension(&ext) => Ok(()),
        Some(ext) => Err(format!("not a video or audio file (extension .{ext})")),
        None => Err("not a video or audio file (no extension)".into()),
    }
}

async fn read_sidecar<S: ObjectReader>(
    store: &S,
    sidecar_key: &str,
) -> Result<Option<Sidecar>, StageError> {
    // A listing, not a HEAD: S3 answers a HEAD of a missing key with 403 to a caller
    // without `s3:ListBucket` (S3 API Reference, HeadObject), and ingest's ListBucket
    // is granted only for requests whose `s3:prefix` is under `uploads/`, which a
    // listing carries and a HEAD does not.
    let listed = store.list(sidecar_key).await?;
    if !listed.iter().any(|o| o.key == sidecar_key) {
        return Ok(None);
    }
    Ok(Some(Sidecar::parse(
        sidecar_key,
        &store.get(sidecar_key).await?,
    )?))
}

/// Gives the record `p`'s plan with every stage to run. A record that had a plan
/// moves to the next generation ([`crate::keys::PlanKeys`]), and its renditions job,
/// if it may still be running, is left for the transcode stage to cancel.
fn reset_for_plan(r: &mut VideoRecord, p: &Prepared, config: &PipelineConfig, label: &str) {
    if r.plan.is_some() {
        r.generation += 1;
    }
    if let Some(job) = r.job_id.take() {
        if r.stage(Stage::Transcode) == StageStatus::Running && !r.superseded_jobs.contains(&job) {
            r.superseded_jobs.push(job);
        }
    }
    let fresh = VideoRecord::new(r.id.clone(), &r.source_key, label);
    r.stages = fresh.stages;
    r.status = VideoStatus::Processing;
    r.source = label.to_string();
    r.failure = None;
    r.outputs.clear();
    r.speech = None;
    r.promo_render = None;
    r.frames.clear();
    r.cover_key = None;
    r.labels.clear();
    r.links.clear();
    r.media = Some(p.media.clone());
    r.sidecar = p.sidecar.clone();
    r.talk = p.talk.clone();
    r.plan = Some(p.plan.clone());
    r.set_stage(Stage::Ingest, StageStatus::Done, None);
    let over_limits = |bps| {
        let limits = config.transcription_limits?;
        limits.refusal(p.plan.clip.duration_s(), bps)
    };
    let why_no_transcript = match p.plan.mp3_bitrate_bps {
        None => Some("no audio stream".to_string()),
        Some(_) if !config.transcription => Some("no transcriber configured".into()),
        Some(bps) => over_limits(bps),
    };
    if let Some(why) = why_no_transcript {
        for stage in [Stage::TranscribeStart, Stage::TranscribeStore] {
            r.set_stage(stage, StageStatus::Skipped, Some(why.clone()));
        }
    }
    if p.plan.frames.is_none() {
        r.set_stage(
            Stage::Cover,
            StageStatus::Skipped,
            Some("no video stream".into()),
        );
    }
}

#[cfg(test)]
mod tests;
